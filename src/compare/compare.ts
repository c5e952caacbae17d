/**
 * `compare`: what changed between runs, whether they are comparable, and each candidate's figures
 * beside the baseline's, judged by a noise test. Pure: run records in, a CompareResult out.
 */
import { diagnose } from '../analysis/diagnose.js';
import { analyzeExhaustion } from '../analysis/exhaustion.js';
import { hostPeaks } from '../analysis/host-peaks.js';
import { hostViews, type HostView } from '../analysis/hosts.js';
import { decodeHistogram, summarize } from '../record/histogram.js';
import type { LatencySummary, RunRecord, TimelineEntry, Verdict } from '../record/types.js';
import { EXHAUSTION_CODES, FD_CODES } from '../vocab/failure.js';
import { isPerConnectionDns, isTlsRun, resumedShare, tlsSettingsOf } from '../analysis/tls-facts.js';
import { num, pct } from '../vocab/format.js';
import { blockBootstrapMeans, poissonRatesTest, seedFrom, type Phases } from './stats.js';
import {
  COMPARE_SCHEMA,
  type Assessment,
  type Better,
  type CandidateComparison,
  type Change,
  type CompareResult,
  type ComparabilityWarning,
  type EffectSize,
  type HostComparison,
  type HostFigures,
  type LatencyFigures,
  type MetricComparison,
  type RunFigures,
  type RunRef,
  type RunSummary,
  type VerdictChange,
} from './types.js';

/** p below this is a real difference. */
export const ALPHA = 0.05;
/** Fewest per-second samples per run the noise test accepts. */
export const MIN_SECONDS = 5;
/** Relative duration difference above which runs are flagged as not comparable. */
const DURATION_TOLERANCE = 0.1;
/** Bootstrap replicates per metric (fewer for runs longer than BOOTSTRAP_BUDGET / REPLICATES seconds). */
export const REPLICATES = 2000;
/** Resampled seconds per metric at most (≈ 0.1 s of CPU): a day-long run gets MIN_REPLICATES. */
const BOOTSTRAP_BUDGET = 4_000_000;
const MIN_REPLICATES = 200;
/** Two onsets closer than max(ONSET_TOLERANCE_S, ONSET_TOLERANCE_REL × the earlier) are the same. */
export const ONSET_TOLERANCE_S = 0.5;
export const ONSET_TOLERANCE_REL = 0.1;
/** Latency figures whose runs' coverage (share of attempts they describe) differs by more than
 * this are different populations. */
export const COVERAGE_TOLERANCE = 0.1;
/**
 * Port figures (utilization, TIME_WAIT) closer than this share of the port budget are the same: a
 * keep-alive pool that happened to open 8 or 17 connections is not a change, though each run's
 * per-second picture is constant and so "significantly" different. A run-level difference of that
 * kind cannot be told from noise with one run a side.
 */
export const MIN_PORT_SHARE = 0.05;
/** DOMAIN.md: connect latency rises ~70× once half the range is used; a warning far below is another cause. */
export const MIN_WARNING_UTILIZATION = 0.25;
/** A run that starts with more than this share of a destination's budget in earlier TIME_WAIT is flagged. */
export const LEFTOVER_TIME_WAIT_SHARE = 0.05;

/** Failure codes that mean a connect() did not succeed (for the coverage of connect latency). */
const CONNECT_FAILURES: ReadonlySet<string> = new Set([
  ...EXHAUSTION_CODES, ...FD_CODES, 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'CONNECT_TIMEOUT',
]);

const HOST_KEYS = [
  'kernel', 'node', 'portRange', 'reservedPorts', 'usablePorts', 'tcpTwReuse', 'tcpTwReuseDelayMs', 'tcpTimestamps',
  'tcpFinTimeoutS', 'tcpMaxTwBuckets', 'somaxconn', 'nofileSoft', 'nofileHard',
] as const;

const NOISE_DESCRIPTION = [
  `Per-second samples come from each run's timeline, less the first and last second (warm-up and drain); with fewer than ${MIN_SECONDS} such seconds in a run the metric is inconclusive (too few samples).`,
  `bootstrap (completed/s, new connections/s, latency p50/p90/p99/max and connect p50/p99 per second, peak port utilization and TIME_WAIT per second): a circular block bootstrap (${REPLICATES} replicates, fewer for runs over ${BOOTSTRAP_BUDGET / REPLICATES / 2} s; seeded, so the report is reproducible) of the difference in per-second means. Seconds are neither independent nor identically distributed: each run is split at its exhaustion onset into the seconds before and after it (the second it falls in left out), each part resampled on its own in blocks (length by Politis–White, at least √n), so the state change stays where it happened and autocorrelation stays within blocks; the difference is referred to Student's t with degrees of freedom counted in blocks. A phase of counts (completed/s, new connections/s, TIME_WAIT) with no variation at all, or of one second, tells nothing of its noise: its mean gets at least the counting (Poisson) variance of one second. The interval shown is the relative change of the per-second means (95 %).`,
  `exact: error rate and errors by code by the conditional binomial test of two Poisson counts with the requests as exposure (with the rate ratio's exact 95 % interval); exhaustion onset and early warning, one event per run, differ when they are more than max(${ONSET_TOLERANCE_S} s, ${ONSET_TOLERANCE_REL * 100} %) apart (never is the latest; a warning no earlier than its run's onset, or at under ${MIN_WARNING_UTILIZATION * 100} % port utilization, counts as none).`,
  `Port utilization and TIME_WAIT closer than ${MIN_PORT_SHARE * 100} % of the port budget are within noise whatever p says: one run a side cannot tell a run-level difference (a pool that opened a few more connections) from noise.`,
  `A difference is real at p < ${ALPHA} after Holm's correction across the tested metrics of a candidate; direction-aware (completed/s up, new connections/s, errors, latency, utilization and TIME_WAIT down, a later onset are better).`,
  `Latency figures describe only the requests (connections) that succeeded: when the two runs' shares of attempts differ by more than ${COVERAGE_TOLERANCE * 100} percentage points (e.g. p99 of 50 % of attempts → of 100 %) the metric is inconclusive, and a --fail-if rule on it is not applied unless it ends in any-coverage.`,
  'none (not tested): latency p99.9 and connect p90/p99.9/max; the record keeps these only as whole-run histograms, with no per-second samples to test.',
];

