/**
 * Run time shared by every thread: seconds since the run's start epoch. performance.timeOrigin
 * differs per worker, so each thread converts its own performance.now() through the epoch.
 */
import { performance } from 'node:perf_hooks';

/** A clock anchored at the run's start (epoch milliseconds). */
export interface RunClock {
  /** Seconds since the run started. */
  nowS(): number;
  /** Converts a performance.now() reading of this thread to run seconds. */
  toS(perfMs: number): number;
  /** The run second (run time, in seconds) as a performance.now() reading of this thread. */
  toPerf(s: number): number;
}

/** Epoch milliseconds with sub-millisecond precision. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Builds the clock of a run that started at `startEpochMs`. */
export function runClock(startEpochMs: number): RunClock {
  const offset = performance.timeOrigin - startEpochMs;
  return {
    nowS: () => (performance.now() + offset) / 1000,
    toS: (perfMs) => (perfMs + offset) / 1000,
    toPerf: (s) => s * 1000 - offset,
  };
}

/** Resolves after `ms` milliseconds; sub-millisecond waits yield to the event loop once. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => (ms >= 1 ? setTimeout(resolve, ms) : setImmediate(resolve)));
}
