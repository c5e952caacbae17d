/**
 * `portstorm merge`: one run record from the records of a run's shards (`run --shard I/N`).
 *
 * Streaming, one parsed record in memory at a time: each is checked and folded into accumulators
 * (totals, errors, histograms, its timeline on the wall-clock axis: see timeline.ts for what is exact
 * there), and only its small parts (diagnosis, ports, host facts) and its hosts (which the merged
 * record holds) are kept. The merged second 0 is the earliest shard's load start, to the whole second.
 */
import path from 'node:path';
import { UsageError } from '../errors.js';
import { analyzeExhaustion } from '../analysis/exhaustion.js';
import { diagnose } from '../analysis/diagnose.js';
import { hostViews, type HostView } from '../analysis/hosts.js';
import { evaluateThresholds } from '../analysis/thresholds.js';
import { newRunId, writeBeside, writeRunRecordStreamed } from '../record/run-file.js';
import { RUN_SCHEMA, type Exhaustion, type HostRecord, type MergedShards, type RunRecord, type Totals, type Verdict } from '../record/types.js';
import { renderHtml } from '../report/html.js';
import { ShardChecker } from './checks.js';
import { fleetDiagnosis, fleetExhaustion, shardHostName } from './fleet.js';
import { HistogramFold } from './histograms.js';
import { readShardInputs, type NamedRecord } from './read-shard.js';
import { shiftHostTimeline, TimelineFold } from './timeline.js';

/** One input of a merge: its name in messages, and the shard records it holds (read once, one at a time). */
export interface ShardSource {
  name: string;
  records(): AsyncIterable<NamedRecord>;
}

/** A run directory, run.json or pods' log as a source (see {@link readShardInputs}). */
export function fileSource(where: string): ShardSource {
  return { name: where, records: () => readShardInputs(where) };
}

/** A record already in memory as a source (tests, callers that made it). */
export function recordSource(name: string, record: RunRecord): ShardSource {
  return {
    name,
    async *records() {
      yield { name, record };
    },
  };
}

/** Bounds errorSamples of the merged record. */
const MAX_ERROR_SAMPLES = 50;

/** What the first pass keeps of a merged shard. */
interface Kept {
  index: number;
  name: string;
  runId: string;
  label: string | null;
  lateMs: number | null;
  startMs: number;
  startedAtMs: number;
  durationS: number;
  seconds: number;
  exhaustion: Exhaustion;
  verdicts: Verdict[];
  ports: RunRecord['ports'];
  destinations: RunRecord['destinations'];
  otherTraffic: RunRecord['otherTraffic'];
  monitor: RunRecord['monitor'];
  host: RunRecord['host'];
  hosts: HostView[];
  /** The wall-clock second (Unix) its second 0 goes into. */
  at: number;
  offset: number;
}

const WHY_FAILED: Partial<Record<RunRecord['status'], string>> = {
  failed: 'the run failed',
  interrupted: 'the run was interrupted',
  checkpoint: 'the run never finished (a checkpoint record: killed, or still running)',
};

function addCounts(into: Record<string, number>, from: Record<string, number> | undefined): void {
  for (const [k, v] of Object.entries(from ?? {})) into[k] = (into[k] ?? 0) + v;
}

function addTotals(into: Totals, t: Totals): void {
  into.attempted += t.attempted;
  into.completed += t.completed;
  into.failed += t.failed;
  into.dropped += t.dropped;
  into.connectionsOpened += t.connectionsOpened;
  for (const k of ['tlsHandshakes', 'tlsResumed', 'dnsLookups'] as const) if (t[k] !== undefined) into[k] = (into[k] ?? 0) + t[k];
}

function addTargetStats(into: NonNullable<RunRecord['target']['stats']> | null, s: RunRecord['target']['stats']): RunRecord['target']['stats'] {
  if (!s) return into;
  if (!into) return { ...s };
  for (const k of Object.keys(s) as Array<keyof typeof s>) into[k] = (into[k] ?? 0) + (s[k] ?? 0);
  return into;
}

/** The shard's own analysis when its record carries a current one, else made now. */
function analysisOf(r: RunRecord): { exhaustion: Exhaustion; verdicts: Verdict[] } {
  const exhaustion = r.exhaustion?.capacity ? r.exhaustion : analyzeExhaustion(r);
  const verdicts = r.exhaustion?.capacity && r.diagnosis ? r.diagnosis : diagnose(r, exhaustion);
  return { exhaustion, verdicts };
}

/** Options of {@link mergeShards}. */
export interface MergeOptions {
  /** The merged record's label (default: none). */
  label?: string | null;
}

/**
 * Merges the shards' records into one (`source: 'merge'`, `shards` saying which it covers). Bad
 * input (records that are not shards of one run: see {@link ShardChecker}, or no shard that
 * completed) is a one-line `UsageError`.
 */