/** Added to the noise description when a run spoke TLS or looked names up per connection. */
const TLS_NOISE =
  'HTTPS: TLS handshake p50/p99 and handshakes/s are bootstrapped per second like connect (seconds with handshakes only); handshake p90/p99.9/max come from the whole-run histograms and are not tested; the resumed share is a count (resumed of handshakes) tested exactly like errors, higher being better. Handshakes/s, like new connections/s, is better lower.';
const DNS_NOISE = 'dns: per-connection: lookup p50/p99 are bootstrapped per second (seconds with lookups only); lookup p90/p99.9/max come from the whole-run histograms and are not tested.';

/** The run as compare names it: `label ?? runId`. */
export function runRef(r: RunRecord, index: number): RunRef {
  return { index, name: r.label ?? r.runId, runId: r.runId, label: r.label };
}

function latencyFigures(encoded: string | undefined, stored: LatencySummary): { f: LatencyFigures | null; fromHistogram: boolean } {
  if (encoded) {
    try {
      const s = summarize(decodeHistogram(encoded));
      return { f: s.count > 0 ? s : null, fromHistogram: true };
    } catch {
      // fall through to the stored summary
    }
  }
  return { f: stored.count > 0 ? { ...stored } : null, fromHistogram: false };
}

/** Whole-run figures of a record; latency recomputed from the stored HDR histograms. */
export function runFigures(r: RunRecord): RunFigures {
  const lat = latencyFigures(r.histograms?.latency, r.latencyMs);
  const con = latencyFigures(r.histograms?.connect, r.connectMs);
  const empty: LatencySummary = { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0, count: 0 };
  const tls = isTlsRun(r) ? latencyFigures(r.histograms?.tls, r.tlsMs ?? empty) : null;
  const dns = isPerConnectionDns(r) ? latencyFigures(r.histograms?.dns, r.dnsMs ?? empty) : null;
  const phaseFailed = (phase: string): number => Object.entries(r.errorsByPhase).reduce((s, [k, n]) => s + (k.startsWith(`${phase}:`) ? n : 0), 0);
  const handshakes = r.totals.tlsHandshakes ?? 0;
  const lookups = r.totals.dnsLookups ?? 0;
  const done = r.totals.completed + r.totals.failed;
  const perS = (n: number) => (r.durationS > 0 ? n / r.durationS : null);
  const ex = r.exhaustion ?? analyzeExhaustion(r);
  const attempts = r.totals.attempted > 0 ? r.totals.attempted : r.totals.completed + r.totals.failed;
  const connectFailures = Object.entries(r.errors).reduce((s, [code, n]) => s + (CONNECT_FAILURES.has(code) ? n : 0), 0);
  const connects = r.totals.connectionsOpened + connectFailures;
  return {
    durationS: r.durationS,
    totals: { ...r.totals },
    rate: perS(r.totals.completed),
    errorRate: done > 0 ? r.totals.failed / done : null,
    errors: { ...r.errors },
    latency: lat.f,
    connect: con.f,
    latencySource: lat.fromHistogram ? 'histogram' : 'summary',
    connectSource: con.fromHistogram ? 'histogram' : 'summary',
    connectionRate: perS(r.totals.connectionsOpened),
    ...(tls ? { tls: tls.f, handshakeRate: perS(handshakes), tlsResumedRate: resumedShare(r) } : {}),
    ...(dns ? { dns: dns.f } : {}),
    coverage: {
      latency: attempts > 0 ? Math.min(1, r.totals.completed / attempts) : null,
      connect: connects > 0 ? r.totals.connectionsOpened / connects : null,
      ...(tls ? { tls: handshakes + phaseFailed('tls') > 0 ? handshakes / (handshakes + phaseFailed('tls')) : null } : {}),
      ...(dns ? { dns: lookups + phaseFailed('dns') > 0 ? lookups / (lookups + phaseFailed('dns')) : null } : {}),
    },
    ports: {
      peakUtilization: r.ports?.peakUtilization ?? null,
      peakTimeWait: r.ports?.peakTimeWait ?? null,
      peakInUse: r.ports?.peakInUse ?? null,
    },
    exhaustion: { firstAtS: ex.firstAtS, earlyWarningAtS: ex.earlyWarningAtS },
  };
}

