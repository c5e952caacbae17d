/**
 * A watched agent's samples folded into its HostRecord with `foldHost`, then its outages applied:
 * a second wholly inside a stretch without lines from the agent has no figures (null, never the
 * last scan carried over), and `gaps` says from when, to when and why.
 */
import { foldHost } from '../monitor/host-fold.js';
import type { HostRecord } from '../record/types.js';
import type { AgentOutage, AgentSnapshot } from './agent-watch.js';

/** The run a watched host is folded into (this machine's clock). */
export interface WatchedRunSpan {
  startEpochMs: number;
  durationS: number;
}

const at = (ms: number, startMs: number): string => (ms < startMs ? 'before the start' : `t = ${((ms - startMs) / 1000).toFixed(1)} s`);

/** One outage in words. */
function describeOutage(o: AgentOutage, startMs: number): string {
  const from = o.fromMs === null ? 'the start' : at(o.fromMs, startMs);
  const what = o.fromMs === null ? o.cause : `${o.cause} at ${from}`;
  const tried = o.attempts === 0 ? 'no reconnect attempt yet' : o.attempts === 1 ? '1 reconnect attempt' : `${o.attempts} reconnect attempts`;
  const after =
    o.toMs !== null
      ? `back at ${at(o.toMs, startMs)} after ${tried}`
      : o.gaveUp
        ? `gave up after ${tried} (last: ${o.lastFailure ?? 'no line'})`
        : `not back by the end (${tried}${o.lastFailure ? `, last: ${o.lastFailure}` : ''})`;
  return `${what}; ${after}: no figures from ${from} to ${o.toMs === null ? 'the end' : at(o.toMs, startMs)} (null, not zero)`;
}

/** The reasons the agent's seconds or lines are missing, in words. */
export function watchedGaps(w: AgentSnapshot, startMs: number): string[] {
  const gaps = w.outages.map((o) => describeOutage(o, startMs));
  if (w.droppedLines > 0) gaps.push(`dropped ${w.droppedLines} line${w.droppedLines === 1 ? '' : 's'} that did not parse (first: ${w.firstDropped})`);
  if (w.samplesPastCap > 0) gaps.push(`dropped ${w.samplesPastCap} samples past the ${w.samples.length} kept per agent`);
  return [...gaps, ...w.notes];
}

/** The agent's HostRecord for the run as of `span`. */
export function foldWatchedHost(w: AgentSnapshot, span: WatchedRunSpan): HostRecord {
  const host = foldHost(
    w.samples,
    w.status,
    w.identity,
    { startEpochMs: span.startEpochMs, durationS: span.durationS, intervalS: w.intervalMs / 1000, scanIntervalS: w.scanIntervalMs / 1000 },
    watchedGaps(w, span.startEpochMs),
  );
  if (w.outages.length === 0) return host;
  for (const entry of host.timeline) {
    const fromMs = span.startEpochMs + entry.t * 1000;
    const toMs = fromMs + 1000;
    const unseen = w.outages.some((o) => (o.fromMs === null || o.fromMs < fromMs) && (o.toMs === null || o.toMs >= toMs));
    if (!unseen) continue;
    entry.sockets = null;
    entry.counters = null;
    if (entry.cpu !== undefined) entry.cpu = null;
    if (entry.conntrack !== undefined) entry.conntrack = null;
  }
  const withSockets = host.timeline.filter((e) => e.sockets !== null).length;
  host.coverage.share = Math.round((withSockets / host.timeline.length) * 1000) / 1000;
  return host;
}
