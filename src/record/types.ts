/**
 * The run record (`run.json`, schema 2): the one typed document every stage reads and writes.
 * Times are seconds since the run started; latencies are milliseconds.
 *
 * Schema 2 (issue 16) adds `hosts`, every host the run observed in one shape (the load generator's
 * own monitor as `client`, agents watched with `--watch`, files attached after the fact), and
 * `Verdict.host`. Records of schema 1 still read: they have no `hosts`, and their one host is the
 * top-level figures (see `hostViews`).
 */
import type { Scenario } from '../scenario/schema.js';

/** Current run-record schema version. */
export const RUN_SCHEMA = 2;
/** Every schema version this code reads. */
export const READABLE_SCHEMAS = [1, 2] as const;

import type { Phase } from '../vocab/failure.js';

export type { Phase };

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
  count: number;
}

/** One second of the run. `attempted` counts by start time, the rest by completion time. */
export interface TimelineEntry {
  t: number;
  attempted: number;
  completed: number;
  failed: number;
  dropped: number;
  errors: Record<string, number>;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  connectMs: { p50: number; p99: number };
  connectionsOpened: number;
  /** TLS handshakes completed in this second, by completion (HTTPS only; absent in older records and plain runs). */
  tlsHandshakes?: number;
  /** Handshake time of the handshakes completed in this second (HTTPS only). */
  tlsMs?: { p50: number; p99: number };
  /** Lookups of the target's name that succeeded in this second (`dns: per-connection` only); failed ones are `errors` in phase `dns`. */
  dnsLookups?: number;
  /** Time of those lookups (`dns: per-connection` only). */
  dnsMs?: { p50: number; p99: number };
  /**
   * CPU in use during this second, in cores (1 = one core busy all second): `process`, portstorm's
   * own process (every thread: load workers, the engine threads, the monitor, a built-in target);
   * `host`, the whole machine (or the host the monitor reads). Null where unreadable; absent in older records.
   */
  cpu?: { process: number | null; host: number | null } | null;
  /** Host sockets at the end of this second (last scan); null when no socket source worked. */
  sockets: TimelineSockets | null;
  /** Kernel TCP counters: increase during this second; null when unreadable. */
  counters: Record<string, number | null> | null;
}

/** The socket picture of one second. `timeWait` is the highest count seen in the second. */
export interface TimelineSockets {
  timeWait: number;
  established: number | null;
  synSent: number | null;
  finWait: number | null;
  closeWait: number | null;
  lastAck: number | null;
  /** Client sockets holding an ephemeral port (all destinations). */
  ephemeralInUse: number | null;
  /** Ports in use toward the busiest of this run's own destinations (its busiest source) / usable
   * ports; in records without `ownDestinations`, toward the busiest destination of all. */
  utilization: number | null;
  /** TIME_WAIT sockets on a listening port (the server side). */
  serverTimeWait: number | null;
  /** Client sockets holding a port toward this run's own destinations (`ownDestinations`), summed. Absent in older records. */
  ownInUse?: number | null;
  /** Client TIME_WAIT toward this run's own destinations. */
  ownTimeWait?: number | null;
  /** TIME_WAIT on the server side of this run's own destinations (when the target listens on this host). */
  ownServerTimeWait?: number | null;
}

/**
 * The port budget over the run, toward this run's own destinations (`RunRecord.ownDestinations`);
 * in records without them, toward every destination.
 */
export interface PortsSummary {
  usable: number | null;
  /** Most ports in use toward one destination. */
  peakInUse: number;
  peakUtilization: number | null;
  /** Most client TIME_WAIT sockets toward the own destinations at once (older records, and runs
   * whose scans all failed: the host-wide TIME_WAIT peak). */
  peakTimeWait: number;
  /** The own destination with the most ports in use (the first own one when none had any). */
  busiestDestination: string | null;
}

/** One destination's peak use. */
export interface DestinationSummary {
  dest: string;
  peakInUse: number;
  peakTimeWait: number;
  peakUtilization: number | null;
}