/** The timeline seconds the noise test uses: sorted, less the first and the last. */
export function noiseTimeline(r: RunRecord): TimelineEntry[] {
  return [...r.timeline].sort((a, b) => a.t - b.t).slice(1, -1);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const keyPath = (base: string, k: string) => (/^[A-Za-z_$][\w$]*$/.test(k) ? (base ? `${base}.${k}` : k) : `${base}[${JSON.stringify(k)}]`);

/** Leaf-by-leaf differences of two JSON values; `undefined` marks an absent side. */
export function deepDiff(a: unknown, b: unknown, path = ''): Array<{ path: string; a: unknown; b: unknown }> {
  if ((isObject(a) || a === undefined) && (isObject(b) || b === undefined) && (a !== undefined || b !== undefined)) {
    const keys = [...new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})])];
    return keys.flatMap((k) => deepDiff((a as Record<string, unknown> | undefined)?.[k], (b as Record<string, unknown> | undefined)?.[k], keyPath(path, k)));
  }
  if ((Array.isArray(a) || a === undefined) && (Array.isArray(b) || b === undefined) && (a !== undefined || b !== undefined)) {
    const n = Math.max(a?.length ?? 0, b?.length ?? 0);
    return Array.from({ length: n }, (_, i) => deepDiff(a?.[i], b?.[i], `${path}[${i}]`)).flat();
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [{ path, a, b }];
}

function change(kind: Change['kind'], path: string, a: unknown, b: unknown): Change {
  return { kind, path, ...(a === undefined ? {} : { baseline: a }), ...(b === undefined ? {} : { candidate: b }) };
}

/** Settings that differ: portstorm version, workers, host settings, the scenario (less `name`), `lab`. */
export function describeChanges(base: RunRecord, cand: RunRecord): Change[] {
  const out: Change[] = [];
  if (base.portstormVersion !== cand.portstormVersion) out.push(change('version', 'portstormVersion', base.portstormVersion, cand.portstormVersion));
  for (const k of HOST_KEYS) {
    const a = base.host?.[k] ?? null;
    const b = cand.host?.[k] ?? null;
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(change('host', `host.${k}`, a, b));
  }
  const { name: _n1, ...sa } = withTlsDefaults(base.scenario);
  const { name: _n2, ...sb } = withTlsDefaults(cand.scenario);
  for (const d of deepDiff(sa, sb)) out.push(change('scenario', d.path, d.a, d.b));
  // What the scenario does not say: the trust actually used and the SNI sent (or TLS on one side only).
  const ta = tlsSettingsOf(base);
  const tb = tlsSettingsOf(cand);
  if ((ta === null) !== (tb === null)) out.push(change('run', 'target.tls', ta, tb));
  else if (ta && tb) for (const k of ['trust', 'servername'] as const) if (ta[k] !== tb[k]) out.push(change('run', `target.tls.${k}`, ta[k], tb[k]));
  if (base.workers !== cand.workers) out.push(change('run', 'workers', base.workers, cand.workers));
  const labA = labSettings((base as { lab?: RunRecord['lab'] }).lab);
  const labB = labSettings((cand as { lab?: RunRecord['lab'] }).lab);
  for (const d of deepDiff(labA, labB, 'lab')) out.push(change('lab', d.path, d.a, d.b));
  return out;
}

/**
 * A lab's settings as compare lists them: its topology by host name (role, port range, sysctls, what
 * runs there) and its NAT with the number of addresses, so `lab.topology.nat.addresses: 1 → 2` and
 * `lab.topology.hosts.service.runs` read as what changed; the links (their addresses follow from
 * the hosts) and the model's prediction (an outcome, not a setting) are left out.
 */
function labSettings(lab: RunRecord['lab'] | undefined): unknown {
  const t = lab?.topology;
  if (!lab || !t || typeof t !== 'object' || !Array.isArray(t.hosts)) return lab;
  const hosts = Object.fromEntries(t.hosts.map((h) => [h.name, { role: h.role, portRange: h.portRange, sysctls: h.sysctls, runs: h.runs }]));
  const nat = t.nat ? { ports: t.nat.ports, addresses: Array.isArray(t.nat.addresses) ? t.nat.addresses.length : t.nat.addresses, clients: t.nat.clients, conntrack: t.nat.conntrack } : null;
  return { ...lab, topology: { kind: t.kind, hosts, nat } };
}

/**
 * A scenario with the TLS and DNS fields an older record lacks set to their defaults, so comparing
 * an older record with a newer one does not list them as changed.
 */
function withTlsDefaults(s: RunRecord['scenario']): RunRecord['scenario'] {
  const o = s as Partial<RunRecord['scenario']>;
  return {
    ...s,
    tls: o.tls ?? { insecure: false, sessionResumption: true, alpn: ['http/1.1'] },
    dns: o.dns ?? 'once',
    ...(o.timeouts ? { timeouts: { ...o.timeouts, tls: o.timeouts.tls ?? o.timeouts.connect } } : {}),
    ...(o.builtin ? { builtin: { ...o.builtin, tls: o.builtin.tls ?? false } } : {}),
  };
}

