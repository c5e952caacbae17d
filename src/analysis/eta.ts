/**
 * The capacity model's live view, for `monitor --prometheus` and the agent's /metrics: per
 * destination the scans keep, the rate of new connections, the rate its ports sustain (usable ports ÷
 * hold, capacity.ts) and the time to the first failed connect() at that rate (the same formula as
 * `doctor --rate`). Pure: samples in, figures out; the estimator keeps only a window of them.
 *
 * The rate toward a destination over a window [t0, t1] of scans (the oldest within ETA_WINDOW_MS):
 *   growth = (held(t1) − held(t0) + expired) / (t1 − t0)
 * where held is the client sockets holding a port toward it (TIME_WAIT included) and expired the
 * TIME_WAIT sockets of t0 whose timer ran out by t1 (exact from the scan's time-left detail; without
 * timers, netstat, an even spread of ages: timeWait × Δt ÷ TIME_WAIT length). Ports connect() took
 * over from TIME_WAIT (tcp_tw_reuse) neither grow nor expire: the host-wide TWRecycled rate is added,
 * shared by the destinations' TIME_WAIT counts. The host-wide ActiveOpens rate caps the result (no
 * destination gets more new connections than the host opened); it is not used as the rate itself,
 * because it also counts connections whose port comes back at once (the server closes first, RST),
 * which would predict an exhaustion that never comes. A destination with no earlier figure (it just
 * entered the busiest 20 of a busy host) takes the ActiveOpens rate when it holds ≥ 90 % of the
 * host's client ports, else has no rate. Connections that free their port within the window without
 * TIME_WAIT on this side are not counted: they do not hold ports for the hold either.
 */
import { TIME_LEFT_STEP_MS } from '../monitor/aggregate.js';
import type { CapacityEstimator, DestinationCapacity } from '../monitor/prometheus.js';
import { MAX_DESTINATIONS, type CounterDeltas, type DestinationUsage, type MonitorSample, type SocketScan } from '../monitor/types.js';
import { isLoopbackHost, LINUX_TIME_WAIT_S, portBudget, portHold, secondsToExhaustion, sustainableRate, type HoldFacts } from './capacity.js';

/** The scans a rate is measured over: those of the last 10 s (and always the one before the newest). */
export const ETA_WINDOW_MS = 10_000;
/** A destination holding this share of the host's client ports takes the host's ActiveOpens rate when it has no earlier figure. */
export const DOMINANT_SHARE = 0.9;

/** The host facts the view needs. */
export interface EtaModel {
  facts: HoldFacts;
  /** Ports connect() can pick (one pool); null when unknown. */
  usable: number | null;
}

/** A fast sample's kernel counters at its time. */
export interface CounterPoint {
  at: number;
  counters: CounterDeltas;
}

/** Host-wide new connections (ActiveOpens) and TIME_WAIT take-overs (TWRecycled) per second. */
export interface CounterRates {
  opens: number | null;
  recycled: number | null;
}

/**
 * The counters' rates over the fast samples spanning (fromMs, toMs] as closely as they can: from
 * the last sample at or before `fromMs` to the last at or before `toMs`. Null where a delta in the
 * span is unknown or the samples do not span it. `fast` is in time order.
 */
export function counterRates(fast: readonly CounterPoint[], fromMs: number, toMs: number): CounterRates {
  let a = -1;
  let b = -1;
  for (let i = 0; i < fast.length; i++) {
    if (fast[i]!.at <= fromMs) a = i;
    if (fast[i]!.at <= toMs) b = i;
  }
  if (a < 0 || b <= a) return { opens: null, recycled: null };
  const seconds = (fast[b]!.at - fast[a]!.at) / 1000;
  const rate = (name: 'ActiveOpens' | 'TWRecycled'): number | null => {
    let sum = 0;
    for (let i = a + 1; i <= b; i++) {
      const d = fast[i]!.counters[name];
      if (d === null) return null;
      sum += d;
    }
    return sum / seconds;
  };
  return { opens: rate('ActiveOpens'), recycled: rate('TWRecycled') };
}

