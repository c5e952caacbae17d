/**
 * The Markdown summary of a run record (GitHub-flavoured), for a CI job summary
 * (`$GITHUB_STEP_SUMMARY`) or a pull-request comment.
 */
import type { LatencySummary, RunRecord, Verdict } from '../record/types.js';
import { hasOtherHosts, hostsWithPeaks, verdictHost } from '../analysis/host-peaks.js';
import { hostsAlongPath, natText, pathText, predictionText, rangeText, topologyOf } from './topology-lines.js';
import { verdictTitle } from './html.js';
import { hostClock, hostCoverage, hostFrom, hostSettings } from './host-lines.js';
import { baselineLine, otherTrafficLine } from './ports-lines.js';
import { partialNote, statusLabel } from './status.js';
import { shardsLine } from './shards-lines.js';
import { dnsSummaryOf, handshakeCounts, lookupCounts, resolutionLine, tlsSettingsLine, tlsSummaryOf } from './tls-lines.js';
import { dec, msValue, num, orDash, pct as share, perSecond, sec as seconds, thresholdValue } from '../vocab/format.js';

/** Escapes text for a GFM table cell: pipes, line breaks, and HTML tags (rendered as text). */
export function escapeCell(s: string): string {
  return escapeText(s).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** Escapes text for Markdown prose: HTML is shown, not interpreted. */
function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Inline code that survives any backticks or pipes in the text (pipes still need escaping in a table). */
function code(s: string, inTable = false): string {
  const ticks = '`'.repeat(Math.max(1, ...[...s.matchAll(/`+/g)].map((m) => m[0].length + 1)));
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  const body = inTable ? s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ') : s.replace(/\r?\n/g, ' ');
  return `${ticks}${pad}${body}${pad}${ticks}`;
}

function table(header: string[], rows: string[][], align?: Array<'l' | 'r'>): string {
  const sep = header.map((_, i) => (align?.[i] === 'r' ? '---:' : '---'));
  return [header, sep, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

// The shared formats (vocab/format.ts), with – where there is no figure.
const int = (v: number | null | undefined): string => orDash(v, num);
const ms = (v: number | null | undefined): string => orDash(v, msValue);
const pct = (v: number | null | undefined): string => orDash(v, share);
const sec = (v: number | null | undefined): string => orDash(v, (x) => seconds(x));
const numOr = (v: number | null | undefined, digits = 1): string => orDash(v, (x) => dec(x, digits));

const SEVERITY_ICON: Record<Verdict['severity'], string> = { critical: '🔴', warning: '🟠', info: '🔵' };

function verdictSection(v: Verdict, multiHost: boolean): string {
  const on = verdictHost(v, multiHost);
  const lines = [
    `### ${SEVERITY_ICON[v.severity] ?? ''} ${escapeText(verdictTitle(v.verdict))} (${code(v.verdict)})${on === null ? '' : ` on ${code(on)}`}`,
    '',
    `${on === null ? '' : `**Host:** ${code(on)} · `}**Severity:** ${v.severity} · **Confidence:** ${pct(v.confidence)} · **From:** ${v.atS === null ? 'whole run' : `t = ${sec(v.atS)}`}`,
    '',
    '**Evidence**',
    '',
    ...(v.evidence.length ? v.evidence.map((s) => `- ${escapeText(s).replace(/\r?\n/g, ' ')}`) : ['- none']),
    '',
    '**Advice**',
    '',
    ...(v.advice.length ? v.advice.map((s) => `- ${escapeText(s).replace(/\r?\n/g, ' ')}`) : ['- none']),
  ];
  return lines.join('\n');
}

/** Every observed host in one table (with its gaps below), for a record with more than the client; empty otherwise. */
function hostsSection(r: RunRecord): string[] {
  const hosts = hostsWithPeaks(r);
  if (hosts.length < 2) return [];
  const rows = hosts.map((h) => {
    const p = h.peaks;
    return [
      code(h.name, true),
      h.role,
      escapeCell(hostFrom(h)),
      escapeCell(hostClock(h)),
      pct(p.peakUtilization),
      p.busiestDestination ? code(p.busiestDestination, true) : '–',
      int(p.clientTimeWait),
      int(p.serverTimeWait),
      escapeCell(hostCoverage(h) ?? 'whole run'),
      escapeCell(hostSettings(h)),
    ];
  });
  const out = [
    '',
    '## Hosts',
    '',
    table(
      ['Host', 'Role', 'Observed from', 'Clock', 'Peak utilization', 'Busiest destination', 'Peak TIME_WAIT (client side)', 'Peak TIME_WAIT (server side)', 'Coverage', 'Settings'],
      rows,
      ['l', 'l', 'l', 'l', 'r', 'l', 'r', 'r', 'l', 'l'],
    ),
  ];
  const gaps = hosts.flatMap((h) => h.gaps.map((g) => `- ${code(h.name)}: ${escapeText(g).replace(/\r?\n/g, ' ')}`));
  if (gaps.length) out.push('', '**Gaps** (seconds a host was not seen are gaps, never zeros)', '', ...gaps);
  return out;
}

/** A lab topology's path, hosts (role, addresses, port range, what runs there), NAT and prediction; empty without one. */
function topologySection(r: RunRecord): string[] {
  const t = topologyOf(r);
  if (!t) return [];
  const rows = hostsAlongPath(t).map((h) => [code(h.name, true), h.role, escapeCell(h.addresses.join(', ') || '–'), escapeCell(rangeText(h.portRange)), escapeCell(h.runs)]);
  const out = ['', '## Topology', '', escapeText(pathText(t)), '', table(['Host', 'Role', 'Addresses', 'Port range', 'Runs'], rows)];
  if (t.nat) out.push('', `**NAT**: ${escapeText(natText(t.nat))}`);
  if (t.prediction) out.push('', `**Model**: ${escapeText(predictionText(t.prediction))}; ${escapeText(t.prediction.reason)}`);
  return out;
}

/** Renders the record as GitHub-flavoured Markdown. */
export function renderMarkdown(r: RunRecord): string {
  const t = r.totals;
  const d = r.durationS;
  const out: string[] = [];
  const status = r.status === 'completed' ? 'completed' : `**${statusLabel(r.status)}**`;
  const partial = partialNote(r);
  const failedThresholds = r.thresholds.filter((th) => !th.passed).length;

  out.push(`# portstorm: ${escapeText(r.scenario.name)}${r.label ? ` — ${escapeText(r.label)}` : ''}`);
  out.push('');
  out.push(
    [
      `**Run** ${code(r.runId)}`,
      `**Target** ${code(r.target.url)}${r.target.builtin ? ' (built-in)' : ''}`,
      ...((resolved) => (resolved ? [`**Resolved** ${escapeText(resolved)}`] : []))(resolutionLine(r)),
      `**Started** ${escapeText(r.startedAt)}`,
      `**Duration** ${seconds(d)}`,
      `**Status** ${status}`,
      ...((shards) => (shards ? [`**Shards** ${escapeText(shards)}`] : []))(shardsLine(r)),
    ].join(' · '),
  );
  if (partial) out.push('', `> ⚠️ ${escapeText(partial[0]!.toUpperCase() + partial.slice(1))}.`);
  const multiHost = hasOtherHosts(r);
  const top = r.diagnosis?.[0];
  if (top) {
    const on = verdictHost(top, multiHost);
    out.push('');
    out.push(`> ${SEVERITY_ICON[top.severity] ?? ''} **${escapeText(verdictTitle(top.verdict))}**${on === null ? '' : ` on ${code(on)}`} (${top.severity}, confidence ${pct(top.confidence)})`);
  }

  out.push('', '## Totals', '');
  const done = t.completed + t.failed;
  out.push(
    table(
      ['Attempted', 'Completed', 'Failed', 'Dropped', 'Connections opened', 'Completed/s', 'New connections/s'],
      [
        [
          int(t.attempted),
          int(t.completed),
          `${int(t.failed)}${done > 0 ? ` (${pct(t.failed / done)})` : ''}`,
          int(t.dropped),
          int(t.connectionsOpened),
          d > 0 ? perSecond(t.completed / d) : '–',
          d > 0 ? perSecond(t.connectionsOpened / d) : '–',
        ],
      ],
      ['r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
  );

  out.push('', '## Errors by code', '');
  const errors = Object.entries(r.errors).sort((a, b) => b[1] - a[1]);
  if (errors.length === 0) out.push('No errors.');
  else {
    const phases = (c: string): string =>
      Object.entries(r.errorsByPhase)
        .filter(([k]) => k.split(':')[1] === c)
        .map(([k, n]) => `${k.split(':')[0]} ${int(n)}`)
        .join(', ');
    out.push(table(['Code', 'Count', 'Phase'], errors.map(([c, n]) => [code(c, true), int(n), escapeCell(phases(c))]), ['l', 'r', 'l']));
  }

  out.push('', '## Latency (ms)', '');
  const latRow = (name: string, l: LatencySummary): string[] => [name, ms(l.p50), ms(l.p90), ms(l.p99), ms(l.p999), ms(l.max), int(l.count)];
  const noneRow = (name: string): string[] => [name, '–', '–', '–', '–', '–', '0'];
  const rows = [latRow('corrected', r.latencyMs), latRow('uncorrected', r.latencyUncorrectedMs), latRow('connect', r.connectMs)];
  const handshakes = handshakeCounts(r);
  if (handshakes !== null) rows.push(((s) => (s ? latRow('tls handshake', s) : noneRow('tls handshake')))(tlsSummaryOf(r)));
  const lookups = lookupCounts(r);
  if (lookups !== null) rows.push(((s) => (s ? latRow('dns lookup', s) : noneRow('dns lookup')))(dnsSummaryOf(r)));
  out.push(table(['', 'p50', 'p90', 'p99', 'p99.9', 'max', 'count'], rows, ['l', 'r', 'r', 'r', 'r', 'r', 'r']));
  if (handshakes !== null) out.push('', `**TLS:** ${escapeText(handshakes)}; ${escapeText(tlsSettingsLine(r) ?? '')}.`);
  if (lookups !== null) out.push('', `**DNS:** ${escapeText(lookups)}.`);

  out.push('', '## Ports', '');
  const p = r.ports;
  if (!r.monitor.enabled) out.push('_The monitor was off for this run: no socket figures._', '');
  else if (!p) out.push('_The monitor found no working socket source: no socket figures._', '');
  const unavailable = Object.entries(r.monitor.unavailable ?? {});
  if (unavailable.length) out.push(`_Not available: ${unavailable.map(([k, why]) => `${escapeText(k)} (${escapeText(why)})`).join('; ')}._`, '');
  out.push(
    table(
      ['Usable ports', 'Peak in use', 'Peak utilization', 'Peak TIME_WAIT', 'Busiest destination'],
      [
        [
          ((u) => (u === null ? '–' : num(u)))(p?.usable ?? r.host.usablePorts),
          p ? num(p.peakInUse) : '–',
          p && p.peakUtilization !== null ? share(p.peakUtilization) : '–',
          p ? num(p.peakTimeWait) : '–',
          p?.busiestDestination ? code(p.busiestDestination, true) : '–',
        ],
      ],
      ['r', 'r', 'r', 'r', 'l'],
    ),
  );
  if (p && r.ownDestinations?.length) out.push('', `_These figures are about this run's own destinations: ${r.ownDestinations.map((d) => code(d)).join(', ')}._`);
  for (const line of [otherTrafficLine(r), baselineLine(r)]) if (line) out.push('', `${escapeText(line[0]!.toUpperCase() + line.slice(1))}.`);

  out.push(...topologySection(r));
  out.push(...hostsSection(r));

  const x = r.exhaustion;
  if (x) {
    out.push('', '## Exhaustion timing', '');
    out.push(
      table(
        ['Early warning', 'Onset', 'Predicted', 'Onset − predicted', 'Utilization at onset', 'Error rate after', 'Sustainable conn/s', 'Peak conn/s'],
        [[sec(x.earlyWarningAtS), sec(x.firstAtS), sec(x.predictedAtS), sec(x.onsetVsPredictionS), pct(x.utilizationAtFirst), pct(x.errorRateAfter), numOr(x.sustainableRate), numOr(x.peakConnectionRate)]],
        ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
    );
  }

  if (r.thresholds.length) {
    out.push('', `## Thresholds (${failedThresholds === 0 ? 'all passed' : `${failedThresholds} failed`})`, '');
    out.push(
      table(
        ['Result', 'Threshold', 'Actual'],
        r.thresholds.map((th) => [th.passed ? '✅ pass' : '❌ fail', code(th.expr, true), thresholdValue(th.actual)]),
        ['l', 'l', 'r'],
      ),
    );
  }

  if (r.diagnosis && r.diagnosis.length) {
    out.push('', '## Diagnosis', '');
    out.push(r.diagnosis.map((v) => verdictSection(v, multiHost)).join('\n\n'));
  }
  return out.join('\n') + '\n';
}
