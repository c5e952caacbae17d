/**
 * The Mann–Whitney U rank test (two-sided, normal approximation with tie correction and continuity
 * correction), used by `compare` to decide whether per-second samples of two runs differ.
 */

/** The outcome of {@link mannWhitneyU}. */
export interface MannWhitneyResult {
  n1: number;
  n2: number;
  /** U of the first sample: how many (a, b) pairs have a > b, ties counting one half. */
  u1: number;
  /** U of the second sample: n1·n2 − u1. */
  u2: number;
  /** min(u1, u2), the statistic textbooks tabulate. */
  u: number;
  /** Standard normal deviate of u1 (continuity-corrected); 0 when every value is tied. */
  z: number;
  /** Two-sided p-value; 1 when every value is tied. */
  p: number;
  /** u2 / (n1·n2): the chance a value of `b` exceeds one of `a` (ties one half); > 0.5 means `b`
   * tends higher. */
  probBHigher: number;
}

/**
 * Average ranks (1-based) of `values`, ties sharing the mean of their ranks, plus the tie-group
 * sizes.
 */
export function rank(values: number[]): { ranks: number[]; ties: number[] } {
  const order = values.map((v, i) => [v, i] as const).sort((x, y) => x[0] - y[0]);
  const ranks = new Array<number>(values.length);
  const ties: number[] = [];
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]![1]] = r;
    ties.push(j - i + 1);
    i = j + 1;
  }
  return { ranks, ties };
}

/**
 * Two-sided Mann–Whitney U test of `a` against `b`, by the normal approximation:
 * z = (|U1 − n1·n2/2| − 0.5) / σ with σ² = n1·n2/12 · ((n + 1) − Σ(t³ − t) / (n(n − 1))),
 * p = 2·(1 − Φ(z)). Matches `scipy.stats.mannwhitneyu(a, b, method='asymptotic')`.
 * Throws when a sample is empty or holds a non-finite value.
 */
export function mannWhitneyU(a: number[], b: number[]): MannWhitneyResult {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('mannWhitneyU: both samples need at least one value');
  if (![...a, ...b].every(Number.isFinite)) throw new RangeError('mannWhitneyU: samples must be finite numbers');
  const n = n1 + n2;
  const { ranks, ties } = rank([...a, ...b]);
  const r1 = ranks.slice(0, n1).reduce((s, r) => s + r, 0);
  const u1 = r1 - (n1 * (n1 + 1)) / 2;
  const u2 = n1 * n2 - u1;
  const tieSum = ties.reduce((s, t) => s + (t * t * t - t), 0);
  const variance = ((n1 * n2) / 12) * (n + 1 - tieSum / (n * (n - 1)));
  const base = { n1, n2, u1, u2, u: Math.min(u1, u2), probBHigher: u2 / (n1 * n2) };
  if (!(variance > 0)) return { ...base, z: 0, p: 1 };
  const diff = Math.abs(u1 - (n1 * n2) / 2);
  const z = Math.max(0, diff - 0.5) / Math.sqrt(variance);
  return { ...base, z: Math.sign(u1 - (n1 * n2) / 2) * z, p: Math.min(1, erfc(z / Math.SQRT2)) };
}

/**
 * The complementary error function, erfc(x) = 1 − erf(x) (Chebyshev fit, Numerical Recipes
 * `erfcc`; fractional error below 1.2e-7 everywhere).
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

// ---------------------------------------------------------------------------------------------
// Tests fit for per-second series that are autocorrelated and change state (an exhaustion onset),
// and for error counts. Everything is deterministic: the bootstrap draws from a seeded PRNG.
// ---------------------------------------------------------------------------------------------

/**
 * mulberry32: a small, fast 32-bit PRNG. Returns a function giving uniform numbers in [0, 1).
 * The same seed always gives the same sequence, so bootstrap results are reproducible.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit seed from strings (FNV-1a), so each metric of each pair of runs has its own stream. */
