/**
 * Watched hosts for analysis tests: a service, a proxy or a router as a `HostRecord` built from its
 * seconds, and a schema 2 record holding them beside the client. Peaks, destinations and coverage
 * are derived from the seconds unless given; a null second stays unseen.
 */
import { hostViews } from '../../src/analysis/hosts.js';
import type { HostClock, HostInfo, HostRecord, HostRole, HostSecond, MonitorInfo, RunRecord, TimelineSockets } from '../../src/record/types.js';
import { LINUX_HOST, sockets } from './synthetic-record.js';

/** One second of a watched host: the socket picture (zeros, overridden) and no counters unless given. */
export function hostSecond(t: number, over: Partial<TimelineSockets> = {}, counters: HostSecond['counters'] = null, conntrack?: HostSecond['conntrack']): HostSecond {
  return { t, sockets: sockets(over), counters, ...(conntrack !== undefined ? { conntrack } : {}) };
}

/** A second the host was not seen in (agent down, stream stalled). */
export function unseen(t: number): HostSecond {
  return { t, sockets: null, counters: null };
}

/** What a test can set on a watched host. */
export interface SyntheticHostOptions {
  role?: HostRole;
  /** The agent's URL (default: 198.18.1.2, the address the synthetic client's target uses for a service). */
  address?: string;
  source?: HostRecord['source'];
  clock?: HostClock;
  /** Merged over Linux defaults; null: the host's settings are unknown. */
  host?: Partial<HostInfo> | null;
  seconds: HostSecond[];
  /** Its busiest destination (the backend ip:port). */
  dest?: string;
  gaps?: string[];
  monitor?: Partial<MonitorInfo>;
}

/** A watched host; ports toward `dest` follow its seconds' utilization, its TIME_WAIT toward `dest` the client-side TIME_WAIT (timeWait − serverTimeWait). */
export function syntheticHost(o: SyntheticHostOptions): HostRecord {
  const host = o.host === null ? null : { ...LINUX_HOST, ...o.host };
  const usable = host?.usablePorts ?? null;
  const seen = o.seconds.map((e) => e.sockets).filter((s): s is TimelineSockets => s !== null);
  const peakUtil = Math.max(0, ...seen.map((s) => s.utilization ?? 0));
  const peakInUse = Math.round(peakUtil * (usable ?? 0));
  const peakTimeWait = Math.max(0, ...seen.map((s) => s.timeWait - (s.serverTimeWait ?? 0)));
  const dest = o.dest ?? '198.18.2.2:8080';
  const tracked = o.seconds.flatMap((e) => (e.conntrack ? [e.conntrack] : []));
  const withSockets = o.seconds.filter((e) => e.sockets !== null).map((e) => e.t);
  const monitor: MonitorInfo = {
    enabled: true,
    source: 'sockdiag',
    intervalS: 0.25,
    scanIntervalS: 1,
    effectiveScanIntervalS: 1,
    samples: withSockets.length * 4,
    scans: withSockets.length,
    scanCostMs: { p50: 5, max: 20 },
    lateMs: { p50: 1, max: 5 },
    unavailable: {},
    baseline: { timeWait: 0, ephemeralInUse: 0 },
    peakConntrack: tracked.length > 0 ? tracked.reduce((a, b) => (b.count > a.count ? b : a)) : null,
    peakFds: null,
    ...o.monitor,
  };
  return {
    role: o.role ?? 'service',
    address: o.address ?? 'http://198.18.1.2:9464',
    source: o.source ?? 'agent',
    clock: o.clock ?? { method: 'round-trip', offsetMs: 12.5, uncertaintyMs: 0.4, probes: 8 },
    host,
    timeline: o.seconds,
    ports: seen.length === 0 ? null : { usable, peakInUse, peakUtilization: peakUtil, peakTimeWait, busiestDestination: dest },
    destinations: seen.length === 0 ? [] : [{ dest, peakInUse, peakTimeWait, peakUtilization: peakUtil }],
    monitor,
    coverage: {
      fromS: withSockets.length > 0 ? withSockets[0]! : null,
      toS: withSockets.length > 0 ? withSockets.at(-1)! : null,
      share: o.seconds.length > 0 ? Math.round((withSockets.length / o.seconds.length) * 1000) / 1000 : 0,
    },
    gaps: o.gaps ?? [],
  };
}

/** The record as schema 2, its client host made from its top-level figures, then `hosts`. */
export function withHosts(r: RunRecord, hosts: Record<string, HostRecord>): RunRecord {
  const { name: _name, ...client } = hostViews(r)[0]!;
  return { ...r, schema: 2, hosts: { client, ...hosts } };
}
