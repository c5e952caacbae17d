/** The plain-text summary of a run record, as printed at the end of `portstorm run`. */
import type { LatencySummary, RunRecord } from '../record/types.js';
import { hasOtherHosts, hostsWithPeaks, verdictHost } from '../analysis/host-peaks.js';
import { hostClock, hostCoverage, hostFrom, hostTimeWait, hostUtilization } from './host-lines.js';
import { baselineLine, otherTrafficLine, portsHeadline } from './ports-lines.js';
import { partialNote, statusLabel } from './status.js';
import { busiestShard, shardsLine } from './shards-lines.js';
import { topologyLines, topologyOf } from './topology-lines.js';
import { dnsSummaryOf, handshakeCounts, lookupCounts, resolutionLine, tlsSettingsLine, tlsSummaryOf } from './tls-lines.js';
import { msValue, num, orDash, pct, perSecond, sec, thresholdValue } from '../vocab/format.js';

const fmtMs = (v: number): string => msValue(v);

function latencyLine(name: string, l: LatencySummary): string {
  return `  ${name.padEnd(22)} p50 ${fmtMs(l.p50)}  p90 ${fmtMs(l.p90)}  p99 ${fmtMs(l.p99)}  p99.9 ${fmtMs(l.p999)}  max ${fmtMs(l.max)} ms`;
}

const INDENT = ' '.repeat(25);

/** Hosts the summary lists (a merge of many shards has one per shard). */
const MAX_HOSTS = 12;

/**
 * Every observed host, two or three lines each: who it is and where it was seen from, its peaks,
 * and its coverage and gaps when it missed part of the run. Empty for a record of the client alone.
 */
function hostLines(r: RunRecord): string[] {
  const hosts = hostsWithPeaks(r);
  if (hosts.length < 2) return [];
  const out: string[] = [];
  hosts.slice(0, MAX_HOSTS).forEach((h, i) => {
    const clock = h.clock.method === 'local' ? '' : `, ${hostClock(h)}`;
    out.push(`${i === 0 ? '  hosts'.padEnd(25) : INDENT}${h.name} (${h.role}) from ${hostFrom(h)}${clock}`);
    out.push(`${INDENT}  ${hostUtilization(h.peaks)}; ${hostTimeWait(h.peaks)}`);
    const coverage = hostCoverage(h);
    if (coverage) out.push(`${INDENT}  coverage ${coverage}`);
    for (const gap of h.gaps) out.push(`${INDENT}  gap: ${gap}`);
  });
  if (hosts.length > MAX_HOSTS) out.push(`${INDENT}and ${hosts.length - MAX_HOSTS} more hosts (every one in report --format html)`);
  return out;
}

