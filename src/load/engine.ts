/**
 * Runs a scenario's load over worker threads (one shard each): waits until every worker is ready,
 * starts them on one shared epoch, and hands every bucket delta and error sample to the caller.
 */
import path from 'node:path';
import type { LoadWireBucket } from '../record/accumulator.js';
import { RuntimeFailure } from '../errors.js';
import type { Scenario } from '../scenario/schema.js';
import { epochMs, sleep } from './clock.js';
import type { ErrorSample, GeneratorConfig } from './generator.js';
import { composeShard, WHOLE, type Shard } from './shard.js';
import type { ToMain, ToWorker } from './messages.js';
import { startThread } from '../thread-limits.js';

/** Callbacks receiving the load's observations. */
export interface LoadObserver {
  buckets(buckets: LoadWireBucket[]): void;
  sample(sample: ErrorSample): void;
}

/** A running load. */
export interface RunningLoad {
  /** The run's start, epoch milliseconds; run time 0 for every worker. */
  readonly startEpochMs: number;
  /**
   * With `startAtMs`: how late the load started after it (ms, ≥ 0): the start epoch's lateness
   * (set-up ended after it) plus the most any worker got its start message after the epoch.
   * Null without `startAtMs`.
   */
  readonly lateMs: number | null;
  /** Resolves when every worker has finished and shipped its last buckets. */
  readonly done: Promise<void>;
  /** Stops starting requests, waits up to `graceMs` for in-flight ones, then aborts them. */
  stop(graceMs: number): Promise<void>;
}

const START_DELAY_MS = 20;

/** File name of worker `index`'s per-request log. */
export function requestLogName(index: number): string {
  return `requests-${index}.ndjson`;
}

/** Where the load goes: the resolved address, the Host header, TLS and per-connection lookups (see GeneratorConfig). */
export type LoadTarget = Pick<GeneratorConfig, 'host' | 'port' | 'authority' | 'tls' | 'lookupName'>;

/** When and which part of the load to start. */
export interface LoadStart {
  /** This process's shard of the scenario (`run --shard`); default the whole load. */
  shard?: Shard;
  /** The agreed start (epoch ms): run time 0 is this instant unless set-up ended after it; then at once. */
  startAtMs?: number | null;
  /** Ends the wait for `startAtMs` early (the load then starts at once, to be stopped). */
  signal?: AbortSignal;
}

/** Waits until epoch `ms` or until `signal` aborts. */
async function waitUntil(ms: number, signal?: AbortSignal): Promise<void> {
  while (!signal?.aborted) {
    const left = ms - epochMs();
    if (left <= 0) return;
    await sleep(Math.min(left, 200));
  }
}

/** Starts `workers` load workers on the scenario against `target`; resolves once they run. */
export async function startLoad(
  scenario: Scenario,
  target: LoadTarget,
  workers: number,
  observer: LoadObserver,
  requestLogDir: string | null = null,
  start: LoadStart = {},
): Promise<RunningLoad> {
  const shard = start.shard ?? WHOLE;
  const startAtMs = start.startAtMs ?? null;
  const url = new URL('./worker.js', import.meta.url);
  const ready: Promise<void>[] = [];
  const started: Promise<number>[] = [];
  const finished: Promise<void>[] = [];
  const threads = Array.from({ length: workers }, (_, index) => {
    const requestLogFile = requestLogDir === null ? null : path.join(requestLogDir, requestLogName(index));
    const data: GeneratorConfig = { scenario, ...target, shard: composeShard(shard, { index, count: workers }), requestLogFile };
    const w = startThread('load', url, { workerData: data });
    let errorMessage: string | null = null;
    let signalReady: () => void = () => undefined;
    let signalStarted: (behindMs: number) => void = () => undefined;
    ready.push(new Promise<void>((resolve) => (signalReady = resolve)));
    started.push(new Promise<number>((resolve) => (signalStarted = resolve)));
    finished.push(
      new Promise<void>((resolve, reject) => {
        w.on('message', (m: ToMain) => {
          if (m.type === 'buckets') observer.buckets(m.buckets);
          else if (m.type === 'sample') observer.sample(m.sample);
          else if (m.type === 'ready') signalReady();
          else if (m.type === 'started') signalStarted(m.behindMs);
          else if (m.type === 'error') errorMessage = m.message;
        });
        w.once('error', (err) => reject(new RuntimeFailure(`load worker ${index} failed: ${err.message}`)));
        w.once('exit', (code) => {
          signalReady();
          signalStarted(0);
          if (errorMessage !== null) reject(new RuntimeFailure(`load worker ${index} failed: ${errorMessage}`));
          else if (code !== 0) reject(new RuntimeFailure(`load worker ${index} exited with code ${code}`));
          else resolve();
        });
      }),
    );
    return w;
  });
  const done = Promise.all(finished).then(() => undefined);
  done.catch(() => undefined);
  await Promise.all(ready);
  const post = (m: ToWorker): void => threads.forEach((w) => w.postMessage(m));
  // The start message goes out START_DELAY_MS ahead of the epoch, so every worker has it in time.
  if (startAtMs !== null) await waitUntil(startAtMs - START_DELAY_MS, start.signal);
  const soonest = epochMs() + START_DELAY_MS;
  const startEpochMs = start.signal?.aborted ? soonest : Math.max(startAtMs ?? 0, soonest);
  post({ type: 'start', startEpochMs });
  const behindMs = Math.max(...(await Promise.all(started)));
  const round1 = (x: number): number => Math.round(x * 10) / 10;
  return {
    startEpochMs,
    lateMs: startAtMs === null ? null : round1(Math.max(0, startEpochMs - startAtMs) + behindMs),
    done,
    async stop(graceMs) {
      post({ type: 'stop' });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)));
      const outcome = await Promise.race([done.then(() => 'done' as const, () => 'done' as const), timeout]);
      clearTimeout(timer);
      if (outcome === 'timeout') post({ type: 'abort' });
    },
  };
}
