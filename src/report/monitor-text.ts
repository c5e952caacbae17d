/** Human-readable lines for monitor samples (`portstorm monitor`). */
import { canonicalDest } from '../monitor/aggregate.js';
import type { MonitorSample } from '../monitor/types.js';
import { normalDest } from '../vocab/address.js';
import { ms, num, pct as share } from '../vocab/format.js';

const pct = (x: number | null): string => (x === null ? 'n/a' : share(x));

/** One line for a sample: TIME_WAIT, the busiest (or chosen) destination's port use, the scan. */
export function sampleLine(s: MonitorSample, usable: number | null, dest: string | null): string {
  const time = new Date(s.at).toISOString().slice(11, 23);
  const tw = s.sockstat?.timeWait ?? s.scan?.states.timeWait ?? null;
  const parts = [time, `TIME_WAIT ${tw === null ? 'n/a' : num(tw)}`];
  const scan = s.scan;
  if (scan) {
    const want = dest === null ? null : normalDest(dest);
    const d = want ? scan.destinations.find((x) => canonicalDest(x.dest) === want) : scan.destinations[0];
    parts.push(`established ${num(scan.states.established)}`);
    if (d) parts.push(`in use ${num(d.inUse)}${usable ? `/${num(usable)}` : ''} (${pct(d.utilization)}) → ${d.dest}`);
    else parts.push(dest ? `no sockets → ${dest}` : 'no client sockets');
    parts.push(`server TIME_WAIT ${num(scan.server.timeWait)}`, `scan ${ms(scan.costMs)} (${scan.source})`);
  }
  if (s.counters) {
    const c = s.counters;
    const notable = (['TWRecycled', 'TCPTimeWaitOverflow', 'ListenOverflows', 'AttemptFails', 'OutRsts', 'ConntrackInsertFailed', 'ConntrackDrop', 'ConntrackEarlyDrop'] as const)
      .filter((k) => (c[k] ?? 0) > 0)
      .map((k) => `${k} +${c[k]}`);
    if (notable.length > 0) parts.push(notable.join(' '));
  }
  if (s.conntrack) parts.push(`conntrack ${s.conntrack.count}/${s.conntrack.max}`);
  return parts.join('  ');
}
