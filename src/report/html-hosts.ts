/**
 * The run report's host cards, for a record that observed more than the client: every host with
 * its origin, clock, peaks, coverage and gaps, and the hosts' settings side by side.
 */
import { hostsWithPeaks } from '../analysis/host-peaks.js';
import type { RunRecord } from '../record/types.js';
import { num, orDash, pct } from '../vocab/format.js';
import { escapeHtml as e } from './html-escape.js';
import { hostClock, hostCoverage, hostFrom } from './host-lines.js';

const fmtInt = (v: number | null | undefined): string => orDash(v, num);
const fmtPct = (v: number | null | undefined): string => orDash(v, pct);

/** Every observed host with its peaks, coverage and gaps (a record with more than the client). */
export function renderHosts(r: RunRecord): string {
  const hosts = hostsWithPeaks(r);
  if (hosts.length < 2) return '';
  const rows = hosts
    .map((h) => {
      const p = h.peaks;
      const gaps = h.gaps.length ? `<ul class="gaps">${h.gaps.map((g) => `<li>${e(g)}</li>`).join('')}</ul>` : '';
      return `<tr data-host="${e(h.name)}"><th scope="row">${e(h.name)}</th><td>${e(h.role)}</td><td><span class="addr">${e(hostFrom(h))}</span><br><span class="muted">${e(hostClock(h))}</span></td><td class="n">${fmtPct(p.peakUtilization)}</td><td>${p.busiestDestination ? `<code>${e(p.busiestDestination)}</code>` : '–'}</td><td class="n">${fmtInt(p.clientTimeWait)}</td><td class="n">${fmtInt(p.serverTimeWait)}</td><td>${e(hostCoverage(h) ?? 'whole run')}${gaps}</td></tr>`;
    })
    .join('');
  return `<section class="card wide" id="hosts"><h2>Hosts</h2><table class="grid"><thead><tr><th>Host</th><th>Role</th><th>Observed from</th><th class="n">Peak utilization</th><th>Busiest destination</th><th class="n">Peak TIME_WAIT, client side</th><th class="n">Peak TIME_WAIT, server side</th><th>Coverage</th></tr></thead><tbody>${rows}</tbody></table><p class="muted">A second a host was not seen is a gap in its chart (shaded), never a zero.</p></section>`;
}

/** The hosts' settings side by side (a record with more than the client). */
export function renderHostSettings(r: RunRecord): string {
  const hosts = hostsWithPeaks(r);
  if (hosts.length < 2) return '';
  const rows = hosts
    .map((h) => {
      const s = h.host;
      const range = s?.portRange ? `${s.portRange[0]}–${s.portRange[1]}` : '–';
      return `<tr data-host="${e(h.name)}"><th scope="row">${e(h.name)}</th><td class="n">${e(range)}</td><td class="n">${fmtInt(s?.usablePorts)}</td><td class="n">${e(String(s?.tcpTwReuse ?? '–'))}</td></tr>`;
    })
    .join('');
  return `<section class="card" id="host-settings"><h2>Host settings</h2><table class="grid"><thead><tr><th>Host</th><th class="n">Port range</th><th class="n">Usable ports</th><th class="n">tcp_tw_reuse</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}
