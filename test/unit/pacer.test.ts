import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { arrivalSchedule, plannedRate, userStartOffset, type ArrivalSchedule } from '../../src/load/pacer.js';

type Group = { rate: number; startRate?: number; rampUp: number; duration: number };

function offsets(s: ArrivalSchedule): number[] {
  const out: number[] = [];
  for (let n = 0; n < s.total; n++) {
    const t = s.at(n);
    assert.notEqual(t, null, `at(${n}) of ${s.total}`);
    out.push(t as number);
  }
  return out;
}

function assertWellFormed(s: ArrivalSchedule, duration: number): number[] {
  const ts = offsets(s);
  for (let i = 0; i < ts.length; i++) {
    assert.ok(Number.isFinite(ts[i]), `offset ${i} is ${ts[i]}`);
    assert.ok(ts[i] >= 0 && ts[i] < duration, `offset ${i} = ${ts[i]} not in [0, ${duration})`);
    if (i > 0) assert.ok(ts[i] > ts[i - 1], `offsets ${i - 1},${i} not strictly increasing: ${ts[i - 1]}, ${ts[i]}`);
  }
  assert.equal(s.at(s.total), null);
  return ts;
}

function near(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} not within ${tol} of ${expected}`);
}

/** Index of the first arrival at or after t (binary search on a monotonic schedule). */
function firstAtOrAfter(s: ArrivalSchedule, t: number): number {
  let lo = 0;
  let hi = s.total;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((s.at(mid) as number) < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

describe('arrivalSchedule: constant rate', () => {
  for (const [rate, duration] of [
    [10, 1],
    [100, 3],
    [7, 2.4],
    [3, 10],
    [1000, 1.2344],
  ] as const) {
    it(`${rate}/s over ${duration}s holds round(r·D) evenly spaced arrivals in [0, D)`, () => {
      const s = arrivalSchedule({ rate, rampUp: 0, duration });
      assert.equal(s.total, Math.round(rate * duration));
      const ts = assertWellFormed(s, duration);
      assert.equal(ts.length, s.total);
      for (let i = 1; i < ts.length; i++) near(ts[i] - ts[i - 1], 1 / rate, 1e-9, `gap ${i}`);
      // Arrival n sits where the cumulative count reaches n + 0.5.
      near(ts[0], 0.5 / rate, 1e-12, 'first offset');
    });
  }

  it('a startRate without rampUp is ignored (constant rate)', () => {
    const s = arrivalSchedule({ rate: 20, startRate: 5, rampUp: 0, duration: 2 });
    assert.equal(s.total, 40);
    const ts = assertWellFormed(s, 2);
    for (let i = 1; i < ts.length; i++) near(ts[i] - ts[i - 1], 1 / 20, 1e-9, `gap ${i}`);
  });

  it('tiny fractional rate: 0.5/s over 10s gives 5 arrivals 2s apart', () => {
    const s = arrivalSchedule({ rate: 0.5, rampUp: 0, duration: 10 });
    assert.equal(s.total, 5);
    const ts = assertWellFormed(s, 10);
    assert.deepEqual(
      ts.map((t) => Math.round(t * 1e9) / 1e9),
      [1, 3, 5, 7, 9],
    );
  });

  it('a rate too low for even one arrival yields an empty schedule', () => {
    const s = arrivalSchedule({ rate: 0.1, rampUp: 0, duration: 2 });
    assert.equal(s.total, 0);
    assert.equal(s.at(0), null);
  });

  it('big rate: 50 000/s over 2s gives 100 000 monotonic arrivals', () => {
    const s = arrivalSchedule({ rate: 50_000, rampUp: 0, duration: 2 });
    assert.equal(s.total, 100_000);
    let prev = -Infinity;
    for (let n = 0; n < s.total; n++) {
      const t = s.at(n) as number;
      assert.ok(t > prev && t < 2, `at(${n}) = ${t} after ${prev}`);
      prev = t;
    }
    near((s.at(1) as number) - (s.at(0) as number), 1 / 50_000, 1e-12, 'gap');
    near((s.at(99_999) as number) - (s.at(99_998) as number), 1 / 50_000, 1e-9, 'last gap');
    assert.equal(s.at(100_000), null);
  });
});

describe('arrivalSchedule: at() bounds', () => {
  it('returns null for n < 0 and n >= total, numbers inside', () => {
    const s = arrivalSchedule({ rate: 10, rampUp: 0, duration: 1 });
    assert.equal(s.total, 10);
    assert.equal(s.at(-1), null);
    assert.equal(s.at(-100), null);
    assert.equal(s.at(10), null);
    assert.equal(s.at(11), null);
    assert.equal(s.at(1e9), null);
    assert.equal(typeof s.at(0), 'number');
    assert.equal(typeof s.at(9), 'number');
  });
});

describe('arrivalSchedule: linear ramps', () => {
  const rampCases: Array<{ name: string; g: Group; r0: number }> = [
    { name: 'ramp up 10→100/s over 5s of 10s', g: { rate: 100, startRate: 10, rampUp: 5, duration: 10 }, r0: 10 },
    { name: 'ramp up from 0 (no startRate) to 200/s over 4s of 6s', g: { rate: 200, rampUp: 4, duration: 6 }, r0: 0 },
    { name: 'ramp down 300→50/s over 3s of 5s', g: { rate: 50, startRate: 300, rampUp: 3, duration: 5 }, r0: 300 },
    { name: 'ramp up from explicit 0 to 1000/s over 2s of 3s', g: { rate: 1000, startRate: 0, rampUp: 2, duration: 3 }, r0: 0 },
  ];

  for (const { name, g, r0 } of rampCases) {
    describe(name, () => {
      const s = arrivalSchedule(g);
      const T = g.rampUp;
      const expectedRamp = ((r0 + g.rate) / 2) * T;
      const expectedTotal = expectedRamp + g.rate * (g.duration - T);

      it('holds ≈ (r0+r1)/2·T arrivals in the ramp and the right total', () => {
        const ts = assertWellFormed(s, g.duration);
        const inRamp = ts.filter((t) => t < T).length;
        near(inRamp, expectedRamp, 1, 'arrivals in ramp');
        near(s.total, expectedTotal, 1, 'total');
      });

      it('local spacing matches 1/plannedRate inside the ramp (within 2%)', () => {
        for (const frac of [0.25, 0.5, 0.75, 0.9]) {
          const t = T * frac;
          const n = firstAtOrAfter(s, t);
          const gap = (s.at(n + 1) as number) - (s.at(n) as number);
          const mid = ((s.at(n + 1) as number) + (s.at(n) as number)) / 2;
          const expected = 1 / plannedRate(g, mid);
          assert.ok(Math.abs(gap - expected) / expected <= 0.02, `at t≈${mid}: gap ${gap}, expected ${expected}`);
        }
      });

      it('the rate ramps in the planned direction', () => {
        const early = firstAtOrAfter(s, T * 0.2);
        const late = firstAtOrAfter(s, T * 0.8);
        const gapEarly = (s.at(early + 1) as number) - (s.at(early) as number);
        const gapLate = (s.at(late + 1) as number) - (s.at(late) as number);
        if (g.rate > r0) assert.ok(gapLate < gapEarly, `ramp up: ${gapLate} should be < ${gapEarly}`);
        else assert.ok(gapLate > gapEarly, `ramp down: ${gapLate} should be > ${gapEarly}`);
      });

      it('arrivals after the ramp are spaced 1/rate', () => {
        const first = firstAtOrAfter(s, T);
        assert.ok(first + 2 < s.total, 'expected several arrivals after the ramp');
        for (let n = first + 1; n < s.total; n++) {
          near((s.at(n) as number) - (s.at(n - 1) as number), 1 / g.rate, 1e-9, `gap after ramp at ${n}`);
        }
      });
    });
  }

  it('rampUp equal to duration ends the ramp at the full rate', () => {
    const g = { rate: 100, startRate: 0, rampUp: 4, duration: 4 };
    const s = arrivalSchedule(g);
    assertWellFormed(s, 4);
    near(s.total, 200, 1, 'total');
  });

  it('rampUp > duration clamps the ramp to the duration, consistently with plannedRate', () => {
    const clamped = arrivalSchedule({ rate: 100, startRate: 20, rampUp: 50, duration: 5 });
    const exact = arrivalSchedule({ rate: 100, startRate: 20, rampUp: 5, duration: 5 });
    const ts = assertWellFormed(clamped, 5);
    near(clamped.total, ((20 + 100) / 2) * 5, 1, 'total');
    assert.equal(clamped.total, exact.total);
    assert.deepEqual(ts, offsets(exact));
    // plannedRate clamps the same way: full rate reached at the end of the duration.
    near(plannedRate({ rate: 100, startRate: 20, rampUp: 50, duration: 5 }, 2.5), 60, 1e-9, 'mid-run rate');
    near(plannedRate({ rate: 100, startRate: 20, rampUp: 50, duration: 5 }, 4.999), 100, 0.1, 'end rate');
  });
});

describe('plannedRate', () => {
  const g = { rate: 100, startRate: 20, rampUp: 4, duration: 10 };

  it('interpolates linearly during the ramp and holds the rate after it', () => {
    assert.equal(plannedRate(g, 0), 20);
    assert.equal(plannedRate(g, 1), 40);
    assert.equal(plannedRate(g, 2), 60);
    assert.equal(plannedRate(g, 3), 80);
    assert.equal(plannedRate(g, 4), 100);
    assert.equal(plannedRate(g, 7.5), 100);
    assert.equal(plannedRate(g, 9.999), 100);
  });

  it('is 0 before the start and from the end of the duration on', () => {
    assert.equal(plannedRate(g, -0.001), 0);
    assert.equal(plannedRate(g, 10), 0);
    assert.equal(plannedRate(g, 11), 0);
  });

  it('ramps from 0 when startRate is absent', () => {
    const g0 = { rate: 50, rampUp: 5, duration: 10 };
    assert.equal(plannedRate(g0, 0), 0);
    assert.equal(plannedRate(g0, 2.5), 25);
    assert.equal(plannedRate(g0, 5), 50);
  });

  it('ramps down', () => {
    const gd = { rate: 10, startRate: 110, rampUp: 10, duration: 20 };
    assert.equal(plannedRate(gd, 0), 110);
    assert.equal(plannedRate(gd, 5), 60);
    assert.equal(plannedRate(gd, 15), 10);
  });

  it('is the constant rate without a ramp (startRate ignored)', () => {
    const gc = { rate: 30, startRate: 5, rampUp: 0, duration: 3 };
    assert.equal(plannedRate(gc, 0), 30);
    assert.equal(plannedRate(gc, 2.9), 30);
  });
});

describe('userStartOffset', () => {
  it('spreads users linearly over the ramp, first at 0', () => {
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => userStartOffset(i, 4, 8)),
      [0, 2, 4, 6],
    );
    assert.equal(userStartOffset(9, 10, 5), 4.5);
  });

  it('starts everyone at 0 without a ramp', () => {
    assert.deepEqual(
      [0, 1, 2].map((i) => userStartOffset(i, 3, 0)),
      [0, 0, 0],
    );
  });

  it('starts a single user at 0 whatever the ramp', () => {
    assert.equal(userStartOffset(0, 1, 10), 0);
  });

  it('every offset stays before the end of the ramp', () => {
    for (let i = 0; i < 7; i++) {
      const t = userStartOffset(i, 7, 3);
      assert.ok(t >= 0 && t < 3, `user ${i}: ${t}`);
    }
  });
});
