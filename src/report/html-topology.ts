/**
 * The run report's topology card for a lab record: an inline SVG of the hosts left to right along
 * the data links (name, role, port range, the router's NAT range) with each link's addresses, the
 * management links faint beneath, and the verdict's host outlined in its severity's colour; the
 * host, NAT and prediction lines under it. Every text goes through the HTML escape.
 */
import type { LabHostInfo, LabLinkInfo, LabTopologyInfo, RunRecord, Verdict } from '../record/types.js';
import { escapeHtml as e } from './html-escape.js';
import { hostsAlongPath, hostText, natText, predictionText, rangeText, topologyOf } from './topology-lines.js';

/** Severity colours, as the verdict cards draw them. */
export const SEVERITY_COLOUR: Record<Verdict['severity'], string> = { critical: '#c92a2a', warning: '#f59f00', info: '#1c7ed6' };

const BOX_W = 200;
const GAP = 150;
const PAD = 12;
const LINE = 19;
const TOP = 12;
/** Approximate advance of one character of the 12 px sans-serif the diagram uses (boxes are sized for it, then text is fitted with textLength when longer). */
const CHAR_W = 6.6;

/** The most severe verdict that is a problem (critical or warning), its host named (`client` when a stored one names none): the one the diagram highlights. */
export function highlightedVerdict(r: RunRecord): (Verdict & { host: string }) | null {
  const v = (r.diagnosis ?? []).find((x) => x.severity !== 'info' && x.verdict !== 'healthy');
  return v ? { ...v, host: v.host ?? 'client' } : null;
}

/** The lines in a host's box: name, role, port range, the NAT's range on the router. */
function boxLines(h: LabHostInfo, t: LabTopologyInfo): string[] {
  const lines = [h.name, h.role === h.name ? '' : h.role, h.portRange ? `ports ${rangeText(h.portRange)}` : ''].filter((l) => l !== '');
  if (t.nat && t.nat.router === h.name) lines.push(`NAT ${t.nat.ports[0]}–${t.nat.ports[1]} × ${t.nat.addresses.length} IP${t.nat.addresses.length === 1 ? '' : 's'}`);
  return lines;
}

/** An SVG text that never overflows `maxW`: longer strings are squeezed with textLength. */
function text(x: number, y: number, s: string, cls: string, maxW: number, anchor = 'middle'): string {
  const fit = s.length * CHAR_W > maxW ? ` textLength="${maxW}" lengthAdjust="spacingAndGlyphs"` : '';
  return `<text x="${x}" y="${y}" class="${cls}" text-anchor="${anchor}"${fit}>${e(s)}</text>`;
}

/** The link between two adjacent boxes (either direction). */
function linkBetween(t: LabTopologyInfo, a: string, b: string): LabLinkInfo | undefined {
  return t.links.find((l) => l.kind === 'data' && ((l.a === a && l.b === b) || (l.a === b && l.b === a)));
}

