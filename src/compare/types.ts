/**
 * The result of `portstorm compare`: what changed between runs, whether they are comparable, and
 * each candidate's figures beside the baseline's with a noise test per metric. Stable: the text,
 * Markdown and HTML renderers and `--format json` all read this one document.
 */
import type { HostRole, LatencySummary, RunRecord, Totals, Verdict, VerdictId } from '../record/types.js';

/** Version of the CompareResult document. */
export const COMPARE_SCHEMA = 1;

/**
 * How a metric's difference was tested:
 * - `bootstrap`: a circular block bootstrap of the difference in per-second means, each run's steady
 *   phases (before and after its exhaustion onset) resampled apart (see stats.blockBootstrapMeans);
 * - `exact`: error counts by the exact conditional binomial test of two Poisson counts with the
 *   requests as exposure (`p` set), or a single event per run (an onset, `p` null) compared with a
 *   tolerance of max(0.5 s, 10 %);
 * - `mann-whitney`: the rank test earlier versions used (documents written by them; not produced now);
 * - `none`: not tested (no per-second samples exist for this figure).
 */
export type NoiseTest = 'mann-whitney' | 'bootstrap' | 'exact' | 'none';

/**
 * The judgement of one metric, direction-aware:
 * - `better` / `worse`: a real difference (p < 0.05 after Holm's correction; for an onset, a
 *   difference beyond the tolerance);
 * - `within-noise`: no real difference;
 * - `inconclusive`: fewer than 5 usable seconds in a run, no data, the per-second samples and
 *   the whole-run figure disagree on the direction, or a latency figure covers very different shares
 *   of the attempts in the two runs (`coverage`);
 * - `not-tested`: the metric has no noise test (`test: 'none'`).
 */
export type Assessment = 'better' | 'worse' | 'within-noise' | 'inconclusive' | 'not-tested';

/** Which way is better: `higher` (completed/s), `lower` (errors, latency, utilization,
 * TIME_WAIT), `later` (an onset; null = never, the best). */
export type Better = 'higher' | 'lower' | 'later';

/** One run as the comparison names it. */
export interface RunRef {
  /** Position in the command line; 0 is the baseline. */
  index: number;
  /** `label ?? runId`. */
  name: string;
  runId: string;
  label: string | null;
}

/** Whole-run latency percentiles in ms, recomputed from the stored HDR histogram. */
export type LatencyFigures = LatencySummary;

/** The whole-run figures of one run that compare and `--fail-if` read. Null: no data. */
export interface RunFigures {
  durationS: number;
  totals: Totals;
  /** Completed requests per second. */
  rate: number | null;
  /** failed / (completed + failed). */
  errorRate: number | null;
  errors: Record<string, number>;
  /** Null when no request completed. */
  latency: LatencyFigures | null;
  connect: LatencyFigures | null;
  /** Where `latency` came from: the HDR histogram, or the stored summary when the record has no
   * decodable histogram. */
  latencySource: 'histogram' | 'summary';
  /** Where `connect` came from, likewise (always set by compareRuns; optional for older documents). */
  connectSource?: 'histogram' | 'summary';
  /** New connections per second. */
  connectionRate: number | null;
  /** TLS handshake time over the run from the stored histogram (HTTPS); null without handshakes.
   * Absent for plain runs and older documents. */
  tls?: LatencyFigures | null;
  /** Lookup time over the run (`dns: per-connection`); null without lookups. Absent otherwise. */
  dns?: LatencyFigures | null;
  /** TLS handshakes completed per second (HTTPS; absent otherwise). */
  handshakeRate?: number | null;
  /** Resumed handshakes / handshakes (HTTPS; null without handshakes, absent otherwise). */
  tlsResumedRate?: number | null;
  /**
   * The share of attempts each latency figure describes: `latency` completed / attempted requests;
   * `connect` connections opened / (opened + connects that failed: exhaustion, fd, refused,
   * unreachable, connect timeout). Null when nothing was attempted. Optional for older documents.
   */
  coverage?: { latency: number | null; connect: number | null; tls?: number | null; dns?: number | null };
  ports: { peakUtilization: number | null; peakTimeWait: number | null; peakInUse: number | null };
  exhaustion: { firstAtS: number | null; earlyWarningAtS: number | null };
}

/** A verdict in brief (`host` when the record names it). */
export type VerdictBrief = Pick<Verdict, 'verdict' | 'severity' | 'confidence' | 'atS' | 'host'>;

/** One host's peaks in one run, as compare matches hosts by name (see analysis/host-peaks.ts). */
export interface HostFigures {
  role: HostRole;
  /** Peak utilization of its busiest destination (0..1). */
  peakUtilization: number | null;
  busiestDestination: string | null;
  /** TIME_WAIT of connections the host opened (its client side). */
  clientTimeWait: number | null;
  /** TIME_WAIT on its listening ports (its server side). */
  serverTimeWait: number | null;
  /** Share of the run's seconds the host was seen in. */
  coverage: number;
}

/**
 * One host of the baseline or of a candidate, matched by name. A host observed in one run only is
 * `baseline-only` or `candidate-only`, with null figures for the other. Not noise-tested: one peak
 * a side (the client's own figures are tested as `ports.*` metrics).
 */
export interface HostComparison {
  name: string;
  presence: 'both' | 'baseline-only' | 'candidate-only';
  baseline: HostFigures | null;
  candidate: HostFigures | null;
}

