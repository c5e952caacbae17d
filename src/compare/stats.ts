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
