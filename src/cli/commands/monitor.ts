/**
 * `portstorm monitor`: watch the host's TCP sockets and port budget, beside any load generator;
 * with `--serve`, as an agent a run on another host watches (`run --watch`).
 */
import { createWriteStream } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { PortEtaEstimator } from '../../analysis/eta.js';
import { epochMs } from '../../load/clock.js';
import { RuntimeFailure, UsageError } from '../../errors.js';
import { agentLine, type HelloLine } from '../../monitor/agent-protocol.js';
import { AgentServer } from '../../monitor/agent-server.js';
import { hostInfo } from '../../monitor/host.js';
import { startMonitor } from '../../monitor/monitor.js';
import { MonitorMetrics, serveMetrics } from '../../monitor/prometheus.js';
import { Sampler } from '../../monitor/sampler.js';
import type { MonitorSample } from '../../monitor/types.js';
import { sampleLine } from '../../report/monitor-text.js';
import { parseDuration } from '../../scenario/schema.js';
import { isLoopbackIp } from '../../vocab/address.js';
import { PORTSTORM_VERSION } from '../../version.js';
import { defineCommand } from '../command.js';
import { tlsPairFlags } from '../tls-pair-flags.js';
import { TOKEN_ENV } from '../watch-flags.js';

interface MonitorArgs {
  interval: string;
  'scan-interval': string;
  duration?: string;
  dest?: string;
  out?: string;
  json: boolean;
  once: boolean;
  prometheus?: string;
  serve?: string;
  token?: string;
  'max-readers': number;
  'tls-cert'?: string;
  'tls-key'?: string;
}

/** Most `--max-readers` accepted. */
const MAX_READERS = 64;
const TOKEN_RE = /^[\x21-\x7e]+$/;

/** The agent's token: --token, else PORTSTORM_TOKEN; required when it listens beyond loopback. */
function agentToken(argv: MonitorArgs, host: string, env: NodeJS.ProcessEnv): string | null {
  const given = argv.token ?? (env[TOKEN_ENV] === '' ? undefined : env[TOKEN_ENV]);
  const from = argv.token !== undefined ? '--token' : TOKEN_ENV;
  if (given !== undefined && !TOKEN_RE.test(given)) throw new UsageError(`${from}: expected a token of printable ASCII characters without spaces`);
  if (given === undefined && !isLoopbackIp(host) && host !== 'localhost') {
    throw new UsageError(`--serve ${argv.serve}: listening beyond loopback needs a token (--token or ${TOKEN_ENV}); readers then send it as a bearer token`);
  }
  return given ?? null;
}

function seconds(flag: string, value: string): number {
  const s = parseDuration(value);
  if (s === null || s <= 0) throw new UsageError(`--${flag} ${value}: expected a duration like 250ms, 1s or 2m`);
  return s;
}