/** TIME_WAIT sockets toward `d` whose timer runs out within `ms`; `exact` when the scan gave their timers. */
export function expiredWithin(d: DestinationUsage, ms: number, timeWaitS: number): { count: number; exact: boolean } {
  if (d.timeWait === 0) return { count: 0, exact: true };
  const left = d.timeWaitLeft;
  if (!left) return { count: d.timeWait * Math.min(1, ms / (timeWaitS * 1000)), exact: false };
  let n = 0;
  for (let k = 0; k < left.length && k * TIME_LEFT_STEP_MS < ms; k++) n += left[k]! * Math.min(1, (ms - k * TIME_LEFT_STEP_MS) / TIME_LEFT_STEP_MS);
  return { count: n, exact: true };
}

/** TIME_WAIT sockets toward `d` younger than `holdS` (those connect() cannot take over yet); `rate × hold` at most when the scan gave no timers. */
function youngTimeWait(d: DestinationUsage, holdS: number, timeWaitS: number, rate: number): number {
  const left = d.timeWaitLeft;
  if (!left) return Math.min(d.timeWait, rate * holdS);
  const fromMs = (timeWaitS - holdS) * 1000;
  let n = 0;
  for (let k = 0; k < left.length; k++) {
    const lo = k * TIME_LEFT_STEP_MS;
    if (lo + TIME_LEFT_STEP_MS <= fromMs) continue;
    n += left[k]! * Math.min(1, (lo + TIME_LEFT_STEP_MS - fromMs) / TIME_LEFT_STEP_MS);
  }
  return n;
}

/** Whether a scan left out destinations (it kept the busiest MAX_DESTINATIONS): then one it does not list is unknown, not idle. */
const full = (s: SocketScan): boolean => s.destinations.filter((d) => !d.own).length >= MAX_DESTINATIONS;

/**
 * New connections per second toward each destination of the newest scan (null where unknown), by
 * the estimator this module's header describes. `scans` and `fast` are in time order.
 */
