/**
 * When client ports ran out: the observed onset, the early warning before it, and what the capacity
 * model (DOMAIN.md) predicted for the new-connection rate actually run. Pure: a run record in, the
 * `Exhaustion` summary out.
 */
import { EXHAUSTION_CODES } from '../vocab/failure.js';
import type { Exhaustion, Phase, RunRecord, TimelineEntry } from '../record/types.js';
import { baselineHeld, capacityOf, connectionAttempts, predictOnset } from './capacity.js';

export { predictOnset } from './capacity.js';

/** Codes each platform's connect() reports when no local port is free, besides EADDRNOTAVAIL
 * (DOMAIN.md): EADDRINUSE from Node's implicit bind everywhere, EAGAIN on BSD-derived macOS,
 * ENOBUFS (WSAENOBUFS) on Windows. Linux's ENOBUFS and EAGAIN mean memory and routing, not ports. */
const CONNECT_SIGNALS: Record<string, ReadonlySet<string>> = {
  linux: new Set(['EADDRINUSE']),
  darwin: new Set(['EADDRINUSE', 'EAGAIN']),
  win32: new Set(['EADDRINUSE', 'ENOBUFS']),
};

/** Whether a failure signals that no local (TCP) port was free: EADDRNOTAVAIL in any phase but
 * `dns` (a lookup's socket is UDP, which TCP's TIME_WAIT does not hold); EADDRINUSE, ENOBUFS and
 * EAGAIN only on connect, and only where `platform` reports it so (any, when unknown). */
export function isExhaustionSignal(code: string, phase: string, platform?: string): boolean {
  if (phase === 'dns') return false;
  if (code === 'EADDRNOTAVAIL') return true;
  if (phase !== 'connect') return false;
  const codes = (platform !== undefined && CONNECT_SIGNALS[platform]) || EXHAUSTION_CODES;
  return codes.has(code);
}

/** Source addresses in `connection.localAddresses` that the host does not have; empty when its addresses are unknown. */
export function missingSourceAddresses(r: RunRecord): string[] {
  const have = r.host.localAddresses;
  if (!have) return [];
  const norm = (a: string) => a.toLowerCase().replace(/^::ffff:/, '');
  const set = new Set(have.map(norm));
  return r.scenario.connection.localAddresses.filter((a) => !set.has(norm(a)));
}

/** Whether an error sample failed in bind(): its recorded syscall, else Node's message ("bind EADDRNOTAVAIL 10.9.9.9"). */
export function isBindSample(s: RunRecord['errorSamples'][number]): boolean {
  return s.syscall === 'bind' || (s.syscall == null && /^bind\b/.test(s.message));
}

/**
 * EADDRNOTAVAIL failures of bind() (a source address the host lacks), not of port exhaustion:
 * `errorsBySyscall['bind:EADDRNOTAVAIL']` where the transport recorded syscalls; else every
 * EADDRNOTAVAIL when the sample of that code failed in bind() or a configured source address is
 * missing from the host.
 */
export function bindUnavailableCount(r: RunRecord): number {
  const bySyscall = r.errorsBySyscall;
  if (bySyscall) return bySyscall['bind:EADDRNOTAVAIL'] ?? 0;
  if (r.errorSamples.some((s) => s.code === 'EADDRNOTAVAIL' && isBindSample(s))) return r.errors['EADDRNOTAVAIL'] ?? 0;
  return missingSourceAddresses(r).length > 0 ? (r.errors['EADDRNOTAVAIL'] ?? 0) : 0;
}

/** Exhaustion-signal failures by code, from `errorsByPhase` (EADDRNOTAVAIL also from `errors`),
 * less the EADDRNOTAVAIL that bind() of a missing source address caused. */
export function exhaustionSignalCounts(r: RunRecord): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, n] of Object.entries(r.errorsByPhase)) {
    const i = key.indexOf(':');
    const code = key.slice(i + 1);
    if (n > 0 && isExhaustionSignal(code, key.slice(0, i), r.host.platform)) out[code] = (out[code] ?? 0) + n;
  }
  // Records without phases for it (older ones) count EADDRNOTAVAIL from `errors`.
  const plain = r.errors['EADDRNOTAVAIL'] ?? 0;
  const phased = Object.keys(r.errorsByPhase).some((k) => k.endsWith(':EADDRNOTAVAIL'));
  if (!out['EADDRNOTAVAIL'] && plain > 0 && !phased) out['EADDRNOTAVAIL'] = plain;
  const bind = bindUnavailableCount(r);
  if (bind > 0 && out['EADDRNOTAVAIL'] !== undefined) {
    const left = out['EADDRNOTAVAIL'] - bind;
    if (left > 0) out['EADDRNOTAVAIL'] = left;
    else delete out['EADDRNOTAVAIL'];
  }
  return out;
}

