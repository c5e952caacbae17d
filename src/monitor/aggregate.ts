/**
 * Turns a list of sockets (from netlink, /proc or netstat) into a `SocketScan`: counts by state,
 * split into client sockets (local port in the ephemeral range) and server sockets (local port is
 * a listening port), and the port budget per destination.
 */
import { hostPort, normalDest } from '../vocab/address.js';
import { MAX_DESTINATIONS, STATE_BY_NUMBER, zeroStates, type DestinationUsage, type SocketScan, type StateCounts } from './types.js';

export { hostPort } from '../vocab/address.js';

const LISTEN = 10;
const CLOSE = 7;
const TIME_WAIT = 6;

/** Sockets as a source offers them: Linux state numbers, ports, and addresses on demand. */
export interface RowCursor {
  /** Calls `fn` for every socket; `ref` identifies it to the accessors. */
  forEach(fn: (state: number, localPort: number, ref: number) => void): void;
  /** The remote end as `ip:port` (`[ip]:port` for IPv6). */
  destination(ref: number): string;
  /** The local address. */
  source(ref: number): string;
  /** A TIME_WAIT socket's ms left, or null when the source gives no timer. */
  timeWaitLeftMs(ref: number): number | null;
}

/** The port budget a scan is measured against. */
export interface PortBudget {
  range: [number, number];
  /** Ports in the range that connect() skips (ip_local_reserved_ports). */
  usable: number;
}

interface DestTally {
  dest: string;
  inUse: number;
  timeWait: number;
  established: number;
  bySource: Map<string, number>;
  /**
   * TIME_WAIT sockets per TIME_LEFT_STEP_MS step of time left (saturating counts), allocated at the
   * destination's first TIME_WAIT socket; null once one without a timer was seen.
   */
  left: Uint16Array | undefined | null;
}

/** Steps of `DestinationUsage.timeWaitLeft`, ms. */
export const TIME_LEFT_STEP_MS = 100;
/** Steps up to the most a record can tell (sock_diag saturates at 65 535 ms; TIME_WAIT is 60 s). */
const TIME_LEFT_STEPS = Math.ceil(65_536 / TIME_LEFT_STEP_MS);

/**
 * A destination key as the socket sources print it (RFC 5952) in the form own destinations are
 * matched in: an IPv4-mapped IPv6 address (`[::ffff:1.2.3.4]:80`, what a dual-stack socket reports
 * for an IPv4 peer) as plain IPv4. Cheap: for keys the sources made; `normalDest` takes any text.
 */
export function canonicalDest(key: string): string {
  const m = /^\[::ffff:(\d+\.\d+\.\d+\.\d+)\]:(\d+)$/i.exec(key);
  return m ? `${m[1]}:${m[2]}` : key;
}

/**
 * Aggregates one scan. `own` (ip:port keys) are the run's own destinations: they are always in
 * `destinations` (zero when idle), and TIME_WAIT sockets whose local end is one of them are
 * counted in `ownServerTimeWait`.
 */
