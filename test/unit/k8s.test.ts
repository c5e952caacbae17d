/**
 * `portstorm k8s`: the manifests for N shards, validated against the Kubernetes API's OpenAPI
 * schemas (kubernetes-models) as written (the YAML parsed back), the Indexed Job's shape, the
 * scenario in the ConfigMap, and bad input as one-line usage errors. No cluster needed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { encodeRecordText, recordLineText } from '../../src/merge/record-line.js';
import { UsageError } from '../../src/errors.js';
import { imageProblem, quantityProblem } from '../../src/k8s/names.js';
import { k8sPlan, type K8sInput } from '../../src/k8s/plan.js';
import { defaultResources } from '../../src/k8s/resources.js';
import { loadScenario, parseScenario } from '../../src/scenario/load.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'portstorm-k8s-'));
const SCENARIO = path.join(tmp, 'fleet.yaml');
writeFileSync(
  SCENARIO,
  [
    '# a comment the ConfigMap keeps',
    'target: http://10.0.0.10:8080/',
    'connection: { reuse: false }',
    'workers: 3',
    'load:',
    '  - model: arrival-rate',
    '    rate: 3000',
    '    duration: 60s',
    'limits: { maxDuration: 120s }',
    '',
  ].join('\n'),
);
const NOW = Date.parse('2026-12-08T10:00:00Z');

const input = (over: Partial<K8sInput> = {}): K8sInput => ({
  scenario: SCENARIO,
  shards: '3',
  image: 'registry.example:5000/team/portstorm:0.1.0',
  antiAffinity: 'required',
  ttl: '24h',
  allowRemote: false,
  version: '0.1.0',
  ...over,
});

/** The written YAML parsed back (as kubectl would read it: YAML 1.1), by kind. */
function written(yaml: string): { configMap: Record<string, any>; job: Record<string, any> } {
  const docs = parseAllDocuments(yaml, { version: '1.1' });
  assert.ok(Array.isArray(docs));
  const objects = docs.map((d) => {
    assert.deepEqual(d.errors, []);
    return d.toJS() as Record<string, any>;
  });
  assert.deepEqual(objects.map((o) => o.kind), ['ConfigMap', 'Job']);
  return { configMap: objects[0]!, job: objects[1]! };
}

