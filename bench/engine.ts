/**
 * The connection engine benchmark: new connections per second with `reuse: false` (one TCP
 * connection per request), or with `--keepalive` requests per second over C kept-alive
 * connections, portstorm against the fastest C load testers on the same target.
 *
 *   node build/bench/engine.js [--duration 3] [--rounds 3] [--concurrency 50] [--close server|client] [--monitor on|off] [--keepalive]
 *
 * The target is nginx (one worker, access_log off, `return 200 "ok"`) started on a free 127.0.0.1
 * port from a temporary prefix, or the built-in target when nginx is not installed. Each round runs,
 * in turn, for D seconds with C concurrent closed-loop users:
 *   - wrk -t1 -cC -dD -H 'Connection: close'  (its "Requests/sec")
 *   - ab -q -r -cC -s 10 -tD -n 10000000      (HTTP/1.0 without keep-alive; its "Requests per second")
 *   - portstorm js / native: runScenario() with `{target, connection: {reuse: false, close},
 *     load: [{model: users, users: C, duration: D}], workers: 1}`, PORTSTORM_ENGINE=js / native
 *     (native is strict: the run fails when the engine is unavailable); rate = completed / durationS,
 *     plus the rate over its whole seconds after the first ("steady").
 * With --keepalive: wrk without the header, `ab -k`, and portstorm `{reuse: true, poolSize: C}`
 * (js: undici).
 * It prints the median rate per tool and portstorm's ratios to the faster of ab and wrk (ratio of
 * medians, and the median of the per-round ratios). Raw figures go to bench/results/engine-<date>.json.
 * Every load is bounded (D seconds; wrk and ab also by a kill timer) and goes to 127.0.0.1 only.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { hostInfo } from '../src/monitor/host.js';
import { runScenario } from '../src/run.js';
import { parseScenario } from '../src/scenario/load.js';
import { startTargetThread } from '../src/target/thread.js';
import { ENGINE_ENV } from '../src/load/transport/index.js';
import { loadNativeEngine } from '../src/load/transport/native-engine.js';
import { median, parseAbOutput, timeWaitCount, type Measurement } from './throughput.js';
import { runCommand } from './peer-tools.js';

/** The measured tools, in the order a round runs them. */
export const ENGINE_TOOLS = ['wrk', 'ab', 'portstorm js', 'portstorm native'] as const;
/** One of the measured tools. */
export type EngineTool = (typeof ENGINE_TOOLS)[number];

/** Benchmark settings. */
export interface EngineBenchOptions {
  durationS: number;
  rounds: number;
  concurrency: number;
  close: 'server' | 'client';
  monitor: boolean;
  /** Kept-alive connections instead of one per request. */
  keepalive: boolean;
}

/** One measurement; `rate` is completed requests per second. */
export interface EngineMeasurement extends Omit<Measurement, 'tool' | 'timeWaitBefore'> {
  tool: EngineTool;
  loadAvg1: number;
}

const MAX_DURATION_S = 30;
const AB_MAX_REQUESTS = 10_000_000;

/** Parses the command line; throws an Error with a one-line message on bad input. */
export function parseEngineOptions(argv: string[]): EngineBenchOptions {
  const opt = (def: string) => ({ type: 'string', default: def }) as const;
  const { values: v } = parseArgs({
    args: argv,
    options: { duration: opt('3'), rounds: opt('3'), concurrency: opt('50'), close: opt('server'), monitor: opt('on'), keepalive: { type: 'boolean', default: false } },
  });
  const int = (name: string, raw: string, lo: number, hi: number): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < lo || n > hi) throw new Error(`--${name}: expected a whole number from ${lo} to ${hi}, got ${raw}`);
    return n;
  };
  if (v.close !== 'server' && v.close !== 'client') throw new Error(`--close: expected server or client, got ${v.close}`);
  if (v.monitor !== 'on' && v.monitor !== 'off') throw new Error(`--monitor: expected on or off, got ${v.monitor}`);
  return {
    durationS: int('duration', v.duration.replace(/s$/, ''), 1, MAX_DURATION_S),
    rounds: int('rounds', v.rounds, 1, 20),
    concurrency: int('concurrency', v.concurrency, 1, 1000),
    close: v.close,
    monitor: v.monitor === 'on',
    keepalive: v.keepalive,
  };
}

