/**
 * When client ports ran out: the observed onset, the early warning before it, and what the capacity
 * model (DOMAIN.md) predicted for the new-connection rate actually run. Pure: a run record in, the
 * `Exhaustion` summary out.
 */
import { EXHAUSTION_CODES } from '../vocab/failure.js';
import type { Exhaustion, Phase, RunRecord, TimelineEntry } from '../record/types.js';
import { sustainableRate } from './model.js';

/** Whether a failure signals that no local port was free: EADDRNOTAVAIL anywhere; EADDRINUSE,
 * ENOBUFS and EAGAIN only on connect (DOMAIN.md: the macOS/Windows spellings and Node's implicit bind). */
export function isExhaustionSignal(code: string, phase: string): boolean {
  if (code === 'EADDRNOTAVAIL') return true;
  return phase === 'connect' && EXHAUSTION_CODES.has(code);
}

/** Exhaustion-signal failures by code, from `errorsByPhase` (EADDRNOTAVAIL also from `errors`). */
export function exhaustionSignalCounts(r: RunRecord): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, n] of Object.entries(r.errorsByPhase)) {
    const i = key.indexOf(':');
    const code = key.slice(i + 1);
    if (n > 0 && isExhaustionSignal(code, key.slice(0, i))) out[code] = (out[code] ?? 0) + n;
  }
  const plain = r.errors['EADDRNOTAVAIL'] ?? 0;
  if (!out['EADDRNOTAVAIL'] && plain > 0) out['EADDRNOTAVAIL'] = plain;
  return out;
}

/**
 * When `code` first failed (in `phase`, if given): the exact time from `errorSamples` when it holds
 * that code, else the start of the first timeline second whose errors include it; null if never.
 */
export function firstFailureAt(r: RunRecord, code: string, phase?: Phase): number | null {
  const sample = r.errorSamples.find((s) => s.code === code && (phase === undefined || s.phase === phase));
  if (sample) return sample.t;
  const second = r.timeline.find((e) => (e.errors[code] ?? 0) > 0);
  return second ? second.t : null;
}