/** Renders the run summary; `file` is where the record was written. */
export function renderTextSummary(r: RunRecord, file: string | null, html: string | null = null): string {
  const t = r.totals;
  const rate = r.durationS > 0 ? t.completed / r.durationS : 0;
  const newConn = r.durationS > 0 ? t.connectionsOpened / r.durationS : 0;
  const lines = [
    `portstorm ${r.status === 'completed' ? 'run complete' : `run ${statusLabel(r.status)}`}: ${r.scenario.name}${r.label ? ` [${r.label}]` : ''}`,
    `  target                 ${r.target.url}${r.target.builtin ? ' (built-in)' : ''}  ${r.scenario.protocol}, reuse ${r.scenario.connection.reuse}, close ${r.scenario.connection.close}`,
    `  duration               ${sec(r.durationS)} on ${r.workers} worker${r.workers === 1 ? '' : 's'}${r.engine?.engine === 'native' ? ', native connection engine' : ''}`,
        // Raw counts on these two lines: test/e2e/package.test.ts and test/integration/lab.test.ts read them as \d+.
    `  requests               ${num(t.attempted)} attempted, ${num(t.completed)} completed, ${num(t.failed)} failed, ${num(t.dropped)} dropped`,
    `  throughput             ${perSecond(rate)} completed/s, ${perSecond(newConn)} new connections/s (${num(t.connectionsOpened)} opened)`,
  ];
  if (r.shard) {
    const late = r.shard.startAt === null ? '' : `; start at ${r.shard.startAt}, ${r.shard.lateMs === null ? 'not started' : `${r.shard.lateMs} ms late`}`;
    lines.splice(2, 0, `  shard                  ${r.shard.index}/${r.shard.count}: ${r.shard.split}${late}`);
  }
  const resolved = resolutionLine(r);
  if (resolved) lines.splice(2, 0, `  resolved               ${resolved}`);
  const partial = partialNote(r);
  if (partial) lines.splice(1, 0, `  partial                ${partial}`);
  const shards = shardsLine(r);
  if (shards) lines.splice(1, 0, `  shards                 ${shards}`);
  const errors = Object.entries(r.errorsByPhase).sort((a, b) => b[1] - a[1]);
  if (errors.length > 0) {
    lines.push(`  errors                 ${errors.map(([k, n]) => `${k.split(':')[1]} ${num(n)} (${k.split(':')[0]})`).join(', ')}`);
  } else lines.push('  errors                 none');
  lines.push(latencyLine('latency (corrected)', r.latencyMs));
  lines.push(latencyLine('latency (uncorrected)', r.latencyUncorrectedMs));
  lines.push(latencyLine('connect', r.connectMs));
  const handshakes = handshakeCounts(r);
  if (handshakes !== null) {
    const tls = tlsSummaryOf(r);
    lines.push(tls ? `${latencyLine('tls', tls)}  (${handshakes})` : `  ${'tls'.padEnd(22)} ${handshakes}`);
    lines.push(`  ${'tls settings'.padEnd(22)} ${tlsSettingsLine(r)}`);
  }
  const lookups = lookupCounts(r);
  if (lookups !== null) {
    const dns = dnsSummaryOf(r);
    lines.push(dns ? `${latencyLine('dns', dns)}  (${lookups})` : `  ${'dns'.padEnd(22)} ${lookups}`);
  }
  const headline = portsHeadline(r);
  if (headline) {
    const busiest = busiestShard(r);
    lines.push(`  ports                  ${headline}${busiest ? ` (${busiest}, the busiest shard)` : ''}`);
    const other = otherTrafficLine(r);
    if (other) lines.push(`  ${other}`);
    const before = baselineLine(r);
    if (before) lines.push(`  baseline               ${before}`);
  } else if (!r.monitor.enabled) lines.push('  ports                  not monitored (monitor.enabled: false)');
  else lines.push(`  ports                  unknown: ${Object.values(r.monitor.unavailable).join('; ') || 'no socket source'}`);
  const topology = topologyOf(r);
  if (topology) topologyLines(topology).forEach((l, i) => lines.push(`${i === 0 ? '  topology'.padEnd(25) : INDENT}${l}`));
  lines.push(...hostLines(r));
  const ex = r.exhaustion;
  if (ex?.firstAtS != null) {
    const predicted = ex.predictedAtS === null ? '' : `, predicted ${sec(ex.predictedAtS)}`;
    const warning = ex.earlyWarningAtS === null ? '' : `, early warning ${sec(ex.earlyWarningAtS)}`;
    lines.push(`  exhaustion             first at ${sec(ex.firstAtS, 2)}${predicted}${warning}`);
  }
  const multiHost = hasOtherHosts(r);
  for (const v of r.diagnosis ?? []) {
    const on = verdictHost(v, multiHost);
    lines.push(`  verdict                ${v.verdict}${on === null ? '' : ` on ${on}`} (${v.severity}, confidence ${v.confidence.toFixed(2)}${v.atS === null ? '' : `, from ${sec(v.atS)}`})`);
    for (const e of v.evidence.slice(0, 3)) lines.push(`                           - ${e}`);
    if (v.advice[0]) lines.push(`                           → ${v.advice[0]}`);
  }
  for (const th of r.thresholds) {
    lines.push(`  threshold ${th.passed ? 'ok  ' : 'FAIL'}         ${th.expr} (actual ${thresholdValue(th.actual)})`);
  }
  if (file) lines.push(`  results                ${file}`);
  if (html) lines.push(`  report                 ${html}`);
  return lines.join('\n') + '\n';
}
