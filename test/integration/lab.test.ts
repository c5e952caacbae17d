/**
 * `portstorm lab` end to end: the compiled CLI makes its own network namespace (500 ports), runs the
 * built-in target on 198.18.0.2 and the client from 198.18.0.1, and reproduces the kernel's
 * EADDRNOTAVAIL where the capacity model says; the host's sysctls stay as they were; a SIGKILL of
 * portstorm leaves no process and no namespace behind; variants change the outcome as DOMAIN.md says.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { labSysctls } from '../../src/scenario/sysctls.js';
import { parseVariant } from '../../src/scenario/variant.js';
import type { LabInfo } from '../../src/lab/types.js';
import type { RunRecord } from '../../src/record/types.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
type LabRecord = RunRecord & { lab?: LabInfo };

function tmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'ps-lab-'));
}

/** Writes a client-closes scenario: 250 new connections/s for `duration` seconds on one worker. */
function scenarioFile(dir: string, duration: number): string {
  const file = path.join(dir, 'scenario.yaml');
  writeFileSync(
    file,
    [
      'name: lab-test',
      'connection: { reuse: false, close: client }',
      `load: [{ model: arrival-rate, rate: 250, duration: ${duration}s }]`,
      'timeouts: { connect: 1s, request: 2s }',
      'workers: 1',
      '',
    ].join('\n'),
  );
  return file;
}

// Every time bound in this file only guards against a hang: each is about three times what the
// step took with the suite run beside a CPU hog on two cores (load average 10-14).
function lab(args: string[], timeoutMs = 150_000) {
  return spawnSync(process.execPath, [CLI, 'lab', ...args], { encoding: 'utf8', timeout: timeoutMs });
}

function hostSysctls(): { range: string; twReuse: string } {
  return {
    range: readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'),
    twReuse: readFileSync('/proc/sys/net/ipv4/tcp_tw_reuse', 'utf8'),
  };
}

