/**
 * Turns a list of sockets (from netlink, /proc or netstat) into a `SocketScan`: counts by state,
 * split into client sockets (local port in the ephemeral range) and server sockets (local port is
 * a listening port), and the port budget per destination.
 */
import { MAX_DESTINATIONS, STATE_BY_NUMBER, zeroStates, type DestinationUsage, type SocketScan, type StateCounts } from './types.js';

const LISTEN = 10;
const CLOSE = 7;

/** Sockets as a source offers them: Linux state numbers, ports, and addresses on demand. */
export interface RowCursor {
  /** Calls `fn` for every socket; `ref` identifies it to the accessors. */
  forEach(fn: (state: number, localPort: number, ref: number) => void): void;
  /** The remote end as `ip:port` (`[ip]:port` for IPv6). */
  destination(ref: number): string;
  /** The local address. */
  source(ref: number): string;
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
}

/** `ip:port`, with IPv6 addresses in brackets. */
export const hostPort = (ip: string, port: number): string => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

/** Aggregates one scan. */
export function aggregateScan(rows: RowCursor, budget: PortBudget, at: number, costMs: number, source: SocketScan['source']): SocketScan {
  const [lo, hi] = budget.range;
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
      d = { dest: key, inUse: 0, timeWait: 0, established: 0, bySource: new Map() };
      dests.set(key, d);
    }
    d.inUse++;
    if (name === 'timeWait') d.timeWait++;
    else if (name === 'established') d.established++;
    d.bySource.set(src, (d.bySource.get(src) ?? 0) + 1);
  });
  const destinations: DestinationUsage[] = [...dests.values()]
    .sort((a, b) => b.inUse - a.inUse)
    .slice(0, MAX_DESTINATIONS)
    .map((d) => {
      const busiest = Math.max(...d.bySource.values());
      return {
        dest: d.dest,
        inUse: d.inUse,
        timeWait: d.timeWait,
        established: d.established,
        bySource: d.bySource.size > 1 ? Object.fromEntries(d.bySource) : null,
        utilization: budget.usable > 0 ? round4(busiest / budget.usable) : null,
      };
    });
  return { at, costMs, source, total, states, client, server, ephemeralInUse, destinations, sources: Object.fromEntries(sources) };
}

const round4 = (x: number): number => Math.round(x * 10_000) / 10_000;

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

