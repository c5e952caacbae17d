/**
 * `node build/bench/heap-limits.js [--rounds 5] [--duration 5]`: what the young-generation caps
 * (src/thread-limits.ts) cost in throughput. One built-in target, portstorm closed-model load
 * (50 users, `reuse: false, close: server` and keep-alive) run in this process with the caps and
 * with V8's own sizing (PORTSTORM_MAX_YOUNG_GEN_MB=0), interleaved per round; prints the median
 * rate of each and the capped/uncapped ratio. Traffic goes to 127.0.0.1 only and every run is
 * bounded by its duration.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { runScenario } from '../src/run.js';
import { parseScenario } from '../src/scenario/load.js';
import { startTargetThread, type TargetThread } from '../src/target/thread.js';
import { capMainYoungGeneration } from '../src/thread-limits.js';
import { median } from './throughput.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, duration: { type: 'string', default: '5' } } });
const rounds = Number(values.rounds);
const durationS = Number(values.duration);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20 || !(durationS >= 1 && durationS <= 30)) {
  console.error('heap-limits: --rounds takes 1 to 20, --duration 1 to 30 seconds');
  process.exit(2);
}

const MODES = ['capped', 'V8 sizing'] as const;
const LOADS = { 'close:server': { reuse: false, close: 'server' }, 'keep-alive': { reuse: true, poolSize: 50 } } as const;

/** Applies a mode to threads started from now on: the env for workers, the growth factor for this one. */
function useMode(mode: (typeof MODES)[number]): void {
  if (mode === 'capped') {
    delete process.env.PORTSTORM_MAX_YOUNG_GEN_MB;
    capMainYoungGeneration();
  } else {
    process.env.PORTSTORM_MAX_YOUNG_GEN_MB = '0';
    v8.setFlagsFromString('--semi-space-growth-factor=2');
  }
}

async function measure(url: string, connection: object, dir: string): Promise<number> {
  const doc = {
    name: 'bench-heap-limits',
    target: url,
    connection,
    load: [{ model: 'users', users: 50, duration: durationS }],
    timeouts: { connect: 2, request: 10 },
    limits: { maxDuration: durationS + 5 },
  };
  const { record } = await runScenario({ scenario: parseScenario(doc, 'bench'), resultsDir: dir, label: 'heap-limits' });
  return record.totals.completed / record.durationS;
}

console.log(`heap-limits: ${rounds} rounds of ${durationS} s, 50 users; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const dir = await mkdtemp(path.join(os.tmpdir(), 'portstorm-heap-limits-'));
const rates = new Map<string, number[]>();
let target: TargetThread | null = null;
try {
  for (let round = 1; round <= rounds; round++) {
    for (const mode of MODES) {
      useMode(mode);
      // The target is a thread too: restarted per mode so it runs under that mode's limits.
      target = await startTargetThread({ protocol: 'http', host: '127.0.0.1', port: 0, delayMs: 0, bodyBytes: 2, close: 'never' });
      for (const [name, connection] of Object.entries(LOADS)) {
        const rate = await measure(`http://127.0.0.1:${target.port}/`, connection, dir);
        const key = `${name} ${mode}`;
        rates.set(key, [...(rates.get(key) ?? []), rate]);
        console.log(`round ${round}  ${key.padEnd(24)} ${Math.round(rate)} req/s`);
      }
      await target.close();
      target = null;
    }
  }
} finally {
  await target?.close();
  await rm(dir, { recursive: true, force: true });
}
console.log('');
for (const name of Object.keys(LOADS)) {
  const capped = median(rates.get(`${name} capped`)!);
  const free = median(rates.get(`${name} V8 sizing`)!);
  console.log(`${name.padEnd(14)} capped ${Math.round(capped)} req/s, V8 sizing ${Math.round(free)} req/s: ${(capped / free).toFixed(3)}x`);
}
console.log(`heap-limits: load average at the end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
