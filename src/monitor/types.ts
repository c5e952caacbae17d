/**
 * What the socket monitor observes. Every source fills the same shapes; a figure a platform cannot
 * tell is null (with a reason in `MonitorStatus`), never zero.
 */

/** Socket counts by TCP state. */
export interface StateCounts {
  established: number;
  synSent: number;
  synRecv: number;
  finWait1: number;
  finWait2: number;
  timeWait: number;
  close: number;
  closeWait: number;
  lastAck: number;
  listen: number;
  closing: number;
}

/** The state names of `StateCounts`, indexed by Linux's TCP state number (1 = ESTABLISHED). */
export const STATE_BY_NUMBER: ReadonlyArray<keyof StateCounts | null> = [
  null,
  'established',
  'synSent',
  'synRecv',
  'finWait1',
  'finWait2',
  'timeWait',
  'close',
  'closeWait',
  'lastAck',
  'listen',
  'closing',
];

/** An all-zero StateCounts. */
export function zeroStates(): StateCounts {
  return {
    established: 0,
    synSent: 0,
    synRecv: 0,
    finWait1: 0,
    finWait2: 0,
    timeWait: 0,
    close: 0,
    closeWait: 0,
    lastAck: 0,
    listen: 0,
    closing: 0,
  };
}

/** Client sockets toward one destination. */
export interface DestinationUsage {
  /** `ip:port` (IPv6 as `[ip]:port`). */
  dest: string;
  /** Client sockets holding a local port toward this destination (every state but LISTEN/CLOSE). */
  inUse: number;
  timeWait: number;
  established: number;
  /** inUse per source address, when more than one source address is seen. */
  bySource: Record<string, number> | null;
  /** inUse of the busiest source toward this destination / usable ports. */
  utilization: number | null;
  /** One of the run's own destinations (kept in every scan, even when idle or less busy than others); absent means no. */
  own?: boolean;
  /**
   * TIME_WAIT sockets by time left at the scan, in 100 ms steps: index k counts those whose
   * TIME_WAIT ends in [k·100, (k+1)·100) ms. Absent (or null) when there is no TIME_WAIT, when the
   * source gives no timer (netstat), or when the detail was dropped (scans after the load started).
   */
  timeWaitLeft?: number[] | null;
}

/** One per-socket scan, aggregated. */
export interface SocketScan {
  /** Epoch milliseconds of the scan. */
  at: number;
  /** How long the scan took (ms). */
  costMs: number;
  /** Which way the sockets were read. */
  source: 'sockdiag' | 'proc' | 'netstat';
  total: number;
  /** All sockets by state. */
  states: StateCounts;
  /** Sockets whose local port is in the ephemeral range (and not a listening port). */
  client: StateCounts;
  /** Sockets whose local port is a listening port. */
  server: StateCounts;
  /** Client sockets holding an ephemeral port, all destinations. */
  ephemeralInUse: number;
  /** Busiest destinations first, at most `MAX_DESTINATIONS`; then any own destination not among them. */
  destinations: DestinationUsage[];
  /** TIME_WAIT sockets whose local ip:port is one of the own destinations (the target's side, when it runs on this host). */
  ownServerTimeWait?: number;
  /** Client sockets per source address (matters when connections bind a source address). */
  sources: Record<string, number>;
}

/** Fast totals (Linux: /proc/net/sockstat and sockstat6). */
export interface SockstatTotals {
  at: number;
  timeWait: number;
  inUse: number;
  orphan: number;
  alloc: number;
  inUse6: number | null;
}

/** Kernel counters as deltas since the previous sample. */
export type CounterDeltas = Record<CounterName, number | null>;

/** The TCP counters portstorm follows (/proc/net/netstat and /proc/net/snmp). */
export const TCP_COUNTER_NAMES = [
  'TW',
  'TWRecycled',
  'TWKilled',
  'TCPTimeWaitOverflow',
  'TCPAbortOnData',
  'ListenOverflows',
  'ListenDrops',
  'ActiveOpens',
  'AttemptFails',
  'OutRsts',
  'EstabResets',
] as const;

/**
 * The connection-tracking counters portstorm follows (/proc/net/stat/nf_conntrack, summed over
 * CPUs): insertions that failed, packets dropped for want of an entry, entries evicted early to
 * make room. Null where nf_conntrack is not loaded.
 */
export const CONNTRACK_COUNTER_NAMES = ['ConntrackInsertFailed', 'ConntrackDrop', 'ConntrackEarlyDrop'] as const;

/** The kernel counters portstorm follows: TCP, then connection tracking. */
export const COUNTER_NAMES = [...TCP_COUNTER_NAMES, ...CONNTRACK_COUNTER_NAMES] as const;
export type TcpCounterName = (typeof TCP_COUNTER_NAMES)[number];
export type ConntrackCounterName = (typeof CONNTRACK_COUNTER_NAMES)[number];
export type CounterName = (typeof COUNTER_NAMES)[number];

/** Connection-tracking table use, when the host tracks connections. */
export interface Conntrack {
  count: number;
  max: number;
}

/** This process's own file descriptors. */
export interface FdUsage {
  open: number;
  soft: number | null;
  hard: number | null;
  /** Every descriptor was in use, so they could not be listed: `open` is the soft limit (EMFILE). */
  atLimit?: boolean;
}

/** The machine's CPU time since boot (Linux /proc/stat), in clock ticks. */
export interface HostCpuTimes {
  /** Ticks spent busy (user, nice, system, irq, softirq, steal), all CPUs together. */
  busy: number;
  /** Busy plus idle (idle, iowait) ticks. */
  total: number;
  /** CPUs online. */
  cpus: number;
}

/**
 * Cumulative CPU readings of one sample; the fold turns two of them into cores per second.
 * `processUs`: this process's user + system time (`process.cpuUsage()`: every thread of the
 * process, read from any thread); `host`: the machine's, read about once a second (null when not
 * read in this sample, or unreadable: then `missing.cpu` says why).
 */
export interface CpuReading {
  processUs: number | null;
  host: HostCpuTimes | null;
}

/** One monitor sample. Fields a source cannot provide are null. */
export interface MonitorSample {
  /** Epoch milliseconds. */
  at: number;
  /** How long after its scheduled time the sample was taken (ms); null off-schedule or for scans. */
  lateMs: number | null;
  sockstat: SockstatTotals | null;
  /** Present on samples where a per-socket scan ran. */
  scan: SocketScan | null;
  counters: CounterDeltas | null;
  conntrack: Conntrack | null;
  fds: FdUsage | null;
  /** CPU readings (fast samples; absent on scan-only samples and from older samplers). */
  cpu?: CpuReading | null;
  /**
   * Sources this sample tried and could not read (sockstat, counters, conntrack, conntrackCounters,
   * fds, scan), each with its errno (ENOENT, EACCES, EMFILE, ...): their fields are null, never
   * zero. `conntrackCounters` (the Conntrack* counters) is left out when `conntrack` failed with the
   * same errno. Absent when every source it tried was read.
   */
  missing?: Record<string, string>;
}

/** Most destinations kept per scan. */
export const MAX_DESTINATIONS = 20;

/** Most of one core the per-socket scans may use by default: a costlier scan stretches the gap to the next. */
export const MAX_SCAN_CPU_SHARE = 0.02;
