/**
 * One observed host's samples folded into the run record's per-host shape (`HostRecord`), whoever
 * took them: this run's own monitor, a `monitor --serve` agent's stream, a `monitor --out` file.
 * Samples carry their host's clock; the host's clock offset brings them onto the run's axis first.
 */
import type { HostClock, HostInfo, HostRecord, HostRole, HostSecond } from '../record/types.js';
import { foldMonitor, type MonitorFold } from './fold.js';
import type { SamplerStatus } from './sampler.js';
import type { MonitorSample } from './types.js';

/** Who a host is and how it was observed. */
export interface HostIdentity {
  role: HostRole;
  address: string;
  source: HostRecord['source'];
  clock: HostClock;
  /** The host's settings as it reported them (null when unknown). */
  host: HostInfo | null;
}

/** The run a host is folded into. */
export interface HostFoldRun {
  /** The run's start (epoch ms, this machine's clock) and length. */
  startEpochMs: number;
  durationS: number;
  intervalS: number;
  scanIntervalS: number;
  /** Own destinations: the client's targets; other hosts have none (every destination counts, the busiest leads). */
  ownDestinations?: readonly string[];
}

/**
 * The samples with their times moved from the host's clock to this machine's: `at − offsetMs`
 * (the offset is host time − local time). Copies; the input is not changed.
 */
export function toLocalClock(samples: readonly MonitorSample[], offsetMs: number): MonitorSample[] {
  if (offsetMs === 0) return [...samples];
  return samples.map((s) => ({
    ...s,
    at: s.at - offsetMs,
    sockstat: s.sockstat && { ...s.sockstat, at: s.sockstat.at - offsetMs },
    scan: s.scan && { ...s.scan, at: s.scan.at - offsetMs },
  }));
}

/** Folds one host's samples (in its own clock) into its HostRecord; `gaps` are reasons known to the caller (an agent lost mid-run). */
export function foldHost(samples: readonly MonitorSample[], status: SamplerStatus, who: HostIdentity, run: HostFoldRun, gaps: readonly string[] = []): HostRecord {
  return foldHostAndMonitor(samples, status, who, run, gaps).host;
}

/** foldHost, and the monitor fold it was made from (the client's top-level record fields come from it). */
export function foldHostAndMonitor(
  samples: readonly MonitorSample[],
  status: SamplerStatus,
  who: HostIdentity,
  run: HostFoldRun,
  gaps: readonly string[] = [],
): { host: HostRecord; fold: MonitorFold } {
  const local = toLocalClock(samples, who.clock.offsetMs).sort((a, b) => a.at - b.at);
  const fold = foldMonitor(local, status, {
    startEpochMs: run.startEpochMs,
    durationS: run.durationS,
    intervalS: run.intervalS,
    scanIntervalS: run.scanIntervalS,
    usable: who.host?.usablePorts ?? null,
    ownDestinations: run.ownDestinations,
  });
  const seconds = Math.max(1, Math.ceil(run.durationS));
  const timeline: HostSecond[] = [];
  const conntrack = conntrackPerSecond(local, run.startEpochMs, seconds);
  for (let t = 0; t < seconds; t++) {
    const p = fold.perSecond.get(t);
    const entry: HostSecond = { t, sockets: p?.sockets ?? null, counters: p?.counters ?? null };
    if (p?.cpu) entry.cpu = p.cpu;
    if (conntrack.has(t)) entry.conntrack = conntrack.get(t)!;
    timeline.push(entry);
  }
  const seen = local.filter((s) => s.at >= run.startEpochMs).map((s) => Math.floor((s.at - run.startEpochMs) / 1000));
  const withSockets = timeline.filter((e) => e.sockets !== null).length;
  const host: HostRecord = {
    role: who.role,
    address: who.address,
    source: who.source,
    clock: who.clock,
    host: who.host,
    timeline,
    ports: fold.ports,
    destinations: fold.destinations,
    monitor: fold.monitor,
    coverage: {
      fromS: seen.length > 0 ? Math.min(...seen) : null,
      toS: seen.length > 0 ? Math.min(seconds - 1, Math.max(...seen)) : null,
      share: Math.round((withSockets / seconds) * 1000) / 1000,
    },
    gaps: [...gaps],
  };
  return { host, fold };
}

/** The connection-tracking table at the end of each run second (the last sample in it that read one). */
function conntrackPerSecond(samples: readonly MonitorSample[], startEpochMs: number, seconds: number): Map<number, { count: number; max: number }> {
  const out = new Map<number, { count: number; max: number }>();
  for (const s of samples) {
    if (!s.conntrack || s.at < startEpochMs) continue;
    const t = Math.min(seconds - 1, Math.floor((s.at - startEpochMs) / 1000));
    out.set(t, { count: s.conntrack.count, max: s.conntrack.max });
  }
  return out;
}