function hostPortFlag(flag: string, value: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value);
  if (!m || Number(m[2]) > 65535) throw new UsageError(`--${flag} ${value}: expected host:port, e.g. 127.0.0.1:9464`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/** How long `monitor --duration` waits for the sampler thread's first sample before counting anyway. */
const SAMPLER_START_GRACE_MS = 10_000;

/** The `monitor` command. */
export const monitorCommand = defineCommand<MonitorArgs>({
  command: 'monitor',
  describe: 'Watch TCP sockets, TIME_WAIT and the ephemeral port budget of this host (or network namespace)',
  builder: (y) =>
    y
      .option('interval', { type: 'string', default: '250ms', describe: 'fast totals and counters every' })
      .option('scan-interval', { type: 'string', default: '1s', describe: 'per-socket scan every' })
      .option('duration', { type: 'string', describe: 'stop after (e.g. 60s); default: until Ctrl-C' })
      .option('dest', { type: 'string', describe: 'show this destination (ip:port) rather than the busiest' })
      .option('out', { type: 'string', describe: 'append every sample to this file, as NDJSON agent lines (for report --attach)' })
      .option('json', { type: 'boolean', default: false, describe: 'print samples as NDJSON on stdout' })
      .option('once', { type: 'boolean', default: false, describe: 'take one full sample, print it, exit' })
      .option('prometheus', { type: 'string', describe: 'serve metrics in Prometheus format at host:port/metrics' })
      .option('serve', { type: 'string', describe: 'serve as an agent at host:port (/stream, /sample, /health, /metrics) for run --watch' })
      .option('token', { type: 'string', describe: `bearer token the agent requires (default: $${TOKEN_ENV}); needed beyond loopback` })
      .option('max-readers', { type: 'number', default: 4, describe: 'most /stream readers at once' })
      .option('tls-cert', { type: 'string', describe: 'serve the agent over HTTPS with this certificate (PEM)' })
      .option('tls-key', { type: 'string', describe: 'and this private key (PEM)' })
      .example('$0 monitor --once --json', 'one full sample as JSON')
      .example('$0 monitor --dest 10.0.0.5:443 --duration 5m --out samples.ndjson', 'watch one destination')
      .example('PORTSTORM_TOKEN=s3cret $0 monitor --serve 0.0.0.0:9464 --out service.ndjson', 'an agent for run --watch service=http://HOST:9464') as never,
  async run(argv) {
    const intervalS = seconds('interval', argv.interval);
    const scanIntervalS = seconds('scan-interval', argv['scan-interval']);
    const durationS = argv.duration === undefined ? null : seconds('duration', argv.duration);
    const dest = argv.dest ?? null;
    if (dest !== null) hostPortFlag('dest', dest);
    const prom = argv.prometheus === undefined ? null : hostPortFlag('prometheus', argv.prometheus);
    const serve = argv.serve === undefined ? null : hostPortFlag('serve', argv.serve);
    const maxReaders = argv['max-readers'];
    if (!Number.isInteger(maxReaders) || maxReaders < 1 || maxReaders > MAX_READERS) throw new UsageError(`--max-readers ${String(maxReaders)}: expected an integer from 1 to ${MAX_READERS}`);
    const token = serve ? agentToken(argv, serve.host, process.env) : null;
    const tls = tlsPairFlags(argv['tls-cert'], argv['tls-key']);
    if ((tls || argv.token !== undefined) && !serve) throw new UsageError(`${tls ? '--tls-cert' : '--token'} goes with --serve HOST:PORT (the agent it secures)`);
    const host = hostInfo();
    const budget = { range: host.portRange ?? ([0, 65535] as [number, number]), usable: host.usablePorts ?? 0 };
    const samplerOpts = { intervalMs: intervalS * 1000, scanIntervalMs: scanIntervalS * 1000, budget };
    const hello = (): HelloLine => ({ type: 'hello', time: epochMs(), agent: { version: PORTSTORM_VERSION, pid: process.pid }, host, intervalMs: samplerOpts.intervalMs, scanIntervalMs: samplerOpts.scanIntervalMs });

    if (argv.once) {
      const sampler = new Sampler(samplerOpts, () => undefined);
      const sample = await sampler.sample(true);
      const doc = { host, sample, status: sampler.status() };
      process.stdout.write(argv.json ? JSON.stringify(doc) + '\n' : sampleLine(sample, host.usablePorts, dest) + '\n');
      if (argv.out) await appendFile(argv.out, agentLine(hello()) + agentLine({ type: 'sample', sample }) + agentLine({ type: 'status', time: epochMs(), status: sampler.status() }));
      return 0;
    }

    const metrics = prom || serve ? new MonitorMetrics(host.usablePorts, new PortEtaEstimator({ facts: host, usable: host.usablePorts })) : null;
    const server = metrics && prom ? await serveMetrics(metrics.registry, prom.host, prom.port) : null;
    if (server) process.stderr.write(`portstorm monitor: metrics at ${server.url}\n`);
    const log = (line: string): boolean => process.stderr.write(`portstorm monitor: ${line}\n`);
    const agent =
      metrics && serve
        ? await AgentServer.start({ ...serve, token, maxReaders, tls: tls?.pair ?? null, hello, metrics, log }).catch((err: NodeJS.ErrnoException) => {
            throw new RuntimeFailure(`--serve ${argv.serve}: cannot listen (${err.code ?? err.message})`);
          })
        : null;
    if (agent) log(`agent at ${agent.url} (/stream, /sample, /health, /metrics)${token ? ', bearer token required' : ''}, at most ${maxReaders} readers`);
    const out = argv.out ? createWriteStream(argv.out, { flags: 'a' }) : null;
    let outFailure: string | null = null;
    out?.on('error', (err: NodeJS.ErrnoException) => (outFailure ??= err.code ?? err.message));
    out?.write(agentLine(hello()));
    let firstSample: () => void = () => undefined;
    const onSample = (s: MonitorSample): void => {
      firstSample();
      if (agent) agent.publish(s);
      else metrics?.update(s);
      if (argv.json) process.stdout.write(JSON.stringify(s) + '\n');
      else if (s.scan) process.stdout.write(sampleLine(s, host.usablePorts, dest) + '\n');
      out?.write(agentLine({ type: 'sample', sample: s }));
    };
    const monitor = startMonitor(samplerOpts, onSample);
    await new Promise<void>((resolve) => {
      const done = (): void => resolve();
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
      if (durationS === null) return;
      // --duration counts from the first sample: the sampler thread's start-up (seconds on a busy
      // machine) is not part of what was asked for. A sampler that never reports stops anyway.
      const fallback = setTimeout(done, durationS * 1000 + SAMPLER_START_GRACE_MS);
      firstSample = () => {
        firstSample = () => undefined;
        clearTimeout(fallback);
        setTimeout(done, durationS * 1000);
      };
    });
    const { samples, status } = await monitor.stop();
    if (out) {
      out.write(agentLine({ type: 'status', time: epochMs(), status }));
      await new Promise<void>((resolve) => out.end(() => resolve()));
    }
    await server?.close();
    await agent?.close();
    const missing = Object.entries(status.unavailable);
    process.stderr.write(`portstorm monitor: ${samples.length} samples, source ${status.source ?? 'none'}${missing.length ? `; unavailable: ${missing.map(([k, v]) => `${k} (${v})`).join(', ')}` : ''}\n`);
    if (outFailure) throw new RuntimeFailure(`--out ${argv.out}: cannot write it (${outFailure})`);
    return 0;
  },
});
