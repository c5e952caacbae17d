/**
 * The HTML comparison of run records: one self-contained file (uPlot inlined as in the run
 * report, the chart data embedded as JSON) with the runs, the comparison's warnings and what
 * changed, the key figures side by side with their deltas, each run's verdicts, and every run
 * overlaid on one relative time axis (seconds since each run's start).
 */
import type { Assessment, CandidateComparison, Change, CompareResult, MetricComparison, RunSummary } from '../compare/types.js';
import type { HostSecond, RunRecord, TimelineEntry } from '../record/types.js';
import { verdictHost } from '../analysis/host-peaks.js';
import { CLIENT_HOST, hostViews } from '../analysis/hosts.js';
import { CSS, escapeHtml, inlineScript, inlineStyle, jsonForScript, loadUplot, verdictTitle } from './html.js';
import { COMPARE_CLIENT_SCRIPT } from './compare-html-client.js';
import { formatEffect, HOST_FIGURES, hostPresence, showsHosts } from './compare-text.js';
import { statusClass, statusLabel } from './status.js';

const e = escapeHtml;

/** The baseline's colour: neutral and dark, so the candidates stand out against it. */
export const BASELINE_COLOR = '#343a40';
/** Candidate colours, in order; distinct from each other and from the baseline. */
export const CANDIDATE_COLORS = ['#1c7ed6', '#e8590c', '#2f9e44', '#ae3ec9', '#c2255c', '#0c8599', '#f59f00', '#5f3dc4'];

/** The colour of run `i` (0 is the baseline). */
export function runColor(i: number): string {
  return i === 0 ? BASELINE_COLOR : CANDIDATE_COLORS[(i - 1) % CANDIDATE_COLORS.length];
}

/** One run as the charts and the legend show it. */
export interface CompareRunMeta {
  role: 'baseline' | 'candidate';
  /** `label ?? runId`, made unique among the runs. */
  label: string;
  runId: string;
  scenario: string;
  startedAt: string;
  durationS: number;
  color: string;
  /** Run second of the first exhaustion error, or null. */
  onsetS: number | null;
}

/** One overlaid chart: `data[i]` is run i's value at each `x` (null where it has none). */
export interface CompareChartDef {
  /** A host's overlays (hosts other than the client, matched by name) are `time-wait-host-NAME` and `utilization-host-NAME`. */
  id: 'completed' | 'failed' | 'latency-p99' | 'tls-p99' | 'time-wait' | 'utilization' | `time-wait-host-${string}` | `utilization-host-${string}`;
  /** The host a chart is about (absent: the runs' own figures, the client's). */
  host?: string;
  title: string;
  axis: string;
  /** Suffix of the legend's values. */
  unit: string;
  log?: boolean;
  /** A 0–100 % axis. */
  pct?: boolean;
  /** Why a run may have no data for this chart. */
  missingNote?: string;
  data: Array<Array<number | null>>;
}

/** What the page's script draws (embedded as JSON in script#portstorm-compare-data). */
export interface CompareChartModel {
  runs: CompareRunMeta[];
  /** Seconds since each run's start: the union of the runs' timeline seconds, ascending. */
  x: number[];
  charts: CompareChartDef[];
}