export async function mergeShards(sources: readonly ShardSource[], opts: MergeOptions = {}): Promise<RunRecord> {
  const checker = new ShardChecker();
  const histograms = new HistogramFold();
  const kept: Kept[] = [];
  const failed: MergedShards['failed'] = [];
  const given = new Set<number>();
  let first: RunRecord | null = null;
  let count = 0;
  const totals: Totals = { attempted: 0, completed: 0, failed: 0, dropped: 0, connectionsOpened: 0 };
  const errors: Record<string, number> = {};
  const errorsByPhase: Record<string, number> = {};
  const errorsBySyscall: Record<string, number> = {};
  let anySyscall = false;
  let targetStats: RunRecord['target']['stats'] = null;
  let workers = 0;
  const limits = new Set<NonNullable<RunRecord['limitsReached']>[number]>();
  const samples: Array<{ index: number; sample: RunRecord['errorSamples'][number] }> = [];
  const sampledCodes = new Set<string>();
  const timeline = new TimelineFold();

  for (const source of sources) for await (const { name, record: r } of source.records()) {
    checker.add(name, r);
    if (!r.shard) continue;
    count = r.shard.count;
    given.add(r.shard.index);
    const why = WHY_FAILED[r.status];
    if (why) {
      failed.push({ index: r.shard.index, why: `${why} (${path.basename(name)}, ${r.durationS} s)` });
      continue;
    }
    first ??= { ...r, timeline: [] };
    histograms.add(r);
    addTotals(totals, r.totals);
    addCounts(errors, r.errors);
    addCounts(errorsByPhase, r.errorsByPhase);
    if (r.errorsBySyscall) anySyscall = true;
    addCounts(errorsBySyscall, r.errorsBySyscall);
    targetStats = addTargetStats(targetStats, r.target.stats);
    workers += r.workers;
    for (const l of r.limitsReached ?? []) limits.add(l);
    for (const sample of r.errorSamples) {
      if (samples.length >= MAX_ERROR_SAMPLES || sampledCodes.has(sample.code)) continue;
      sampledCodes.add(sample.code);
      samples.push({ index: r.shard.index, sample });
    }
    const { exhaustion, verdicts } = analysisOf(r);
    const startMs = Date.parse(r.loadStartedAt ?? r.startedAt);
    const at = Math.round(startMs / 1000);
    timeline.add(r.timeline, at);
    kept.push({
      index: r.shard.index,
      name,
      runId: r.runId,
      label: r.label,
      lateMs: r.shard.lateMs,
      startMs,
      startedAtMs: Date.parse(r.startedAt),
      durationS: r.durationS,
      seconds: r.timeline.length,
      exhaustion,
      verdicts,
      ports: r.ports,
      destinations: r.destinations,
      otherTraffic: r.otherTraffic ?? null,
      monitor: r.monitor,
      host: r.host,
      hosts: hostViews(r),
      at,
      offset: 0,
    });
  }
  checker.finish();
  if (!first || kept.length === 0) {
    throw new UsageError(`${sources.map((s) => s.name).join(', ')}: nothing to merge: no shard completed (${failed.map((f) => `shard ${f.index}: ${f.why}`).join('; ')})`);
  }
  kept.sort((a, b) => a.index - b.index);
  failed.sort((a, b) => a.index - b.index);
  const startMin = Math.min(...kept.map((k) => k.startMs));
  const startMax = Math.max(...kept.map((k) => k.startMs));
  const origin = Math.min(...kept.map((k) => k.at));
  for (const k of kept) k.offset = k.at - origin;
  const length = Math.max(...kept.map((k) => k.offset + k.seconds));

  const hosts: Record<string, HostRecord> = {};
  for (const k of kept) {
    for (const [i, h] of k.hosts.entries()) {
      const { name, ...rest } = h;
      const own = i === 0;
      const shifted: HostRecord = {
        ...rest,
        timeline: shiftHostTimeline(h.timeline, k.offset, length),
        coverage: { ...h.coverage, fromS: h.coverage.fromS === null ? null : h.coverage.fromS + k.offset, toS: h.coverage.toS === null ? null : h.coverage.toS + k.offset },
      };
      if (own) Object.assign(shifted, { role: 'client', source: 'file', address: k.name, clock: { method: 'wall-clock', offsetMs: 0, uncertaintyMs: null } });
      hosts[shardHostName(k.index, own ? undefined : name)] = shifted;
    }
    k.hosts = [];
  }
  const merged = timeline.result(origin, length);

  const busiest = kept.reduce((b, k) => ((k.ports?.peakUtilization ?? -1) > (b.ports?.peakUtilization ?? -1) ? k : b), kept[0]!);
  const busiestName = shardHostName(busiest.index);
  const exhaustion = fleetExhaustion(kept, busiest, merged);
  const diagnosis = fleetDiagnosis(kept.map((k) => ({ index: k.index, offset: k.offset, verdicts: k.verdicts })));
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !given.has(i));
  const shards: MergedShards = {
    count,
    covered: kept.map((k) => k.index),
    missing,
    failed,
    runs: kept.map((k) => ({ index: k.index, runId: k.runId, label: k.label, host: shardHostName(k.index), lateMs: k.lateMs })),
    startSpreadMs: startMax - startMin,
  };
  const summaries = histograms.result();
  const startedAt = new Date(Math.min(...kept.map((k) => k.startedAtMs)));
  const note = `a merged record has no single client: ports, destinations and this monitor are ${busiestName}'s (the busiest: highest peak port utilization); every shard's own are in hosts`;
  const durationS = Math.max(...kept.map((k) => (k.startMs - origin * 1000) / 1000 + k.durationS));
  const { startAt: _startAt, ...scenario } = first.scenario;
  const agreed = first.shard?.startAt ?? null;
  const record: RunRecord = {
    schema: RUN_SCHEMA,
    portstormVersion: first.portstormVersion,
    runId: newRunId(`${first.scenario.name}-merged`, startedAt),
    label: opts.label ?? null,
    source: 'merge',
    shards,
    scenario: { ...scenario, ...(agreed !== null && kept.every((k) => k.lateMs !== null) ? { startAt: agreed } : {}) } as RunRecord['scenario'],
    target: { ...first.target, stats: targetStats },
    startedAt: startedAt.toISOString(),
    loadStartedAt: new Date(origin * 1000).toISOString(),
    durationS: Math.round(durationS * 1000) / 1000,
    status: 'completed',
    limitsReached: [...limits],
    host: busiest.host,
    workers,
    ...(first.engine ? { engine: first.engine } : {}),
    totals,
    errors,
    errorsByPhase,
    ...(anySyscall ? { errorsBySyscall } : {}),
    ...summaries,
    timeline: merged,
    thresholds: [],
    requestLogs: null,
    exhaustion,
    diagnosis,
    ports: busiest.ports,
    destinations: busiest.destinations,
    ...(first.ownDestinations ? { ownDestinations: first.ownDestinations } : {}),
    otherTraffic: busiest.otherTraffic,
    ...(first.sourceStrategy ? { sourceStrategy: first.sourceStrategy } : {}),
    monitor: { ...busiest.monitor, unavailable: { ...busiest.monitor.unavailable, merge: note } },
    hosts,
    errorSamples: samples.map(({ index, sample }) => ({
      ...sample,
      t: Math.round((sample.t + (kept.find((k) => k.index === index)?.offset ?? 0)) * 1000) / 1000,
      message: `${shardHostName(index)}: ${sample.message}`,
    })),
  };
  record.thresholds = evaluateThresholds(record, record.scenario.thresholds);
  return record;
}

