/**
 * The peer load testers the benchmark runs beside portstorm, each as a child process bounded by its
 * own duration flag and a kill timer, with the parser of its report. All point at 127.0.0.1.
 */
import { spawn } from 'node:child_process';
import { parseAbOutput } from './throughput.js';

/** What one run of a tool achieved. `rate` is completed requests per second. */
export interface PeerResult {
  rate: number;
  completed: number;
  failed: number;
  elapsedS: number;
  /** Failure counts by kind, or `exit` with the reason a tool failed. */
  errors: Record<string, number | string>;
}

/** A peer tool: its name, whether it reuses connections, and how to run it. */
export interface PeerTool {
  name: string;
  keepAlive: boolean;
  /** The command line for `concurrency` connections for `durationS` seconds against `url`. */
  command(url: string, concurrency: number, durationS: number): [string, ...string[]];
  parse(stdout: string): PeerResult | null;
}

const AUTOCANNON = 'autocannon@9.0.0';

/** Parses ApacheBench's report (counting failed requests apart); null when ab printed no counts. */
export function parseAb(text: string): PeerResult | null {
  const ab = parseAbOutput(text);
  if (!ab) return null;
  const errors: Record<string, number> = {};
  for (const m of text.matchAll(/\((Connect|Receive|Length|Exceptions): (\d+)/g)) if (Number(m[2]) > 0) errors[m[1]!] = Number(m[2]);
  const non2xx = /^Non-2xx responses:\s+(\d+)/m.exec(text);
  if (non2xx) errors.non2xx = Number(non2xx[1]);
  const completed = ab.completed - ab.failed;
  return { completed, failed: ab.failed, elapsedS: ab.elapsedS, rate: completed / ab.elapsedS, errors };
}

/** Parses wrk's report ("N requests in Xs", socket errors, non-2xx); null without the requests line. */
export function parseWrk(text: string): PeerResult | null {
  const m = /^\s*(\d+) requests in ([\d.]+)(us|ms|s|m),/m.exec(text);
  if (!m) return null;
  const unit: Record<string, number> = { us: 1e-6, ms: 1e-3, s: 1, m: 60 };
  const elapsedS = Number(m[2]) * unit[m[3]!]!;
  const errors: Record<string, number> = {};
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  if (sock) ['connect', 'read', 'write', 'timeout'].forEach((k, i) => Number(sock[i + 1]) > 0 && (errors[k] = Number(sock[i + 1])));
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  if (non2xx) errors.non2xx = Number(non2xx[1]);
  const failed = (errors.non2xx ?? 0) + (errors.connect ?? 0) + (errors.timeout ?? 0);
  const completed = Number(m[1]) - (errors.non2xx ?? 0);
  return { completed, failed, elapsedS, rate: completed / elapsedS, errors };
}

/** Parses hey's summary: total time, status code distribution and error distribution. */
export function parseHey(text: string): PeerResult | null {
  const total = /^\s*Total:\s+([\d.]+) secs/m.exec(text);
  if (!total) return null;
  const elapsedS = Number(total[1]);
  let completed = 0;
  let failed = 0;
  const errors: Record<string, number> = {};
  for (const m of text.matchAll(/^\s*\[(\d{3})\]\s+(\d+) responses/gm)) {
    const n = Number(m[2]);
    if (m[1]!.startsWith('2')) completed += n;
    else {
      failed += n;
      errors[`http${m[1]}`] = n;
    }
  }
  const errorBlock = text.split('Error distribution:')[1] ?? '';
  for (const m of errorBlock.matchAll(/^\s*\[(\d+)\]\s+(.+)$/gm)) {
    const n = Number(m[1]);
    failed += n;
    const kind = /connect: ([a-z ]+)|(timeout|reset by peer|EOF)/i.exec(m[2]!)?.slice(1).find(Boolean) ?? 'other';
    errors[kind] = (errors[kind] ?? 0) + n;
  }
  return { completed, failed, elapsedS, rate: completed / elapsedS, errors };
}

/** Parses `autocannon -j` output. */
export function parseAutocannon(text: string): PeerResult | null {
  let j: { requests?: { total?: number }; duration?: number; errors?: number; timeouts?: number; non2xx?: number };
  try {
    j = JSON.parse(text.slice(text.indexOf('{')));
  } catch {
    return null;
  }
  if (typeof j.requests?.total !== 'number' || typeof j.duration !== 'number') return null;
  const errors: Record<string, number> = {};
  for (const k of ['errors', 'timeouts', 'non2xx'] as const) if ((j[k] ?? 0) > 0) errors[k] = j[k]!;
  const completed = j.requests.total - (j.non2xx ?? 0);
  return { completed, failed: (j.errors ?? 0) + (j.non2xx ?? 0), elapsedS: j.duration, rate: completed / j.duration, errors };
}

/** The peers: the connection-per-request ones, then the keep-alive ones. */
export const PEERS: PeerTool[] = [
  { name: 'ab', keepAlive: false, command: (u, c, d) => ['ab', '-q', '-r', '-s', '10', '-c', String(c), '-t', String(d), '-n', '100000000', u], parse: parseAb },
  { name: 'wrk close', keepAlive: false, command: (u, c, d) => ['wrk', '-t', '1', '-c', String(c), '-d', `${d}s`, '-H', 'Connection: close', u], parse: parseWrk },
  { name: 'hey close', keepAlive: false, command: (u, c, d) => ['hey', '-z', `${d}s`, '-c', String(c), '-disable-keepalive', u], parse: parseHey },
  { name: 'autocannon close', keepAlive: false, command: (u, c, d) => ['npx', '--yes', AUTOCANNON, '-j', '-c', String(c), '-d', String(d), '-H', 'Connection: close', u], parse: parseAutocannon },
  { name: 'wrk', keepAlive: true, command: (u, c, d) => ['wrk', '-t', '1', '-c', String(c), '-d', `${d}s`, u], parse: parseWrk },
  { name: 'autocannon', keepAlive: true, command: (u, c, d) => ['npx', '--yes', AUTOCANNON, '-j', '-c', String(c), '-d', String(d), u], parse: parseAutocannon },
];

/** Runs a bounded tool for about `durationS` seconds (killed at durationS + 30 s); never rejects. */
export async function runCommand(cmd: string, args: string[], durationS: number): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), (durationS + 30) * 1000);
  const code = await new Promise<number | null>((resolve) => {
    child.once('error', () => resolve(-1));
    child.once('close', resolve);
  });
  clearTimeout(killer);
  return { code, out, err };
}

/** Runs a peer for `durationS` seconds; never rejects. */
export async function runPeer(tool: PeerTool, url: string, concurrency: number, durationS: number): Promise<PeerResult> {
  const [cmd, ...args] = tool.command(url, concurrency, durationS);
  const { code, out, err } = await runCommand(cmd, args, durationS);
  const parsed = tool.parse(out);
  if (parsed && code === 0) return parsed;
  const why = `${tool.name} exited ${code}: ${(err.trim() || out.trim()).split('\n').pop() ?? ''}`;
  return { rate: parsed?.rate ?? NaN, completed: parsed?.completed ?? 0, failed: parsed?.failed ?? 0, elapsedS: parsed?.elapsedS ?? NaN, errors: { ...parsed?.errors, exit: why } };
}
