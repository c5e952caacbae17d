/**
 * `portstorm k8s` end to end: the manifests on stdout or in --out DIR, the instructions on stderr,
 * and bad input as one line with exit 2 and nothing on stdout.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { parseAllDocuments } from 'yaml';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const DEMO = fileURLToPath(new URL('../../../scenarios/demo.yaml', import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'portstorm-k8s-cli-'));

function cli(args: string[], verb = 'k8s'): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, verb, ...args], { encoding: 'utf8', timeout: 30_000, cwd: tmp });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('portstorm k8s', () => {
  it('--out DIR writes portstorm-k8s.yaml and tells the start and the commands to apply, collect and merge', () => {
    const out = path.join(tmp, 'k8s');
    const r = cli([DEMO, '--shards', '3', '--out', out, '--start-in', '2m', '--namespace', 'load']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    const docs = parseAllDocuments(readFileSync(path.join(out, 'portstorm-k8s.yaml'), 'utf8'));
    assert.ok(Array.isArray(docs));
    assert.deepEqual(docs.map((d) => (d.toJS() as { kind: string }).kind), ['ConfigMap', 'Job']);
    assert.match(r.stderr, /^portstorm: warning: target builtin: /m);
    assert.match(r.stderr, /^portstorm: wrote .*portstorm-k8s\.yaml$/m);
    assert.match(r.stderr, /^portstorm: 3 shards start at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in 1[12]\d s\)/m);
    assert.match(r.stderr, /^ {2}kubectl apply -f .*portstorm-k8s\.yaml$/m);
    assert.match(r.stderr, /^ {2}kubectl logs -n load -l job-name=portstorm-demo-\d{8}-\d{6} --tail=1 --prefix=false --max-log-requests=5 > shards\.log$/m);
    assert.match(r.stderr, /^ {2}portstorm merge shards\.log --out results$/m);
  });

  it('prints the manifests on stdout without --out', () => {
    const r = cli([DEMO, '--shards', '2', '--image', 'registry.example/portstorm:0.1.0']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^# portstorm .* k8s: 2 shards of demo, starting at /);
    assert.match(r.stdout, /completionMode: Indexed/);
    assert.match(r.stdout, /image: registry\.example\/portstorm:0\.1\.0/);
  });

  it('bad input: one line, exit 2, nothing on stdout', () => {
    const cases: [string[], RegExp][] = [
      [[DEMO, '--shards', '0'], /^portstorm: --shards 0: expected a whole number from 1 to 100000$/],
      [[DEMO, '--shards', 'three'], /^portstorm: --shards three: expected a whole number/],
      [[path.join(tmp, 'none.yaml'), '--shards', '2'], /^portstorm: cannot read scenario .*none\.yaml: /],
      [[DEMO, '--shards', '2', '--image', 'Not An Image'], /^portstorm: --image Not An Image: not an image reference/],
      [[DEMO], /^portstorm: Missing required argument: shards/],
    ];
    for (const [args, pattern] of cases) {
      const r = cli(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.match(r.stderr.trimEnd(), pattern);
    }
  });

  it('what the pods run: run --print-record-line ends stdout with the record line of run.json, which shows the port range', () => {
    const scenario = path.join(tmp, 'tiny.yaml');
    writeFileSync(scenario, 'name: tiny\nload:\n  - { model: arrival-rate, rate: 20, duration: 1s }\n');
    const results = path.join(tmp, 'results');
    const r = cli([scenario, '--out', results, '--quiet', '--print-record-line'], 'run');
    assert.equal(r.status, 0, r.stderr);
    const last = r.stdout.trimEnd().split('\n').at(-1)!;
    const m = /^PORTSTORM-RECORD ([A-Za-z0-9+/=]+)$/.exec(last);
    assert.ok(m, last.slice(0, 80));
    const [runId] = readdirSync(results);
    const file = readFileSync(path.join(results, runId!, 'run.json'), 'utf8');
    assert.equal(gunzipSync(Buffer.from(m[1]!, 'base64')).toString('utf8'), file);
    const record = JSON.parse(file) as { host: { portRange: [number, number] | null } };
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    assert.deepEqual(record.host.portRange, [lo, hi]);
  });
});