/** One run of the comparison. */
export interface RunSummary extends RunRef {
  scenarioName: string;
  startedAt: string;
  status: RunRecord['status'];
  targetUrl: string;
  figures: RunFigures;
  verdicts: VerdictBrief[];
  /** Timeline seconds the noise test can use (all but the first and last). */
  noiseSeconds: number;
  /** The hosts the run observed, `client` first (a record of schema 1: `client` alone). Optional for older documents. */
  hosts?: string[];
}

/** Where a changed setting lives. */
export type ChangeKind = 'version' | 'host' | 'scenario' | 'lab' | 'run';

/** One setting that differs between the baseline and a candidate. A side where the setting is
 * absent has no `baseline` / `candidate` key. */
export interface Change {
  kind: ChangeKind;
  /** e.g. `connection.reuse`, `load[0].rate`, `host.tcpTwReuse`, `portstormVersion`. */
  path: string;
  baseline?: unknown;
  candidate?: unknown;
}

/** Why a candidate may not be comparable with the baseline. */
export interface ComparabilityWarning {
  /** `leftover-time-wait`: a run started with more than 5 % of a destination's port budget held by
   * TIME_WAIT from earlier traffic (the record's `monitor.baseline.byDestination`). */
  kind: 'target' | 'protocol' | 'duration' | 'status' | 'leftover-time-wait';
  candidate: RunRef;
  message: string;
}

/** One metric of a candidate beside the baseline. */
export interface MetricComparison {
  /** Metric name, as `--fail-if` spells it: `rate`, `errorRate`, `errors.<CODE>`, `latency.p99`,
   * `connect.p50`, `connectionRate`, `ports.peakUtilization`, `ports.peakTimeWait`,
   * `exhaustion.firstAtS`, `exhaustion.earlyWarningAtS`; with HTTPS runs `tls.p50`…,
   * `handshakeRate`, `tlsResumedRate`; with `dns: per-connection` runs `dns.p50`…. */
  key: string;
  /** Human label, e.g. `completed/s`. */
  label: string;
  unit: 'ms' | '/s' | 'ratio' | 'count' | 's';
  better: Better;
  baseline: number | null;
  candidate: number | null;
  /** candidate − baseline; null when either is null. */
  delta: number | null;
  /** delta / |baseline| × 100; null when the baseline is 0 or null. */
  deltaPct: number | null;
  test: NoiseTest;
  /** Two-sided p-value of the test; null when not computed. */
  p: number | null;
  /** Per-second samples tested from each run; null when the test uses none. */
  samples: { baseline: number; candidate: number } | null;
  assessment: Assessment;
  /** Why a metric is inconclusive or not tested, or what it was tested on. */
  note: string | null;
  /** The effect size with its interval, when the test gives one. Optional for older documents. */
  effect?: EffectSize | null;
  /** For latency figures: the share of attempts each run's figure describes (RunFigures.coverage),
   * and whether they differ by more than COVERAGE_TOLERANCE. Absent for other metrics. */
  coverage?: { baseline: number | null; candidate: number | null; differs: boolean };
}

/**
 * How large a difference is, with its interval (95 %):
 * - `mean-difference` (bootstrap): `diff` is candidate − baseline of the per-second means in the
 *   metric's unit, `pct` the relative change of those means in %;
 * - `rate-ratio` (exact counts): `pct` is (candidate's rate / baseline's rate − 1) × 100 per
 *   request, `diff` is null; `pct` is null when the baseline has none;
 * - `onset-difference`: `diff` is candidate − baseline in s (no interval: low = high = estimate).
 */
export interface EffectSize {
  measure: 'mean-difference' | 'rate-ratio' | 'onset-difference';
  level: number;
  diff: { estimate: number; low: number; high: number } | null;
  pct: { estimate: number; low: number; high: number } | null;
}

/** How the verdicts moved between the baseline and a candidate. */
export interface VerdictChange {
  added: VerdictId[];
  removed: VerdictId[];
  /** By the most severe verdict (critical > warning > info), then by the set of verdicts. */
  assessment: 'better' | 'worse' | 'unchanged' | 'different';
}

/** One candidate against the baseline. */
export interface CandidateComparison {
  run: RunRef;
  changes: Change[];
  warnings: ComparabilityWarning[];
  metrics: MetricComparison[];
  verdicts: VerdictChange;
  /** Every host of either run, matched by name: the baseline's order, then the candidate's new ones. Optional for older documents. */
  hosts?: HostComparison[];
}

/** One `--fail-if` rule evaluated on one candidate. */
export interface FailIfResult {
  rule: string;
  metric: string;
  candidate: RunRef;
  actual: number | null;
  baseline: number | null;
  /** The number the candidate was compared with (a relative rule: baseline × (1 + N/100)). */
  limit: number | null;
  /** True when the rule holds (the candidate fails). False when a value is missing, or when the rule
   * reads a latency figure that covers very different shares of the attempts in the two runs and
   * does not end in `any-coverage` (then `skipped` says so). */
  holds: boolean;
  /** Why the rule was not applied (e.g. `p99 of 50 % of attempts → of 100 %`). Optional. */
  skipped?: string | null;
}

/** How "within noise" was decided, for the reader. */
export interface NoiseInfo {
  alpha: number;
  minSeconds: number;
  /** One sentence per metric family naming its test. */
  description: string[];
}

/** The whole comparison. */
export interface CompareResult {
  schema: typeof COMPARE_SCHEMA;
  baseline: RunRef;
  /** Every run, the baseline first. */
  runs: RunSummary[];
  candidates: CandidateComparison[];
  /** All candidates' comparability warnings. */
  warnings: ComparabilityWarning[];
  noise: NoiseInfo;
  /** Filled by `--fail-if`; empty otherwise. */
  failIf: FailIfResult[];
}