/** How the monitor ran. */
export interface MonitorInfo {
  enabled: boolean;
  /** sockdiag (netlink), proc (/proc/net/tcp) or netstat; null when no socket source worked. */
  source: string | null;
  intervalS: number;
  scanIntervalS: number;
  /** The longest gap between scans: longer than scanIntervalS when scans had to be spaced to keep
   * them within 2 % of one core. */
  effectiveScanIntervalS: number;
  samples: number;
  scans: number;
  /** Cost of one per-socket scan, ms. */
  scanCostMs: { p50: number; max: number } | null;
  /** Lateness of samples against their schedule, ms. */
  lateMs: { p50: number; max: number } | null;
  /** What could not be read, and why. */
  unavailable: Record<string, string>;
  /** The host before the load started. */
  baseline: {
    timeWait: number | null;
    ephemeralInUse: number | null;
    /** Client sockets present before the load, per destination (own destinations first). Absent in older records. */
    byDestination?: BaselineDestination[];
    /** Seconds from the baseline sample (the last scan before the load, which `byDestination` comes
     * from) to the start of the load. */
    ageS?: number;
  } | null;
  peakConntrack: { count: number; max: number } | null;
  peakFds: { open: number; soft: number | null } | null;
  /**
   * The busiest second's CPU, in cores (see `TimelineEntry.cpu`): `process` and `host` each their
   * own peak; null where never readable. Absent in older records and when the monitor was off.
   */
  peakCpu?: { process: number | null; host: number | null } | null;
}

/** One destination's client sockets before the load started, with when their TIME_WAIT ends. */
export interface BaselineDestination {
  /** `ip:port` (IPv6 as `[ip]:port`). */
  dest: string;
  /** Whether this run connects to it (one of `ownDestinations`). */
  own: boolean;
  inUse: number;
  timeWait: number;
  /**
   * TIME_WAIT sockets by whole seconds left until they expire, measured from the start of the load:
   * index i counts those that free their port in [i, i+1) s. Null when the source gives no timer
   * (netstat); `[]` when there is no TIME_WAIT. Sockets that expired between the baseline scan and
   * the load start are left out, so the sum can be below `timeWait`.
   */
  timeWaitExpiry: number[] | null;
}

/** Exhaustion timing: observed onset, early warning, and the capacity model's prediction. */
export interface Exhaustion {
  /** Run second of the first exhaustion-signal error (EADDRNOTAVAIL; EADDRINUSE/ENOBUFS/EAGAIN on connect). */
  firstAtS: number | null;
  /** Busiest destination's port utilization at that moment. */
  utilizationAtFirst: number | null;
  timeWaitAtFirst: number | null;
  /** Share of requests that failed from the onset to the end. */
  errorRateAfter: number | null;
  /** When the capacity model says ports run out at the new-connection rate actually run. */
  predictedAtS: number | null;
  /** firstAtS − predictedAtS. */
  onsetVsPredictionS: number | null;
  /** When connect latency first rose well above its baseline. */
  earlyWarningAtS: number | null;
  utilizationAtWarning: number | null;
  /** Sustainable new connections per second toward the target (usable ports / TIME_WAIT). */
  sustainableRate: number | null;
  /** New connections per second actually attempted (peak 1 s). */
  peakConnectionRate: number | null;
  /** Pearson correlation over the timeline of utilization with error rate and with p99 latency. */
  correlation: { utilizationVsErrorRate: number | null; utilizationVsLatencyP99: number | null };
  /** The capacity model the figures above came from (src/analysis/capacity.ts). Absent in older records. */
  capacity?: Capacity;
}

/** How source addresses are chosen (see `RunRecord.sourceStrategy`). */
export type SourceStrategy = 'kernel' | 'bind' | 'bind-no-port';

/** Which side of the connections holds TIME_WAIT, and what told. */
export interface TimeWaitSide {
  side: 'client' | 'server' | 'both' | 'none';
  /** `monitor`: TIME_WAIT growth seen on this host; `target`: the built-in target's close counters; `scenario`: the connection policy (fallback). */
  source: 'monitor' | 'target' | 'scenario';
  reason: string;
  /** The watched host whose own server-side TIME_WAIT (sockets on its listening ports) was read, when
   * the server is not this host (`hosts`); absent when the client's monitor alone told. */
  serverHost?: string;
}

