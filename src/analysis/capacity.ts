/**
 * The capacity model of client ports (DOMAIN.md), the one place run, report, doctor, knee, compare
 * and advice take it from. A closed connection keeps its port unusable for a while (the hold); the
 * ports are drawn from pools whose shape depends on the platform and on how the source address is
 * chosen; one pool sustains `budget / holdS` new connections per second. The host's settings give
 * the hold, and a run's own TIME_WAIT figures can show that it was shorter. Pure.
 */
import type { BaselineDestination, Capacity, HostInfo, RunRecord, SourceStrategy, TimelineEntry, TimeWaitSide } from '../record/types.js';
import { isLoopbackIp, splitHostPort } from '../vocab/address.js';
import { DNS_CODES } from '../vocab/failure.js';
import { num } from '../vocab/format.js';
import { servingHost } from './hosts.js';

/** Linux's TCP_TIMEWAIT_LEN (include/net/tcp.h; not tunable). */
export const LINUX_TIME_WAIT_S = 60;
/** tcp_tw_reuse_delay where the sysctl is absent (before Linux 6.13 the delay was a fixed 1 s). */
export const DEFAULT_TW_REUSE_DELAY_MS = 1000;
/** macOS: 2 × net.inet.tcp.msl, default 15 000 ms. */
export const MAC_DEFAULT_TIME_WAIT_S = 30;
/** Windows: TcpTimedWaitDelay's documented default since Windows Server 2003 (240 s on Windows 2000). */
export const WINDOWS_DEFAULT_TIME_WAIT_S = 120;

/** The host facts the model reads. */
export type HoldFacts = Pick<HostInfo, 'platform' | 'timeWaitS' | 'tcpTwReuse' | 'tcpTwReuseDelayMs' | 'tcpTimestamps'>;

/** How long a closed port stays unusable, and why. */
export interface Hold {
  holdS: number;
  reason: string;
}

/**
 * The hold on `facts.platform` for a destination that is (`loopback`) or is not on loopback.
 *
 * Linux: TIME_WAIT lasts 60 s, but with tcp_tw_reuse=1 (or =2 toward 127.0.0.0/8 and ::1) and TCP
 * timestamps on, connect() takes over a TIME_WAIT port once its last timestamp is older than
 * tcp_tw_reuse_delay. macOS: 2 × MSL. Windows: TcpTimedWaitDelay (the host's value where it was
 * read, else the documented default).
 */
export function portHold(facts: HoldFacts, loopback: boolean): Hold {
  if (facts.platform === 'darwin') {
    const s = facts.timeWaitS;
    return s === null
      ? { holdS: MAC_DEFAULT_TIME_WAIT_S, reason: `TIME_WAIT is 2 × MSL; net.inet.tcp.msl was not read, so its default 15 000 ms gives ${MAC_DEFAULT_TIME_WAIT_S} s` }
      : { holdS: s, reason: `TIME_WAIT is 2 × MSL (net.inet.tcp.msl ${num((s * 1000) / 2)} ms)` };
  }
  if (facts.platform === 'win32') {
    const s = facts.timeWaitS;
    return s === null
      ? { holdS: WINDOWS_DEFAULT_TIME_WAIT_S, reason: `TIME_WAIT lasts TcpTimedWaitDelay; the registry value was not read, so its documented default ${WINDOWS_DEFAULT_TIME_WAIT_S} s applies (240 s on Windows 2000)` }
      : { holdS: s, reason: `TIME_WAIT lasts TcpTimedWaitDelay (${num(s)} s on this host)` };
  }
  const base = facts.timeWaitS ?? LINUX_TIME_WAIT_S;
  const full = `a closed port waits out TIME_WAIT (${num(base)} s, TCP_TIMEWAIT_LEN)`;
  if (facts.platform !== 'linux') return { holdS: base, reason: `${facts.platform}: no model of its stack; assuming Linux's ${num(base)} s TIME_WAIT` };
  const reuse = facts.tcpTwReuse;
  const applies = reuse === 1 || (reuse === 2 && loopback);
  if (!applies) {
    if (reuse === 2) return { holdS: base, reason: `tcp_tw_reuse=2 recycles TIME_WAIT ports toward loopback only and this destination is not on loopback, so ${full}` };
    if (reuse === null) return { holdS: base, reason: `tcp_tw_reuse could not be read; assuming 0: ${full}` };
    return { holdS: base, reason: `tcp_tw_reuse=${reuse}: ${full}` };
  }
  if (facts.tcpTimestamps === 0) return { holdS: base, reason: `tcp_tw_reuse=${reuse} needs TCP timestamps, and tcp_timestamps=0, so ${full}` };
  const delayMs = facts.tcpTwReuseDelayMs ?? DEFAULT_TW_REUSE_DELAY_MS;
  const which = reuse === 2 ? 'tcp_tw_reuse=2 and the destination is on loopback' : 'tcp_tw_reuse=1';
  const absent = facts.tcpTwReuseDelayMs === null ? ' (the sysctl is absent here: a fixed 1 000 ms)' : '';
  return { holdS: delayMs / 1000, reason: `${which} with TCP timestamps: connect() takes over a TIME_WAIT port once it is older than tcp_tw_reuse_delay, ${num(delayMs)} ms${absent}` };
}

