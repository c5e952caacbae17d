/**
 * The run record (`run.json`) as a zod schema, for checking files read back from disk: `report`,
 * `compare` and the lab read records a user may have edited, truncated or taken from another tool.
 * Mirrors `types.ts`; unknown keys are allowed (newer writers may add fields), missing or mistyped
 * ones are not.
 */
import { z } from 'zod';
import { scenarioSchema } from '../scenario/schema.js';
import { PHASES } from '../vocab/failure.js';
import { RUN_SCHEMA } from './types.js';

const num = z.number();
const nonneg = z.number().nonnegative();
const count = z.number().int().nonnegative();
const nullable = <T extends z.ZodType>(t: T) => t.nullable();
const counts = z.record(z.string(), count);

const latencySummary = z.object({ p50: nonneg, p90: nonneg, p99: nonneg, p999: nonneg, max: nonneg, mean: nonneg, count });

const timelineSockets = z.object({
  timeWait: count,
  established: nullable(count),
  synSent: nullable(count),
  finWait: nullable(count),
  closeWait: nullable(count),
  lastAck: nullable(count),
  ephemeralInUse: nullable(count),
  utilization: nullable(nonneg),
  serverTimeWait: nullable(count),
  ownInUse: nullable(count).optional(),
  ownTimeWait: nullable(count).optional(),
  ownServerTimeWait: nullable(count).optional(),
});

const timelineEntry = z.object({
  t: count,
  attempted: count,
  completed: count,
  failed: count,
  dropped: count,
  errors: counts,
  latencyMs: z.object({ p50: nonneg, p90: nonneg, p99: nonneg, max: nonneg }),
  connectMs: z.object({ p50: nonneg, p99: nonneg }),
  connectionsOpened: count,
  tlsHandshakes: count.optional(),
  tlsMs: z.object({ p50: nonneg, p99: nonneg }).optional(),
  dnsLookups: count.optional(),
  dnsMs: z.object({ p50: nonneg, p99: nonneg }).optional(),
  cpu: nullable(z.object({ process: nullable(nonneg), host: nullable(nonneg) })).optional(),
  sockets: nullable(timelineSockets),
  counters: nullable(z.record(z.string(), nullable(num))),
});

const portRange = z.tuple([count, count]);

const nofileLimits = z.object({ soft: nullable(count), hard: nullable(count) });

export const hostInfoSchema = z.object({
  platform: z.string(),
  kernel: z.string(),
  node: z.string(),
  cpus: count,
  portRange: nullable(portRange),
  reservedPorts: nullable(z.array(portRange)),
  usablePorts: nullable(count),
  tcpTwReuse: nullable(num),
  tcpTwReuseDelayMs: nullable(nonneg),
  timeWaitS: nullable(nonneg),
  tcpFinTimeoutS: nullable(nonneg),
  tcpMaxTwBuckets: nullable(count),
  tcpTimestamps: nullable(num),
  somaxconn: nullable(count),
  nofileSoft: nullable(count),
  nofileHard: nullable(count),
  nofile: nullable(
    z.object({
      before: nofileLimits,
      after: nofileLimits,
      outcome: z.enum(['raised', 'at-hard', 'failed', 'unknown']),
      reason: nullable(z.string()),
      reserve: count,
    }),
  ).optional(),
  conntrackMax: nullable(count),
  localAddresses: nullable(z.array(z.string())).optional(),
  unavailable: z.record(z.string(), z.string()),
});

const targetStats = z.object({
  connectionsAccepted: count,
  requests: count,
  closedByServer: count,
  closedByClient: count,
  resetByClient: count,
  open: count,
  tlsHandshakes: count.optional(),
  tlsResumed: count.optional(),
  tlsErrors: count.optional(),
});

const p50Max = z.object({ p50: nonneg, max: nonneg });

const monitorInfo = z.object({
  enabled: z.boolean(),
  source: nullable(z.string()),
  intervalS: nonneg,
  scanIntervalS: nonneg,
  effectiveScanIntervalS: nonneg,
  samples: count,
  scans: count,
  scanCostMs: nullable(p50Max),
  lateMs: nullable(p50Max),
  unavailable: z.record(z.string(), z.string()),
  baseline: nullable(
    z.object({
      timeWait: nullable(count),
      ephemeralInUse: nullable(count),
      byDestination: z
        .array(z.object({ dest: z.string(), own: z.boolean(), inUse: count, timeWait: count, timeWaitExpiry: nullable(z.array(count)) }))
        .optional(),
      ageS: nonneg.optional(),
    }),
  ),
  peakConntrack: nullable(z.object({ count, max: count })),
  peakFds: nullable(z.object({ open: count, soft: nullable(count) })),
  peakCpu: nullable(z.object({ process: nullable(nonneg), host: nullable(nonneg) })).optional(),
});

const sourceStrategy = z.enum(['kernel', 'bind', 'bind-no-port']);

