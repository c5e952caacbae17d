/** Messages between the main thread and load workers. */
import type { LoadWireBucket } from '../record/accumulator.js';
import type { ErrorSample } from './generator.js';

/** Worker to main. */
export type ToMain =
  | { type: 'buckets'; buckets: LoadWireBucket[] }
  | { type: 'sample'; sample: ErrorSample }
  | { type: 'ready' }
  /** The start message arrived `behindMs` after the start epoch (0 when it came in time). */
  | { type: 'started'; behindMs: number }
  | { type: 'done' }
  | { type: 'error'; message: string };

/** Main to worker: `start` at the shared epoch; `stop` starts no more requests; `abort` also cuts in-flight ones. */
export type ToWorker = { type: 'start'; startEpochMs: number } | { type: 'stop' } | { type: 'abort' };