function netnsList(): string {
  return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
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

/** Every pid whose network namespace is `ns` (e.g. "net:[4026532]"). */
function pidsInNetns(ns: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/net`) === ns) out.push(Number(entry));
    } catch {
      // gone or not ours to read
    }
  }
  return out;
}

describe('lab settings (no namespace)', () => {
  it('parses variants: sysctl and scenario overrides, commas inside a value', () => {
    assert.deepEqual(parseVariant('baseline'), { name: 'baseline', sysctls: [], sets: [] });
    assert.deepEqual(parseVariant('mix:sysctl.net.ipv4.ip_local_reserved_ports=8080,9000-9010,connection.reuse=true'), {
      name: 'mix',
      sysctls: ['net.ipv4.ip_local_reserved_ports=8080,9000-9010'],
      sets: ['connection.reuse=true'],
    });
    assert.deepEqual(parseVariant('wide:sysctl.net.ipv4.ip_local_port_range=20000 60999').sysctls, ['net.ipv4.ip_local_port_range=20000 60999']);
    assert.throws(() => parseVariant('bad:sysctl.net.ipv4.ip_forward=1'), /not a sysctl the lab sets/);
    assert.throws(() => parseVariant(':x=1'), /expected name/);
  });

  it('defaults the port range and normalises sysctl values', () => {
    assert.deepEqual(labSysctls(undefined, []), { 'net.ipv4.ip_local_port_range': '40000 40999' });
    assert.deepEqual(labSysctls('20000-20999', ['tcp_tw_reuse=1', 'net.core.somaxconn=128', 'ip_local_reserved_ports=40001, 40010-40020']), {
      'net.ipv4.ip_local_port_range': '20000 20999',
      'net.ipv4.tcp_tw_reuse': '1',
      'net.core.somaxconn': '128',
      'net.ipv4.ip_local_reserved_ports': '40001,40010-40020',
    });
    assert.throws(() => labSysctls('0-10', []), /expects a port range/);
    assert.throws(() => labSysctls(undefined, ['tcp_timestamps=yes']), /expects 0, 1 or 2/);
  });
});

describe('portstorm lab (private network namespace)', () => {
  it('reproduces EADDRNOTAVAIL with 500 ports at 250/s, onset within 20 % of the prediction, and records lab', () => {
    const dir = tmp();
    const before = hostSysctls();
    const r = lab([scenarioFile(dir, 4), '--port-range', '40000-40499', '--json', '--quiet', '--out', dir]);
    assert.equal(r.status, 0, r.stderr);
    const rec = JSON.parse(r.stdout.trim().split('\n').pop()!) as LabRecord;
    assert.ok((rec.errors.EADDRNOTAVAIL ?? 0) > 400, JSON.stringify(rec.errors));
    const ex = rec.exhaustion!;
    assert.ok(ex.firstAtS !== null && ex.predictedAtS !== null, JSON.stringify(ex));
    assert.ok(Math.abs(ex.predictedAtS - 2) < 0.25, `predicted ${ex.predictedAtS}`);
    assert.ok(Math.abs(ex.firstAtS - ex.predictedAtS) <= 0.2 * ex.predictedAtS, `onset ${ex.firstAtS} vs predicted ${ex.predictedAtS}`);
    assert.ok(rec.lab, 'record has lab');
    assert.ok(rec.lab.namespace === 'user' || rec.lab.namespace === 'root');
    assert.equal(rec.lab.sysctls['net.ipv4.ip_local_port_range'], '40000 40499');
    assert.deepEqual(rec.lab.addresses, { client: '198.18.0.1', target: '198.18.0.2' });
    assert.equal(rec.target.builtin, true);
    assert.equal(rec.target.url, 'http://198.18.0.2:8080/');
    assert.equal(rec.scenario.target, 'builtin');
    // The record on disk has it too, and no pid/result files are left next to it.
    const runs = readdirSync(dir).filter((f) => existsSync(path.join(dir, f, 'run.json')));
    assert.equal(runs.length, 1);
    const onDisk = JSON.parse(readFileSync(path.join(dir, runs[0]!, 'run.json'), 'utf8')) as LabRecord;
    assert.deepEqual(onDisk.lab, rec.lab);
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.lab-')), []);
    assert.deepEqual(hostSysctls(), before);
  });

  it('sets sysctls inside the namespace only: the host keeps ip_local_port_range and tcp_tw_reuse', () => {
    const dir = tmp();
    const before = hostSysctls();
    const r = lab([scenarioFile(dir, 1), '--port-range', '41000 41099', '--sysctl', 'net.ipv4.tcp_tw_reuse=0', '--sysctl', 'tcp_fin_timeout=7', '--json', '--quiet', '--out', dir]);
    assert.equal(r.status, 0, r.stderr);
    const rec = JSON.parse(r.stdout.trim().split('\n').pop()!) as LabRecord;
    assert.deepEqual(rec.host.portRange, [41000, 41099]);
    assert.deepEqual(rec.lab!.sysctls, {
      'net.ipv4.ip_local_port_range': '41000 41099',
      'net.ipv4.tcp_tw_reuse': '0',
      'net.ipv4.tcp_fin_timeout': '7',
    });
    assert.deepEqual(hostSysctls(), before);
  });

  it('with the whole range spent (32 ports), progress, the monitor and the report keep working', () => {
    const dir = tmp();
    const r = lab([scenarioFile(dir, 6), '--port-range', '40000-40031', '--json', '--out', dir], 120_000);
    assert.equal(r.status, 0, r.stderr);
    const rec = JSON.parse(r.stdout.trim().split('\n').pop()!) as LabRecord;
    assert.equal(rec.status, 'completed');
    // 32 ports, each held in TIME_WAIT after its one exchange; a connect that timed out or was
    // reset (a starved target) frees its port without TIME_WAIT, so it may serve one more.
    const freedEarly = rec.totals.failed - (rec.errors.EADDRNOTAVAIL ?? 0);
    assert.ok(rec.totals.completed <= 32 + freedEarly && rec.errors.EADDRNOTAVAIL! >= 1200, JSON.stringify([rec.totals, rec.errors]));
    // The progress line (every 5 s off a terminal) came, long after the range ran out, with the monitor's figures.
    assert.match(r.stderr, /^portstorm: [56]s .*failed [\d ]+ \(EADDRNOTAVAIL [\d ]+\).*TIME_WAIT [\d ]+/m);
    // The monitor sampled every second of the run, the range full from the first second on.
    const seconds = rec.timeline.filter((e) => e.t < 6);
    assert.equal(seconds.length, 6);
    for (const e of seconds.slice(1)) {
      assert.ok(e.sockets, `second ${e.t} has no socket picture`);
      assert.equal(e.sockets!.utilization, 1, `second ${e.t}: utilization ${e.sockets!.utilization}`);
    }
    const runDir = readdirSync(dir).find((f) => existsSync(path.join(dir, f, 'run.json')))!;
    assert.ok(existsSync(path.join(dir, runDir, 'report.html')));
    assert.equal(rec.diagnosis![0]!.verdict, 'client-port-exhaustion');
  });

  it('SIGKILL of portstorm leaves no process and no namespace behind', async () => {
    const dir = tmp();
    const netnsBefore = netnsList();
    const child = spawn(process.execPath, [CLI, 'lab', scenarioFile(dir, 20), '--quiet', '--out', dir], { stdio: 'ignore' });
    try {
      const pidFile = await waitFor('the inner pid file', 60_000, () => {
        const f = readdirSync(dir).find((n) => /^\.lab-.*\.pid$/.test(n));
        const text = f ? readFileSync(path.join(dir, f), 'utf8').trim() : '';
        return /^\d+$/.test(text) ? path.join(dir, f!) : null;
      });
      const inner = Number(readFileSync(pidFile, 'utf8').trim());
      const ns = readlinkSync(`/proc/${inner}/ns/net`);
      assert.notEqual(ns, readlinkSync('/proc/self/ns/net'), 'the inner process runs in its own namespace');
      // Let the load start (the target thread, workers and sampler are up).
      await new Promise((r) => setTimeout(r, 1500));
      assert.ok(existsSync(`/proc/${inner}`));
      child.kill('SIGKILL');
      await waitFor('the inner process to be gone', 20_000, () => (existsSync(`/proc/${inner}`) ? null : true));
      await waitFor('no process left in the lab namespace', 20_000, () => (pidsInNetns(ns).length === 0 ? true : null));
      assert.equal(netnsList(), netnsBefore);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a sysctl the lab does not set, or a bad value, is a usage error (exit 2)', () => {
    const dir = tmp();
    const file = scenarioFile(dir, 1);
    const bad = lab([file, '--sysctl', 'net.ipv4.ip_forward=1', '--out', dir], 45_000);
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /ip_forward is not a sysctl the lab sets/);
    assert.equal(lab([file, '--sysctl', 'net.ipv4.tcp_tw_reuse=7', '--out', dir], 45_000).status, 2);
    assert.equal(lab([file, '--port-range', '50000-40000', '--out', dir], 45_000).status, 2);
    assert.equal(lab([file, '--variant', 'x:sysctl.kernel.panic=1', '--out', dir], 45_000).status, 2);
    assert.deepEqual(readdirSync(dir), ['scenario.yaml']);
  });

  it('variants: tw_reuse=1 and RST close remove the EADDRNOTAVAIL errors of the baseline', () => {
    const dir = tmp();
    const r = lab([
      scenarioFile(dir, 4),
      '--port-range', '40000-40499',
      '--quiet',
      '--json',
      '--out', dir,
      '--variant', 'baseline',
      '--variant', 'tw-reuse:sysctl.net.ipv4.tcp_tw_reuse=1',
      '--variant', 'rst:connection.close=reset',
    ], 180_000);
    assert.equal(r.status, 0, r.stderr);
    // With --json, stdout is the comparison alone (first variant = baseline).
    const printed = JSON.parse(r.stdout) as { runs: Array<{ name: string }> };
    assert.deepEqual(printed.runs.map((x) => x.name), ['baseline', 'tw-reuse', 'rst']);
    const records = readdirSync(dir)
      .filter((f) => existsSync(path.join(dir, f, 'run.json')))
      .map((f) => JSON.parse(readFileSync(path.join(dir, f, 'run.json'), 'utf8')) as LabRecord);
    const by = new Map(records.map((x) => [x.label, x]));
    assert.deepEqual([...by.keys()].sort(), ['baseline', 'rst', 'tw-reuse']);
    assert.ok((by.get('baseline')!.errors.EADDRNOTAVAIL ?? 0) > 400, JSON.stringify(by.get('baseline')!.errors));
    assert.equal(by.get('tw-reuse')!.errors.EADDRNOTAVAIL ?? 0, 0, JSON.stringify(by.get('tw-reuse')!.errors));
    assert.equal(by.get('rst')!.errors.EADDRNOTAVAIL ?? 0, 0, JSON.stringify(by.get('rst')!.errors));
    assert.equal(by.get('tw-reuse')!.lab!.sysctls['net.ipv4.tcp_tw_reuse'], '1');
    assert.equal(by.get('rst')!.scenario.connection.close, 'reset');
    assert.ok(by.get('tw-reuse')!.totals.completed >= 990, `tw-reuse completed ${by.get('tw-reuse')!.totals.completed}`);
    const compare = readdirSync(dir).filter((f) => /^lab-compare-.*\.json$/.test(f));
    assert.equal(compare.length, 1);
    assert.equal(JSON.parse(readFileSync(path.join(dir, compare[0]!), 'utf8')).runs.length, 3);
  });
});

/** A server for lab.serve: listens on $HOST:$PORT after a delay, says so, and logs SIGTERM. */
function appFile(dir: string): string {
  const file = path.join(dir, 'app.cjs');
  writeFileSync(
    file,
    [
      "const http = require('node:http');",
      "process.on('SIGTERM', () => { console.log('app: SIGTERM'); process.exit(0); });",
      "setTimeout(() => http.createServer((q, s) => s.end(q.url)).listen(Number(process.env.PORT), process.env.HOST, () => console.log('app: listening on ' + process.env.HOST + ':' + process.env.PORT)), 300);",
      '',
    ].join('\n'),
  );
  return file;
}

describe('portstorm lab: the scenario lab: block, lab.serve, --find-knee', () => {
  it('lab.variants: keep-alive removes the errors; a wider range delays the onset as the model says', () => {
    const dir = tmp();
    const file = path.join(dir, 'variants.yaml');
    writeFileSync(
      file,
      [
        'name: lab-variants',
        'connection: { reuse: false, close: client }',
        'load: [{ model: arrival-rate, rate: 250, duration: 5s }]',
        'timeouts: { connect: 1s, request: 2s }',
        'workers: 1',
        'lab:',
        '  portRange: 40000-40499',
        '  variants:',
        '    - baseline',
        '    - { name: keepalive, set: ["connection.reuse=true", "connection.poolSize=4"] }',
        '    - { name: wide-range, sysctls: { net.ipv4.ip_local_port_range: "40000 40999" } }',
        '',
      ].join('\n'),
    );
    const r = lab([file, '--quiet', '--json', '--out', dir], 180_000);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as { runs: Array<{ name: string }> }).runs.map((x) => x.name), ['baseline', 'keepalive', 'wide-range']);
    const by = new Map(
      readdirSync(dir)
        .filter((f) => existsSync(path.join(dir, f, 'run.json')))
        .map((f) => JSON.parse(readFileSync(path.join(dir, f, 'run.json'), 'utf8')) as LabRecord)
        .map((x) => [x.label, x]),
    );
    const base = by.get('baseline')!;
    const wide = by.get('wide-range')!;
    const ka = by.get('keepalive')!;
    assert.ok((base.errors.EADDRNOTAVAIL ?? 0) > 400, JSON.stringify(base.errors));
    assert.equal(ka.errors.EADDRNOTAVAIL ?? 0, 0, JSON.stringify(ka.errors));
    assert.ok(ka.totals.completed >= 1200, `keep-alive completed ${ka.totals.completed}`);
    assert.ok(ka.totals.connectionsOpened <= 8, `keep-alive opened ${ka.totals.connectionsOpened}`);
    assert.ok((wide.errors.EADDRNOTAVAIL ?? 0) > 0, JSON.stringify(wide.errors));
    assert.equal(wide.lab!.sysctls['net.ipv4.ip_local_port_range'], '40000 40999');
    const b = base.exhaustion!.firstAtS!;
    const w = wide.exhaustion!.firstAtS!;
    assert.ok(Math.abs(b - 2) <= 0.4, `baseline onset ${b} s, model 2 s`);
    assert.ok(Math.abs(w - 4) <= 0.8, `wide-range onset ${w} s, model 4 s`);
    assert.ok(w > 1.6 * b, `wide-range onset ${w} s vs baseline ${b} s`);
  });

  it('lab.serve: runs the user\'s server in the namespace with HOST/PORT, waits for it, stops it after', () => {
    const dir = tmp();
    const file = path.join(dir, 'serve.yaml');
    writeFileSync(
      file,
      [
        'name: lab-serve',
        'target: http://localhost:3000/hello',
        'connection: { reuse: false, close: client }',
        'load: [{ model: arrival-rate, rate: 100, duration: 2s }]',
        'workers: 1',
        `lab: { portRange: 40000-40999, serve: { command: "node ${appFile(dir)}", port: 3000 } }`,
        '',
      ].join('\n'),
    );
    const r = lab([file, '--quiet', '--json', '--out', dir], 90_000);
    assert.equal(r.status, 0, r.stderr);
    const rec = JSON.parse(r.stdout.trim().split('\n').pop()!) as LabRecord;
    assert.equal(rec.target.url, 'http://198.18.0.2:3000/hello');
    assert.equal(rec.target.builtin, false);
    assert.equal(rec.scenario.target, 'http://localhost:3000/hello');
    assert.ok(rec.totals.completed >= 190 && rec.totals.failed === 0, JSON.stringify(rec.totals));
    const runDir = readdirSync(dir).find((f) => existsSync(path.join(dir, f, 'run.json')))!;
    const log = readFileSync(path.join(dir, runDir, 'serve.log'), 'utf8');
    assert.match(log, /app: listening on 198\.18\.0\.2:3000\napp: SIGTERM/);
    assert.equal(spawnSync('pgrep', ['-f', appFile(dir)]).status, 1, 'no app process left');
  });

  it('lab.serve that exits before listening is a runtime failure (exit 3) quoting its output', () => {
    const dir = tmp();
    const file = path.join(dir, 'serve-bad.yaml');
    writeFileSync(file, ['load: [{ model: arrival-rate, rate: 10, duration: 1s }]', 'lab: { serve: "echo no database here; exit 4" }', ''].join('\n'));
    const r = lab([file, '--quiet', '--out', dir], 60_000);
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /^portstorm: lab: lab\.serve command ended \(exit 4\) before listening on 198\.18\.0\.2:8080; its last output: no database here/m);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  it('SIGKILL of portstorm with lab.serve running leaves no process behind', async () => {
    const dir = tmp();
    const file = path.join(dir, 'serve-long.yaml');
    writeFileSync(file, ['load: [{ model: arrival-rate, rate: 50, duration: 20s }]', `lab: { serve: "node ${appFile(dir)}" }`, ''].join('\n'));
    const child = spawn(process.execPath, [CLI, 'lab', file, '--quiet', '--out', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const log = await waitFor('the app to listen', 60_000, () => {
        const f = readdirSync(dir).find((n) => n.endsWith('.serve.log'));
        return f && readFileSync(path.join(dir, f), 'utf8').includes('listening') ? f : null;
      }).catch((err: Error) => {
        throw new Error(`${err.message}; files: ${readdirSync(dir).join(' ')}; portstorm stderr: ${stderr}`);
      });
      const inner = Number(readFileSync(path.join(dir, log.replace('.serve.log', '.pid')), 'utf8').trim());
      const ns = readlinkSync(`/proc/${inner}/ns/net`);
      assert.ok(pidsInNetns(ns).length >= 2, 'the inner process and the app run in the lab');
      child.kill('SIGKILL');
      await waitFor('no process left in the lab namespace', 20_000, () => (pidsInNetns(ns).length === 0 ? true : null));
      assert.equal(spawnSync('pgrep', ['-f', appFile(dir)]).status, 1, 'no app process left');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('--find-knee: the highest rate that lasts the duration, within 20 % of the model', () => {
    const dir = tmp();
    const file = path.join(dir, 'knee.yaml');
    writeFileSync(file, ['connection: { reuse: false, close: client }', 'load: [{ model: arrival-rate, rate: 100, duration: 2s }]', 'workers: 1', 'lab: { portRange: 40000-40299 }', ''].join('\n'));
    const r = lab([file, '--find-knee', '--quiet', '--json', '--out', dir], 180_000);
    assert.equal(r.status, 0, r.stderr);
    const k = JSON.parse(r.stdout) as { knee: number; firstFailing: number; predicted: number; usablePorts: number; probes: Array<{ rate: number; exhaustionErrors: number; file: string }> };
    assert.equal(k.usablePorts, 300);
    assert.equal(k.predicted, 150);
    assert.ok(Math.abs(k.knee - 150) <= 30, `knee ${k.knee}/s vs model 150/s`);
    assert.ok(k.firstFailing > k.knee);
    assert.ok(k.probes.length >= 3 && k.probes.length <= 8);
    for (const p of k.probes) {
      assert.ok(existsSync(p.file), p.file);
      assert.equal(p.exhaustionErrors === 0, p.rate <= k.knee, `probe ${p.rate}/s: ${p.exhaustionErrors} errors`);
    }
    assert.equal(readdirSync(dir).filter((f) => /^lab-knee-.*\.json$/.test(f)).length, 1);
  });
});

/**
 * Runs the CLI where no namespace can be made: inside a user namespace whose own limits allow no
 * further user or network namespaces (per-user-namespace sysctls; the host's limits are untouched).
 */
function withoutNamespaces(args: string[], timeoutMs: number) {
  const shell = 'echo 0 > /proc/sys/user/max_user_namespaces && echo 0 > /proc/sys/user/max_net_namespaces && exec "$0" "$@"';
  return spawnSync('unshare', ['-Ur', 'sh', '-c', shell, process.execPath, CLI, ...args], { encoding: 'utf8', timeout: timeoutMs });
}

describe('where no network namespace can be made', () => {
  it('portstorm lab says why in one line and exits 3', () => {
    const dir = tmp();
    const r = withoutNamespaces(['lab', scenarioFile(dir, 1), '--out', dir], 45_000);
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /^portstorm: lab: cannot create a network namespace here \(.*No space left on device\); .*run it with --privileged or CAP_SYS_ADMIN, or on a Linux host\n$/);
    assert.deepEqual(readdirSync(dir), ['scenario.yaml']);
  });

  it('portstorm demo runs on loopback instead and says why exhaustion will not show', () => {
    const dir = tmp();
    const r = withoutNamespaces(['demo', '--quiet', '--out', dir], 120_000);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /the lab is not available here \(cannot create a network namespace here .*\); running on loopback instead.*exhaustion will not show/);
    assert.match(r.stdout, /target\s+http:\/\/127\.0\.0\.1:\d+\//);
    const runs = readdirSync(dir).filter((f) => existsSync(path.join(dir, f, 'run.json')));
    assert.equal(runs.length, 1);
    const rec = JSON.parse(readFileSync(path.join(dir, runs[0]!, 'run.json'), 'utf8')) as LabRecord;
    assert.equal(rec.lab, undefined);
    assert.equal(rec.status, 'completed');
  });
});

describe('portstorm demo (npm start)', () => {
  it('reproduces client port exhaustion in the lab, diagnosed, and writes the report', () => {
    const out = tmp();
    const r = spawnSync(process.execPath, [CLI, 'demo', '--quiet', '--out', out], { encoding: 'utf8', timeout: 180_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /private network namespace/);
    assert.match(r.stdout, /errors\s+EADDRNOTAVAIL [\d ]+ \(connect\)/);
    assert.match(r.stdout, /verdict\s+client-port-exhaustion \(critical/);
    const html = /report\s+(\S+report\.html)/.exec(r.stdout)?.[1];
    assert.ok(html && existsSync(html), r.stdout);
    const rec = JSON.parse(readFileSync(path.join(path.dirname(html), 'run.json'), 'utf8')) as LabRecord;
    assert.equal(rec.lab?.addresses.target, '198.18.0.2');
    const ex = rec.exhaustion!;
    assert.ok(ex.firstAtS !== null && ex.predictedAtS !== null && Math.abs(ex.firstAtS - ex.predictedAtS) <= 0.2 * ex.predictedAtS, JSON.stringify(ex));
  });
});
