/**
 * `compare`: what changed between runs, whether they are comparable, and each candidate's figures
 * beside the baseline's, judged by a noise test. Pure: run records in, a CompareResult out.
 */
import { diagnose } from '../analysis/diagnose.js';
import { analyzeExhaustion } from '../analysis/exhaustion.js';
import { decodeHistogram, summarize } from '../record/histogram.js';
import type { LatencySummary, RunRecord, TimelineEntry, Verdict } from '../record/types.js';
import { mannWhitneyU } from './stats.js';
import {
  COMPARE_SCHEMA,
  type Assessment,
  type Better,
  type CandidateComparison,
  type Change,
  type CompareResult,
  type ComparabilityWarning,
  type LatencyFigures,
  type MetricComparison,
  type RunFigures,
  type RunRef,
  type RunSummary,
  type VerdictChange,
} from './types.js';

/** p below this is a real difference. */
export const ALPHA = 0.05;
/** Failures counted in one run and absent from the other: a change in kind, not a matter of noise. */
const MIN_NEW_FAILURES = 10;
/** Fewest per-second samples per run the noise test accepts. */
export const MIN_SECONDS = 5;
/** Relative duration difference above which runs are flagged as not comparable. */
const DURATION_TOLERANCE = 0.1;

const HOST_KEYS = [
  'kernel', 'node', 'portRange', 'reservedPorts', 'usablePorts', 'tcpTwReuse', 'tcpTwReuseDelayMs', 'tcpTimestamps',
  'tcpFinTimeoutS', 'tcpMaxTwBuckets', 'somaxconn', 'nofileSoft', 'nofileHard',
] as const;

const NOISE_DESCRIPTION = [
  `Noise test on per-second samples from each run's timeline, less the first and last second (warm-up and drain); with fewer than ${MIN_SECONDS} such seconds in a run the metric is inconclusive (too few samples).`,
  `mann-whitney (Mann–Whitney U, two-sided, normal approximation with tie and continuity correction; p < ${ALPHA} after Holm's correction across the metrics of a candidate is a real difference): completed/s, error rate and errors by code, latency p50/p90/p99/max (per-second percentiles), connect p50/p99 (seconds that opened connections), new connections/s, peak port utilization and peak TIME_WAIT (per-second socket picture).`,
  'exact: exhaustion onset and early warning, one event per run; any difference counts (never is the latest). Also a failure code absent in one run and counted 10 or more times in the other.',
  'none (not tested): latency p99.9 and connect p90/p99.9/max; the record keeps these only as whole-run histograms, with no per-second samples to test.',
];

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
  const done = r.totals.completed + r.totals.failed;
  const perS = (n: number) => (r.durationS > 0 ? n / r.durationS : null);
  const ex = r.exhaustion ?? analyzeExhaustion(r);
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
  const { name: _n1, ...sa } = base.scenario;
  const { name: _n2, ...sb } = cand.scenario;
  for (const d of deepDiff(sa, sb)) out.push(change('scenario', d.path, d.a, d.b));
  if (base.workers !== cand.workers) out.push(change('run', 'workers', base.workers, cand.workers));
  const labA = (base as { lab?: unknown }).lab;
  const labB = (cand as { lab?: unknown }).lab;
  for (const d of deepDiff(labA, labB, 'lab')) out.push(change('lab', d.path, d.a, d.b));
  return out;
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
  return out;
}

/** One metric: how to read it from the figures and, if tested, its per-second samples. */
interface MetricDef {
  key: string;
  label: string;
  unit: MetricComparison['unit'];
  better: Better;
  value: (f: RunFigures) => number | null;
  samples?: (e: TimelineEntry) => number | null;
  exact?: boolean;
}

const lat = (stat: keyof LatencyFigures, src: 'latency' | 'connect', perSecond?: 'p50' | 'p90' | 'p99' | 'max'): MetricDef => ({
  key: `${src}.${stat}`,
  label: `${src === 'latency' ? 'latency' : 'connect'} ${stat === 'p999' ? 'p99.9' : stat}`,
  unit: 'ms',
  better: 'lower',
  value: (f) => f[src]?.[stat] ?? null,
  samples: perSecond
    ? src === 'latency'
      ? (e) => (e.completed > 0 ? e.latencyMs[perSecond] : null)
      : (e) => (e.connectionsOpened > 0 ? (e.connectMs as Record<string, number>)[perSecond] ?? null : null)
    : undefined,
});

