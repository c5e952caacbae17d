/**
 * Figures the verdicts share, read once from a run record. Pure.
 */
import { FD_CODES } from '../vocab/failure.js';
import type { Capacity, Exhaustion, RunRecord, TimelineEntry, TimelineSockets } from '../record/types.js';
import { capacityOf, isLoopbackHost } from './capacity.js';
import { bindUnavailableCount, exhaustionSignalCounts, missingSourceAddresses } from './exhaustion.js';
import { hostViews, type HostView, servingHost } from './hosts.js';

/** One second of a host as the rules read it: the client's timeline entries and other hosts' seconds both fit. */
export interface SecondView {
  t: number;
  /** Null: not seen in that second (never zeros). */
  sockets: TimelineSockets | null;
  counters: Record<string, number | null> | null;
}

/** What the verdict rules read from a record. */
export interface Facts {
  r: RunRecord;
  ex: Exhaustion;
  /** Timeline sorted by second. */
  timeline: TimelineEntry[];
  /** Requests that finished (completed + failed). */
  finished: number;
  failed: number;
  /** Exhaustion-signal failures by code, and their sum. */
  signals: Record<string, number>;
  signalTotal: number;
  /** EMFILE + ENFILE failures. */
  fdCount: number;
  /** The target is 127.0.0.0/8, ::1 or localhost. */
  loopback: boolean;
  usable: number | null;
  /** Seconds a closed port stays unusable (the capacity model's hold, not the bare TIME_WAIT length). */
  timeWaitS: number | null;
  /** The run's capacity model (the record's, else computed). */
  capacity: Capacity;
  /** The monitor produced a socket picture for at least one second. */
  socketsSeen: boolean;
  /** Highest requests attempted in one second. */
  peakRequestRate: number;
  /** TIME_WAIT lands on the client (observed by the monitor or the built-in target; the scenario's policy as a fallback). */
  clientTimeWait: boolean;
  /** EADDRNOTAVAIL failures of bind() to a source address, and the configured addresses the host lacks. */
  bindUnavailable: number;
  missingSources: string[];
  /**
   * TIME_WAIT ports come back sooner than TIME_WAIT ends (tcp_tw_reuse, or as observed) and the run's
   * peak rate is within the sustainable one: a high count of ports "in use" is then no approach to
   * exhaustion, since connect() takes those ports over.
   */
  recycledWithinBudget: boolean;
  /** Every host of the run, the client first (`hostViews`; a schema 1 record has the client alone). */
  hosts: HostView[];
  /** The watched hosts other than the client. */
  others: HostView[];
  /** The watched host that serves the target, when one was seen (`servingHost`): server-side figures are measured there. */
  serving: HostView | null;
}

/** Reads the shared figures. */
export function factsOf(r: RunRecord, ex: Exhaustion): Facts {
  const signals = exhaustionSignalCounts(r);
  const timeline = [...r.timeline].sort((a, b) => a.t - b.t);
  const capacity = ex.capacity ?? capacityOf(r);
  const hosts = hostViews(r);
  return {
    r,
    ex,
    timeline,
    finished: r.totals.completed + r.totals.failed,
    failed: r.totals.failed,
    signals,
    signalTotal: Object.values(signals).reduce((a, b) => a + b, 0),
    fdCount: [...FD_CODES].reduce((a, code) => a + codeCount(r, code), 0),
    loopback: isLoopbackUrl(r.target.url),
    usable: r.ports?.usable ?? r.host.usablePorts,
    timeWaitS: capacity.holdS,
    capacity,
    socketsSeen: r.monitor.enabled && timeline.some((e) => e.sockets !== null),
    peakRequestRate: timeline.reduce((m, e) => Math.max(m, e.attempted), 0),
    clientTimeWait: capacity.timeWaitSide.side === 'client' || capacity.timeWaitSide.side === 'both',
    bindUnavailable: bindUnavailableCount(r),
    missingSources: missingSourceAddresses(r),
    recycledWithinBudget:
      capacity.holdS < (r.host.timeWaitS ?? capacity.holdS) && ex.peakConnectionRate !== null && capacity.sustainableRate !== null && ex.peakConnectionRate <= capacity.sustainableRate,
    hosts,
    others: hosts.slice(1),
    serving: servingHost(r, hosts),
  };
}

/** Failures with `code` in any phase. */
export function codeCount(r: RunRecord, code: string): number {
  let byPhase = 0;
  for (const [key, n] of Object.entries(r.errorsByPhase)) if (key.endsWith(`:${code}`)) byPhase += n;
  return Math.max(r.errors[code] ?? 0, byPhase);
}

/**
 * Failures with `code` outside the `dns` phase: a resolver that refuses a query gives ECONNREFUSED
 * too, which says nothing of the target. Records without phases count every failure of the code.
 */
export function codeCountBeyondDns(r: RunRecord, code: string): number {
  const phased = Object.entries(r.errorsByPhase).filter(([key]) => key.endsWith(`:${code}`));
  if (phased.length === 0) return r.errors[code] ?? 0;
  return phased.reduce((a, [key, n]) => a + (key.startsWith('dns:') ? 0 : n), 0);
}

/** Failures in `phase` by code, most first (from `errorsByPhase`). */
export function phaseFailures(r: RunRecord, phase: string): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const [key, n] of Object.entries(r.errorsByPhase)) {
    const i = key.indexOf(':');
    if (n > 0 && key.slice(0, i) === phase) out.push([key.slice(i + 1), n]);
  }
  return out.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** Sum of a kernel counter over the client's timeline; null when no second had it. */
export function counterSum(f: Facts, name: string): number | null {
  return sumCounter(f.timeline, name);
}

/** The first second of the client's timeline in which a kernel counter rose. */
export function counterFirst(f: Facts, name: string): number | null {
  return firstCounter(f.timeline, name);
}

/** The highest value of a socket figure over the client's timeline; null when never known. */
export function peakSockets(f: Facts, pick: (s: TimelineSockets) => number | null): number | null {
  return peakOver(f.timeline, pick);
}

/** Sum of a kernel counter over some seconds; null when no second had it (an unseen second adds nothing, and is not a zero). */
export function sumCounter(seconds: readonly SecondView[], name: string): number | null {
  let sum: number | null = null;
  for (const e of seconds) {
    const v = e.counters?.[name];
    if (typeof v === 'number') sum = (sum ?? 0) + v;
  }
  return sum;
}

/** The first of some seconds in which a kernel counter rose. */
export function firstCounter(seconds: readonly SecondView[], name: string): number | null {
  return seconds.find((e) => (e.counters?.[name] ?? 0) > 0)?.t ?? null;
}

/** The highest value of a socket figure over some seconds; null when never known. */
export function peakOver(seconds: readonly SecondView[], pick: (s: TimelineSockets) => number | null): number | null {
  let peak: number | null = null;
  for (const e of seconds) {
    const v = e.sockets ? pick(e.sockets) : null;
    if (v !== null && (peak === null || v > peak)) peak = v;
  }
  return peak;
}

/** Whether a target URL points at loopback. */
export function isLoopbackUrl(url: string): boolean {
  try {
    return isLoopbackHost(new URL(url).hostname);
  } catch {
    return false;
  }
}