const destinationSummary = z.object({ dest: z.string(), peakInUse: count, peakTimeWait: count, peakUtilization: nullable(nonneg) });

const exhaustion = z.object({
  firstAtS: nullable(nonneg),
  utilizationAtFirst: nullable(nonneg),
  timeWaitAtFirst: nullable(count),
  errorRateAfter: nullable(nonneg),
  predictedAtS: nullable(nonneg),
  onsetVsPredictionS: nullable(num),
  earlyWarningAtS: nullable(nonneg),
  utilizationAtWarning: nullable(nonneg),
  sustainableRate: nullable(nonneg),
  peakConnectionRate: nullable(nonneg),
  correlation: z.object({ utilizationVsErrorRate: nullable(num), utilizationVsLatencyP99: nullable(num) }),
  capacity: z
    .object({
      holdS: nonneg,
      holdReason: z.string(),
      holdSource: z.enum(['host', 'observed']),
      budget: nullable(count),
      budgetScope: z.enum(['source-destination', 'source']),
      budgetReason: z.string(),
      pools: count,
      sources: count,
      destinations: count,
      sourceStrategy: sourceStrategy,
      sustainableRate: nullable(nonneg),
      timeWaitSide: z.object({
        side: z.enum(['client', 'server', 'both', 'none']),
        source: z.enum(['monitor', 'target', 'scenario']),
        reason: z.string(),
        serverHost: z.string().min(1).optional(),
      }),
    })
    .optional(),
});

const verdict = z.object({
  verdict: z.enum([
    'client-port-exhaustion',
    'server-time-wait',
    'fd-exhaustion',
    'listen-backlog-overflow',
    'target-unreachable',
    'conntrack-full',
    'time-wait-bucket-overflow',
    'other-failures',
    'source-address-unavailable',
    'tls-handshake-bound',
    'tls-failures',
    'dns-failures',
    'upstream-port-exhaustion',
    'snat-port-exhaustion',
    'healthy',
  ]),
  host: z.string().min(1).optional(),
  severity: z.enum(['critical', 'warning', 'info']),
  confidence: z.number().min(0).max(1),
  atS: nullable(nonneg),
  evidence: z.array(z.string()),
  advice: z.array(z.string()),
});

const labHost = z.object({
  name: z.string(),
  role: z.enum(['client', 'service', 'proxy', 'backend', 'router', 'other']),
  addresses: z.array(z.string()),
  portRange: nullable(z.tuple([count, count])),
  sysctls: z.record(z.string(), z.string()),
  runs: z.string(),
});

const labTopology = z.object({
  kind: z.enum(['single', 'chain', 'nat']),
  hosts: z.array(labHost),
  links: z.array(z.object({ a: z.string(), b: z.string(), kind: z.enum(['data', 'management']), subnet: z.string(), addresses: z.record(z.string(), z.string()) })),
  nat: nullable(
    z.object({
      router: z.string(),
      ports: z.tuple([count, count]),
      addresses: z.array(z.string()),
      clients: count,
      conntrack: z.object({ set: z.record(z.string(), nonneg), notSettable: z.record(z.string(), z.string()) }),
    }),
  ),
  prediction: nullable(
    z.object({
      host: z.string(),
      budget: count,
      holdS: nonneg,
      basis: z.enum(['rate', 'concurrency']),
      predictedAtS: nullable(nonneg),
      observedAtS: nullable(nonneg),
      reason: z.string(),
    }),
  ),
});

const labInfo = z.object({
  namespace: z.enum(['user', 'root']),
  sysctls: z.record(z.string(), z.string()),
  addresses: z.object({ client: z.string(), target: z.string() }),
  variant: nullable(z.string()),
  topology: labTopology.optional(),
});

const portsSummary = z.object({
  usable: nullable(count),
  peakInUse: count,
  peakUtilization: nullable(nonneg),
  peakTimeWait: count,
  busiestDestination: nullable(z.string()),
});

const hostSecond = z.object({
  t: count,
  sockets: nullable(timelineSockets),
  counters: nullable(z.record(z.string(), nullable(num))),
  cpu: nullable(z.object({ process: nullable(nonneg), host: nullable(nonneg) })).optional(),
  conntrack: nullable(z.object({ count, max: count })).optional(),
});

/** A host's name in `hosts` (and in `run --watch NAME=…`, `report --attach NAME=…`). */
export const hostNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'expected a host name of letters, digits, - _ .');

