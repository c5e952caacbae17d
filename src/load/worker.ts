/** Worker-thread entry: runs one shard of the load and streams its buckets to the main thread. */
import { parentPort, workerData } from 'node:worker_threads';
import { epochMs } from './clock.js';
import { LoadGenerator, type GeneratorConfig } from './generator.js';
import type { ToMain, ToWorker } from './messages.js';

const port = parentPort!;
const send = (m: ToMain): void => port.postMessage(m);
const generator = new LoadGenerator(workerData as GeneratorConfig, {
  buckets: (buckets) => send({ type: 'buckets', buckets }),
  sample: (sample) => send({ type: 'sample', sample }),
});

port.on('message', (m: ToWorker) => {
  if (m.type === 'start') {
    send({ type: 'started', behindMs: Math.max(0, epochMs() - m.startEpochMs) });
    generator.run(m.startEpochMs).then(
      () => finish({ type: 'done' }),
      (err: unknown) => finish({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
    );
  } else if (m.type === 'stop') generator.stop();
  else void generator.abort();
});
send({ type: 'ready' });

function finish(m: ToMain): void {
  send(m);
  port.close();
}
