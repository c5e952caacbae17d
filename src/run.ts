/**
 * One run: start the built-in target if asked, start the load, merge what it observes, and
 * assemble the run record. Knows no screen: progress goes to a callback, stopping to a signal.
 */
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { diagnose } from './analysis/diagnose.js';
import { analyzeExhaustion } from './analysis/exhaustion.js';
import { evaluateThresholds } from './analysis/thresholds.js';
import { epochMs, sleep } from './load/clock.js';
import { limitsReached, releaseFdReserve } from './limits.js';
import { requestLogName, startLoad, type RunningLoad } from './load/engine.js';
import { parseStartAt, shardLabel, shardPart, WHOLE, type Shard, type ShardPart } from './load/shard.js';
import { connectionEngine, type EngineChoice } from './load/transport/index.js';
import { resolveTarget, type ResolvedTarget } from './load/target-address.js';
import { runTls, type RunTls } from './load/tls-settings.js';
import { hostPort } from './vocab/address.js';
import { UsageError } from './errors.js';
import { sourceFamilyProblem } from './scenario/source-family.js';
import { monitorOff } from './monitor/fold.js';
import { foldHostAndMonitor, type HostIdentity } from './monitor/host-fold.js';
import { CLIENT_HOST } from './analysis/hosts.js';
import { hostInfo } from './monitor/host.js';
import { startMonitor, type RunningMonitor } from './monitor/monitor.js';
import type { SamplerStatus } from './monitor/sampler.js';
import type { MonitorSample } from './monitor/types.js';
import { RunAccumulator, type ErrorSampleRecord, type LiveStats } from './record/accumulator.js';
import type { WireBucket } from './record/bucket.js';
import { newRunId, writeBeside, writeRunRecord } from './record/run-file.js';
import { renderHtml } from './report/html.js';
import { RUN_SCHEMA, type HostInfo, type RunRecord, type ShardInfo, type RunStatus, type TargetResolution, type TargetStats, type TargetTls } from './record/types.js';
import { usesTls, type Scenario } from './scenario/schema.js';
import { builtinCertificateNames, makeCertificate } from './target/certificate.js';
import { startTargetThread, type TargetThread } from './target/thread.js';
import { PORTSTORM_VERSION } from './version.js';
import { startWatching, type AgentAccess, type WatchedHosts } from './watch/watch-hosts.js';

/** How a run is made. */
export interface RunOptions {
  scenario: Scenario;
  /** Directory under which `<runId>/run.json` is written. */
  resultsDir: string;
  /** Default: `shard-I-of-N` for a shard, else none. */
  label?: string | null;
  /**
   * Run only this shard of the scenario (`--shard I/N`); default the whole. With it, or with the
   * scenario's `startAt`, the record holds `shard` (a scheduled whole run as shard 0 of 1).
   */
  shard?: Shard | null;
  /** Overrides the scenario's allowRemote. */
  allowRemote?: boolean;
  /** Write a per-request NDJSON log per worker next to run.json. */
  logRequests?: boolean;
  /** Aborting stops new requests, waits briefly for in-flight ones, and writes a partial record. */
  signal?: AbortSignal;
  /** Called twice a second while the load runs. */
  onProgress?: (elapsedS: number, live: LiveStats) => void;
  /** Called once the target is known and the load is about to start. */
  onStart?: (info: { runId: string; targetUrl: string; workers: number; shard: Shard | null; part: ShardPart | null; startAt: string | null }) => void;
  /** Called once the load started: its run time 0 and, with `startAt`, how late that was (ms). */
  onLoadStart?: (info: { startEpochMs: number; startAt: string | null; lateMs: number | null }) => void;
  /**
   * Seconds between checkpoints: while the load runs, run.json is rewritten (status `checkpoint`)
   * with everything so far, so a killed run loses at most about this much. Default
   * {@link DEFAULT_CHECKPOINT_INTERVAL_S}; 0 writes no checkpoints.
   */
  checkpointIntervalS?: number;
  /** Called after each checkpoint with what it cost, or why it could not be written. */
  onCheckpoint?: (info: CheckpointInfo) => void;
  /**
   * PEM certificate the run trusts for its target (with `tls.ca` and Node's roots left aside): the
   * built-in target's generated certificate when the caller started the target itself (the lab).
   */
  targetCertificate?: string | null;
  /** Names the scenario (its file) in a problem found at the start: a target name that does not resolve, a `tls:` file, a source address of the wrong family. */
  source?: string;
  /** The token and CA certificates for the scenario's watched agents (`watch:`); default none and Node's root store. */
  watchAccess?: AgentAccess;
}