/** Pearson correlation of two equally long series; null with fewer than 3 points or no variance. */
export function pearson(xs: number[], ys: number[]): number | null {
  const n = Math.min(xs.length, ys.length);
  if (n < 3) return null;
  const mx = xs.slice(0, n).reduce((a, b) => a + b, 0) / n;
  const my = ys.slice(0, n).reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - mx;
    const dy = ys[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx <= 0 || syy <= 0) return null;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

const round = (x: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};
const roundOrNull = (x: number | null, digits: number): number | null => (x === null ? null : round(x, digits));

/** New connection attempts in one second: every request without reuse, opened connections with it. */
function connectionAttempts(r: RunRecord, e: TimelineEntry): number {
  return r.scenario.connection.reuse ? e.connectionsOpened : e.attempted;
}

/**
 * Summarizes port exhaustion in a run record.
 *
 * - `firstAtS`: the earliest exhaustion-signal failure (see {@link isExhaustionSignal}), exact from
 *   `errorSamples` where possible; `errorRateAfter` covers its second to the end of the run.
 * - `sustainableRate`: usable ports / TIME_WAIT, × the source addresses when more than one is set.
 * - `peakConnectionRate`: the busiest second's attempts (`reuse: false`) or opened connections.
 * - `predictedAtS`: with `reuse: false` and `close: client`, ports held at time τ ≈ baseline in use +
 *   connection attempts in (τ − TIME_WAIT, τ], attempts spread evenly within their second; the
 *   first τ where that reaches the usable ports. Null for other policies (the client keeps no
 *   TIME_WAIT) or when never reached within the run.
 * - `earlyWarningAtS`: see {@link earlyWarning}.
 * - `correlation`: over seconds with a socket picture and finished requests.
 */
export function analyzeExhaustion(r: RunRecord): Exhaustion {
  const timeline = [...r.timeline].sort((a, b) => a.t - b.t);
  const signals = exhaustionSignalCounts(r);
  let firstAtS: number | null = null;
  for (const code of Object.keys(signals)) {
    const t = firstFailureAt(r, code, code === 'EADDRNOTAVAIL' ? undefined : 'connect');
    if (t !== null && (firstAtS === null || t < firstAtS)) firstAtS = t;
  }
  const atFirst = firstAtS === null ? undefined : timeline.find((e) => e.t === Math.floor(firstAtS!));
  let errorRateAfter: number | null = null;
  if (firstAtS !== null) {
    let failed = 0;
    let done = 0;
    for (const e of timeline) {
      if (e.t < Math.floor(firstAtS)) continue;
      failed += e.failed;
      done += e.completed + e.failed;
    }
    errorRateAfter = done > 0 ? failed / done : null;
  }

  const usable = r.ports?.usable ?? r.host.usablePorts;
  const timeWaitS = r.host.timeWaitS;
  const sources = r.scenario.connection.localAddresses.length > 1 ? r.scenario.connection.localAddresses.length : 1;
  const rmax = usable !== null && timeWaitS !== null ? sustainableRate(usable, timeWaitS, sources) : null;
  const peakConnectionRate = timeline.length > 0 ? Math.max(...timeline.map((e) => connectionAttempts(r, e))) : null;

  const clientHoldsTimeWait = !r.scenario.connection.reuse && r.scenario.connection.close === 'client';
  const predictedAtS =
    clientHoldsTimeWait && usable !== null && timeWaitS !== null && timeWaitS > 0
      ? predictOnset(timeline.map((e) => [e.t, connectionAttempts(r, e)]), usable * sources, timeWaitS, r.monitor.baseline?.ephemeralInUse ?? 0)
      : null;

  const warning = earlyWarning(timeline, firstAtS);
  const points = timeline.filter((e) => e.sockets?.utilization != null && e.completed + e.failed > 0);
  const util = points.map((e) => e.sockets!.utilization!);
  return {
    firstAtS: roundOrNull(firstAtS, 3),
    utilizationAtFirst: atFirst?.sockets?.utilization ?? null,
    timeWaitAtFirst: atFirst?.sockets?.timeWait ?? null,
    errorRateAfter: roundOrNull(errorRateAfter, 4),
    predictedAtS: roundOrNull(predictedAtS, 3),
    onsetVsPredictionS: firstAtS !== null && predictedAtS !== null ? round(firstAtS - predictedAtS, 3) : null,
    earlyWarningAtS: warning?.entry.t ?? null,
    utilizationAtWarning: warning?.entry.sockets?.utilization ?? null,
    sustainableRate: roundOrNull(rmax, 1),
    peakConnectionRate,
    correlation: {
      utilizationVsErrorRate: roundOrNull(pearson(util, points.map((e) => e.failed / (e.completed + e.failed))), 3),
      utilizationVsLatencyP99: roundOrNull(pearson(util, points.map((e) => e.latencyMs.p99)), 3),
    },
  };
}

/**
 * The first time τ at which `baseline + attempts in (τ − W, τ]` reaches `usable`, with each second's
 * attempts spread evenly over it; null if it never does within the seconds given.
 * `perSecond` holds [second, attempts] pairs.
 */
export function predictOnset(perSecond: Array<[number, number]>, usable: number, timeWaitS: number, baseline = 0): number | null {
  if (perSecond.length === 0) return null;
  const start = Math.min(...perSecond.map(([t]) => t));
  const end = Math.max(...perSecond.map(([t]) => t)) + 1;
  const rate = new Map<number, number>();
  for (const [t, a] of perSecond) rate.set(t, (rate.get(t) ?? 0) + a);
  const prefix = new Map<number, number>(); // attempts before second s
  let acc = 0;
  for (let s = start; s <= end; s++) {
    prefix.set(s, acc);
    acc += rate.get(s) ?? 0;
  }
  const cumulative = (x: number): number => {
    if (x <= start) return 0;
    if (x >= end) return prefix.get(end)!;
    const s = Math.floor(x);
    return prefix.get(s)! + (x - s) * (rate.get(s) ?? 0);
  };
  const held = (x: number): number => baseline + cumulative(x) - cumulative(x - timeWaitS);
  // held() is linear between second boundaries and their shifts by TIME_WAIT.
  const points = new Set<number>();
  for (let s = start; s <= end; s++) {
    points.add(s);
    if (s + timeWaitS <= end) points.add(s + timeWaitS);
  }
  const sorted = [...points].sort((a, b) => a - b);
  if (held(sorted[0]!) >= usable) return sorted[0]!;
  for (let i = 1; i < sorted.length; i++) {
    const p0 = sorted[i - 1]!;
    const p1 = sorted[i]!;
    const h0 = held(p0);
    const h1 = held(p1);
    if (h0 < usable && h1 >= usable) return p0 + ((usable - h0) / (h1 - h0)) * (p1 - p0);
  }
  return null;
}

/** The second connect latency rose in, and the baseline it rose from. */
export interface EarlyWarning {
  entry: TimelineEntry;
  /** Median connect p50 of the baseline seconds, ms. */
  baselineMs: number;
}

/**
 * The early warning: the first second whose connect p50 rose well above its baseline (DOMAIN.md:
 * ~10 µs → ~700 µs once half the range is used, before the first failure).
 *
 * Rule: among seconds that opened connections, the baseline is the median connect p50 of the first
 * k of them (k = 20 % of those seconds, at least 1, at most 3; counted before the exhaustion onset
 * when any precede it). A later second warns when its p50 ≥ 10 × baseline and ≥ baseline + 0.2 ms,
 * unless the next second (if it opened connections) is back below 3 × baseline: a one-second spike
 * is noise. The warning is reported even when it comes after the onset.
 */
export function earlyWarning(timeline: TimelineEntry[], firstAtS: number | null): EarlyWarning | null {
  const conn = timeline.filter((e) => e.connectionsOpened > 0);
  const before = firstAtS === null ? conn : conn.filter((e) => e.t < Math.floor(firstAtS));
  const pool = before.length > 0 ? before : conn;
  if (pool.length === 0) return null;
  const k = Math.min(3, Math.max(1, Math.ceil(pool.length * 0.2)));
  const base = median(pool.slice(0, k).map((e) => e.connectMs.p50));
  const after = conn.filter((e) => e.t > pool[k - 1]!.t);
  for (const e of after) {
    const p = e.connectMs.p50;
    if (p < 10 * base || p < base + 0.2) continue;
    const next = conn.find((x) => x.t === e.t + 1);
    if (next && next.connectMs.p50 < 3 * base) continue;
    return { entry: e, baselineMs: base };
  }
  return null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
