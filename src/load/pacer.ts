/**
 * Arrival schedules for the open model: when the n-th request of a group is due. Like vegeta's
 * Pacer, it knows nothing about sending. Rates ramp linearly from `startRate` to `rate` over
 * `rampUp`, then hold until `duration` (which includes the ramp); or follow the group's `stages`.
 */
import type { ArrivalRateGroup } from '../scenario/schema.js';

/** An arrival schedule: offsets in seconds from the group's start. */
export interface ArrivalSchedule {
  /** Offset of arrival `n` (0-based), or null when it falls at or past the group's end. */
  at(n: number): number | null;
  /** Number of arrivals the whole schedule holds. */
  readonly total: number;
}

/** The fields of a group that shape its rate. */
export type RateShape = Pick<ArrivalRateGroup, 'rate' | 'startRate' | 'rampUp' | 'duration'> & { stages?: ArrivalRateGroup['stages'] };

/** A linear piece of the planned rate: from `r0` to `r1` over [t0, t0 + d), `before` arrivals planned ahead of it. */
interface Segment {
  t0: number;
  d: number;
  r0: number;
  r1: number;
  before: number;
}

/** The planned rate as linear pieces: the group's stages, or its ramp then its hold. */
function segmentsOf(group: RateShape): Segment[] {
  const pieces: { d: number; r0: number; r1: number }[] = [];
  if (group.stages && group.stages.length > 0) {
    for (const st of group.stages) pieces.push({ d: st.duration, r0: st.startRate ?? st.rate, r1: st.rate });
  } else {
    const T = Math.min(group.rampUp, group.duration);
    if (T > 0) pieces.push({ d: T, r0: group.startRate ?? 0, r1: group.rate });
    if (group.duration > T) pieces.push({ d: group.duration - T, r0: group.rate, r1: group.rate });
  }
  const out: Segment[] = [];
  let t0 = 0;
  let before = 0;
  for (const p of pieces) {
    out.push({ t0, ...p, before });
    t0 += p.d;
    before += ((p.r0 + p.r1) / 2) * p.d;
  }
  return out;
}

/**
 * Builds the schedule of a group. Arrival n is placed where the cumulative count N(t) reaches
 * n + 0.5, so a constant rate r over D seconds holds round(r·D) evenly spaced arrivals (an exact
 * half rounds down: the arrival would fall on D itself). Rates are piecewise linear (a ramp and a
 * hold, or the group's stages); a stage at rate 0 holds no arrivals.
 */
export function arrivalSchedule(group: RateShape): ArrivalSchedule {
  const segments = segmentsOf(group);
  const last = segments[segments.length - 1];
  const D = last ? last.t0 + last.d : 0;
  const planned = last ? last.before + ((last.r0 + last.r1) / 2) * last.d : 0;

  const offset = (n: number): number => {
    const k = n + 0.5;
    if (k > planned) return D;
    // The last segment whose planned arrivals start before k holds arrival n.
    let lo = 0;
    let hi = segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segments[mid]!.before < k) lo = mid;
      else hi = mid - 1;
    }
    const s = segments[lo]!;
    const kk = k - s.before;
    const a = (s.r1 - s.r0) / (2 * s.d);
    // Solve a·t² + r0·t = kk in a form that is stable when a is tiny or negative.
    return Math.min(s.t0 + (2 * kk) / (s.r0 + Math.sqrt(Math.max(0, s.r0 * s.r0 + 4 * a * kk))), D);
  };

  let total = Math.max(0, Math.ceil(planned - 0.5));
  while (total > 0 && offset(total - 1) >= D) total--;
  while (total + 0.5 <= planned && offset(total) < D) total++;

  return {
    total,
    at: (n) => (n >= 0 && n < total ? offset(n) : null),
  };
}

/** The planned rate (requests per second) of a group at offset t seconds. */
export function plannedRate(group: RateShape, t: number): number {
  if (t < 0) return 0;
  for (const s of segmentsOf(group)) {
    if (t < s.t0 + s.d) return s.r0 + ((s.r1 - s.r0) * (t - s.t0)) / s.d;
  }
  return 0;
}

/**
 * Start offset in seconds of user `i` of `users` ramped linearly over `rampUp`; with `steps`, the
 * users start in that many equal steps, step k (0-based) at k·rampUp/steps bringing the level to
 * round(users·(k+1)/steps), as the bzm Concurrency Thread Group does.
 */
export function userStartOffset(i: number, users: number, rampUp: number, steps?: number): number {
  if (steps !== undefined && steps > 0) {
    for (let k = 0; k < steps; k++) if (Math.round((users * (k + 1)) / steps) >= i + 1) return (k * rampUp) / steps;
    return rampUp;
  }
  return users <= 1 ? 0 : (rampUp * i) / users;
}
