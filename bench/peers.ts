/**
 * `npm run bench:peers`: portstorm side by side with the load testers people compare it with, in one
 * invocation, on the same target. Prints tables and writes bench/results/peers-<time>.json.
 *
 * Sections (`--sections`, default all):
 * - close:     new connection per request. ab (no -k), wrk -H 'Connection: close', hey
 *              -disable-keepalive, autocannon -H 'Connection: close', portstorm reuse:false with
 *              close:server, close:client, and close:client with the monitor off (its cost).
 * - keepalive: wrk and autocannon against portstorm reuse:true (on the native engine, and on undici
 *   with PORTSTORM_ENGINE=js for comparison).
 *   Both at the same concurrency and duration, interleaved in rounds (A B C A B C …); medians.
 *   Targets (`--targets`): nginx (Debian's, installed if missing, one worker, access log off) and
 *   the built-in target (`portstorm serve` in its own process).
 * - accuracy:  open model at 1 000/s and 5 000/s against nginx: achieved / target rate over the
 *              steady seconds, schedule lag (actual start - intended) p50/p99 from the request log,
 *              run.json size (grows with duration, not request count).
 * - memory:    2 000/s against nginx for `--memory-minutes` (default 10): RSS of the portstorm
 *              process every 5 s; growth from minute 1 to the end.
 * - scan:      the monitor's scan cost at 10k / 28k / 56k sockets (bench/scan-cost.js, in its own
 *              namespace).
 * Every load is bounded by its duration and a kill timer, and goes to 127.0.0.1 only.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { build as buildHistogram } from 'hdr-histogram-js';
import type { RunRecord } from '../src/record/types.js';
import { ensureCommand, freePort, startNginx } from './nginx.js';
import { PEERS, runPeer, type PeerResult } from './peer-tools.js';
import { median } from './throughput.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const SCAN_COST = fileURLToPath(new URL('./scan-cost.js', import.meta.url));
const SECTIONS = ['close', 'keepalive', 'accuracy', 'memory', 'scan'] as const;
type Section = (typeof SECTIONS)[number];

/** Benchmark settings. */
export interface PeersOptions {
  concurrency: number;
  durationS: number;
  rounds: number;
  workers: string;
  targets: Array<'nginx' | 'builtin'>;
  sections: Section[];
  accuracyS: number;
  memoryMinutes: number;
}

/** Parses the command line; throws a one-line Error on bad input. */
export function parseOptions(argv: string[]): PeersOptions {
  const opt = (def: string) => ({ type: 'string', default: def }) as const;
  const { values: v } = parseArgs({
    args: argv,
    options: {
      concurrency: opt('50'),
      duration: opt('5'),
      rounds: opt('3'),
      workers: opt('auto'),
      targets: opt('nginx,builtin'),
      sections: opt(SECTIONS.join(',')),
      'accuracy-duration': opt('10'),
      'memory-minutes': opt('10'),
    },
  });
  const int = (name: string, raw: string, lo: number, hi: number): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < lo || n > hi) throw new Error(`--${name}: expected a whole number from ${lo} to ${hi}, got ${raw}`);
    return n;
  };
  const list = <T extends string>(name: string, raw: string, allowed: readonly T[]): T[] => {
    const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
    for (const i of items) if (!allowed.includes(i as T)) throw new Error(`--${name}: ${i} is not one of ${allowed.join(', ')}`);
    return items as T[];
  };
  if (v.workers !== 'auto') int('workers', v.workers, 1, 64);
  return {
    concurrency: int('concurrency', v.concurrency, 1, 1000),
    durationS: int('duration', v.duration, 1, 60),
    rounds: int('rounds', v.rounds, 1, 20),
    workers: v.workers,
    targets: list('targets', v.targets, ['nginx', 'builtin'] as const),
    sections: list('sections', v.sections, SECTIONS),
    accuracyS: int('accuracy-duration', v['accuracy-duration'], 3, 600),
    memoryMinutes: int('memory-minutes', v['memory-minutes'], 0, 60),
  };
}