/** The capacity model of a run: how long a port stays unusable, the budget it is drawn from, the rate that lasts. */
export interface Capacity {
  /** Seconds a closed connection keeps its port unusable for a new connection to the same destination. */
  holdS: number;
  holdReason: string;
  /** Where holdS came from: the host's settings, or the run's own TIME_WAIT figures (shorter than the settings say). */
  holdSource: 'host' | 'observed';
  /** Ports in one pool (usable ports); null when unknown. */
  budget: number | null;
  /** What one pool is: a (source, destination ip:port) pair, or a source address across all destinations. */
  budgetScope: 'source-destination' | 'source';
  budgetReason: string;
  /** Number of pools the load is spread over. */
  pools: number;
  sources: number;
  destinations: number;
  sourceStrategy: SourceStrategy;
  /** budget × pools / holdS; null when the budget is unknown. */
  sustainableRate: number | null;
  timeWaitSide: TimeWaitSide;
}

/** How the private network namespace was made: inside a user namespace, or plainly as root. */
export type LabNamespace = 'user' | 'root';

/** The lab settings a run was made under (the run record's `lab` field). */
export interface LabInfo {
  namespace: LabNamespace;
  /** Every namespace sysctl the lab wrote, dotted key → value as written (e.g. "40000 40999"). */
  sysctls: Record<string, string>;
  /** The client's source address and the target's address, both on the namespace's lo. */
  addresses: { client: string; target: string };
  /** The variant's name when the run was one of several `--variant`s, else null. */
  variant: string | null;
  /** The lab's shape and its hosts; absent in records of labs before topologies (then `single`). */
  topology?: LabTopologyInfo;
}

/** A lab topology (`lab.topology`). */
export type LabTopologyKind = 'single' | 'chain' | 'nat';

/**
 * The hosts and links of a lab run. Each host but `client` is its own network namespace nested in the
 * lab's (the client's); each link a veth pair with one /24 of 198.18.0.0/15 (fd00:<n>::/64 in IPv6).
 */
export interface LabTopologyInfo {
  kind: LabTopologyKind;
  /** `client` first, then along the path (chain: service, backend; nat: router, server). */
  hosts: LabHostInfo[];
  links: LabLinkInfo[];
  /** The router's NAT (nat topology), else null. */
  nat: LabNatInfo | null;
  /** The capacity model's onset for the host expected to run out first (service or router), else null. */
  prediction: LabPrediction | null;
}

/** One lab host as it was set up. */
export interface LabHostInfo {
  /** The name in the record's `hosts` (and its verdicts). */
  name: string;
  role: HostRole;
  /** Its addresses on its links. */
  addresses: string[];
  /** Its ip_local_port_range, and every sysctl written in its namespace (dotted key → value). */
  portRange: [number, number] | null;
  sysctls: Record<string, string>;
  /** What runs there, in words: `the load`, `built-in proxy (a new upstream connection per request)`, `built-in target`, `lab.serve: <command>`, `NAT (masquerade)`. */
  runs: string;
}

/** A veth pair between two hosts. */
export interface LabLinkInfo {
  /** Host names at either end. */
  a: string;
  b: string;
  /** `data`: the path the load takes; `management`: the client's own link to a host's monitor agent (its stream never crosses a data link or the NAT). */
  kind: 'data' | 'management';
  /** The link's subnet, e.g. 198.18.1.0/24. */
  subnet: string;
  /** Each end's address. */
  addresses: Record<string, string>;
}

/** The router's source NAT. */
export interface LabNatInfo {
  /** The router's host name. */
  router: string;
  /** The port range connections are translated to, on each address. */
  ports: [number, number];
  /** The public-side addresses translated to. */
  addresses: string[];
  /** Client namespaces behind the router. */
  clients: number;
  /** Conntrack timeouts written in the router's namespace (sysctl key → seconds), and those the kernel would not let it set there (key → why). */
  conntrack: { set: Record<string, number>; notSettable: Record<string, string> };
}

