/** Worker-thread entry of the sampler: samples on its own event loop and streams to the parent. */
import { parentPort, workerData } from 'node:worker_threads';
import { Sampler, type SamplerOptions } from './sampler.js';
import type { FromSampler, ToSampler } from './monitor.js';

const port = parentPort!;
const send = (m: FromSampler): void => port.postMessage(m);
const sampler = new Sampler(workerData as SamplerOptions, (sample) => send({ type: 'sample', sample }));
port.on('message', (m: ToSampler) => {
  if (m.type !== 'stop') return;
  // A last full sample, so the record ends on the state the load left behind.
  void sampler
    .stop()
    .then(() => sampler.finalSample())
    .then(() => {
      sampler.dispose();
      send({ type: 'stopped', status: sampler.status() });
      port.close();
    });
});
sampler.start();
