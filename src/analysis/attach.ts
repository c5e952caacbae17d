/**
 * A host observed apart from the run, attached to its record after the fact (`report --attach`):
 * a `monitor --out` file's samples aligned by wall-clock time to the run's seconds, folded into the
 * per-host shape, and the analysis made again with it. Pure: a record and a file's contents in, a
 * new record out.
 */
import { UsageError } from '../errors.js';
import { foldHost } from '../monitor/host-fold.js';
import type { SamplesFile, TimeWindow } from '../monitor/samples-file.js';
import type { MonitorSample } from '../monitor/types.js';
import { RUN_SCHEMA, type HostRecord, type HostRole, type RunRecord } from '../record/types.js';
import { sec } from '../vocab/format.js';
import { diagnose } from './diagnose.js';
import { analyzeExhaustion } from './exhaustion.js';
import { CLIENT_HOST, hostViews } from './hosts.js';

/** Where the run's second 0 is on the wall clock, and how long the run was. */
export interface RunSpan {
  startEpochMs: number;
  durationS: number;
  /**
   * True when the record holds the load's start (`loadStartedAt`); false for older records, whose
   * `startedAt` is earlier by the run's start-up (target, monitor baseline, workers).
   */
  exact: boolean;
}

/** The run's span on the wall clock (`loadStartedAt`, else `startedAt`). */
export function runSpan(r: RunRecord): RunSpan {
  const at = r.loadStartedAt ?? r.startedAt;
  return { startEpochMs: Date.parse(at), durationS: r.durationS, exact: r.loadStartedAt !== undefined };
}

/** How far before the load a file's samples are read: the host's state before it (the fold's baseline) is the last scan in here. */
const BEFORE_MS = 60_000;

/** The stretch of a file worth reading for a run: a minute before it (for the baseline) to its end. */
export function attachWindow(span: RunSpan): TimeWindow {
  return { fromMs: span.startEpochMs - BEFORE_MS, toMs: span.startEpochMs + span.durationS * 1000 };
}

/** How a file's samples overlap the run. Times are run seconds. */
export interface Overlap {
  runS: number;
  /** The first and last sample inside the run, or null when none is. */
  firstS: number | null;
  lastS: number | null;
  /** Seconds of the run within the sampling cadence of a sample. */
  coveredS: number;
  /** Stretches of the run without samples (longer than the cadence allows), in order. */
  holes: Array<{ fromS: number; toS: number }>;
}

/** A stretch without samples longer than this is a hole: a run second, or 4 sample intervals when they are longer. */
export function holeMs(intervalMs: number): number {
  return Math.max(1000, 4 * intervalMs);
}

const r1 = (x: number): number => Math.round(x * 10) / 10;

/**
 * How sample times (epoch ms) cover the run: consecutive samples (and the run's start and end)
 * closer than `maxGapMs` cover the time between them; a longer stretch is a hole.
 */
export function overlapOf(times: readonly number[], span: RunSpan, maxGapMs: number): Overlap {
  const startMs = span.startEpochMs;
  const endMs = startMs + span.durationS * 1000;
  const inside = times.filter((t) => t >= startMs && t <= endMs).sort((a, b) => a - b);
  if (inside.length === 0) return { runS: span.durationS, firstS: null, lastS: null, coveredS: 0, holes: [] };
  const points = [startMs, ...inside, endMs];
  let coveredMs = 0;
  const holes: Overlap['holes'] = [];
  for (let i = 1; i < points.length; i++) {
    const gap = points[i]! - points[i - 1]!;
    if (gap <= maxGapMs) coveredMs += gap;
    else holes.push({ fromS: r1((points[i - 1]! - startMs) / 1000), toS: r1((points[i]! - startMs) / 1000) });
  }
  return {
    runS: span.durationS,
    firstS: r1((inside[0]! - startMs) / 1000),
    lastS: r1((inside.at(-1)! - startMs) / 1000),
    coveredS: r1(coveredMs / 1000),
    holes,
  };
}

/** The holes as the host record's `gaps` say them. */
export function overlapGaps(o: Overlap): string[] {
  return o.holes.map((h) => {
    if (h.fromS === 0 && o.firstS !== null && h.toS === o.firstS) return `no samples before t = ${sec(h.toS)}: the file starts ${sec(h.toS)} into the run`;
    if (o.lastS !== null && h.fromS === o.lastS && h.toS === r1(o.runS)) return `no samples after t = ${sec(h.fromS)}: the file ends ${sec(r1(o.runS - h.fromS))} before the run`;
    return `no samples from t = ${sec(h.fromS)} to ${sec(h.toS)}`;
  });
}

/** `samples.ndjson covers 12.0 s of the run's 30.0 s (t = 4.0–16.0 s); 18.0 s without samples`. */
export function overlapSentence(label: string, o: Overlap): string {
  const head = `${label} covers ${sec(o.coveredS)} of the run's ${sec(o.runS)}`;
  if (o.firstS === null || o.lastS === null) return `${head}: none of its samples falls within the run`;
  const missing = r1(Math.max(0, o.runS - o.coveredS));
  return `${head} (t = ${o.firstS.toFixed(1)}–${o.lastS.toFixed(1)} s)${missing > 0 ? `; ${sec(missing)} without samples` : ''}`;
}

/** The median step between sorted times, or null with fewer than two. */
function medianStep(times: number[]): number | null {
  const sorted = [...times].sort((a, b) => a - b);
  const steps = sorted.slice(1).map((t, i) => t - sorted[i]!).filter((d) => d > 0);
  if (steps.length === 0) return null;
  steps.sort((a, b) => a - b);
  return Math.round(steps[Math.floor(steps.length / 2)]!);
}