/** wrk's "Requests/sec" and its error lines; null when it printed no rate. */
export function parseWrkOutput(text: string): { rate: number; completed: number; elapsedS: number; errors: Record<string, number> } | null {
  const rate = /^Requests\/sec:\s+([\d.]+)/m.exec(text);
  if (!rate) return null;
  const done = /^\s*(\d+) requests in ([\d.]+)(m?s)/m.exec(text);
  const errors: Record<string, number> = {};
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  if (sock) ['connect', 'read', 'write', 'timeout'].forEach((k, i) => Number(sock[i + 1]) > 0 && (errors[k] = Number(sock[i + 1])));
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  if (non2xx) errors.non2xx = Number(non2xx[1]);
  const elapsedS = done ? Number(done[2]) / (done[3] === 'ms' ? 1000 : 1) : NaN;
  return { rate: Number(rate[1]), completed: done ? Number(done[1]) : NaN, elapsedS, errors };
}

function present(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.error === undefined;
}


type Taken = Omit<EngineMeasurement, 'loadAvg1'>;

async function measureWrk(round: number, url: string, o: EngineBenchOptions): Promise<Taken> {
  const close = o.keepalive ? [] : ['-H', 'Connection: close'];
  const { code, out, err } = await runCommand('wrk', ['-t1', `-c${o.concurrency}`, `-d${o.durationS}s`, ...close, url], o.durationS);
  const w = parseWrkOutput(out);
  const errors: Record<string, number | string> = { ...(w?.errors ?? {}) };
  if (code !== 0) errors.exit = `wrk exited ${code}: ${err.trim().split('\n').pop() ?? ''}`;
  const failed = Object.values(w?.errors ?? {}).reduce((a, b) => a + b, 0);
  return { tool: 'wrk', round, rate: w?.rate ?? NaN, completed: w?.completed ?? 0, failed, elapsedS: w?.elapsedS ?? NaN, errors };
}

