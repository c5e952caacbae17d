/**
 * Piecewise arrival rates (`stages`), stepped user ramps (`rampSteps`) and a random think time
 * (`thinkTimeRandom`): the schedule each yields, and that the generator follows them (fake
 * transport, no sockets).
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { epochMs } from '../../src/load/clock.js';
import { LoadGenerator } from '../../src/load/generator.js';
import { arrivalSchedule, plannedRate, userStartOffset, type ArrivalSchedule } from '../../src/load/pacer.js';
import type { ExchangeResult, Transport } from '../../src/load/transport/types.js';
import { parseScenario } from '../../src/scenario/load.js';
import type { ArrivalRateGroup } from '../../src/scenario/schema.js';

function staged(stages: { duration: number | string; rate: number; startRate?: number }[]): ArrivalRateGroup {
  const g = parseScenario({ load: [{ model: 'arrival-rate', stages }] }, 'test').load[0]!;
  assert.equal(g.model, 'arrival-rate');
  return g as ArrivalRateGroup;
}

function offsets(s: ArrivalSchedule): number[] {
  return Array.from({ length: s.total }, (_, n) => s.at(n)!);
}

const inWindow = (ts: number[], from: number, to: number): number[] => ts.filter((t) => t >= from && t < to);

describe('arrivalSchedule: stages', () => {
  it('stepped stages (bzm Arrivals: 10/s target, 20 s ramp in 4 steps, 10 s hold) give each step its rate', () => {
    const g = staged([
      { duration: 5, rate: 2.5 },
      { duration: 5, rate: 5 },
      { duration: 5, rate: 7.5 },
      { duration: 5, rate: 10 },
      { duration: 10, rate: 10 },
    ]);
    assert.equal(g.rate, 10);
    assert.equal(g.duration, 30);
    const s = arrivalSchedule(g);
    assert.equal(s.total, 225); // 12.5 + 25 + 37.5 + 50 + 100
    const ts = offsets(s);
    assert.ok(ts.every((t, i) => i === 0 || t > ts[i - 1]!), 'strictly increasing');
    assert.ok(ts.every((t) => t >= 0 && t < 30));
    // Inside a step the spacing is exactly 1/rate.
    for (const [from, to, rate] of [[0, 5, 2.5], [5, 10, 5], [10, 15, 7.5], [15, 30, 10]] as const) {
      const w = inWindow(ts, from, to);
      for (let i = 1; i < w.length; i++) assert.ok(Math.abs(w[i]! - w[i - 1]! - 1 / rate) < 1e-9, `spacing at ${w[i]} in [${from}, ${to})`);
      assert.ok(Math.abs(w.length - rate * (to - from)) <= 1, `${w.length} arrivals in [${from}, ${to}) at ${rate}/s`);
    }
    assert.equal(plannedRate(g, 4.999), 2.5);
    assert.equal(plannedRate(g, 5), 5);
    assert.equal(plannedRate(g, 29.9), 10);
    assert.equal(plannedRate(g, 30), 0);
  });

  it('linear stages (bzm Free-Form: 0→10/s over 10 s, 10/s for 5 s, 10→0/s over 10 s) follow each line', () => {
    const g = staged([
      { duration: 10, startRate: 0, rate: 10 },
      { duration: 5, rate: 10 },
      { duration: 10, startRate: 10, rate: 0 },
    ]);
    const s = arrivalSchedule(g);
    assert.equal(s.total, 150);
    assert.equal(plannedRate(g, 5), 5);
    assert.equal(plannedRate(g, 12), 10);
    assert.equal(plannedRate(g, 20), 5);
    const ts = offsets(s);
    // The cumulative count at t is N(t): 50 by 10 s, 100 by 15 s.
    assert.equal(inWindow(ts, 0, 10).length, 50);
    assert.equal(inWindow(ts, 10, 15).length, 50);
    assert.equal(inWindow(ts, 15, 25).length, 50);
    // Local spacing matches 1 / planned rate in the middle of each ramp.
    for (const t of [5, 20]) {
      const i = ts.findIndex((x) => x >= t);
      const gap = ts[i + 1]! - ts[i]!;
      assert.ok(Math.abs(gap * plannedRate(g, ts[i]!) - 1) < 0.05, `gap ${gap} at ${t}`);
    }
  });

  it('a stage at rate 0 holds no arrivals', () => {
    const s = arrivalSchedule(staged([{ duration: 5, rate: 2 }, { duration: 5, rate: 0 }, { duration: 5, rate: 2 }]));
    const ts = offsets(s);
    assert.equal(s.total, 20);
    assert.equal(inWindow(ts, 5, 10).length, 0);
    assert.equal(inWindow(ts, 0, 5).length, 10);
  });

  it('a ramp and a hold written as stages give the same schedule as rampUp', () => {
    const ramped = arrivalSchedule({ rate: 40, startRate: 4, rampUp: 3, duration: 8 });
    const asStages = arrivalSchedule(staged([{ duration: 3, startRate: 4, rate: 40 }, { duration: 5, rate: 40 }]));
    assert.equal(asStages.total, ramped.total);
    const a = offsets(ramped);
    offsets(asStages).forEach((t, i) => assert.ok(Math.abs(t - a[i]!) < 1e-9, `#${i}: ${t} vs ${a[i]}`));
  });

  it('a resolved staged group (rate = peak, duration = sum) is valid input again; a different rate is refused', () => {
    const g = staged([{ duration: '2s', rate: 3 }, { duration: 1, startRate: 3, rate: 6 }]);
    const again = parseScenario({ load: [g] }, 'again').load[0]!;
    assert.deepEqual(again, g);
    assert.throws(() => parseScenario({ load: [{ ...g, rate: 7 }] }, 'x.yaml'), /x\.yaml: load\[0\]\.rate: expected no rate with stages \(it is their peak, 6\)/);
    assert.throws(() => parseScenario({ load: [{ model: 'arrival-rate', stages: [{ duration: 1, rate: 0 }] }] }, 'x.yaml'), /expected a stage with a rate greater than 0/);
  });
});

describe('userStartOffset: steps', () => {
  it('starts 10 users over 20 s in 4 steps as bzm Concurrency does (levels 3, 5, 8, 10)', () => {
    const starts = Array.from({ length: 10 }, (_, i) => userStartOffset(i, 10, 20, 4));
    assert.deepEqual(starts, [0, 0, 0, 5, 5, 10, 10, 10, 15, 15]);
  });

  it('without steps, users still start one by one', () => {
    assert.deepEqual(Array.from({ length: 4 }, (_, i) => userStartOffset(i, 4, 2)), [0, 0.5, 1, 1.5]);
  });
});

/** A transport whose exchanges succeed at once, remembering when each started. */
function instantTransport(): Transport & { starts: number[] } {
  const starts: number[] = [];
  return {
    starts,
    exchange: async (): Promise<ExchangeResult> => {
      const now = performance.now();
      starts.push(now);
      return { startedAt: now, firstByteAt: now, endedAt: now, localPort: 1, connectMs: 0, failure: null };
    },
    close: async (): Promise<void> => undefined,
  };
}