/** The SVG diagram alone. */
export function topologySvg(t: LabTopologyInfo, highlight: Verdict | null): string {
  const hosts = hostsAlongPath(t);
  const lines = hosts.map((h) => boxLines(h, t));
  const boxH = PAD * 2 + LINE * Math.max(...lines.map((l) => l.length));
  const mgmt = t.links.filter((l) => l.kind === 'management');
  const width = hosts.length * BOX_W + (hosts.length - 1) * GAP + 2;
  const mgmtY = TOP + boxH + 30;
  const height = mgmtY + (mgmt.length > 0 ? 24 : 0) + 4;
  const x = (i: number): number => 1 + i * (BOX_W + GAP);
  const index = new Map(hosts.map((h, i) => [h.name, i]));
  const parts: string[] = [];
  for (let i = 0; i + 1 < hosts.length; i++) {
    const link = linkBetween(t, hosts[i]!.name, hosts[i + 1]!.name);
    if (!link) continue;
    const x1 = x(i) + BOX_W;
    const x2 = x(i + 1);
    const y = TOP + boxH / 2;
    const left = link.addresses[hosts[i]!.name] ?? '';
    const right = link.addresses[hosts[i + 1]!.name] ?? '';
    parts.push(
      `<g class="topo-link" data-link="${e(`${link.a}-${link.b}`)}"><line x1="${x1}" y1="${y}" x2="${x2}" y2="${y}" class="topo-wire"/>` +
        text((x1 + x2) / 2, y - 8, left, 'topo-addr', GAP - 8) +
        text((x1 + x2) / 2, y + 17, right, 'topo-addr', GAP - 8) +
        text((x1 + x2) / 2, y + 35, link.subnet, 'topo-subnet', GAP - 8) +
        '</g>',
    );
  }
  mgmt.forEach((l) => {
    const ia = index.get(l.a);
    const ib = index.get(l.b);
    if (ia === undefined || ib === undefined) return;
    const xa = x(ia) + BOX_W / 2;
    const xb = x(ib) + BOX_W / 2;
    parts.push(
      `<g class="topo-mgmt" data-link="${e(`${l.a}-${l.b}`)}"><path d="M${xa} ${TOP + boxH} V${mgmtY} H${xb} V${TOP + boxH}" class="topo-mgmt-wire"/>` +
        text((xa + xb) / 2, mgmtY + 16, `management ${l.subnet}`, 'topo-subnet', Math.abs(xb - xa) - 8) +
        '</g>',
    );
  });
  hosts.forEach((h, i) => {
    const hot = highlight !== null && highlight.host === h.name;
    const stroke = hot ? ` style="stroke:${SEVERITY_COLOUR[highlight!.severity]}"` : '';
    const label = hot ? `${h.name}: ${highlight!.verdict} (${highlight!.severity})` : `${h.name} (${h.role})`;
    const body = lines[i]!.map((l, j) => text(x(i) + BOX_W / 2, TOP + PAD + LINE * j + 12, l, j === 0 ? 'topo-name' : 'topo-line', BOX_W - 2 * PAD)).join('');
    parts.push(
      `<g class="topo-host${hot ? ` topo-hot sev-${highlight!.severity}` : ''}" data-host="${e(h.name)}"><title>${e(label)}</title>` +
        `<rect x="${x(i)}" y="${TOP}" width="${BOX_W}" height="${boxH}" rx="6" class="topo-box"${stroke}/>${body}</g>`,
    );
  });
  return `<svg class="topology" role="img" aria-label="${e(`lab topology ${t.kind}: ${hosts.map((h) => h.name).join(' to ')}`)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
}

/** The topology card (a lab record with a chain or a NAT), else empty. */
export function renderTopology(r: RunRecord): string {
  const t = topologyOf(r);
  if (!t) return '';
  const hot = highlightedVerdict(r);
  const items = hostsAlongPath(t).map((h) => `<li>${e(hostText(h))}</li>`);
  if (t.nat) items.push(`<li>NAT: ${e(natText(t.nat))}</li>`);
  if (t.prediction) items.push(`<li>Model: ${e(predictionText(t.prediction))}; ${e(t.prediction.reason)}</li>`);
  const note = hot ? `<p class="muted">Outlined: ${e(hot.host ?? '')}, where ${e(hot.verdict)} (${e(hot.severity)}) holds.</p>` : '';
  return `<section class="card wide" id="topology"><h2>Topology</h2><div class="topology-wrap">${topologySvg(t, hot)}</div>${note}<ul class="topology-list">${items.join('')}</ul></section>`;
}

/** The diagram's and the highlighted chart card's styles. */
export const TOPOLOGY_CSS = `
.topology-wrap{overflow-x:auto}
.topology{max-width:100%;height:auto;display:block;font:12px system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
.topo-box{fill:#fff;stroke:#868e96;stroke-width:1.5}
.topo-hot .topo-box{stroke-width:4}
.topo-name{font-weight:600;fill:#212529}
.topo-line{fill:#495057}
.topo-wire{stroke:#495057;stroke-width:2}
.topo-addr{fill:#212529;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:11px}
.topo-subnet{fill:#868e96;font-size:11px}
.topo-mgmt-wire{fill:none;stroke:#ced4da;stroke-width:1;stroke-dasharray:3 3}
.topology-list{margin:6px 0 0;padding-left:20px}
.chart.hot{border-width:3px}
.chart-verdict{margin:0 0 4px 8px;color:#495057}
.chart.hot.sev-critical{border-color:#c92a2a}
.chart.hot.sev-warning{border-color:#f59f00}
.chart.hot.sev-info{border-color:#1c7ed6}
`;
