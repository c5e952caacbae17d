/**
 * What a watched agent costs the run's main thread and heap: an hour of an agent's samples (4 a
 * second, a scan each second with 20 destinations) kept and folded into its HostRecord, as every
 * checkpoint and the final record do. `node build/bench/watch-fold.js [minutes]`.
 */
import { performance } from 'node:perf_hooks';
import { COUNTER_NAMES, MAX_DESTINATIONS, type CounterDeltas, type MonitorSample, type StateCounts } from '../src/monitor/types.js';
import { foldWatchedHost } from '../src/watch/fold-watched.js';

const minutes = Number(process.argv[2] ?? 60);
const START = 1_700_000_000_000;
const OFFSET = 4321;
const states = (tw: number): StateCounts => ({ established: 100, synSent: 0, synRecv: 0, finWait1: 0, finWait2: 0, timeWait: tw, close: 0, closeWait: 0, lastAck: 0, listen: 2, closing: 0 });
const counters = (): CounterDeltas => Object.fromEntries(COUNTER_NAMES.map((c) => [c, 3])) as CounterDeltas;

function sample(i: number): MonitorSample {
  const at = START + i * 250 + OFFSET;
  const tw = 1000 + (i % 500);
  const scan =
    i % 4 === 0
      ? {
          at,
          costMs: 3,
          source: 'sockdiag' as const,
          total: tw + 100,
          states: states(tw),
          client: states(tw),
          server: states(0),
          ephemeralInUse: tw,
          destinations: Array.from({ length: MAX_DESTINATIONS }, (_, d) => ({ dest: `10.0.${d}.1:8080`, inUse: tw - d, timeWait: tw - d - 50, established: 50, bySource: null, utilization: (tw - d) / 28_232, timeWaitLeft: null })),
          sources: { '10.0.0.2': tw },
        }
      : null;
  return { at, lateMs: 0.2, sockstat: { at, timeWait: tw, inUse: tw + 100, orphan: 0, alloc: tw + 100, inUse6: 0 }, scan, counters: counters(), conntrack: { count: tw, max: 262_144 }, fds: { open: 40, soft: 1024, hard: 4096 }, cpu: { processUs: 100, host: { busy: 10, total: 400, cpus: 4 } } };
}

const n = minutes * 60 * 4;
global.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
const samples = Array.from({ length: n }, (_, i) => sample(i));
global.gc?.();
const heapAfter = process.memoryUsage().heapUsed;
const snapshot = {
  name: 'service',
  identity: { role: 'service' as const, address: 'http://10.0.0.9:9464', source: 'agent' as const, clock: { method: 'round-trip' as const, offsetMs: OFFSET, uncertaintyMs: 0.1, probes: 8 }, host: null },
  samples,
  status: { source: 'sockdiag' as const, unavailable: {}, effectiveScanIntervalMs: 1000 },
  intervalMs: 250,
  scanIntervalMs: 1000,
  outages: [{ fromMs: START + 600_000, toMs: START + 630_000, cause: 'stalled (no line for 3 s)', attempts: 1, lastFailure: null, gaveUp: false }],
  droppedLines: 0,
  firstDropped: null,
  samplesPastCap: 0,
  notes: [],
};
const times: number[] = [];
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  foldWatchedHost(snapshot, { startEpochMs: START, durationS: minutes * 60 });
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
console.log(`${minutes} min of one agent: ${n} samples (${n / 4} scans of ${MAX_DESTINATIONS} destinations)`);
console.log(`kept: ${((heapAfter - heapBefore) / 1024 / 1024).toFixed(1)} MiB heap (${((heapAfter - heapBefore) / n).toFixed(0)} B a sample)${global.gc ? '' : ' (run with --expose-gc for a steadier figure)'}`);
console.log(`fold per checkpoint: median ${times[2]!.toFixed(1)} ms, min ${times[0]!.toFixed(1)} ms, max ${times[4]!.toFixed(1)} ms`);
