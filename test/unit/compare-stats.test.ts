/** compare's statistics against hand-computed and published values (scipy, R): the Mann–Whitney U test
 * earlier versions used, the block bootstrap, the exact test of two Poisson counts, Student's t. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  binomialTest,
  blockBootstrapMeans,
  blockLength,
  clopperPearson,
  erfc,
  EXACT_MAX,
  mannWhitneyU,
  mulberry32,
  phaseBlockLength,
  poissonRatesTest,
  rank,
  seedFrom,
  studentTCdf,
  studentTQuantile,
} from '../../src/compare/stats.js';

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

describe('exact counts: the conditional binomial test of two Poisson counts', () => {
  it('matches scipy.stats.binomtest and R poisson.test', () => {
    close(binomialTest(7, 20, 0.3), 0.6294979666766769, 1e-9);
    close(binomialTest(3, 10, 0.5), 0.34375, 1e-9);
    const ci = clopperPearson(20, 30);
    close(ci.low, 0.4718799552101195, 1e-7);
    close(ci.high, 0.8271257784739607, 1e-7);
    // poisson.test(c(20, 10), c(100, 100)): p = 0.09874, rate ratio 2 in [0.8935, 4.7846].
    const t = poissonRatesTest(10, 100, 20, 100);
    close(t.p, 0.09873714670538905, 1e-9);
    assert.equal(t.ratio, 2);
    close(t.low, 0.4718799552101195 / (1 - 0.4718799552101195), 1e-5);
    close(t.high, 0.8271257784739607 / (1 - 0.8271257784739607), 1e-5);
  });

  it('weighs the exposures: the same count in twice the requests is half the rate', () => {
    const t = poissonRatesTest(100, 1000, 100, 2000);
    assert.equal(t.ratio, 0.5);
    assert.ok(t.p < 1e-4 && t.high < 0.7, JSON.stringify(t));
    assert.ok(poissonRatesTest(1000, 2000, 1003, 2000).p > 0.9, 'two exhausted runs with 1000 and 1003 failures are the same');
    assert.deepEqual(poissonRatesTest(0, 10, 0, 10), { p: 1, ratio: null, low: 0, high: Infinity });
    assert.throws(() => poissonRatesTest(1, 0, 1, 1), RangeError);
  });

  it('above EXACT_MAX events the normal approximation agrees with the exact sum', () => {
    const big = poissonRatesTest(10_400, 1e6, 10_000, 1e6);
    assert.ok(10_400 + 10_000 > EXACT_MAX);
    // Exact two-sided binomial p for 10 000 of 20 400 at 1/2 (scipy.stats.binomtest): 0.005212.
    close(big.p, 0.005212, 3e-4);
  });
});

describe('Student t', () => {
  it('matches scipy.stats.t', () => {
    close(studentTCdf(2, 5), 0.9490302605850708, 1e-9);
    close(studentTCdf(-1.5, 2.5), 0.12391822654314809, 1e-9);
    close(studentTQuantile(0.975, 10), 2.228138851986274, 1e-8);
    close(studentTCdf(1.959963984540054, Infinity), 0.975, 1e-7);
  });
});

/** An AR(1) series x_t = φ·x_{t−1} + e_t (stationary start) scaled to sd `sd` of the innovations, around `mu`. */
function ar1(n: number, phi: number, u: () => number, mu: number, sd = 5): number[] {
  const g = () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  let x = g() / Math.sqrt(1 - phi * phi);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    x = phi * x + g();
    out.push(mu + sd * x);
  }
  return out;
}

describe('block length (Politis–White)', () => {
  it('is short for white noise, long for a strongly autocorrelated series, 1 for a constant one', () => {
    const u = mulberry32(7);
    const white = blockLength(ar1(1000, 0, u, 0));
    const sticky = blockLength(ar1(1000, 0.9, u, 0));
    assert.ok(white <= 3, `white noise: ${white}`);
    assert.ok(sticky >= 10, `φ = 0.9: ${sticky}`);
    assert.equal(blockLength([5, 5, 5, 5, 5, 5]), 1);
    assert.equal(blockLength([1, 2, 3]), 1);
    // The test uses at least √n, since Politis–White cannot see dependence in a short series.
    const short = ar1(36, 0, u, 0);
    assert.equal(phaseBlockLength(short), Math.max(6, blockLength(short)));
  });
});

