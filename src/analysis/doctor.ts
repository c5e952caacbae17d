/**
 * `doctor`: the host's port budget, what rate it sustains, how long a given rate lasts, and what
 * to change, each change with its trade-off. Pure: host facts and a scan in, a report out.
 */
import type { HostInfo } from '../record/types.js';
import { canonicalDest } from '../monitor/aggregate.js';
import type { SocketScan } from '../monitor/types.js';
import { normalDest } from '../vocab/address.js';
import { num, pct } from '../vocab/format.js';
import { isLoopbackHost, portBudget, portHold, secondsToExhaustion, sustainableRate } from './capacity.js';

/** One piece of advice. */
export interface Advice {
  id: string;
  action: string;
  effect: string;
  tradeOff: string;
}

/** What doctor found. */
export interface DoctorReport {
  host: HostInfo;
  usable: number | null;
  timeWaitS: number | null;
  /** Seconds a closed port stays unusable toward the destination (the capacity model's hold), and why. */
  holdS: number;
  holdReason: string;
  /** The hold toward loopback where it differs (tcp_tw_reuse=2), else null. */
  loopbackHoldS: number | null;
  /** What one budget is: per (source, destination) pair on Linux, per source address elsewhere. */
  budgetScope: 'source-destination' | 'source';
  budgetReason: string;
  /** New connections per second one budget sustains with the client closing first (usable ports ÷ hold). */
  sustainableRate: number | null;
  now: { timeWait: number; destination: string | null; inUse: number; utilization: number | null } | null;
  /** With --rate: seconds until the first failure toward the destination, null if sustainable. */
  atRate: { rate: number; secondsToExhaustion: number | null; sustainable: boolean } | null;
  warnings: string[];
  advice: Advice[];
}

/** Builds the report; `dest` picks a destination from the scan (default: the busiest) and the hold
 * toward it (default: toward a destination off loopback). */
export function diagnoseHost(host: HostInfo, scan: SocketScan | null, rate: number | null, dest: string | null): DoctorReport {
  const usable = host.usablePorts;
  const tw = host.timeWaitS;
  const want = dest === null ? null : normalDest(dest);
  const d = scan ? (want ? scan.destinations.find((x) => canonicalDest(x.dest) === want) : scan.destinations[0]) : undefined;
  // Without --dest the production case: a destination off loopback.
  const hold = portHold(host, dest !== null && isLoopbackHost(dest));
  const loop = portHold(host, true);
  const budget = portBudget(host.platform, usable, 'kernel', 0, 1);
  const rmax = usable !== null ? sustainableRate(usable, hold.holdS) : null;
  const now = scan
    ? { timeWait: scan.states.timeWait, destination: d?.dest ?? dest, inUse: d?.inUse ?? 0, utilization: d?.utilization ?? (usable ? 0 : null) }
    : null;
  const atRate =
    rate !== null && usable !== null
      ? (() => {
          const inUse = budget.scope === 'source' ? (scan?.ephemeralInUse ?? 0) : (now?.inUse ?? 0);
          const t = secondsToExhaustion(rate, usable, inUse, hold.holdS);
          return { rate, secondsToExhaustion: t === null ? null : Math.round(t * 10) / 10, sustainable: t === null };
        })()
      : null;
  return {
    host,
    usable,
    timeWaitS: tw,
    holdS: hold.holdS,
    holdReason: hold.reason,
    loopbackHoldS: loop.holdS !== hold.holdS ? loop.holdS : null,
    budgetScope: budget.scope,
    budgetReason: budget.reason,
    sustainableRate: rmax === null ? null : Math.round(rmax),
    now,
    atRate,
    warnings: warnings(host, now),
    advice: advice(host, rmax),
  };
}

function warnings(host: HostInfo, now: DoctorReport['now']): string[] {
  const w: string[] = [];
  if (now?.utilization !== null && now?.utilization !== undefined && now.utilization >= 0.5) {
    const slow = host.platform === 'linux' ? ': past 50 % Linux connect() slows down ~70× while it searches for a free port' : '';
    w.push(`${pct(now.utilization)} of the ports toward ${now.destination} are in use${slow}`);
  }
  if (host.tcpTwReuse === 2) w.push('tcp_tw_reuse=2 reuses TIME_WAIT ports for loopback only: tests on 127.0.0.1 hide exhaustion that production will hit');
  if (host.tcpTwReuse !== null && host.tcpTwReuse > 0 && host.tcpTimestamps === 0) w.push('tcp_tw_reuse has no effect while tcp_timestamps=0');
  if (host.nofileSoft !== null && host.nofileSoft < 65536) w.push(`the open-file limit is ${host.nofileSoft}: high concurrency fails with EMFILE before ports run out`);
  if (host.usablePorts !== null && host.portRange && host.usablePorts < host.portRange[1] - host.portRange[0] + 1) w.push('reserved ports shrink the usable range');
  return w;
}

