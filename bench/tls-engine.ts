/**
 * HTTPS on the native connection engine against the C and Go load testers, same target, same
 * invocation: new TLS connections per second (one handshake per request), or with --keepalive
 * requests per second over kept-alive HTTPS connections.
 *
 *   node build/bench/tls-engine.js [--duration 3] [--rounds 3] [--concurrency 50] [--close server|client|reset] [--verify] [--keepalive] [--workers auto|N]
 *
 * The target is nginx (one worker, access_log off, `return 200 "ok"`, `ssl_protocols TLSv1.2 TLSv1.3`,
 * no session cache, tickets on as by default) with an ECDSA P-256 certificate made by makeCertificate,
 * on a free 127.0.0.1 port from a temporary prefix; it is stopped at the end. Each round runs, in
 * turn, for D seconds with C concurrent closed-loop users:
 *   - wrk -t1 -cC -dD -H 'Connection: close'   (keep-alive: without the header)
 *   - hey -z D -c C -disable-keepalive          (keep-alive: without the flag)
 *   - ab -f TLS1.2 -cC -tD                      (keep-alive: with -k)
 *   - portstorm native: the engine's transport driven directly (C lanes, each awaiting its exchange),
 *     `close` as given (server: `Connection: close`, as the peers), session resumption off and on;
 *     keep-alive: poolSize C. Certificate verification as the peers (none) unless --verify.
 *   - portstorm run: the whole CLI as a user runs it (a `users` scenario of C users for D seconds,
 *     workers auto, the monitor on), resumption off and on (keep-alive: poolSize C); its CPU is the
 *     record's per-second process CPU (every thread: workers, engine threads, monitor) over the load.
 * Per tool: the rate, the client's CPU per connection (getrusage of the tool, or this process for
 * portstorm: its JS and engine threads), nginx's worker CPU per connection, and for portstorm the ratio
 * to the fastest peer. Every load is bounded (D seconds; peers also by a kill timer), to 127.0.0.1 only.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { httpRequestBytes } from '../src/load/transport/http-request.js';
import { loadNativeEngine } from '../src/load/transport/native-engine.js';
import { nativeKeepAliveTransport } from '../src/load/transport/native-keepalive.js';
import { nativeOneShotTransport } from '../src/load/transport/native-oneshot.js';
import type { TransportOptions } from '../src/load/transport/types.js';
import { makeCertificate } from '../src/target/certificate.js';
import { ensureCommand, startNginx, type Nginx } from './nginx.js';
import { runPortstorm } from './peers.js';
import { parseAb, parseHey, parseWrk, runCommand, type PeerResult } from './peer-tools.js';
import { median } from './throughput.js';

interface Options {
  durationS: number;
  rounds: number;
  concurrency: number;
  close: 'server' | 'client' | 'reset';
  verify: boolean;
  keepalive: boolean;
  /** `workers` of the `portstorm run` lanes: auto or a number. */
  workers: 'auto' | number;
}

/** One run of one tool. */
interface Measurement {
  tool: string;
  round: number;
  rate: number;
  completed: number;
  failed: number;
  /** Client CPU (user + system) per completed request, µs. */
  clientUs: number;
  /** nginx worker CPU per completed request, µs. */
  serverUs: number;
  /** portstorm: handshakes and resumed ones. */
  handshakes?: number;
  resumed?: number;
  errors: Record<string, number | string>;
}

function parseOptions(argv: string[]): Options {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '3' },
      rounds: { type: 'string', default: '3' },
      concurrency: { type: 'string', default: '50' },
      close: { type: 'string', default: 'server' },
      verify: { type: 'boolean', default: false },
      keepalive: { type: 'boolean', default: false },
      workers: { type: 'string', default: 'auto' },
    },
  });
  const int = (name: string, raw: string, lo: number, hi: number): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < lo || n > hi) throw new Error(`--${name}: expected a whole number from ${lo} to ${hi}, got ${raw}`);
    return n;
  };
  if (v.close !== 'server' && v.close !== 'client' && v.close !== 'reset') throw new Error(`--close: expected server, client or reset, got ${v.close}`);
  const workers = v.workers === 'auto' ? 'auto' : int('workers', v.workers, 1, 64);
  return { durationS: int('duration', v.duration, 1, 30), rounds: int('rounds', v.rounds, 1, 20), concurrency: int('concurrency', v.concurrency, 1, 1000), close: v.close, verify: v.verify, keepalive: v.keepalive, workers };
}

/** nginx over HTTPS with a P-256 certificate made here, and that certificate (for --verify). */
interface TlsNginx extends Nginx {
  cert: string;
}

async function startTlsNginx(): Promise<TlsNginx> {
  const pair = await makeCertificate({ names: ['localhost', '127.0.0.1'] });
  return { ...(await startNginx(pair)), cert: pair.cert };
}

/** A peer's command line: [name, argv, parser]. */
type Peer = [string, string[], (out: string) => PeerResult | null];

