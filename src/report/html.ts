/**
 * The HTML report of a run record: one self-contained file (uPlot's JS and CSS inlined, the
 * record embedded as JSON, no network needed to open it) with the summary, the diagnosis and
 * cursor-synced charts over the run's timeline.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Exhaustion, LatencySummary, RunRecord, Verdict } from '../record/types.js';
import { hasOtherHosts, verdictHost } from '../analysis/host-peaks.js';
import { escapeHtml } from './html-escape.js';
import { HTML_CLIENT_SCRIPT } from './html-client.js';
import { renderHosts, renderHostSettings } from './html-hosts.js';
import { renderTopology, TOPOLOGY_CSS } from './html-topology.js';
import { baselineLine, otherTrafficLine, portsHeadline } from './ports-lines.js';
import { partialNote, statusClass, statusLabel } from './status.js';
import { shardsLine } from './shards-lines.js';
import { dnsSummaryOf, handshakeCounts, hasTlsOrDns, lookupCounts, resolutionLine, tlsSettingsLine, tlsSummaryOf } from './tls-lines.js';
import { dec, msValue, num, orDash, pct, perSecond, rate, sec, thresholdValue } from '../vocab/format.js';

const require = createRequire(import.meta.url);

let uplotAssets: { js: string; css: string } | null = null;

/** uPlot's browser build and stylesheet, read once from node_modules. */
export function loadUplot(): { js: string; css: string } {
  if (!uplotAssets) {
    uplotAssets = {
      js: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
      css: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    };
  }
  return uplotAssets;
}

export { escapeHtml } from './html-escape.js';