function advice(host: HostInfo, rmax: number | null): Advice[] {
  const per = rmax === null ? 'usable ports ÷ TIME_WAIT seconds' : `${num(rmax)}/s`;
  if (host.platform === 'darwin' || host.platform === 'win32') return foreignAdvice(host, per);
  const list: Advice[] = [
    {
      id: 'keep-alive',
      action: 'Reuse connections (HTTP keep-alive, a connection pool)',
      effect: 'new connections per second = requests per second ÷ requests per connection; the cap of ' + per + ' then applies to connections, not requests',
      tradeOff: 'long-lived connections pin clients to backends behind a load balancer; pools need sizing and idle timeouts below the server\'s',
    },
    {
      id: 'widen-range',
      action: 'Widen net.ipv4.ip_local_port_range (e.g. "1024 65535")',
      effect: '64 512 ports ≈ 1 075 new connections per second per destination',
      tradeOff: 'servers listening on ports inside the range can collide with client ports: list them in ip_local_reserved_ports',
    },
    {
      id: 'tw-reuse',
      action: 'Set net.ipv4.tcp_tw_reuse=1',
      effect: `outgoing connections may reuse a TIME_WAIT port after tcp_tw_reuse_delay (${num(host.tcpTwReuseDelayMs ?? 1000)} ms): the cap rises to about the range per ${num((host.tcpTwReuseDelayMs ?? 1000) / 1000)} s`,
      tradeOff: 'needs TCP timestamps on both ends; affects only connections this host opens; a NAT between may mix timestamps of different hosts',
    },
    {
      id: 'more-destinations',
      action: 'Spread connections over more destination IPs or ports',
      effect: 'the budget is per (source IP, destination IP, destination port): each added destination adds a full range',
      tradeOff: 'needs more backend addresses or listeners',
    },
    {
      id: 'more-sources',
      action: 'Add source IP addresses',
      effect: 'each source IP has its own range (per destination when bound with IP_BIND_ADDRESS_NO_PORT)',
      tradeOff: 'a plain bind() before connect() (node:net\'s localAddress) makes a port exclusive to its source across all destinations; routing must accept the extra addresses',
    },
    {
      id: 'server-closes',
      action: 'Let the server close first (HTTP Connection: close)',
      effect: 'TIME_WAIT moves to the server, where it does not use client ports',
      tradeOff: 'the server holds the TIME_WAIT sockets (memory, tcp_max_tw_buckets) and every request still pays a handshake',
    },
    {
      id: 'reset-close',
      action: 'Close with RST (SO_LINGER 0)',
      effect: 'no TIME_WAIT at all',
      tradeOff: 'unsent or unacknowledged data is lost and the peer sees ECONNRESET; TIME_WAIT\'s protection against delayed segments is gone',
    },
  ];
  if (host.nofileSoft !== null && host.nofileHard !== null && host.nofileSoft < host.nofileHard) {
    list.push({
      id: 'raise-nofile',
      action: `Raise the open-file soft limit (ulimit -n ${host.nofileHard})`,
      effect: 'more sockets per process before EMFILE',
      tradeOff: 'none worth noting up to the hard limit',
    });
  }
  return list;
}

/** macOS and Windows: a port is held per source address across destinations; TIME_WAIT is 2 × MSL or TcpTimedWaitDelay. */
function foreignAdvice(host: HostInfo, per: string): Advice[] {
  const mac = host.platform === 'darwin';
  return [
    {
      id: 'keep-alive',
      action: 'Reuse connections (HTTP keep-alive, a connection pool)',
      effect: `new connections per second = requests per second ÷ requests per connection; the cap of ${per} then applies to connections, not requests`,
      tradeOff: 'long-lived connections pin clients to backends behind a load balancer; pools need sizing and idle timeouts below the server\'s',
    },
    {
      id: 'widen-range',
      action: mac ? 'Widen the range (sysctl net.inet.ip.portrange.first=1024 and hifirst=1024)' : 'Widen the dynamic range (netsh int ipv4 set dynamicport tcp start=1025 num=64511)',
      effect: `about 64 500 ports per source address instead of ${num(host.usablePorts ?? 16_384)}`,
      tradeOff: 'servers listening on ports inside the range can collide with client ports',
    },
    {
      id: 'shorter-time-wait',
      action: mac ? 'Lower net.inet.tcp.msl (TIME_WAIT = 2 × MSL)' : 'Lower TcpTimedWaitDelay (registry, 30–300 s)',
      effect: 'ports come back sooner after close',
      tradeOff: 'delayed segments of an old connection can be taken for a new one; use only on a test network',
    },
    {
      id: 'more-sources',
      action: 'Add source IP addresses',
      effect: `each source address has its own range; on ${mac ? 'macOS' : 'Windows'} a port is held per source address across all destinations, so more destinations do not help`,
      tradeOff: 'routing must accept the extra addresses',
    },
    {
      id: 'reset-close',
      action: 'Close with RST (SO_LINGER 0)',
      effect: 'no TIME_WAIT at all',
      tradeOff: 'unsent or unacknowledged data is lost and the peer sees ECONNRESET; TIME_WAIT\'s protection against delayed segments is gone',
    },
  ];
}
