/**
 * Run: `npx tsc -p tsconfig.json && node build/bench/monitor-overhead.js [--rounds 3] [--duration 5]`
 *
 * What the socket monitor costs the load, and how steady its cadence stays under full load:
 * the same closed-model scenario (50 users, a new connection per request, the built-in target)
 * with the monitor on and off, interleaved in rounds; the median completed/s of each and their
 * ratio, the monitor's sample lateness against its 250 ms interval, and the scans' share of one
 * core (sum of scan costs / run time). Traffic stays on 127.0.0.1.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runScenario } from '../src/run.js';
import { parseScenario } from '../src/scenario/load.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const ROUNDS = arg('rounds', 3);
const DURATION = Math.min(30, arg('duration', 5));
const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-monitor-bench-'));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Round {
  on: number;
  off: number;
  lateP50: number;
  lateMax: number;
  scanShare: number;
  scanCostP50: number;
}

async function once(monitor: boolean): Promise<{ rate: number; late: { p50: number; max: number } | null; share: number; cost: number }> {
  const scenario = parseScenario(
    {
      name: `monitor-${monitor ? 'on' : 'off'}`,
      connection: { reuse: false, close: 'client' },
      load: [{ model: 'users', users: 50, duration: DURATION }],
      workers: 1,
      monitor: { enabled: monitor },
    },
    'bench',
  );
  const { record } = await runScenario({ scenario, resultsDir: dir });
  const m = record.monitor;
  return {
    rate: record.totals.completed / record.durationS,
    late: m.lateMs,
    share: m.scanCostMs ? (m.scans * m.scanCostMs.p50) / 1000 / record.durationS : 0,
    cost: m.scanCostMs?.p50 ?? 0,
  };
}

const rounds: Round[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const off = await once(false);
  const on = await once(true);
  rounds.push({ on: on.rate, off: off.rate, lateP50: on.late?.p50 ?? NaN, lateMax: on.late?.max ?? NaN, scanShare: on.share, scanCostP50: on.cost });
  process.stderr.write(`round ${r + 1}: off ${off.rate.toFixed(0)}/s, on ${on.rate.toFixed(0)}/s, lateness p50 ${on.late?.p50} ms max ${on.late?.max} ms\n`);
}
rmSync(dir, { recursive: true, force: true });
const on = median(rounds.map((r) => r.on));
const off = median(rounds.map((r) => r.off));
process.stdout.write(
  [
    `monitor off: ${off.toFixed(0)} completed/s (median of ${ROUNDS})`,
    `monitor on:  ${on.toFixed(0)} completed/s  → ratio on/off ${(on / off).toFixed(3)} (${((1 - on / off) * 100).toFixed(1)} % lower)`,
    `sample lateness vs the 250 ms interval: p50 ${median(rounds.map((r) => r.lateP50)).toFixed(1)} ms, worst ${Math.max(...rounds.map((r) => r.lateMax)).toFixed(1)} ms`,
    `scan cost p50 ${median(rounds.map((r) => r.scanCostP50)).toFixed(1)} ms; scans' share of one core ${(median(rounds.map((r) => r.scanShare)) * 100).toFixed(2)} %`,
  ].join('\n') + '\n',
);
