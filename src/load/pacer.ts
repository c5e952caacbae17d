/**
 * Arrival schedules for the open model: when the n-th request of a group is due. Like vegeta's
 * Pacer, it knows nothing about sending. Rates ramp linearly from `startRate` to `rate` over
 * `rampUp`, then hold until `duration` (which includes the ramp).
 */
import type { ArrivalRateGroup } from '../scenario/schema.js';

/** An arrival schedule: offsets in seconds from the group's start. */
export interface ArrivalSchedule {
  /** Offset of arrival `n` (0-based), or null when it falls at or past the group's end. */
  at(n: number): number | null;
  /** Number of arrivals the whole schedule holds. */
  readonly total: number;
}

/**
 * Builds the schedule of a group. Arrival n is placed where the cumulative count N(t) reaches
 * n + 0.5, so a constant rate r over D seconds holds round(r·D) evenly spaced arrivals (an exact
 * half rounds down: the arrival would fall on D itself).
 */
export function arrivalSchedule(group: Pick<ArrivalRateGroup, 'rate' | 'startRate' | 'rampUp' | 'duration'>): ArrivalSchedule {
  const r1 = group.rate;
  const T = Math.min(group.rampUp, group.duration);
  const r0 = T > 0 ? (group.startRate ?? 0) : r1;
  const D = group.duration;
  const rampCount = ((r0 + r1) / 2) * T;
  const a = T > 0 ? (r1 - r0) / (2 * T) : 0;

  const offset = (n: number): number => {
    const k = n + 0.5;
    if (k <= rampCount && T > 0) {
      // Solve a·t² + r0·t = k in a form that is stable when a is tiny or negative.
      return (2 * k) / (r0 + Math.sqrt(r0 * r0 + 4 * a * k));
    }
    return T + (k - rampCount) / r1;
  };

  const cumulative = (t: number): number => (t <= T ? r0 * t + a * t * t : rampCount + r1 * (t - T));
  let total = Math.max(0, Math.ceil(cumulative(D) - 0.5));
  while (total > 0 && offset(total - 1) >= D) total--;
  while (offset(total) < D) total++;

  return {
    total,
    at: (n) => (n >= 0 && n < total ? offset(n) : null),
  };
}

/** The planned rate (requests per second) of a group at offset t seconds. */
export function plannedRate(group: Pick<ArrivalRateGroup, 'rate' | 'startRate' | 'rampUp' | 'duration'>, t: number): number {
  if (t < 0 || t >= group.duration) return 0;
  const T = Math.min(group.rampUp, group.duration);
  if (T <= 0 || t >= T) return group.rate;
  const r0 = group.startRate ?? 0;
  return r0 + ((group.rate - r0) * t) / T;
}

/** Start offset in seconds of user `i` of `users` ramped linearly over `rampUp`. */
export function userStartOffset(i: number, users: number, rampUp: number): number {
  return users <= 1 ? 0 : (rampUp * i) / users;
}
