/**
 * Folds the monitor's samples into the run record: a socket picture and counter increases per
 * second of the run, the port-budget peaks, and how the monitor itself fared.
 */
import type { DestinationSummary, MonitorInfo, PortsSummary, TimelineSockets } from '../record/types.js';
import type { SamplerStatus } from './sampler.js';
import type { MonitorSample, SocketScan } from './types.js';

/** What the record gets from the monitor. */
export interface MonitorFold {
  /** Per run second: sockets and counters (null where unknown). */
  perSecond: Map<number, { sockets: TimelineSockets | null; counters: Record<string, number | null> | null }>;
  ports: PortsSummary | null;
  destinations: DestinationSummary[];
  monitor: MonitorInfo;
}

/** Settings the fold needs. */
export interface FoldOptions {
  startEpochMs: number;
  durationS: number;
  intervalS: number;
  scanIntervalS: number;
  usable: number | null;
}

const busiest = (scan: SocketScan): number | null => scan.destinations[0]?.utilization ?? null;

function socketsOf(scan: SocketScan | null, timeWait: number | null): TimelineSockets | null {
  if (!scan && timeWait === null) return null;
  return {
    timeWait: Math.max(timeWait ?? 0, scan?.states.timeWait ?? 0),
    established: scan?.states.established ?? null,
    synSent: scan?.states.synSent ?? null,
    finWait: scan ? scan.states.finWait1 + scan.states.finWait2 : null,
    closeWait: scan?.states.closeWait ?? null,
    lastAck: scan?.states.lastAck ?? null,
    ephemeralInUse: scan?.ephemeralInUse ?? null,
    utilization: scan ? busiest(scan) : null,
    serverTimeWait: scan?.server.timeWait ?? null,
  };
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
    perSecond.set(t, { sockets: socketsOf(scan, tws.length > 0 ? Math.max(...tws) : null), counters });
  }

  const dests = new Map<string, DestinationSummary>();
  for (const scan of scans) {
    for (const d of scan.destinations) {
      const cur = dests.get(d.dest) ?? { dest: d.dest, peakInUse: 0, peakTimeWait: 0, peakUtilization: null };
      cur.peakInUse = Math.max(cur.peakInUse, d.inUse);
      cur.peakTimeWait = Math.max(cur.peakTimeWait, d.timeWait);
      if (d.utilization !== null) cur.peakUtilization = Math.max(cur.peakUtilization ?? 0, d.utilization);
      dests.set(d.dest, cur);
    }
  }
  const destinations = [...dests.values()].sort((a, b) => b.peakInUse - a.peakInUse);
  const twAll = [
    ...samples.flatMap((s) => (s.sockstat ? [s.sockstat.timeWait] : [])),
    ...scans.map((s) => s.states.timeWait),
  ];
  const ports: PortsSummary | null =
    scans.length === 0 && twAll.length === 0
      ? null
      : {
          usable: o.usable,
          peakInUse: destinations[0]?.peakInUse ?? 0,
          peakUtilization: destinations.length > 0 ? Math.max(...destinations.map((d) => d.peakUtilization ?? 0)) : o.usable ? 0 : null,
          peakTimeWait: twAll.length > 0 ? Math.max(...twAll) : 0,
          busiestDestination: destinations[0]?.dest ?? null,
        };

  const lateness = samples.flatMap((s) => (s.lateMs === null ? [] : [Math.abs(s.lateMs)]));
  const base = before.at(-1) ?? null;
  const baseScan = [...before].reverse().find((s) => s.scan)?.scan ?? null;
  const conntracks = samples.flatMap((s) => (s.conntrack ? [s.conntrack] : []));
  const fds = samples.flatMap((s) => (s.fds ? [s.fds] : []));
  return {
    perSecond,
    ports,
    destinations,
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
      baseline: base ? { timeWait: base.sockstat?.timeWait ?? baseScan?.states.timeWait ?? null, ephemeralInUse: baseScan?.ephemeralInUse ?? null } : null,
      peakConntrack: conntracks.length > 0 ? conntracks.reduce((a, b) => (b.count > a.count ? b : a)) : null,
      peakFds: fds.length > 0 ? (({ open, soft }) => ({ open, soft }))(fds.reduce((a, b) => (b.open > a.open ? b : a))) : null,
    },
  };
}

/** The sources whose losses are reported, and the sample field each fills. */
const GAP_FIELDS = {
  sockstat: (s: MonitorSample) => s.sockstat,
  counters: (s: MonitorSample) => s.counters,
  conntrack: (s: MonitorSample) => s.conntrack,
  fds: (s: MonitorSample) => s.fds,
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
