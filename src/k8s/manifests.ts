/**
 * The Kubernetes objects of a sharded run: a ConfigMap holding the scenario and an Indexed Job whose
 * pod I runs shard I of N. Pure: the same options give the same objects. The types are those of the
 * Kubernetes API (kubernetes-models, compile time only), so a misspelt field does not build.
 */
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { PodResources } from './resources.js';

/** Where the pods find the scenario (the ConfigMap's one key, mounted read-only). */
export const POD_SCENARIO = '/scenario/scenario.yaml';
/** Where the pods write `<runId>/run.json` (an emptyDir: the record leaves the pod in its log). */
export const POD_RESULTS = '/results';
/** The uid and gid of the image's unprivileged user (`node` in the node images). */
export const POD_USER = 1000;

/** Everything the manifests are made from, already checked. */
export interface ShardJobOptions {
  /** The Job's and the ConfigMap's name (a DNS-1123 label of at most 50 characters). */
  name: string;
  namespace: string | null;
  image: string;
  shards: number;
  /** The instant every shard starts its load (ISO 8601 with a zone). */
  startAt: string;
  /** The scenario YAML for the ConfigMap (with `startAt`). */
  scenarioText: string;
  /** Load workers per pod set with `--set workers=N`, or null to keep the scenario's. */
  workers: number | null;
  resources: PodResources;
  /** `net.ipv4.ip_local_port_range` for the pods ("lo hi"), or null for the node's default. */
  portRange: string | null;
  /** `required`: at most one shard per node (pods wait for a free node); `preferred`: spread when possible. */
  antiAffinity: 'required' | 'preferred';
  ttlSecondsAfterFinished: number;
  activeDeadlineSeconds: number;
  allowRemote: boolean;
  version: string;
}

/** The labels of every object and pod of one run; the anti-affinity selects on them. */
export function runLabels(o: Pick<ShardJobOptions, 'name'>): Record<string, string> {
  return { 'app.kubernetes.io/name': 'portstorm', 'app.kubernetes.io/instance': o.name };
}

/**
 * The pod's shell command: shard `$(JOB_COMPLETION_INDEX)` (Kubernetes substitutes the pod's
 * index), then the record line as the log's last line. A failed threshold (exit 1) is made 0:
 * thresholds are judged after the merge, and a failed pod makes the Job controller stop the shards
 * still running (backoffLimit 0). Usage and runtime failures (2, 3, 130) fail the pod.
 */
export function podCommand(o: ShardJobOptions): string[] {
  const run = [
    'portstorm run',
    POD_SCENARIO,
    `--shard $(JOB_COMPLETION_INDEX)/${o.shards}`,
    `--start-at ${o.startAt}`,
    `--out ${POD_RESULTS}`,
    '--quiet',
    '--print-record-line',
    ...(o.workers === null ? [] : [`--set workers=${o.workers}`]),
    ...(o.allowRemote ? ['--allow-remote'] : []),
  ].join(' ');
  return ['/bin/sh', '-c', `${run}; code=$?; if [ "$code" -eq 1 ]; then code=0; fi; exit "$code"`];
}

/** The ConfigMap with the scenario under the key `scenario.yaml`. */
export function scenarioConfigMap(o: ShardJobOptions): IConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: o.name, ...(o.namespace === null ? {} : { namespace: o.namespace }), labels: { ...runLabels(o), 'app.kubernetes.io/version': o.version } },
    data: { 'scenario.yaml': o.scenarioText },
  };
}

/** The Indexed Job: N pods at once, none retried, each on its own node. */
export function shardJob(o: ShardJobOptions): IJob {
  const labels = runLabels(o);
  const term = { labelSelector: { matchLabels: labels }, topologyKey: 'kubernetes.io/hostname' };
  const limits = {
    ...(o.resources.cpuLimit === null ? {} : { cpu: o.resources.cpuLimit }),
    ...(o.resources.memoryLimit === null ? {} : { memory: o.resources.memoryLimit }),
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: o.name,
      ...(o.namespace === null ? {} : { namespace: o.namespace }),
      labels: { ...labels, 'app.kubernetes.io/version': o.version },
      annotations: { 'portstorm/start-at': o.startAt, 'portstorm/shards': String(o.shards) },
    },
    spec: {
      completionMode: 'Indexed',
      completions: o.shards,
      parallelism: o.shards,
      // A retried shard would start late and count its arrivals twice: a failed shard stays failed.
      backoffLimit: 0,
      ttlSecondsAfterFinished: o.ttlSecondsAfterFinished,
      activeDeadlineSeconds: o.activeDeadlineSeconds,
      template: {
        metadata: { labels: { ...labels, 'app.kubernetes.io/component': 'shard' } },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          affinity: {
            podAntiAffinity:
              o.antiAffinity === 'required'
                ? { requiredDuringSchedulingIgnoredDuringExecution: [term] }
                : { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term }] },
          },
          securityContext: {
            runAsNonRoot: true,
            runAsUser: POD_USER,
            runAsGroup: POD_USER,
            seccompProfile: { type: 'RuntimeDefault' },
            ...(o.portRange === null ? {} : { sysctls: [{ name: 'net.ipv4.ip_local_port_range', value: o.portRange }] }),
          },
          containers: [
            {
              name: 'portstorm',
              image: o.image,
              imagePullPolicy: 'IfNotPresent',
              command: podCommand(o),
              resources: { requests: { cpu: o.resources.cpu, memory: o.resources.memory }, ...(Object.keys(limits).length > 0 ? { limits } : {}) },
              securityContext: {
                privileged: false,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [
                { name: 'scenario', mountPath: '/scenario', readOnly: true },
                { name: 'results', mountPath: POD_RESULTS },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'scenario', configMap: { name: o.name } },
            { name: 'results', emptyDir: {} },
            { name: 'tmp', emptyDir: {} },
          ],
        },
      },
    },
  };
}