export function newConnectionRates(scans: readonly SocketScan[], fast: readonly CounterPoint[], timeWaitS: number): Map<string, number | null> {
  const latest = scans[scans.length - 1]!;
  const out = new Map<string, number | null>();
  const earlier = scans.slice(0, -1);
  const counters = new Map<number, CounterRates>();
  const countersFrom = (at: number): CounterRates => {
    let c = counters.get(at);
    if (!c) counters.set(at, (c = counterRates(fast, at, latest.at)));
    return c;
  };
  const tw = latest.destinations.reduce((a, d) => a + d.timeWait, 0);
  for (const d of latest.destinations) {
    const base = earlier.find((s) => s.at < latest.at && (!full(s) || s.destinations.some((x) => x.dest === d.dest)));
    if (!base) {
      const from = earlier[0];
      const opens = from ? countersFrom(from.at).opens : null;
      const dominant = latest.ephemeralInUse > 0 && d.inUse >= DOMINANT_SHARE * latest.ephemeralInUse;
      out.set(d.dest, dominant ? opens : null);
      continue;
    }
    const before = base.destinations.find((x) => x.dest === d.dest);
    const ms = latest.at - base.at;
    const expired = before ? expiredWithin(before, ms, timeWaitS).count : 0;
    const { opens, recycled } = countersFrom(base.at);
    const taken = recycled !== null && tw > 0 ? (recycled * d.timeWait) / tw : 0;
    const rate = Math.max(0, d.inUse - (before?.inUse ?? 0) + expired) / (ms / 1000) + taken;
    out.set(d.dest, opens === null ? rate : Math.min(rate, opens));
  }
  return out;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/**
 * The capacity view of the newest scan: per destination its new-connection rate, hold, sustainable
 * rate and ETA. Linux (a pool per source and destination): the ports held now are the client
 * sockets toward it, less TIME_WAIT sockets older than the hold where tcp_tw_reuse shortens it; with
 * several source addresses the busiest one's share of the ports and of the rate. macOS and Windows
 * (a pool per source address across destinations): the busiest source's ports and every
 * destination's rate together, the same ETA for each. ETA: Infinity when the rate is zero or
 * sustainable, null when the rate or the usable ports are unknown.
 */
export function capacityView(scans: readonly SocketScan[], fast: readonly CounterPoint[], model: EtaModel): DestinationCapacity[] {
  if (scans.length === 0) return [];
  const latest = scans[scans.length - 1]!;
  const { facts, usable } = model;
  const timeWaitS = facts.timeWaitS ?? LINUX_TIME_WAIT_S;
  const rates = newConnectionRates(scans, fast, timeWaitS);
  const perSource = portBudget(facts.platform, usable, 'kernel', 1, 1).scope === 'source';
  const known = [...rates.values()].filter((r): r is number => r !== null);
  const hostRate = known.length > 0 ? known.reduce((a, r) => a + r, 0) : null;
  const busiestSource = Math.max(0, ...Object.values(latest.sources));
  return latest.destinations.map((d) => {
    const holdS = portHold(facts, isLoopbackHost(d.dest)).holdS;
    const rate = rates.get(d.dest) ?? null;
    const pools = perSource ? 1 : Math.max(1, Object.keys(d.bySource ?? {}).length);
    let held: number;
    let poolRate: number | null;
    if (perSource) {
      held = busiestSource > 0 ? busiestSource : latest.ephemeralInUse;
      poolRate = hostRate;
    } else {
      const share = d.bySource && d.inUse > 0 ? Math.max(...Object.values(d.bySource)) / d.inUse : 1;
      const now = holdS < timeWaitS ? d.inUse - d.timeWait + youngTimeWait(d, holdS, timeWaitS, rate ?? 0) : d.inUse;
      held = now * share;
      poolRate = rate === null ? null : rate * share;
    }
    let etaS: number | null = null;
    if (poolRate !== null && usable !== null) {
      const t = poolRate > 0 ? secondsToExhaustion(poolRate, usable, held, holdS) : null;
      etaS = t === null ? Infinity : round1(t);
    }
    return {
      dest: d.dest,
      etaS,
      sustainableRate: usable === null ? null : round1(sustainableRate(usable, holdS, pools)),
      newConnectionRate: rate === null ? null : round1(rate),
      holdS,
    };
  });
}

/** Keeps the window of scans and counters `capacityView` reads, for a running monitor. */
export class PortEtaEstimator implements CapacityEstimator {
  private readonly scans: SocketScan[] = [];
  private readonly fast: CounterPoint[] = [];

  constructor(
    private readonly model: EtaModel,
    private readonly windowMs = ETA_WINDOW_MS,
  ) {}

  /** Takes one sample; on a sample with a scan, answers with the view of that scan. */
  observe(s: MonitorSample): DestinationCapacity[] | null {
    if (s.counters) {
      this.fast.push({ at: s.at, counters: s.counters });
      this.trimCounters(s.at);
    }
    if (!s.scan) return null;
    const scans = this.scans;
    if (scans.length > 0 && s.scan.at <= scans[scans.length - 1]!.at) return null;
    scans.push(s.scan);
    while (scans.length > 2 && scans[0]!.at < s.scan.at - this.windowMs) scans.shift();
    this.trimCounters(s.at);
    return capacityView(scans, this.fast, this.model);
  }

  /** Keeps the counters from the last one at or before the oldest scan (at most two windows back). */
  private trimCounters(now: number): void {
    const cutoff = Math.max(this.scans[0]?.at ?? -Infinity, now - 2 * this.windowMs);
    let drop = 0;
    while (drop + 1 < this.fast.length && this.fast[drop + 1]!.at <= cutoff) drop++;
    if (drop > 0) this.fast.splice(0, drop);
  }
}