async function usage(over: Partial<K8sInput>, pattern: RegExp): Promise<void> {
  await assert.rejects(k8sPlan(input(over), NOW), (err: unknown) => {
    assert.ok(err instanceof UsageError, String(err));
    assert.doesNotMatch(err.message, /\n/);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('portstorm k8s: manifests', () => {
  it('for N = 3 the ConfigMap and the Job validate against the Kubernetes API schemas', async () => {
    const { configMap, job } = written((await k8sPlan(input(), NOW)).yaml);
    new ConfigMap(configMap as never).validate();
    new Job(job as never).validate();
    // The validator is not vacuous: a wrong type in the same Job is refused.
    assert.throws(() => new Job({ ...job, spec: { ...job.spec, completions: 'three' } } as never).validate(), /completions/);
  });

  it('the Job is Indexed with completions = parallelism = N, no retries, a deadline and a TTL', async () => {
    const plan = await k8sPlan(input(), NOW);
    const { job } = written(plan.yaml);
    assert.equal(job.apiVersion, 'batch/v1');
    assert.equal(job.spec.completionMode, 'Indexed');
    assert.equal(job.spec.completions, 3);
    assert.equal(job.spec.parallelism, 3);
    assert.equal(job.spec.backoffLimit, 0);
    assert.equal(job.spec.ttlSecondsAfterFinished, 86_400);
    // 60 s to the start + limits.maxDuration 120 s + a 600 s margin.
    assert.equal(job.spec.activeDeadlineSeconds, 60 + 120 + 600);
    assert.equal(job.spec.template.spec.restartPolicy, 'Never');
  });

  it('every pod runs its shard $(JOB_COMPLETION_INDEX)/3 with the one --start-at, then the record line', async () => {
    const plan = await k8sPlan(input(), NOW);
    const { configMap, job } = written(plan.yaml);
    assert.equal(plan.start.iso, '2026-12-08T10:01:00Z');
    const containers = job.spec.template.spec.containers as Record<string, any>[];
    assert.equal(containers.length, 1);
    const [sh, flag, script] = containers[0]!.command as string[];
    assert.deepEqual([sh, flag], ['/bin/sh', '-c']);
    assert.match(script!, /^portstorm run \/scenario\/scenario\.yaml --shard \$\(JOB_COMPLETION_INDEX\)\/3 --start-at 2026-12-08T10:01:00Z --out \/results --quiet --print-record-line;/);
    assert.match(script!, /code=\$\?; if \[ "\$code" -eq 1 \]; then code=0; fi; exit "\$code"$/);
    assert.doesNotMatch(script!, /--set workers/, 'workers: 3 is kept as the scenario says');
    assert.equal(job.metadata.annotations['portstorm/start-at'], '2026-12-08T10:01:00Z');
    assert.equal(parseYaml(configMap.data['scenario.yaml']).startAt, '2026-12-08T10:01:00Z');
    assert.equal(plan.collect.name, 'portstorm-fleet-20261208-100100');
  });

  it('shards land on different nodes: required anti-affinity by hostname on the run\'s own labels', async () => {
    const { job } = written((await k8sPlan(input(), NOW)).yaml);
    const pod = job.spec.template;
    const [term] = pod.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution;
    assert.equal(term.topologyKey, 'kubernetes.io/hostname');
    for (const [k, v] of Object.entries(term.labelSelector.matchLabels)) assert.equal(pod.metadata.labels[k], v, k);
    assert.equal(term.labelSelector.matchLabels['app.kubernetes.io/instance'], job.metadata.name);
    const preferred = written((await k8sPlan(input({ antiAffinity: 'preferred' }), NOW)).yaml).job;
    new Job(preferred as never).validate();
    assert.equal(preferred.spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey, 'kubernetes.io/hostname');
  });

  it('the pods have no privileges, resources derived from the workers, and the port range only when asked', async () => {
    const { job } = written((await k8sPlan(input(), NOW)).yaml);
    const spec = job.spec.template.spec;
    const c = spec.containers[0];
    assert.deepEqual(c.securityContext, { privileged: false, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    assert.equal(spec.securityContext.runAsNonRoot, true);
    assert.equal(spec.securityContext.sysctls, undefined);
    assert.equal(spec.hostNetwork, undefined);
    assert.deepEqual(c.resources, { requests: { cpu: '3', memory: '448Mi' }, limits: { cpu: '4', memory: '896Mi' } });
    const ranged = written((await k8sPlan(input({ portRange: '1024-65535', cpuLimit: 'none', memory: '1Gi' }), NOW)).yaml).job;
    new Job(ranged as never).validate();
    assert.deepEqual(ranged.spec.template.spec.securityContext.sysctls, [{ name: 'net.ipv4.ip_local_port_range', value: '1024 65535' }]);
    assert.deepEqual(ranged.spec.template.spec.containers[0].resources, { requests: { cpu: '3', memory: '1Gi' }, limits: { memory: '896Mi' } });
  });

  it('the ConfigMap holds the scenario as given (comments too) with startAt, and it parses to the same scenario', async () => {
    const { configMap } = written((await k8sPlan(input({ namespace: 'load' }), NOW)).yaml);
    assert.equal(configMap.metadata.namespace, 'load');
    const text: string = configMap.data['scenario.yaml'];
    assert.match(text, /^# a comment the ConfigMap keeps\n/);
    const inPod = parseScenario(parseYaml(text), 'configmap');
    const local = await loadScenario(SCENARIO);
    assert.deepEqual(inPod, { ...local, startAt: '2026-12-08T10:01:00Z' });
  });

  it('workers: auto becomes --set workers=2 with resources to match; --start-at and the scenario\'s startAt are used', async () => {
    const auto = path.join(tmp, 'auto.yaml');
    writeFileSync(auto, 'name: Auto Fleet!\nstartAt: "2026-12-08T11:30:00+01:00"\nload:\n  - { model: arrival-rate, rate: 10, duration: 1s }\n');
    const plan = await k8sPlan(input({ scenario: auto, shards: '1' }), NOW);
    assert.equal(plan.start.from, 'the scenario');
    assert.equal(plan.start.iso, '2026-12-08T10:30:00.000Z');
    const past = await k8sPlan(input({ scenario: auto, shards: '1' }), Date.parse('2026-12-08T10:30:00Z'));
    assert.deepEqual([past.start.from, past.start.iso], ['default', '2026-12-08T10:31:00Z'], 'a startAt not in the future gives way to the default');
    const job = written(plan.yaml).job;
    assert.match(job.spec.template.spec.containers[0].command[2], /--shard \$\(JOB_COMPLETION_INDEX\)\/1 .*--set workers=2;/);
    assert.deepEqual(job.spec.template.spec.containers[0].resources.requests, { cpu: '2', memory: '384Mi' });
    assert.equal(job.metadata.name, 'portstorm-auto-fleet-20261208-103000');
    const at = await k8sPlan(input({ startAt: '2026-12-08T10:30:00+02:00', name: 'mine' }), Date.parse('2026-12-08T08:00:00Z'));
    assert.equal(at.start.iso, '2026-12-08T08:30:00.000Z');
    assert.equal(written(at.yaml).job.metadata.name, 'mine');
  });
});

describe('portstorm k8s: bad input', () => {
  it('--shards 0, a non-integer or too many: one line, exit 2', async () => {
    for (const shards of ['0', 'x', '1.5', '-1', '', '100001']) await usage({ shards }, /^--shards .*: expected a whole number from 1 to 100000$/);
  });

  it('a missing scenario, a bad one, or one naming TLS files the pods cannot read', async () => {
    await usage({ scenario: path.join(tmp, 'nope.yaml') }, /cannot read scenario .*nope\.yaml/);
    const bad = path.join(tmp, 'bad.yaml');
    writeFileSync(bad, 'load: []\n');
    await usage({ scenario: bad }, /bad\.yaml: load/);
    const tls = path.join(tmp, 'tls.yaml');
    writeFileSync(path.join(tmp, 'ca.pem'), 'not used');
    writeFileSync(tls, 'target: https://10.0.0.1/\ntls: { ca: ca.pem }\nload:\n  - { model: arrival-rate, rate: 10, duration: 1s }\n');
    await usage({ scenario: tls }, /tls\.ca/);
  });

  it('a bad --image, --namespace, --name, quantity, --port-range, --ttl or --anti-affinity', async () => {
    for (const image of ['Portstorm:1', 'a b', ':1', 'portstorm:', 'portstorm@sha256:12']) await usage({ image }, /^--image .*: not an image reference/);
    await usage({ image: '' }, /^--image : expected an image reference/);
    await usage({ namespace: 'Load_Test' }, /^--namespace Load_Test: lower-case letters/);
    await usage({ name: 'x'.repeat(51) }, /^--name x+: at most 50 characters/);
    await usage({ cpu: 'two' }, /^--cpu two: expected a Kubernetes quantity/);
    await usage({ memoryLimit: '1 GB' }, /^--memory-limit 1 GB: expected a Kubernetes quantity/);
    await usage({ portRange: '70000-80000' }, /^--port-range 70000-80000: net\.ipv4\.ip_local_port_range expects a port range/);
    await usage({ ttl: 'soon' }, /^--ttl soon: expected a duration/);
    await usage({ antiAffinity: 'maybe' }, /^--anti-affinity maybe: expected required or preferred$/);
    await usage({ workers: '0' }, /^--workers 0: expected a whole number/);
  });

  it('--start-at in the past, without a zone, or with --start-in', async () => {
    await usage({ startAt: '2026-12-08T09:59:00Z' }, /^--start-at 2026-12-08T09:59:00Z: in the past \(now is 2026-12-08T10:00:00\.000Z\)/);
    await usage({ startAt: '2026-12-08T11:00:00' }, /^--start-at 2026-12-08T11:00:00: expected an ISO time with a zone/);
    await usage({ startAt: '2026-12-08T11:00:00Z', startIn: '60s' }, /^--start-at and --start-in: give one of them$/);
    await usage({ startIn: 'soon' }, /^--start-in soon: expected a duration/);
  });
});

describe('portstorm k8s: parts', () => {
  it('image references as docker reads them', () => {
    for (const ok of ['portstorm', 'portstorm:0.1.0', 'localhost:5000/portstorm:dev', 'ghcr.io/team/sub/portstorm:v1.2.3-rc.1', `registry.example/portstorm@sha256:${'a'.repeat(64)}`]) assert.equal(imageProblem(ok), null, ok);
  });

  it('quantities and default resources', () => {
    for (const ok of ['500m', '2', '1.5', '512Mi', '1Gi', '1e3']) assert.equal(quantityProblem(ok), null, ok);
    assert.deepEqual(defaultResources(1), { cpu: '1', memory: '320Mi', cpuLimit: '2', memoryLimit: '640Mi' });
  });

  it('--allow-remote passes through to run', async () => {
    const plan = await k8sPlan(input({ allowRemote: true }), NOW);
    assert.match(written(plan.yaml).job.spec.template.spec.containers[0].command[2], /--print-record-line --allow-remote;/);
  });

  it('the record line is PORTSTORM-RECORD <base64 of the gzip of run.json>', () => {
    const json = JSON.stringify({ schema: 2, runId: 'x' }, null, 1) + '\n';
    const line = encodeRecordText(json);
    const m = /^PORTSTORM-RECORD ([A-Za-z0-9+/=]+)$/.exec(line);
    assert.ok(m, line);
    assert.equal(gunzipSync(Buffer.from(m[1]!, 'base64')).toString('utf8'), json);
    // What merge reads back from it, byte for byte.
    assert.equal(recordLineText(line), json);
  });
});
