/**
 * Folds the monitor's samples into the run record: a socket picture and counter increases per
 * second of the run, the port-budget peaks, and how the monitor itself fared.
 */
import type { BaselineDestination, DestinationSummary, MonitorInfo, PortsSummary, RunRecord, TimelineSockets } from '../record/types.js';
import { normalDest } from '../vocab/address.js';
import { canonicalDest, TIME_LEFT_STEP_MS } from './aggregate.js';
import { cpuPerSecond, peakCpu, type CpuSecond } from './cpu-fold.js';
import type { SamplerStatus } from './sampler.js';
import { MAX_DESTINATIONS, type DestinationUsage, type MonitorSample, type SocketScan } from './types.js';

/** What the record gets from the monitor. */
export interface MonitorFold {
  /** Per run second: sockets and counters (null where unknown), and the CPU in use (absent when no sample read it). */
  perSecond: Map<number, { sockets: TimelineSockets | null; counters: Record<string, number | null> | null; cpu?: CpuSecond }>;
  /** About the own destinations alone when `ownDestinations` was given; else about every destination (older behaviour). */
  ports: PortsSummary | null;
  destinations: DestinationSummary[];
  /** Destinations other than the own ones; null when none was seen, or when no own destinations were given. */
  otherTraffic: NonNullable<RunRecord['otherTraffic']> | null;
  monitor: MonitorInfo;
}

/** Settings the fold needs. */
export interface FoldOptions {
  startEpochMs: number;
  durationS: number;
  intervalS: number;
  scanIntervalS: number;
  usable: number | null;
  /**
   * The run's own destinations (ip:port). Given, the utilization, `own*` socket figures, `ports` and
   * `destinations` are about these alone and everything else goes to `otherTraffic`; absent or
   * empty, every destination counts (the busiest one leads), as before own destinations existed.
   */
  ownDestinations?: readonly string[];
}

/** Splits a scan's destinations into the own ones and the rest. */
function splitter(own: readonly string[]): (scan: SocketScan) => { own: DestinationUsage[]; other: DestinationUsage[] } {
  const keys = new Set(own.map(normalDest));
  return (scan) => {
    const mine: DestinationUsage[] = [];
    const other: DestinationUsage[] = [];
    for (const d of scan.destinations) (d.own || keys.has(canonicalDest(d.dest)) ? mine : other).push(d);
    return { own: mine, other };
  };
}

const maxOf = (xs: Array<number | null | undefined>): number | null => {
  let m: number | null = null;
  for (const x of xs) if (x !== null && x !== undefined && (m === null || x > m)) m = x;
  return m;
};
const sum = (xs: readonly DestinationUsage[], f: (d: DestinationUsage) => number): number => xs.reduce((a, d) => a + f(d), 0);

function socketsOf(scan: SocketScan | null, timeWait: number | null, split: ReturnType<typeof splitter> | null): TimelineSockets | null {
  if (!scan && timeWait === null) return null;
  const out: TimelineSockets = {
    timeWait: Math.max(timeWait ?? 0, scan?.states.timeWait ?? 0),
    established: scan?.states.established ?? null,
    synSent: scan?.states.synSent ?? null,
    finWait: scan ? scan.states.finWait1 + scan.states.finWait2 : null,
    closeWait: scan?.states.closeWait ?? null,
    lastAck: scan?.states.lastAck ?? null,
    ephemeralInUse: scan?.ephemeralInUse ?? null,
    utilization: scan ? (scan.destinations[0]?.utilization ?? null) : null,
    serverTimeWait: scan?.server.timeWait ?? null,
  };
  if (split) {
    const own = scan ? split(scan).own : null;
    out.utilization = own ? (maxOf(own.map((d) => d.utilization)) ?? null) : null;
    out.ownInUse = own ? sum(own, (d) => d.inUse) : null;
    out.ownTimeWait = own ? sum(own, (d) => d.timeWait) : null;
    out.ownServerTimeWait = scan ? (scan.ownServerTimeWait ?? null) : null;
  }
  return out;
}

