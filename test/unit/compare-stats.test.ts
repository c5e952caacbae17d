/** The Mann–Whitney U test against hand-computed and published values. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { erfc, mannWhitneyU, rank } from '../../src/compare/stats.js';

const close = (actual: number, expected: number, tol = 1e-6) =>
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected} ± ${tol}, got ${actual}`);

describe('rank', () => {
  it('averages tied ranks and reports the tie groups', () => {
    assert.deepEqual(rank([10, 20, 20, 30]), { ranks: [1, 2.5, 2.5, 4], ties: [1, 2, 1] });
    assert.deepEqual(rank([3, 1, 3, 3]), { ranks: [3, 1, 3, 3], ties: [1, 3] });
  });
});

describe('erfc', () => {
  it('matches tabulated values', () => {
    close(erfc(0), 1, 1e-7);
    close(erfc(0.5), 0.4795001222, 1e-7);
    close(erfc(1), 0.1572992071, 1e-7);
    close(erfc(2), 0.004677734981, 1e-8);
    close(erfc(-1), 1.8427007929, 1e-7);
  });
});

describe('mannWhitneyU', () => {
  it('a hand-computed example: two samples that do not overlap', () => {
    // Ranks of a are 1..5: R1 = 15, U1 = 15 − 5·6/2 = 0, U2 = 25. No ties: σ² = 5·5·11/12 = 22.9167.
    // z = (|0 − 12.5| − 0.5) / 4.7871 = 2.50672; p = 2·(1 − Φ(2.50672)) = 0.012186.
    const r = mannWhitneyU([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]);
    assert.equal(r.u1, 0);
    assert.equal(r.u2, 25);
    assert.equal(r.u, 0);
    close(r.z, -2.506718, 1e-5);
    close(r.p, 0.012185780355344813, 1e-6);
    assert.equal(r.probBHigher, 1);
  });

  it('a textbook example (scipy.stats.mannwhitneyu docs: ages at diagnosis, males vs females)', () => {
    // U = 17 (published); asymptotic two-sided p 0.1113 (exact 0.1111).
    const r = mannWhitneyU([19, 22, 16, 29, 24], [20, 11, 17, 12]);
    assert.equal(r.u1, 17);
    assert.equal(r.u, 3);
    close(r.p, 0.11134688653314041, 1e-6);
    assert.ok(r.probBHigher < 0.5, 'the second sample tends lower');
  });

  it('applies the tie correction (values checked against scipy, method="asymptotic")', () => {
    const r = mannWhitneyU([1, 2, 2, 3, 3, 3, 4], [2, 3, 4, 4, 5, 5, 6]);
    assert.equal(r.u1, 8.5);
    close(r.p, 0.043051432728945134, 1e-6);
    const s = mannWhitneyU([7, 3, 6, 2, 4, 3, 5, 5], [3, 5, 6, 4, 6, 5, 7, 5]);
    assert.equal(s.u1, 23);
    close(s.p, 0.36121810476051897, 1e-6);
    const t = mannWhitneyU([0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46], [1.15, 0.88, 0.9, 0.74, 1.21]);
    assert.equal(t.u1, 35);
    close(t.p, 0.24462360512698333, 1e-6);
  });

  it('is symmetric in its samples', () => {
    const a = [5, 9, 2, 8, 8, 1];
    const b = [4, 7, 7, 3, 10];
    const ab = mannWhitneyU(a, b);
    const ba = mannWhitneyU(b, a);
    close(ab.p, ba.p, 1e-12);
    assert.equal(ab.u, ba.u);
    close(ab.probBHigher, 1 - ba.probBHigher, 1e-12);
  });

  it('identical samples and all-tied samples give p = 1', () => {
    close(mannWhitneyU([1.1, 2.2, 3.3], [1.1, 2.2, 3.3]).p, 1, 1e-12);
    const flat = mannWhitneyU([0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]);
    assert.equal(flat.p, 1);
    assert.equal(flat.z, 0);
    assert.equal(flat.probBHigher, 0.5);
  });

  it('refuses empty or non-finite samples', () => {
    assert.throws(() => mannWhitneyU([], [1]), RangeError);
    assert.throws(() => mannWhitneyU([1, NaN], [1]), RangeError);
  });
});

describe('mannWhitneyU calibration', () => {
  // A seeded normal generator (Park–Miller + Box–Muller), so the test is deterministic.
  let seed = 42;
  const u = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const normal = () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  const sample = (n: number, shift = 0) => Array.from({ length: n }, () => normal() + shift);

  it('rejects about 5 % of pairs drawn from one distribution, and most pairs a shift apart', () => {
    const N = 2000;
    let nullRejects = 0;
    let shiftRejects = 0;
    for (let i = 0; i < N; i++) {
      if (mannWhitneyU(sample(10), sample(10)).p < 0.05) nullRejects++;
      if (mannWhitneyU(sample(10), sample(10, 1.5)).p < 0.05) shiftRejects++;
    }
    assert.ok(nullRejects / N > 0.02 && nullRejects / N < 0.08, `false-positive rate ${nullRejects / N}`);
    assert.ok(shiftRejects / N > 0.8, `power at a 1.5 σ shift ${shiftRejects / N}`);
  });
});
