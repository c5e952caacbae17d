/** `portstorm monitor`: watch the host's TCP sockets and port budget, beside any load generator. */
import { appendFile } from 'node:fs/promises';
import { PortEtaEstimator } from '../../analysis/eta.js';
import { UsageError } from '../../errors.js';
import { hostInfo } from '../../monitor/host.js';
import { startMonitor } from '../../monitor/monitor.js';
import { MonitorMetrics, serveMetrics } from '../../monitor/prometheus.js';
import { Sampler } from '../../monitor/sampler.js';
import type { MonitorSample } from '../../monitor/types.js';
import { sampleLine } from '../../report/monitor-text.js';
import { parseDuration } from '../../scenario/schema.js';
import { defineCommand } from '../command.js';

interface MonitorArgs {
  interval: string;
  'scan-interval': string;
  duration?: string;
  dest?: string;
  out?: string;
  json: boolean;
  once: boolean;
  prometheus?: string;
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
      .option('out', { type: 'string', describe: 'append every sample as NDJSON to this file' })
      .option('json', { type: 'boolean', default: false, describe: 'print samples as NDJSON on stdout' })
      .option('once', { type: 'boolean', default: false, describe: 'take one full sample, print it, exit' })
      .option('prometheus', { type: 'string', describe: 'serve metrics in Prometheus format at host:port/metrics' })
      .example('$0 monitor --once --json', 'one full sample as JSON')
      .example('$0 monitor --dest 10.0.0.5:443 --duration 5m --out samples.ndjson', 'watch one destination') as never,
  async run(argv) {
    const intervalS = seconds('interval', argv.interval);
    const scanIntervalS = seconds('scan-interval', argv['scan-interval']);
    const durationS = argv.duration === undefined ? null : seconds('duration', argv.duration);
    const dest = argv.dest ?? null;
    if (dest !== null) hostPortFlag('dest', dest);
    const prom = argv.prometheus === undefined ? null : hostPortFlag('prometheus', argv.prometheus);
    const host = hostInfo();
    const budget = { range: host.portRange ?? ([0, 65535] as [number, number]), usable: host.usablePorts ?? 0 };
    const samplerOpts = { intervalMs: intervalS * 1000, scanIntervalMs: scanIntervalS * 1000, budget };

    if (argv.once) {
      const sampler = new Sampler(samplerOpts, () => undefined);
      const sample = await sampler.sample(true);
      const doc = { host, sample, status: sampler.status() };
      process.stdout.write(argv.json ? JSON.stringify(doc) + '\n' : sampleLine(sample, host.usablePorts, dest) + '\n');
      if (argv.out) await appendFile(argv.out, JSON.stringify(sample) + '\n');
      return 0;
    }

    const metrics = prom ? new MonitorMetrics(host.usablePorts, new PortEtaEstimator({ facts: host, usable: host.usablePorts })) : null;
    const server = metrics && prom ? await serveMetrics(metrics.registry, prom.host, prom.port) : null;
    if (server) process.stderr.write(`portstorm monitor: metrics at ${server.url}\n`);
    let pending: Promise<void> = Promise.resolve();
    let firstSample: () => void = () => undefined;
    const onSample = (s: MonitorSample): void => {
      firstSample();
      metrics?.update(s);
      if (argv.json) process.stdout.write(JSON.stringify(s) + '\n');
      else if (s.scan) process.stdout.write(sampleLine(s, host.usablePorts, dest) + '\n');
      if (argv.out) pending = pending.then(() => appendFile(argv.out!, JSON.stringify(s) + '\n'));
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
    await pending;
    await server?.close();
    const missing = Object.entries(status.unavailable);
    process.stderr.write(`portstorm monitor: ${samples.length} samples, source ${status.source ?? 'none'}${missing.length ? `; unavailable: ${missing.map(([k, v]) => `${k} (${v})`).join(', ')}` : ''}\n`);
    return 0;
  },
});
