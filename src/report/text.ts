/** The plain-text summary of a run record, as printed at the end of `portstorm run`. */
import type { LatencySummary, RunRecord } from '../record/types.js';

const fmtMs = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

function latencyLine(name: string, l: LatencySummary): string {
  return `  ${name.padEnd(22)} p50 ${fmtMs(l.p50)}  p90 ${fmtMs(l.p90)}  p99 ${fmtMs(l.p99)}  p99.9 ${fmtMs(l.p999)}  max ${fmtMs(l.max)} ms`;
}

/** Renders the run summary; `file` is where the record was written. */
export function renderTextSummary(r: RunRecord, file: string | null): string {
  const t = r.totals;
  const rate = r.durationS > 0 ? t.completed / r.durationS : 0;
  const newConn = r.durationS > 0 ? t.connectionsOpened / r.durationS : 0;
  const lines = [
    `portstorm ${r.status === 'completed' ? 'run complete' : `run ${r.status}`}: ${r.scenario.name}${r.label ? ` [${r.label}]` : ''}`,
    `  target                 ${r.target.url}${r.target.builtin ? ' (built-in)' : ''}  ${r.scenario.protocol}, reuse ${r.scenario.connection.reuse}, close ${r.scenario.connection.close}`,
    `  duration               ${r.durationS.toFixed(1)} s on ${r.workers} worker${r.workers === 1 ? '' : 's'}`,
    `  requests               ${t.attempted} attempted, ${t.completed} completed, ${t.failed} failed, ${t.dropped} dropped`,
    `  throughput             ${rate.toFixed(1)} completed/s, ${newConn.toFixed(1)} new connections/s (${t.connectionsOpened} opened)`,
  ];
  const errors = Object.entries(r.errorsByPhase).sort((a, b) => b[1] - a[1]);
  if (errors.length > 0) {
    lines.push(`  errors                 ${errors.map(([k, n]) => `${k.split(':')[1]} ${n} (${k.split(':')[0]})`).join(', ')}`);
  } else lines.push('  errors                 none');
  lines.push(latencyLine('latency (corrected)', r.latencyMs));
  lines.push(latencyLine('latency (uncorrected)', r.latencyUncorrectedMs));
  lines.push(latencyLine('connect', r.connectMs));
  for (const th of r.thresholds) {
    lines.push(`  threshold ${th.passed ? 'ok  ' : 'FAIL'}         ${th.expr} (actual ${th.actual ?? 'n/a'})`);
  }
  if (file) lines.push(`  results                ${file}`);
  return lines.join('\n') + '\n';
}