export function seedFrom(...parts: string[]): number {
  let h = 0x811c9dc5;
  for (const ch of parts.join('\u0000')) {
    h ^= ch.codePointAt(0)!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Sample autocovariances R(0..maxLag) (divided by n, the mean removed). */
export function autocovariance(xs: number[], maxLag: number): number[] {
  const n = xs.length;
  const mean = xs.reduce((s, v) => s + v, 0) / n;
  const c = xs.map((v) => v - mean);
  const out: number[] = [];
  for (let k = 0; k <= Math.min(maxLag, n - 1); k++) {
    let s = 0;
    for (let t = 0; t + k < n; t++) s += c[t]! * c[t + k]!;
    out.push(s / n);
  }
  return out;
}

/**
 * The block length for a circular block bootstrap of the mean, by Politis & White (2004) with the
 * correction of Patton, Politis & White (2009): the flat-top lag window picks the bandwidth M = 2·m̂
 * where m̂ is the first lag after which K_n autocorrelations are all insignificant
 * (|ρ| < 2·√(log10 n / n), K_n = max(5, √log10 n)); then b = (2·Ĝ² / D̂)^(1/3) · n^(1/3) with
 * Ĝ = Σ λ(k/M)·|k|·R(k) and D̂ = 4/3 · (Σ λ(k/M)·R(k))². Clamped to [1, max(1, ⌊n/3⌋)] (and to
 * 3·√n); 1 for fewer than 4 values or a constant series (no dependence to keep).
 */
export function blockLength(xs: number[]): number {
  const n = xs.length;
  if (n < 4) return 1;
  const kn = Math.max(5, Math.ceil(Math.sqrt(Math.log10(n))));
  // Politis–White search lags up to √n + K_n; capped at MAX_LAG (a day of seconds would otherwise
  // cost 600 lags per series; the block length used is at least √n anyway, phaseBlockLength).
  const mmax = Math.min(MAX_LAG, Math.ceil(Math.sqrt(n)) + kn);
  const r = autocovariance(xs, mmax * 2);
  if (!(r[0]! > 0)) return 1;
  const rho = (k: number) => (k < r.length ? r[k]! / r[0]! : 0);
  const crit = 2 * Math.sqrt(Math.log10(n) / n);
  let mhat = mmax;
  for (let m = 0; m <= mmax; m++) {
    let quiet = true;
    for (let k = 1; k <= kn; k++) if (Math.abs(rho(m + k)) >= crit) quiet = false;
    if (quiet) {
      mhat = m;
      break;
    }
  }
  const bigM = Math.min(2 * Math.max(mhat, 1), r.length - 1);
  const lambda = (t: number) => (Math.abs(t) <= 0.5 ? 1 : Math.abs(t) <= 1 ? 2 * (1 - Math.abs(t)) : 0);
  let g = 0;
  let s0 = r[0]!;
  for (let k = 1; k <= bigM; k++) {
    const w = lambda(k / bigM) * r[k]!;
    g += 2 * k * w;
    s0 += 2 * w;
  }
  const d = (4 / 3) * s0 * s0;
  if (!(d > 0) || g === 0) return 1;
  const b = Math.pow((2 * g * g) / d, 1 / 3) * Math.pow(n, 1 / 3);
  // Values near the float range overflow g² and d to Infinity (b = NaN): no usable estimate.
  if (!Number.isFinite(b)) return 1;
  const cap = Math.max(1, Math.min(Math.floor(n / 3), Math.ceil(3 * Math.sqrt(n))));
  return Math.max(1, Math.min(cap, Math.round(b)));
}

/** The longest lag {@link blockLength} searches. */
const MAX_LAG = 100;

/** A series split into phases that are resampled apart (e.g. before and after an onset). */
export type Phases = number[][];

/** Circular block bootstrap of one phase: the sum of n values drawn in blocks of b. */
function resamplePhaseSum(xs: number[], b: number, u: () => number): number {
  const n = xs.length;
  // A block shorter than 1 (or NaN) would never fill the sample.
  if (!(b >= 1)) throw new RangeError(`block length ${b} is not at least 1`);
  let filled = 0;
  let sum = 0;
  while (filled < n) {
    let i = Math.floor(u() * n);
    for (let j = 0; j < b && filled < n; j++, filled++) {
      sum += xs[i]!;
      if (++i === n) i = 0;
    }
  }
  return sum;
}

/** An interval at some confidence level. */
export interface Interval {
  estimate: number;
  low: number;
  high: number;
}

/** The outcome of {@link blockBootstrapMeans}. */
export interface BootstrapResult {
  /** mean(candidate) − mean(baseline), with its interval. */
  diff: Interval;
  /** (mean(candidate) / mean(baseline) − 1) × 100 with its interval; null when the baseline mean is 0
   * or a resampled one is. */
  pct: Interval | null;
  /** Two-sided p of "the same mean". */
  p: number;
  /** Bootstrap standard error of the difference. */
  se: number;
  /** Degrees of freedom of the t reference (Welch–Satterthwaite over the blocks of each run). */
  df: number;
  /** Block length of each phase: baseline's, then candidate's. */
  blocks: { baseline: number[]; candidate: number[] };
  replicates: number;
}

const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
const variance = (xs: number[]) => {
  const m = mean(xs);
  return xs.reduce((s, v) => s + (v - m) * (v - m), 0) / Math.max(1, xs.length - 1);
};

/**
 * Block length used for one phase: the larger of Politis–White's ({@link blockLength}) and √n
 * (rounded), never more than the phase. Politis–White is MSE-optimal for the variance, which is
 * too short for a test, and cannot see dependence in a short series: on AR(1) seconds (φ = 0.5,
 * 30 s, 100 seeded pairs) a floor of n^(1/3) gave 12 % false differences at 5 %, √n 9 %.
 */
export function phaseBlockLength(xs: number[]): number {
  if (xs.length < 2) return 1;
  return Math.min(xs.length, Math.max(blockLength(xs), Math.round(Math.sqrt(xs.length))));
}

/**
 * Compares the means of two per-second series by a circular block bootstrap. Each phase of each run
 * (e.g. the seconds before and after an exhaustion onset) is resampled on its own with its own block
 * length ({@link phaseBlockLength}), so a state change is kept where it happened instead of being
 * taken for noise, and autocorrelation within a phase is kept within blocks. The bootstrap gives the
 * standard error of each run's mean; the difference is referred to Student's t with Welch–
 * Satterthwaite degrees of freedom counted in blocks (few blocks, few degrees of freedom: a short
 * run cannot claim much). Returns the difference with its interval, the relative change with its
 * interval (delta method on the replicates) and the two-sided p. Deterministic for a given `seed`.
 * Throws when a run has no values or a value is not finite.
 */
export function blockBootstrapMeans(
  baseline: Phases,
  candidate: Phases,
  opts: {
    seed: number;
    replicates?: number;
    level?: number;
    /**
     * Counting noise of one second's value at a phase mean (e.g. Poisson: the mean itself). A phase
     * with no variation (or one second) tells nothing of its noise; its mean then gets this
     * variance, as one observation, when that exceeds the bootstrap's, and is taken as known.
     */
    countingVariance?: (phaseMean: number) => number;
  },
): BootstrapResult {
  const bs = baseline.filter((p) => p.length > 0);
  const cs = candidate.filter((p) => p.length > 0);
  if (bs.length === 0 || cs.length === 0) throw new RangeError('blockBootstrapMeans: both runs need at least one value');
  if (![...bs.flat(), ...cs.flat()].every(Number.isFinite)) throw new RangeError('blockBootstrapMeans: values must be finite');
  const B = opts.replicates ?? 2000;
  const level = opts.level ?? 0.95;
  const u = mulberry32(opts.seed);
  const lb = bs.map(phaseBlockLength);
  const lc = cs.map(phaseBlockLength);
  const mb = mean(bs.flat());
  const mc = mean(cs.flat());
  const d0 = mc - mb;
  const xbs: number[] = [];
  const xcs: number[] = [];
  const pcts: number[] = [];
  const nB = bs.reduce((s, p) => s + p.length, 0);
  const nC = cs.reduce((s, p) => s + p.length, 0);
  let pctOk = mb !== 0;
  for (let i = 0; i < B; i++) {
    let sb = 0;
    for (let j = 0; j < bs.length; j++) sb += resamplePhaseSum(bs[j]!, lb[j]!, u);
    let sc = 0;
    for (let j = 0; j < cs.length; j++) sc += resamplePhaseSum(cs[j]!, lc[j]!, u);
    const xb = sb / nB;
    const xc = sc / nC;
    xbs.push(xb);
    xcs.push(xc);
    if (xb === 0) pctOk = false;
    else pcts.push((xc / xb - 1) * 100);
  }
  // The block bootstrap variance of a mean is biased low by about b/n (the blocks of a short series
  // miss the covariance across their edges); scale each run's back by n / (n − b̄).
  const inflate = (ph: number[][], ls: number[]) => {
    const n = ph.reduce((s, p) => s + p.length, 0);
    const b = ph.reduce((s, p, j) => s + ls[j]! * p.length, 0) / n;
    return n > b ? n / (n - b) : 1;
  };
  // The floor of each run's mean variance from its phases that show no variation.
  const floorOf = (ph: number[][]) => {
    const n = ph.reduce((s, p) => s + p.length, 0);
    const f = opts.countingVariance;
    return f ? ph.reduce((s, p) => s + (variance(p) > 0 ? 0 : (p.length / n) ** 2 * Math.max(0, f(mean(p)))), 0) : 0;
  };
  const fb = floorOf(bs);
  const fc = floorOf(cs);
  const bootB = variance(xbs) * inflate(bs, lb);
  const bootC = variance(xcs) * inflate(cs, lc);
  const vb = Math.max(bootB, fb);
  const vc = Math.max(bootC, fc);
  const se = Math.sqrt(vb + vc);
  // Blocks that vary: a constant phase adds no information about noise.
  const blocks = (ph: number[][], ls: number[]) => ph.reduce((s, p, j) => s + (variance(p) > 0 ? p.length / ls[j]! : 0), 0);
  const mB = blocks(bs, lb);
  const mC = blocks(cs, lc);
  // A variance from the counting floor is taken as known: it adds no estimation uncertainty.
  const part = (v: number, m: number, floored: boolean) => (v > 0 && !floored ? (v * v) / Math.max(1, m - 1) : 0);
  const parts = part(vb, mB, fb > bootB) + part(vc, mC, fc > bootC);
  const df = se > 0 && parts > 0 ? Math.max(1, (vb + vc) ** 2 / parts) : Infinity;
  const tq = Number.isFinite(df) ? studentTQuantile(1 - (1 - level) / 2, df) : 1.959963984540054;
  const p = se > 0 ? 2 * (1 - studentTCdf(Math.abs(d0) / se, df)) : d0 === 0 ? 1 : 0;
  const seP = pcts.length > 1 ? Math.sqrt(variance(pcts)) : 0;
  const pct0 = (mc / mb - 1) * 100;
  return {
    diff: { estimate: d0, low: d0 - tq * se, high: d0 + tq * se },
    pct: pctOk ? { estimate: pct0, low: pct0 - tq * seP, high: pct0 + tq * seP } : null,
    p: Math.min(1, Math.max(0, p)),
    se,
    df,
    blocks: { baseline: lb, candidate: lc },
    replicates: B,
  };
}

/** The regularized incomplete beta function I_x(a, b) (continued fraction, Numerical Recipes `betai`). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x));
  const cf = (x: number, a: number, b: number) => {
    const tiny = 1e-300;
    let c = 1;
    let d = 1 - ((a + b) * x) / (a + 1);
    if (Math.abs(d) < tiny) d = tiny;
    d = 1 / d;
    let h = d;
    for (let m = 1; m <= 300; m++) {
      const m2 = 2 * m;
      let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
      d = 1 + aa * d;
      if (Math.abs(d) < tiny) d = tiny;
      c = 1 + aa / c;
      if (Math.abs(c) < tiny) c = tiny;
      d = 1 / d;
      h *= d * c;
      aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
      d = 1 + aa * d;
      if (Math.abs(d) < tiny) d = tiny;
      c = 1 + aa / c;
      if (Math.abs(c) < tiny) c = tiny;
      d = 1 / d;
      const del = d * c;
      h *= del;
      if (Math.abs(del - 1) < 3e-14) break;
    }
    return h;
  };
  return x < (a + 1) / (a + b + 2) ? (front * cf(x, a, b)) / a : 1 - (front * cf(1 - x, b, a)) / b;
}

/** The CDF of Student's t with `df` (real, > 0) degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  if (!Number.isFinite(df)) return 1 - 0.5 * erfc(t / Math.SQRT2);
  const x = df / (df + t * t);
  const tail = 0.5 * incompleteBeta(x, df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The q-quantile of Student's t (bisection on {@link studentTCdf}). */
export function studentTQuantile(q: number, df: number): number {
  let lo = -1e6;
  let hi = 1e6;
  for (let i = 0; i < 200 && hi - lo > 1e-10; i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < q) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; about 15 significant digits). */
export function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let s = c[0]!;
  for (let i = 1; i < 9; i++) s += c[i]! / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(s);
}

function logBinomPmf(k: number, n: number, p: number): number {
  if (p <= 0) return k === 0 ? 0 : -Infinity;
  if (p >= 1) return k === n ? 0 : -Infinity;
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1) + k * Math.log(p) + (n - k) * Math.log1p(-p);
}