/** The file's sampling cadence: from its hello line, else measured on its samples (else the monitor's defaults). */
export function cadenceOf(file: SamplesFile): { intervalMs: number; scanIntervalMs: number } {
  if (file.hello) return { intervalMs: file.hello.intervalMs, scanIntervalMs: file.hello.scanIntervalMs };
  const fast = medianStep(file.samples.filter((s) => s.sockstat !== null || s.counters !== null).map((s) => s.at));
  const scans = medianStep(file.samples.flatMap((s) => (s.scan ? [s.scan.at] : [])));
  return { intervalMs: fast ?? 250, scanIntervalMs: scans ?? 1000 };
}

/**
 * The samples the fold needs: those during the run, and before it only from the last scan before
 * it on (the host's state as the load began), so an earlier stretch of the file adds nothing.
 */
function forTheRun(samples: readonly MonitorSample[], span: RunSpan): MonitorSample[] {
  const startMs = span.startEpochMs;
  const endMs = startMs + span.durationS * 1000;
  const before = samples.filter((s) => s.at < startMs);
  const latest = (of: readonly MonitorSample[]): number | null => (of.length > 0 ? Math.max(...of.map((s) => s.at)) : null);
  const from = latest(before.filter((s) => s.scan !== null)) ?? latest(before) ?? startMs;
  return samples.filter((s) => s.at >= from && s.at <= endMs);
}

/** A host to attach: its name in `hosts`, its role, where its samples came from, and what they are. */
export interface AttachHost {
  name: string;
  role: HostRole;
  /** The file's path (the record's `address` of the host). */
  address: string;
  /** Names the file in messages. */
  label: string;
  file: SamplesFile;
}

/** A record with a host attached, and what was done. */
export interface Attached {
  record: RunRecord;
  host: HostRecord;
  overlap: Overlap;
  /** The host of that name the record held before, now replaced; null when there was none. */
  replaced: HostRecord | null;
}

/** `2026-11-24T02:30:54.387Z` for epoch ms. */
const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Attaches a host's samples to a run record, aligned by wall-clock time (clock `wall-clock`,
 * offset 0): folded over the run's span into `hosts[name]` (replacing a host of that name), with
 * its coverage and gaps, then the analysis (`exhaustion`, `diagnosis`) made again. The result is a
 * record of the current schema; a schema 1 record gains its `client` host from its top-level
 * figures first. The input is not changed. A file without a usable sample, or none within the run,
 * is a `UsageError` naming `label`.
 */
export function attachHost(record: RunRecord, a: AttachHost): Attached {
  if (a.name === CLIENT_HOST) throw new UsageError(`${a.label}: the name ${CLIENT_HOST} is the load generator's own host`);
  const span = runSpan(record);
  const { file } = a;
  if (!file.range) {
    const first = file.problems[0]?.slice(a.label.length).replace(/^:?\s*/, '');
    const why = first ? ` (${file.badLines} line${file.badLines === 1 ? '' : 's'} could not be read, the first: ${first})` : '';
    throw new UsageError(`${a.label}: no usable sample in it${why}; expected the NDJSON of portstorm monitor --out`);
  }
  const cadence = cadenceOf(file);
  const overlap = overlapOf(
    file.samples.map((s) => s.at),
    span,
    holeMs(cadence.intervalMs),
  );
  if (overlap.firstS === null) {
    const run = `${iso(span.startEpochMs)} to ${iso(span.startEpochMs + span.durationS * 1000)}`;
    throw new UsageError(`${a.label}: does not overlap the run: its samples are from ${iso(file.range.firstMs)} to ${iso(file.range.lastMs)}, the run's load from ${run}`);
  }
  const samples = forTheRun(file.samples, span);
  const status = file.status ?? { source: samples.findLast((s) => s.scan)?.scan?.source ?? null, unavailable: {}, effectiveScanIntervalMs: cadence.scanIntervalMs };
  const folded = foldHost(
    samples,
    status,
    { role: a.role, address: a.address, source: 'file', clock: { method: 'wall-clock', offsetMs: 0, uncertaintyMs: null }, host: file.hello?.host ?? null },
    { startEpochMs: span.startEpochMs, durationS: span.durationS, intervalS: cadence.intervalMs / 1000, scanIntervalS: cadence.scanIntervalMs / 1000 },
    overlapGaps(overlap),
  );
  // One entry per second of the run's own timeline, which can run a second past its duration.
  for (let t = folded.timeline.length; t < record.timeline.length; t++) folded.timeline.push({ t, sockets: null, counters: null });
  const replaced = record.hosts?.[a.name] ?? null;
  const revised: RunRecord = { ...record, schema: RUN_SCHEMA, hosts: withHost(record, a.name, folded) };
  revised.exhaustion = analyzeExhaustion(revised);
  revised.diagnosis = diagnose(revised, revised.exhaustion);
  return { record: revised, host: folded, overlap, replaced };
}

/** The record's hosts with `name` set to `host`: `client` first (from the top-level figures of a record without it, when its monitor ran), a replaced host in its place. */
function withHost(record: RunRecord, name: string, host: HostRecord): Record<string, HostRecord> {
  const hosts: Record<string, HostRecord> = {};
  const before = record.hosts ?? {};
  if (before[CLIENT_HOST]) hosts[CLIENT_HOST] = before[CLIENT_HOST];
  else if (record.monitor.enabled) {
    const { name: _name, ...client } = hostViews(record)[0]!;
    hosts[CLIENT_HOST] = client;
  }
  for (const [n, h] of Object.entries(before)) if (n !== CLIENT_HOST) hosts[n] = n === name ? host : h;
  hosts[name] = host;
  return hosts;
}