/** When the capacity model expects the lab's constrained host to run out, from the scenario's load. */
export interface LabPrediction {
  /** The host (service or router). */
  host: string;
  /** Ports it draws from per destination (service: its usable ports; router: ports × addresses). */
  budget: number;
  /** Seconds a port stays unusable after its connection closes (service: TIME_WAIT hold; router: conntrack TIME_WAIT reuse measured, 0 when Linux reuses it). */
  holdS: number;
  /** How the onset is reached: `rate` (budget ÷ new connections per second beyond what the hold frees) or `concurrency` (connections held at once against the budget). */
  basis: 'rate' | 'concurrency';
  /** Run second the model expects the first failure at, or null when the load never reaches it. */
  predictedAtS: number | null;
  /** The first failure seen on the client that the verdict ties to this host, and the difference. */
  observedAtS: number | null;
  reason: string;
}

/** Verdict ids (fixed; extend, never rename). */
export type VerdictId =
  | 'client-port-exhaustion'
  | 'server-time-wait'
  | 'fd-exhaustion'
  | 'listen-backlog-overflow'
  | 'target-unreachable'
  | 'conntrack-full'
  | 'time-wait-bucket-overflow'
  | 'other-failures'
  | 'source-address-unavailable'
  | 'tls-handshake-bound'
  | 'tls-failures'
  | 'dns-failures'
  | 'upstream-port-exhaustion'
  | 'snat-port-exhaustion'
  | 'healthy';

/** One finding with its evidence and advice. */
export interface Verdict {
  verdict: VerdictId;
  /**
   * The host it is about: `client` (the load generator) or a name from `hosts`. Every verdict the
   * analysis makes names its host; a stored verdict without one (older records) is the client's.
   */
  host?: string;
  severity: 'critical' | 'warning' | 'info';
  /** 0..1: lowered where the evidence is mixed. */
  confidence: number;
  /** Run second it applies from, or null for the whole run. */
  atS: number | null;
  /** Figures from the record, as sentences. */
  evidence: string[];
  advice: string[];
}

/** Facts about the machine the run was made on. A value that could not be read is null, and
 * `unavailable` says why, keyed by the field name. */
export interface HostInfo {
  platform: string;
  kernel: string;
  node: string;
  cpus: number;
  /** Ephemeral port range [lo, hi]. */
  portRange: [number, number] | null;
  /** Reserved port ranges (ip_local_reserved_ports), each [lo, hi]. */
  reservedPorts: [number, number][] | null;
  /** Ports connect() can pick: the range less reserved ports inside it. */
  usablePorts: number | null;
  tcpTwReuse: number | null;
  tcpTwReuseDelayMs: number | null;
  /** How long a socket stays in TIME_WAIT (Linux: TCP_TIMEWAIT_LEN, 60 s, not tunable). */
  timeWaitS: number | null;
  tcpFinTimeoutS: number | null;
  tcpMaxTwBuckets: number | null;
  tcpTimestamps: number | null;
  somaxconn: number | null;
  /** The open-file limits when the host facts were read (after any raise, see `nofile`). */
  nofileSoft: number | null;
  nofileHard: number | null;
  /** How portstorm adjusted the open-file limit at startup; null when this process did not (absent in older records). */
  nofile?: NofileAdjustment | null;
  conntrackMax: number | null;
  /** The host's own addresses (every interface), to tell a missing source address from exhaustion. Absent in older records. */
  localAddresses?: string[] | null;
  unavailable: Record<string, string>;
}

/** An open-file limit pair; null where it is unknown or unlimited. */
export interface NofileLimits {
  soft: number | null;
  hard: number | null;
}

/** The open-file limit before and after portstorm raised the soft limit to the hard one. */
export interface NofileAdjustment {
  before: NofileLimits;
  after: NofileLimits;
  /**
   * `raised`: prlimit raised the soft limit; `at-hard`: it already equalled the hard limit (Node
   * raises it when it starts); `failed`: prlimit was missing or refused (see `reason`);
   * `unknown`: the limits could not be read.
   */
  outcome: 'raised' | 'at-hard' | 'failed' | 'unknown';
  reason: string | null;
  /** Descriptors held on the null device while the load ran and freed before results were written. */
  reserve: number;
}