/** The pools ports are drawn from. */
export interface Budget {
  /** Ports in one pool; null when unknown. */
  ports: number | null;
  scope: 'source-destination' | 'source';
  sources: number;
  destinations: number;
  pools: number;
  reason: string;
}

/**
 * The port budget on `platform` with `usable` ports per pool. Linux: connect() without bind()
 * picks a port per (source, destination ip:port) (`__inet_hash_connect`); bind() before connect()
 * makes a port exclusive to its source address across every destination; bind() with
 * IP_BIND_ADDRESS_NO_PORT defers the choice to connect(), per destination again. macOS and Windows
 * hold an ephemeral port per local address across all destinations (on Windows Node's libuv binds
 * the socket before ConnectEx).
 */
export function portBudget(platform: string, usable: number | null, strategy: SourceStrategy, sourceAddresses: number, destinations: number): Budget {
  const sources = strategy === 'kernel' ? 1 : Math.max(1, sourceAddresses);
  const dests = Math.max(1, destinations);
  const perSource = (reason: string): Budget => ({ ports: usable, scope: 'source', sources, destinations: dests, pools: sources, reason });
  if (platform === 'darwin') return perSource('macOS holds an ephemeral port per local address, whatever the destination (BSD in_pcbbind)');
  if (platform === 'win32') return perSource('Windows holds an ephemeral port per local address across all destinations (Node\'s libuv binds before ConnectEx), and reports running out as ENOBUFS (WSAENOBUFS) or EADDRINUSE');
  if (strategy === 'bind') return perSource('bind() before connect() makes each port exclusive to its source address across all destinations');
  const reason =
    strategy === 'bind-no-port'
      ? 'bind() with IP_BIND_ADDRESS_NO_PORT leaves the port to connect(), so each source address has its ports per destination ip:port'
      : 'connect() without bind() picks a port per (source, destination ip:port)';
  return { ports: usable, scope: 'source-destination', sources, destinations: dests, pools: sources * dests, reason };
}

/** New connections per second the pools sustain when each connection holds its port `holdS`. */
export function sustainableRate(budget: number, holdS: number, pools = 1): number {
  if (holdS <= 0) return Infinity;
  return (budget / holdS) * Math.max(1, pools);
}

/**
 * Seconds until the first connect() fails at a steady `rate` of new connections, starting with
 * `inUse` ports already held; null when the rate is sustainable. Ports taken in the first `holdS`
 * seconds are not free again yet, so failure comes when `usable - inUse` ports are spent,
 * provided that happens within the hold.
 */
export function secondsToExhaustion(rate: number, usable: number, inUse: number, holdS: number): number | null {
  if (rate <= 0) return null;
  const free = Math.max(0, usable - inUse);
  const t = free / rate;
  if (t >= holdS && rate <= usable / holdS) return null;
  return t;
}

/** New connections per second that a request rate needs with keep-alive. */
export function connectionRate(requestRate: number, requestsPerConnection: number): number {
  return requestRate / Math.max(1, requestsPerConnection);
}

/** Ports held before the load: `inUse` for the whole run, and TIME_WAIT freeing by second (`expiry[i]` in [i, i+1) s). */
export interface HeldBaseline {
  inUse: number;
  expiry: number[];
}

/** The ports the load's pools held before it started, from the record's per-destination baseline
 * (own destinations; every destination when bind() makes the budget per source), else the old
 * host-wide `ephemeralInUse` for the whole run. TIME_WAIT frees no later than the hold. */