/**
 * Exact two-sided binomial test of k successes in n trials against success probability p: the sum of
 * the probabilities of every outcome no more likely than k (as R's `binom.test`, with its 1e-7
 * relative tolerance for ties).
 */
export function binomialTest(k: number, n: number, p: number): number {
  if (n === 0) return 1;
  if (p <= 0 || p >= 1) return (p <= 0 ? k === 0 : k === n) ? 1 : 0;
  const lo = logBinomPmf(k, n, p) + Math.log1p(1e-7);
  // ln pmf(i) by the recurrence pmf(i+1) = pmf(i) · (n − i)/(i + 1) · p/(1 − p): one log-gamma call.
  const odds = Math.log(p) - Math.log1p(-p);
  let l = n * Math.log1p(-p);
  let s = 0;
  for (let i = 0; i <= n; i++) {
    if (l <= lo) s += Math.exp(l);
    l += Math.log((n - i) / (i + 1)) + odds;
  }
  return Math.min(1, s);
}

/** P(X ≤ k) for X ~ Binomial(n, p) = I_{1−p}(n − k, k + 1). */
function binomCdf(k: number, n: number, p: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  return incompleteBeta(1 - p, n - k, k + 1);
}

/** Clopper–Pearson interval for a binomial proportion k/n at `level` (bisection on the CDF). */
export function clopperPearson(k: number, n: number, level = 0.95): { low: number; high: number } {
  const a = (1 - level) / 2;
  const solve = (f: (p: number) => number) => {
    let lo = 0;
    let hi = 1;
    for (let i = 0; i < 60; i++) {
      const mid = (lo + hi) / 2;
      if (f(mid) > 0) lo = mid;
      else hi = mid;
    }
    return (lo + hi) / 2;
  };
  // low: P(X ≥ k | p) = a, i.e. 1 − cdf(k−1) = a; high: P(X ≤ k | p) = a.
  const low = k === 0 ? 0 : solve((p) => a - (1 - binomCdf(k - 1, n, p)));
  const high = k === n ? 1 : solve((p) => binomCdf(k, n, p) - a);
  return { low, high };
}

