/**
 * The shards' per-second timelines on one wall-clock axis of whole UTC seconds. A shard's second t
 * (from its load start + t) goes whole into the wall-clock second it overlaps most: its load start
 * rounded to the nearest whole second, + t (so counts stay whole; a second is placed at most 0.5 s
 * off). Every shard is placed without knowing the others, so shards fold in one at a time, in any
 * order, with the same result.
 *
 * Counts, errors, kernel counters, CPU and socket counts add up. The records keep per-second
 * percentiles, not histograms, so a merged second's percentile is approximated: the mean of the
 * shards' figures weighted by their count in that second (completions for latency, connections for
 * connect, handshakes for TLS, lookups for DNS). Exact when the shards' distributions in the second
 * are alike (striped arrivals make them so) and always between the lowest and highest shard's;
 * `max` is exact (the highest). Utilization, a per-machine share, is the highest shard's.
 */
import type { HostSecond, TimelineEntry, TimelineSockets } from '../record/types.js';

type SocketCount = Exclude<keyof TimelineSockets, 'utilization'>;
const SOCKET_COUNTS: SocketCount[] = ['timeWait', 'established', 'synSent', 'finWait', 'closeWait', 'lastAck', 'ephemeralInUse', 'serverTimeWait', 'ownInUse', 'ownTimeWait', 'ownServerTimeWait'];

/** A weighted mean in the making. */
class Weighted {
  sum = 0;
  weight = 0;
  add(value: number, weight: number): void {
    this.sum += value * weight;
    this.weight += weight;
  }
  get value(): number {
    return this.weight > 0 ? Math.round((this.sum / this.weight) * 1000) / 1000 : 0;
  }
}

interface Second {
  attempted: number;
  completed: number;
  failed: number;
  dropped: number;
  connectionsOpened: number;
  errors: Record<string, number>;
  lat: { p50: Weighted; p90: Weighted; p99: Weighted; max: number };
  connect: { p50: Weighted; p99: Weighted };
  tlsHandshakes: number | null;
  tls: { p50: Weighted; p99: Weighted } | null;
  dnsLookups: number | null;
  dns: { p50: Weighted; p99: Weighted } | null;
  /** undefined: no shard had the field; null: none could read it. */
  cpu: { process: number | null; host: number | null } | null | undefined;
  sockets: TimelineSockets | null;
  counters: Record<string, number | null> | null;
}

function emptySecond(): Second {
  return {
    attempted: 0,
    completed: 0,
    failed: 0,
    dropped: 0,
    connectionsOpened: 0,
    errors: {},
    lat: { p50: new Weighted(), p90: new Weighted(), p99: new Weighted(), max: 0 },
    connect: { p50: new Weighted(), p99: new Weighted() },
    tlsHandshakes: null,
    tls: null,
    dnsLookups: null,
    dns: null,
    cpu: undefined,
    sockets: null,
    counters: null,
  };
}

const plus = (a: number | null | undefined, b: number | null | undefined): number | null => (a === null || a === undefined ? (b ?? null) : b === null || b === undefined ? a : a + b);

/** Adds one shard's socket picture into the merged one: counts summed, utilization the highest. */
export function addSockets(into: TimelineSockets | null, s: TimelineSockets | null): TimelineSockets | null {
  if (s === null) return into;
  if (into === null) return { ...s };
  for (const k of SOCKET_COUNTS) {
    if (k === 'timeWait') into.timeWait += s.timeWait;
    else if (k in s || k in into) into[k] = plus(into[k], s[k]);
  }
  into.utilization = into.utilization === null ? s.utilization : s.utilization === null ? into.utilization : Math.max(into.utilization, s.utilization);
  return into;
}

function addCounters(into: Record<string, number | null> | null, c: Record<string, number | null> | null): Record<string, number | null> | null {
  if (c === null) return into;
  const out = into ?? {};
  for (const [k, v] of Object.entries(c)) out[k] = plus(out[k], v);
  return out;
}

function addCpu(into: Second['cpu'], c: TimelineEntry['cpu']): Second['cpu'] {
  if (c === undefined) return into;
  if (c === null) return into ?? null;
  if (into === undefined || into === null) return { ...c };
  return { process: plus(into.process, c.process), host: plus(into.host, c.host) };
}

