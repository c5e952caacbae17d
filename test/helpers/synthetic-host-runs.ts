/**
 * Synthetic schema 2 records with more than one host: the load generator (`client`, from the
 * record's own top-level figures) and a `service` whose outbound ports toward its backend run out,
 * seen by an agent that missed some seconds. For report and compare tests.
 */
import { hostViews } from '../../src/analysis/hosts.js';
import type { HostRecord, HostSecond, RunRecord, TimelineEntry, Verdict, VerdictId } from '../../src/record/types.js';
import { LINUX_HOST, entry, sockets, syntheticRecord } from './synthetic-record.js';

/** The service's backend (what it runs out of ports toward). */
export const BACKEND = '198.18.2.2:8080';
/** The service's agent. */
export const AGENT_URL = 'http://198.18.1.2:9464';

/** What a test can set of a host. */
export interface HostOptions {
  role?: HostRecord['role'];
  address?: string;
  source?: HostRecord['source'];
  clock?: HostRecord['clock'];
  /** Usable ports of the host (its port range). */
  usable?: number;
  /** Ports in use (all TIME_WAIT) toward `dest` in second t; null: the host was not seen that second. */
  inUse: (t: number) => number | null;
  /** TIME_WAIT on the host's listening ports in second t. */
  serverTimeWait?: (t: number) => number;
  dest?: string;
  seconds: number;
  gaps?: string[];
}

/** One host's record from per-second figures; seconds it was not seen are null, never zeros. */
export function syntheticHost(o: HostOptions): HostRecord {
  const usable = o.usable ?? 500;
  const dest = o.dest ?? BACKEND;
  const timeline: HostSecond[] = Array.from({ length: o.seconds }, (_, t) => {
    const used = o.inUse(t);
    if (used === null) return { t, sockets: null, counters: null };
    const server = o.serverTimeWait?.(t) ?? 0;
    return {
      t,
      sockets: sockets({ timeWait: used + server, serverTimeWait: server, ephemeralInUse: used, utilization: used / usable, established: 3 }),
      counters: { TW: 0, ListenOverflows: 0, ListenDrops: 0 },
    };
  });
  const seen = timeline.filter((e) => e.sockets !== null);
  const peakUsed = Math.max(0, ...seen.map((e) => e.sockets!.ephemeralInUse ?? 0));
  return {
    role: o.role ?? 'service',
    address: o.address ?? AGENT_URL,
    source: o.source ?? 'agent',
    clock: o.clock ?? { method: 'round-trip', offsetMs: 4.2, uncertaintyMs: 0.3, probes: 8 },
    host: { ...LINUX_HOST, portRange: [40000, 40000 + usable - 1], usablePorts: usable, tcpTwReuse: 0 },
    timeline,
    ports: seen.length === 0 ? null : { usable, peakInUse: peakUsed, peakUtilization: peakUsed / usable, peakTimeWait: Math.max(0, ...seen.map((e) => e.sockets!.timeWait)), busiestDestination: dest },
    destinations: seen.length === 0 ? [] : [{ dest, peakInUse: peakUsed, peakTimeWait: peakUsed, peakUtilization: peakUsed / usable }],
    monitor: {
      enabled: true,
      source: 'sockdiag',
      intervalS: 0.25,
      scanIntervalS: 1,
      effectiveScanIntervalS: 1,
      samples: seen.length * 4,
      scans: seen.length,
      scanCostMs: { p50: 3, max: 9 },
      lateMs: { p50: 1, max: 4 },
      unavailable: {},
      baseline: null,
      peakConntrack: null,
      peakFds: null,
    },
    coverage: {
      fromS: seen.length ? seen[0]!.t : null,
      toS: seen.length ? seen.at(-1)!.t : null,
      share: Math.round((seen.length / o.seconds) * 1000) / 1000,
    },
    gaps: o.gaps ?? [],
  };
}

/** What {@link twoHostRecord} varies. */
export interface TwoHostOptions {
  seconds?: number;
  /** The service's ports in use per second (null: not seen). Default: 100/s up to the 500 usable, unseen at t = 7–8. */
  serviceInUse?: (t: number) => number | null;
  /** More hosts, by name. */
  extra?: Record<string, HostRecord>;
  runId?: string;
  label?: string | null;
  /** Leave the service out (a run that watched nobody but still wrote `hosts.client`). */
  noService?: boolean;
}

/** The service's default: 100 more ports a second until the 500 run out; the agent missed t = 7 and 8. */
export const defaultServiceInUse = (t: number): number | null => (t === 7 || t === 8 ? null : Math.min(500, 100 * (t + 1)));

/**
 * A 10 s run against a proxy (`service`) that opens one upstream connection per request and closes
 * it first: its ports toward the backend run out at t = 4 and the client sees 502s from then on.
 * The record is schema 2 with `hosts.client` and `hosts.service`, and a verdict on the service.
 */
export function twoHostRecord(o: TwoHostOptions = {}): RunRecord {
  const seconds = o.seconds ?? 10;
  const inUse = o.serviceInUse ?? defaultServiceInUse;
  const timeline: TimelineEntry[] = Array.from({ length: seconds }, (_, t) => {
    const failed = t >= 4 ? 80 : 0;
    return entry(t, {
      attempted: 100,
      completed: 100 - failed,
      failed,
      errors: failed ? { HTTP_5XX: failed } : {},
      connectionsOpened: 100,
      // The client keeps its connections alive toward the proxy: a few ports, nowhere near its budget.
      sockets: sockets({ timeWait: 4, ephemeralInUse: 10, utilization: 10 / 28_232, serverTimeWait: 0, established: 10 }),
    });
  });
  const r = syntheticRecord({ timeline, errorsByPhase: { 'response:HTTP_5XX': timeline.reduce((a, e) => a + e.failed, 0) } });
  const { name: _client, ...client } = hostViews(r)[0]!;
  const service = syntheticHost({ seconds, inUse, serverTimeWait: (t) => 60 * (t + 1), gaps: ['agent stream stalled from t = 7.0 s to 9.0 s'] });
  const verdict: Verdict = {
    verdict: 'upstream-port-exhaustion' as VerdictId,
    host: 'service',
    severity: 'critical',
    confidence: 0.9,
    atS: 4,
    evidence: [`the service ran out of ports toward ${BACKEND} (500 of 500 in use) at t = 4.0 s`, 'the client saw HTTP 5xx from t = 4.0 s, 0.1 s after'],
    advice: ['Keep upstream connections alive (nginx: keepalive in the upstream block)'],
  };
  return {
    ...r,
    schema: 2,
    runId: o.runId ?? r.runId,
    label: o.label === undefined ? r.label : o.label,
    hosts: { client, ...(o.noService ? {} : { service }), ...o.extra },
    diagnosis: [
      verdict,
      { verdict: 'server-time-wait', host: 'service', severity: 'info', confidence: 0.6, atS: null, evidence: ['the service closed the client connections first: 600 TIME_WAIT on its listening port'], advice: [] },
    ],
  };
}