function metricDefs(codes: string[]): MetricDef[] {
  return [
    { key: 'rate', label: 'completed/s', unit: '/s', better: 'higher', value: (f) => f.rate, samples: (e) => e.completed },
    {
      key: 'errorRate', label: 'error rate', unit: 'ratio', better: 'lower', value: (f) => f.errorRate,
      samples: (e) => (e.completed + e.failed > 0 ? e.failed / (e.completed + e.failed) : null),
    },
    ...codes.map((c): MetricDef => ({
      key: `errors.${c}`, label: `errors ${c}`, unit: 'count', better: 'lower', value: (f) => f.errors[c] ?? 0, samples: (e) => e.errors[c] ?? 0,
    })),
    lat('p50', 'latency', 'p50'), lat('p90', 'latency', 'p90'), lat('p99', 'latency', 'p99'), lat('p999', 'latency'), lat('max', 'latency', 'max'),
    lat('p50', 'connect', 'p50'), lat('p90', 'connect'), lat('p99', 'connect', 'p99'), lat('p999', 'connect'), lat('max', 'connect'),
    { key: 'connectionRate', label: 'new connections/s', unit: '/s', better: 'lower', value: (f) => f.connectionRate, samples: (e) => e.connectionsOpened },
    {
      key: 'ports.peakUtilization', label: 'peak port utilization', unit: 'ratio', better: 'lower',
      value: (f) => f.ports.peakUtilization, samples: (e) => e.sockets?.utilization ?? null,
    },
    {
      key: 'ports.peakTimeWait', label: 'peak TIME_WAIT', unit: 'count', better: 'lower',
      value: (f) => f.ports.peakTimeWait, samples: (e) => e.sockets?.timeWait ?? null,
    },
    { key: 'exhaustion.firstAtS', label: 'exhaustion onset', unit: 's', better: 'later', value: (f) => f.exhaustion.firstAtS, exact: true },
    { key: 'exhaustion.earlyWarningAtS', label: 'early warning', unit: 's', better: 'later', value: (f) => f.exhaustion.earlyWarningAtS, exact: true },
  ];
}

type Judged = Pick<MetricComparison, 'test' | 'p' | 'samples' | 'assessment' | 'note'>;

function judge(def: MetricDef, b: number | null, c: number | null, tb: TimelineEntry[], tc: TimelineEntry[]): Judged {
  if (def.exact) {
    // An onset: null means it never happened, the latest possible.
    const x = b ?? Infinity;
    const y = c ?? Infinity;
    const assessment: Assessment = x === y ? 'within-noise' : (y > x) === (def.better !== 'lower') ? 'better' : 'worse';
    return { test: 'exact', p: null, samples: null, assessment, note: b === null && c === null ? 'in neither run' : null };
  }
  if (!def.samples) return { test: 'none', p: null, samples: null, assessment: 'not-tested', note: 'whole-run histogram only' };
  const pick = (t: TimelineEntry[]) => t.map(def.samples!).filter((v): v is number => v !== null && Number.isFinite(v));
  const xs = pick(tb);
  const ys = pick(tc);
  const samples = { baseline: xs.length, candidate: ys.length };
  if (b === null || c === null) return { test: 'mann-whitney', p: null, samples, assessment: 'inconclusive', note: 'no data' };
  if (xs.length < MIN_SECONDS || ys.length < MIN_SECONDS) {
    const note = `too few samples for the noise test: ${xs.length} and ${ys.length} s (need ${MIN_SECONDS} per run)`;
    return { test: 'mann-whitney', p: null, samples, assessment: 'inconclusive', note };
  }
  const mw = mannWhitneyU(xs, ys);
  const p = Number(mw.p.toPrecision(4));
  if (mw.p >= ALPHA) return { test: 'mann-whitney', p, samples, assessment: 'within-noise', note: null };
  const up = mw.probBHigher > 0.5;
  if (c === b || c > b !== up) {
    const note = c === b ? 'per-second samples differ but the whole-run figure is unchanged' : 'per-second samples and the whole-run figure move in opposite directions';
    return { test: 'mann-whitney', p, samples, assessment: 'inconclusive', note };
  }
  return { test: 'mann-whitney', p, samples, assessment: up === (def.better !== 'lower') ? 'better' : 'worse', note: null };
}

