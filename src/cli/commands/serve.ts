/**
 * `portstorm serve`: run the built-in target on its own, in this process, until SIGINT/SIGTERM or
 * --duration. Useful as the far end of a run from another host or namespace, and to see which side
 * closes connections first (the side that closes first holds TIME_WAIT). `--tls` serves HTTPS with
 * a self-signed certificate made at start, or the pair given by --tls-cert/--tls-key. With
 * `--proxy-to URL` it runs the built-in proxy toward that backend instead (proxy-flags.ts).
 */
import { writeFileSync } from 'node:fs';
import { defineCommand } from '../command.js';
import { proxyFlags, UPSTREAM_CLOSE, type ProxyArgs } from '../proxy-flags.js';
import { tlsPairFlags } from '../tls-pair-flags.js';
import { RuntimeFailure, UsageError } from '../../errors.js';
import { displayArg } from '../../scenario/load.js';
import { parseDuration } from '../../scenario/schema.js';
import {
  builtinCertificateNames,
  certificateFingerprint,
  makeCertificate,
  type CertificatePair,
} from '../../target/certificate.js';
import { startProxy, type ProxyOptions, type ProxyStats } from '../../target/proxy.js';
import { formatHostPort, startTarget, type TargetOptions, type TargetStats } from '../../target/server.js';
import { num, sec } from '../../vocab/format.js';

const PROTOCOLS = ['http', 'tcp'] as const;
const CLOSE_MODES = ['never', 'after-response'] as const;
/** setTimeout's limit (~24.8 days). */
const MAX_DURATION_S = Math.floor(0x7fffffff / 1000);
/** 64 MiB: a response body is held in memory once. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** Parsed arguments of `portstorm serve`. */
export interface ServeArgs extends ProxyArgs {
  host: string;
  port: number;
  protocol: (typeof PROTOCOLS)[number];
  'delay-ms': number;
  'body-bytes': number;
  close: (typeof CLOSE_MODES)[number];
  duration: string | undefined;
  tls?: boolean;
  'tls-cert'?: string;
  'tls-key'?: string;
  'tls-cert-out'?: string;
}

/** Where the served certificate comes from: made at start, or read from --tls-cert/--tls-key. */
export type ServeTls = { made: true; certOut: string | null } | { made: false; pair: CertificatePair; certFile: string };

/** A file error in a few words. */
function fileFailure(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const words: Record<string, string> = { ENOENT: 'no such file or directory', EACCES: 'permission denied', EISDIR: 'it is a directory', EROFS: 'read-only file system' };
  return (code && words[code]) ?? code ?? String(err);
}

/** The TLS flags: null for plain HTTP/TCP; throws UsageError naming the bad flag. */
export function serveTls(argv: ServeArgs): ServeTls | null {
  const cert = argv['tls-cert'];
  const key = argv['tls-key'];
  const certOut = argv['tls-cert-out'];
  if (!argv.tls && cert === undefined && key === undefined && certOut === undefined) return null;
  for (const [flag, v] of [['--tls-cert', cert], ['--tls-key', key], ['--tls-cert-out', certOut]] as const) {
    if (v !== undefined && (typeof v !== 'string' || v.trim() === '')) throw new UsageError(`${flag}: expected a file path`);
  }
  if (argv.protocol !== 'http') throw new UsageError('--tls: the built-in target serves TLS over HTTP only; leave out --protocol tcp');
  const given = tlsPairFlags(cert, key);
  if (given === null) return { made: true, certOut: certOut ?? null };
  if (certOut !== undefined) throw new UsageError('--tls-cert-out writes the certificate made at start; with --tls-cert it is the file you gave');
  return { made: false, ...given };
}