async function runUsers(group: Record<string, unknown>, transport: Transport): Promise<number> {
  const scenario = parseScenario({ target: 'http://127.0.0.1:9/', load: [group] }, 'test');
  const gen = new LoadGenerator(
    { scenario, host: '127.0.0.1', port: 9, authority: '127.0.0.1:9', tls: null, lookupName: null, shard: { index: 0, count: 1 }, requestLogFile: null },
    { buckets: () => undefined, sample: () => undefined },
    transport,
  );
  const start = epochMs() + 20;
  const t0 = performance.now() + 20;
  await gen.run(start);
  return t0;
}

describe('generator: users with rampSteps and thinkTimeRandom', () => {
  it('starts the users of a stepped ramp step by step', async () => {
    const t = instantTransport();
    const t0 = await runUsers({ model: 'users', users: 4, rampUp: '400ms', rampSteps: 2, iterations: 1 }, t);
    const at = t.starts.map((s) => s - t0).sort((a, b) => a - b);
    assert.equal(at.length, 4);
    assert.ok(at[1]! < 100, `the first step's users start at once: ${at.map(Math.round)}`);
    assert.ok(at[2]! >= 195 && at[3]! >= 195, `the second step's users start at 200 ms: ${at.map(Math.round)}`);
  });

  it('waits thinkTime plus a uniformly random part in [0, thinkTimeRandom) between requests', async () => {
    const t = instantTransport();
    await runUsers({ model: 'users', users: 1, iterations: 16, thinkTime: '20ms', thinkTimeRandom: '100ms' }, t);
    const gaps = t.starts.slice(1).map((s, i) => s - t.starts[i]!);
    assert.equal(gaps.length, 15);
    assert.ok(gaps.every((g) => g >= 19), `every gap is at least thinkTime: ${gaps.map(Math.round)}`);
    assert.ok(gaps.every((g) => g < 20 + 100 + 60), `no gap far past thinkTime + thinkTimeRandom: ${gaps.map(Math.round)}`);
    const spread = Math.max(...gaps) - Math.min(...gaps);
    assert.ok(spread > 20, `the gaps vary (spread ${spread.toFixed(1)} ms): ${gaps.map(Math.round)}`);
  });
});