/** Every metric of a candidate beside the baseline. */
export function compareMetrics(base: RunRecord, cand: RunRecord, fb: RunFigures, fc: RunFigures): MetricComparison[] {
  const totals = new Map<string, number>();
  for (const f of [fb, fc]) for (const [code, n] of Object.entries(f.errors)) totals.set(code, (totals.get(code) ?? 0) + n);
  const codes = [...totals.entries()].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0])).map(([code]) => code);
  const tb = noiseTimeline(base);
  const tc = noiseTimeline(cand);
  const metrics = metricDefs(codes).map((def): MetricComparison => {
    const b = def.value(fb);
    const c = def.value(fc);
    const delta = b === null || c === null ? null : c - b;
    const deltaPct = delta === null || b === 0 ? null : (delta / Math.abs(b!)) * 100;
    return { key: def.key, label: def.label, unit: def.unit, better: def.better, baseline: b, candidate: c, delta, deltaPct, ...judge(def, b, c, tb, tc) };
  });
  return appearedOrVanished(holm(metrics), fb, fc);
}


/**
 * A failure that is absent in one run and counted at least MIN_NEW_FAILURES times in the other is
 * a real difference whatever a rank test over a few seconds can show, so it is judged exactly.
 */
function appearedOrVanished(metrics: MetricComparison[], fb: RunFigures, fc: RunFigures): MetricComparison[] {
  for (const m of metrics) {
    const code = m.key.startsWith('errors.') ? m.key.slice('errors.'.length) : null;
    const [b, c] = m.key === 'errorRate' ? [fb.totals.failed, fc.totals.failed] : code ? [fb.errors[code] ?? 0, fc.errors[code] ?? 0] : [null, null];
    if (b === null || c === null || (b === 0) === (c === 0) || Math.max(b, c) < MIN_NEW_FAILURES) continue;
    m.test = 'exact';
    m.assessment = c > b ? 'worse' : 'better';
    m.note = c > b ? `none in the baseline, ${c} in this run` : `${b} in the baseline, none in this run`;
  }
  return metrics;
}

/**
 * Holm's step-down correction over a candidate's rank tests: with a dozen metrics tested at 5 %,
 * two identical runs would otherwise often show one spurious difference. A metric whose adjusted
 * p is not below ALPHA is within noise.
 */
function holm(metrics: MetricComparison[]): MetricComparison[] {
  const tested = metrics.filter((m) => m.test === 'mann-whitney' && m.p !== null).sort((a, b) => a.p! - b.p!);
  let running = 0;
  tested.forEach((m, i) => {
    running = Math.max(running, Math.min(1, (tested.length - i) * m.p!));
    if (m.p! < ALPHA && running >= ALPHA) {
      m.assessment = 'within-noise';
      m.note = `p=${m.p} is not significant after Holm's correction for ${tested.length} tests (adjusted p=${Number(running.toPrecision(4))})`;
    }
  });
  return metrics;
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
    verdicts: diagnosis.map((v) => ({ verdict: v.verdict, severity: v.severity, confidence: v.confidence, atS: v.atS })),
    noiseSeconds: noiseTimeline(r).length,
  }));
  const base = analysed[0]!;
  const candidates: CandidateComparison[] = analysed.slice(1).map((c, i) => {
    const ref = runRef(c.r, i + 1);
    return {
      run: ref,
      changes: describeChanges(base.r, c.r),
      warnings: comparability(base.r, c.r, ref),
      metrics: compareMetrics(base.r, c.r, base.figures, c.figures),
      verdicts: verdictChange(base.diagnosis, c.diagnosis),
    };
  });
  return {
    schema: COMPARE_SCHEMA,
    baseline: runRef(base.r, 0),
    runs: summaries,
    candidates,
    warnings: candidates.flatMap((c) => c.warnings),
    noise: { alpha: ALPHA, minSeconds: MIN_SECONDS, description: NOISE_DESCRIPTION },
    failIf: [],
  };
}
