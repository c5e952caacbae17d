/**
 * Run: `npx tsc -p tsconfig.json && node build/bench/scan-cost.js`
 *
 * What one socket scan costs at 10 000, 28 000 and 56 000 TIME_WAIT sockets, inside a private
 * network namespace this script creates for itself (`unshare -rn`, lo up, ephemeral range
 * 1024-65535, tcp_tw_reuse 0 so that connect() does not recycle the TIME_WAIT sockets it is
 * counting). Compared, ~30 interleaved scans each:
 *   (a)  the monitor's Scanner on netlink sock_diag: dump(4) + dump(6), all states, aggregated
 *        into a SocketScan (states, client/server split, destinations, sources)
 *   (a') the raw addon with the TIME_WAIT mask only (kernel-side filtering), destination keys only
 *   (b)  the monitor's Scanner on /proc/net/tcp and tcp6 (read, parse, same aggregation)
 *   (c)  spawn `ss -tan state time-wait | wc -l`
 * plus the TIME_WAIT count each sees, taken back to back. Sockets come from one Node client and two
 * 127.0.0.1 server ports (28 000 per port at most), closed client-first after the server's reply,
 * at most IN_FLIGHT at a time. Bounded: about a minute; TIME_WAIT lasts 60 s, so every level is
 * measured within ~60 s of the first socket's creation. Progress goes to stderr, the table to stdout.
 *
 * Then, per level, memory: MEM_SCANS raw dumps (IPv4 and IPv6, all states) back to back, dropping each
 * Buffer, with this process's RSS before, at its highest and after (what a long run's scans do to
 * the footprint: it should stay level, the scan buffers given back to the kernel).
 */
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { LinuxProc } from '../src/monitor/linux.js';
import { Scanner } from '../src/monitor/scan.js';
import { TCP_STATE, destinationKey, forEachRow, loadSockDiag, statesMask, type DestinationCache } from '../src/monitor/sockdiag.js';

const LEVELS = [10_000, 28_000, 56_000];
const SCANS = 30;
const IN_FLIGHT = 256;
const PORTS = 2;
const BUDGET_MS = 110_000;
const MEM_SCANS = 100;

const self = fileURLToPath(import.meta.url);
const log = (s: string): void => void process.stderr.write(`scan-cost: ${s}\n`);

if (!process.argv.includes('--inner')) {
  if (process.platform !== 'linux') {
    log('Linux only');
    process.exit(1);
  }
  const setup = [
    'ip link set lo up',
    'echo "1024 65535" > /proc/sys/net/ipv4/ip_local_port_range',
    'echo 0 > /proc/sys/net/ipv4/tcp_tw_reuse',
    'exec "$0" "$@"',
  ].join(' && ');
  const r = spawnSync('unshare', ['-rn', 'sh', '-c', setup, process.execPath, self, '--inner'], { stdio: 'inherit', timeout: 150_000 });
  if (r.error || r.signal) log(`inner run failed: ${r.error?.message ?? r.signal}`);
  process.exit(r.status ?? 1);
}

// ---- inside the namespace ----
const started = Date.now();
const diag = loadSockDiag();
if (!diag.available) log(`native addon unavailable (${diag.reason}): (a) is skipped`);

const servers: net.Server[] = [];
const ports: number[] = [];
for (let i = 0; i < PORTS; i++) {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.write('x'); // reply; the client destroys on it and closes first (the server ends on its FIN)
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  ports.push((server.address() as AddressInfo).port);
}

let made = 0;
let failed = 0;
function connectOnce(port: number): Promise<void> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('data', () => c.destroy());
    c.once('error', () => failed++);
    c.once('close', () => resolve());
  });
}

/** Opens and closes `n` more connections, spread over the server ports. */
async function createTimeWait(n: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = made + next++;
      await connectOnce(ports[i % PORTS]!);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  made += n;
  // Let the last FIN/ACK exchanges settle (bounded: 2 s).
  if (diag.available) {
    const busy = 0xfff & ~statesMask(TCP_STATE.TIME_WAIT, TCP_STATE.LISTEN);
    for (let i = 0; i < 100 && diag.dump(4, busy).length > 0; i++) await delay(20);
  } else {
    await delay(200);
  }
}

// (a) and (b) are the monitor's own Scanner (dump or read, parse, aggregate into a SocketScan).
const budget = { range: [1024, 65535] as [number, number], usable: 64512 };
const addonScanner = new Scanner(budget, new LinuxProc(), 'sockdiag');
const procScanner = new Scanner(budget, new LinuxProc(), 'proc');
const scanTimeWait = async (scanner: Scanner): Promise<number> => (await scanner.scan())!.states.timeWait;

