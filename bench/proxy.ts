/**
 * `node build/bench/proxy.js [--duration S] [--concurrency C]`: the built-in proxy's throughput on
 * 127.0.0.1. The built-in target runs in a worker thread, the proxy in its own process
 * (`portstorm serve --proxy-to`), and this process sends keep-alive requests through it with C in
 * flight for S seconds (default 5, at most 30), once per upstream mode: a new connection per request
 * closed by the proxy, by the backend, by RST, and the keep-alive pool. Bounded in time; loopback only,
 * inside a private network namespace (`unshare -rn`) so that the tens of thousands of TIME_WAIT it
 * leaves never take the host's own ports.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { startTargetThread } from '../src/target/thread.js';

if (process.env.PORTSTORM_BENCH_NETNS !== '1') {
  const r = spawnSync('unshare', ['-rn', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, PORTSTORM_BENCH_NETNS: '1' },
  });
  if (r.error || r.status === null) throw new Error(`cannot run in a network namespace (unshare -rn): ${r.error?.message ?? r.signal}`);
  process.exit(r.status);
}

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const { values } = parseArgs({ options: { duration: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '32' } } });
const durationS = Math.min(30, Math.max(1, Number(values.duration)));
const concurrency = Math.min(256, Math.max(1, Number(values.concurrency)));

const MODES: [string, string[]][] = [
  ['no reuse, close client', ['--upstream-close', 'client']],
  ['no reuse, close server', ['--upstream-close', 'server']],
  ['no reuse, close reset', ['--upstream-close', 'reset']],
  ['reuse, pool 32', ['--upstream-reuse', '--upstream-pool-size', '32']],
];

/** Starts `serve --proxy-to` and resolves with its port once it says where it listens. */
function proxyProcess(upstream: string, flags: string[]): Promise<{ port: number; stop: () => Promise<string> }> {
  const child = spawn(process.execPath, [MAIN, 'serve', '--port', '0', '--duration', `${durationS + 20}s`, '--proxy-to', upstream, ...flags]);
  let err = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy did not start: ${err}`)), 10_000);
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on [^ ]+:(\d+) /.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({
          port: Number(m[1]),
          stop: async () => {
            child.kill('SIGTERM');
            await exited;
            return err.trim().split('\n').pop() ?? '';
          },
        });
      }
    });
  });
}

const target = await startTargetThread({ protocol: 'http', host: '127.0.0.1', port: 0, delayMs: 0, bodyBytes: 2, close: 'never' });
const results: Record<string, { rate: number; statuses: Record<string, number>; proxy: string }> = {};
for (const [name, flags] of MODES) {
  const proxy = await proxyProcess(`http://127.0.0.1:${target.port}`, flags);
  const pool = new Pool(`http://127.0.0.1:${proxy.port}`, { connections: concurrency, pipelining: 1 });
  const statuses: Record<string, number> = {};
  const end = performance.now() + durationS * 1000;
  let done = 0;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      try {
        const r = await pool.request({ path: '/', method: 'GET' });
        await r.body.dump();
        statuses[r.statusCode] = (statuses[r.statusCode] ?? 0) + 1;
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'error';
        statuses[code] = (statuses[code] ?? 0) + 1;
      }
      done++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, loop));
  const rate = done / ((performance.now() - started) / 1000);
  await pool.close();
  results[name] = { rate: Math.round(rate), statuses, proxy: await proxy.stop() };
  process.stderr.write(`${name}: ${Math.round(rate)} req/s ${JSON.stringify(statuses)}\n`);
}
await target.close();
process.stdout.write(JSON.stringify({ durationS, concurrency, results }, null, 2) + '\n');