/**
 * When `code` first failed (in `phase`, if given: a phase, or a test of the phase): the exact time
 * from `errorSamples` when it holds that code (bind() failures excluded), else the start of the
 * first timeline second whose errors include it; null if never.
 */
export function firstFailureAt(r: RunRecord, code: string, phase?: Phase | ((p: Phase) => boolean)): number | null {
  const inPhase = (p: Phase): boolean => phase === undefined || (typeof phase === 'function' ? phase(p) : p === phase);
  const sample = r.errorSamples.find((s) => s.code === code && !isBindSample(s) && inPhase(s.phase));
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

/**
 * Summarizes port exhaustion in a run record.
 *
 * - `firstAtS`: the earliest exhaustion-signal failure (see {@link isExhaustionSignal}), exact from
 *   `errorSamples` where possible; `errorRateAfter` covers its second to the end of the run.
 * - `capacity`: the capacity model ({@link capacityOf}): hold, budget, pools, who holds TIME_WAIT.
 * - `sustainableRate`: budget × pools / hold.
 * - `peakConnectionRate`: the busiest second's attempts (`reuse: false`) or opened connections.
 * - `predictedAtS`: where the client holds TIME_WAIT (as observed, else by the scenario), ports held
 *   at time τ ≈ the pools' baseline (ageing out) + connection attempts in (τ − hold, τ], attempts
 *   spread evenly within their second; the first τ where that reaches budget × pools. Null when the
 *   client keeps no TIME_WAIT or when never reached within the run.
 * - `earlyWarningAtS`: see {@link earlyWarning}.
 * - `correlation`: over seconds with a socket picture and finished requests.
 */
export function analyzeExhaustion(r: RunRecord): Exhaustion {
  const timeline = [...r.timeline].sort((a, b) => a.t - b.t);
  const signals = exhaustionSignalCounts(r);
  let firstAtS: number | null = null;
  for (const code of Object.keys(signals)) {
    const t = firstFailureAt(r, code, code === 'EADDRNOTAVAIL' ? (p) => p !== 'dns' : 'connect');
    if (t !== null && (firstAtS === null || t < firstAtS)) firstAtS = t;
  }
  const atFirst = firstAtS === null ? undefined : timeline.find((e) => e.t === Math.floor(firstAtS!));
  const errorRateAfter = errorRateFrom(timeline, firstAtS);

  const capacity = capacityOf(r);
  const peakConnectionRate = timeline.length > 0 ? Math.max(...timeline.map((e) => connectionAttempts(r, e))) : null;

  const clientHoldsTimeWait = capacity.timeWaitSide.side === 'client' || capacity.timeWaitSide.side === 'both';
  const predictedAtS =
    clientHoldsTimeWait && capacity.budget !== null && capacity.holdS > 0
      ? predictOnset(
          timeline.map((e) => [e.t, connectionAttempts(r, e)]),
          capacity.budget * capacity.pools,
          capacity.holdS,
          baselineHeld(r, capacity.sourceStrategy, capacity.holdS),
        )
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
    sustainableRate: capacity.sustainableRate,
    peakConnectionRate,
    correlation: {
      utilizationVsErrorRate: roundOrNull(pearson(util, points.map((e) => e.failed / (e.completed + e.failed))), 3),
      utilizationVsLatencyP99: roundOrNull(pearson(util, points.map((e) => e.latencyMs.p99)), 3),
    },
    capacity,
  };
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

/** Share of the requests finished from second ⌊fromS⌋ on that failed; null without an onset or requests. */
export function errorRateFrom(timeline: ReadonlyArray<{ t: number; completed: number; failed: number }>, fromS: number | null): number | null {
  if (fromS === null) return null;
  let failed = 0;
  let done = 0;
  for (const e of timeline) {
    if (e.t < Math.floor(fromS)) continue;
    failed += e.failed;
    done += e.completed + e.failed;
  }
  return done > 0 ? failed / done : null;
}