const targetKey = (r: RunRecord): string => (r.target?.builtin || r.scenario.target === 'builtin' ? 'builtin' : r.scenario.target);

/** Why a candidate may not be comparable: another target or protocol, a duration > 10 % apart,
 * or a run that ended early. */
export function comparability(base: RunRecord, cand: RunRecord, ref: RunRef): ComparabilityWarning[] {
  const out: ComparabilityWarning[] = [];
  const warn = (kind: ComparabilityWarning['kind'], message: string) => out.push({ kind, candidate: ref, message });
  if (targetKey(base) !== targetKey(cand)) warn('target', `different target: ${targetKey(base)} (baseline) vs ${targetKey(cand)} (${ref.name})`);
  if (base.scenario.protocol !== cand.scenario.protocol) {
    warn('protocol', `different protocol: ${base.scenario.protocol} (baseline) vs ${cand.scenario.protocol} (${ref.name})`);
  }
  const rel = base.durationS > 0 ? (cand.durationS - base.durationS) / base.durationS : cand.durationS > 0 ? Infinity : 0;
  if (Math.abs(rel) > DURATION_TOLERANCE) {
    warn('duration', `durations differ by more than 10 %: ${base.durationS.toFixed(1)} s (baseline) vs ${cand.durationS.toFixed(1)} s (${ref.name})`);
  }
  for (const [r, who] of [[base, 'baseline'], [cand, ref.name]] as const) {
    if (r.status !== 'completed') warn('status', `${who} did not complete (status ${r.status}): its figures cover part of the run`);
  }
  for (const [r, who] of [[base, 'baseline'], [cand, ref.name]] as const) {
    for (const message of leftoverTimeWait(r, who)) warn('leftover-time-wait', message);
  }
  return out;
}

/**
 * Sentences for each of a run's own destinations that held more than LEFTOVER_TIME_WAIT_SHARE of
 * the port budget (`ports.usable`, else `host.usablePorts`) in TIME_WAIT when the load started, from
 * `monitor.baseline.byDestination`. Records without that field (older ones) give none: their
 * host-wide `baseline.timeWait` counts every destination, so it cannot say whether this run's budget
 * was touched (issue 14: the old baseline was wrongly charged to every destination).
 */
export function leftoverTimeWait(r: RunRecord, who: string): string[] {
  const dests = r.monitor?.baseline?.byDestination;
  const usable = r.ports?.usable ?? r.host?.usablePorts ?? null;
  if (!dests || !usable || usable <= 0) return [];
  return dests
    .filter((d) => d.own && d.timeWait / usable > LEFTOVER_TIME_WAIT_SHARE)
    .map((d) => {
      const exp = d.timeWaitExpiry;
      const last = exp ? exp.reduce((at, n, i) => (n > 0 ? i + 1 : at), 0) : 0;
      const frees = exp && last > 0 ? `; the last of them frees its port ${last} s into the run` : '';
      return (
        `${who} started with ${num(d.timeWait)} TIME_WAIT toward ${d.dest} left by earlier traffic ` +
        `(${pct(d.timeWait / usable)} of its ${num(usable)} usable ports${frees}): its ports run out sooner than from a clean start`
      );
    });
}

/** One metric: how to read it from the figures and, if tested, its per-second samples or counts. */
interface MetricDef {
  key: string;
  label: string;
  unit: MetricComparison['unit'];
  better: Better;
  value: (f: RunFigures) => number | null;
  samples?: (e: TimelineEntry) => number | null;
  /** Error counts: events and the requests they happened in. */
  count?: (f: RunFigures) => { k: number; exposure: number };
  /** What the exposure counts (default `requests`). */
  exposureOf?: string;
  exact?: boolean;
  /** Latency figures: which coverage they have. */
  coverage?: LatencySource;
  /** Per-second counts: the Poisson variance of one second's value (see blockBootstrapMeans). */
  countingVariance?: (r: RunRecord) => (phaseMean: number) => number;
  /** The smallest difference that matters, in the metric's unit (null: any); from the baseline record. */
  minEffect?: (r: RunRecord) => number | null;
}

type LatencySource = 'latency' | 'connect' | 'tls' | 'dns';
const LATENCY_LABEL: Record<LatencySource, string> = { latency: 'latency', connect: 'connect', tls: 'tls handshake', dns: 'dns lookup' };

/** Per-second samples of a latency figure: only seconds that had one (a request, connection, handshake, lookup). */
function latencySample(src: LatencySource, stat: 'p50' | 'p90' | 'p99' | 'max'): (e: TimelineEntry) => number | null {
  switch (src) {
    case 'latency':
      return (e) => (e.completed > 0 ? e.latencyMs[stat] : null);
    case 'connect':
      return (e) => (e.connectionsOpened > 0 ? (e.connectMs as Record<string, number>)[stat] ?? null : null);
    case 'tls':
      return (e) => ((e.tlsHandshakes ?? 0) > 0 && e.tlsMs ? (e.tlsMs as Record<string, number>)[stat] ?? null : null);
    case 'dns':
      return (e) => ((e.dnsLookups ?? 0) > 0 && e.dnsMs ? (e.dnsMs as Record<string, number>)[stat] ?? null : null);
  }
}

