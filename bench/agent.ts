/**
 * `node build/bench/agent.js [--duration 10m] [--pairs 25000] [--readers 5]`: what serving costs the
 * monitor agent (`portstorm monitor --serve`) on a busy host. Issue 16 asks for "five readers for ten
 * minutes while its host holds 50 000 sockets; its CPU (goal ≤ 2 % of a core) and memory growth".
 *
 * In a private network namespace (`unshare -rn`, port range widened to 10000–65000 inside it only),
 * three holder processes open `--pairs` established loopback connections (both ends held: 2 sockets
 * a pair) spread over 8 listening ports; the fd limit here is 20 000 per process, so one process
 * could not hold them all. Then two agents run side by side as child processes, on the same host at
 * the same time: the measured one with `--readers` /stream readers (each reading every line), and its
 * peer with none (the monitor alone, serving nobody). After a 15 s warm-up, each agent's CPU
 * (utime + stime of /proc/PID/stat, every thread) and RSS (VmRSS) are read at the start and the end
 * of `--duration`, and RSS every 10 s (peak, slope). The ratio readers/peer and the difference show
 * what the readers cost over the monitoring itself.
 *
 * `--duration 60s` is a quick check; the BENCHMARKS.md figure is the 10 min default.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/scenario/schema.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const LISTEN_PORTS = [5001, 5002, 5003, 5004, 5005, 5006, 5007, 5008];
const HOLDERS = 3;
const WARMUP_S = 15;
const TOKEN = 'bench-agent-token';
const CLK_TCK = 100;

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10m' },
    pairs: { type: 'string', default: '25000' },
    readers: { type: 'string', default: '5' },
    inner: { type: 'boolean', default: false },
    hold: { type: 'string' },
    offset: { type: 'string', default: '0' },
  },
});

function fail(msg: string): never {
  process.stderr.write(`bench/agent: ${msg}\n`);
  process.exit(2);
}

/** Holder mode: `count` pairs, each held at both ends, until killed; says "ready N" on stdout. */
async function hold(count: number, offset: number): Promise<void> {
  const servers: net.Server[] = [];
  const accepted: net.Socket[] = [];
  for (const port of LISTEN_PORTS) {
    const s = net.createServer((c) => {
      c.on('error', () => undefined);
      accepted.push(c);
    });
    s.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      // Each holder listens on its own copy of the ports: SO_REUSEPORT is not needed if ports differ.
      s.listen(port + offset * 100, '127.0.0.1', 4096, resolve);
    });
    servers.push(s);
  }
  const clients: net.Socket[] = [];
  const BATCH = 500;
  for (let i = 0; i < count; i += BATCH) {
    const n = Math.min(BATCH, count - i);
    await Promise.all(
      Array.from({ length: n }, (_, j) => {
        const port = LISTEN_PORTS[(i + j) % LISTEN_PORTS.length]! + offset * 100;
        return new Promise<void>((resolve, reject) => {
          const c = net.connect({ host: '127.0.0.1', port });
          c.once('connect', () => resolve());
          c.once('error', reject);
          clients.push(c);
        });
      }),
    );
  }
  while (accepted.length < count) await delay(50);
  process.stdout.write(`ready ${clients.length + accepted.length}\n`);
  await new Promise(() => undefined);
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return Number(fields[11]) + Number(fields[12]);
}

function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

function slopeMbPerMin(points: Array<[number, number]>): number {
  const n = points.length;
  const mt = points.reduce((a, [t]) => a + t, 0) / n;
  const mk = points.reduce((a, [, kb]) => a + kb, 0) / n;
  const num = points.reduce((a, [t, kb]) => a + (t - mt) * (kb - mk), 0);
  const den = points.reduce((a, [t]) => a + (t - mt) ** 2, 0);
  return (num / den) * 60 / 1024;
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { authorization: `Bearer ${TOKEN}` }, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

interface Agent {
  child: ChildProcess;
  port: number;
}

async function startAgent(port: number): Promise<Agent> {
  const child = spawn(process.execPath, [CLI, 'monitor', '--serve', `127.0.0.1:${port}`, '--token', TOKEN, '--max-readers', '8'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (c: Buffer) => {
      err += c;
      if (/agent at /.test(err)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`agent on ${port} exited ${code}: ${err}`)));
  });
  child.stderr!.on('data', (c: Buffer) => process.stderr.write(`agent ${port}: ${c}`));
  // The first scan in: /health has a lastSampleAt, /sample answers.
  for (let i = 0; i < 200; i++) {
    const r = await get(port, '/sample').catch(() => ({ status: 0, body: '' }));
    if (r.status === 200) return { child, port };
    await delay(200);
  }
  fail(`agent on ${port}: no sample with a scan after 40 s`);
}

