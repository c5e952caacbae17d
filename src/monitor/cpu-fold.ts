/**
 * CPU per run second from the monitor's cumulative readings: between two readings the CPU time is
 * taken to grow evenly, so the time spent within a second is the difference of the cumulative
 * figure interpolated at the second's start and end. Pure.
 */
import type { CpuReading, MonitorSample } from './types.js';

/** CPU in use during one second, in cores; null where unreadable. */
export interface CpuSecond {
  process: number | null;
  host: number | null;
}

/** Two readings further apart than this are not interpolated between (a gap: null). */
const MAX_GAP_MS = 3000;

interface Point {
  at: number;
  values: number[];
}

/** The values at `x`, linearly between the readings around it; null outside them or across a gap. */
function valueAt(points: readonly Point[], x: number): number[] | null {
  if (points.length === 0 || x < points[0]!.at || x > points[points.length - 1]!.at) return null;
  let lo = 0;
  let hi = points.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (points[mid]!.at <= x) lo = mid;
    else hi = mid;
  }
  const a = points[lo]!;
  const b = points[hi]!;
  if (x === a.at) return a.values;
  if (x === b.at) return b.values;
  if (b.at - a.at > MAX_GAP_MS) return null;
  const f = (x - a.at) / (b.at - a.at);
  return a.values.map((v, i) => v + f * (b.values[i]! - v));
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * Cores used in each run second [t, t + 1) s (the last one ends at `durationS`): `process` from
 * this process's CPU time, `host` from the machine's busy share × its CPUs. Null when no readings
 * surround the second. Returns null when no sample carried CPU readings (older samplers).
 */
export function cpuPerSecond(samples: readonly MonitorSample[], startEpochMs: number, durationS: number): Map<number, CpuSecond> | null {
  const readings = samples.filter((s): s is MonitorSample & { cpu: CpuReading } => s.cpu !== undefined && s.cpu !== null);
  if (readings.length === 0) return null;
  const proc: Point[] = [];
  const host: Point[] = [];
  for (const s of [...readings].sort((a, b) => a.at - b.at)) {
    if (s.cpu.processUs !== null) proc.push({ at: s.at, values: [s.cpu.processUs] });
    if (s.cpu.host) host.push({ at: s.at, values: [s.cpu.host.busy, s.cpu.host.total, s.cpu.host.cpus] });
  }
  const out = new Map<number, CpuSecond>();
  const lastSecond = Math.max(0, Math.ceil(durationS) - 1);
  for (let t = 0; t <= lastSecond; t++) {
    const from = startEpochMs + t * 1000;
    const to = startEpochMs + Math.max(t + 0.001, Math.min(t + 1, durationS)) * 1000;
    const p0 = valueAt(proc, from);
    const p1 = valueAt(proc, to);
    const processCores = p0 && p1 ? round3(Math.max(0, p1[0]! - p0[0]!) / 1000 / (to - from)) : null;
    const h0 = valueAt(host, from);
    const h1 = valueAt(host, to);
    let hostCores: number | null = null;
    if (h0 && h1) {
      const total = h1[1]! - h0[1]!;
      if (total > 0) hostCores = round3((Math.max(0, h1[0]! - h0[0]!) / total) * h1[2]!);
    }
    out.set(t, { process: processCores, host: hostCores });
  }
  return out;
}

/** The highest of each figure over the seconds; null where never known. */
export function peakCpu(perSecond: ReadonlyMap<number, CpuSecond>): CpuSecond {
  let process: number | null = null;
  let host: number | null = null;
  for (const c of perSecond.values()) {
    if (c.process !== null && (process === null || c.process > process)) process = c.process;
    if (c.host !== null && (host === null || c.host > host)) host = c.host;
  }
  return { process, host };
}