const lat = (stat: keyof LatencyFigures, src: LatencySource, perSecond?: 'p50' | 'p90' | 'p99' | 'max'): MetricDef => ({
  key: `${src}.${stat}`,
  label: `${LATENCY_LABEL[src]} ${stat === 'p999' ? 'p99.9' : stat}`,
  unit: 'ms',
  better: 'lower',
  coverage: src,
  value: (f) => f[src]?.[stat] ?? null,
  samples: perSecond ? latencySample(src, perSecond) : undefined,
});

const requests = (f: RunFigures) => f.totals.completed + f.totals.failed;
/** Counting noise of a per-second count: Poisson, variance = mean. */
const poisson = () => (m: number) => m;

/** Which optional phases the compared runs have: their metrics are listed only then. */
interface PhaseMetrics {
  tls: boolean;
  dns: boolean;
}

/** HTTPS metrics: handshake time, handshakes/s and the resumed share. */
function tlsDefs(): MetricDef[] {
  return [
    lat('p50', 'tls', 'p50'), lat('p90', 'tls'), lat('p99', 'tls', 'p99'), lat('p999', 'tls'), lat('max', 'tls'),
    {
      key: 'handshakeRate', label: 'TLS handshakes/s', unit: '/s', better: 'lower', value: (f) => f.handshakeRate ?? null,
      samples: (e) => (e.tlsHandshakes === undefined ? null : e.tlsHandshakes), countingVariance: poisson,
    },
    {
      key: 'tlsResumedRate', label: 'TLS resumed share', unit: 'ratio', better: 'higher', value: (f) => f.tlsResumedRate ?? null,
      count: (f) => ({ k: f.totals.tlsResumed ?? 0, exposure: f.totals.tlsHandshakes ?? 0 }),
      exposureOf: 'handshakes',
    },
  ];
}

function metricDefs(codes: string[], phases: PhaseMetrics = { tls: false, dns: false }): MetricDef[] {
  return [
    { key: 'rate', label: 'completed/s', unit: '/s', better: 'higher', value: (f) => f.rate, samples: (e) => e.completed, countingVariance: poisson },
    {
      key: 'errorRate', label: 'error rate', unit: 'ratio', better: 'lower', value: (f) => f.errorRate,
      count: (f) => ({ k: f.totals.failed, exposure: requests(f) }),
    },
    ...codes.map((c): MetricDef => ({
      key: `errors.${c}`, label: `errors ${c}`, unit: 'count', better: 'lower', value: (f) => f.errors[c] ?? 0,
      count: (f) => ({ k: f.errors[c] ?? 0, exposure: requests(f) }),
    })),
    lat('p50', 'latency', 'p50'), lat('p90', 'latency', 'p90'), lat('p99', 'latency', 'p99'), lat('p999', 'latency'), lat('max', 'latency', 'max'),
    lat('p50', 'connect', 'p50'), lat('p90', 'connect'), lat('p99', 'connect', 'p99'), lat('p999', 'connect'), lat('max', 'connect'),
    ...(phases.tls ? tlsDefs() : []),
    ...(phases.dns ? [lat('p50', 'dns', 'p50'), lat('p90', 'dns'), lat('p99', 'dns', 'p99'), lat('p999', 'dns'), lat('max', 'dns')] : []),
    {
      key: 'connectionRate', label: 'new connections/s', unit: '/s', better: 'lower', value: (f) => f.connectionRate,
      samples: (e) => e.connectionsOpened, countingVariance: poisson,
    },
    {
      key: 'ports.peakUtilization', label: 'peak port utilization', unit: 'ratio', better: 'lower',
      value: (f) => f.ports.peakUtilization, samples: (e) => e.sockets?.utilization ?? null, minEffect: () => MIN_PORT_SHARE,
    },
    {
      key: 'ports.peakTimeWait', label: 'peak TIME_WAIT', unit: 'count', better: 'lower',
      value: (f) => f.ports.peakTimeWait, samples: (e) => e.sockets?.timeWait ?? null, countingVariance: poisson,
      minEffect: (r) => {
        const usable = r.ports?.usable ?? r.host?.usablePorts ?? null;
        return usable ? MIN_PORT_SHARE * usable : null;
      },
    },
    { key: 'exhaustion.firstAtS', label: 'exhaustion onset', unit: 's', better: 'later', value: (f) => f.exhaustion.firstAtS, exact: true },
    { key: 'exhaustion.earlyWarningAtS', label: 'early warning', unit: 's', better: 'later', value: (f) => f.exhaustion.earlyWarningAtS, exact: true },
  ];
}

type Judged = Pick<MetricComparison, 'test' | 'p' | 'samples' | 'assessment' | 'note' | 'effect'>;

/** One side of a comparison: its record, figures, noise timeline and onset. */
interface Side {
  r: RunRecord;
  f: RunFigures;
  timeline: TimelineEntry[];
  onsetS: number | null;
}

const round4 = (v: number) => Number(v.toPrecision(4));
const dirOf = (def: MetricDef, up: boolean): Assessment => (up === (def.better !== 'lower') ? 'better' : 'worse');