/**
 * Connection counters. Every closed connection is counted once in exactly one of closedByServer,
 * closedByClient and resetByClient, so `connectionsAccepted = open + closedByServer + closedByClient
 * + resetByClient`.
 */
export interface TargetStats {
  connectionsAccepted: number;
  /** HTTP requests received, or TCP chunks received (each is echoed). */
  requests: number;
  /** The server ended the connection (end() or destroy()) before the client's FIN arrived. */
  closedByServer: number;
  /** The client's FIN arrived while the server had not ended its side. */
  closedByClient: number;
  /** The socket errored with ECONNRESET (the client sent RST, e.g. resetAndDestroy()). */
  resetByClient: number;
  /** Connections currently open. */
  open: number;
  /** TLS handshakes the target completed (an HTTPS target; absent otherwise and in older records). */
  tlsHandshakes?: number;
  /** Of those, handshakes that resumed an earlier session (a ticket). */
  tlsResumed?: number;
  /** Handshakes that failed: a client that refused the certificate, plain HTTP, not TLS at all. */
  tlsErrors?: number;
}

/** Totals over the whole run. */
export interface Totals {
  attempted: number;
  completed: number;
  failed: number;
  dropped: number;
  connectionsOpened: number;
  /** TLS handshakes completed (HTTPS; absent in older records). */
  tlsHandshakes?: number;
  /** Of those, handshakes that resumed an earlier session (`tls.sessionResumption`). */
  tlsResumed?: number;
  /** Successful lookups of the target's name during the load (`dns: per-connection`). */
  dnsLookups?: number;
}

/** How the target's name was resolved (the record's `target.resolved`). */
export interface TargetResolution {
  /** The host name in the target URL, or null when the URL holds an IP address. */
  name: string | null;
  /** `once`: resolved at the start, these addresses used for the whole run; `per-connection`: every new connection looks the name up. */
  dns: 'once' | 'per-connection';
  /** The addresses the name resolved to at the start (each checked by the remote-target guard), in resolver order. */
  addresses: string[];
  /** The address connections went to (`once`: the first of `addresses`); null with per-connection lookups. */
  used: string | null;
}

/** The TLS settings of an HTTPS run (the record's `target.tls`). Never holds key material. */
export interface TargetTls {
  /** The SNI name sent and checked against the certificate; null for an IP address target without `tls.servername`. */
  servername: string | null;
  insecure: boolean;
  sessionResumption: boolean;
  alpn: string[];
  /** Where trust came from: `system` (Node's root store), a `ca` file, or the built-in target's generated certificate. */
  trust: 'system' | 'ca' | 'builtin' | 'none';
  /** The client certificate file, or null. */
  clientCertificate: string | null;
}

/** Result of one threshold expression evaluated on the record. */
export interface ThresholdResult {
  expr: string;
  actual: number | null;
  passed: boolean;
}

/** How a run ended, or `checkpoint` for the partial record written while it runs. */
export type RunStatus = 'completed' | 'interrupted' | 'failed' | 'checkpoint';

/** What a host is to the run: the load generator, the service it loads, a proxy, a backend, a NAT router, or another. */
export type HostRole = 'client' | 'service' | 'proxy' | 'backend' | 'router' | 'other';

/**
 * How a host's clock relates to this run's: `offsetMs` is added to the run's clock to get the
 * host's (host time − local time), `uncertaintyMs` its bound (half the best round trip); `local`
 * for this host, `round-trip` estimated NTP-style against an agent, `wall-clock` for a file attached
 * after the fact (aligned by its timestamps as they are, offset 0, uncertainty unknown = null).
 */
export interface HostClock {
  method: 'local' | 'round-trip' | 'wall-clock';
  offsetMs: number;
  uncertaintyMs: number | null;
  /** Round trips the estimate took the best of (round-trip only). */
  probes?: number;
}

