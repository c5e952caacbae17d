/**
 * The socket monitor as the rest of portstorm uses it: two sampler threads, one taking the fast
 * totals and counters on a fixed cadence, one taking the per-socket scans, so a long scan never
 * delays a fast sample. Their samples arrive here as they are taken.
 */
import type { SamplerOptions, SamplerStatus } from './sampler.js';
import type { MonitorSample } from './types.js';
import { startThread } from '../thread-limits.js';

/** Messages from a sampler thread. */
export type FromSampler = { type: 'sample'; sample: MonitorSample } | { type: 'stopped'; status: SamplerStatus };
/** Messages to a sampler thread. */
export type ToSampler = { type: 'stop' };

/** A running monitor. */
export interface RunningMonitor {
  /** The newest sample, and the newest one with a scan. */
  latest(): { sample: MonitorSample | null; scan: MonitorSample | null };
  /** Whether a scan was tried yet (it may have failed: then `scan` stays null). */
  scanTried(): boolean;
  /**
   * The load starts at `epochMs`: scans from then on drop their TIME_WAIT time-left detail, which
   * only the baseline needs (it would otherwise be kept for every scan of a long run).
   */
  loadStarted(epochMs: number): void;
  /** Stops sampling; resolves with every sample taken (in time order) and what could not be read. */
  stop(): Promise<{ samples: MonitorSample[]; status: SamplerStatus }>;
}

const STOP_TIMEOUT_MS = 5000;

interface SamplerThread {
  stop(): Promise<SamplerStatus>;
}

function samplerThread(opts: SamplerOptions, onSample: (s: MonitorSample) => void): SamplerThread {
  const worker = startThread('monitor', new URL('./sampler-worker.js', import.meta.url), { workerData: opts });
  let status: SamplerStatus = { source: null, unavailable: {}, effectiveScanIntervalMs: opts.scanIntervalMs };
  let failure: string | null = null;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.on('message', (m: FromSampler) => (m.type === 'sample' ? onSample(m.sample) : (status = m.status)));
  worker.on('error', (err) => (failure = err.message));
  return {
    async stop() {
      worker.postMessage({ type: 'stop' } satisfies ToSampler);
      const timer = setTimeout(() => void worker.terminate(), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
      if (failure) status = { ...status, unavailable: { ...status.unavailable, [`sampler.${opts.role}`]: `sampler thread failed: ${failure}` } };
      return status;
    },
  };
}

/**
 * Test-only: a /proc root for every monitor this process starts (scans then read its net/tcp), so
 * an integration test can take the monitor's sources away in the middle of a whole run.
 */
export const TEST_PROC_ROOT_ENV = 'PORTSTORM_TEST_PROC_ROOT';

/** Starts the sampler threads; `onSample` (optional) sees each sample as it arrives. */
export function startMonitor(opts: SamplerOptions, onSample?: (s: MonitorSample) => void): RunningMonitor {
  const testRoot = process.env[TEST_PROC_ROOT_ENV];
  if (opts.procRoot === undefined && testRoot) opts = { ...opts, procRoot: testRoot, prefer: 'proc' };
  const samples: MonitorSample[] = [];
  let latest: MonitorSample | null = null;
  let latestScan: MonitorSample | null = null;
  let tried = false;
  let loadStartMs = Infinity;
  const take = (s: MonitorSample): void => {
    if (s.scan !== null || s.missing?.scan !== undefined) tried = true;
    if (s.scan && s.at >= loadStartMs) for (const d of s.scan.destinations) d.timeWaitLeft = null;
    samples.push(s);
    if (s.scan) latestScan = s;
    else latest = s;
    onSample?.(s);
  };
  const fast = samplerThread({ ...opts, role: 'fast' }, take);
  const scan = samplerThread({ ...opts, role: 'scan' }, take);
  return {
    latest: () => ({ sample: latest ?? latestScan, scan: latestScan }),
    scanTried: () => tried,
    loadStarted: (epochMs) => {
      loadStartMs = epochMs;
    },
    async stop() {
      const [f, s] = await Promise.all([fast.stop(), scan.stop()]);
      return {
        samples: samples.sort((a, b) => a.at - b.at),
        status: { source: s.source, unavailable: { ...f.unavailable, ...s.unavailable }, effectiveScanIntervalMs: s.effectiveScanIntervalMs },
      };
    },
  };
}