/**
 * Per-second samples of a run split at its onset into its two steady phases: the seconds wholly
 * before it and those after the second it falls in. That second itself is left out: it mixes both
 * states in a proportion set by where the onset fell, which two runs of one scenario do not share
 * (an onset at 2.00 s or 2.05 s), and the onsets are compared on their own.
 */
export function phasesOf(timeline: TimelineEntry[], onsetS: number | null, sample: (e: TimelineEntry) => number | null): Phases {
  const before: number[] = [];
  const after: number[] = [];
  for (const e of timeline) {
    const v = sample(e);
    if (v === null || !Number.isFinite(v)) continue;
    if (onsetS === null || e.t + 1 <= onsetS) before.push(v);
    else if (e.t > onsetS) after.push(v);
  }
  return [before, after].filter((p) => p.length > 0);
}

function judgeOnset(def: MetricDef, b: number | null, c: number | null): Judged {
  // An onset: null means it never happened, the latest possible.
  const base = { test: 'exact' as const, p: null, samples: null };
  if (b === null && c === null) return { ...base, assessment: 'within-noise', note: 'in neither run', effect: null };
  if (b === null || c === null) return { ...base, assessment: dirOf(def, c === null), note: null, effect: null };
  const tol = Math.max(ONSET_TOLERANCE_S, ONSET_TOLERANCE_REL * Math.min(b, c));
  const effect: EffectSize = { measure: 'onset-difference', level: 1, diff: { estimate: c - b, low: c - b, high: c - b }, pct: null };
  if (Math.abs(c - b) <= tol) {
    return { ...base, assessment: 'within-noise', note: `${+(c - b).toFixed(2)} s apart, within the tolerance of ${+tol.toFixed(2)} s`, effect };
  }
  return { ...base, assessment: dirOf(def, c > b), note: null, effect };
}

/**
 * An early warning is judged like an onset, but one that came no earlier than its run's onset (less
 * the onset tolerance) warned of nothing the onset does not say: it counts as none.
 */
function judgeWarning(def: MetricDef, b: number | null, c: number | null, onsets: Onsets): Judged {
  const why: string[] = [];
  const early = (w: number | null, onset: number | null, util: number | null | undefined) => {
    if (w === null) return null;
    if (onset !== null && w >= onset - Math.max(ONSET_TOLERANCE_S, ONSET_TOLERANCE_REL * onset)) {
      why.push('a warning that came with the onset counts as none');
      return null;
    }
    if (util !== null && util !== undefined && util < MIN_WARNING_UTILIZATION) {
      why.push(`a warning at ${pct(util)} port utilization (below ${pct(MIN_WARNING_UTILIZATION)}) is a connect-latency blip, not ports running low; it counts as none`);
      return null;
    }
    return w;
  };
  const eb = early(b, onsets.baseline, onsets.warningUtilization?.baseline);
  const ec = early(c, onsets.candidate, onsets.warningUtilization?.candidate);
  const j = judgeOnset(def, eb, ec);
  if (why.length === 0) return j;
  return { ...j, note: [...new Set(why)].join('; ') + (j.note && j.note !== 'in neither run' ? `; ${j.note}` : '') };
}

/** The runs' onsets (s) and the port utilization at their early warnings. */
interface Onsets {
  baseline: number | null;
  candidate: number | null;
  warningUtilization?: { baseline: number | null; candidate: number | null };
}

function judgeCount(def: MetricDef, fb: RunFigures, fc: RunFigures): Judged {
  const x = def.count!(fb);
  const y = def.count!(fc);
  const of = def.exposureOf ?? 'requests';
  if (x.exposure <= 0 || y.exposure <= 0) return { test: 'exact', p: null, samples: null, assessment: 'inconclusive', note: `no ${of} in a run`, effect: null };
  const t = poissonRatesTest(x.k, x.exposure, y.k, y.exposure);
  const p = round4(t.p);
  const side = (k: number, n: number) => `${k === 0 ? 'none' : num(k)} of ${num(n)}`;
  const note = `${side(x.k, x.exposure)} → ${side(y.k, y.exposure)} ${of}`;
  const effect: EffectSize = {
    measure: 'rate-ratio',
    level: 0.95,
    diff: null,
    pct: t.ratio === null ? null : { estimate: (t.ratio - 1) * 100, low: (t.low - 1) * 100, high: (t.high - 1) * 100 },
  };
  const rateB = x.k / x.exposure;
  const rateC = y.k / y.exposure;
  const assessment: Assessment = t.p >= ALPHA || rateB === rateC ? 'within-noise' : dirOf(def, rateC > rateB);
  return { test: 'exact', p, samples: null, assessment, note, effect };
}