async function measureAb(round: number, url: string, o: EngineBenchOptions): Promise<Taken> {
  const args = [...(o.keepalive ? ['-k'] : []), '-q', '-r', '-c', String(o.concurrency), '-s', '10', '-t', String(o.durationS), '-n', String(AB_MAX_REQUESTS), url];
  const { code, out, err } = await runCommand('ab', args, o.durationS);
  const ab = parseAbOutput(out);
  const errors: Record<string, number | string> = {};
  if (code !== 0) errors.exit = `ab exited ${code}: ${err.trim().split('\n').pop() ?? ''}`;
  for (const m of out.matchAll(/\((Connect|Receive|Length|Exceptions): (\d+)/g)) if (Number(m[2]) > 0) errors[m[1]!] = Number(m[2]);
  return { tool: 'ab', round, rate: ab?.rate ?? NaN, completed: ab?.completed ?? 0, failed: ab?.failed ?? 0, elapsedS: ab?.elapsedS ?? NaN, errors };
}

async function measurePortstorm(tool: 'portstorm js' | 'portstorm native', round: number, url: string, o: EngineBenchOptions, resultsDir: string): Promise<Taken> {
  const engine = tool === 'portstorm js' ? 'js' : 'native';
  const doc = {
    name: `bench-engine-${engine}`,
    target: url,
    connection: o.keepalive ? { reuse: true, poolSize: o.concurrency } : { reuse: false, close: o.close },
    load: [{ model: 'users', users: o.concurrency, duration: o.durationS }],
    workers: 1,
    timeouts: { connect: 2, request: 10 },
    limits: { maxDuration: o.durationS + 5 },
    monitor: { enabled: o.monitor },
  };
  const before = process.env[ENGINE_ENV];
  // Load workers copy the environment when they start, inside runScenario().
  process.env[ENGINE_ENV] = engine;
  try {
    const { record } = await runScenario({ scenario: parseScenario(doc, 'bench'), resultsDir, label: `engine bench round ${round}` });
    const { completed, failed } = record.totals;
    const steady = record.timeline.filter((e) => e.t >= 1 && e.t < Math.floor(o.durationS));
    const steadyRate = steady.length > 0 ? steady.reduce((n, e) => n + e.completed, 0) / steady.length : undefined;
    return { tool, round, rate: completed / record.durationS, steadyRate, completed, failed, elapsedS: record.durationS, errors: record.errors };
  } finally {
    if (before === undefined) delete process.env[ENGINE_ENV];
    else process.env[ENGINE_ENV] = before;
  }
}

/** A free TCP port on 127.0.0.1 (bound then released). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** The target: nginx when installed, else the built-in target. */
async function startTarget(tmp: string): Promise<{ url: string; name: string; stop: () => Promise<void> }> {
  if (present('nginx', ['-v'])) {
    const port = await freePort();
    await mkdir(path.join(tmp, 'logs'), { recursive: true });
    const conf = [
      'worker_processes 1;',
      'daemon off;',
      `error_log ${path.join(tmp, 'logs', 'error.log')} crit;`,
      `pid ${path.join(tmp, 'logs', 'nginx.pid')};`,
      'events { worker_connections 8192; }',
      'http {',
      '  access_log off;',
      `  client_body_temp_path ${tmp};`,
      `  server { listen 127.0.0.1:${port} backlog=4096; location / { return 200 "ok"; } }`,
      '}',
      '',
    ].join('\n');
    await writeFile(path.join(tmp, 'nginx.conf'), conf);
    const child = spawn('nginx', ['-p', tmp, '-c', path.join(tmp, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    for (let i = 0; ; i++) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
        s.on('error', () => resolve(false));
      });
      if (ok) break;
      if (i > 100 || child.exitCode !== null) {
        child.kill('SIGKILL');
        throw new Error(`nginx did not start on 127.0.0.1:${port}: ${stderr.trim()}`);
      }
      await delay(50);
    }
    const version = spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.trim();
    return {
      url: `http://127.0.0.1:${port}/`,
      name: `${version} (1 worker) on 127.0.0.1:${port}`,
      stop: async () => {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      },
    };
  }
  const target = await startTargetThread({ protocol: 'http', host: '127.0.0.1', port: 0, delayMs: 0, bodyBytes: 2, close: 'never' });
  return { url: `http://127.0.0.1:${target.port}/`, name: `built-in target (nginx not installed) on 127.0.0.1:${target.port}`, stop: () => target.close() };
}

/** Per tool: the median rate; for portstorm also the ratios to the faster of ab and wrk. */
export interface EngineToolSummary {
  medianRate: number;
  medianSteadyRate?: number;
  failed: number;
  /** median(tool) / max(median(ab), median(wrk)). */
  ratioOfMedians?: number;
  /** Median over rounds of rate / max(ab, wrk) in that round. */
  medianRoundRatio?: number;
}

/** Summarizes and prints the table. */
export function summarizeEngine(ms: EngineMeasurement[]): Record<string, EngineToolSummary> {
  const rates = (t: EngineTool): number[] => ms.filter((m) => m.tool === t).map((m) => m.rate);
  const byRound = (t: EngineTool, round: number): number => ms.find((m) => m.tool === t && m.round === round)?.rate ?? NaN;
  const best = Math.max(median(rates('ab')), median(rates('wrk')));
  const r3 = (x: number): number => Math.round(x * 1000) / 1000;
  const show = (x: number | undefined): string => (x !== undefined && Number.isFinite(x) ? String(Math.round(x)) : '');
  const out: Record<string, EngineToolSummary> = {};
  const line = (c: string[]): void => console.log(`${c[0]!.padEnd(18)}${c[1]!.padStart(13)}${c[2]!.padStart(8)}${c[3]!.padStart(7)}  ${c[4]!.padEnd(30)}${c[5]}`);
  console.log('');
  line(['tool', 'median req/s', 'steady', 'failed', 'vs faster of ab/wrk', 'per round req/s']);
  for (const tool of ENGINE_TOOLS) {
    const mine = ms.filter((m) => m.tool === tool);
    const s: EngineToolSummary = { medianRate: Math.round(median(rates(tool))), failed: mine.reduce((n, m) => n + m.failed, 0) };
    const steady = median(mine.filter((m) => m.steadyRate !== undefined).map((m) => m.steadyRate!));
    if (Number.isFinite(steady)) s.medianSteadyRate = Math.round(steady);
    let ratioText = '';
    if (tool.startsWith('portstorm')) {
      s.ratioOfMedians = r3(median(rates(tool)) / best);
      s.medianRoundRatio = r3(median(mine.map((m) => m.rate / Math.max(byRound('ab', m.round), byRound('wrk', m.round)))));
      ratioText = `${s.ratioOfMedians.toFixed(2)}x (per round ${s.medianRoundRatio.toFixed(2)}x)`;
    }
    out[tool] = s;
    line([tool, show(s.medianRate), show(s.medianSteadyRate), String(s.failed), ratioText, mine.map((m) => show(m.rate) || 'n/a').join(' ')]);
  }
  return out;
}

/** Runs the benchmark end to end. */
export async function main(argv: string[]): Promise<void> {
  const o = parseEngineOptions(argv);
  for (const [cmd, args] of [['wrk', ['--version']], ['ab', ['-V']]] as const) {
    if (!present(cmd, [...args])) throw new Error(`${cmd} is not installed (apt-get install -y ${cmd === 'ab' ? 'apache2-utils' : 'wrk'})`);
  }
  const native = loadNativeEngine();
  if (!native.available) throw new Error(`the native connection engine is not available: ${native.reason}`);
  const host = hostInfo();
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'portstorm-engine-bench-'));
  const target = await startTarget(tmp);
  console.log(`bench: C=${o.concurrency} D=${o.durationS}s rounds=${o.rounds} ${o.keepalive ? 'keep-alive' : `close=${o.close}`} monitor=${o.monitor ? 'on' : 'off'}; node ${host.node}, ${host.cpus} cpus, kernel ${host.kernel}`);
  console.log(`bench: target ${target.name}; TIME_WAIT ${timeWaitCount() ?? '?'}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const measurements: EngineMeasurement[] = [];
  const loadStart = os.loadavg();
  try {
    // Warm-up (not measured).
    await measureAb(0, target.url, { ...o, durationS: 1 });
    for (let round = 1; round <= o.rounds; round++) {
      for (const tool of ENGINE_TOOLS) {
        const m =
          tool === 'wrk' ? await measureWrk(round, target.url, o) : tool === 'ab' ? await measureAb(round, target.url, o) : await measurePortstorm(tool, round, target.url, o, tmp);
        const loadAvg1 = os.loadavg()[0]!;
        measurements.push({ ...m, loadAvg1 });
        const steady = m.steadyRate ? ` (steady ${Math.round(m.steadyRate)}/s)` : '';
        const errs = Object.keys(m.errors).length > 0 ? `  errors ${JSON.stringify(m.errors)}` : '';
        console.log(`round ${round}  ${tool.padEnd(17)} ${Math.round(m.rate).toString().padStart(7)} req/s  ${m.completed} completed, ${m.failed} failed${steady}; load ${loadAvg1.toFixed(2)}${errs}`);
        await delay(500);
      }
    }
  } finally {
    await target.stop();
    await rm(tmp, { recursive: true, force: true });
  }
  const summary = summarizeEngine(measurements);
  const date = new Date().toISOString();
  const dir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `engine-${date.replace(/:/g, '-')}.json`);
  const raw = { date, node: host.node, cpus: host.cpus, kernel: host.kernel, target: target.name, options: o, loadAvg: { start: loadStart, end: os.loadavg() }, summary, measurements };
  await writeFile(file, `${JSON.stringify(raw, null, 2)}\n`);
  console.log(`\nbench: load average at end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; raw figures in ${path.relative(process.cwd(), file)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