/** Per-destination peaks over the scans, busiest first. */
function peaks(lists: ReadonlyArray<readonly DestinationUsage[]>): DestinationSummary[] {
  const dests = new Map<string, DestinationSummary>();
  for (const list of lists) {
    for (const d of list) {
      const cur = dests.get(d.dest) ?? { dest: d.dest, peakInUse: 0, peakTimeWait: 0, peakUtilization: null };
      cur.peakInUse = Math.max(cur.peakInUse, d.inUse);
      cur.peakTimeWait = Math.max(cur.peakTimeWait, d.timeWait);
      if (d.utilization !== null) cur.peakUtilization = Math.max(cur.peakUtilization ?? 0, d.utilization);
      dests.set(d.dest, cur);
    }
  }
  return [...dests.values()].sort((a, b) => b.peakInUse - a.peakInUse);
}

/**
 * The expiry histogram of `BaselineDestination`: the scan's time-left steps moved to the load's
 * start (`ageS` later) and gathered into whole seconds. Sockets whose TIME_WAIT ended before the
 * load started are left out, so the histogram can sum to less than the baseline's `timeWait`.
 */
export function expiryFromStart(left: readonly number[] | null | undefined, ageS: number): number[] | null {
  if (left === null || left === undefined) return null;
  const out: number[] = [];
  left.forEach((n, k) => {
    if (n === 0) return;
    // The middle of the step: at most half a step (50 ms) off the kernel's figure.
    const atStartS = ((k + 0.5) * TIME_LEFT_STEP_MS) / 1000 - ageS;
    if (atStartS < 0) return;
    const i = Math.floor(atStartS);
    while (out.length <= i) out.push(0);
    out[i]! += n;
  });
  return out;
}

/** Client sockets before the load, per destination: the own ones first (listed even when idle). */
function baselineByDestination(scan: SocketScan, own: readonly string[], ageS: number): BaselineDestination[] {
  const keys = new Set(own.map(normalDest));
  // No TIME_WAIT: an empty histogram where the source has timers (sockdiag, /proc), else null.
  const none = scan.source === 'netstat' ? null : [];
  const entry = (d: DestinationUsage, isOwn: boolean): BaselineDestination => ({
    dest: d.dest,
    own: isOwn,
    inUse: d.inUse,
    timeWait: d.timeWait,
    timeWaitExpiry: d.timeWait === 0 ? none : expiryFromStart(d.timeWaitLeft, ageS),
  });
  const mine = own.map((key) => {
    const d = scan.destinations.find((x) => canonicalDest(x.dest) === normalDest(key));
    return d ? entry(d, true) : { dest: key, own: true, inUse: 0, timeWait: 0, timeWaitExpiry: none };
  });
  const others = scan.destinations.filter((d) => d.inUse > 0 && !d.own && !keys.has(canonicalDest(d.dest))).map((d) => entry(d, false));
  return [...mine, ...others];
}

function addCounters(into: Record<string, number | null> | null, d: Record<string, number | null>): Record<string, number | null> {
  const out = into ?? {};
  for (const [k, v] of Object.entries(d)) out[k] = v === null ? (out[k] ?? null) : (out[k] ?? 0) + v;
  return out;
}

function p50max(values: number[]): { p50: number; max: number } | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const r = (x: number): number => Math.round(x * 1000) / 1000;
  return { p50: r(sorted[Math.floor(sorted.length / 2)]!), max: r(sorted[sorted.length - 1]!) };
}

