/**
 * Number formats every sentence, table and chart label uses, as DOMAIN.md writes figures. Pure.
 */

/** An integer with thin groups, as DOMAIN.md writes them: 28 232. */
export function num(x: number): string {
  const s = String(Math.round(Math.abs(x))).replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
  return x < 0 && Math.round(x) !== 0 ? `-${s}` : s;
}

/** A share as a percentage: 99 %, 2.5 %, 0.04 %. */
export function pct(share: number): string {
  const p = share * 100;
  if (p === 0) return '0 %';
  if (p >= 10) return `${Math.round(p)} %`;
  if (p >= 1) return `${p.toFixed(1).replace(/\.0$/, '')} %`;
  return `${Number(p.toPrecision(1))} %`;
}

/** Seconds with one decimal: 28.2 s. */
export function sec(t: number): string {
  return `${t.toFixed(1)} s`;
}

/** Milliseconds to two significant digits below 10: 0.01 ms, 0.7 ms, 2.7 ms, 35 ms. */
export function ms(x: number): string {
  if (x >= 10) return `${Math.round(x)} ms`;
  return `${Number(x.toPrecision(2))} ms`;
}
