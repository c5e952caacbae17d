/**
 * One host's peaks as every report and `compare` show them: the busiest destination's utilization,
 * TIME_WAIT on the client side (ports this host opened) and on the server side (on its listening
 * ports), and how much of the run it covers. Pure.
 */
import type { HostRecord, HostSecond } from '../record/types.js';
import { CLIENT_HOST, hostViews, type HostView } from './hosts.js';
import type { RunRecord, Verdict } from '../record/types.js';

/** A host's peaks over the run; null where the host never showed the figure. */
export interface HostPeaks {
  /** Peak utilization of its busiest destination (0..1). */
  peakUtilization: number | null;
  /** That destination (`ip:port`). */
  busiestDestination: string | null;
  /** Most ports in use toward one destination. */
  peakInUse: number | null;
  /** Its port budget: the recorded `ports.usable`, else the host's `usablePorts`. */
  usable: number | null;
  /** TIME_WAIT of connections this host opened (its client side): the own destinations' for the load generator. */
  clientTimeWait: number | null;
  /** TIME_WAIT on this host's listening ports (its server side). */
  serverTimeWait: number | null;
}

const maxOf = (xs: Array<number | null | undefined>): number | null => {
  const vs = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return vs.length > 0 ? Math.max(...vs) : null;
};

/** The client side of one second: own client TIME_WAIT where recorded, else all TIME_WAIT less the server side. */
function clientSide(s: NonNullable<HostSecond['sockets']>): number | null {
  if (s.ownTimeWait !== undefined && s.ownTimeWait !== null) return s.ownTimeWait;
  return s.serverTimeWait === null ? null : Math.max(0, s.timeWait - s.serverTimeWait);
}

/** A host's peaks from its ports summary and its per-second sockets. */
export function hostPeaks(h: HostRecord): HostPeaks {
  const seen = h.timeline.flatMap((e) => (e.sockets ? [e.sockets] : []));
  const p = h.ports;
  const byUtil = [...h.destinations].filter((d) => d.peakUtilization !== null).sort((a, b) => b.peakUtilization! - a.peakUtilization!)[0];
  const ownTw = seen.some((s) => s.ownTimeWait !== undefined && s.ownTimeWait !== null);
  return {
    peakUtilization: p?.peakUtilization ?? byUtil?.peakUtilization ?? null,
    busiestDestination: p?.busiestDestination ?? byUtil?.dest ?? h.destinations[0]?.dest ?? null,
    peakInUse: p ? p.peakInUse : (h.destinations[0]?.peakInUse ?? null),
    usable: p?.usable ?? h.host?.usablePorts ?? null,
    // The client's own TIME_WAIT peak is the ports summary's (what its headline says); others from their seconds.
    clientTimeWait: (ownTw && p ? p.peakTimeWait : null) ?? maxOf(seen.map(clientSide)) ?? p?.peakTimeWait ?? null,
    serverTimeWait: maxOf(seen.map((s) => s.serverTimeWait)),
  };
}

/** Whether the record observed more than the load generator (a reader then names the host of every figure). */
export function hasOtherHosts(r: RunRecord): boolean {
  return hostViews(r).length > 1;
}

/**
 * The host a verdict names, when a report should say it: always in a record with more than one
 * host, otherwise only when it is not the load generator (so a plain run reads as before).
 */
export function verdictHost(v: Pick<Verdict, 'host'>, multiHost: boolean): string | null {
  if (v.host === undefined) return null;
  return multiHost || v.host !== CLIENT_HOST ? v.host : null;
}

/**
 * Every host with its peaks, the client first. A merged record (`shards`) has no client of its own:
 * its top-level figures are the fleet's, so its hosts are the shards' alone.
 */
export function hostsWithPeaks(r: RunRecord): Array<HostView & { peaks: HostPeaks }> {
  const views = hostViews(r).filter((h) => !(r.shards && h.name === CLIENT_HOST && !r.hosts?.[CLIENT_HOST]));
  return views.map((h) => ({ ...h, peaks: hostPeaks(h) }));
}
