/**
 * Synthetic run records for analysis tests: complete and type-correct, with defaults a test
 * overrides piece by piece. Totals, `errors`, `errorsByPhase` and `ports` are derived from the
 * timeline unless given.
 */
import type { ConnectionPolicy, Scenario } from '../../src/scenario/schema.js';
import type {
  HostInfo,
  LatencySummary,
  MonitorInfo,
  PortsSummary,
  RunRecord,
  TimelineEntry,
  TimelineSockets,
} from '../../src/record/types.js';

/** Linux defaults as DOMAIN.md measured them (non-loopback ready: tw_reuse 2). */
export const LINUX_HOST: HostInfo = {
  platform: 'linux',
  kernel: '6.18',
  node: 'v20.20.2',
  cpus: 2,
  portRange: [32768, 60999],
  reservedPorts: [],
  usablePorts: 28_232,
  tcpTwReuse: 2,
  tcpTwReuseDelayMs: 1000,
  timeWaitS: 60,
  tcpFinTimeoutS: 60,
  tcpMaxTwBuckets: 131_072,
  tcpTimestamps: 1,
  somaxconn: 4096,
  nofileSoft: 1024,
  nofileHard: 4096,
  conntrackMax: 262_144,
  unavailable: {},
};

/** A socket picture with zeros, overridden; client sockets holding a port default to the client's TIME_WAIT (timeWait − serverTimeWait). */
export function sockets(over: Partial<TimelineSockets> = {}): TimelineSockets {
  return {
    timeWait: 0,
    established: 0,
    synSent: 0,
    finWait: 0,
    closeWait: 0,
    lastAck: 0,
    ephemeralInUse: Math.max(0, (over.timeWait ?? 0) - (over.serverTimeWait ?? 0)),
    utilization: 0,
    serverTimeWait: 0,
    ...over,
  };
}

/** One timeline second: 100 requests, all completed on new connections, overridden. */
export function entry(t: number, over: Partial<TimelineEntry> = {}): TimelineEntry {
  const attempted = over.attempted ?? 100;
  return {
    t,
    attempted,
    completed: attempted,
    failed: 0,
    dropped: 0,
    errors: {},
    latencyMs: { p50: 0.5, p90: 1, p99: 2, max: 5 },
    connectMs: { p50: 0.01, p99: 0.05 },
    connectionsOpened: attempted,
    sockets: sockets(),
    counters: { TW: 0, TWRecycled: 0, TCPTimeWaitOverflow: 0, ListenOverflows: 0, ListenDrops: 0 },
    ...over,
  };
}

/** What a test can override. */
export interface SyntheticOptions {
  timeline?: TimelineEntry[];
  connection?: Partial<ConnectionPolicy>;
  host?: Partial<HostInfo>;
  /** Merged over the derived summary; null: the monitor found no sockets. */
  ports?: Partial<PortsSummary> | null;
  monitor?: Partial<MonitorInfo>;
  errorSamples?: RunRecord['errorSamples'];
  /** Default: every timeline error as `connect:CODE`. */
  errorsByPhase?: Record<string, number>;
  targetUrl?: string;
  builtin?: boolean;
  targetStats?: RunRecord['target']['stats'];
  status?: RunRecord['status'];
}

const latency = (count: number): LatencySummary => ({ p50: 0.5, p90: 1, p99: 2, p999: 4, max: 5, mean: 0.7, count });