/** One checkpoint of run.json and its cost. */
export interface CheckpointInfo {
  file: string;
  /** Seconds of load the checkpoint covers. */
  durationS: number;
  /** Time the main thread spent on it (building and serializing the record), ms. */
  mainThreadMs: number;
  /** From its start to the fsynced, renamed file, ms (mostly waiting on other threads and the disk). */
  totalMs: number;
  /** Why it was not written, or null. */
  error: string | null;
}

/** Seconds between checkpoints unless the run says otherwise. */
export const DEFAULT_CHECKPOINT_INTERVAL_S = 2;

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
/** Most of the main thread checkpoints may use: a costlier one pushes the next one further away. */
const CHECKPOINT_MAX_SHARE = 0.05;

/** The number of load workers for `workers: auto`: the cores left after the built-in target. */
export function autoWorkers(builtin: boolean): number {
  return Math.max(1, os.availableParallelism() - (builtin ? 1 : 0));
}

/** How the built-in target closes: first when keep-alive is off or a TCP scenario says so. */
export function builtinClose(s: Scenario): 'never' | 'after-response' {
  const serverCloses = !s.builtin.keepAlive || (s.protocol === 'tcp' && s.connection.close === 'server');
  return serverCloses ? 'after-response' : 'never';
}

/** Refuses source addresses of the other family than the target's address, before any load. */
function checkSourceFamily(s: Scenario, target: string, what: string, source: string | undefined): void {
  const problem = sourceFamilyProblem(s.connection.localAddresses, target, what);
  if (problem !== null) throw new UsageError(source ? `${source}: ${problem}` : problem);
}

/** The target a run loads: its addresses, its URL, the built-in target's thread and the certificate to trust, if any. */
interface StartedTarget {
  addr: ResolvedTarget;
  url: string;
  thread: TargetThread | null;
  /** The one certificate the run trusts (the built-in target's, or `RunOptions.targetCertificate`), else null. */
  trusted: string | null;
}

/** The address the built-in target listens on in `portstorm run`: IPv4 loopback. */
const BUILTIN_HOST = '127.0.0.1';

async function startTarget(s: Scenario, opts: RunOptions): Promise<StartedTarget> {
  if (s.target !== 'builtin') {
    const addr = await resolveTarget(s.target, opts.allowRemote ?? s.allowRemote, opts.source);
    checkSourceFamily(s, addr.host, `the target ${s.target}`, opts.source);
    return { addr, url: s.target, thread: null, trusted: opts.targetCertificate ?? null };
  }
  checkSourceFamily(s, BUILTIN_HOST, 'the built-in target', opts.source);
  const tls = s.builtin.tls ? await makeCertificate({ names: builtinCertificateNames([BUILTIN_HOST]) }) : null;
  const thread = await startTargetThread({
    protocol: s.protocol,
    host: BUILTIN_HOST,
    port: 0,
    delayMs: s.builtin.delayMs,
    bodyBytes: s.builtin.bodyBytes,
    close: builtinClose(s),
    ...(tls ? { tls } : {}),
  });
  const scheme = tls ? 'https' : s.protocol;
  const url = `${scheme}://${hostPort(thread.host, thread.port)}${s.protocol === 'http' ? s.request.path : ''}`;
  return { addr: { host: thread.host, port: thread.port, name: null, addresses: [thread.host] }, url, thread, trusted: tls?.cert ?? null };
}