/** Up to this many events in all, {@link poissonRatesTest} sums binomial probabilities exactly. */
export const EXACT_MAX = 20_000;

/** The outcome of {@link poissonRatesTest}. */
export interface PoissonRatesResult {
  /** Two-sided exact p of "the same rate". */
  p: number;
  /** (k2/e2) / (k1/e1): the candidate's rate over the baseline's; null when k1 = 0. */
  ratio: number | null;
  /** Exact interval of the rate ratio (high is Infinity when k1 = 0). */
  low: number;
  high: number;
}

/**
 * Compares two Poisson counts with their exposures (k1 errors in e1 requests against k2 in e2) by the
 * conditional binomial test: given k1 + k2, k2 ~ Binomial(k1 + k2, e2 / (e1 + e2)) when the rates
 * are equal. Exact two-sided p, and the rate ratio with the Clopper–Pearson interval of
 * k2 / (k1 + k2) mapped to the ratio scale (above {@link EXACT_MAX} events, the normal
 * approximation of the same binomial). Throws for non-positive exposures.
 */
export function poissonRatesTest(k1: number, e1: number, k2: number, e2: number, level = 0.95): PoissonRatesResult {
  if (!(e1 > 0 && e2 > 0)) throw new RangeError('poissonRatesTest: exposures must be positive');
  const n = k1 + k2;
  if (n === 0) return { p: 1, ratio: null, low: 0, high: Infinity };
  const p0 = e2 / (e1 + e2);
  let p: number;
  let ci: { low: number; high: number };
  if (n <= EXACT_MAX) {
    p = binomialTest(k2, n, p0);
    ci = clopperPearson(k2, n, level);
  } else {
    // Beyond EXACT_MAX events the normal approximation is exact to many digits and much faster.
    const z = (k2 - n * p0) / Math.sqrt(n * p0 * (1 - p0));
    p = Math.min(1, erfc(Math.abs(z) / Math.SQRT2));
    const ph = k2 / n;
    const h = studentTQuantile(1 - (1 - level) / 2, Infinity) * Math.sqrt((ph * (1 - ph)) / n);
    ci = { low: Math.max(0, ph - h), high: Math.min(1, ph + h) };
  }
  const toRatio = (pi: number) => (pi >= 1 ? Infinity : (pi / (1 - pi)) * (e1 / e2));
  return { p, ratio: k1 === 0 ? null : (k2 / e2) / (k1 / e1), low: toRatio(ci.low), high: toRatio(ci.high) };
}
