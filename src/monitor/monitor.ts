/**
 * The socket monitor as the rest of portstorm uses it: a sampler in its own worker thread whose
 * samples arrive here as they are taken.
 */
import { Worker } from 'node:worker_threads';
import type { SamplerOptions, SamplerStatus } from './sampler.js';
import type { MonitorSample } from './types.js';

/** Messages from the sampler thread. */
export type FromSampler = { type: 'sample'; sample: MonitorSample } | { type: 'stopped'; status: SamplerStatus };
/** Messages to the sampler thread. */
export type ToSampler = { type: 'stop' };

/** A running monitor. */
export interface RunningMonitor {
  /** The newest sample, and the newest one with a scan. */
  latest(): { sample: MonitorSample | null; scan: MonitorSample | null };
  /** Stops sampling; resolves with every sample taken and what could not be read. */
  stop(): Promise<{ samples: MonitorSample[]; status: SamplerStatus }>;
}

const STOP_TIMEOUT_MS = 5000;

/** Starts the sampler thread; `onSample` (optional) sees each sample as it arrives. */
export function startMonitor(opts: SamplerOptions, onSample?: (s: MonitorSample) => void): RunningMonitor {
  const worker = new Worker(new URL('./sampler-worker.js', import.meta.url), { workerData: opts });
  const samples: MonitorSample[] = [];
  let latest: MonitorSample | null = null;
  let latestScan: MonitorSample | null = null;
  let status: SamplerStatus = { source: null, unavailable: {}, effectiveScanIntervalMs: opts.scanIntervalMs };
  let failure: string | null = null;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.on('message', (m: FromSampler) => {
    if (m.type === 'sample') {
      samples.push(m.sample);
      latest = m.sample;
      if (m.sample.scan) latestScan = m.sample;
      onSample?.(m.sample);
    } else status = m.status;
  });
  worker.on('error', (err) => (failure = err.message));
  return {
    latest: () => ({ sample: latest, scan: latestScan }),
    async stop() {
      worker.postMessage({ type: 'stop' } satisfies ToSampler);
      const timer = setTimeout(() => void worker.terminate(), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
      if (failure) status = { ...status, unavailable: { ...status.unavailable, sampler: `sampler thread failed: ${failure}` } };
      return { samples, status };
    },
  };
}
