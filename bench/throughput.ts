/**
 * `npm run bench`: portstorm against ApacheBench (`ab`, no -k and with -k) on ONE built-in target
 * started once in this process, in one invocation. Rounds are interleaved and the median rate per
 * tool is compared. Flags: --concurrency C (50), --duration D seconds (5, at most 30), --rounds (3),
 * --workers (1, or auto). Raw figures go to bench/results/<timestamp>.json. Every load is bounded
 * (D seconds per measurement; ab also by -n and a kill timer) and goes to 127.0.0.1 only.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { hostInfo } from '../src/monitor/host.js';
import { runScenario } from '../src/run.js';
import { parseScenario } from '../src/scenario/load.js';
import { startTargetThread } from '../src/target/thread.js';

/** The five measured tools, in the order a round runs them. */
export const TOOLS = ['ab', 'portstorm close:client', 'portstorm close:server', 'ab -k', 'portstorm keep-alive'] as const;
/** One of the measured tools. */
export type Tool = (typeof TOOLS)[number];

/** Benchmark settings. */
export interface BenchOptions {
  concurrency: number;
  durationS: number;
  rounds: number;
  workers: number | 'auto';
}

/** One measurement of one tool in one round. `rate` is completed requests per second. */
export interface Measurement {
  tool: Tool;
  round: number;
  rate: number;
  completed: number;
  failed: number;
  elapsedS: number;
  /** portstorm only: the rate over the whole seconds after the first (the load worker's JIT warm-up). */
  steadyRate?: number;
  /** The host's TIME_WAIT count just before this measurement. */
  timeWaitBefore: number | null;
  /** Errors by code (portstorm) or ab's failure breakdown / exit problem. */
  errors: Record<string, number | string>;
}

/** What ab printed that the benchmark uses. */
export type AbSummary = Pick<Measurement, 'rate' | 'completed' | 'failed' | 'elapsedS'>;

const MAX_DURATION_S = 30;
/** ab's request cap: large enough that -t (the time limit) always ends the run first. */
const AB_MAX_REQUESTS = 10_000_000;

/** Parses and checks the command line; throws an Error with a one-line message on bad input. */
export function parseOptions(argv: string[]): BenchOptions {
  const opt = (def: string) => ({ type: 'string', default: def }) as const;
  const { values: v } = parseArgs({ args: argv, options: { concurrency: opt('50'), duration: opt('5'), rounds: opt('3'), workers: opt('1') } });
  const int = (name: string, raw: string, lo: number, hi: number): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < lo || n > hi) throw new Error(`--${name}: expected a whole number from ${lo} to ${hi}, got ${raw}`);
    return n;
  };
  return {
    concurrency: int('concurrency', v.concurrency, 1, 1000),
    // Whole seconds: ab's -t takes an integer (and -t 0 would mean no time limit).
    durationS: int('duration', v.duration.replace(/s$/, ''), 1, MAX_DURATION_S),
    rounds: int('rounds', v.rounds, 1, 20),
    workers: v.workers === 'auto' ? 'auto' : int('workers', v.workers, 1, 64),
  };
}

/** Parses ab's report; returns null when it has no "Complete requests" line (ab failed). */
export function parseAbOutput(text: string): AbSummary | null {
  const num = (label: string): number | null => {
    const m = new RegExp(`^${label}:\\s+([\\d.]+)`, 'm').exec(text);
    return m ? Number(m[1]) : null;
  };
  const completed = num('Complete requests');
  if (completed === null) return null;
  const elapsedS = num('Time taken for tests') ?? NaN;
  return { completed, failed: num('Failed requests') ?? 0, elapsedS, rate: num('Requests per second') ?? completed / elapsedS };
}

