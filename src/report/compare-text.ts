/** The plain-text rendering of a CompareResult: changes and warnings first, then a table per candidate. */
import type { Assessment, CandidateComparison, Change, CompareResult, FailIfResult, HostComparison, HostFigures, MetricComparison, RunSummary } from '../compare/types.js';
import { verdictHost } from '../analysis/host-peaks.js';
import { num, orDash, pct } from '../vocab/format.js';

/** Marker and word of each assessment: ▲ better, ▼ worse, ≈ within noise. */
export const ASSESSMENT_MARK: Record<Assessment, string> = {
  better: '▲ better',
  worse: '▼ worse',
  'within-noise': '≈ within noise',
  inconclusive: '? inconclusive',
  'not-tested': '· not tested',
};

const fmtMs = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));
const sign = (v: number, s: string): string => (v > 0 ? `+${s}` : s);

/** A metric value in its unit; `null` is `never` for an onset, `–` otherwise. */
export function formatValue(m: Pick<MetricComparison, 'unit' | 'better'>, v: number | null): string {
  if (v === null || !Number.isFinite(v)) return m.better === 'later' ? 'never' : '–';
  switch (m.unit) {
    case 'ms':
      return `${fmtMs(v)} ms`;
    case '/s':
      return `${v.toFixed(1)}/s`;
    case 'ratio':
      return `${(v * 100).toFixed(2)} %`;
    case 's':
      return `${+v.toFixed(2)} s`;
    default:
      return Math.round(v).toLocaleString('en-US');
  }
}

/** A signed delta in the metric's unit (ratios in percentage points). */
export function formatDelta(m: Pick<MetricComparison, 'unit' | 'delta'>): string {
  const d = m.delta;
  if (d === null || !Number.isFinite(d)) return '–';
  switch (m.unit) {
    case 'ms':
      return sign(d, `${fmtMs(d)} ms`);
    case '/s':
      return sign(d, `${d.toFixed(1)}/s`);
    case 'ratio':
      return sign(d, `${(d * 100).toFixed(2)} pp`);
    case 's':
      return sign(d, `${+d.toFixed(2)} s`);
    default:
      return sign(d, Math.round(d).toLocaleString('en-US'));
  }
}

/** The relative delta, e.g. `+12.3 %`. */
export function formatPct(p: number | null): string {
  return p === null || !Number.isFinite(p) ? '–' : sign(p, `${p.toFixed(1)} %`);
}

/** A p-value for a table: 4 decimals, or `p<0.0001`. */
export function formatP(p: number): string {
  return p < 0.0001 ? 'p<0.0001' : `p=${+p.toFixed(4)}`;
}

/** A relative change with its interval, e.g. `+99.7 % [+95.1, +104.3]`; `≥ +…` for an open end. */
export function formatEffect(m: Pick<MetricComparison, 'effect'>): string | null {
  const e = m.effect?.pct;
  if (!e || m.effect?.measure === 'onset-difference') return null;
  const f = (v: number) => (Number.isFinite(v) ? (v > 0 ? `+${v.toFixed(1)}` : v.toFixed(1)) : v > 0 ? '+∞' : '−∞');
  return `${m.effect!.measure === 'rate-ratio' ? 'rate per request' : 'per-second mean'} ${f(e.estimate)} % [${f(e.low)}, ${f(e.high)}]`;
}

/** Which test decided the metric, with its p-value, sample sizes, effect interval, or why it could not run. */
export function formatTest(m: MetricComparison): string {
  if (m.test === 'none') return m.note ? `none (${m.note})` : 'none';
  if (m.p === null) return m.note ? `${m.test}${m.test === 'exact' ? ' (' : ': '}${m.note}${m.test === 'exact' ? ')' : ''}` : m.test;
  const n = m.samples ? ` (${m.samples.baseline}/${m.samples.candidate} s)` : '';
  const eff = formatEffect(m);
  return `${m.test} ${formatP(m.p)}${n}${eff ? `, ${eff}` : ''}${m.note ? `; ${m.note}` : ''}`;
}

/** A setting value: strings bare, others as JSON, an absent side as `(absent)`. */
export function formatSetting(v: unknown): string {
  if (v === undefined) return '(absent)';
  if (typeof v === 'string') return v === '' ? '""' : v;
  return JSON.stringify(v);
}

/** `path: before → after`. */
export function formatChange(c: Change): string {
  return `${c.path}: ${formatSetting(c.baseline)} → ${formatSetting(c.candidate)}`;
}

/**
 * A run's verdicts, e.g. `client-port-exhaustion (critical), healthy (info)`; with the host they
 * are about (`upstream-port-exhaustion on service (critical)`) in a run of more than the client,
 * or when it is not the client.
 */
export function formatVerdicts(r: RunSummary): string {
  const multiHost = (r.hosts?.length ?? 1) > 1;
  return (
    r.verdicts
      .map((v) => {
        const on = verdictHost(v, multiHost);
        return `${v.verdict}${on === null ? '' : ` on ${on}`} (${v.severity})`;
      })
      .join(', ') || 'none'
  );
}