/** Where {@link mergeAndWrite} put the merged record. */
export interface MergeOutcome {
  record: RunRecord;
  dir: string;
  file: string;
  /** report.html, or null when it could not be written. */
  html: string | null;
}

/** Hosts report.html charts of a merged record (each with a chart per second); run.json holds every one. */
export const REPORT_HOSTS = 12;

/**
 * The record as report.html shows it (the HTML embeds its record): with more than {@link REPORT_HOSTS}
 * hosts, the shards whose ports ran fullest (and their other hosts) and a note saying so; else as it is.
 */
export function reportView(record: RunRecord): RunRecord {
  const hosts = Object.entries(record.hosts ?? {});
  if (!record.shards || hosts.length <= REPORT_HOSTS) return record;
  const util = (name: string) => record.hosts?.[name.replace(/^.*@/, '')]?.ports?.peakUtilization ?? -1;
  const shards = hosts.filter(([n]) => !n.includes('@')).sort(([a], [b]) => util(b) - util(a));
  const chosen = new Set<string>();
  for (const [n] of shards) {
    const own = hosts.filter(([m]) => m === n || m.endsWith(`@${n}`)).map(([m]) => m);
    if (chosen.size + own.length > REPORT_HOSTS) break;
    for (const m of own) chosen.add(m);
  }
  const note = `this report charts ${chosen.size} of the ${hosts.length} hosts (the shards whose ports ran fullest); run.json holds every one (portstorm report RUN --format md lists them)`;
  return { ...record, hosts: Object.fromEntries(hosts.filter(([n]) => chosen.has(n))), monitor: { ...record.monitor, unavailable: { ...record.monitor.unavailable, 'merge-report': note } } };
}

/**
 * Merges the shards and writes `out/<runId>/run.json` and `report.html`, as a run writes its own
 * (run.json serialized piece by piece: a merge of many shards is too big for one string).
 */
export async function mergeAndWrite(sources: readonly ShardSource[], out: string, opts: MergeOptions = {}): Promise<MergeOutcome> {
  const record = await mergeShards(sources, opts);
  const dir = path.join(out, record.runId);
  const file = await writeRunRecordStreamed(dir, record);
  const html = await writeBeside(dir, 'report.html', renderHtml(reportView(record))).catch(() => null);
  return { record, dir, file, html };
}