export { median } from './throughput.js';

/** One portstorm configuration measured like a peer. */
interface PortstormTool {
  name: string;
  keepAlive: boolean;
  connection: Record<string, unknown>;
  monitor: boolean;
  /** Environment for its process (e.g. PORTSTORM_ENGINE=js: the JS engine, for a before/after). */
  env?: Record<string, string>;
}

const PORTSTORM: PortstormTool[] = [
  { name: 'portstorm close:server', keepAlive: false, connection: { reuse: false, close: 'server' }, monitor: true },
  { name: 'portstorm close:client', keepAlive: false, connection: { reuse: false, close: 'client' }, monitor: true },
  { name: 'portstorm close:client, no monitor', keepAlive: false, connection: { reuse: false, close: 'client' }, monitor: false },
  { name: 'portstorm keep-alive', keepAlive: true, connection: { reuse: true }, monitor: true },
  { name: 'portstorm keep-alive, undici', keepAlive: true, connection: { reuse: true }, monitor: true, env: { PORTSTORM_ENGINE: 'js' } },
];

/** A portstorm run in its own process: the CLI with a scenario written for it; the record back. */
export async function runPortstorm(
  scenario: Record<string, unknown>,
  dir: string,
  extra: string[],
  onPid?: (pid: number) => void,
  env?: Record<string, string>,
): Promise<{ record: RunRecord | null; error: string | null; file: string | null }> {
  const file = path.join(dir, `scenario-${Date.now()}.json`);
  await writeFile(file, JSON.stringify(scenario));
  const out = path.join(dir, 'runs');
  const child = spawn(process.execPath, [CLI, 'run', file, '--json', '--quiet', '--out', out, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: env ? { ...process.env, ...env } : process.env,
  });
  if (child.pid) onPid?.(child.pid);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const maxS = Number((scenario.limits as { maxDuration?: number } | undefined)?.maxDuration ?? 600);
  const killer = setTimeout(() => child.kill('SIGKILL'), (maxS + 60) * 1000);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(killer);
  try {
    const record = JSON.parse(stdout.trim().split('\n').pop() ?? '') as RunRecord;
    const runs = await readdir(out);
    const dirOf = runs.find((d) => d.startsWith(record.runId)) ?? record.runId;
    return { record, error: code === 0 || code === 1 ? null : `exit ${code}: ${stderr.trim().split('\n').pop()}`, file: path.join(out, dirOf, 'run.json') };
  } catch {
    return { record: null, error: `exit ${code}: ${stderr.trim().split('\n').pop() ?? 'no record'}`, file: null };
  }
}

function fromRecord(r: RunRecord): PeerResult {
  const { completed, failed } = r.totals;
  return { rate: completed / r.durationS, completed, failed, elapsedS: r.durationS, errors: r.errors };
}

/** One measurement in a round. */
interface Measurement extends PeerResult {
  target: string;
  tool: string;
  round: number;
  loadAvg: number;
}

async function throughputSections(o: PeersOptions, target: string, url: string, dir: string, keepAlive: boolean): Promise<Measurement[]> {
  const peers = PEERS.filter((p) => p.keepAlive === keepAlive);
  const mine = PORTSTORM.filter((p) => p.keepAlive === keepAlive);
  const ms: Measurement[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    const order = [...peers.map((p) => ({ name: p.name, peer: p })), ...mine.map((p) => ({ name: p.name, ps: p }))];
    for (const t of order) {
      const loadAvg = os.loadavg()[0]!;
      let r: PeerResult;
      if ('peer' in t && t.peer) r = await runPeer(t.peer, url, o.concurrency, o.durationS);
      else {
        const p = (t as { ps: PortstormTool }).ps;
        const scenario = {
          name: `bench-${p.name.replace(/\W+/g, '-')}`,
          target: url,
          connection: { ...p.connection, poolSize: o.concurrency },
          load: [{ model: 'users', users: o.concurrency, duration: o.durationS }],
          workers: o.workers === 'auto' ? 'auto' : Number(o.workers),
          monitor: { enabled: p.monitor },
          timeouts: { connect: 2, request: 10 },
          limits: { maxDuration: o.durationS + 10 },
        };
        const run = await runPortstorm(scenario, dir, [], undefined, p.env);
        r = run.record ? fromRecord(run.record) : { rate: NaN, completed: 0, failed: 0, elapsedS: NaN, errors: { exit: run.error ?? 'no record' } };
        if (run.error) r.errors.exit = run.error;
      }
      ms.push({ ...r, target, tool: t.name, round, loadAvg });
      const errs = Object.keys(r.errors).length ? `  ${JSON.stringify(r.errors)}` : '';
      console.log(`  ${target} round ${round}  ${t.name.padEnd(36)} ${Math.round(r.rate).toString().padStart(7)} req/s  (${r.completed} ok, ${r.failed} failed, load ${loadAvg.toFixed(1)})${errs}`);
      await delay(1000);
    }
  }
  return ms;
}

