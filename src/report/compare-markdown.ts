/**
 * The Markdown rendering of a CompareResult (GitHub-flavoured), for a CI job summary
 * (`$GITHUB_STEP_SUMMARY`) or a pull-request comment.
 */
import type { CompareResult } from '../compare/types.js';
import {
  ASSESSMENT_MARK,
  formatDelta,
  formatPct,
  formatSetting,
  formatTest,
  formatValue,
  formatVerdicts,
  HOST_FIGURES,
  hostPair,
  hostPresence,
  showsHosts,
} from './compare-text.js';
import { escapeCell } from './markdown.js';

function table(header: string[], rows: string[][], align?: Array<'l' | 'r'>): string {
  const sep = header.map((_, i) => (align?.[i] === 'r' ? '---:' : '---'));
  return [header, sep, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

/** Inline code for a table cell: backticks chosen to survive the text, pipes escaped. */
function code(s: string): string {
  const ticks = '`'.repeat(Math.max(1, ...[...s.matchAll(/`+/g)].map((m) => m[0].length + 1)));
  const padded = s.startsWith('`') || s.endsWith('`') ? ` ${s} ` : s;
  return `${ticks}${padded.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')}${ticks}`;
}

/** Renders the comparison as Markdown: changes, warnings, a table per candidate, verdicts, the
 * noise-test note and the fail-if results. */
export function renderCompareMarkdown(result: CompareResult): string {
  const base = result.runs[0]!;
  const out: string[] = [
    `# portstorm compare: ${escapeCell(base.name)} vs ${result.candidates.map((c) => escapeCell(c.run.name)).join(', ')}`,
    '',
    table(
      ['role', 'run', 'scenario', 'started', 'duration', 'status'],
      result.runs.map((r) => [
        r.index === 0 ? 'baseline' : 'candidate',
        code(r.name),
        escapeCell(r.scenarioName),
        escapeCell(r.startedAt),
        `${r.figures.durationS.toFixed(1)} s`,
        r.status,
      ]),
    ),
    '',
    '## What changed',
    '',
  ];
  for (const c of result.candidates) {
    if (result.candidates.length > 1) out.push(`**${escapeCell(c.run.name)}** vs baseline`, '');
    if (c.changes.length === 0) out.push('Nothing: same scenario, host settings and version.', '');
    else {
      const rows = c.changes.map((ch) => [ch.kind, code(ch.path), code(formatSetting(ch.baseline)), code(formatSetting(ch.candidate))]);
      out.push(table(['kind', 'setting', 'baseline', 'candidate'], rows), '');
    }
  }
  if (result.warnings.length > 0) {
    out.push('## Warnings', '', '> [!WARNING]', '> These runs may not be comparable:');
    for (const w of result.warnings) out.push(`> - ${escapeCell(w.message)}`);
    out.push('');
  }
  for (const c of result.candidates) {
    out.push(`## ${escapeCell(c.run.name)} vs baseline ${escapeCell(base.name)}`, '');
    const rows = c.metrics.map((m) => [
      escapeCell(m.label),
      formatValue(m, m.baseline),
      formatValue(m, m.candidate),
      formatDelta(m),
      formatPct(m.deltaPct),
      ASSESSMENT_MARK[m.assessment],
      escapeCell(formatTest(m)),
    ]);
    out.push(table(['metric', 'baseline', 'candidate', 'Δ', 'Δ %', 'assessment', 'test'], rows, ['l', 'r', 'r', 'r', 'r', 'l', 'l']), '');
    if (showsHosts(c)) {
      out.push(`### Hosts (${escapeCell(c.run.name)} vs baseline, matched by name)`, '');
      const hostRows = (c.hosts ?? []).map((h) => [code(h.name), hostPresence(h), ...HOST_FIGURES.map((f) => escapeCell(hostPair(h, f.value)))]);
      out.push(table(['host', 'observed in', ...HOST_FIGURES.map((f) => `${f.label} (baseline → candidate)`)], hostRows), '');
      out.push('_Host figures are peaks, one a run: side by side, not noise-tested._', '');
    }
  }
  out.push('## Verdicts', '');
  const verdictRows = result.runs.map((r) => {
    const c = result.candidates.find((x) => x.run.index === r.index);
    return [code(r.name), escapeCell(formatVerdicts(r)), c ? c.verdicts.assessment : 'baseline'];
  });
  out.push(table(['run', 'verdicts', 'vs baseline'], verdictRows), '');
  out.push('## Noise test', '', ...result.noise.description.map((d) => `- ${escapeCell(d)}`), '');
  if (result.failIf.length > 0) {
    out.push('## fail-if', '');
    const num = (v: number | null) => (v === null ? 'n/a' : `${+v.toPrecision(6)}`);
    const rows = result.failIf.map((f) => [
      f.holds ? '❌ holds' : f.skipped ? `⏭️ ${escapeCell(f.skipped)}` : '✅ ok',
      code(f.rule),
      code(f.candidate.name),
      num(f.actual),
      num(f.baseline),
      num(f.limit),
    ]);
    out.push(table(['result', 'rule', 'run', 'actual', 'baseline', 'limit'], rows, ['l', 'l', 'l', 'r', 'r', 'r']), '');
  }
  return out.join('\n');
}