export function baselineHeld(r: RunRecord, strategy: SourceStrategy, holdS: number): HeldBaseline {
  const b = r.monitor.baseline;
  const by = b?.byDestination;
  if (!by) return { inUse: b?.ephemeralInUse ?? 0, expiry: [] };
  const perSource = strategy === 'bind' || r.host.platform === 'darwin' || r.host.platform === 'win32';
  const mine = by.filter((d: BaselineDestination) => perSource || d.own);
  let inUse = 0;
  const expiry: number[] = [];
  const cap = Math.max(0, Math.ceil(holdS) - 1);
  for (const d of mine) {
    inUse += Math.max(0, d.inUse - d.timeWait);
    if (!d.timeWaitExpiry) {
      inUse += d.timeWait;
      continue;
    }
    d.timeWaitExpiry.forEach((n, i) => {
      const at = Math.min(i, cap);
      expiry[at] = (expiry[at] ?? 0) + n;
    });
  }
  return { inUse, expiry: Array.from(expiry, (n) => n ?? 0) };
}

/**
 * The first time τ at which `held(τ) = baseline + attempts in (τ − hold, τ]` reaches `usable`, with
 * each second's attempts spread evenly over it and the baseline's TIME_WAIT freeing evenly within
 * its expiry second; null if it never does within the seconds given. `perSecond` holds
 * [second, attempts] pairs. A number as `baseline` is held for the whole run.
 */