/** One second of a host's sockets, counters and CPU, on the run's time axis. */
export interface HostSecond {
  t: number;
  /** Null: the host could not be seen in that second (agent down or stalled, no scan): never zeros. */
  sockets: TimelineSockets | null;
  counters: Record<string, number | null> | null;
  cpu?: { process: number | null; host: number | null } | null;
  /** Connection-tracking entries at the end of the second, when the host tracks connections. */
  conntrack?: { count: number; max: number } | null;
}

/**
 * One observed host, in the same shape whatever observed it: the load generator's own monitor
 * (`client`), a `portstorm monitor --serve` agent, a `monitor --out` file attached after the fact,
 * a lab namespace, a shard.
 */
export interface HostRecord {
  role: HostRole;
  /** Where it was observed from: `local`, the agent's URL, or the attached file's path. */
  address: string;
  source: 'local' | 'agent' | 'file';
  clock: HostClock;
  /** The host's settings (port range, sysctls, limits), as the host reported them; null when unknown. */
  host: HostInfo | null;
  /** One entry per run second (the run's `timeline` seconds). */
  timeline: HostSecond[];
  /** Port budget peaks: toward the run's own destinations for `client`, toward every destination (busiest first) for other hosts. */
  ports: PortsSummary | null;
  destinations: DestinationSummary[];
  monitor: MonitorInfo;
  /**
   * How much of the run the host's samples cover: the first and last run second with a sample,
   * and the share of run seconds with a socket picture. Low coverage weakens what the host tells.
   */
  coverage: { fromS: number | null; toS: number | null; share: number };
  /** Why seconds are missing (agent unreachable from t = …, stream stalled, …); empty when none are. */
  gaps: string[];
}

/** One shard's place in a sharded run (`run --shard I/N [--start-at T]`). */
export interface ShardInfo {
  /** 0-based, below `count`. */
  index: number;
  count: number;
  /** The agreed start (`--start-at` / `startAt`, ISO time), or null when the shard started at once. */
  startAt: string | null;
  /** How late the load started after `startAt` (ms; ≥ 0), or null without one. */
  lateMs: number | null;
  /** What this shard was given of the scenario, in words: `arrivals k ≡ 1 (mod 3)`, `users 4 of 10 (shard 1)`. */
  split: string;
}

/** What a merged record is made of. */
export interface MergedShards {
  /** Shards the scenario was split into. */
  count: number;
  /** Shard indexes whose records were merged, ascending. */
  covered: number[];
  /** Shards without a record (`missing`) or whose record says the run failed or was interrupted (`failed`, with why). */
  missing: number[];
  failed: Array<{ index: number; why: string }>;
  /** Each merged shard's run id, label and host name in `hosts` (`shard-<index>`). */
  runs: Array<{ index: number; runId: string; label: string | null; host: string; lateMs: number | null }>;
  /** The spread of the shards' load starts (ms; max − min), a bound on how well their seconds line up besides clock skew. */
  startSpreadMs: number;
}