/** Accumulates shard timelines second by second (see the module comment for what is exact). */
export class TimelineFold {
  private readonly seconds = new Map<number, Second>();

  /** Adds a shard's timeline whose second t is wall-clock second `at` + t (Unix seconds, or any axis). */
  add(timeline: readonly TimelineEntry[], at0: number): void {
    for (const e of timeline) {
      const at = e.t + at0;
      let s = this.seconds.get(at);
      if (!s) this.seconds.set(at, (s = emptySecond()));
      s.attempted += e.attempted;
      s.completed += e.completed;
      s.failed += e.failed;
      s.dropped += e.dropped;
      s.connectionsOpened += e.connectionsOpened;
      for (const [code, n] of Object.entries(e.errors)) s.errors[code] = (s.errors[code] ?? 0) + n;
      s.lat.p50.add(e.latencyMs.p50, e.completed);
      s.lat.p90.add(e.latencyMs.p90, e.completed);
      s.lat.p99.add(e.latencyMs.p99, e.completed);
      s.lat.max = Math.max(s.lat.max, e.latencyMs.max);
      s.connect.p50.add(e.connectMs.p50, e.connectionsOpened);
      s.connect.p99.add(e.connectMs.p99, e.connectionsOpened);
      if (e.tlsHandshakes !== undefined) {
        s.tlsHandshakes = (s.tlsHandshakes ?? 0) + e.tlsHandshakes;
        s.tls ??= { p50: new Weighted(), p99: new Weighted() };
        if (e.tlsMs) {
          s.tls.p50.add(e.tlsMs.p50, e.tlsHandshakes);
          s.tls.p99.add(e.tlsMs.p99, e.tlsHandshakes);
        }
      }
      if (e.dnsLookups !== undefined) {
        s.dnsLookups = (s.dnsLookups ?? 0) + e.dnsLookups;
        s.dns ??= { p50: new Weighted(), p99: new Weighted() };
        if (e.dnsMs) {
          s.dns.p50.add(e.dnsMs.p50, e.dnsLookups);
          s.dns.p99.add(e.dnsMs.p99, e.dnsLookups);
        }
      }
      s.cpu = addCpu(s.cpu, e.cpu);
      s.sockets = addSockets(s.sockets, e.sockets);
      s.counters = addCounters(s.counters, e.counters);
    }
  }

  /** The merged timeline: `length` seconds from second `origin` of the axis `add` was given, as t = 0…length − 1. */
  result(origin: number, length: number): TimelineEntry[] {
    const out: TimelineEntry[] = [];
    for (let t = 0; t < length; t++) {
      const s = this.seconds.get(origin + t) ?? emptySecond();
      const e: TimelineEntry = {
        t,
        attempted: s.attempted,
        completed: s.completed,
        failed: s.failed,
        dropped: s.dropped,
        errors: s.errors,
        latencyMs: { p50: s.lat.p50.value, p90: s.lat.p90.value, p99: s.lat.p99.value, max: s.lat.max },
        connectMs: { p50: s.connect.p50.value, p99: s.connect.p99.value },
        connectionsOpened: s.connectionsOpened,
        sockets: s.sockets,
        counters: s.counters,
      };
      if (s.tlsHandshakes !== null) e.tlsHandshakes = s.tlsHandshakes;
      if (s.tls) e.tlsMs = { p50: s.tls.p50.value, p99: s.tls.p99.value };
      if (s.dnsLookups !== null) e.dnsLookups = s.dnsLookups;
      if (s.dns) e.dnsMs = { p50: s.dns.p50.value, p99: s.dns.p99.value };
      if (s.cpu !== undefined) e.cpu = s.cpu;
      out.push(e);
    }
    return out;
  }
}

/** A host's timeline moved `offset` seconds later on an axis of `length` seconds; seconds it did not see are null (unseen, never zeros). */
export function shiftHostTimeline(timeline: readonly HostSecond[], offset: number, length: number): HostSecond[] {
  const out: HostSecond[] = new Array(length);
  for (const h of timeline) {
    const at = h.t + offset;
    if (at >= 0 && at < length) out[at] = { ...h, t: at };
  }
  for (let t = 0; t < length; t++) out[t] ??= { t, sockets: null, counters: null };
  return out;
}