function addonTimeWaitOnly(): number {
  if (!diag.available) throw new Error('unreachable');
  let n = 0;
  const cache: DestinationCache = new Map();
  for (const family of [4, 6] as const) {
    const buf = diag.dump(family, statesMask(TCP_STATE.TIME_WAIT));
    forEachRow(buf, (state, _family, _lp, _rp, o) => {
      if (state === TCP_STATE.TIME_WAIT) n++;
      destinationKey(buf, o, cache);
    });
  }
  return n;
}

function ssCount(): number {
  const r = spawnSync('sh', ['-c', 'ss -tan state time-wait | wc -l'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ss failed: ${r.stderr || r.error?.message}`);
  return Math.max(0, Number(r.stdout.trim()) - 1); // less the header line
}

interface Method {
  name: string;
  run: () => number | Promise<number>; // returns the TIME_WAIT count it sees
}

const methods: Method[] = [
  ...(diag.available
    ? [
        { name: '(a) Scanner: sockdiag', run: () => scanTimeWait(addonScanner) },
        { name: "(a') addon, TIME_WAIT mask only", run: addonTimeWaitOnly },
      ]
    : []),
  { name: '(b) Scanner: /proc/net/tcp*', run: () => scanTimeWait(procScanner) },
  { name: '(c) ss | wc -l (spawn)', run: ssCount },
];

interface Result {
  level: number;
  name: string;
  sees: number;
  median: number;
  p95: number;
}

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
const results: Result[] = [];
interface Memory {
  level: number;
  before: number;
  max: number;
  after: number;
  ms: number;
}
const memory: Memory[] = [];
const rssMb = (): number => process.memoryUsage.rss() / 1048576;

for (const level of LEVELS) {
  if (Date.now() - started > BUDGET_MS) {
    log(`time budget spent: skipping ${level}`);
    break;
  }
  const t0 = Date.now();
  await createTimeWait(level - made);
  log(`${made} connections closed client-first in ${((Date.now() - t0) / 1000).toFixed(1)} s (${failed} failed so far)`);
  // The count each method sees, back to back.
  const sees: number[] = [];
  for (const m of methods) sees.push(await m.run());
  const times: number[][] = methods.map(() => []);
  for (let s = 0; s < SCANS; s++) {
    for (const [i, m] of methods.entries()) {
      const t = process.hrtime.bigint();
      await m.run();
      times[i]!.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  }
  methods.forEach((m, i) => {
    const sorted = times[i]!.sort((a, b) => a - b);
    results.push({ level, name: m.name, sees: sees[i]!, median: quantile(sorted, 0.5), p95: quantile(sorted, 0.95) });
  });
  if (diag.available) {
    const before = rssMb();
    let max = before;
    const t = process.hrtime.bigint();
    for (let s = 0; s < MEM_SCANS; s++) {
      for (const family of [4, 6] as const) diag.dump(family);
      max = Math.max(max, rssMb());
    }
    memory.push({ level, before, max, after: rssMb(), ms: Number(process.hrtime.bigint() - t) / 1e6 / MEM_SCANS });
  }
  log(`level ${level} measured (t=${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

for (const s of servers) s.close();

const fmt = (x: number): string => x.toFixed(x < 10 ? 2 : 1);
const lines = [
  `${'target TW'.padEnd(10)} ${'method'.padEnd(30)} ${'median ms'.padStart(9)} ${'p95 ms'.padStart(8)} ${'TW seen'.padStart(8)}`,
];
for (const r of results) {
  lines.push(`${String(r.level).padEnd(10)} ${r.name.padEnd(30)} ${fmt(r.median).padStart(9)} ${fmt(r.p95).padStart(8)} ${String(r.sees).padStart(8)}`);
}
lines.push('');
for (const level of LEVELS) {
  const at = (prefix: string): Result | undefined => results.find((r) => r.level === level && r.name.startsWith(prefix));
  const a = at('(a)');
  const b = at('(b)');
  const c = at('(c)');
  if (!a || !b || !c) continue;
  lines.push(`${level}: (b)/(a) = ${(b.median / a.median).toFixed(1)}x, (c)/(a) = ${(c.median / a.median).toFixed(1)}x (medians)`);
}
for (const m of memory) {
  lines.push(
    `${m.level}: ${MEM_SCANS} raw dumps (4 + 6, all states), ${fmt(m.ms)} ms each: RSS ${m.before.toFixed(1)} -> max ${m.max.toFixed(1)} -> ${m.after.toFixed(1)} MB`,
  );
}
lines.push(`connections: ${made}, failed: ${failed}, elapsed: ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.stdout.write(lines.join('\n') + '\n');
