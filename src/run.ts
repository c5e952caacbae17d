/**
 * One run: start the built-in target if asked, start the load, merge what it observes, and
 * assemble the run record. Knows no screen: progress goes to a callback, stopping to a signal.
 */
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { diagnose } from './analysis/diagnose.js';
import { analyzeExhaustion } from './analysis/exhaustion.js';
import { evaluateThresholds } from './analysis/thresholds.js';
import { epochMs, sleep } from './load/clock.js';
import { requestLogName, startLoad, type RunningLoad } from './load/engine.js';
import { resolveTarget, type TargetAddress } from './load/target-address.js';
import { foldMonitor, monitorOff, type MonitorFold } from './monitor/fold.js';
import { hostInfo } from './monitor/host.js';
import { startMonitor, type RunningMonitor } from './monitor/monitor.js';
import { RunAccumulator, type ErrorSampleRecord, type LiveStats } from './record/accumulator.js';
import type { WireBucket } from './record/bucket.js';
import { newRunId, writeBeside, writeRunRecord } from './record/run-file.js';
import { renderHtml } from './report/html.js';
import { RUN_SCHEMA, type HostInfo, type RunRecord, type TargetStats } from './record/types.js';
import type { Scenario } from './scenario/schema.js';
import { startTargetThread, type TargetThread } from './target/thread.js';
import { PORTSTORM_VERSION } from './version.js';

/** How a run is made. */
export interface RunOptions {
  scenario: Scenario;
  /** Directory under which `<runId>/run.json` is written. */
  resultsDir: string;
  label?: string | null;
  /** Overrides the scenario's allowRemote. */
  allowRemote?: boolean;
  /** Write a per-request NDJSON log per worker next to run.json. */
  logRequests?: boolean;
  /** Aborting stops new requests, waits briefly for in-flight ones, and writes a partial record. */
  signal?: AbortSignal;
  /** Called twice a second while the load runs. */
  onProgress?: (elapsedS: number, live: LiveStats) => void;
  /** Called once the target is known and the load is about to start. */
  onStart?: (info: { runId: string; targetUrl: string; workers: number }) => void;
}

/** The outcome of a run: the record and where it and its HTML report were written. */
export interface RunOutcome {
  record: RunRecord;
  dir: string;
  file: string;
  /** The HTML report, or null when it could not be written. */
  html: string | null;
}

/** How long in-flight requests may finish after a stop before they are aborted. */
const STOP_GRACE_MS = 2000;
/** How long a run waits for the monitor's first (baseline) sample. */
const BASELINE_WAIT_MS = 2000;

/** The number of load workers for `workers: auto`: the cores left after the built-in target. */
export function autoWorkers(builtin: boolean): number {
  return Math.max(1, os.availableParallelism() - (builtin ? 1 : 0));
}

/** How the built-in target closes: first when keep-alive is off or a TCP scenario says so. */
export function builtinClose(s: Scenario): 'never' | 'after-response' {
  const serverCloses = !s.builtin.keepAlive || (s.protocol === 'tcp' && s.connection.close === 'server');
  return serverCloses ? 'after-response' : 'never';
}

async function startTarget(s: Scenario, allowRemote: boolean): Promise<{ addr: TargetAddress; url: string; thread: TargetThread | null }> {
  if (s.target !== 'builtin') {
    const addr = await resolveTarget(s.target, allowRemote);
    return { addr, url: s.target, thread: null };
  }
  const thread = await startTargetThread({
    protocol: s.protocol,
    host: '127.0.0.1',
    port: 0,
    delayMs: s.builtin.delayMs,
    bodyBytes: s.builtin.bodyBytes,
    close: builtinClose(s),
  });
  const url = `${s.protocol}://${thread.host}:${thread.port}${s.protocol === 'http' ? s.request.path : ''}`;
  return { addr: { host: thread.host, port: thread.port }, url, thread };
}