function peers(url: string, o: Options): Peer[] {
  const c = String(o.concurrency);
  const d = o.durationS;
  if (o.keepalive) {
    return [
      ['wrk', ['wrk', '-t1', `-c${c}`, `-d${d}s`, url], parseWrk],
      ['hey', ['hey', '-z', `${d}s`, '-c', c, url], parseHey],
      ['ab -k', ['ab', '-k', '-f', 'TLS1.2', '-q', '-r', '-s', '10', '-c', c, '-t', String(d), '-n', '100000000', url], parseAb],
    ];
  }
  return [
    ['wrk close', ['wrk', '-t1', `-c${c}`, `-d${d}s`, '-H', 'Connection: close', url], parseWrk],
    ['hey close', ['hey', '-z', `${d}s`, '-c', c, '-disable-keepalive', url], parseHey],
    ['ab TLS1.2', ['ab', '-f', 'TLS1.2', '-q', '-r', '-s', '10', '-c', c, '-t', String(d), '-n', '100000000', url], parseAb],
  ];
}

/** Runs a peer under bash, whose `times` reports the CPU its children used. */
async function measurePeer(round: number, [name, argv, parse]: Peer, o: Options, nginx: TlsNginx): Promise<Measurement> {
  const server0 = nginx.workerCpuS();
  const { code, out, err } = await runCommand('bash', ['-c', '"$@"; rc=$?; times; exit $rc', 'peer', ...argv], o.durationS);
  const serverS = nginx.workerCpuS() - server0;
  const times = [...out.matchAll(/^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/gm)].pop();
  const clientS = times ? Number(times[1]) * 60 + Number(times[2]) + Number(times[3]) * 60 + Number(times[4]) : NaN;
  const r = parse(out);
  const errors: Record<string, number | string> = { ...(r?.errors ?? {}) };
  if (code !== 0 || r === null) errors.exit = `${name} exited ${code}: ${(err.trim() || out.trim()).split('\n').pop() ?? ''}`;
  const completed = r?.completed ?? 0;
  return { tool: name, round, rate: r?.rate ?? NaN, completed, failed: r?.failed ?? 0, clientUs: (clientS / completed) * 1e6, serverUs: (serverS / completed) * 1e6, errors };
}