interface Reader {
  lines: number;
  samples: number;
  scans: number;
  bytes: number;
  /** effectiveScanIntervalMs of the newest status line. */
  scanEveryMs: number | null;
  ended: boolean;
  req: http.ClientRequest;
}

function openReader(port: number): Reader {
  const r: Reader = { lines: 0, samples: 0, scans: 0, scanEveryMs: null, bytes: 0, ended: false, req: null as unknown as http.ClientRequest };
  r.req = http.get({ host: '127.0.0.1', port, path: '/stream', headers: { authorization: `Bearer ${TOKEN}` }, agent: false }, (res) => {
    if (res.statusCode !== 200) fail(`/stream: HTTP ${res.statusCode}`);
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => {
      r.bytes += Buffer.byteLength(c);
      buf += c;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        r.lines++;
        if (line.startsWith('{"type":"sample"')) {
          r.samples++;
          if (!line.includes('"scan":null')) r.scans++;
        } else if (line.startsWith('{"type":"status"')) {
          r.scanEveryMs = (JSON.parse(line) as { status: { effectiveScanIntervalMs: number } }).status.effectiveScanIntervalMs;
        }
      }
    });
    res.on('end', () => (r.ended = true));
    res.on('error', () => (r.ended = true));
  });
  r.req.on('error', () => (r.ended = true));
  return r;
}

function sockstatTcp(): string {
  return /^TCP: .*$/m.exec(readFileSync('/proc/net/sockstat', 'utf8'))?.[0] ?? '?';
}

