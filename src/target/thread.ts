/**
 * Runs the built-in target in a worker thread, so that serving requests does not compete with the
 * load generator for the same event loop. The worker script is worker.ts (build/src/target/worker.js).
 *
 * The options, the TLS certificate and key included (PEM text), reach the worker as workerData.
 *
 * The worker is unref'd while idle: a forgotten target never keeps the process alive on its own. It
 * is ref'd while a stats() or close() answer is awaited, and terminated after close().
 */
import type { TargetOptions, TargetStats } from './server.js';
import type { TargetWorkerReply, TargetWorkerRequest } from './worker.js';
import { startThread } from '../thread-limits.js';

/** A target running in a worker thread. */
export interface TargetThread {
  host: string;
  port: number;
  /** A snapshot of the target's counters, fetched from the worker. */
  stats(): Promise<TargetStats>;
  /** Closes the target and ends the worker; resolves within about 2 s in every case. */
  close(): Promise<void>;
}

/** Bound on the worker starting and listening. */
const START_TIMEOUT_MS = 10_000;
/** Bound on a stats() answer and on a graceful close before the worker is terminated. */
const REPLY_TIMEOUT_MS = 2_000;

type Waiter = { resolve: (reply: TargetWorkerReply) => void; reject: (err: Error) => void };

/** Starts the target in a worker thread; rejects with a clear Error (naming host:port) if it cannot listen. */
export async function startTargetThread(opts: TargetOptions): Promise<TargetThread> {
  const worker = startThread('target', new URL('./worker.js', import.meta.url), { workerData: opts });
  const waiters = new Map<string, Waiter>(); // key: 'start' | 'closed' | `stats:${id}`
  let failure: Error | undefined;
  let exited = false;
  let busy = 0;
  let started = false;

  const settleRefs = (): void => {
    if (busy > 0 || !started) worker.ref();
    else worker.unref();
  };
  const failAll = (err: Error): void => {
    failure ??= err;
    for (const w of waiters.values()) w.reject(err);
    waiters.clear();
  };

  worker.on('message', (msg: TargetWorkerReply) => {
    const key =
      msg.type === 'ready' || msg.type === 'error' ? 'start' : msg.type === 'stats' ? `stats:${msg.id}` : 'closed';
    const w = waiters.get(key);
    if (!w) return;
    waiters.delete(key);
    w.resolve(msg);
  });
  worker.on('error', (err) => failAll(new Error(`target thread failed: ${err.message}`)));
  worker.on('exit', (code) => {
    exited = true;
    failAll(new Error(`target thread exited (code ${code})`));
  });

  /** Waits for one reply, bounded by timeoutMs; keeps the worker ref'd meanwhile. */
  const await_ = (key: string, timeoutMs: number, send?: TargetWorkerRequest): Promise<TargetWorkerReply> => {
    if (failure) return Promise.reject(failure);
    busy++;
    settleRefs();
    return new Promise<TargetWorkerReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(key);
        reject(new Error(`target thread did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.set(key, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      if (send) worker.postMessage(send);
    }).finally(() => {
      busy--;
      settleRefs();
    });
  };

  let first: TargetWorkerReply;
  try {
    first = await await_('start', START_TIMEOUT_MS);
  } catch (err) {
    await worker.terminate();
    throw err;
  }
  if (first.type !== 'ready') {
    await worker.terminate();
    const message = first.type === 'error' ? first.message : 'target thread sent an unexpected reply';
    const err = new Error(message) as NodeJS.ErrnoException;
    if (first.type === 'error' && first.code) err.code = first.code;
    throw err;
  }
  started = true;
  settleRefs();

  let nextId = 0;
  let closing: Promise<void> | undefined;
  return {
    host: opts.host,
    port: first.port,
    stats: async () => {
      const id = nextId++;
      const reply = await await_(`stats:${id}`, REPLY_TIMEOUT_MS, { type: 'stats', id });
      if (reply.type !== 'stats') throw new Error('target thread sent an unexpected reply');
      return reply.stats;
    },
    close: () => {
      closing ??= (async () => {
        if (!exited) {
          // A timeout or a dead worker both end the same way: terminate.
          await await_('closed', REPLY_TIMEOUT_MS, { type: 'close' }).catch(() => undefined);
        }
        failure ??= new Error('target thread is closed');
        await worker.terminate();
      })();
      return closing;
    },
  };
}
