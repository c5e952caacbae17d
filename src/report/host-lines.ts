/**
 * The sentences every run report prints about one observed host (text, Markdown, HTML): where it
 * was observed from, its clock, its peaks, its coverage and settings. Plain text; each renderer
 * escapes it.
 */
import type { HostPeaks } from '../analysis/host-peaks.js';
import type { HostView } from '../analysis/hosts.js';
import { dec, msValue, num, orDash, pct, sec } from '../vocab/format.js';

/** `local`, `agent http://198.18.1.2:9464`, `file service.ndjson`. */
export function hostFrom(h: Pick<HostView, 'source' | 'address'>): string {
  return h.source === 'local' ? 'local' : `${h.source} ${h.address}`;
}

/** A signed clock offset: `+4.2 ms`, `−1.250 s` (seconds from 1 s up). */
function offset(msOff: number): string {
  const sign = msOff > 0 ? '+' : msOff < 0 ? '−' : '±';
  const a = Math.abs(msOff);
  return a >= 1000 ? `${sign}${dec(a / 1000, 3)} s` : `${sign}${msValue(a)} ms`;
}

/**
 * The host's clock against this run's: `local clock`, `clock +4.2 ms ± 0.3 ms (round trip, 8
 * probes)`, `clock ±0 ms ± unknown (wall-clock)`.
 */
export function hostClock(h: Pick<HostView, 'clock'>): string {
  const c = h.clock;
  if (c.method === 'local') return 'local clock';
  const unc = c.uncertaintyMs === null ? 'unknown' : `${msValue(c.uncertaintyMs)} ms`;
  const how = c.method === 'round-trip' ? `round trip${c.probes ? `, ${num(c.probes)} probes` : ''}` : 'wall-clock';
  return `clock ${offset(c.offsetMs)} ± ${unc} (${how})`;
}

/** `peak 96 % of 500 ports toward 198.18.2.2:8080`; `no socket figures` when the host showed none. */
export function hostUtilization(p: HostPeaks): string {
  if (p.peakUtilization === null && p.peakInUse === null) return 'no socket figures';
  const of = p.usable === null ? '' : ` of ${num(p.usable)} ports`;
  const head = p.peakUtilization === null ? `peak ${num(p.peakInUse ?? 0)} ports in use` : `peak ${pct(p.peakUtilization)}${of}`;
  return `${head}${p.busiestDestination ? ` toward ${p.busiestDestination}` : ''}`;
}

/** `peak TIME_WAIT 480 client side, 1 190 server side` (– where unknown). */
export function hostTimeWait(p: HostPeaks): string {
  return `peak TIME_WAIT ${orDash(p.clientTimeWait, num)} client side, ${orDash(p.serverTimeWait, num)} server side`;
}

/** `70 % of the run (seen t = 0–6 s)`, `never seen during the run`; null when the host covered the whole run. */
export function hostCoverage(h: Pick<HostView, 'coverage'>): string | null {
  const c = h.coverage;
  if (c.share >= 1) return null;
  if (c.fromS === null || c.toS === null) return 'never seen during the run';
  return `${pct(c.share)} of the run (seen t = ${+c.fromS.toFixed(1)}–${sec(c.toS, 0)})`;
}

/** `ports 32768–60999 (28 232 usable), tcp_tw_reuse 2`; `settings unknown` when the host did not report them. */
export function hostSettings(h: Pick<HostView, 'host'>): string {
  const s = h.host;
  if (!s) return 'settings unknown';
  const range = s.portRange ? `${s.portRange[0]}–${s.portRange[1]}` : '–';
  return `ports ${range} (${orDash(s.usablePorts, num)} usable), tcp_tw_reuse ${s.tcpTwReuse ?? '–'}`;
}