function finite(v: number | null | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** `label ?? runId` for each run, repeats told apart by run id, or by position where the run id
 * repeats too (the same record given twice). */
export function runLabels(runs: RunRecord[]): string[] {
  const base = runs.map((r) => r.label ?? r.runId);
  const count = <T>(arr: T[], pred: (x: T, j: number) => boolean): number => arr.filter(pred).length;
  const named = base.map((l, i) => {
    if (count(base, (x) => x === l) === 1) return l;
    const sameId = count(runs, (r, j) => base[j] === l && r.runId === runs[i].runId);
    return sameId === 1 && l !== runs[i].runId ? `${l} (${runs[i].runId})` : `${l} #${i + 1}`;
  });
  return named.map((l, i) => (count(named, (x) => x === l) > 1 ? `${l} #${i + 1}` : l));
}

/** The x key of a timeline second (the runs' seconds are matched to the millisecond). */
function key(t: number): number {
  return Math.round(t * 1000) / 1000;
}

/** The runs' timelines on one relative time axis, padded with nulls where a run has no second. */
export function compareChartModel(runs: RunRecord[]): CompareChartModel {
  const labels = runLabels(runs);
  const xset = new Set<number>();
  for (const r of runs) for (const en of r.timeline ?? []) if (finite(en.t) !== null) xset.add(key(en.t));
  const x = [...xset].sort((a, b) => a - b);
  const index = new Map(x.map((t, i) => [t, i]));

  const column = (pick: (en: TimelineEntry) => number | null): Array<Array<number | null>> =>
    runs.map((r) => {
      const out: Array<number | null> = new Array(x.length).fill(null);
      for (const en of r.timeline ?? []) {
        if (finite(en.t) === null) continue;
        out[index.get(key(en.t))!] = finite(pick(en));
      }
      return out;
    });
  const pct = (v: number | null | undefined): number | null => (finite(v) === null ? null : +(v! * 100).toFixed(2));
  const positive = (v: number | null | undefined): number | null => (finite(v) !== null && v! > 0 ? v! : null);
  // A host's seconds on the same axis: null where the run did not observe the host or did not see it that second.
  const hostColumn = (name: string, pick: (s: NonNullable<HostSecond['sockets']>) => number | null): Array<Array<number | null>> =>
    runs.map((r) => {
      const out: Array<number | null> = new Array(x.length).fill(null);
      const h = r.hosts?.[name];
      for (const en of h?.timeline ?? []) {
        const i = finite(en.t) === null ? undefined : index.get(key(en.t));
        if (i !== undefined && en.sockets) out[i] = finite(pick(en.sockets));
      }
      return out;
    });
  const hostNames = [...new Set(runs.flatMap((r) => hostViews(r).map((h) => h.name)))].filter((n) => n !== CLIENT_HOST);
  const hostCharts: CompareChartDef[] = hostNames.flatMap((name): CompareChartDef[] => [
    {
      id: `time-wait-host-${name}`,
      host: name,
      title: `${name}: TIME_WAIT sockets (client and server side)`,
      axis: 'sockets',
      unit: '',
      missingNote: 'the run did not observe this host, or never saw it',
      data: hostColumn(name, (s) => s.timeWait),
    },
    {
      id: `utilization-host-${name}`,
      host: name,
      title: `${name}: port utilization (busiest destination)`,
      axis: 'utilization',
      unit: ' %',
      pct: true,
      missingNote: 'the run did not observe this host, never saw it, or its port budget is unknown',
      data: hostColumn(name, (s) => pct(s.utilization)),
    },
  ]);

  return {
    runs: runs.map((r, i) => ({
      role: i === 0 ? 'baseline' : 'candidate',
      label: labels[i],
      runId: r.runId,
      scenario: r.scenario?.name ?? '',
      startedAt: r.startedAt,
      durationS: r.durationS,
      color: runColor(i),
      onsetS: finite(r.exhaustion?.firstAtS),
    })),
    x,
    charts: [
      { id: 'completed', title: 'Completed per second', axis: 'completed/s', unit: '/s', data: column((en) => en.completed) },
      { id: 'failed', title: 'Failed per second (errors)', axis: 'failed/s', unit: '/s', data: column((en) => en.failed) },
      {
        id: 'latency-p99',
        title: 'Latency p99 (ms)',
        axis: 'ms',
        unit: ' ms',
        log: true,
        missingNote: 'no completed requests',
        // Seconds without completions have p99 0: a gap, not a point on a log axis.
        data: column((en) => positive(en.latencyMs?.p99)),
      },
      // HTTPS runs: the handshake's p99 per second (only when a run has handshake figures).
      ...(runs.some((r) => (r.timeline ?? []).some((en) => finite(en.tlsMs?.p99) !== null && (en.tlsHandshakes ?? 0) > 0))
        ? [
            {
              id: 'tls-p99' as const,
              title: 'TLS handshake p99 (ms)',
              axis: 'ms',
              unit: ' ms',
              log: true,
              missingNote: 'no TLS handshakes (a plain run, or every handshake failed)',
              data: column((en) => ((en.tlsHandshakes ?? 0) > 0 ? positive(en.tlsMs?.p99) : null)),
            },
          ]
        : []),
      {
        id: 'time-wait',
        title: 'TIME_WAIT sockets',
        axis: 'sockets',
        unit: '',
        missingNote: 'monitor off or no socket source',
        data: column((en) => finite(en.sockets?.timeWait)),
      },
      {
        id: 'utilization',
        title: 'Port utilization (busiest destination)',
        axis: 'utilization',
        unit: ' %',
        pct: true,
        missingNote: 'monitor off, no socket source or unknown port budget',
        data: column((en) => pct(en.sockets?.utilization)),
      },
      ...hostCharts,
    ],
  };
}

function fmtDuration(s: number | null | undefined): string {
  const v = finite(s);
  return v === null ? '–' : `${v.toFixed(1)} s`;
}

/** A colour swatch (decorative; the label beside it says which run it is). */
function swatch(color: string): string {
  return `<span class="swatch" style="background:${e(color)}" aria-hidden="true"></span>`;
}

function renderRuns(runs: RunRecord[], model: CompareChartModel): string {
  const rows = runs
    .map((r, i) => {
      const m = model.runs[i];
      return `<tr data-run="${i}"><td>${swatch(m.color)}<span class="role">${m.role}</span></td><td class="run-label">${e(m.label)}</td><td>${e(m.scenario)}</td><td>${e(r.startedAt)}</td><td class="n">${fmtDuration(r.durationS)}</td><td><span class="badge ${statusClass(r.status)}">${e(statusLabel(r.status))}</span></td><td><code>${e(r.runId)}</code></td></tr>`;
    })
    .join('');
  const names = [...new Set(runs.map((r) => r.scenario?.name ?? ''))];
  return `<header>
<h1>portstorm comparison: ${e(names.join(' · '))}</h1>
<table class="grid runs"><thead><tr><th>Run</th><th>Label</th><th>Scenario</th><th>Started at</th><th class="n">Duration</th><th>Status</th><th>Run id</th></tr></thead><tbody>${rows}</tbody></table>
</header>`;
}

// ---- figures and deltas ------------------------------------------------------------------------

type Unit = MetricComparison['unit'];

function fmtNumber(v: number): string {
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** A metric value in its unit; null is `never` for an onset (later is better), `–` otherwise. */
function fmtValue(v: number | null, unit: Unit, m?: Pick<MetricComparison, 'better'>): string {
  if (v === null || !Number.isFinite(v)) return m?.better === 'later' ? 'never' : '–';
  switch (unit) {
    case 'ms':
      return `${fmtNumber(v)} ms`;
    case '/s':
      return `${fmtNumber(v)}/s`;
    case 'ratio':
      return `${(v * 100).toFixed(Math.abs(v) >= 0.1 ? 1 : 2)} %`;
    case 'count':
      return Math.round(v).toLocaleString('en-US');
    case 's':
      return `${+v.toFixed(2)} s`;
  }
}

const ZERO_UNIT: Record<Unit, string> = { ms: ' ms', '/s': '/s', ratio: ' pp', count: '', s: ' s' };

function signed(v: number, text: string): string {
  return v > 0 ? `+${text}` : v < 0 ? `−${text}` : text;
}

/** candidate − baseline in the metric's unit (ratios in percentage points), with the relative change. */
function fmtDelta(m: MetricComparison): string {
  if (m.delta === null || !Number.isFinite(m.delta)) return '–';
  if (m.delta === 0) return `±0${ZERO_UNIT[m.unit]}`;
  const a = Math.abs(m.delta);
  const abs = m.unit === 'ratio' ? `${(a * 100).toFixed(a >= 0.1 ? 1 : 2)} pp` : fmtValue(a, m.unit);
  const pct = m.deltaPct === null || !Number.isFinite(m.deltaPct) ? '' : ` (${signed(m.deltaPct, `${Math.abs(m.deltaPct).toFixed(Math.abs(m.deltaPct) >= 10 ? 0 : 1)} %`)})`;
  return signed(m.delta, abs) + pct;
}

const ASSESSMENT_TEXT: Record<Assessment, string> = {
  better: 'better',
  worse: 'worse',
  'within-noise': 'within noise',
  inconclusive: 'inconclusive',
  'not-tested': 'not tested',
};

/** How the metric was judged, for the mark's tooltip. */
function testDetail(m: MetricComparison): string {
  const parts: string[] = [];
  if (m.test !== 'none') parts.push(`test: ${m.test}`);
  if (m.p !== null && Number.isFinite(m.p)) parts.push(`p = ${m.p < 0.001 ? m.p.toExponential(1) : m.p.toFixed(3)}`);
  if (m.samples) parts.push(`seconds tested: ${m.samples.baseline} / ${m.samples.candidate}`);
  parts.push(`${m.better} is better`);
  if (m.note) parts.push(m.note);
  const effect = formatEffect(m);
  if (effect) parts.push(`change ${effect} (95 %)`);
  return parts.join('; ');
}

function mark(m: MetricComparison): string {
  return `<span class="mark ${e(m.assessment)}" title="${e(testDetail(m))}">${e(ASSESSMENT_TEXT[m.assessment] ?? m.assessment)}</span>`;
}

/** Metric keys in the order the candidates list them (the first candidate's order, then new ones). */
function metricKeys(cands: CandidateComparison[]): Array<{ key: string; label: string }> {
  const seen = new Map<string, string>();
  for (const c of cands) for (const m of c.metrics) if (!seen.has(m.key)) seen.set(m.key, m.label);
  return [...seen].map(([key, label]) => ({ key, label }));
}

/** The run index of a candidate comparison in `runs` (by position, else by run id). */
function runIndex(ref: { index: number; runId: string }, runs: RunRecord[]): number {
  if (ref.index >= 0 && ref.index < runs.length && runs[ref.index].runId === ref.runId) return ref.index;
  const i = runs.findIndex((r) => r.runId === ref.runId);
  return i >= 0 ? i : ref.index;
}

function runName(i: number, model: CompareChartModel, fallback: string): string {
  return model.runs[i]?.label ?? fallback;
}

function runHead(i: number, model: CompareChartModel, fallback: string, attrs = ''): string {
  const m = model.runs[i];
  return `<th${attrs}>${m ? swatch(m.color) : ''}${e(runName(i, model, fallback))}</th>`;
}

function renderFigures(runs: RunRecord[], result: CompareResult, model: CompareChartModel): string {
  const cands = result.candidates ?? [];
  if (cands.length === 0) return '';
  const keys = metricKeys(cands);
  const base = runIndex(result.baseline, runs);
  const candIdx = cands.map((c) => runIndex(c.run, runs));
  const head1 = `<tr><th rowspan="2">Metric</th>${runHead(base, model, result.baseline.name, ' rowspan="2" class="n"')}${cands
    .map((c, j) => runHead(candIdx[j], model, c.run.name, ' colspan="3" class="cand"'))
    .join('')}</tr>`;
  const head2 = `<tr>${cands.map(() => '<th class="n cand">value</th><th class="n">Δ</th><th>vs baseline</th>').join('')}</tr>`;
  const rows = keys
    .map(({ key: k, label }) => {
      const ms = cands.map((c) => c.metrics.find((m) => m.key === k) ?? null);
      const first = ms.find((m) => m !== null)!;
      const cells = ms
        .map((m) =>
          m === null
            ? '<td class="n cand">–</td><td class="n">–</td><td></td>'
            : `<td class="n cand ${e(m.assessment)}">${e(fmtValue(m.candidate, m.unit, m))}</td><td class="n delta ${e(m.assessment)}">${e(fmtDelta(m))}</td><td>${mark(m)}</td>`,
        )
        .join('');
      return `<tr data-metric="${e(k)}"><th scope="row">${e(label)} <code class="key">${e(k)}</code></th><td class="n">${e(fmtValue(first.baseline, first.unit, first))}</td>${cells}</tr>`;
    })
    .join('');
  const noise = result.noise;
  const noiseText = noise
    ? `<p class="muted noise">Within noise: no real difference at α = ${e(String(noise.alpha))} (at least ${e(String(noise.minSeconds))} usable seconds per run). ${e((noise.description ?? []).join(' '))}</p>`
    : '';
  return `<section class="card wide" id="figures"><h2>Key figures</h2><table class="grid figures"><thead>${head1}${head2}</thead><tbody>${rows}</tbody></table>${noiseText}</section>`;
}

/** Every host of each candidate and the baseline, matched by name: peaks side by side (when a run observed more than the client). */
function renderHosts(runs: RunRecord[], result: CompareResult, model: CompareChartModel): string {
  const cands = (result.candidates ?? []).filter(showsHosts);
  if (cands.length === 0) return '';
  const base = runIndex(result.baseline, runs);
  const blocks = cands
    .map((c) => {
      const i = runIndex(c.run, runs);
      const head = `<tr><th rowspan="2">Host</th><th rowspan="2">Observed in</th>${HOST_FIGURES.map((f) => `<th colspan="2" class="cand">${e(f.label)}</th>`).join('')}</tr><tr>${HOST_FIGURES.map(() => `${runHead(base, model, result.baseline.name, ' class="cand"')}${runHead(i, model, c.run.name)}`).join('')}</tr>`;
      const rows = (c.hosts ?? [])
        .map((h) => {
          const cells = HOST_FIGURES.map((f) => `<td class="cand">${e(h.baseline ? f.value(h.baseline) : '–')}</td><td>${e(h.candidate ? f.value(h.candidate) : '–')}</td>`).join('');
          return `<tr data-host="${e(h.name)}" data-presence="${e(h.presence)}"><th scope="row">${e(h.name)}</th><td>${e(hostPresence(h))}</td>${cells}</tr>`;
        })
        .join('');
      return `<div class="hosts-run" data-run="${i}"><h3>${swatch(model.runs[i]?.color ?? BASELINE_COLOR)}${e(runName(i, model, c.run.name))} vs baseline</h3><table class="grid figures hosts">${head}<tbody>${rows}</tbody></table></div>`;
    })
    .join('');
  return `<section class="card wide" id="hosts"><h2>Hosts, matched by name</h2>${blocks}<p class="muted noise">Peaks, one a run: shown side by side, not noise-tested. A host observed in one run only says so.</p></section>`;
}

// ---- warnings, what changed, verdicts, fail-if ---------------------------------------------------

function renderWarnings(runs: RunRecord[], result: CompareResult, model: CompareChartModel): string {
  const ws = result.warnings ?? [];
  if (ws.length === 0) return '';
  return `<section class="note" id="warnings"><h2>Warnings</h2><ul>${ws
    .map((w) => `<li><span class="badge warn">${e(w.kind)}</span> <b>${e(runName(runIndex(w.candidate, runs), model, w.candidate.name))}</b>: ${e(w.message)}</li>`)
    .join('')}</ul></section>`;
}

/** A setting's value for display (absent when the side has no such key). */
function fmtSetting(c: Change, side: 'baseline' | 'candidate'): string {
  if (!(side in c)) return '<span class="muted">absent</span>';
  let s: string;
  try {
    s = JSON.stringify(c[side]) ?? String(c[side]);
  } catch {
    s = String(c[side]);
  }
  if (s.length > 160) s = `${s.slice(0, 157)}…`;
  return `<code>${e(s)}</code>`;
}

function renderChanges(runs: RunRecord[], result: CompareResult, model: CompareChartModel): string {
  const cands = result.candidates ?? [];
  if (cands.length === 0) return '';
  const blocks = cands
    .map((c) => {
      const i = runIndex(c.run, runs);
      const title = `${swatch(model.runs[i]?.color ?? BASELINE_COLOR)}${e(runName(i, model, c.run.name))}`;
      const list = c.changes.length
        ? `<table class="grid changes"><thead><tr><th>Where</th><th>Setting</th><th>Baseline</th><th>Candidate</th></tr></thead><tbody>${c.changes
            .map((ch) => `<tr><td>${e(ch.kind)}</td><td><code>${e(ch.path)}</code></td><td>${fmtSetting(ch, 'baseline')}</td><td>${fmtSetting(ch, 'candidate')}</td></tr>`)
            .join('')}</tbody></table>`
        : '<p class="muted">No setting differs from the baseline.</p>';
      return `<div class="changes-run" data-run="${i}"><h3>${title}</h3>${list}</div>`;
    })
    .join('');
  return `<section class="card wide" id="changes"><h2>What changed</h2>${blocks}</section>`;
}

/** The host a verdict names, when the comparison should say it (a run of more than the client, or another host). */
function verdictOn(s: RunSummary, v: RunSummary['verdicts'][number]): string | null {
  return verdictHost(v, (s.hosts?.length ?? 1) > 1);
}

const VERDICT_CHANGE_CLS: Record<string, string> = { better: 'better', worse: 'worse', unchanged: 'within-noise', different: 'inconclusive' };

function renderVerdicts(runs: RunRecord[], result: CompareResult, model: CompareChartModel): string {
  const summaries: RunSummary[] = result.runs ?? [];
  if (summaries.length === 0) return '';
  const cards = summaries
    .map((s) => {
      const i = runIndex(s, runs);
      const list = s.verdicts.length
        ? `<ul class="verdicts">${s.verdicts
            .map(
              (v) =>
                `<li data-verdict="${e(v.verdict)}"${verdictOn(s, v) ? ` data-host="${e(verdictOn(s, v)!)}"` : ''}><span class="badge sev-${e(v.severity)}">${e(v.severity)}</span> ${e(verdictTitle(v.verdict))}${verdictOn(s, v) ? ` <span class="host-tag">on <b>${e(verdictOn(s, v)!)}</b></span>` : ''} <span class="muted">· ${Math.round(v.confidence * 100)} % · ${v.atS === null ? 'whole run' : `from ${+v.atS.toFixed(2)} s`}</span></li>`,
            )
            .join('')}</ul>`
        : '<p class="muted">No diagnosis in this record.</p>';
      const cand = (result.candidates ?? []).find((c) => c.run.runId === s.runId && c.run.index === s.index);
      let change = '';
      if (cand) {
        const vc = cand.verdicts;
        const ids = (xs: string[]): string => xs.map((x) => e(verdictTitle(x))).join(', ');
        const parts = [
          vc.added.length ? `new: ${ids(vc.added)}` : '',
          vc.removed.length ? `gone: ${ids(vc.removed)}` : '',
        ].filter(Boolean);
        change = `<p class="verdict-change">vs baseline: <span class="mark ${VERDICT_CHANGE_CLS[vc.assessment] ?? ''}">${e(vc.assessment)}</span>${parts.length ? ` ${parts.join(' · ')}` : ''}</p>`;
      }
      const role = i === 0 ? 'baseline' : 'candidate';
      return `<article class="card run-verdicts" data-run="${i}"><h3>${swatch(model.runs[i]?.color ?? BASELINE_COLOR)}${e(runName(i, model, s.name))} <span class="muted">(${role})</span></h3>${list}${change}</article>`;
    })
    .join('');
  return `<section id="verdicts"><h2>Verdicts</h2><div class="summary">${cards}</div></section>`;
}

function renderFailIf(runs: RunRecord[], result: CompareResult, model: CompareChartModel): string {
  const rules = result.failIf ?? [];
  if (rules.length === 0) return '';
  const failed = rules.filter((r) => r.holds).length;
  const num = (v: number | null): string => (v === null || !Number.isFinite(v) ? 'n/a' : e(String(+v.toFixed(4))));
  return `<section class="card wide" id="fail-if"><h2>--fail-if (${failed} of ${rules.length} hold${failed === 1 ? 's' : ''})</h2><table class="grid"><thead><tr><th>Result</th><th>Rule</th><th>Candidate</th><th class="n">Actual</th><th class="n">Baseline</th><th class="n">Limit</th></tr></thead><tbody>${rules
    .map(
      (r) =>
        `<tr><td><span class="badge ${r.holds ? 'bad' : 'ok'}"${r.skipped ? ` title="${e(r.skipped)}"` : ''}>${r.holds ? 'fail' : r.skipped ? 'not applied' : 'pass'}</span></td><td><code>${e(r.rule)}</code></td><td>${e(runName(runIndex(r.candidate, runs), model, r.candidate.name))}</td><td class="n">${num(r.actual)}</td><td class="n">${num(r.baseline)}</td><td class="n">${num(r.limit)}</td></tr>`,
    )
    .join('')}</tbody></table></section>`;
}

const COMPARE_CSS = `
.swatch{display:inline-block;width:14px;height:14px;border-radius:3px;margin-right:7px;vertical-align:-2px}
.role{color:#495057;font-size:12.5px;text-transform:uppercase;letter-spacing:.03em}
.runs .run-label{font-weight:600}
#warnings{margin-bottom:16px}
#warnings h2{margin-bottom:4px}
#changes,#figures,#fail-if,#hosts{margin-bottom:16px}
.hosts-run h3{margin:10px 0 2px}
.hosts-run:first-of-type h3{margin-top:0}
.changes-run h3{margin:10px 0 2px}
.changes-run:first-of-type h3{margin-top:0}
.figures th[scope=row]{font-weight:500;white-space:nowrap}
.figures code.key{font-size:11px;color:#868e96;background:none;padding:0}
.figures th.cand,.figures td.cand{border-left:1px solid #dee2e6;padding-left:10px}
.figures td.better{color:#2b8a3e}
.figures td.worse{color:#c92a2a}
.figures td.delta{white-space:nowrap}
.mark{display:inline-block;font-size:11.5px;font-weight:600;border-radius:3px;padding:1px 7px;white-space:nowrap;cursor:help}
.mark.better{background:#d3f9d8;color:#2b8a3e}
.mark.worse{background:#ffe3e3;color:#c92a2a}
.mark.within-noise{background:#e9ecef;color:#495057}
.mark.inconclusive{background:#fff3bf;color:#8a5a00}
.mark.not-tested{background:#f8f9fa;color:#868e96;border:1px solid #dee2e6}
.noise{margin:8px 0 0;font-size:12.5px}
#verdicts{margin-bottom:16px}
.run-verdicts ul.verdicts{margin:4px 0;padding-left:0;list-style:none}
.run-verdicts li{margin:3px 0}
.verdict-change{margin:6px 0 0;color:#495057}
`;

/** Renders the comparison of `runs` (the baseline first) as one self-contained HTML page. */
export function renderCompareHtml(runs: RunRecord[], result: CompareResult): string {
  const uplot = loadUplot();
  const model = compareChartModel(runs);
  const version = runs[0]?.portstormVersion ?? '';
  const title = `portstorm compare: ${model.runs.map((r) => r.label).join(' vs ')}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="portstorm ${e(version)}">
<title>${e(title)}</title>
<style>${inlineStyle(uplot.css)}</style>
<style>${CSS}${COMPARE_CSS}</style>
</head>
<body>
<main>
${renderRuns(runs, model)}
${renderWarnings(runs, result, model)}
${renderChanges(runs, result, model)}
${renderFigures(runs, result, model)}
${renderHosts(runs, result, model)}
${renderFailIf(runs, result, model)}
${renderVerdicts(runs, result, model)}
<h2>Timelines, overlaid</h2>
<noscript>The charts need JavaScript.</noscript>
<div id="charts"></div>
<footer>Generated by portstorm ${e(version)}. The chart data and the comparison are embedded in this file (script#portstorm-compare-data).</footer>
</main>
<script type="application/json" id="portstorm-compare-data">${jsonForScript({ ...model, result })}</script>
<script>${inlineScript(uplot.js)}</script>
<script>${inlineScript(COMPARE_CLIENT_SCRIPT)}</script>
</body>
</html>
`;
}
