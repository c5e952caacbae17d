/**
 * How the verdict rules speak of a watched host: its name and role in words, its seconds in order,
 * its port budget, and how poor coverage weakens what it tells. Pure.
 */
import type { HostSecond } from '../record/types.js';
import { pct } from '../vocab/format.js';
import type { HostView } from './hosts.js';

/** Below this share of the run's seconds seen, a host's figures weaken its verdicts. */
export const POOR_COVERAGE = 0.5;

/** The host's seconds in order of time. */
export function secondsOf(h: HostView): HostSecond[] {
  return [...h.timeline].sort((a, b) => a.t - b.t);
}

/** "host service (service)", "host edge (proxy)": the name, with the role when it says more. */
export function hostWords(h: HostView): string {
  return h.role === h.name ? `host ${h.name}` : `host ${h.name} (${h.role})`;
}

/** The sentence-initial form of a phrase: "Host service (service)". */
export function capitalized(s: string): string {
  return s.length > 0 ? s[0]!.toUpperCase() + s.slice(1) : s;
}

/** Ports connect() can pick on the host (its busiest destination's budget); null when unknown. */
export function usableOf(h: HostView): number | null {
  return h.ports?.usable ?? h.host?.usablePorts ?? null;
}

/** "40000–40499", or null when the host's range is unknown. */
export function rangeWords(h: HostView): string | null {
  const r = h.host?.portRange;
  return r ? `${r[0]}–${r[1]}` : null;
}

/**
 * The "Evidence is mixed" sentence of a host seen in fewer than half of the run's seconds, or null
 * when its coverage is good.
 */
export function coverageCaveat(h: HostView): string | null {
  const c = h.coverage;
  if (c.share >= POOR_COVERAGE) return null;
  const span = c.fromS === null ? 'never' : c.fromS === c.toS ? `at t = ${c.fromS} s only` : `between t = ${c.fromS} s and ${c.toS} s`;
  const why = h.gaps.length > 0 ? `; ${h.gaps.join('; ')}` : '';
  return `Evidence is mixed: ${hostWords(h)} was seen in only ${pct(c.share)} of the run's seconds (${span}${why}); the seconds it was not seen are unknown, not zero.`;
}

/** A verdict's confidence, lowered where the host's coverage is poor. */
export function weighedByCoverage(h: HostView, confidence: number): number {
  if (h.coverage.share >= POOR_COVERAGE) return confidence;
  return Math.round(Math.max(0.3, Math.min(confidence - 0.2, 0.7)) * 100) / 100;
}
