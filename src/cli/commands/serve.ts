/**
 * `portstorm serve`: run the built-in target on its own, in this process, until SIGINT/SIGTERM or
 * --duration. Useful as the far end of a run from another host or namespace, and to see which side
 * closes connections first (the side that closes first holds TIME_WAIT).
 */
import { defineCommand } from '../command.js';
import { RuntimeFailure, UsageError } from '../../errors.js';
import { parseDuration } from '../../scenario/schema.js';
import { formatHostPort, startTarget, type TargetOptions, type TargetStats } from '../../target/server.js';
import { num, sec } from '../../vocab/format.js';

const PROTOCOLS = ['http', 'tcp'] as const;
const CLOSE_MODES = ['never', 'after-response'] as const;
/** setTimeout's limit (~24.8 days). */
const MAX_DURATION_S = Math.floor(0x7fffffff / 1000);
/** 64 MiB: a response body is held in memory once. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** Parsed arguments of `portstorm serve`. */
export interface ServeArgs {
  host: string;
  port: number;
  protocol: (typeof PROTOCOLS)[number];
  'delay-ms': number;
  'body-bytes': number;
  close: (typeof CLOSE_MODES)[number];
  duration: string | undefined;
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
    `resets by client ${num(s.resetByClient)}, still open ${num(s.open)}`
  );
}

export const serveCommand = defineCommand<ServeArgs>({
  command: 'serve',
  describe: 'Run the built-in HTTP/TCP target until Ctrl-C or --duration',
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
      .example('$0 serve --port 8080', 'HTTP target on 127.0.0.1:8080, keep-alive')
      .example('$0 serve --protocol tcp --close after-response --duration 60s', 'TCP echo that closes first'),
  run: async (argv) => {
    const { target: opts, durationS } = serveOptions(argv);
    let target;
    try {
      target = await startTarget(opts);
    } catch (err) {
      throw new RuntimeFailure(`serve: ${err instanceof Error ? err.message : String(err)}`);
    }
    process.stderr.write(
      `portstorm serve: ${opts.protocol} listening on ${formatHostPort(target.host, target.port)} ` +
        `(delay ${opts.delayMs} ms, body ${opts.bodyBytes} B, close ${opts.close})\n`,
    );
    const started = performance.now();
    const why = await untilStopped(durationS);
    const stats = target.stats();
    await target.close();
    process.stderr.write(statsLine(stats, (performance.now() - started) / 1000, why) + '\n');
    return 0;
  },
});
