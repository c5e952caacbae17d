/**
 * The generator's pacing against a fake transport (no sockets): on a transport that schedules,
 * arrivals are handed over ahead of time with their due time; at maxInFlight an arrival is decided
 * at its due time, not when it would have been handed over; a stop cancels what is not due yet and
 * those are no attempts. On one that does not schedule, arrivals start when due, as before.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { epochMs, runClock } from '../../src/load/clock.js';
import { LoadGenerator, SCHEDULE_AHEAD_MS } from '../../src/load/generator.js';
import { arrivalSchedule } from '../../src/load/pacer.js';
import type { ExchangeResult, Transport } from '../../src/load/transport/types.js';
import type { WireBucket } from '../../src/record/bucket.js';
import { parseScenario } from '../../src/scenario/load.js';

interface Handed {
  notBefore: number | undefined;
  /** performance.now() when the generator handed it over. */
  at: number;
  settledAt: number | null;
  notStarted: boolean;
  resolve: (r: ExchangeResult) => void;
}

/** A transport whose exchanges succeed at their not-before time (at once without one). */
function fakeTransport(schedules: boolean): Transport & { handed: Handed[]; cancels: number } {
  const handed: Handed[] = [];
  const settle = (h: Handed, notStarted: boolean): void => {
    if (h.settledAt !== null) return;
    const now = performance.now();
    h.settledAt = now;
    h.notStarted = notStarted;
    h.resolve({
      startedAt: now,
      firstByteAt: notStarted ? null : now,
      endedAt: now,
      localPort: notStarted ? null : 1,
      connectMs: notStarted ? null : 0,
      failure: notStarted ? { code: 'ABORTED', phase: 'connect', message: 'not started' } : null,
      ...(notStarted ? { notStarted: true } : {}),
    });
  };
  const t = {
    handed,
    cancels: 0,
    schedules: schedules || undefined,
    exchange: (notBefore?: number): Promise<ExchangeResult> =>
      new Promise<ExchangeResult>((resolve) => {
        const h: Handed = { notBefore, at: performance.now(), settledAt: null, notStarted: false, resolve };
        handed.push(h);
        setTimeout(() => settle(h, false), Math.max(0, (notBefore ?? 0) - performance.now()));
      }),
    cancelScheduled(): void {
      t.cancels++;
      const now = performance.now();
      for (const h of handed) if (h.notBefore !== undefined && h.notBefore > now) settle(h, true);
    },
    close: async (): Promise<void> => undefined,
  };
  return t;
}

interface Totals {
  attempted: number;
  dropped: number;
  /** Attempted per second, from every delta shipped. */
  perSecond: Map<number, number>;
}

async function runGenerator(
  load: Record<string, unknown>,
  transport: Transport,
  during?: (gen: LoadGenerator) => void,
): Promise<{ totals: Totals; startEpochMs: number }> {
  const scenario = parseScenario({ name: 'pacing', target: 'http://127.0.0.1:9/', load: [load] }, 'test');
  const totals: Totals = { attempted: 0, dropped: 0, perSecond: new Map() };
  const sink = {
    buckets: (bs: WireBucket[]): void => {
      for (const b of bs) {
        totals.attempted += b.attempted;
        totals.dropped += b.dropped;
        totals.perSecond.set(b.t, (totals.perSecond.get(b.t) ?? 0) + b.attempted);
      }
    },
    sample: (): void => undefined,
  };
  const gen = new LoadGenerator(
    { scenario, host: '127.0.0.1', port: 9, authority: '127.0.0.1:9', tls: null, lookupName: null, shard: { index: 0, count: 1 }, requestLogFile: null },
    sink,
    transport,
  );
  const startEpochMs = epochMs() + 20;
  const running = gen.run(startEpochMs);
  during?.(gen);
  await running;
  return { totals, startEpochMs };
}