function judgeSeries(def: MetricDef, b: number | null, c: number | null, sb: Side, sc: Side): Judged {
  const pb = phasesOf(sb.timeline, sb.onsetS, def.samples!);
  const pc = phasesOf(sc.timeline, sc.onsetS, def.samples!);
  const nb = pb.reduce((s, p) => s + p.length, 0);
  const nc = pc.reduce((s, p) => s + p.length, 0);
  const samples = { baseline: nb, candidate: nc };
  const base = { test: 'bootstrap' as const, samples, effect: null };
  if (b === null || c === null) return { ...base, p: null, assessment: 'inconclusive', note: 'no data' };
  if (nb < MIN_SECONDS || nc < MIN_SECONDS) {
    const note = `too few samples for the noise test: ${nb} and ${nc} s (need ${MIN_SECONDS} per run)`;
    return { ...base, p: null, assessment: 'inconclusive', note };
  }
  const replicates = Math.max(MIN_REPLICATES, Math.min(REPLICATES, Math.floor(BOOTSTRAP_BUDGET / (nb + nc))));
  const counting = def.countingVariance?.(sb.r);
  const bs = blockBootstrapMeans(pb, pc, { seed: seedFrom(def.key, sb.r.runId, sc.r.runId), replicates, ...(counting ? { countingVariance: counting } : {}) });
  const p = round4(bs.p);
  const effect: EffectSize = { measure: 'mean-difference', level: 0.95, diff: bs.diff, pct: bs.pct };
  const phases = sb.onsetS !== null || sc.onsetS !== null ? 'split at the onset' : null;
  if (bs.p >= ALPHA || bs.diff.estimate === 0) return { ...base, p, assessment: 'within-noise', note: phases, effect };
  const floor = def.minEffect?.(sb.r) ?? null;
  if (floor !== null && Math.abs(c - b) < floor && Math.abs(bs.diff.estimate) < floor) {
    const note = `the difference is below ${pct(MIN_PORT_SHARE)} of the port budget`;
    return { ...base, p, assessment: 'within-noise', note, effect };
  }
  const up = bs.diff.estimate > 0;
  if (c === b || c > b !== up) {
    const note = c === b ? 'per-second samples differ but the whole-run figure is unchanged' : 'per-second samples and the whole-run figure move in opposite directions';
    return { ...base, p, assessment: 'inconclusive', note, effect };
  }
  return { ...base, p, assessment: dirOf(def, up), note: phases, effect };
}

const share = (v: number | null) => (v === null ? '–' : pct(v));

/** Every metric of a candidate beside the baseline. `onsets` are the runs' exhaustion onsets (s). */
export function compareMetrics(
  base: RunRecord,
  cand: RunRecord,
  fb: RunFigures,
  fc: RunFigures,
  onsets: Onsets = { baseline: fb.exhaustion.firstAtS, candidate: fc.exhaustion.firstAtS },
): MetricComparison[] {
  const totals = new Map<string, number>();
  for (const f of [fb, fc]) for (const [code, n] of Object.entries(f.errors)) totals.set(code, (totals.get(code) ?? 0) + n);
  const codes = [...totals.entries()].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0])).map(([code]) => code);
  const sb: Side = { r: base, f: fb, timeline: noiseTimeline(base), onsetS: onsets.baseline };
  const sc: Side = { r: cand, f: fc, timeline: noiseTimeline(cand), onsetS: onsets.candidate };
  const phases = { tls: isTlsRun(base) || isTlsRun(cand), dns: isPerConnectionDns(base) || isPerConnectionDns(cand) };
  const metrics = metricDefs(codes, phases).map((def): MetricComparison => {
    const b = def.value(fb);
    const c = def.value(fc);
    const delta = b === null || c === null ? null : c - b;
    const deltaPct = delta === null || b === 0 ? null : (delta / Math.abs(b!)) * 100;
    const judged: Judged = def.exact
      ? def.key === 'exhaustion.earlyWarningAtS'
        ? judgeWarning(def, b, c, onsets)
        : judgeOnset(def, b, c)
      : def.count
        ? judgeCount(def, fb, fc)
        : def.samples
          ? judgeSeries(def, b, c, sb, sc)
          : { test: 'none', p: null, samples: null, assessment: 'not-tested', note: 'whole-run histogram only', effect: null };
    const m: MetricComparison = { key: def.key, label: def.label, unit: def.unit, better: def.better, baseline: b, candidate: c, delta, deltaPct, ...judged };
    if (def.coverage) {
      const cb = fb.coverage?.[def.coverage] ?? null;
      const cc = fc.coverage?.[def.coverage] ?? null;
      m.coverage = { baseline: cb, candidate: cc, differs: cb !== null && cc !== null && Math.abs(cb - cc) > COVERAGE_TOLERANCE };
    }
    return m;
  });
  holm(metrics);
  for (const m of metrics) {
    if (!m.coverage?.differs) continue;
    const stat = m.key.slice(m.key.indexOf('.') + 1).replace('p999', 'p99.9');
    const what = COVERAGE_WHAT[m.key.slice(0, m.key.indexOf('.'))] ?? 'attempts';
    const pop = `${stat} of ${share(m.coverage.baseline)} of ${what} → of ${share(m.coverage.candidate)}: different populations`;
    if (m.assessment === 'better' || m.assessment === 'worse' || m.assessment === 'within-noise') m.assessment = 'inconclusive';
    m.note = m.note ? `${pop}; ${m.note}` : pop;
  }
  return metrics;
}

/** What a latency figure's coverage is a share of. */
export const COVERAGE_WHAT: Record<string, string> = { latency: 'attempts', connect: 'connects', tls: 'handshakes', dns: 'lookups' };

/**
 * Holm's step-down correction over a candidate's tests (bootstrap and exact counts): with a dozen
 * metrics tested at 5 %, two identical runs would otherwise often show one spurious difference. A
 * metric whose adjusted p is not below ALPHA is within noise.
 */
