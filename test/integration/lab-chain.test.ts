/**
 * `portstorm lab` with `lab.topology: chain`: client → service → backend, each host its own network
 * namespace with its own monitor agent. The service (500 ports, a new upstream connection per
 * request) runs out toward the backend where the model says and the client gets 502s from then on;
 * with upstream keep-alive it does not. A SIGKILL leaves no process and no namespace; the host's
 * sysctls stay as they were.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type { RunRecord } from '../../src/record/types.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const RATE = 300;
const SERVICE_PORTS = 500;

function tmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'ps-lab-chain-'));
}

/** Keep-alive clients (the client's ports are not the question) at RATE/s through the service. */
function chainScenario(dir: string, durationS: number, service: string[]): string {
  const file = path.join(dir, 'chain.yaml');
  writeFileSync(
    file,
    [
      'name: lab-chain-test',
      'connection: { reuse: true, poolSize: 20 }',
      `load: [{ model: arrival-rate, rate: ${RATE}, duration: ${durationS}s }]`,
      'timeouts: { connect: 1s, request: 2s }',
      'workers: 1',
      'lab:',
      '  topology: chain',
      `  hosts: { service: { portRange: 40000-${40000 + SERVICE_PORTS - 1} } }`,
      ...service.map((l) => `  ${l}`),
      '',
    ].join('\n'),
  );
  return file;
}

/** The built-in proxy, a new upstream connection per request (the default service). */
const SERVICE: string[] = [];
const POOL_VARIANT = 'pool:service.upstreamReuse=true';

const SYSCTLS = ['net/ipv4/ip_local_port_range', 'net/ipv4/tcp_tw_reuse', 'net/ipv4/ip_forward'];
const hostSysctls = () => SYSCTLS.map((k) => readFileSync(`/proc/sys/${k}`, 'utf8'));

function records(dir: string): Map<string | null, RunRecord> {
  const out = new Map<string | null, RunRecord>();
  for (const f of readdirSync(dir)) {
    if (existsSync(path.join(dir, f, 'run.json'))) {
      const r = JSON.parse(readFileSync(path.join(dir, f, 'run.json'), 'utf8')) as RunRecord;
      out.set(r.label, r);
    }
  }
  return out;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | null): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = probe();
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** pid → parent pid for every process we can read. */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      out.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone
    }
  }
  return out;
}

function descendants(root: number): number[] {
  const pp = parents();
  const out = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of pp) if (out.has(ppid) && !out.has(pid)) (out.add(pid), (grew = true));
  }
  out.delete(root);
  return [...out];
}

function netnsOf(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return null;
  }
}