/** Median rate per tool, and the ratios the issue sets targets for. */
function summarizeThroughput(ms: Measurement[], target: string): Record<string, unknown> {
  const by = (tool: string) => ms.filter((m) => m.target === target && m.tool === tool);
  const rate = (tool: string) => median(by(tool).map((m) => m.rate));
  const tools = [...new Set(ms.filter((m) => m.target === target).map((m) => m.tool))];
  const rates = Object.fromEntries(tools.map((t) => [t, Math.round(rate(t))]));
  const ratios: Record<string, number> = {};
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  const fasterC = Math.max(rate('ab') || 0, rate('wrk close') || 0);
  if (fasterC > 0) {
    for (const t of ['portstorm close:server', 'portstorm close:client']) if (tools.includes(t)) ratios[`${t} / faster of ab, wrk close`] = r3(rate(t) / fasterC);
  }
  if (tools.includes('portstorm close:client, no monitor')) ratios['monitor on / off (close:client)'] = r3(rate('portstorm close:client') / rate('portstorm close:client, no monitor'));
  if (tools.includes('portstorm keep-alive')) {
    ratios['portstorm keep-alive / autocannon'] = r3(rate('portstorm keep-alive') / rate('autocannon'));
    ratios['portstorm keep-alive / wrk'] = r3(rate('portstorm keep-alive') / rate('wrk'));
  }
  if (tools.includes('portstorm keep-alive, undici')) {
    ratios['portstorm keep-alive, undici / autocannon'] = r3(rate('portstorm keep-alive, undici') / rate('autocannon'));
    ratios['portstorm keep-alive, undici / wrk'] = r3(rate('portstorm keep-alive, undici') / rate('wrk'));
  }
  console.log(`\n  ${target}: median req/s over ${new Set(ms.map((m) => m.round)).size} rounds`);
  for (const t of tools) console.log(`    ${t.padEnd(38)}${String(rates[t]).padStart(8)}   per round ${by(t).map((m) => Math.round(m.rate)).join(' ')}`);
  for (const [k, v] of Object.entries(ratios)) console.log(`    ${k.padEnd(52)} ${v.toFixed(2)}x`);
  return { rates, ratios };
}