/** Validates the arguments; throws UsageError naming the bad option. Returns options and duration (s). */
export function serveOptions(argv: ServeArgs): { target: TargetOptions; durationS: number | null } {
  const { host, port } = argv;
  const delayMs = argv['delay-ms'];
  const bodyBytes = argv['body-bytes'];
  if (typeof host !== 'string' || host.trim() === '') throw new UsageError('--host: expected an address, e.g. 127.0.0.1');
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--port: expected an integer from 0 to 65535, got ${String(port)}`);
  }
  if (!Number.isFinite(delayMs) || delayMs < 0 || delayMs > MAX_DURATION_S * 1000) {
    throw new UsageError(`--delay-ms: expected a number of milliseconds >= 0, got ${String(delayMs)}`);
  }
  if (!Number.isInteger(bodyBytes) || bodyBytes < 0 || bodyBytes > MAX_BODY_BYTES) {
    throw new UsageError(`--body-bytes: expected an integer from 0 to ${MAX_BODY_BYTES}, got ${String(bodyBytes)}`);
  }
  let durationS: number | null = null;
  if (argv.duration !== undefined) {
    durationS = parseDuration(argv.duration);
    if (durationS === null || durationS <= 0 || durationS > MAX_DURATION_S) {
      throw new UsageError(
        `--duration: expected a duration greater than 0 like 500ms, 30s, 2m or a number of seconds, got ${JSON.stringify(argv.duration)}`,
      );
    }
  }
  return {
    target: { protocol: argv.protocol, host: host.trim(), port, delayMs, bodyBytes, close: argv.close },
    durationS,
  };
}

/** Waits for SIGINT, SIGTERM or the duration; returns what ended the wait. */
function untilStopped(durationS: number | null): Promise<string> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (why: string): void => {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigterm);
      if (timer) clearTimeout(timer);
      resolve(why);
    };
    const onSigint = (): void => finish('SIGINT');
    const onSigterm = (): void => finish('SIGTERM');
    process.once('SIGINT', onSigint);
    process.once('SIGTERM', onSigterm);
    if (durationS !== null) timer = setTimeout(() => finish(`duration ${durationS} s`), durationS * 1000);
  });
}

function statsLine(s: TargetStats, seconds: number, why: string): string {
  return (
    `portstorm serve: stopped (${why}) after ${sec(seconds)}: ` +
    `${num(s.connectionsAccepted)} connections accepted, ${num(s.requests)} requests, ` +
    `closed by server ${num(s.closedByServer)}, closed by client ${num(s.closedByClient)}, ` +
    `resets by client ${num(s.resetByClient)}, still open ${num(s.open)}` +
    (s.tlsHandshakes === undefined
      ? ''
      : `, TLS handshakes ${num(s.tlsHandshakes)} (resumed ${num(s.tlsResumed ?? 0)}), TLS handshake errors ${num(s.tlsErrors ?? 0)}`)
  );
}

/** A count per key, largest first: `200 ×12, 502 ×3`; `none` when empty. */
function tally(counts: Record<string, number>): string {
  const rows = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return rows.length === 0 ? 'none' : rows.map(([k, n]) => `${k} ×${num(n)}`).join(', ');
}

function proxyStatsLine(s: ProxyStats, seconds: number, why: string): string {
  return (
    `portstorm serve: stopped (${why}) after ${sec(seconds)}: ${num(s.requests)} requests, ` +
    `${num(s.upstreamConnections)} upstream connections, answered ${tally(s.answered)}, upstream failures ${tally(s.upstreamFailures)}`
  );
}

/** What the proxy does with its upstream connections, in words. */
function upstreamWords(o: ProxyOptions): string {
  if (o.reuse) return `keep-alive pool of at most ${o.poolSize} connections`;
  const by = { client: 'closed by the proxy first: TIME_WAIT here', server: 'closed by the backend first: TIME_WAIT there', reset: 'reset by the proxy: no TIME_WAIT' };
  return `a new connection per request, ${by[o.close]}`;
}

/** `serve --proxy-to`: the proxy until stopped, then its counters. */
async function runProxy(o: ProxyOptions, durationS: number | null): Promise<number> {
  let proxy;
  try {
    proxy = await startProxy(o);
  } catch (err) {
    throw new RuntimeFailure(`serve: ${err instanceof Error ? err.message : String(err)}`);
  }
  process.stderr.write(
    `portstorm serve: proxy listening on ${proxy.url.replace(/^http:\/\/|\/$/g, '')} to ${o.upstream} ` +
      `(${upstreamWords(o)}; failures answered ${o.failureStatus})\n`,
  );
  const started = performance.now();
  const why = await untilStopped(durationS);
  const stats = proxy.stats();
  await proxy.close();
  process.stderr.write(proxyStatsLine(stats, (performance.now() - started) / 1000, why) + '\n');
  return 0;
}

/** The certificate served, and where it came from. */
interface Served {
  pair: CertificatePair;
  /** The certificate made at start, with the names it covers; null for --tls-cert. */
  names: string[] | null;
}

/**
 * The certificate to serve: the given pair, or one made now for the listening address and the
 * usual local names, written (never its key) to --tls-cert-out.
 */
async function servedCertificate(tls: ServeTls, host: string): Promise<Served> {
  if (!tls.made) return { pair: tls.pair, names: null };
  const names = builtinCertificateNames([host]);
  const pair = await makeCertificate({ names });
  if (tls.certOut !== null) {
    try {
      writeFileSync(tls.certOut, pair.cert.endsWith('\n') ? pair.cert : `${pair.cert}\n`);
    } catch (err) {
      throw new RuntimeFailure(`serve: --tls-cert-out ${displayArg(tls.certOut)}: cannot write it (${fileFailure(err)})`);
    }
  }
  return { pair, names };
}

/** What `serve` says about its certificate once it listens at `url`. */
function certificateLines(tls: ServeTls, served: Served, url: string): string[] {
  const fingerprint = `SHA-256 fingerprint ${certificateFingerprint(served.pair.cert)}`;
  if (!tls.made) return [`certificate ${tls.certFile}, ${fingerprint}`];
  const lines = [`self-signed certificate made at start for ${served.names!.join(', ')}; ${fingerprint}`];
  if (tls.certOut !== null) lines.push(`certificate written to ${tls.certOut}; trust it with: curl --cacert ${tls.certOut} ${url}`);
  return lines;
}

export const serveCommand = defineCommand<ServeArgs>({
  command: 'serve',
  describe: 'Run the built-in HTTP/HTTPS/TCP target (or, with --proxy-to, the built-in proxy) until Ctrl-C or --duration',
  builder: (y) =>
    y
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'Address to listen on' })
      .option('port', { type: 'number', default: 8080, describe: 'Port to listen on (0 = ephemeral)' })
      .option('protocol', { choices: PROTOCOLS, default: 'http' as const, describe: 'http, or tcp (echo)' })
      .option('delay-ms', { type: 'number', default: 0, describe: 'Delay before each response/echo, in ms' })
      .option('body-bytes', { type: 'number', default: 2, describe: 'HTTP response body size in bytes' })
      .option('close', {
        choices: CLOSE_MODES,
        default: 'never' as const,
        describe: 'after-response: the server closes first (it holds TIME_WAIT); never: the client decides',
      })
      .option('duration', { type: 'string', describe: 'Stop after this long (e.g. 60s, 2m, or seconds)' })
      .option('tls', { type: 'boolean', default: false, describe: 'Serve HTTPS with a self-signed certificate made at start (its SHA-256 fingerprint is printed)' })
      .option('tls-cert', { type: 'string', describe: 'Serve HTTPS with this PEM certificate (chain); needs --tls-key' })
      .option('tls-key', { type: 'string', describe: 'The PEM private key of --tls-cert (not encrypted)' })
      .option('tls-cert-out', { type: 'string', describe: 'Write the certificate made at start (never its key) here, for clients to trust' })
      .option('proxy-to', { type: 'string', describe: 'Run the built-in HTTP proxy toward this backend (http://IP:PORT) instead of the target' })
      .option('upstream-reuse', { type: 'boolean', describe: 'Proxy: keep upstream connections open in a pool (the fix); default: a new one per request' })
      .option('upstream-pool-size', { type: 'number', describe: 'Proxy with --upstream-reuse: most upstream connections at once (default 32)' })
      .option('upstream-close', {
        choices: UPSTREAM_CLOSE,
        describe: 'Proxy without reuse: who closes each upstream connection: client (the proxy, TIME_WAIT on the proxy; default), server (the backend), reset (RST)',
      })
      .option('failure-status', { type: 'number', describe: 'Proxy: the status answered when the upstream request fails (default 502)' })
      .example('$0 serve --port 8080', 'HTTP target on 127.0.0.1:8080, keep-alive')
      .example('$0 serve --protocol tcp --close after-response --duration 60s', 'TCP echo that closes first')
      .example('$0 serve --tls --port 8443 --tls-cert-out ca.pem', 'HTTPS; then curl --cacert ca.pem https://127.0.0.1:8443/')
      .example('$0 serve --tls-cert cert.pem --tls-key key.pem', 'HTTPS with your own certificate')
      .example('$0 serve --port 8081 --proxy-to http://127.0.0.1:8080', 'A proxy opening a new backend connection per request (runs out of ports)')
      .example('$0 serve --port 8081 --proxy-to http://127.0.0.1:8080 --upstream-reuse --upstream-pool-size 16', 'The same proxy with upstream keep-alive (the fix)'),
  run: async (argv) => {
    const { target: opts, durationS } = serveOptions(argv);
    const proxy = proxyFlags(argv);
    if (proxy) return runProxy({ ...proxy, host: opts.host, port: opts.port }, durationS);
    const tls = serveTls(argv);
    const served = tls ? await servedCertificate(tls, opts.host) : null;
    let target;
    try {
      target = await startTarget(served ? { ...opts, tls: served.pair } : opts);
    } catch (err) {
      throw new RuntimeFailure(`serve: ${err instanceof Error ? err.message : String(err)}`);
    }
    const where = formatHostPort(target.host, target.port);
    process.stderr.write(
      `portstorm serve: ${tls ? 'https' : opts.protocol} listening on ${where} ` +
        `(delay ${opts.delayMs} ms, body ${opts.bodyBytes} B, close ${opts.close})\n`,
    );
    if (tls && served) for (const line of certificateLines(tls, served, `https://${where}/`)) process.stderr.write(`portstorm serve: ${line}\n`);
    const started = performance.now();
    const why = await untilStopped(durationS);
    const stats = target.stats();
    await target.close();
    process.stderr.write(statsLine(stats, (performance.now() - started) / 1000, why) + '\n');
    return 0;
  },
});