export function aggregateScan(
  rows: RowCursor,
  budget: PortBudget,
  at: number,
  costMs: number,
  source: SocketScan['source'],
  own: readonly string[] = [],
): SocketScan {
  const [lo, hi] = budget.range;
  const ownKeys = new Set(own.map(normalDest));
  const ownPorts = new Set([...ownKeys].map((k) => Number(k.slice(k.lastIndexOf(':') + 1))));
  let ownServerTimeWait = 0;
  const listening = new Set<number>();
  rows.forEach((state, localPort) => {
    if (state === LISTEN) listening.add(localPort);
  });
  const states = zeroStates();
  const client = zeroStates();
  const server = zeroStates();
  const dests = new Map<string, DestTally>();
  const sources = new Map<string, number>();
  let total = 0;
  let ephemeralInUse = 0;
  rows.forEach((state, localPort, ref) => {
    const name = STATE_BY_NUMBER[state];
    if (!name) return;
    total++;
    states[name]++;
    if (state === TIME_WAIT && ownPorts.has(localPort) && ownKeys.has(canonicalDest(hostPort(rows.source(ref), localPort)))) ownServerTimeWait++;
    if (listening.has(localPort)) {
      server[name]++;
      return;
    }
    if (localPort < lo || localPort > hi) return;
    client[name]++;
    if (state === LISTEN || state === CLOSE) return;
    ephemeralInUse++;
    const src = rows.source(ref);
    sources.set(src, (sources.get(src) ?? 0) + 1);
    const key = rows.destination(ref);
    let d = dests.get(key);
    if (!d) {
      d = { dest: key, inUse: 0, timeWait: 0, established: 0, bySource: new Map(), left: undefined };
      dests.set(key, d);
    }
    d.inUse++;
    if (name === 'timeWait') {
      d.timeWait++;
      const ms = d.left === null ? null : rows.timeWaitLeftMs(ref);
      if (ms === null) d.left = null;
      else {
        const k = Math.min(TIME_LEFT_STEPS - 1, Math.max(0, Math.floor(ms / TIME_LEFT_STEP_MS)));
        const left = (d.left ??= new Uint16Array(TIME_LEFT_STEPS));
        if (left[k]! < 0xffff) left[k]!++;
      }
    } else if (name === 'established') d.established++;
    d.bySource.set(src, (d.bySource.get(src) ?? 0) + 1);
  });
  const isOwn = (d: DestTally): boolean => ownKeys.has(canonicalDest(d.dest));
  const ranked = [...dests.values()].sort((a, b) => b.inUse - a.inUse);
  const kept = ranked.slice(0, MAX_DESTINATIONS);
  for (const d of ranked.slice(MAX_DESTINATIONS)) if (isOwn(d)) kept.push(d);
  const seen = new Set(kept.map((d) => canonicalDest(d.dest)));
  for (const key of own) {
    if (seen.has(normalDest(key))) continue;
    seen.add(normalDest(key));
    kept.push({ dest: key, inUse: 0, timeWait: 0, established: 0, bySource: new Map(), left: undefined });
  }
  const destinations: DestinationUsage[] = kept.map((d) => {
    const busiest = d.bySource.size > 0 ? Math.max(...d.bySource.values()) : 0;
    const out: DestinationUsage = {
      dest: d.dest,
      inUse: d.inUse,
      timeWait: d.timeWait,
      established: d.established,
      bySource: d.bySource.size > 1 ? Object.fromEntries(d.bySource) : null,
      utilization: budget.usable > 0 ? round4(busiest / budget.usable) : null,
    };
    // Set only where they say something: most destinations are other traffic without TIME_WAIT timers.
    if (isOwn(d)) out.own = true;
    if (d.left) out.timeWaitLeft = trimmed(d.left);
    return out;
  });
  return { at, costMs, source, total, states, client, server, ephemeralInUse, destinations, sources: Object.fromEntries(sources), ownServerTimeWait };
}

const round4 = (x: number): number => Math.round(x * 10_000) / 10_000;

/** The steps up to the last non-empty one, as a plain array (it is posted between threads and kept). */
function trimmed(steps: Uint16Array): number[] {
  let end = steps.length;
  while (end > 0 && steps[end - 1] === 0) end--;
  return Array.from(steps.subarray(0, end));
}

/** Linux state numbers by the names /proc and netstat print. */
export const STATE_NUMBER_BY_NAME: Readonly<Record<string, number>> = {
  ESTABLISHED: 1,
  SYN_SENT: 2,
  SYN_RECV: 3,
  SYN_RECEIVED: 3,
  FIN_WAIT1: 4,
  FIN_WAIT_1: 4,
  FIN_WAIT2: 5,
  FIN_WAIT_2: 5,
  TIME_WAIT: 6,
  CLOSE: 7,
  CLOSED: 7,
  CLOSE_WAIT: 8,
  LAST_ACK: 9,
  LISTEN: 10,
  LISTENING: 10,
  CLOSING: 11,
};

/** A parsed socket row as /proc or netstat parsers produce it. */
export interface ParsedRow {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** A state name as printed (TIME_WAIT, FIN_WAIT_2, LISTENING, ...). */
  state: string;
  /** TIME_WAIT: ms until it ends, where the source tells (/proc's timer field); else absent or null. */
  timeWaitLeftMs?: number | null;
}

/** A cursor over parsed rows; unknown state names are skipped. */
export function rowsCursor(rows: readonly ParsedRow[]): RowCursor {
  return {
    forEach(fn) {
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i]!;
        const n = STATE_NUMBER_BY_NAME[r.state.toUpperCase()];
        if (n !== undefined) fn(n, r.localPort, i);
      }
    },
    destination: (i) => hostPort(rows[i]!.remoteAddress, rows[i]!.remotePort),
    source: (i) => rows[i]!.localAddress,
    timeWaitLeftMs: (i) => rows[i]!.timeWaitLeftMs ?? null,
  };
}

/** Usable ports: the range less the reserved ports inside it. */
export function usablePorts(range: [number, number], reserved: readonly [number, number][]): number {
  const [lo, hi] = range;
  let usable = hi - lo + 1;
  for (const [a, b] of reserved) {
    const from = Math.max(a, lo);
    const to = Math.min(b, hi);
    if (to >= from) usable -= to - from + 1;
  }
  return Math.max(0, usable);
}

