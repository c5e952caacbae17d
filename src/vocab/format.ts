/**
 * Number formats every sentence, table and chart label uses, as DOMAIN.md writes figures. Pure.
 */

/** An integer with thin groups, as DOMAIN.md writes them: 28 232. */
export function num(x: number): string {
  const s = String(Math.round(Math.abs(x))).replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
  return x < 0 && Math.round(x) !== 0 ? `-${s}` : s;
}

/** A share (0.125 for 12.5 %) as a percentage: 99 %, 2.5 %, 0.04 %. */
export function pct(share: number): string {
  const p = share * 100;
  if (p === 0) return '0 %';
  if (p >= 10) return `${Math.round(p)} %`;
  if (p >= 1) return `${p.toFixed(1).replace(/\.0$/, '')} %`;
  return `${Number(p.toPrecision(1))} %`;
}

/** Seconds with one decimal (or `digits`): 28.2 s, 2.03 s. */
export function sec(t: number, digits = 1): string {
  return `${t.toFixed(digits)} s`;
}

/** Milliseconds to two significant digits below 10: 0.01 ms, 0.7 ms, 2.7 ms, 35 ms. */
export function ms(x: number): string {
  if (x >= 10) return `${Math.round(x)} ms`;
  return `${Number(x.toPrecision(2))} ms`;
}

/** A threshold's measured value as the rule writes it: up to three decimals (0.722, 4.931, 1800). */
export function thresholdValue(x: number | null): string {
  return x === null ? 'n/a' : String(+x.toFixed(3));
}

/** The dash a report shows where there is no figure: no data, or nothing completed yet. */
export const DASH = '–';

/** `format(v)`, or {@link DASH} when `v` is null, undefined or not finite. */
export function orDash(v: number | null | undefined, format: (x: number) => string): string {
  return v === null || v === undefined || !Number.isFinite(v) ? DASH : format(v);
}

/** A decimal with `digits` places and the integer part grouped as {@link num} does: 1 234.5, -0.5. */
export function dec(x: number, digits = 1): string {
  const fixed = Math.abs(x).toFixed(digits);
  const [int, frac] = fixed.split('.');
  const grouped = int!.replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
  const negative = x < 0 && Number(fixed) !== 0;
  return `${negative ? '-' : ''}${grouped}${frac === undefined ? '' : `.${frac}`}`;
}

/** A rate per second without its unit: one decimal below 100 (124.8 reads 125), grouped above: 7.5, 1 200. */
export function perSecond(x: number): string {
  return Math.abs(x) >= 100 ? num(x) : dec(x, 1);
}

/** A rate per second: 7.5/s, 1 200/s. */
export function rate(x: number): string {
  return `${perSecond(x)}/s`;
}

/**
 * A relative change as a signed percentage, `change` being (candidate - baseline) / baseline: +100 %,
 * −98.8 % (with a minus sign, as DOMAIN.md writes it), ±0 % for no change. Magnitudes as {@link pct}.
 */
export function signedPct(change: number): string {
  if (change === 0) return '±0 %';
  return `${change > 0 ? '+' : '−'}${pct(Math.abs(change))}`;
}

/** Milliseconds as {@link ms} writes them, without the unit (for a row of latencies that names it once). */
export function msValue(x: number): string {
  return ms(x).replace(/ ms$/, '');
}