describe('portstorm lab, topology chain', () => {
  it('the service runs out toward the backend at its budget / rate, the client gets 502s from then on; upstream keep-alive has none', () => {
    const dir = tmp();
    const before = hostSysctls();
    // The bound only guards against a hang.
    const r = spawnSync(process.execPath, [CLI, 'lab', chainScenario(dir, 4, SERVICE), '--quiet', '--json', '--out', dir, '--variant', 'base', '--variant', POOL_VARIANT], {
      encoding: 'utf8',
      timeout: 150_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const by = records(dir);
    const base = by.get('base')!;
    const pool = by.get('pool')!;
    assert.ok(base && pool, `records: ${[...by.keys()]}`);

    assert.deepEqual(Object.keys(base.hosts ?? {}), ['client', 'service', 'backend']);
    const topo = base.lab!.topology!;
    assert.equal(topo.kind, 'chain');
    assert.deepEqual(topo.hosts.map((h) => [h.name, h.role, h.portRange]), [
      ['client', 'client', [40000, 40999]],
      ['service', 'service', [40000, 40000 + SERVICE_PORTS - 1]],
      ['backend', 'backend', null],
    ]);
    assert.deepEqual(topo.links.map((l) => `${l.kind} ${l.a}-${l.b} ${l.subnet}`), [
      'data client-service 198.18.1.0/24',
      'data service-backend 198.18.2.0/24',
      'management client-service 198.19.1.0/24',
      'management client-backend 198.19.2.0/24',
    ]);
    assert.deepEqual(base.lab!.addresses, { client: '198.18.1.1', target: '198.18.1.2' });
    assert.equal(base.target.url, 'http://198.18.1.2:8080/');

    const v = base.diagnosis![0]!;
    assert.equal(v.verdict, 'upstream-port-exhaustion', JSON.stringify(base.diagnosis!.map((d) => d.verdict)));
    assert.equal(v.host, 'service');
    // The client's own ports were never the question, and its failures are the proxy's 502s.
    assert.equal(base.errors.EADDRNOTAVAIL ?? 0, 0);
    assert.ok((base.errors.HTTP_5XX ?? 0) > 300, JSON.stringify(base.errors));
    const first502 = Math.min(...base.errorSamples.filter((e) => e.code === 'HTTP_5XX').map((e) => e.t));
    const model = SERVICE_PORTS / RATE;
    assert.ok(Math.abs(first502 - model) <= 0.2 * model, `first 502 at ${first502} s, model ${model.toFixed(2)} s`);
    // The record's own prediction: the service's budget at the client's rate, within 20 % of what was seen.
    const p = topo.prediction;
    assert.ok(p && p.host === 'service' && p.basis === 'rate' && p.budget === SERVICE_PORTS, JSON.stringify(p));
    assert.ok(p.predictedAtS !== null && p.observedAtS !== null && Math.abs(p.observedAtS - p.predictedAtS) <= 0.2 * p.predictedAtS, JSON.stringify(p));
    assert.equal(pool.lab!.topology!.prediction?.predictedAtS ?? null, null, 'an upstream pool never runs out');
    // From then on most requests fail (the service's ports stay in TIME_WAIT for 60 s).
    const after = base.timeline.filter((e) => e.t >= Math.ceil(first502) && e.t < 4);
    for (const e of after) assert.ok((e.errors.HTTP_5XX ?? 0) >= 0.5 * e.attempted, `second ${e.t}: ${JSON.stringify(e.errors)} of ${e.attempted}`);

    assert.equal(pool.errors.HTTP_5XX ?? 0, 0, JSON.stringify(pool.errors));
    assert.equal(pool.totals.failed, 0);
    assert.ok(!pool.diagnosis!.some((d) => d.verdict === 'upstream-port-exhaustion'));
    assert.ok(pool.hosts!.service, 'the pool variant watched the service too');
    assert.deepEqual(hostSysctls(), before);
  });

  it('SIGKILL of portstorm during a chain run leaves no process and no namespace', async () => {
    const dir = tmp();
    const child = spawn(process.execPath, [CLI, 'lab', chainScenario(dir, 20, SERVICE), '--out', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      await waitFor('the load to start', 60_000, () => (/lab run \S+: http:\/\/198\.18\.1\.2/.test(stderr) ? true : null));
      const tree = descendants(child.pid!);
      const spaces = new Set(tree.map(netnsOf).filter((n): n is string => n !== null));
      spaces.delete(readlinkSync('/proc/self/ns/net'));
      // The lab's namespace (the client) and one per host.
      assert.ok(spaces.size >= 3, `namespaces: ${[...spaces]} (${stderr})`);
      child.kill('SIGKILL');
      await waitFor('every process of the lab to be gone', 20_000, () => (tree.every((p) => !existsSync(`/proc/${p}`)) ? true : null));
      await waitFor('no process left in any lab namespace', 20_000, () => {
        for (const e of readdirSync('/proc')) if (/^\d+$/.test(e) && spaces.has(netnsOf(Number(e)) ?? '')) return null;
        return true;
      });
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('refuses host names of another topology and blocks of other topologies, one line, exit 2', () => {
    const dir = tmp();
    const file = chainScenario(dir, 1, SERVICE);
    const run = (args: string[]) => spawnSync(process.execPath, [CLI, 'lab', file, '--out', dir, ...args], { encoding: 'utf8', timeout: 30_000 });
    const host = run(['--set', 'lab.hosts.router.portRange=40000-40099']);
    assert.equal(host.status, 2, host.stderr);
    assert.match(host.stderr, /^portstorm: .*lab\.hosts\.router: not a host of topology chain; its hosts are client, service, backend\n$/);
    const nat = run(['--set', 'lab.nat.addresses=2']);
    assert.equal(nat.status, 2, nat.stderr);
    assert.match(nat.stderr, /lab\.nat: only topology nat has a router/);
    const v6 = run(['--ipv6']);
    assert.equal(v6.status, 2, v6.stderr);
    assert.match(v6.stderr, /lab\.ipv6: topology chain has IPv4 links only/);
    const single = run(['--set', 'lab.topology=single', '--set', 'lab.service.upstreamReuse=true']);
    assert.equal(single.status, 2, single.stderr);
    assert.equal(single.stderr.trim().split('\n').length, 1, single.stderr);
  });
});