function holm(metrics: MetricComparison[]): MetricComparison[] {
  const tested = metrics.filter((m) => m.test !== 'none' && m.p !== null).sort((a, b) => a.p! - b.p!);
  let running = 0;
  tested.forEach((m, i) => {
    running = Math.max(running, Math.min(1, (tested.length - i) * m.p!));
    if (m.p! < ALPHA && running >= ALPHA && (m.assessment === 'better' || m.assessment === 'worse')) {
      m.assessment = 'within-noise';
      const why = `p=${m.p} is not significant after Holm's correction for ${tested.length} tests (adjusted p=${round4(running)})`;
      m.note = m.note ? `${m.note}; ${why}` : why;
    }
  });
  return metrics;
}

/** A host's figures as compare shows them. */
function hostFigures(h: HostView): HostFigures {
  const p = hostPeaks(h);
  return {
    role: h.role,
    peakUtilization: p.peakUtilization,
    busiestDestination: p.busiestDestination,
    clientTimeWait: p.clientTimeWait,
    serverTimeWait: p.serverTimeWait,
    coverage: h.coverage.share,
  };
}

/** The hosts of two runs matched by name: the baseline's in its order, then hosts only the candidate observed. */
export function compareHosts(base: RunRecord, cand: RunRecord): HostComparison[] {
  const a = new Map(hostViews(base).map((h) => [h.name, h]));
  const b = new Map(hostViews(cand).map((h) => [h.name, h]));
  const names = [...a.keys(), ...[...b.keys()].filter((n) => !a.has(n))];
  return names.map((name) => {
    const x = a.get(name);
    const y = b.get(name);
    return {
      name,
      presence: x && y ? 'both' : x ? 'baseline-only' : 'candidate-only',
      baseline: x ? hostFigures(x) : null,
      candidate: y ? hostFigures(y) : null,
    };
  });
}

const SEVERITY: Record<Verdict['severity'], number> = { critical: 3, warning: 2, info: 1 };

function verdictChange(a: Verdict[], b: Verdict[]): VerdictChange {
  const ids = (vs: Verdict[]) => new Set(vs.map((v) => v.verdict));
  const worst = (vs: Verdict[]) => Math.max(0, ...vs.map((v) => SEVERITY[v.severity] ?? 0));
  const added = [...ids(b)].filter((id) => !ids(a).has(id));
  const removed = [...ids(a)].filter((id) => !ids(b).has(id));
  const wa = worst(a);
  const wb = worst(b);
  const assessment = wb < wa ? 'better' : wb > wa ? 'worse' : added.length + removed.length === 0 ? 'unchanged' : 'different';
  return { added, removed, assessment };
}

/**
 * Compares runs: the first is the baseline, every other a candidate. Records without `exhaustion`
 * or `diagnosis` are analysed here (not modified). Throws a RangeError with fewer than 2 runs.
 */
export function compareRuns(runs: RunRecord[]): CompareResult {
  if (runs.length < 2) throw new RangeError('compareRuns: need a baseline and at least one candidate');
  const analysed = runs.map((r) => {
    const ex = r.exhaustion ?? analyzeExhaustion(r);
    return { r, ex, diagnosis: r.diagnosis ?? diagnose(r, ex), figures: runFigures(r) };
  });
  const summaries: RunSummary[] = analysed.map(({ r, diagnosis, figures }, i) => ({
    ...runRef(r, i),
    scenarioName: r.scenario.name,
    startedAt: r.startedAt,
    status: r.status,
    targetUrl: r.target?.url ?? r.scenario.target,
    figures,
    verdicts: diagnosis.map((v) => ({ verdict: v.verdict, severity: v.severity, confidence: v.confidence, atS: v.atS, ...(v.host === undefined ? {} : { host: v.host }) })),
    noiseSeconds: noiseTimeline(r).length,
    hosts: hostViews(r).map((h) => h.name),
  }));
  const base = analysed[0]!;
  const candidates: CandidateComparison[] = analysed.slice(1).map((c, i) => {
    const ref = runRef(c.r, i + 1);
    return {
      run: ref,
      changes: describeChanges(base.r, c.r),
      warnings: comparability(base.r, c.r, ref),
      metrics: compareMetrics(base.r, c.r, base.figures, c.figures, {
        baseline: base.ex.firstAtS,
        candidate: c.ex.firstAtS,
        warningUtilization: { baseline: base.ex.utilizationAtWarning, candidate: c.ex.utilizationAtWarning },
      }),
      verdicts: verdictChange(base.diagnosis, c.diagnosis),
      hosts: compareHosts(base.r, c.r),
    };
  });
  return {
    schema: COMPARE_SCHEMA,
    baseline: runRef(base.r, 0),
    runs: summaries,
    candidates,
    warnings: candidates.flatMap((c) => c.warnings),
    noise: {
      alpha: ALPHA,
      minSeconds: MIN_SECONDS,
      description: [...NOISE_DESCRIPTION, ...(runs.some(isTlsRun) ? [TLS_NOISE] : []), ...(runs.some(isPerConnectionDns) ? [DNS_NOISE] : [])],
    },
    failIf: [],
  };
}