/** The native engine's transport driven by C closed-loop lanes for D seconds. */
async function measureNative(round: number, name: string, resumption: boolean, o: Options, nginx: TlsNginx): Promise<Measurement> {
  const n = loadNativeEngine();
  if (!n.available || !n.addon.tls.available) throw new Error(`the native engine with TLS is required: ${n.available ? n.addon.tls.reason : n.reason}`);
  let handshakes = 0;
  let resumed = 0;
  const opts: TransportOptions = {
    host: '127.0.0.1',
    port: nginx.port,
    localAddresses: [],
    close: o.close,
    poolSize: o.concurrency,
    connectTimeoutMs: 2000,
    requestTimeoutMs: 10_000,
    http: { method: 'GET', path: '/', headers: {}, body: '', authority: `127.0.0.1:${nginx.port}` },
    tcp: { payload: '', expectBytes: 0 },
    onConnect: () => undefined,
    onHandshake: (_ms, r) => {
      handshakes++;
      if (r) resumed++;
    },
    tls: { servername: null, insecure: !o.verify, ca: o.verify ? nginx.cert : null, cert: null, key: null, sessionResumption: resumption, alpn: ['http/1.1'], handshakeTimeoutMs: 10_000 },
  };
  const t = o.keepalive ? nativeKeepAliveTransport(n.addon, opts) : nativeOneShotTransport(n.addon, opts, httpRequestBytes(opts), { kind: 'http', isHead: false });
  let completed = 0;
  let failed = 0;
  const errors: Record<string, number> = {};
  const server0 = nginx.workerCpuS();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + o.durationS * 1000;
  let last = t0;
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (performance.now() < end) {
        const r = await t.exchange();
        last = performance.now();
        if (r.failure) {
          failed++;
          errors[r.failure.code] = (errors[r.failure.code] ?? 0) + 1;
        } else completed++;
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  const serverS = nginx.workerCpuS() - server0;
  await t.close(false);
  const clientS = (cpu.user + cpu.system) / 1e6;
  return { tool: name, round, rate: completed / ((last - t0) / 1000), completed, failed, clientUs: (clientS / completed) * 1e6, serverUs: (serverS / completed) * 1e6, handshakes, resumed, errors };
}

/** The whole CLI (`portstorm run`) against the same nginx: rate and CPU from its record. */
async function measureCli(round: number, name: string, resumption: boolean, o: Options, nginx: TlsNginx, dir: string): Promise<Measurement> {
  const scenario = {
    name: 'tls-bench',
    target: `https://127.0.0.1:${nginx.port}/`,
    tls: o.verify ? { ca: path.join(dir, 'ca.pem'), sessionResumption: resumption } : { insecure: true, sessionResumption: resumption },
    connection: { reuse: o.keepalive, close: o.close, poolSize: o.concurrency },
    load: [{ model: 'users', users: o.concurrency, duration: o.durationS }],
    workers: o.workers,
    limits: { maxDuration: o.durationS + 30 },
  };
  const server0 = nginx.workerCpuS();
  const { record, error } = await runPortstorm(scenario, dir, []);
  const serverS = nginx.workerCpuS() - server0;
  if (!record) return { tool: name, round, rate: NaN, completed: 0, failed: 0, clientUs: NaN, serverUs: NaN, errors: { exit: error ?? 'no record' } };
  // Cores in each run second, times the part of that second the load ran (the last one is partial).
  const cpuS = record.timeline.reduce((sum, e) => sum + (e.cpu?.process ?? 0) * Math.max(0, Math.min(1, record.durationS - e.t)), 0);
  const { completed, failed } = record.totals;
  return {
    tool: name,
    round,
    rate: completed / record.durationS,
    completed,
    failed,
    clientUs: (cpuS / completed) * 1e6,
    serverUs: (serverS / completed) * 1e6,
    handshakes: record.totals.tlsHandshakes,
    resumed: record.totals.tlsResumed,
    errors: { ...record.errors, ...(error ? { exit: error } : {}) },
  };
}

async function main(argv: string[]): Promise<void> {
  const o = parseOptions(argv);
  for (const [cmd, args, pkg] of [['wrk', ['-v'], 'wrk'], ['hey', ['-h'], 'hey'], ['ab', ['-V'], 'apache2-utils']] as const) ensureCommand(cmd, [...args], pkg);
  const nginx = await startTlsNginx();
  const url = `https://127.0.0.1:${nginx.port}/`;
  const n = loadNativeEngine();
  const openssl = n.available ? (n.addon.tls.version ?? 'none') : 'no engine';
  console.log(
    `bench: ${o.keepalive ? 'keep-alive' : `new connections, close=${o.close}`} C=${o.concurrency} D=${o.durationS}s rounds=${o.rounds} verify=${o.verify}; node ${process.version} (${openssl}), ${os.cpus().length} cpus, kernel ${os.release()}`,
  );
  console.log(`bench: target ${nginx.version} (1 worker, ECDSA P-256) on ${url}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const natives: [string, boolean][] = o.keepalive ? [['portstorm native', true]] : [['portstorm native, resumption off', false], ['portstorm native, resumption on', true]];
  const clis: [string, boolean][] = o.keepalive ? [['portstorm run', true]] : [['portstorm run, resumption off', false], ['portstorm run, resumption on', true]];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'portstorm-tls-bench-'));
  await writeFile(path.join(dir, 'ca.pem'), nginx.cert);
  const ms: Measurement[] = [];
  try {
    await measurePeer(0, peers(url, { ...o, durationS: 1 })[0]!, { ...o, durationS: 1 }, nginx); // warm-up
    for (let round = 1; round <= o.rounds; round++) {
      const runs: (() => Promise<Measurement>)[] = [
        ...peers(url, o).map((p) => () => measurePeer(round, p, o, nginx)),
        ...natives.map(([name, res]) => () => measureNative(round, name, res, o, nginx)),
        ...clis.map(([name, res]) => () => measureCli(round, name, res, o, nginx, dir)),
      ];
      for (const run of runs) {
        const m = await run();
        ms.push(m);
        const hs = m.handshakes !== undefined ? `, ${m.handshakes} handshakes (${m.resumed} resumed)` : '';
        const errs = Object.keys(m.errors).length > 0 ? `  errors ${JSON.stringify(m.errors)}` : '';
        console.log(
          `round ${round}  ${m.tool.padEnd(34)} ${Math.round(m.rate).toString().padStart(7)}/s  client ${Math.round(m.clientUs)} µs, nginx ${Math.round(m.serverUs)} µs per request; ${m.completed} ok, ${m.failed} failed${hs}${errs}`,
        );
        await delay(1000); // let TIME_WAIT-free ports and the CPU settle between tools
      }
    }
  } finally {
    await nginx.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const tools = [...new Set(ms.map((m) => m.tool))];
  const peerNames = peers(url, o).map((p) => p[0]);
  const rateOf = (t: string): number => median(ms.filter((m) => m.tool === t).map((m) => m.rate));
  const fastest = Math.max(...peerNames.map(rateOf));
  console.log(`\n${'tool'.padEnd(34)}${'median /s'.padStart(10)}${'client µs'.padStart(11)}${'nginx µs'.padStart(10)}  vs fastest peer`);
  for (const t of tools) {
    const mine = ms.filter((m) => m.tool === t);
    const ratio = peerNames.includes(t) ? '' : `${(rateOf(t) / fastest).toFixed(2)}x`;
    console.log(
      `${t.padEnd(34)}${Math.round(rateOf(t)).toString().padStart(10)}${Math.round(median(mine.map((m) => m.clientUs))).toString().padStart(11)}${Math.round(median(mine.map((m) => m.serverUs))).toString().padStart(10)}  ${ratio}`,
    );
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