/** JSON that is safe inside a `<script>` element: no `<`, `>` or `&` can end or confuse it. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Script source made safe to inline: a literal `</script` or `<!--` cannot end the element. */
export function inlineScript(src: string): string {
  return src.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

/** Stylesheet text made safe to inline: a literal `</style` cannot end the element. */
export function inlineStyle(src: string): string {
  return src.replace(/<\/(style)/gi, '<\\/$1');
}

const e = escapeHtml;

function fmtMs(v: number | null | undefined): string {
  return orDash(v, msValue);
}

function fmtInt(v: number | null | undefined): string {
  return orDash(v, num);
}

function fmtPct(v: number | null | undefined): string {
  return orDash(v, pct);
}

function fmtS(v: number | null | undefined): string {
  return orDash(v, (x) => sec(x));
}

function fmtNum(v: number | null | undefined, digits = 1): string {
  return orDash(v, (x) => dec(x, digits));
}

/** A two-column table of label / value rows (values are already HTML). */
function kvTable(rows: Array<[string, string]>, cls = 'kv'): string {
  return `<table class="${cls}"><tbody>${rows.map(([k, v]) => `<tr><th scope="row">${e(k)}</th><td>${v}</td></tr>`).join('')}</tbody></table>`;
}

const VERDICT_TITLES: Record<string, string> = {
  'client-port-exhaustion': 'Client port exhaustion',
  'server-time-wait': 'Server-side TIME_WAIT',
  'fd-exhaustion': 'File descriptor exhaustion',
  'listen-backlog-overflow': 'Listen backlog overflow',
  'target-unreachable': 'Target unreachable',
  'conntrack-full': 'Conntrack table full',
  'time-wait-bucket-overflow': 'TIME_WAIT bucket overflow',
  'other-failures': 'Other failures',
  'source-address-unavailable': 'Source address unavailable',
  'tls-handshake-bound': 'CPU-bound on TLS handshakes',
  'tls-failures': 'TLS handshake failures',
  'dns-failures': 'DNS lookup failures',
  'upstream-port-exhaustion': 'Upstream port exhaustion',
  healthy: 'Healthy',
};

/** The human title of a verdict id (the id itself for ids this renderer does not know). */
export function verdictTitle(id: string): string {
  return VERDICT_TITLES[id] ?? id;
}

function renderHeader(r: RunRecord): string {
  const sc = r.scenario;
  const partial = partialNote(r);
  const h = r.host;
  const range = h.portRange ? `${h.portRange[0]}–${h.portRange[1]}` : '–';
  const rows: Array<[string, string]> = [
    ['Run id', `<code>${e(r.runId)}</code>`],
    ['Target', `<code>${e(r.target.url)}</code>${r.target.builtin ? ' (built-in)' : ''}`],
    ...((res): Array<[string, string]> => (res ? [['Resolved', e(res)]] : []))(resolutionLine(r)),
    ['Connections', e(`${sc.protocol}, reuse ${sc.connection.reuse}, close ${sc.connection.close}`)],
    ['Started at', e(r.startedAt)],
    ['Duration', e(`${sec(r.durationS)} on ${r.workers} worker${r.workers === 1 ? '' : 's'}`)],
    ['Status', `<span class="badge ${statusClass(r.status)}">${e(statusLabel(r.status))}</span>${partial ? ` <span class="muted">${e(partial)}</span>` : ''}`],
    ...((shards): Array<[string, string]> => (shards ? [['Shards', e(shards)]] : []))(shardsLine(r)),
    [r.shards ? 'Host (the busiest shard)' : hasOtherHosts(r) ? 'Host (client)' : 'Host', e(`${h.platform} ${h.kernel}, node ${h.node}, ${h.cpus} CPUs, ports ${range}, tcp_tw_reuse ${h.tcpTwReuse ?? '–'}`)],
    ['portstorm', e(r.portstormVersion)],
  ];
  return `<header>
<h1>portstorm report: ${e(sc.name)}${r.label ? ` <span class="label">${e(r.label)}</span>` : ''}</h1>
${kvTable(rows, 'kv meta')}
</header>`;
}

function renderVerdict(v: Verdict, multiHost: boolean): string {
  const at = v.atS === null ? 'whole run' : `from t = ${fmtS(v.atS)}`;
  const list = (items: string[]): string => (items.length ? `<ul>${items.map((s) => `<li>${e(s)}</li>`).join('')}</ul>` : '<p class="muted">none</p>');
  const on = verdictHost(v, multiHost);
  const host = on === null ? '' : ` <span class="host-tag">on <b>${e(on)}</b></span>`;
  return `<article class="verdict sev-${e(v.severity)}" data-verdict="${e(v.verdict)}"${on === null ? '' : ` data-host="${e(on)}"`}>
<h3><span class="badge sev-${e(v.severity)}">${e(v.severity)}</span> ${e(verdictTitle(v.verdict))}${host} <span class="muted">(${e(v.verdict)})</span></h3>
<p class="verdict-meta">confidence ${fmtPct(v.confidence)} · ${e(at)}</p>
<div class="verdict-body"><div><h4>Evidence</h4>${list(v.evidence)}</div><div><h4>Advice</h4>${list(v.advice)}</div></div>
</article>`;
}

function renderDiagnosis(r: RunRecord): string {
  if (!r.diagnosis || r.diagnosis.length === 0) return '';
  const multiHost = hasOtherHosts(r);
  return `<section id="diagnosis"><h2>Diagnosis</h2>${r.diagnosis.map((v) => renderVerdict(v, multiHost)).join('\n')}</section>`;
}

function renderExhaustion(x: Exhaustion | undefined): string {
  if (!x) return '';
  const c = x.correlation ?? { utilizationVsErrorRate: null, utilizationVsLatencyP99: null };
  return `<section id="exhaustion" class="card"><h2>Port exhaustion timing</h2>${kvTable([
    ['Early warning (connect latency rose)', `${fmtS(x.earlyWarningAtS)}${x.utilizationAtWarning !== null ? ` at ${fmtPct(x.utilizationAtWarning)} utilization` : ''}`],
    ['Onset (first exhaustion error)', `${fmtS(x.firstAtS)}${x.utilizationAtFirst !== null ? ` at ${fmtPct(x.utilizationAtFirst)} utilization` : ''}`],
    ['Predicted by the capacity model', fmtS(x.predictedAtS)],
    ['Onset − prediction', fmtS(x.onsetVsPredictionS)],
    ['TIME_WAIT at onset', fmtInt(x.timeWaitAtFirst)],
    ['Error rate after onset', fmtPct(x.errorRateAfter)],
    ['Sustainable new connections/s', fmtNum(x.sustainableRate)],
    ['Peak new connections/s', fmtNum(x.peakConnectionRate)],
    ['Correlation: utilization vs error rate', fmtNum(c.utilizationVsErrorRate, 2)],
    ['Correlation: utilization vs p99 latency', fmtNum(c.utilizationVsLatencyP99, 2)],
  ])}</section>`;
}

function renderTotals(r: RunRecord): string {
  const t = r.totals;
  const d = r.durationS > 0 ? r.durationS : 0;
  const done = t.completed + t.failed;
  return `<section class="card"><h2>Totals</h2>${kvTable([
    ['Attempted', fmtInt(t.attempted)],
    ['Completed', fmtInt(t.completed)],
    ['Failed', `${fmtInt(t.failed)}${done > 0 ? ` (${fmtPct(t.failed / done)})` : ''}`],
    ['Dropped', fmtInt(t.dropped)],
    ['Connections opened', fmtInt(t.connectionsOpened)],
    ['Throughput', d > 0 ? `${perSecond(t.completed / d)} completed/s` : '–'],
    ['New connections', d > 0 ? rate(t.connectionsOpened / d) : '–'],
  ])}</section>`;
}

function renderErrors(r: RunRecord): string {
  const codes = Object.entries(r.errors).sort((a, b) => b[1] - a[1]);
  let body: string;
  if (codes.length === 0) body = '<p class="muted">No errors.</p>';
  else {
    const phases = (code: string): string =>
      Object.entries(r.errorsByPhase)
        .filter(([k]) => k.split(':')[1] === code)
        .map(([k, n]) => `${k.split(':')[0]} ${fmtInt(n)}`)
        .join(', ');
    body = `<table class="grid"><thead><tr><th>Code</th><th class="n">Count</th><th>Phase</th></tr></thead><tbody>${codes
      .map(([code, n]) => `<tr><td><code>${e(code)}</code></td><td class="n">${fmtInt(n)}</td><td>${e(phases(code))}</td></tr>`)
      .join('')}</tbody></table>`;
  }
  return `<section class="card"><h2>Errors by code</h2>${body}</section>`;
}

function renderLatency(r: RunRecord): string {
  const row = (name: string, l: LatencySummary): string =>
    `<tr><th scope="row">${e(name)}</th>${[l.p50, l.p90, l.p99, l.p999, l.max, l.mean].map((v) => `<td class="n">${fmtMs(v)}</td>`).join('')}<td class="n">${fmtInt(l.count)}</td></tr>`;
  const none = (name: string): string => `<tr><th scope="row">${e(name)}</th>${'<td class="n">–</td>'.repeat(6)}<td class="n">0</td></tr>`;
  const tls = tlsSummaryOf(r);
  const tlsRow = handshakeCounts(r) === null ? '' : tls ? row('tls handshake', tls) : none('tls handshake');
  const dns = dnsSummaryOf(r);
  const dnsRow = lookupCounts(r) === null ? '' : dns ? row('dns lookup', dns) : none('dns lookup');
  return `<section class="card wide"><h2>Latency (ms)</h2><table class="grid"><thead><tr><th></th><th class="n">p50</th><th class="n">p90</th><th class="n">p99</th><th class="n">p99.9</th><th class="n">max</th><th class="n">mean</th><th class="n">count</th></tr></thead><tbody>
${row('corrected', r.latencyMs)}${row('uncorrected', r.latencyUncorrectedMs)}${row('connect', r.connectMs)}${tlsRow}${row('time to first byte', r.ttfbMs)}${dnsRow}
</tbody></table></section>`;
}

/** The TLS settings and handshakes, and the lookups of a `dns: per-connection` run (the resolution is in the header). */
function renderTlsDns(r: RunRecord): string {
  if (!hasTlsOrDns(r)) return '';
  const rows: Array<[string, string]> = [];
  const handshakes = handshakeCounts(r);
  if (handshakes !== null) {
    const d = r.durationS;
    const n = r.totals.tlsHandshakes ?? 0;
    rows.push(['TLS handshakes', `${e(handshakes)}${d > 0 && n > 0 ? ` (${e(rate(n / d))})` : ''}`]);
    const settings = tlsSettingsLine(r) ?? '';
    const insecure = r.target.tls?.insecure ?? r.scenario.tls?.insecure ?? false;
    rows.push(['TLS settings', insecure ? `<span class="badge warn">insecure</span> ${e(settings)}` : e(settings)]);
  }
  const lookups = lookupCounts(r);
  if (lookups !== null) rows.push(['Lookups', e(lookups)]);
  if (rows.length === 0) return '';
  return `<section class="card" id="tls-dns"><h2>TLS and DNS</h2>${kvTable(rows)}</section>`;
}

function renderPorts(r: RunRecord): string {
  const p = r.ports;
  const usable = p?.usable ?? r.host.usablePorts;
  const rows: Array<[string, string]> = [
    ['Usable ephemeral ports', fmtInt(usable)],
    ['Peak utilization', p ? fmtPct(p.peakUtilization) : '–'],
    ['Peak in use (one destination)', p ? fmtInt(p.peakInUse) : '–'],
    ['Peak TIME_WAIT', p ? fmtInt(p.peakTimeWait) : '–'],
    [r.ownDestinations?.length ? 'Busiest own destination' : 'Busiest destination', p?.busiestDestination ? `<code>${e(p.busiestDestination)}</code>` : '–'],
    ['Monitor', r.monitor.enabled ? e(`${r.monitor.source ?? 'no socket source'}, ${r.monitor.scans} scans, ${r.monitor.samples} samples`) : 'off'],
  ];
  const headline = portsHeadline(r);
  const notes = [otherTrafficLine(r), baselineLine(r)].filter((x): x is string => x !== null);
  const lead = headline ? `<p class="headline" id="ports-headline">Ports: ${e(headline)}</p>` : '';
  const extra = notes.map((n) => `<p class="muted ports-note">${e(n[0]!.toUpperCase() + n.slice(1))}.</p>`).join('');
  return `<section class="card"><h2>Ports</h2>${lead}${kvTable(rows)}${extra}</section>`;
}

/** The busiest destinations, when there was more than one. */
function renderDestinations(r: RunRecord): string {
  if (r.destinations.length < 2) return '';
  const top = [...r.destinations].sort((a, b) => b.peakInUse - a.peakInUse).slice(0, 8);
  const more = r.destinations.length - top.length;
  return `<section class="card"><h2>Destinations (peaks)</h2><table class="grid"><thead><tr><th>Destination</th><th class="n">In use</th><th class="n">TIME_WAIT</th><th class="n">Utilization</th></tr></thead><tbody>${top
      .map((d) => `<tr><td><code>${e(d.dest)}</code></td><td class="n">${fmtInt(d.peakInUse)}</td><td class="n">${fmtInt(d.peakTimeWait)}</td><td class="n">${fmtPct(d.peakUtilization)}</td></tr>`)
      .join('')}</tbody></table>${more > 0 ? `<p class="muted">and ${more} more</p>` : ''}</section>`;
}

function renderThresholds(r: RunRecord): string {
  if (r.thresholds.length === 0) return '';
  return `<section class="card"><h2>Thresholds</h2><table class="grid"><thead><tr><th>Result</th><th>Threshold</th><th class="n">Actual</th></tr></thead><tbody>${r.thresholds
    .map((t) => `<tr><td><span class="badge ${t.passed ? 'ok' : 'bad'}">${t.passed ? 'pass' : 'fail'}</span></td><td><code>${e(t.expr)}</code></td><td class="n">${e(thresholdValue(t.actual))}</td></tr>`)
    .join('')}</tbody></table></section>`;
}

function renderMonitorNote(r: RunRecord): string {
  const m = r.monitor;
  const notes: string[] = [];
  if (!m.enabled) notes.push('The monitor was off for this run: there are no socket or port figures.');
  else if (m.source === null) notes.push('The monitor found no working socket source: there are no socket or port figures.');
  const unavailable = Object.entries(m.unavailable ?? {});
  if (unavailable.length === 0 && notes.length === 0) return '';
  const list = unavailable.length
    ? `<p>Not available:</p><ul>${unavailable.map(([k, why]) => `<li><code>${e(k)}</code>: ${e(why)}</li>`).join('')}</ul>`
    : '';
  return `<section class="note" id="monitor-note">${notes.map((n) => `<p>${e(n)}</p>`).join('')}${list}</section>`;
}

function renderErrorSamples(r: RunRecord): string {
  if (!r.errorSamples || r.errorSamples.length === 0) return '';
  return `<section class="card wide"><h2>Sample failures</h2><table class="grid"><thead><tr><th>t (s)</th><th>Code</th><th>Phase</th><th>Local port</th><th>Message</th></tr></thead><tbody>${r.errorSamples
    .map((s) => `<tr><td class="n">${fmtNum(s.t, 3)}</td><td><code>${e(s.code)}</code></td><td>${e(s.phase)}</td><td class="n">${s.localPort ?? '–'}</td><td>${e(s.message)}</td></tr>`)
    .join('')}</tbody></table></section>`;
}

/** The report pages' stylesheet (shared by the run and the compare report). */
export const CSS = `
*,*::before,*::after{box-sizing:border-box}
body{margin:0;padding:24px 32px 48px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#212529;background:#f8f9fa}
main{max-width:1400px;margin:0 auto}
h1{font-size:22px;margin:0 0 12px}
h2{font-size:16px;margin:0 0 8px}
h3{font-size:15px;margin:0 0 6px}
h4{font-size:13px;margin:6px 0 4px;color:#495057;text-transform:uppercase;letter-spacing:.03em}
code{font:12.5px/1.3 ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;background:#f1f3f5;padding:1px 4px;border-radius:3px}
header{background:#fff;border:1px solid #dee2e6;border-radius:6px;padding:16px 20px;margin-bottom:16px}
.label{font-size:14px;font-weight:500;color:#495057;background:#e9ecef;border-radius:4px;padding:2px 8px;vertical-align:middle}
.muted{color:#6c757d;font-weight:normal}
table{border-collapse:collapse}
.kv th{text-align:left;font-weight:500;color:#495057;padding:2px 16px 2px 0;vertical-align:top}
.kv td{padding:2px 0}
.grid{margin-top:4px;width:100%}
.grid th,.grid td{border-bottom:1px solid #e9ecef;padding:4px 10px 4px 0;text-align:left;vertical-align:top}
.grid thead th{font-weight:600;color:#495057;border-bottom:2px solid #dee2e6;vertical-align:bottom}
.grid .n,.kv .n{text-align:right;font-variant-numeric:tabular-nums}
td.n{font-variant-numeric:tabular-nums;white-space:nowrap}
.summary{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,360px),1fr));gap:16px;margin-bottom:16px}
.card{background:#fff;border:1px solid #dee2e6;border-radius:6px;padding:14px 18px;overflow-x:auto;min-width:0}
.card table{max-width:100%}
.card td{overflow-wrap:break-word}
.card code,.card .addr{overflow-wrap:anywhere;white-space:normal}
.card td.n{white-space:nowrap}
.host-tag{font-size:13px;font-weight:normal;color:#495057;background:#e7f5ff;border-radius:3px;padding:1px 6px}
.gaps{margin:2px 0 0;padding-left:18px;color:#8a5a00}
.chart-legend-note{margin:0 0 2px 8px;color:#6c757d;font-size:12.5px}
.summary .wide{grid-column:1/-1}
.badge{display:inline-block;font-size:11.5px;font-weight:600;text-transform:uppercase;letter-spacing:.04em;border-radius:3px;padding:1px 7px;vertical-align:1px}
.badge.ok{background:#d3f9d8;color:#2b8a3e}
.badge.warn{background:#fff3bf;color:#8a5a00}
.badge.bad{background:#ffe3e3;color:#c92a2a}
.badge.sev-critical{background:#c92a2a;color:#fff}
.badge.sev-warning{background:#f59f00;color:#212529}
.badge.sev-info{background:#1c7ed6;color:#fff}
#diagnosis{margin-bottom:16px}
.verdict{background:#fff;border:1px solid #dee2e6;border-left:5px solid #adb5bd;border-radius:6px;padding:12px 18px;margin-bottom:10px}
.verdict.sev-critical{border-left-color:#c92a2a}
.verdict.sev-warning{border-left-color:#f59f00}
.verdict.sev-info{border-left-color:#1c7ed6}
.verdict-meta{margin:0 0 4px;color:#495057}
.verdict-body{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:4px 24px}
.verdict ul{margin:0;padding-left:20px}
.verdict li{margin:2px 0}
#exhaustion{margin-bottom:16px}
.note{background:#fff9db;border:1px solid #ffe066;border-radius:6px;padding:10px 16px;margin-bottom:16px}
.note p{margin:0 0 4px}
.note ul{margin:0;padding-left:20px}
#charts{display:flex;flex-direction:column;gap:16px}
.chart{background:#fff;border:1px solid #dee2e6;border-radius:6px;padding:12px 12px 4px}
.chart h3{margin:0 0 4px 8px}
.chart-note{margin:0 0 4px 8px;color:#8a5a00}
.uplot{font-family:inherit}
.u-legend{font-size:12.5px;margin-top:2px}
.u-legend .u-marker{width:14px;height:4px}
noscript{display:block;margin:8px 0;color:#c92a2a}
#marker-legend{margin:0;color:#495057}
footer{margin-top:24px;color:#868e96;font-size:12px}
`;

/** Renders the whole record as one self-contained HTML page. */
export function renderHtml(r: RunRecord): string {
  const uplot = loadUplot();
  const title = `portstorm: ${r.scenario.name}${r.label ? ` [${r.label}]` : ''} (${r.runId})`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="portstorm ${e(r.portstormVersion)}">
<title>${e(title)}</title>
<style>${inlineStyle(uplot.css)}</style>
<style>${CSS}${TOPOLOGY_CSS}</style>
</head>
<body>
<main>
${renderHeader(r)}
${renderMonitorNote(r)}
${renderDiagnosis(r)}
${renderExhaustion(r.exhaustion)}
<div class="summary">
${renderTopology(r)}
${renderTotals(r)}
${renderErrors(r)}
${renderPorts(r)}
${renderTlsDns(r)}
${renderThresholds(r)}
${renderHostSettings(r)}
${renderDestinations(r)}
${renderHosts(r)}
${renderLatency(r)}
${renderErrorSamples(r)}
</div>
<h2>Timeline</h2>
<noscript>The charts need JavaScript.</noscript>
<div id="charts"></div>
<footer>Generated by portstorm ${e(r.portstormVersion)}. The run record is embedded in this file (script#portstorm-data).</footer>
</main>
<script type="application/json" id="portstorm-data">${jsonForScript(r)}</script>
<script>${inlineScript(uplot.js)}</script>
<script>${inlineScript(HTML_CLIENT_SCRIPT)}</script>
</body>
</html>
`;
}