async function inner(durationS: number, pairs: number, readerCount: number): Promise<void> {
  const per = Math.ceil(pairs / HOLDERS);
  const t0 = Date.now();
  const holders = await Promise.all(
    Array.from({ length: HOLDERS }, (_, k) => {
      const child = spawn(process.execPath, [SELF, '--hold', String(Math.min(per, pairs - k * per)), '--offset', String(k)], { stdio: ['ignore', 'pipe', 'inherit'] });
      return new Promise<ChildProcess>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (c: Buffer) => {
          out += c;
          if (/ready \d+/.test(out)) resolve(child);
        });
        child.once('exit', (code) => reject(new Error(`holder ${k} exited ${code}`)));
      });
    }),
  );
  const tcp = sockstatTcp();
  process.stderr.write(`holders ready in ${((Date.now() - t0) / 1000).toFixed(1)} s; /proc/net/sockstat ${tcp}\n`);

  const [served, peer] = await Promise.all([startAgent(9464), startAgent(9465)]);
  const readers = Array.from({ length: readerCount }, () => openReader(served.port));
  const firstScan = JSON.parse((await get(served.port, '/sample')).body) as { sample: { scan: { total: number; source: string; costMs: number } } };
  process.stderr.write(`agents up; scan: ${firstScan.sample.scan.total} sockets via ${firstScan.sample.scan.source}, ${firstScan.sample.scan.costMs.toFixed(1)} ms; warm-up ${WARMUP_S} s\n`);
  await delay(WARMUP_S * 1000);

  const agents = [served, peer];
  const start = agents.map((a) => ({ cpu: cpuTicks(a.child.pid!), rss: rssKb(a.child.pid!) }));
  const linesAtStart = readers.map((r) => r.samples);
  const scansAtStart = readers[0]?.scans ?? 0;
  const startMs = Date.now();
  const rssSeries = agents.map(() => [] as Array<[number, number]>);
  const scanCosts: number[] = [];
  while (Date.now() - startMs < durationS * 1000) {
    const t = (Date.now() - startMs) / 1000;
    agents.forEach((a, i) => rssSeries[i]!.push([t, rssKb(a.child.pid!)]));
    const s = await get(peer.port, '/sample').catch(() => null);
    if (s?.status === 200) scanCosts.push((JSON.parse(s.body) as typeof firstScan).sample.scan.costMs);
    await delay(Math.min(10_000, durationS * 1000 - (Date.now() - startMs) + 1));
  }
  const elapsedS = (Date.now() - startMs) / 1000;
  const end = agents.map((a) => ({ cpu: cpuTicks(a.child.pid!), rss: rssKb(a.child.pid!) }));
  agents.forEach((a, i) => rssSeries[i]!.push([elapsedS, end[i]!.rss]));
  const health = JSON.parse((await get(served.port, '/health')).body) as { readers: number };
  const tcpEnd = sockstatTcp();
  const connected = readers.filter((r) => !r.ended).length;
  for (const a of agents) a.child.kill('SIGINT');
  await Promise.all(agents.map((a) => new Promise((r) => a.child.once('exit', r))));
  for (const h of holders) h.kill('SIGKILL');

  const cpuPct = (i: number): number => ((end[i]!.cpu - start[i]!.cpu) / CLK_TCK / elapsedS) * 100;
  const mb = (kb: number): string => (kb / 1024).toFixed(1);
  const line = (name: string, i: number): string => {
    const peak = Math.max(...rssSeries[i]!.map(([, kb]) => kb));
    return `${name}: CPU ${cpuPct(i).toFixed(2)} % of a core; RSS ${mb(start[i]!.rss)} → ${mb(end[i]!.rss)} MB (${end[i]!.rss >= start[i]!.rss ? '+' : ''}${mb(end[i]!.rss - start[i]!.rss)} MB, peak ${mb(peak)} MB, slope ${slopeMbPerMin(rssSeries[i]!).toFixed(2)} MB/min)`;
  };
  const samples = readers.map((r, i) => r.samples - linesAtStart[i]!);
  const scans = (readers[0]?.scans ?? 0) - scansAtStart;
  const costs = [...scanCosts].sort((a, b) => a - b);
  process.stdout.write(
    [
      `host: ${os.cpus().length} cores, ${os.release()}, Node ${process.version}; namespace sockets at start ${tcp}, at end ${tcpEnd}`,
      `measured ${elapsedS.toFixed(0)} s after a ${WARMUP_S} s warm-up; peer scan cost p50 ${costs[Math.floor(costs.length / 2)]?.toFixed(1) ?? '?'} ms (${costs.length} looks)`,
      line(`agent with ${readerCount} readers`, 0),
      line('peer, no readers (monitor alone)', 1),
      `ratio readers/peer: CPU ${(cpuPct(0) / cpuPct(1)).toFixed(3)}; serving's own cost ${(cpuPct(0) - cpuPct(1)).toFixed(2)} % of a core (goal ≤ 2 %)`,
      `readers: ${connected}/${readerCount} still connected (agent says ${health.readers}); sample lines each in the window: ${samples.join(', ')} (${(samples[0]! / elapsedS).toFixed(2)}/s), ${scans} of them with a scan (effective scan interval ${readers[0]?.scanEveryMs ?? '?'} ms), ${(readers[0]!.bytes / 1024 / 1024).toFixed(1)} MB read by the first`,
    ].join('\n') + '\n',
  );
  for (const r of readers) r.req.destroy();
  process.exit(0);
}

const durationS = parseDuration(values.duration!);
const pairs = Number(values.pairs);
const readerCount = Number(values.readers);
if (durationS === null || durationS < 10) fail(`--duration ${values.duration}: expected a duration of at least 10s, e.g. 60s or 10m`);
if (!Number.isInteger(pairs) || pairs < 1 || pairs > 27_000) fail(`--pairs ${values.pairs}: expected 1 to 27000 (3 holders × 9 000 pairs under a 20 000 fd limit)`);
if (!Number.isInteger(readerCount) || readerCount < 0 || readerCount > 8) fail(`--readers ${values.readers}: expected 0 to 8`);

if (values.hold !== undefined) {
  await hold(Number(values.hold), Number(values.offset));
} else if (values.inner) {
  await inner(durationS, pairs, readerCount);
} else {
  const shell = ['ip link set lo up', 'sysctl -q -w net.ipv4.ip_local_port_range="10000 65000"', 'exec "$0" "$@"'].join(' && ');
  const r = spawnSync('unshare', ['-rn', 'sh', '-c', shell, process.execPath, SELF, '--inner', '--duration', values.duration!, '--pairs', String(pairs), '--readers', String(readerCount)], { stdio: 'inherit' });
  if (r.error) fail(`unshare -rn: ${r.error.message} (needs unprivileged user namespaces)`);
  process.exit(r.status ?? 1);
}