export function predictOnset(perSecond: Array<[number, number]>, usable: number, holdS: number, baseline: number | HeldBaseline = 0): number | null {
  if (perSecond.length === 0) return null;
  const base: HeldBaseline = typeof baseline === 'number' ? { inUse: baseline, expiry: [] } : baseline;
  const start = Math.min(...perSecond.map(([t]) => t));
  const end = Math.max(...perSecond.map(([t]) => t)) + 1;
  const rate = new Map<number, number>();
  for (const [t, a] of perSecond) rate.set(t, (rate.get(t) ?? 0) + a);
  const prefix = new Map<number, number>();
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
  const leftover = (x: number): number => base.expiry.reduce((a, n, i) => a + n * Math.min(1, Math.max(0, i + 1 - x)), 0);
  const held = (x: number): number => base.inUse + leftover(x) + cumulative(x) - cumulative(x - holdS);
  // held() is linear between whole seconds and whole seconds shifted by the hold.
  const points = new Set<number>();
  for (let s = start; s <= end; s++) {
    points.add(s);
    if (s + holdS <= end) points.add(s + holdS);
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

/** How a record chose its source addresses: as recorded, else bind() when addresses were set (Node's localAddress). */
export function sourceStrategyOf(r: Pick<RunRecord, 'sourceStrategy' | 'scenario'>): SourceStrategy {
  return r.sourceStrategy ?? (r.scenario.connection.localAddresses.length > 0 ? 'bind' : 'kernel');
}

/**
 * Whether an ip:port (IPv6 as [ip]:port), an address or a URL host (`[::1]`, `localhost`) is on
 * loopback as tcp_tw_reuse=2 sees it (127.0.0.0/8, ::1, IPv4-mapped 127.0.0.0/8; not fd00::/8).
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost') return true;
  const ip = splitHostPort(h)?.host ?? (h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h);
  return isLoopbackIp(ip);
}

function targetIsLoopback(r: RunRecord): boolean {
  const own = r.ownDestinations;
  if (own && own.length > 0) return own.every(isLoopbackHost);
  try {
    return isLoopbackHost(new URL(r.target.url).hostname);
  } catch {
    return false;
  }
}

/** Failure codes only a lookup gives (DNS_CODES less ECONNREFUSED, which a connect() gives too). */
const LOOKUP_ONLY_CODES = [...DNS_CODES].filter((c) => c !== 'ECONNREFUSED');

/**
 * New connection attempts in one second: every request without reuse, opened connections with it.
 * With `dns: per-connection` a request whose lookup failed never reached connect(), so it took no
 * port: those are left out.
 */
export function connectionAttempts(r: RunRecord, e: TimelineEntry): number {
  if (r.scenario.connection.reuse) return e.connectionsOpened;
  if (r.scenario.dns !== 'per-connection') return e.attempted;
  const lookupFailed = LOOKUP_ONLY_CODES.reduce((a, c) => a + (e.errors[c] ?? 0), 0);
  return Math.max(e.connectionsOpened, e.attempted - lookupFailed);
}

/** Client TIME_WAIT toward the run's destinations; in older records (no `ownTimeWait`) host TIME_WAIT
 * less the server side, at most the client sockets holding a port: `timeWait` is the second's
 * highest sockstat count while the server side comes from the scan, so their difference alone
 * overstates the client when the server holds TIME_WAIT. */
const clientTw = (e: TimelineEntry): number | null => {
  const s = e.sockets;
  if (!s) return null;
  if (s.ownTimeWait != null) return s.ownTimeWait;
  return Math.min(Math.max(0, s.timeWait - (s.serverTimeWait ?? 0)), s.ephemeralInUse ?? Infinity);
};
const serverTw = (e: TimelineEntry): number | null => e.sockets?.ownServerTimeWait ?? e.sockets?.serverTimeWait ?? null;

function peakOf<T>(timeline: readonly T[], pick: (e: T) => number | null): number | null {
  let peak: number | null = null;
  for (const e of timeline) {
    const v = pick(e);
    if (v !== null && (peak === null || v > peak)) peak = v;
  }
  return peak;
}

/** TIME_WAIT toward the run's own destinations before the load (from the per-destination baseline, else the host-wide count). */
function baselineTimeWait(r: RunRecord): number {
  const b = r.monitor.baseline;
  if (b?.byDestination) return b.byDestination.filter((d) => d.own).reduce((a, d) => a + d.timeWait, 0);
  return b?.timeWait ?? 0;
}

/**
 * Which side holds TIME_WAIT. From the monitors when they saw sockets on a run that opened at least
 * 20 connections: a side holds it when its TIME_WAIT rose by at least 30 % of the busiest second's
 * new connections (any hold of ≥ 1 s leaves about a second's worth). The server side is measured on
 * the watched host that serves the target (`servingHost`: its sockets on its listening ports) when
 * its scans told it, else read from this host's scans (a target on this host). Else from the built-in
 * target's close counters, else from the scenario's connection policy.
 */
export function timeWaitSide(r: RunRecord): TimeWaitSide {
  const timeline = r.timeline;
  const attempts = timeline.map((e) => connectionAttempts(r, e));
  const total = attempts.reduce((a, b) => a + b, 0);
  const peakRate = Math.max(0, ...attempts);
  const seen = r.monitor.enabled && timeline.some((e) => e.sockets !== null);
  // A second the serving host was not seen in is unknown, not zero: peakOf skips it.
  const host = servingHost(r);
  const servedPeak = host ? peakOf(host.timeline, (e) => e.sockets?.serverTimeWait ?? null) : null;
  const serving = servedPeak === null ? null : host;
  if ((seen || serving) && total >= 20) {
    const client = seen ? Math.max(0, (peakOf(timeline, clientTw) ?? 0) - baselineTimeWait(r)) : null;
    const server = serving ? servedPeak : peakOf(timeline, serverTw);
    const bar = Math.max(5, 0.3 * Math.min(peakRate, total));
    const c = client !== null && client >= bar;
    const s = server !== null && server >= bar;
    const serverWords = server === null ? '' : serving ? `, server-side TIME_WAIT on host ${serving.name} peaked at ${num(server)}` : `, server-side TIME_WAIT peaked at ${num(server)}`;
    const clientWords = client === null ? 'the client\'s sockets were not seen' : `client TIME_WAIT toward the run's destinations rose by ${num(client)}`;
    const figures = `${clientWords}${serverWords}, at up to ${num(peakRate)} new connections/s`;
    const measured = serving ? { serverHost: serving.name } : {};
    if (c || s) return { side: c && s ? 'both' : c ? 'client' : 'server', source: 'monitor', reason: figures, ...measured };
    if (client !== null && (server !== null || r.target.builtin === false)) {
      return { side: 'none', source: 'monitor', reason: `${figures}: the client kept no TIME_WAIT per connection${server === null ? ' (the server, if it closed first, is not on this host)' : ''}`, ...measured };
    }
  }
  const st = r.target.builtin ? r.target.stats : null;
  const closed = st ? st.closedByClient + st.closedByServer + st.resetByClient : 0;
  if (st && closed >= 20) {
    const most = Math.max(st.closedByClient, st.closedByServer, st.resetByClient);
    const figures = `the built-in target counted ${num(st.closedByClient)} closed by the client, ${num(st.closedByServer)} by the server, ${num(st.resetByClient)} reset by the client`;
    const side = most === st.closedByClient ? 'client' : most === st.closedByServer ? 'server' : 'none';
    return { side, source: 'target', reason: figures };
  }
  const c = r.scenario.connection;
  const policy = `the scenario's policy (reuse: ${c.reuse}, close: ${c.close})${seen ? '' : '; the monitor saw no sockets'}`;
  if (c.reuse) return { side: 'none', source: 'scenario', reason: `${policy}: connections are reused` };
  if (c.close === 'client') return { side: 'client', source: 'scenario', reason: `${policy}: the client closes first` };
  if (c.close === 'server') return { side: 'server', source: 'scenario', reason: `${policy}: the server closes first` };
  return { side: 'none', source: 'scenario', reason: `${policy}: RST leaves no TIME_WAIT` };
}

/**
 * The hold the run itself showed: where client TIME_WAIT toward its destinations levelled off far
 * below (at under half) rate × hold while ports were not running out, ports came back after about
 * peak TIME_WAIT ÷ rate. Null when the figures do not show that (too short a run, no sockets seen).
 */
export function observedHold(r: RunRecord, holdS: number, budget: number | null): Hold | null {
  const timeline = r.timeline.filter((e) => connectionAttempts(r, e) > 0);
  if (timeline.length < 3) return null;
  const rates = timeline.map((e) => connectionAttempts(r, e)).sort((a, b) => a - b);
  const rate = rates[rates.length >> 1]!;
  const peak = peakOf(timeline, clientTw);
  if (peak === null || rate <= 0) return null;
  const tw = Math.max(0, peak - baselineTimeWait(r));
  const expected = rate * Math.min(holdS, timeline.length);
  const seen = tw / rate;
  if (tw >= 0.5 * expected || (budget !== null && peak >= 0.9 * budget) || timeline.length < seen + 2) return null;
  const recycled = timeline.reduce((a, e) => a + (e.counters?.['TWRecycled'] ?? 0), 0);
  const counter = recycled > 0 ? `; TWRecycled rose by ${num(recycled)}` : '';
  return {
    holdS: Math.max(0.1, Math.round(seen * 100) / 100),
    reason: `client TIME_WAIT toward the run's destinations levelled off at ${num(tw)} at ${num(rate)} new connections/s, so ports came back after ≈ ${seen.toFixed(2)} s, not the ${num(holdS)} s the host's settings give${counter}`,
  };
}

/** Where tcp_tw_reuse could not be read and the kernel counted recycled TIME_WAIT sockets
 * (TWRecycled): ports came back after about tcp_tw_reuse_delay. Only then: the counter is per network
 * namespace, so with tcp_tw_reuse=2 it also counts loopback traffic that is not this run's. */
function recycledHold(r: RunRecord, hold: Hold): Hold | null {
  if (r.host.platform !== 'linux' || r.host.tcpTwReuse !== null) return null;
  const recycled = r.timeline.reduce((a, e) => a + (e.counters?.['TWRecycled'] ?? 0), 0);
  const delayMs = r.host.tcpTwReuseDelayMs ?? DEFAULT_TW_REUSE_DELAY_MS;
  if (recycled <= 0 || hold.holdS <= delayMs / 1000) return null;
  return { holdS: delayMs / 1000, reason: `TWRecycled rose by ${num(recycled)}: the kernel reused TIME_WAIT ports, after tcp_tw_reuse_delay (${num(delayMs)} ms)` };
}

/** The capacity model of a run record. */
export function capacityOf(r: RunRecord): Capacity {
  const strategy = sourceStrategyOf(r);
  const usable = r.ports?.usable ?? r.host.usablePorts;
  const budget = portBudget(r.host.platform, usable, strategy, r.scenario.connection.localAddresses.length, r.ownDestinations?.length ?? 1);
  const side = timeWaitSide(r);
  let hold = portHold(r.host, targetIsLoopback(r));
  let holdSource: Capacity['holdSource'] = 'host';
  if (side.side === 'client' || side.side === 'both') {
    const seen = observedHold(r, hold.holdS, budget.ports) ?? recycledHold(r, hold);
    if (seen && seen.holdS < hold.holdS) {
      hold = { holdS: seen.holdS, reason: `${seen.reason} (${hold.reason})` };
      holdSource = 'observed';
    }
  }
  return {
    holdS: hold.holdS,
    holdReason: hold.reason,
    holdSource,
    budget: budget.ports,
    budgetScope: budget.scope,
    budgetReason: budget.reason,
    pools: budget.pools,
    sources: budget.sources,
    destinations: budget.destinations,
    sourceStrategy: strategy,
    sustainableRate: budget.ports === null ? null : Math.round(sustainableRate(budget.ports, hold.holdS, budget.pools) * 10) / 10,
    timeWaitSide: side,
  };
}

/** Share of the run's own budget held by earlier TIME_WAIT when the load started (for `compare`'s warning); null when unknown. */
export function baselineShare(r: RunRecord): number | null {
  const c = r.exhaustion?.capacity ?? capacityOf(r);
  if (c.budget === null || c.budget <= 0) return null;
  const by = r.monitor.baseline?.byDestination;
  if (!by) return null;
  const own = by.filter((d) => d.own);
  if (own.length === 0) return 0;
  return Math.max(...own.map((d) => d.timeWait)) / c.budget;
}