/** The median of the finite values, or NaN when there are none. */
export function median(values: number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** The host's TIME_WAIT socket count (IPv4 "tw" in /proc/net/sockstat), or null if unreadable. */
export function timeWaitCount(): number | null {
  try {
    const m = /^TCP:.*\btw (\d+)/m.exec(readFileSync('/proc/net/sockstat', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Makes sure `ab` runs: installs apache2-utils when root, otherwise (or if that fails) explains and exits 3. */
function ensureAb(): void {
  const present = (): boolean => spawnSync('ab', ['-V'], { stdio: 'ignore' }).status === 0;
  if (present()) return;
  if (process.getuid?.() === 0) {
    console.log('bench: ab is missing; installing apache2-utils (apt-get update && apt-get install -y apache2-utils)');
    for (const args of [['update', '-qq'], ['install', '-y', '-qq', 'apache2-utils']]) spawnSync('apt-get', args, { stdio: 'inherit', timeout: 600_000 });
    if (present()) return;
  }
  console.error('bench: ab (ApacheBench) is missing; install it with: sudo apt-get install -y apache2-utils');
  process.exit(3);
}

/** A measurement as a tool reports it, before the bench adds the host's TIME_WAIT count. */
type Taken = Omit<Measurement, 'timeWaitBefore'>;

/** Runs ab against `url` for about `durationS` seconds; the process only awaits the child meanwhile. */
async function measureAb(tool: Tool, round: number, url: string, o: BenchOptions): Promise<Taken> {
  const limits = ['-s', '10', '-t', String(o.durationS), '-n', String(AB_MAX_REQUESTS)];
  const args = [...(tool === 'ab -k' ? ['-k'] : []), '-q', '-r', '-c', String(o.concurrency), ...limits, url];
  const child = spawn('ab', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), (o.durationS + 30) * 1000);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(killer);
  const ab = parseAbOutput(out);
  const errors: Record<string, number | string> = {};
  if (code !== 0) errors.exit = `ab exited ${code}: ${err.trim().split('\n').pop() ?? ''}`;
  for (const m of out.matchAll(/\((Connect|Receive|Length|Exceptions): (\d+)/g)) if (Number(m[2]) > 0) errors[m[1]!] = Number(m[2]);
  const non2xx = /^Non-2xx responses:\s+(\d+)/m.exec(out);
  if (non2xx) errors.non2xx = Number(non2xx[1]);
  if (!ab) return { tool, round, rate: NaN, completed: 0, failed: 0, elapsedS: NaN, errors };
  return { tool, round, rate: ab.rate, completed: ab.completed, failed: ab.failed, elapsedS: ab.elapsedS, errors };
}

/** Runs one portstorm closed-model scenario (C users for D seconds) against `url`. */
async function measurePortstorm(tool: Tool, round: number, url: string, o: BenchOptions, resultsDir: string): Promise<Taken> {
  const keepAlive = tool === 'portstorm keep-alive';
  const close = tool === 'portstorm close:server' ? 'server' : 'client';
  const connection = keepAlive ? { reuse: true, poolSize: o.concurrency } : { reuse: false, close };
  const load = [{ model: 'users', users: o.concurrency, duration: o.durationS }];
  const [timeouts, limits] = [{ connect: 2, request: 10 }, { maxDuration: o.durationS + 5 }];
  const doc = { name: `bench-${tool.replace(/\W+/g, '-')}`, target: url, connection, load, workers: o.workers, timeouts, limits };
  const { record } = await runScenario({ scenario: parseScenario(doc, 'bench'), resultsDir, label: `bench round ${round}` });
  const { completed, failed } = record.totals;
  const steady = record.timeline.filter((e) => e.t >= 1 && e.t < Math.floor(o.durationS));
  const steadyRate = steady.length > 0 ? steady.reduce((n, e) => n + e.completed, 0) / steady.length : undefined;
  return { tool, round, rate: completed / record.durationS, steadyRate, completed, failed, elapsedS: record.durationS, errors: record.errors };
}

/** The peer a portstorm tool is compared with. */
const PEER: Partial<Record<Tool, Tool>> = { 'portstorm close:client': 'ab', 'portstorm close:server': 'ab', 'portstorm keep-alive': 'ab -k' };

/** A tool's summary: median rate, failures, and its ratio to its ab peer (of medians, and median of per-round ratios). */
export interface ToolSummary {
  medianRate: number;
  failed: number;
  ratioOfMedians: number | null;
  medianRoundRatio: number | null;
  /** portstorm only: median of the steady rates (first second left out). */
  medianSteadyRate?: number;
}

/** Summarizes the measurements per tool and prints the table ("steady": portstorm's rate after its first second). */
function summarize(ms: Measurement[]): Record<string, ToolSummary> {
  const summary: Record<string, ToolSummary> = {};
  const rates = (t: Tool): number[] => ms.filter((m) => m.tool === t).map((m) => m.rate);
  const r3 = (x: number): number => Math.round(x * 1000) / 1000;
  const show = (x: number): string => (Number.isFinite(x) ? String(Math.round(x)) : '');
  const line = (c: string[]): void => console.log(`${c[0]!.padEnd(24)}${c[1]!.padStart(13)}${c[2]!.padStart(8)}${c[3]!.padStart(7)}  ${c[4]!.padEnd(34)}${c[5]}`);
  console.log('');
  line(['tool', 'median req/s', 'steady', 'failed', 'ratio (median of round ratios)', 'per round req/s']);
  for (const tool of TOOLS) {
    const peer = PEER[tool];
    const mine = rates(tool);
    const ratio = peer ? median(mine) / median(rates(peer)) : null;
    const roundRatio = peer ? median(mine.map((r, i) => r / rates(peer)[i]!)) : null;
    const failed = ms.filter((m) => m.tool === tool).reduce((n, m) => n + m.failed, 0);
    const steady = median(ms.filter((m) => m.tool === tool && m.steadyRate !== undefined).map((m) => m.steadyRate!));
    summary[tool] = { medianRate: Math.round(median(mine)), failed, ratioOfMedians: ratio && r3(ratio), medianRoundRatio: roundRatio && r3(roundRatio) };
    if (peer && Number.isFinite(steady)) summary[tool]!.medianSteadyRate = Math.round(steady);
    const ratioText = ratio === null ? '' : `${ratio.toFixed(2)}x of ${peer} (${roundRatio!.toFixed(2)}x)`;
    line([tool, show(median(mine)), show(steady), String(failed), ratioText, mine.map((r) => show(r) || 'n/a').join(' ')]);
  }
  return summary;
}

/** Runs the benchmark end to end. */
export async function main(argv: string[]): Promise<void> {
  const o = parseOptions(argv);
  ensureAb();
  const host = hostInfo();
  const twStart = timeWaitCount();
  console.log(`bench: C=${o.concurrency} D=${o.durationS}s rounds=${o.rounds} workers=${o.workers}; node ${host.node}, ${host.cpus} cpus, kernel ${host.kernel}`);
  console.log(`bench: TIME_WAIT sockets at start: ${twStart ?? 'unknown'}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'portstorm-bench-'));
  const target = await startTargetThread({ protocol: 'http', host: '127.0.0.1', port: 0, delayMs: 0, bodyBytes: 2, close: 'never' });
  const url = `http://127.0.0.1:${target.port}/`;
  const measurements: Measurement[] = [];
  const loadStart = os.loadavg();
  try {
    // Warm-up (not measured): lets the target's JIT settle before round 1.
    await measureAb('ab -k', 0, url, { ...o, durationS: 1 });
    for (let round = 1; round <= o.rounds; round++) {
      for (const tool of TOOLS) {
        const tw = timeWaitCount();
        const m = tool.startsWith('ab') ? await measureAb(tool, round, url, o) : await measurePortstorm(tool, round, url, o, tmp);
        measurements.push({ ...m, timeWaitBefore: tw });
        const steady = m.steadyRate ? ` (after its first second: ${Math.round(m.steadyRate)}/s)` : '';
        const errs = Object.keys(m.errors).length > 0 ? `  errors ${JSON.stringify(m.errors)}` : '';
        const counts = `${m.completed} completed, ${m.failed} failed in ${m.elapsedS.toFixed(2)} s${steady}`;
        console.log(`round ${round}  ${tool.padEnd(24)} ${Math.round(m.rate).toString().padStart(7)} req/s  ${counts}, TIME_WAIT before ${tw}${errs}`);
        await delay(500);
      }
    }
  } finally {
    const stats = await target.stats().catch(() => null);
    await target.close();
    await rm(tmp, { recursive: true, force: true });
    if (stats) console.log(`bench: target saw ${stats.connectionsAccepted} connections, ${stats.requests} requests`);
  }
  const summary = summarize(measurements);
  const twEnd = timeWaitCount();
  console.log(`\nbench: TIME_WAIT sockets at end: ${twEnd ?? 'unknown'}`);
  const date = new Date().toISOString();
  const dir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${date.replace(/:/g, '-')}.json`);
  const machine = { node: host.node, cpus: host.cpus, kernel: host.kernel, portRange: host.portRange };
  const observed = { timeWait: { start: twStart, end: twEnd }, loadAvg: { start: loadStart, end: os.loadavg() } };
  const raw = { date, ...machine, options: o, ...observed, summary, measurements };
  await writeFile(file, `${JSON.stringify(raw, null, 2)}\n`);
  console.log(`bench: raw figures in ${path.relative(process.cwd(), file)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