/** Folds samples taken during a run (and just before it) into record fields. */
export function foldMonitor(samples: readonly MonitorSample[], status: SamplerStatus, o: FoldOptions): MonitorFold {
  const perSecond: MonitorFold['perSecond'] = new Map();
  const own = o.ownDestinations ?? [];
  const split = own.length > 0 ? splitter(own) : null;
  const before = samples.filter((s) => s.at < o.startEpochMs);
  const during = samples.filter((s) => s.at >= o.startEpochMs);
  const scans = samples.flatMap((s) => (s.scan ? [s.scan] : []));
  // A scan stands for the seconds after it until the next one, up to 1.5 scan intervals, and never
  // past a scan that failed: from there the seconds have no socket picture.
  const attempts = samples.filter((s) => s.scan !== null || s.missing?.scan !== undefined);
  const carryMs = o.scanIntervalS * 1500;
  const lastSecond = Math.max(0, Math.ceil(o.durationS) - 1);
  let scanIdx = 0;
  let sampleIdx = 0;
  let current: SocketScan | null = null;
  for (let t = 0; t <= lastSecond; t++) {
    // The last second also takes the final sample, taken as the monitor stops.
    const endMs = t === lastSecond ? Infinity : o.startEpochMs + (t + 1) * 1000;
    while (scanIdx < attempts.length && attempts[scanIdx]!.at < endMs) current = attempts[scanIdx++]!.scan;
    const secondEnd = Math.min(endMs, o.startEpochMs + (t + 1) * 1000);
    const scan = current && secondEnd - current.at <= carryMs + 1000 ? current : null;
    const inSecond: MonitorSample[] = [];
    while (sampleIdx < during.length && during[sampleIdx]!.at < endMs) inSecond.push(during[sampleIdx++]!);
    const tws = inSecond.flatMap((s) => (s.sockstat ? [s.sockstat.timeWait] : []));
    let counters: Record<string, number | null> | null = null;
    for (const s of inSecond) if (s.counters) counters = addCounters(counters, s.counters);
    perSecond.set(t, { sockets: socketsOf(scan, tws.length > 0 ? Math.max(...tws) : null, split), counters });
  }
  const cpu = cpuPerSecond(samples, o.startEpochMs, o.durationS);
  if (cpu) for (const [t, c] of cpu) perSecond.get(t)!.cpu = c;

  // With own destinations, the peaks come from the scans taken while the load ran (and the final
  // one); the pre-load scans are the baseline's.
  const runScans = own.length > 0 ? during.flatMap((s) => (s.scan ? [s.scan] : [])) : scans;
  const parts = split ? runScans.map(split) : null;
  const destinations = peaks(parts ? parts.map((p) => p.own) : runScans.map((s) => s.destinations));
  const twAll = [
    ...samples.flatMap((s) => (s.sockstat ? [s.sockstat.timeWait] : [])),
    ...scans.map((s) => s.states.timeWait),
  ];
  // With own destinations, TIME_WAIT is the own client TIME_WAIT (a scan figure); without a scan
  // only the host-wide total is known.
  const ownTw = parts ? parts.map((p) => sum(p.own, (d) => d.timeWait)) : [];
  const peakTimeWait = ownTw.length > 0 ? Math.max(...ownTw) : twAll.length > 0 ? Math.max(...twAll) : 0;
  const ports: PortsSummary | null =
    scans.length === 0 && twAll.length === 0
      ? null
      : {
          usable: o.usable,
          peakInUse: destinations[0]?.peakInUse ?? 0,
          peakUtilization: destinations.length > 0 ? Math.max(...destinations.map((d) => d.peakUtilization ?? 0)) : o.usable ? 0 : null,
          peakTimeWait,
          busiestDestination: own.length > 0 ? (destinations.find((d) => d.peakInUse > 0)?.dest ?? own[0]!) : (destinations[0]?.dest ?? null),
        };
  const otherTraffic = parts ? otherOf(runScans, parts) : null;

  const lateness = samples.flatMap((s) => (s.lateMs === null ? [] : [Math.abs(s.lateMs)]));
  const base = before.at(-1) ?? null;
  const baseScan = [...before].reverse().find((s) => s.scan)?.scan ?? null;
  const ageS = baseScan ? round3((o.startEpochMs - baseScan.at) / 1000) : base ? round3((o.startEpochMs - base.at) / 1000) : 0;
  const conntracks = samples.flatMap((s) => (s.conntrack ? [s.conntrack] : []));
  const fds = samples.flatMap((s) => (s.fds ? [s.fds] : []));
  return {
    perSecond,
    ports,
    destinations,
    otherTraffic,
    monitor: {
      enabled: true,
      // A source lost mid-run still made the scans before the loss.
      source: status.source ?? scans.at(-1)?.source ?? null,
      intervalS: o.intervalS,
      scanIntervalS: o.scanIntervalS,
      effectiveScanIntervalS: status.effectiveScanIntervalMs / 1000,
      samples: samples.length,
      scans: scans.length,
      scanCostMs: p50max(scans.map((s) => s.costMs)),
      lateMs: p50max(lateness),
      unavailable: withGaps(samples, status.unavailable, o.startEpochMs),
      baseline: base
        ? {
            timeWait: base.sockstat?.timeWait ?? baseScan?.states.timeWait ?? null,
            ephemeralInUse: baseScan?.ephemeralInUse ?? null,
            ...(baseScan ? { byDestination: baselineByDestination(baseScan, own, ageS), ageS } : {}),
          }
        : null,
      peakConntrack: conntracks.length > 0 ? conntracks.reduce((a, b) => (b.count > a.count ? b : a)) : null,
      peakFds: fds.length > 0 ? (({ open, soft }) => ({ open, soft }))(fds.reduce((a, b) => (b.open > a.open ? b : a))) : null,
      ...(cpu ? { peakCpu: peakCpu(cpu) } : {}),
    },
  };
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * Other traffic: client sockets toward destinations the run did not connect to. Per scan the
 * TIME_WAIT total is the scan's client TIME_WAIT less the own destinations' (exact even for
 * destinations past the kept top `MAX_DESTINATIONS`).
 */
function otherOf(scans: readonly SocketScan[], parts: ReadonlyArray<{ own: DestinationUsage[]; other: DestinationUsage[] }>): MonitorFold['otherTraffic'] {
  const destinations = peaks(parts.map((p) => p.other)).filter((d) => d.peakInUse > 0);
  if (destinations.length === 0) return null;
  const tw = scans.map((s, i) => Math.max(0, s.client.timeWait - sum(parts[i]!.own, (d) => d.timeWait)));
  return {
    peakInUse: destinations[0]!.peakInUse,
    peakTimeWait: Math.max(0, ...tw),
    busiestDestination: destinations[0]!.dest,
    destinations: destinations.slice(0, MAX_DESTINATIONS),
  };
}

/** The sources whose losses are reported, and the sample field each fills. */
const GAP_FIELDS = {
  sockstat: (s: MonitorSample) => s.sockstat,
  counters: (s: MonitorSample) => s.counters,
  conntrack: (s: MonitorSample) => s.conntrack,
  fds: (s: MonitorSample) => s.fds,
  cpu: (s: MonitorSample) => s.cpu?.host ?? null,
  scan: (s: MonitorSample) => s.scan,
} as const;

/** One stretch of samples that could not read a source. */
export interface SourceGap {
  fromMs: number;
  /** The first sample that read it again; null when none did. */
  toMs: number | null;
  code: string;
}

/** Stretches where a source that worked at some point could not be read. */
export function sourceGaps(samples: readonly MonitorSample[], what: keyof typeof GAP_FIELDS): SourceGap[] {
  const gaps: SourceGap[] = [];
  let worked = false;
  let open: SourceGap | null = null;
  for (const s of samples) {
    const code = s.missing?.[what];
    if (code !== undefined) {
      if (!open) gaps.push((open = { fromMs: s.at, toMs: null, code }));
      else if (!open.code.split('/').includes(code)) open.code += `/${code}`;
    } else if (GAP_FIELDS[what](s) !== null) {
      worked = true;
      if (open) open.toMs = s.at;
      open = null;
    }
  }
  return worked ? gaps : [];
}

/**
 * The sampler's reasons, with every source lost for a while (or for good) during the run told in
 * run seconds: those seconds are null in the timeline, not zero.
 */
function withGaps(samples: readonly MonitorSample[], reasons: Record<string, string>, startEpochMs: number): Record<string, string> {
  const out = { ...reasons };
  const at = (ms: number): string => (ms < startEpochMs ? 'before the start' : `t = ${((ms - startEpochMs) / 1000).toFixed(1)} s`);
  for (const what of Object.keys(GAP_FIELDS) as Array<keyof typeof GAP_FIELDS>) {
    const gaps = sourceGaps(samples, what);
    if (gaps.length === 0) continue;
    const spans = gaps.map((g) => `from ${at(g.fromMs)} ${g.toMs === null ? 'to the end' : `to ${at(g.toMs)}`} (${g.code})`);
    const base = reasons[what] ? `${reasons[what]}; ` : '';
    out[what] = `${base}lost ${spans.join(', ')}: no figure for that time (null, not zero)`;
  }
  return out;
}

/** The monitor block of a run made without the monitor. */
export function monitorOff(intervalS: number, scanIntervalS: number): MonitorInfo {
  return {
    enabled: false,
    source: null,
    intervalS,
    scanIntervalS,
    effectiveScanIntervalS: scanIntervalS,
    samples: 0,
    scans: 0,
    scanCostMs: null,
    lateMs: null,
    unavailable: { monitor: 'disabled by the scenario (monitor.enabled: false)' },
    baseline: null,
    peakConntrack: null,
    peakFds: null,
  };
}