/** Runs a scenario to its end (or until `signal` aborts) and writes its run record. */
export async function runScenario(opts: RunOptions): Promise<RunOutcome> {
  const s = opts.scenario;
  const startedAt = new Date();
  const runId = newRunId(s.name, startedAt);
  const dir = path.join(opts.resultsDir, runId);
  const host = hostInfo();
  const { addr, url, thread, trusted } = await startTarget(s, opts);
  let tls: RunTls | null;
  let watched: WatchedHosts | null;
  try {
    tls = usesTls(s) ? runTls(s, url, trusted, opts.source) : null;
    // Before any load: an agent that cannot be used (and is not optional) ends the run here.
    watched = s.watch
      ? await startWatching(s.watch, opts.watchAccess ?? { token: null, ca: null }, { intervalMs: s.monitor.interval * 1000, scanIntervalMs: s.monitor.scanInterval * 1000 })
      : null;
  } catch (err) {
    await thread?.close().catch(() => undefined);
    throw err;
  }
  const lookupName = s.dns === 'per-connection' ? addr.name : null;
  const resolved: TargetResolution = { name: addr.name, dns: s.dns, addresses: addr.addresses, used: s.dns === 'once' ? addr.host : null };
  const samples: MonitorSample[] = [];
  const ownDestinations = [...new Set(addr.addresses.map((a) => hostPort(a, addr.port)))];
  const monitor = s.monitor.enabled ? await startRunMonitor(s, host, ownDestinations, samples, opts.signal) : null;
  await watched?.baseline();
  const workers = s.workers === 'auto' ? autoWorkers(thread !== null) : s.workers;
  const engine = connectionEngine(s.connection.reuse, addr.host, s.protocol, { tls: tls !== null, lookupName });
  const acc = new RunAccumulator({ tls: usesTls(s), dns: s.dns === 'per-connection' });
  const shard = opts.shard ?? null;
  const part = shard ? shardPart(s, shard) : null;
  const startAt = s.startAt ?? null;
  const shardInfo: ShardInfo | null =
    shard || startAt ? { index: (shard ?? WHOLE).index, count: (shard ?? WHOLE).count, startAt, lateMs: null, split: part?.words ?? 'the whole load' } : null;
  const run: RunFacts = { s, runId, label: opts.label ?? (shard ? shardLabel(shard) : null), shard: shardInfo, url, builtin: thread !== null, resolved, tls: tls?.record ?? null, startedAt, workers, engine, host, ownDestinations, acc, watched };
  let load: RunningLoad | null = null;
  let status: RunStatus = 'completed';
  let failure: unknown = null;
  let ticker: NodeJS.Timeout | undefined;
  let checkpoints: Checkpoints | null = null;
  let endEpochMs = 0;
  const onAbort = (): void => {
    status = 'interrupted';
    void load?.stop(STOP_GRACE_MS);
  };
  const requestLogs = (): string[] | null => (opts.logRequests && load ? Array.from({ length: workers }, (_, i) => requestLogName(i)) : null);
  const checkpoint = async (): Promise<number> => {
    const began = performance.now();
    const targetStats = thread ? await thread.stats().catch(() => null) : null;
    const building = performance.now();
    const startEpochMs = load!.startEpochMs;
    const durationS = Math.max(0, (epochMs() - startEpochMs) / 1000);
    let mainThreadMs = 0;
    let error: string | null = null;
    try {
      const provisional: SamplerStatus = { source: latestSource(samples), unavailable: {}, effectiveScanIntervalMs: s.monitor.scanInterval * 1000 };
      const monitored = monitor ? { samples: [...samples].sort((a, b) => a.at - b.at), status: provisional } : null;
      const record = buildRecord(run, { status: 'checkpoint', startEpochMs, durationS, monitored, targetStats, requestLogs: requestLogs() });
      // writeRunRecord serializes before its first await: what runs on this thread ends here.
      const writing = writeRunRecord(dir, record);
      mainThreadMs = performance.now() - building;
      await writing;
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    opts.onCheckpoint?.({ file: path.join(dir, 'run.json'), durationS, mainThreadMs, totalMs: performance.now() - began, error });
    return mainThreadMs;
  };
  try {
    opts.onStart?.({ runId, targetUrl: url, workers, shard, part, startAt });
    if (opts.logRequests) await mkdir(dir, { recursive: true });
    // Stopped before the load began: no load at all, and an (empty) interrupted record.
    if (opts.signal?.aborted) onAbort();
    else {
      const observer = { buckets: (b: WireBucket[]) => run.acc.add(b), sample: (x: ErrorSampleRecord) => run.acc.addSample(x) };
      const target = { host: addr.host, port: addr.port, authority: new URL(url).host, tls: tls?.client ?? null, lookupName };
      const startAtMs = startAt === null ? null : parseStartAt(startAt, 'startAt');
      load = await startLoad(s, target, workers, observer, opts.logRequests ? dir : null, { shard: shard ?? WHOLE, startAtMs, signal: opts.signal });
      const started = load.startEpochMs;
      if (shardInfo) shardInfo.lateMs = load.lateMs;
      opts.onLoadStart?.({ startEpochMs: started, startAt, lateMs: load.lateMs });
      monitor?.loadStarted(started);
      watched?.loadStarted(started);
      if (opts.signal?.aborted) onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      if (opts.onProgress) {
        const progress = opts.onProgress;
        ticker = setInterval(() => {
          const elapsed = (epochMs() - started) / 1000;
          progress(elapsed, { ...run.acc.live(elapsed), sockets: liveSockets(monitor, ownDestinations), ...(watched ? { hosts: watched.live() } : {}) });
        }, 500);
      }
      const intervalS = opts.checkpointIntervalS ?? DEFAULT_CHECKPOINT_INTERVAL_S;
      if (intervalS > 0) checkpoints = startCheckpoints(intervalS * 1000, checkpoint);
      await load.done;
    }
  } catch (err) {
    status = 'failed';
    failure = err;
  } finally {
    endEpochMs = epochMs();
    clearInterval(ticker);
    // The final record must not race a checkpoint: both write the same temp file and run.json.
    await checkpoints?.stop();
    opts.signal?.removeEventListener('abort', onAbort);
    releaseFdReserve();
  }
  const startEpochMs = load?.startEpochMs ?? endEpochMs;
  const durationS = load ? Math.max(0, (endEpochMs - startEpochMs) / 1000) : 0;
  // Stop the monitor while the built-in target still listens: its TIME_WAIT sockets count as
  // server side only while their port is a listening port.
  const [monitored] = await Promise.all([monitor ? monitor.stop() : null, watched?.stop(endEpochMs)]);
  const targetStats = thread ? await thread.stats().catch(() => null) : null;
  await thread?.close().catch(() => undefined);
  const record = buildRecord(run, { status, startEpochMs, durationS, monitored, targetStats, requestLogs: requestLogs() });
  const file = await writeRunRecord(dir, record);
  // The record is safe on disk; a report that cannot be drawn must not cost the run.
  const html = await writeBeside(dir, 'report.html', renderHtml(record)).catch(() => null);
  if (failure) throw failure;
  return { record, dir, file, html };
}

/** Running checkpoints: `stop` cancels the next one and waits for the one being written. */
interface Checkpoints {
  stop(): Promise<void>;
}

/**
 * Writes a checkpoint now and then one every `intervalMs` (start to start), one at a time. `write`
 * resolves with the main-thread milliseconds it took; the next checkpoint waits long enough to
 * keep that share at most CHECKPOINT_MAX_SHARE.
 */
function startCheckpoints(intervalMs: number, write: () => Promise<number>): Checkpoints {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  const tick = (): void => {
    const began = performance.now();
    writing = write()
      .catch(() => 0)
      .then((costMs) => {
        const wait = Math.max(intervalMs, costMs / CHECKPOINT_MAX_SHARE) - (performance.now() - began);
        if (!stopped) timer = setTimeout(tick, Math.max(0, wait));
      });
  };
  tick();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await writing;
    },
  };
}