describe('generator pacing with a scheduling transport', () => {
  it('hands each arrival over with its due time, never more than SCHEDULE_AHEAD_MS early', async () => {
    const group = { model: 'arrival-rate', rate: 200, duration: 0.5 } as const;
    const t = fakeTransport(true);
    const { totals, startEpochMs } = await runGenerator(group, t);
    const schedule = arrivalSchedule({ ...group, rampUp: 0 });
    const clock = runClock(startEpochMs);
    assert.equal(t.handed.length, schedule.total);
    assert.equal(totals.attempted, schedule.total);
    t.handed.forEach((h, n) => {
      const due = clock.toPerf(schedule.at(n)!);
      assert.ok(h.notBefore !== undefined && Math.abs(h.notBefore - due) < 1e-6, `#${n}: ${h.notBefore} vs ${due}`);
      assert.ok(h.at >= due - SCHEDULE_AHEAD_MS - 0.001, `#${n} handed over ${(due - h.at).toFixed(3)} ms early`);
    });
    assert.equal(t.cancels, 0);
  });

  it('a transport that does not schedule gets each arrival when it is due, without a time', async () => {
    const group = { model: 'arrival-rate', rate: 200, duration: 0.3 } as const;
    const t = fakeTransport(false);
    const { startEpochMs } = await runGenerator(group, t);
    const schedule = arrivalSchedule({ ...group, rampUp: 0 });
    const clock = runClock(startEpochMs);
    assert.equal(t.handed.length, schedule.total);
    t.handed.forEach((h, n) => {
      assert.equal(h.notBefore, undefined);
      assert.ok(h.at >= clock.toPerf(schedule.at(n)!) - 0.001, `#${n} started early`);
    });
  });

  it('at maxInFlight, the limit holds and an arrival is dropped only if the group is still at it when the arrival is due', async () => {
    // 40/s with maxInFlight 1: each exchange ends at its own due time, 25 ms before the next one
    // is due. Decided when handed over (up to SCHEDULE_AHEAD_MS early, while the one before is
    // still pending) arrivals would be dropped although nothing is in flight at their due time.
    const group = { model: 'arrival-rate', rate: 40, duration: 1, maxInFlight: 1 } as const;
    const t = fakeTransport(true);
    const { totals, startEpochMs } = await runGenerator(group, t);
    const schedule = arrivalSchedule({ ...group, rampUp: 0 });
    const clock = runClock(startEpochMs);
    const dues = Array.from({ length: schedule.total }, (_, n) => clock.toPerf(schedule.at(n)!));
    assert.equal(totals.attempted + totals.dropped, schedule.total);
    assert.equal(totals.attempted, t.handed.length);
    for (let k = 1; k < t.handed.length; k++) {
      const prev = t.handed[k - 1]!;
      assert.ok(prev.settledAt !== null && prev.settledAt <= t.handed[k]!.at, `#${k} handed over while #${k - 1} was in flight`);
    }
    // Each dropped arrival found an earlier one still in flight at (or after) its due time.
    const indexOf = (h: Handed): number => dues.findIndex((d) => Math.abs(d - h.notBefore!) < 1e-6);
    const handedIndexes = new Set(t.handed.map(indexOf));
    for (let j = 0; j < dues.length; j++) {
      if (handedIndexes.has(j)) continue;
      const blocker = t.handed.find((h) => indexOf(h) < j && h.settledAt! > dues[j]!);
      assert.ok(blocker, `arrival ${j} was dropped, but everything before it had ended by its due time`);
    }
  });

  it('stop(): arrivals handed over but not due are cancelled, and are no attempts', async () => {
    const group = { model: 'arrival-rate', rate: 200, duration: 5 } as const;
    const t = fakeTransport(true);
    let stoppedAt = 0;
    const { totals } = await runGenerator(group, t, (gen) => {
      setTimeout(() => {
        stoppedAt = performance.now();
        gen.stop();
      }, 300);
    });
    assert.equal(t.cancels, 1);
    const cancelled = t.handed.filter((h) => h.notStarted);
    const started = t.handed.filter((h) => !h.notStarted);
    assert.ok(cancelled.length > 0, 'arrivals were pending at the stop');
    assert.ok(cancelled.every((h) => h.notBefore! > stoppedAt));
    assert.equal(totals.attempted, started.length);
    for (const [sec, n] of totals.perSecond) assert.ok(n >= 0, `second ${sec}: ${n}`);
    assert.equal(totals.dropped, 0);
  });
});
