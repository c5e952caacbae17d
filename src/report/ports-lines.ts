/**
 * The port sentences every run report prints (text, Markdown, HTML): the headline about the run's
 * own destinations, other traffic on the host told apart, and what the baseline left toward the
 * own destinations. Plain text; each renderer escapes it.
 */
import type { RunRecord } from '../record/types.js';
import { num, pct, sec } from '../vocab/format.js';

/** `peak 2 000 in use (100 % of 2 000) toward 10.200.0.1:8080, peak TIME_WAIT 2 000`; null without a ports summary. */
export function portsHeadline(r: RunRecord): string | null {
  const p = r.ports;
  if (!p) return null;
  const util = p.peakUtilization === null ? '' : ` (${pct(p.peakUtilization)}${p.usable === null ? '' : ` of ${num(p.usable)}`})`;
  const dest = p.busiestDestination ? ` toward ${p.busiestDestination}` : '';
  return `peak ${num(p.peakInUse)} in use${util}${dest}, peak TIME_WAIT ${num(p.peakTimeWait)}`;
}

/**
 * `other traffic on this host: 3 496 ports toward 127.0.0.1:34505 (...)`: port use toward
 * destinations this run did not connect to; null when there was none (or the record predates it).
 */
export function otherTrafficLine(r: RunRecord): string | null {
  const o = r.otherTraffic;
  if (!o || o.peakInUse === 0) return null;
  const more = o.destinations.length > 1 ? ` and ${num(o.destinations.length - 1)} more destination${o.destinations.length > 2 ? 's' : ''}` : '';
  return `other traffic on this host: ${num(o.peakInUse)} ports toward ${o.busiestDestination ?? 'another destination'}${more} (peak TIME_WAIT ${num(o.peakTimeWait)}), not counted above`;
}

/**
 * `before the load: 40 TIME_WAIT toward 198.18.0.2:8080, all free by 57.9 s`: earlier TIME_WAIT
 * toward the run's own destinations; null when there was none or the record has no such baseline.
 */
export function baselineLine(r: RunRecord): string | null {
  const own = r.monitor.baseline?.byDestination?.filter((d) => d.own && d.timeWait > 0) ?? [];
  if (own.length === 0) return null;
  const parts = own.map((d) => {
    const h = d.timeWaitExpiry;
    const last = h ? h.findLastIndex((n) => n > 0) : -1;
    const free = h === null ? '' : last < 0 ? ', all free before the load started' : `, all free by ${sec(last + 1)}`;
    return `${num(d.timeWait)} TIME_WAIT toward ${d.dest}${free}`;
  });
  return `before the load: ${parts.join('; ')}`;
}