/** Schedule lag and achieved rate of an open-model run, from its request logs. */
async function accuracy(url: string, rate: number, o: PeersOptions, dir: string): Promise<Record<string, unknown>> {
  const scenario = {
    name: `bench-open-${rate}`,
    target: url,
    connection: { reuse: false, close: 'server' },
    load: [{ model: 'arrival-rate', rate, duration: o.accuracyS }],
    workers: o.workers === 'auto' ? 'auto' : Number(o.workers),
    limits: { maxDuration: o.accuracyS + 10 },
  };
  const run = await runPortstorm(scenario, dir, ['--log-requests']);
  if (!run.record || !run.file) return { rate, error: run.error };
  const runDir = path.dirname(run.file);
  const lag = buildHistogram({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  let steadyStarts = 0;
  let logged = 0;
  for (const f of (await readdir(runDir)).filter((n) => n.startsWith('requests-') && n.endsWith('.ndjson'))) {
    for (const line of (await readFile(path.join(runDir, f), 'utf8')).split('\n')) {
      if (!line) continue;
      const e = JSON.parse(line) as { t: number; start: number };
      logged++;
      lag.recordValue(Math.max(1, Math.round((e.start - e.t) * 1e6))); // microseconds
      if (e.start >= 1 && e.start < o.accuracyS - 1) steadyStarts++;
    }
  }
  const achieved = steadyStarts / (o.accuracyS - 2);
  const result = {
    targetRate: rate,
    achievedRate: Math.round(achieved * 10) / 10,
    achievedOverTarget: Math.round((achieved / rate) * 10000) / 10000,
    lagMs: { p50: lag.getValueAtPercentile(50) / 1000, p99: lag.getValueAtPercentile(99) / 1000, max: lag.maxValue / 1000 },
    requests: logged,
    completed: run.record.totals.completed,
    failed: run.record.totals.failed,
    dropped: run.record.totals.dropped,
    runJsonBytes: statSync(run.file).size,
  };
  console.log(`  open model ${rate}/s for ${o.accuracyS} s: achieved ${result.achievedRate}/s (${(result.achievedOverTarget * 100).toFixed(2)} %), lag p50 ${result.lagMs.p50.toFixed(3)} ms p99 ${result.lagMs.p99.toFixed(3)} ms max ${result.lagMs.max.toFixed(1)} ms, run.json ${result.runJsonBytes} bytes`);
  return result;
}

/** The resident set size of a process in kB, from /proc/<pid>/status; null once it is gone. */
export function rssKb(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Least-squares slope of RSS samples ([seconds, kB]) over time, in MB per minute. */
export function slopeMbPerMin(points: Array<[number, number]>): number | null {
  if (points.length < 3) return null;
  const n = points.length;
  const mt = points.reduce((a, [t]) => a + t, 0) / n;
  const mk = points.reduce((a, [, kb]) => a + kb, 0) / n;
  const num = points.reduce((a, [t, kb]) => a + (t - mt) * (kb - mk), 0);
  const den = points.reduce((a, [t]) => a + (t - mt) ** 2, 0);
  return Math.round(((num / den) * 60) / 102.4) / 10;
}

/** RSS of a long open-model run, sampled every 5 s. */
async function memory(url: string, o: PeersOptions, dir: string): Promise<Record<string, unknown>> {
  const durationS = o.memoryMinutes * 60;
  const samples: Array<[number, number]> = [];
  let timer: NodeJS.Timeout | null = null;
  const started = Date.now();
  const scenario = {
    name: 'bench-memory',
    target: url,
    connection: { reuse: false, close: 'server' },
    load: [{ model: 'arrival-rate', rate: 2000, duration: durationS }],
    workers: o.workers === 'auto' ? 'auto' : Number(o.workers),
    limits: { maxDuration: durationS + 30 },
  };
  const run = await runPortstorm(scenario, dir, [], (pid) => {
    timer = setInterval(() => {
      const kb = rssKb(pid);
      if (kb !== null) samples.push([Math.round((Date.now() - started) / 1000), kb]);
      if (samples.length % 12 === 0 && kb !== null) console.log(`  memory: ${Math.round((Date.now() - started) / 1000)} s, RSS ${(kb / 1024).toFixed(1)} MB`);
    }, 5000);
  });
  if (timer) clearInterval(timer);
  const at = (s: number) => samples.find(([t]) => t >= s)?.[1] ?? null;
  const minute1 = at(60);
  const last = samples.at(-1)?.[1] ?? null;
  const result = {
    durationS,
    rate: 2000,
    completed: run.record?.totals.completed ?? null,
    rssMbAtMinute1: minute1 && Math.round(minute1 / 102.4) / 10,
    rssMbAtEnd: last && Math.round(last / 102.4) / 10,
    growthMb: minute1 && last ? Math.round((last - minute1) / 102.4) / 10 : null,
    peakMb: samples.length ? Math.round(Math.max(...samples.map(([, kb]) => kb)) / 102.4) / 10 : null,
    secondHalfSlopeMbPerMin: slopeMbPerMin(samples.filter(([t]) => t >= durationS / 2)),
    runJsonBytes: run.file ? statSync(run.file).size : null,
    samples,
    error: run.error,
  };
  console.log(`  memory at 2000/s for ${o.memoryMinutes} min: RSS ${result.rssMbAtMinute1} MB at 1 min → ${result.rssMbAtEnd} MB at the end (growth ${result.growthMb} MB, peak ${result.peakMb} MB; second half ${result.secondHalfSlopeMbPerMin} MB/min), run.json ${result.runJsonBytes} bytes`);
  return result;
}

async function startBuiltin(): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'serve', '--port', String(port), '--duration', '2h'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = spawnSync('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`], { stdio: 'ignore' }).status === 0;
    if (ok) break;
    await delay(100);
  }
  return {
    url: `http://127.0.0.1:${port}/`,
    stop: async () => {
      child.kill('SIGTERM');
      await Promise.race([new Promise((r) => child.once('exit', r)), delay(3000)]);
    },
  };
}

/** Runs the benchmark end to end. */
export async function main(argv: string[]): Promise<void> {
  const o = parseOptions(argv);
  for (const [cmd, args, pkg] of [['ab', ['-V'], 'apache2-utils'], ['wrk', ['-v'], 'wrk'], ['hey', ['-h'], 'hey']] as const) {
    if (o.sections.includes('close') || (cmd === 'wrk' && o.sections.includes('keepalive'))) ensureCommand(cmd, [...args], pkg);
  }
  const date = new Date().toISOString();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'portstorm-peers-'));
  console.log(`bench:peers ${date}: C=${o.concurrency} D=${o.durationS}s rounds=${o.rounds} workers=${o.workers}; node ${process.version}, ${os.availableParallelism()} cpus, ${os.release()}; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const nginx = await startNginx();
  console.log(`bench:peers: nginx ${nginx.version} at ${nginx.url}`);
  const results: Record<string, unknown> = { date, options: o, node: process.version, cpus: os.availableParallelism(), kernel: os.release(), nginx: nginx.version };
  const measurements: Measurement[] = [];
  try {
    for (const target of o.targets) {
      const builtin = target === 'builtin' ? await startBuiltin() : null;
      const url = builtin?.url ?? nginx.url;
      try {
        for (const section of ['close', 'keepalive'] as const) {
          if (!o.sections.includes(section)) continue;
          console.log(`\n${section} against ${target} (${url})`);
          measurements.push(...(await throughputSections(o, target, url, dir, section === 'keepalive')));
        }
        if (measurements.some((m) => m.target === target)) results[`throughput ${target}`] = summarizeThroughput(measurements, target);
      } finally {
        await builtin?.stop();
      }
    }
    if (o.sections.includes('accuracy')) {
      console.log('\naccuracy (open model, against nginx)');
      results.accuracy = [await accuracy(nginx.url, 1000, o, dir), await accuracy(nginx.url, 5000, o, dir)];
    }
    if (o.sections.includes('memory') && o.memoryMinutes > 0) {
      console.log(`\nmemory (${o.memoryMinutes} min at 2000/s, against nginx)`);
      results.memory = await memory(nginx.url, o, dir);
    }
  } finally {
    await nginx.stop();
    await rm(dir, { recursive: true, force: true });
  }
  if (o.sections.includes('scan')) {
    console.log('\nscan cost (bench/scan-cost.js)');
    const r = spawnSync(process.execPath, [SCAN_COST], { encoding: 'utf8', timeout: 200_000 });
    process.stdout.write(r.stdout ?? '');
    results.scanCost = { table: r.stdout, exit: r.status };
  }
  results.measurements = measurements;
  const outDir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  await mkdir(outDir, { recursive: true });
  const file = path.join(outDir, `peers-${date.replace(/:/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nbench:peers: raw figures in ${path.relative(process.cwd(), file)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`bench:peers: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
