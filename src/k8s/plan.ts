/**
 * `portstorm k8s`: from a scenario file and the flags, the manifests of a sharded run and the
 * commands to apply and collect it. Everything is checked before anything is written.
 */
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { UsageError } from '../errors.js';
import { checkSysctl } from '../scenario/sysctls.js';
import { parseDuration } from '../scenario/schema.js';
import { scenarioConfigMap, shardJob, type ShardJobOptions } from './manifests.js';
import { imageProblem, labelProblem, quantityProblem, toLabel } from './names.js';
import { renderManifests, type CollectPlan } from './render.js';
import { AUTO_POD_WORKERS, defaultResources, type PodResources } from './resources.js';
import { localScenario, podScenario } from './scenario-doc.js';
import { resolveStartAt, type StartAt } from './start-at.js';

/** Indexed Jobs allow at most 100 000 completions. */
export const MAX_SHARDS = 100_000;
/** How long a finished Job and its pods (and so their logs) are kept by default. */
export const DEFAULT_TTL_S = 24 * 3600;
/** The Job's deadline beyond the start and the scenario's limits.maxDuration: image pull, stop grace, the record written. */
export const DEADLINE_MARGIN_S = 600;
/** The Job name's limit: an Indexed Job's pod host name is `<name>-<index>`, at most 63 characters. */
export const MAX_NAME = 50;

/** The flags of `portstorm k8s`, as given (strings, unchecked). */
export interface K8sInput {
  scenario: string;
  shards: string;
  image: string;
  namespace?: string | undefined;
  name?: string | undefined;
  startAt?: string | undefined;
  startIn?: string | undefined;
  workers?: string | undefined;
  cpu?: string | undefined;
  memory?: string | undefined;
  cpuLimit?: string | undefined;
  memoryLimit?: string | undefined;
  portRange?: string | undefined;
  antiAffinity: string;
  ttl: string;
  allowRemote: boolean;
  version: string;
}

/** The objects, their YAML and what to tell the user. */
export interface K8sPlan {
  configMap: IConfigMap;
  job: IJob;
  yaml: string;
  start: StartAt;
  collect: Omit<CollectPlan, 'file'>;
  /** Warnings for stderr (one line each, without the `portstorm: ` prefix). */
  warnings: string[];
}

function positiveInt(flag: string, v: string, max: number): number {
  if (!/^\d+$/.test(v.trim()) || Number(v) < 1 || Number(v) > max) throw new UsageError(`${flag} ${v}: expected a whole number from 1 to ${max}`);
  return Number(v);
}

function checked<T extends string>(flag: string, v: T, problem: (v: string) => string | null): T {
  const why = problem(v);
  if (why !== null) throw new UsageError(`${flag} ${v}: ${why}`);
  return v;
}

/** A quantity flag, `none` (for a limit) leaving it out, or the default. */
function quantity(flag: string, v: string | undefined, fallback: string | null, noneAllowed: boolean): string | null {
  if (v === undefined) return fallback;
  if (noneAllowed && v === 'none') return null;
  return checked(flag, v, quantityProblem);
}

/** Checks every flag, reads the scenario, and builds the manifests. */
export async function k8sPlan(input: K8sInput, now = Date.now()): Promise<K8sPlan> {
  const shards = positiveInt('--shards', input.shards, MAX_SHARDS);
  const image = checked('--image', input.image, imageProblem);
  const namespace = input.namespace === undefined ? null : checked('--namespace', input.namespace, labelProblem);
  if (input.name !== undefined) checked('--name', input.name, (n) => labelProblem(n, MAX_NAME));
  if (input.antiAffinity !== 'required' && input.antiAffinity !== 'preferred') {
    throw new UsageError(`--anti-affinity ${input.antiAffinity}: expected required or preferred`);
  }
  const ttl = parseDuration(input.ttl);
  if (ttl === null) throw new UsageError(`--ttl ${input.ttl}: expected a duration like 24h, 30m or a number of seconds`);
  const portRange = input.portRange === undefined ? null : checkSysctl('net.ipv4.ip_local_port_range', input.portRange, `--port-range ${input.portRange}`)[1];
  const workersFlag = input.workers === undefined ? null : positiveInt('--workers', input.workers, 1024);

  // The scenario's own startAt counts only when no flag says otherwise.
  const local = await localScenario(input.scenario);
  const start = resolveStartAt({ startAt: input.startAt, startIn: input.startIn }, local.startAt, now);
  const { text, scenario } = await podScenario(input.scenario, local, start.iso);

  const workers = workersFlag ?? (scenario.workers === 'auto' ? AUTO_POD_WORKERS : scenario.workers);
  const defaults = defaultResources(workers);
  const resources: PodResources = {
    cpu: quantity('--cpu', input.cpu, defaults.cpu, false)!,
    memory: quantity('--memory', input.memory, defaults.memory, false)!,
    cpuLimit: quantity('--cpu-limit', input.cpuLimit, defaults.cpuLimit, true),
    memoryLimit: quantity('--memory-limit', input.memoryLimit, defaults.memoryLimit, true),
  };
  const name = input.name ?? `portstorm-${toLabel(scenario.name, 24)}-${compactTime(start.iso)}`;
  const deadlineS = Math.ceil(start.inSeconds) + Math.ceil(scenario.limits.maxDuration) + DEADLINE_MARGIN_S;
  const options: ShardJobOptions = {
    name,
    namespace,
    image,
    shards,
    startAt: start.iso,
    scenarioText: text,
    workers: workersFlag !== null || scenario.workers === 'auto' ? workers : null,
    resources,
    portRange,
    antiAffinity: input.antiAffinity,
    ttlSecondsAfterFinished: Math.ceil(ttl),
    activeDeadlineSeconds: deadlineS,
    allowRemote: input.allowRemote,
    version: input.version,
  };
  const configMap = scenarioConfigMap(options);
  const job = shardJob(options);
  const warnings: string[] = [];
  if (scenario.target === 'builtin') warnings.push('warning: target builtin: each pod loads its own built-in target on its own loopback; name a service to load it from every node');
  const header = `portstorm ${input.version} k8s: ${shards} shard${shards === 1 ? '' : 's'} of ${scenario.name}, starting at ${start.iso}`;
  return {
    configMap,
    job,
    yaml: renderManifests([configMap, job], header),
    start,
    collect: { name, namespace, shards, startAt: start.iso, inSeconds: start.inSeconds, deadlineS },
    warnings,
  };
}

/** `2026-12-08T10:01:00Z` → `20261208-100100` (UTC), for a name that differs from run to run. */
function compactTime(iso: string): string {
  const d = new Date(iso).toISOString();
  return `${d.slice(0, 10).replace(/-/g, '')}-${d.slice(11, 19).replace(/:/g, '')}`;
}