/** The whole run record. */
export interface RunRecord {
  schema: typeof RUN_SCHEMA | 1;
  portstormVersion: string;
  runId: string;
  label: string | null;
  /**
   * What made the record: `portstorm` (a run or a lab; absent in older records means this), or
   * `jmeter` (`portstorm analyze` of a JMeter results file: the load figures come from the JTL, the
   * scenario is a synthetic description of the JMeter test, the host figures from `--monitor` files).
   */
  source?: 'portstorm' | 'jmeter' | 'merge';
  /** This run was shard `index` of `count` (`run --shard I/N`; a whole run with a `startAt` is shard 0 of 1); absent for a whole run started at once. */
  shard?: ShardInfo;
  /** A merged record (`portstorm merge`): which shards it covers and which it lacks; absent otherwise. */
  shards?: MergedShards;
  scenario: Scenario;
  /** The target; `stats` are the built-in target's own counters (null for other targets). */
  target: {
    url: string;
    builtin: boolean;
    stats: TargetStats | null;
    /** How the target's name was resolved; absent in older records. */
    resolved?: TargetResolution;
    /** The TLS settings of an HTTPS run, else null; absent in older records. */
    tls?: TargetTls | null;
  };
  /** When the run began (ISO time): before the target, the monitor's baseline and the load's workers started. */
  startedAt: string;
  /**
   * When the load started (ISO time, ms): run second 0 of `timeline` and of every host's timeline.
   * Absent in older records, where `startedAt` is the nearest (earlier by the start-up, about a second or two).
   */
  loadStartedAt?: string;
  durationS: number;
  /**
   * `completed`, or why it ended early; `checkpoint` while the run has not finished: the record of
   * everything up to `durationS`, rewritten every few seconds until the final record replaces it.
   * A `checkpoint` left on disk means the run was killed (or is still running).
   */
  status: RunStatus;
  /** The scenario's safety limits that cut the load short (`maxRequests`, `maxDuration`); empty when none did. Absent in older records. */
  limitsReached?: Array<'maxRequests' | 'maxDuration'>;
  host: HostInfo;
  workers: number;
  /** What carried the connections: the native engine or node:net/undici, and why not native. Absent in older records. */
  engine?: { engine: 'native' | 'js'; reason: string | null };
  totals: Totals;
  errors: Record<string, number>;
  /** Failures by `phase:CODE`, e.g. `connect:EADDRNOTAVAIL`. */
  errorsByPhase: Record<string, number>;
  latencyMs: LatencySummary;
  latencyUncorrectedMs: LatencySummary;
  connectMs: LatencySummary;
  ttfbMs: LatencySummary;
  /** TLS handshake time per new connection, from the TCP connect to the handshake's end (HTTPS; absent in older records). */
  tlsMs?: LatencySummary;
  /** Lookup time of the target's name per new connection (`dns: per-connection`; absent in older records). */
  dnsMs?: LatencySummary;
  /** HdrHistograms; `tls` and `dns` are absent in older records. */
  histograms: { latency: string; latencyUncorrected: string; connect: string; ttfb: string; tls?: string; dns?: string };
  timeline: TimelineEntry[];
  thresholds: ThresholdResult[];
  /** The namespace settings of a `portstorm lab` run; absent for other runs. */
  lab?: LabInfo;
  /** Per-request NDJSON logs next to run.json (`--log-requests`), or null. */
  requestLogs: string[] | null;
  /** When ports ran out (analysis); null fields where the record cannot tell. Absent before analysis. */
  exhaustion?: Exhaustion;
  /** What happened and why (analysis): one or more verdicts, most severe first. */
  diagnosis?: Verdict[];
  /** Port budget peaks; null when the monitor was off or found no socket source. */
  ports: PortsSummary | null;
  destinations: DestinationSummary[];
  /** The ip:port pairs this run connected to (the target's resolved addresses). `ports`, `destinations`
   * and the timeline's utilization are about these alone. Absent in older records. */
  ownDestinations?: string[];
  /** Port use on this host toward destinations the run did not connect to (other processes, earlier runs); null when none was seen or the monitor was off. */
  otherTraffic?: { peakInUse: number; peakTimeWait: number; busiestDestination: string | null; destinations: DestinationSummary[] } | null;
  /**
   * How source addresses were chosen: `kernel` (no connection.localAddresses), `bind` (bind() before
   * connect(): a port is exclusive to its source across all destinations), `bind-no-port` (bind()
   * with IP_BIND_ADDRESS_NO_PORT: the port is picked at connect(), per destination). Absent in older records.
   */
  sourceStrategy?: SourceStrategy;
  /** Failures by `syscall:CODE` where the transport knew the syscall (e.g. `bind:EADDRNOTAVAIL`). Absent in older records. */
  errorsBySyscall?: Record<string, number>;
  monitor: MonitorInfo;
  /**
   * Every observed host by name, `client` (this run's own monitor) first; absent in schema 1 records
   * and when the monitor was off and nothing was watched.
   */
  hosts?: Record<string, HostRecord>;
  /** A few sample failures (first of each code) with detail, for debugging. */
  errorSamples: Array<{ code: string; phase: Phase; message: string; t: number; localPort: number | null; syscall?: string | null }>;
}