/** Runs a scenario to its end (or until `signal` aborts) and writes its run record. */
export async function runScenario(opts: RunOptions): Promise<RunOutcome> {
  const s = opts.scenario;
  const startedAt = new Date();
  const runId = newRunId(s.name, startedAt);
  const dir = path.join(opts.resultsDir, runId);
  const host = hostInfo();
  const { addr, url, thread } = await startTarget(s, opts.allowRemote ?? s.allowRemote);
  const monitor = s.monitor.enabled ? await startRunMonitor(s, host) : null;
  const acc = new RunAccumulator();
  const workers = s.workers === 'auto' ? autoWorkers(thread !== null) : s.workers;
  let load: RunningLoad | null = null;
  let status: RunRecord['status'] = 'completed';
  let failure: unknown = null;
  let ticker: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    status = 'interrupted';
    void load?.stop(STOP_GRACE_MS);
  };
  try {
    opts.onStart?.({ runId, targetUrl: url, workers });
    if (opts.logRequests) await mkdir(dir, { recursive: true });
    const observer = { buckets: (b: WireBucket[]) => acc.add(b), sample: (x: ErrorSampleRecord) => acc.addSample(x) };
    load = await startLoad(s, { ...addr, authority: new URL(url).host }, workers, observer, opts.logRequests ? dir : null);
    const started = load.startEpochMs;
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.onProgress) {
      const progress = opts.onProgress;
      ticker = setInterval(() => {
        const elapsed = (epochMs() - started) / 1000;
        progress(elapsed, { ...acc.live(elapsed), sockets: liveSockets(monitor) });
      }, 500);
    }
    await load.done;
  } catch (err) {
    status = 'failed';
    failure = err;
  } finally {
    clearInterval(ticker);
    opts.signal?.removeEventListener('abort', onAbort);
  }
  const startEpochMs = load?.startEpochMs ?? epochMs();
  const durationS = load ? Math.max(0, (epochMs() - startEpochMs) / 1000) : 0;
  // Stop the monitor while the built-in target still listens: its TIME_WAIT sockets count as
  // server side only while their port is a listening port.
  const monitored = monitor ? await monitor.stop() : null;
  const targetStats = thread ? await thread.stats().catch(() => null) : null;
  await thread?.close().catch(() => undefined);
  const fold = monitored
    ? foldMonitor(monitored.samples, monitored.status, {
        startEpochMs,
        durationS,
        intervalS: s.monitor.interval,
        scanIntervalS: s.monitor.scanInterval,
        usable: host.usablePorts,
      })
    : null;
  const requestLogs = opts.logRequests && load ? Array.from({ length: workers }, (_, i) => requestLogName(i)) : null;
  const record = assemble({ s, runId, requestLogs, label: opts.label ?? null, url, targetStats, builtin: thread !== null, startedAt, durationS, status, workers, acc, host, fold });
  const file = await writeRunRecord(dir, record);
  // The record is safe on disk; a report that cannot be drawn must not cost the run.
  const html = await writeBeside(dir, 'report.html', renderHtml(record)).catch(() => null);
  if (failure) throw failure;
  return { record, dir, file, html };
}

/** Starts the sampler thread and waits (briefly) for its first sample: the pre-load baseline. */
async function startRunMonitor(s: Scenario, host: HostInfo): Promise<RunningMonitor> {
  const monitor = startMonitor({
    intervalMs: s.monitor.interval * 1000,
    scanIntervalMs: s.monitor.scanInterval * 1000,
    budget: { range: host.portRange ?? [0, 65535], usable: host.usablePorts ?? 0 },
  });
  for (let waited = 0; monitor.latest().sample === null && waited < BASELINE_WAIT_MS; waited += 10) await sleep(10);
  return monitor;
}

function liveSockets(monitor: RunningMonitor | null): LiveStats['sockets'] {
  const { sample, scan } = monitor?.latest() ?? { sample: null, scan: null };
  const timeWait = sample?.sockstat?.timeWait ?? scan?.scan?.states.timeWait ?? null;
  if (timeWait === null) return null;
  return { timeWait, utilization: scan?.scan?.destinations[0]?.utilization ?? null };
}

interface AssembleInput {
  s: Scenario;
  runId: string;
  label: string | null;
  url: string;
  builtin: boolean;
  targetStats: TargetStats | null;
  requestLogs: string[] | null;
  startedAt: Date;
  durationS: number;
  status: RunRecord['status'];
  workers: number;
  acc: RunAccumulator;
  host: HostInfo;
  fold: MonitorFold | null;
}

function assemble(a: AssembleInput): RunRecord {
  const results = a.acc.results(a.durationS);
  if (a.fold) {
    for (const entry of results.timeline) Object.assign(entry, a.fold.perSecond.get(entry.t) ?? {});
  }
  const record: RunRecord = {
    schema: RUN_SCHEMA,
    portstormVersion: PORTSTORM_VERSION,
    runId: a.runId,
    label: a.label,
    scenario: a.s,
    target: { url: a.url, builtin: a.builtin, stats: a.targetStats },
    startedAt: a.startedAt.toISOString(),
    durationS: Math.round(a.durationS * 1000) / 1000,
    status: a.status,
    host: a.host,
    workers: a.workers,
    ...results,
    ports: a.fold?.ports ?? null,
    destinations: a.fold?.destinations ?? [],
    monitor: a.fold?.monitor ?? monitorOff(a.s.monitor.interval, a.s.monitor.scanInterval),
    requestLogs: a.requestLogs,
    thresholds: [],
  };
  record.thresholds = evaluateThresholds(record, a.s.thresholds);
  record.exhaustion = analyzeExhaustion(record);
  record.diagnosis = diagnose(record, record.exhaustion);
  return record;
}