/**
 * Starts the sampler threads, collecting every sample into `samples` (for checkpoints), and waits
 * (briefly, and not once `signal` aborts) for the first sample and the first scan: the pre-load
 * baseline, per destination.
 */
async function startRunMonitor(s: Scenario, host: HostInfo, ownDestinations: string[], samples: MonitorSample[], signal?: AbortSignal): Promise<RunningMonitor> {
  const monitor = startMonitor(
    {
      intervalMs: s.monitor.interval * 1000,
      scanIntervalMs: s.monitor.scanInterval * 1000,
      budget: { range: host.portRange ?? [0, 65535], usable: host.usablePorts ?? 0 },
      ownDestinations,
    },
    (sample) => samples.push(sample),
  );
  const ready = (): boolean => monitor.latest().sample !== null && monitor.scanTried();
  for (let waited = 0; !ready() && waited < BASELINE_WAIT_MS && !signal?.aborted; waited += 10) await sleep(10);
  return monitor;
}

/** The socket source of the newest scan: a checkpoint's stand-in for the monitor's final status. */
function latestSource(samples: readonly MonitorSample[]): SamplerStatus['source'] {
  for (let i = samples.length - 1; i >= 0; i--) {
    const scan = samples[i]!.scan;
    if (scan) return scan.source;
  }
  return null;
}