const hostRecord = z.object({
  role: z.enum(['client', 'service', 'proxy', 'backend', 'router', 'other']),
  address: z.string(),
  source: z.enum(['local', 'agent', 'file']),
  clock: z.object({
    method: z.enum(['local', 'round-trip', 'wall-clock']),
    offsetMs: num,
    uncertaintyMs: nullable(nonneg),
    probes: count.optional(),
  }),
  host: nullable(hostInfoSchema),
  // As the run's timeline: one entry per run second, from 0.
  timeline: z.array(hostSecond).superRefine((entries, ctx) => {
    const i = entries.findIndex((e, i) => e.t !== i);
    if (i >= 0) ctx.addIssue({ code: 'custom', path: [i, 't'], message: `expected ${i} (one entry per second, from 0)` });
  }),
  ports: nullable(portsSummary),
  destinations: z.array(destinationSummary),
  monitor: monitorInfo,
  coverage: z.object({ fromS: nullable(nonneg), toS: nullable(nonneg), share: z.number().min(0).max(1) }),
  gaps: z.array(z.string()),
});

/** A run record of a schema this code reads (1 or 2). Validates a parsed `run.json`; its output is not used. */
export const runRecordSchema = z.object({
  schema: z.union([z.literal(RUN_SCHEMA), z.literal(1)]),
  portstormVersion: z.string(),
  runId: z.string().min(1),
  label: nullable(z.string()),
  source: z.enum(['portstorm', 'jmeter', 'merge']).optional(),
  shard: z.object({ index: count, count: count, startAt: nullable(z.string()), lateMs: nullable(nonneg), split: z.string() }).optional(),
  shards: z
    .object({
      count,
      covered: z.array(count),
      missing: z.array(count),
      failed: z.array(z.object({ index: count, why: z.string() })),
      runs: z.array(z.object({ index: count, runId: z.string(), label: nullable(z.string()), host: z.string(), lateMs: nullable(nonneg) })),
      startSpreadMs: nonneg,
    })
    .optional(),
  scenario: scenarioSchema,
  target: z.object({
    url: z.string(),
    builtin: z.boolean(),
    stats: nullable(targetStats),
    resolved: z
      .object({ name: nullable(z.string()), dns: z.enum(['once', 'per-connection']), addresses: z.array(z.string()), used: nullable(z.string()) })
      .optional(),
    tls: nullable(
      z.object({
        servername: nullable(z.string()),
        insecure: z.boolean(),
        sessionResumption: z.boolean(),
        alpn: z.array(z.string()),
        trust: z.enum(['system', 'ca', 'builtin', 'none']),
        clientCertificate: nullable(z.string()),
      }),
    ).optional(),
  }),
  startedAt: z.string(),
  loadStartedAt: z.iso.datetime().optional(),
  durationS: nonneg,
  status: z.enum(['completed', 'interrupted', 'failed', 'checkpoint']),
  limitsReached: z.array(z.enum(['maxRequests', 'maxDuration'])).optional(),
  engine: z.object({ engine: z.enum(['native', 'js']), reason: z.string().nullable() }).optional(),
  host: hostInfoSchema,
  workers: count,
  totals: z.object({
    attempted: count,
    completed: count,
    failed: count,
    dropped: count,
    connectionsOpened: count,
    tlsHandshakes: count.optional(),
    tlsResumed: count.optional(),
    dnsLookups: count.optional(),
  }),
  errors: counts,
  errorsByPhase: counts,
  latencyMs: latencySummary,
  latencyUncorrectedMs: latencySummary,
  connectMs: latencySummary,
  ttfbMs: latencySummary,
  tlsMs: latencySummary.optional(),
  dnsMs: latencySummary.optional(),
  histograms: z.object({
    latency: z.string(),
    latencyUncorrected: z.string(),
    connect: z.string(),
    ttfb: z.string(),
    tls: z.string().optional(),
    dns: z.string().optional(),
  }),
  // The writer makes one entry per second from 0 (accumulator.ts); readers walk the seconds from
  // the first to the last, so a far-off `t` would have them count to it.
  timeline: z.array(timelineEntry).superRefine((entries, ctx) => {
    const i = entries.findIndex((e, i) => e.t !== i);
    if (i >= 0) ctx.addIssue({ code: 'custom', path: [i, 't'], message: `expected ${i} (one entry per second, from 0)` });
  }),
  thresholds: z.array(z.object({ expr: z.string(), actual: nullable(num), passed: z.boolean() })),
  lab: labInfo.optional(),
  requestLogs: nullable(z.array(z.string())),
  exhaustion: exhaustion.optional(),
  diagnosis: z.array(verdict).optional(),
  ports: nullable(portsSummary),
  destinations: z.array(destinationSummary),
  hosts: z.record(hostNameSchema, hostRecord).optional(),
  ownDestinations: z.array(z.string()).optional(),
  otherTraffic: nullable(
    z.object({ peakInUse: count, peakTimeWait: count, busiestDestination: nullable(z.string()), destinations: z.array(destinationSummary) }),
  ).optional(),
  sourceStrategy: sourceStrategy.optional(),
  errorsBySyscall: counts.optional(),
  monitor: monitorInfo,
  errorSamples: z.array(
    z.object({
      code: z.string(),
      phase: z.enum(PHASES),
      message: z.string(),
      t: nonneg,
      localPort: nullable(count),
      syscall: nullable(z.string()).optional(),
    }),
  ),
});
