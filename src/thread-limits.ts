/**
 * Heap limits of portstorm's threads. V8 grows a thread's young generation (up to 48 MB on 64-bit)
 * whenever objects keep surviving scavenges, and gives it back only once the thread turns idle, so a
 * long run's RSS crept up by the young generations of its threads, not by anything they kept alive.
 * Fixed caps make the footprint flat after warm-up.
 */
import v8 from 'node:v8';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** The kinds of worker thread a run starts. */
export type ThreadKind = 'load' | 'target' | 'monitor';

/**
 * Young-generation caps in MB: big enough that a scavenge stays rare at full load (the load and
 * target threads allocate per request), small for the samplers, whose big buffers live off-heap.
 */
const YOUNG_GENERATION_MB: Record<ThreadKind, number> = { load: 16, target: 16, monitor: 8 };

/** PORTSTORM_MAX_YOUNG_GEN_MB: a cap (MB) for every thread, 0 for V8's own sizing, unset for ours. */
function override(env: NodeJS.ProcessEnv): number | null {
  const v = env.PORTSTORM_MAX_YOUNG_GEN_MB;
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : null;
}

/** The resource limits a worker of `kind` is started with. */
export function threadResourceLimits(kind: ThreadKind, env: NodeJS.ProcessEnv = process.env): NonNullable<WorkerOptions['resourceLimits']> {
  const mb = override(env) ?? YOUNG_GENERATION_MB[kind];
  return mb > 0 ? { maxYoungGenerationSizeMb: mb } : {};
}

const FREEZE = '--semi-space-growth-factor=1';
let mainCapped = false;

/**
 * Stops the main thread's young generation from growing past its size now. The main thread only
 * merges per-second figures and writes checkpoints, yet each checkpoint's objects survive a scavenge
 * or two while the file is written, and that alone grew its young generation to 48 MB over a
 * 10-minute run. Its heap limits are fixed at start-up, but V8 reads the growth factor each time it
 * grows a young generation, so the flag is set at run time. Starting a worker resets V8's flags in
 * Node 20, so `startThread` sets it again once each worker is up.
 */
export function capMainYoungGeneration(env: NodeJS.ProcessEnv = process.env): void {
  if (override(env) === 0) return;
  mainCapped = true;
  v8.setFlagsFromString(FREEZE);
}

/** Starts a worker thread of `kind` under its heap limits, keeping the main thread's cap. */
export function startThread(kind: ThreadKind, url: URL, options: Omit<WorkerOptions, 'resourceLimits'> = {}): Worker {
  const worker = new Worker(url, { ...options, resourceLimits: threadResourceLimits(kind) });
  if (mainCapped) {
    v8.setFlagsFromString(FREEZE);
    worker.once('online', () => v8.setFlagsFromString(FREEZE));
  }
  return worker;
}