/** Whether a candidate's comparison should list hosts: either run observed more than the client. */
export function showsHosts(c: CandidateComparison): boolean {
  const hosts = c.hosts ?? [];
  return hosts.length > 1 || hosts.some((h) => h.presence !== 'both');
}

/** Where a host was observed: `both`, `baseline only`, `candidate only`. */
export function hostPresence(h: HostComparison): string {
  return h.presence === 'both' ? 'both' : h.presence === 'baseline-only' ? 'baseline only' : 'candidate only';
}

/** The host figures compare shows side by side, each `baseline → candidate` (– for a run without the host). */
export const HOST_FIGURES: Array<{ label: string; value: (f: HostFigures) => string }> = [
  { label: 'peak utilization', value: (f) => orDash(f.peakUtilization, pct) },
  { label: 'peak TIME_WAIT client side', value: (f) => orDash(f.clientTimeWait, num) },
  { label: 'peak TIME_WAIT server side', value: (f) => orDash(f.serverTimeWait, num) },
  { label: 'busiest destination', value: (f) => f.busiestDestination ?? '–' },
];

/** One figure of a host, `baseline → candidate`. */
export function hostPair(h: HostComparison, value: (f: HostFigures) => string): string {
  return `${h.baseline ? value(h.baseline) : '–'} → ${h.candidate ? value(h.candidate) : '–'}`;
}

/** The hosts of a candidate and the baseline, matched by name, as a text table. */
function hostTable(c: CandidateComparison): string[] {
  const hosts = c.hosts ?? [];
  const rows = hosts.map((h) => [h.name, hostPresence(h), ...HOST_FIGURES.map((f) => hostPair(h, f.value))]);
  const head = ['host', 'observed in', ...HOST_FIGURES.map((f) => f.label)];
  const widths = head.map((x, i) => Math.max(x.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => '    ' + r.map((cell, i) => (i === r.length - 1 ? cell : pad(cell, widths[i]!))).join('  ');
  return ['  hosts, matched by name (baseline → candidate; not noise-tested)', line(head).trimEnd(), ...rows.map((r) => line(r).trimEnd())];
}

/** One fail-if result as a sentence. */
export function formatFailIf(f: FailIfResult): string {
  const num = (v: number | null) => (v === null ? 'n/a' : `${+v.toPrecision(6)}`);
  const limit = f.limit === null ? '' : `, limit ${num(f.limit)}`;
  return `${f.rule}  ${f.candidate.name}: actual ${num(f.actual)}, baseline ${num(f.baseline)}${limit}${f.skipped ? `; ${f.skipped}` : ''}`;
}

const pad = (s: string, n: number, right = false): string => (right ? s.padStart(n) : s.padEnd(n));

function table(metrics: MetricComparison[]): string[] {
  const rows = metrics.map((m) => [m.label, formatValue(m, m.baseline), formatValue(m, m.candidate), formatDelta(m), formatPct(m.deltaPct), ASSESSMENT_MARK[m.assessment], formatTest(m)]);
  const head = ['metric', 'baseline', 'candidate', 'delta', 'delta %', 'assessment', 'test'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => '  ' + r.map((c, i) => (i === r.length - 1 ? c : pad(c, widths[i]!, i >= 1 && i <= 4))).join('  ');
  return [line(head), ...rows.map(line)].map((l) => l.trimEnd());
}

/** Renders the comparison for a terminal. */
export function renderCompareText(result: CompareResult): string {
  const base = result.runs[0]!;
  const lines = [
    `portstorm compare: baseline ${base.name} vs ${result.candidates.map((c) => c.run.name).join(', ')}`,
    ...result.runs.map((r) => `  ${r.index === 0 ? 'baseline ' : 'candidate'}  ${r.name}  (${r.scenarioName}, ${r.startedAt}, ${r.figures.durationS.toFixed(1)} s${r.status === 'completed' ? '' : `, ${r.status}`})`),
    '',
  ];
  for (const c of result.candidates) {
    lines.push(`What changed (${c.run.name} vs baseline)`);
    if (c.changes.length === 0) lines.push('  nothing: same scenario, host settings and version');
    for (const ch of c.changes) lines.push(`  ${pad(ch.kind, 9)} ${formatChange(ch)}`);
    lines.push('');
  }
  if (result.warnings.length > 0) {
    lines.push('WARNING: these runs may not be comparable');
    for (const w of result.warnings) lines.push(`  ! ${w.message}`);
    lines.push('');
  }
  for (const c of result.candidates) {
    lines.push(`${c.run.name} vs baseline ${base.name}`, ...table(c.metrics));
    if (showsHosts(c)) lines.push(...hostTable(c));
    const cand = result.runs[c.run.index]!;
    lines.push(`  verdicts: ${formatVerdicts(base)} → ${formatVerdicts(cand)} (${c.verdicts.assessment})`, '');
  }
  lines.push('Noise test', ...result.noise.description.map((d) => `  - ${d}`));
  if (result.failIf.length > 0) {
    lines.push('', 'fail-if');
    for (const f of result.failIf) lines.push(`  ${f.holds ? 'HOLDS' : f.skipped ? 'skip ' : 'ok   '}  ${formatFailIf(f)}`);
  }
  return lines.join('\n') + '\n';
}