describe('blockBootstrapMeans', () => {
  it('is deterministic for a seed', () => {
    const u = mulberry32(1);
    const a = ar1(30, 0.5, u, 100);
    const b = ar1(30, 0.5, u, 103);
    assert.deepEqual(blockBootstrapMeans([a], [b], { seed: 9 }), blockBootstrapMeans([a], [b], { seed: 9 }));
    assert.equal(seedFrom('rate', 'a', 'b'), seedFrom('rate', 'a', 'b'));
    assert.notEqual(seedFrom('rate', 'a', 'b'), seedFrom('rate', 'b', 'a'));
  });

  it('AR(1) series with the same mean show no difference at 5 % in at least 90 % of 100 seeds, and a real shift in most', () => {
    for (const n of [30, 60]) {
      let spurious = 0;
      let found = 0;
      for (let seed = 1; seed <= 100; seed++) {
        const u = mulberry32(seed * 7919 + n);
        const a = ar1(n, 0.5, u, 100);
        const b = ar1(n, 0.5, u, 100);
        const shifted = ar1(n, 0.5, u, 112);
        if (blockBootstrapMeans([a], [b], { seed }).p < 0.05) spurious++;
        if (blockBootstrapMeans([a], [shifted], { seed }).p < 0.05) found++;
      }
      assert.ok(spurious <= 10, `n = ${n}: ${spurious} of 100 same-mean pairs differ`);
      assert.ok(found >= 90, `n = ${n}: a shift of 12 (about 4 standard errors) found in only ${found} of 100`);
    }
  });

  it('keeps a state change where it happened: phases are resampled apart', () => {
    // 250/s for 3 s then 0 (ports ran out) against 250/s throughout: as one series the bootstrap sees
    // a huge variance; split at the onset each phase is steady and the difference is plain.
    const u = mulberry32(3);
    const jitter = () => Math.round((u() - 0.5) * 4);
    const before = [250, 250, 250].map((v) => v + jitter());
    const after = [0, 0, 0, 0];
    const fix = Array.from({ length: 7 }, () => 250 + jitter());
    const split = blockBootstrapMeans([before, after], [fix], { seed: 1 });
    assert.ok(split.p < 0.001, `split at the onset: p=${split.p}`);
    assert.ok(split.diff.low > 130 && split.diff.high < 160, JSON.stringify(split.diff));
    assert.ok(split.pct!.low > 100, JSON.stringify(split.pct));
    const whole = blockBootstrapMeans([[...before, ...after]], [fix], { seed: 1 });
    assert.ok(whole.se > 10 * split.se, `one series: se ${whole.se} vs ${split.se}`);
    // The rank test the earlier compare used calls this "within noise".
    assert.ok(mannWhitneyU([...before, ...after], fix).p > 0.05);
  });

  it('a phase with no variation gets the counting variance: 250 vs 249 in one second is not a difference', () => {
    const a = [[250], [0, 0, 0, 0]];
    const b = [[249], [0, 0, 0, 0]];
    assert.ok(blockBootstrapMeans(a, b, { seed: 1 }).p < 0.001, 'without it, constant phases look certain');
    const counted = blockBootstrapMeans(a, b, { seed: 1, countingVariance: (m) => m });
    assert.ok(counted.p > 0.5, `p=${counted.p}`);
    // Against 250/s throughout, the same one-second phase is still plainly worse.
    assert.ok(blockBootstrapMeans(a, [[250, 251, 249, 250, 250]], { seed: 1, countingVariance: (m) => m }).p < 1e-6);
  });

  it('gives no relative change when the baseline mean is 0, and refuses empty or non-finite runs', () => {
    const r = blockBootstrapMeans([[0, 0, 0, 0, 0]], [[1, 2, 1, 2, 1]], { seed: 1 });
    assert.equal(r.pct, null);
    assert.ok(r.diff.estimate > 1);
    assert.equal(blockBootstrapMeans([[3, 3, 3]], [[3, 3, 3]], { seed: 1 }).p, 1);
    assert.throws(() => blockBootstrapMeans([[]], [[1]], { seed: 1 }), RangeError);
    assert.throws(() => blockBootstrapMeans([[1, NaN]], [[1]], { seed: 1 }), RangeError);
  });

  it('values near the float range (a mutated record: a latency of 1.5e97 ms) give a block length of 1 and a finite answer, not a hang', () => {
    const xs = [2.9, 1.480268022251437e97, 3.1, 2.8, 3.0, 2.7, 3.2, 2.9];
    const b = blockLength(xs);
    assert.ok(Number.isInteger(b) && b >= 1, `block length ${b}`);
    const r = blockBootstrapMeans([xs], [xs.slice()], { seed: 1 });
    assert.ok(r.p >= 0 && r.p <= 1, `p ${r.p}`);
  });
});