/** A complete run record; defaults: 10 quiet seconds at 100 requests/s against 198.18.0.2:8080. */
export function syntheticRecord(o: SyntheticOptions = {}): RunRecord {
  const timeline = o.timeline ?? Array.from({ length: 10 }, (_, t) => entry(t));
  const host: HostInfo = { ...LINUX_HOST, ...o.host };
  const connection: ConnectionPolicy = { reuse: false, poolSize: 50, close: 'client', localAddresses: [], ...o.connection };
  const sum = (pick: (e: TimelineEntry) => number) => timeline.reduce((a, e) => a + pick(e), 0);
  const errors: Record<string, number> = {};
  for (const e of timeline) for (const [code, n] of Object.entries(e.errors)) errors[code] = (errors[code] ?? 0) + n;
  const errorsByPhase = o.errorsByPhase ?? Object.fromEntries(Object.entries(errors).map(([c, n]) => [`connect:${c}`, n]));
  const totals = {
    attempted: sum((e) => e.attempted),
    completed: sum((e) => e.completed),
    failed: sum((e) => e.failed),
    dropped: sum((e) => e.dropped),
    connectionsOpened: sum((e) => e.connectionsOpened),
  };
  const seen = timeline.map((e) => e.sockets).filter((s): s is TimelineSockets => s !== null);
  const usable = host.usablePorts;
  const peakUtil = Math.max(0, ...seen.map((s) => s.utilization ?? 0));
  const derived: PortsSummary | null =
    seen.length === 0
      ? null
      : {
          usable,
          peakInUse: Math.round(peakUtil * (usable ?? 0)),
          peakUtilization: peakUtil,
          peakTimeWait: Math.max(0, ...seen.map((s) => s.timeWait)),
          busiestDestination: '198.18.0.2:8080',
        };
  const ports = o.ports === null ? null : derived || o.ports ? ({ ...(derived ?? emptyPorts(usable)), ...o.ports } as PortsSummary) : null;
  const scenario: Scenario = {
    name: 'synthetic',
    target: o.targetUrl ?? 'http://198.18.0.2:8080/',
    protocol: 'http',
    request: { method: 'GET', path: '/', headers: {}, body: '' },
    payload: 'PING\n',
    expectBytes: 5,
    connection,
    load: [{ model: 'arrival-rate', rate: Math.max(1, ...timeline.map((e) => e.attempted)), rampUp: 0, duration: timeline.length || 1, startAfter: 0, maxInFlight: 10_000 }],
    timeouts: { connect: 2, tls: 2, request: 10 },
    tls: { insecure: false, sessionResumption: true, alpn: ['http/1.1'] },
    dns: 'once',
    workers: 1,
    thresholds: [],
    builtin: { delayMs: 0, bodyBytes: 2, keepAlive: true, tls: false },
    allowRemote: false,
    monitor: { enabled: true, interval: 0.25, scanInterval: 1 },
    limits: { maxDuration: 3600, maxRequests: 100_000_000 },
  };
  const monitor: MonitorInfo = {
    enabled: true,
    source: 'sockdiag',
    intervalS: 0.25,
    scanIntervalS: 1,
    effectiveScanIntervalS: 1,
    samples: timeline.length * 4,
    scans: timeline.length,
    scanCostMs: { p50: 5, max: 20 },
    lateMs: { p50: 1, max: 5 },
    unavailable: {},
    baseline: { timeWait: 0, ephemeralInUse: 0 },
    peakConntrack: { count: 100, max: host.conntrackMax ?? 262_144 },
    peakFds: { open: 40, soft: host.nofileSoft },
    ...o.monitor,
  };
  return {
    schema: 1,
    portstormVersion: '0.1.0',
    runId: '20260101-000000-synthetic-0000',
    label: null,
    scenario,
    target: { url: o.targetUrl ?? 'http://198.18.0.2:8080/', builtin: o.builtin ?? false, stats: o.targetStats ?? null },
    startedAt: '2026-01-01T00:00:00.000Z',
    durationS: timeline.length,
    status: o.status ?? 'completed',
    host,
    workers: 1,
    totals,
    errors,
    errorsByPhase,
    latencyMs: latency(totals.completed),
    latencyUncorrectedMs: latency(totals.completed),
    connectMs: latency(totals.connectionsOpened),
    ttfbMs: latency(totals.completed),
    histograms: { latency: '', latencyUncorrected: '', connect: '', ttfb: '' },
    timeline,
    thresholds: [],
    requestLogs: null,
    ports,
    destinations: [],
    monitor,
    errorSamples: o.errorSamples ?? [],
  };
}

function emptyPorts(usable: number | null): PortsSummary {
  return { usable, peakInUse: 0, peakUtilization: 0, peakTimeWait: 0, busiestDestination: null };
}

/** What {@link clientCloseTimeline} models. */
export interface ClientCloseRun {
  /** New connections per second, by second. */
  rate: (t: number) => number;
  seconds: number;
  usable: number;
  timeWaitS?: number;
  /** Connect p50 once more than half of the ports are in use (DOMAIN.md: ~0.7 ms). */
  slowConnectMs?: number;
}

/**
 * A timeline of `close: client` without reuse, made with the capacity model's own held-ports sum:
 * each connection holds its port for TIME_WAIT; once none is free the rest of the second fails with
 * EADDRNOTAVAIL. For rule logic only: a test must not compare the model's prediction with the onset
 * in such a timeline (it would agree by construction); the lab grid test checks the model against
 * the kernel. Connect p50
 * is 10 µs below half the range and `slowConnectMs` above; p99 latency follows utilization.
 */
export function clientCloseTimeline(run: ClientCloseRun): TimelineEntry[] {
  const w = run.timeWaitS ?? 60;
  const held: number[] = [];
  const out: TimelineEntry[] = [];
  for (let t = 0; t < run.seconds; t++) {
    const attempted = run.rate(t);
    const inUse = held.slice(Math.max(0, t - w + 1), t).reduce((a, b) => a + b, 0);
    const completed = Math.max(0, Math.min(attempted, run.usable - inUse));
    held[t] = completed;
    const failed = attempted - completed;
    const used = inUse + completed;
    const utilization = Math.round((used / run.usable) * 1e4) / 1e4;
    out.push(
      entry(t, {
        attempted,
        completed,
        failed,
        errors: failed > 0 ? { EADDRNOTAVAIL: failed } : {},
        connectionsOpened: completed,
        connectMs: { p50: inUse / run.usable > 0.5 ? (run.slowConnectMs ?? 0.7) : 0.01, p99: 1 },
        latencyMs: { p50: 0.5, p90: 1, p99: 2 + 20 * utilization, max: 30 },
        sockets: sockets({ timeWait: used, ephemeralInUse: used, utilization, established: 5 }),
      }),
    );
  }
  return out;
}