function liveSockets(monitor: RunningMonitor | null, own: readonly string[]): LiveStats['sockets'] {
  const { sample, scan } = monitor?.latest() ?? { sample: null, scan: null };
  const timeWait = sample?.sockstat?.timeWait ?? scan?.scan?.states.timeWait ?? null;
  if (timeWait === null) return null;
  const mine = scan?.scan?.destinations.filter((d) => d.own || own.includes(d.dest)) ?? [];
  const utilization = mine.reduce<number | null>((m, d) => (d.utilization === null ? m : Math.max(m ?? 0, d.utilization)), null);
  return { timeWait, utilization };
}

/** What a run record is built from that does not change while the run goes on. */
interface RunFacts {
  s: Scenario;
  runId: string;
  label: string | null;
  /** The run's shard (lateMs filled in once the load started), or null for a whole run started at once. */
  shard: ShardInfo | null;
  url: string;
  builtin: boolean;
  /** How the target's name was resolved. */
  resolved: TargetResolution;
  /** The TLS settings of an HTTPS run, else null. */
  tls: TargetTls | null;
  startedAt: Date;
  workers: number;
  engine: EngineChoice;
  host: HostInfo;
  /** The ip:port pairs the load connects to. */
  ownDestinations: string[];
  acc: RunAccumulator;
  /** The agents watched besides this machine, or null. */
  watched: WatchedHosts | null;
}

/** The run as of one moment: the end, or a checkpoint. */
interface RunMoment {
  status: RunStatus;
  startEpochMs: number;
  durationS: number;
  monitored: { samples: MonitorSample[]; status: SamplerStatus } | null;
  targetStats: TargetStats | null;
  requestLogs: string[] | null;
}

/** The load generator's own host: this machine's monitor, on its own clock. */
const LOCAL_CLIENT = (host: HostInfo): HostIdentity => ({
  role: 'client',
  address: 'local',
  source: 'local',
  clock: { method: 'local', offsetMs: 0, uncertaintyMs: 0 },
  host,
});

/** The run record as of `m`: every checkpoint and the final record are built here. */
function buildRecord(run: RunFacts, m: RunMoment): RunRecord {
  const s = run.s;
  const span = { startEpochMs: m.startEpochMs, durationS: m.durationS, intervalS: s.monitor.interval, scanIntervalS: s.monitor.scanInterval };
  const client = m.monitored
    ? foldHostAndMonitor(m.monitored.samples, m.monitored.status, LOCAL_CLIENT(run.host), { ...span, ownDestinations: run.ownDestinations })
    : null;
  const fold = client?.fold ?? null;
  // This machine first, then the watched hosts in the order given.
  const hosts = { ...(client ? { [CLIENT_HOST]: client.host } : {}), ...run.watched?.hosts({ startEpochMs: m.startEpochMs, durationS: m.durationS }) };
  const results = run.acc.results(m.durationS);
  if (fold) {
    for (const entry of results.timeline) Object.assign(entry, fold.perSecond.get(entry.t) ?? {});
  }
  const record: RunRecord = {
    schema: RUN_SCHEMA,
    portstormVersion: PORTSTORM_VERSION,
    runId: run.runId,
    label: run.label,
    ...(run.shard ? { shard: { ...run.shard } } : {}),
    scenario: s,
    target: { url: run.url, builtin: run.builtin, stats: m.targetStats, resolved: run.resolved, tls: run.tls },
    startedAt: run.startedAt.toISOString(),
    loadStartedAt: new Date(m.startEpochMs).toISOString(),
    durationS: Math.round(m.durationS * 1000) / 1000,
    status: m.status,
    host: run.host,
    workers: run.workers,
    engine: run.engine,
    ...results,
    ports: fold?.ports ?? null,
    destinations: fold?.destinations ?? [],
    ownDestinations: run.ownDestinations,
    otherTraffic: fold?.otherTraffic ?? null,
    monitor: fold?.monitor ?? monitorOff(s.monitor.interval, s.monitor.scanInterval),
    ...(Object.keys(hosts).length > 0 ? { hosts } : {}),
    requestLogs: m.requestLogs,
    thresholds: [],
  };
  record.limitsReached = limitsReached(record);
  record.thresholds = evaluateThresholds(record, s.thresholds);
  record.exhaustion = analyzeExhaustion(record);
  record.diagnosis = diagnose(record, record.exhaustion);
  return record;
}
