/**
 * Worker-thread entry for the built-in target (see thread.ts): runs startTarget outside the load
 * generator's event loop and answers the parent over postMessage.
 *
 * Parent -> worker: {type:'stats', id} | {type:'close'}
 * Worker -> parent: {type:'ready', port} | {type:'error', message, code} | {type:'stats', id, stats}
 *                   | {type:'closed'}
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startTarget, type TargetOptions, type TargetStats } from './server.js';

/** A message from the parent thread. */
export type TargetWorkerRequest = { type: 'stats'; id: number } | { type: 'close' };
/** A message to the parent thread. */
export type TargetWorkerReply =
  | { type: 'ready'; port: number }
  | { type: 'error'; message: string; code?: string }
  | { type: 'stats'; id: number; stats: TargetStats }
  | { type: 'closed' };

if (!parentPort) throw new Error('target/worker.js must run in a worker thread');
const port = parentPort;
const reply = (msg: TargetWorkerReply): void => port.postMessage(msg);

try {
  const target = await startTarget(workerData as TargetOptions);
  port.on('message', (msg: TargetWorkerRequest) => {
    if (msg.type === 'stats') reply({ type: 'stats', id: msg.id, stats: target.stats() });
    else if (msg.type === 'close') void target.close().then(() => reply({ type: 'closed' }));
  });
  reply({ type: 'ready', port: target.port });
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  reply({ type: 'error', message: e.message ?? String(err), code: e.code });
}
