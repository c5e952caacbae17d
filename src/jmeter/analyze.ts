/**
 * `portstorm analyze`: a JMeter results file (JTL) made into a run record, as if portstorm had run
 * the load. The JTL gives the load's figures; `portstorm monitor --out` files recorded on the JMeter
 * machine give the client host (sockets, ports, counters); files from other hosts are attached as
 * `report --attach` does. Then the same analysis a run gets, and the same files: `<runId>/run.json`
 * and `report.html`.
 */
import { isIP } from 'node:net';
import path from 'node:path';
import { attachHost, attachWindow, overlapSentence } from '../analysis/attach.js';
import { diagnose } from '../analysis/diagnose.js';
import { analyzeExhaustion } from '../analysis/exhaustion.js';
import { CLIENT_HOST } from '../analysis/hosts.js';
import { UsageError } from '../errors.js';
import { monitorOff } from '../monitor/fold.js';
import { foldHostAndMonitor } from '../monitor/host-fold.js';
import { readSamplesFile, type SamplesFile } from '../monitor/samples-file.js';
import type { MonitorSample } from '../monitor/types.js';
import { newRunId, writeBeside, writeRunRecord } from '../record/run-file.js';
import { RUN_SCHEMA, type HostInfo, type HostRecord, type HostRole, type RunRecord } from '../record/types.js';
import { renderHtml } from '../report/html.js';
import { scenarioSchema, type Scenario } from '../scenario/schema.js';
import { hostPort } from '../vocab/address.js';
import { PORTSTORM_VERSION } from '../version.js';
import { readJtl, type JtlRead } from './read-jtl.js';

/** A host to attach (`--attach NAME[:ROLE]=FILE`). */
export interface AnalyzeAttach {
  name: string;
  role: HostRole;
  file: string;
}

/** What to analyze and where the record goes. */
export interface AnalyzeOptions {
  jtl: string;
  /** Names the JTL in messages (default: the path). */
  jtlLabel?: string;
  /** `portstorm monitor --out` files from the JMeter machine, taken during the test (one host: their samples are merged). */
  monitors: string[];
  attach: AnalyzeAttach[];
  /** Directory under which `<runId>/run.json` is written. */
  resultsDir: string;
  label?: string | null;
  /** False for a JTL saved with sampleresult.timestamp.start=false. */
  timestampIsStart?: boolean;
  onProgress?: (bytesRead: number, totalBytes: number) => void;
  /** One line each, no prefix: rows skipped, how each monitor file covers the test. */
  onNote?: (line: string) => void;
}

/** The record and where it and its HTML report went. */
export interface AnalyzeOutcome {
  record: RunRecord;
  dir: string;
  file: string;
  html: string | null;
  read: JtlRead;
}

/** The evidence line every client verdict of a JMeter record without monitor data carries. */
export { JMETER_NO_SOCKETS as NO_MONITOR_EVIDENCE } from '../analysis/diagnose.js';

/** The JMeter machine's settings when no monitor file told them. */
function unknownHost(why: string): HostInfo {
  return {
    platform: 'unknown',
    kernel: 'unknown',
    node: 'unknown',
    cpus: 0,
    portRange: null,
    reservedPorts: null,
    usablePorts: null,
    tcpTwReuse: null,
    tcpTwReuseDelayMs: null,
    timeWaitS: null,
    tcpFinTimeoutS: null,
    tcpMaxTwBuckets: null,
    tcpTimestamps: null,
    somaxconn: null,
    nofileSoft: null,
    nofileHard: null,
    conntrackMax: null,
    unavailable: { host: why },
  };
}

/** An http(s) URL the scenario schema takes, or null. */
function webUrl(u: string): URL | null {
  try {
    const url = new URL(u);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' ? url : null;
  } catch {
    return null;
  }
}

/** `ip:port` of each URL whose host is an IP address: the destinations the JMeter machine's sockets can be matched to. */
function destinationsOf(urls: readonly string[]): string[] {
  const out = new Set<string>();
  for (const u of urls) {
    const url = webUrl(u);
    if (!url) continue;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) === 0) continue;
    out.add(hostPort(host, Number(url.port || (url.protocol === 'https:' ? 443 : 80))));
  }
  return [...out];
}

/**
 * The scenario a JMeter test amounts to, as far as the JTL tells: its busiest URL, its most threads
 * as users for its length, connections reused when fewer new connections than requests were seen.
 */
function syntheticScenario(read: JtlRead, jtl: string, monitored: boolean): Scenario {
  const f = read.figures;
  const busiest = f.urls.find((u) => webUrl(u.url) !== null)?.url;
  const totals = f.results.totals;
  const durationS = Math.max(1, Math.ceil(f.durationS));
  return scenarioSchema.parse({
    name: `jmeter ${path.basename(jtl)}`,
    target: busiest ?? 'http://jmeter-target.invalid/',
    connection: { reuse: totals.connectionsOpened > 0 && totals.connectionsOpened < totals.attempted / 2 },
    load: [{ model: 'users', users: Math.max(1, f.maxThreads), duration: durationS }],
    workers: 1,
    monitor: { enabled: monitored },
    limits: { maxDuration: Math.max(3600, durationS), maxRequests: Math.max(100_000_000, totals.attempted) },
    allowRemote: true,
  });
}

/** Reads every monitor file for the test's span; their samples are one host's. */
async function readMonitors(files: readonly string[], startEpochMs: number, durationS: number, note: (l: string) => void): Promise<SamplesFile[]> {
  const window = attachWindow({ startEpochMs, durationS, exact: true });
  const out: SamplesFile[] = [];
  for (const file of files) {
    const label = `--monitor ${file}`;
    const read = await readSamplesFile(file, label, window);
    if (!read.range) throw new UsageError(`${label}: no usable sample in it; expected the NDJSON of portstorm monitor --out`);
    for (const p of read.problems) note(`${p}; skipped`);
    out.push(read);
  }
  return out;
}

/** Analyzes a JTL (and monitor files) into a run record, writes it and its HTML report, and returns them. */
export async function analyzeJtl(opts: AnalyzeOptions): Promise<AnalyzeOutcome> {
  const note = opts.onNote ?? (() => undefined);
  const label = opts.jtlLabel ?? opts.jtl;
  const read = await readJtl(opts.jtl, { label, timestampIsStart: opts.timestampIsStart, onProgress: opts.onProgress });
  const f = read.figures;
  const monitors = await readMonitors(opts.monitors, f.startEpochMs, f.durationS, note);
  const scenario = syntheticScenario(read, opts.jtl, monitors.length > 0);
  const startedAt = new Date(f.startEpochMs);
  const runId = newRunId(scenario.name, startedAt);
  const ownDestinations = destinationsOf(f.urls.map((u) => u.url));
  const results = f.results;
  const hello = monitors.find((m) => m.hello)?.hello ?? null;
  const host = hello?.host ?? unknownHost(monitors.length > 0 ? 'the --monitor files have no hello line with the host settings' : 'the JMeter machine was not observed: no --monitor file');
  let client: { host: HostRecord; fold: ReturnType<typeof foldHostAndMonitor>['fold'] } | null = null;
  if (monitors.length > 0) {
    const samples: MonitorSample[] = monitors.flatMap((m) => m.samples);
    const status = monitors.findLast((m) => m.status)?.status ?? { source: samples.findLast((s) => s.scan)?.scan?.source ?? null, unavailable: {}, effectiveScanIntervalMs: (hello?.scanIntervalMs ?? 1000) };
    client = foldHostAndMonitor(
      samples,
      status,
      { role: 'client', address: path.resolve(opts.monitors[0]!), source: 'file', clock: { method: 'wall-clock', offsetMs: 0, uncertaintyMs: null }, host: hello?.host ?? null },
      { startEpochMs: f.startEpochMs, durationS: f.durationS, intervalS: (hello?.intervalMs ?? 250) / 1000, scanIntervalS: (hello?.scanIntervalMs ?? 1000) / 1000, ...(ownDestinations.length > 0 ? { ownDestinations } : {}) },
    );
    for (const t of results.timeline) Object.assign(t, client.fold.perSecond.get(t.t) ?? {});
    for (let t = client.host.timeline.length; t < results.timeline.length; t++) client.host.timeline.push({ t, sockets: null, counters: null });
    for (const [i, m] of monitors.entries()) {
      const times = m.samples.map((s) => s.at).filter((at) => at >= f.startEpochMs && at <= f.startEpochMs + f.durationS * 1000);
      const inside = times.length;
      note(`--monitor ${opts.monitors[i]}: ${inside} sample${inside === 1 ? '' : 's'} within the test's ${f.durationS.toFixed(1)} s`);
    }
  }
  const fold = client?.fold ?? null;
  let record: RunRecord = {
    schema: RUN_SCHEMA,
    portstormVersion: PORTSTORM_VERSION,
    runId,
    label: opts.label ?? null,
    source: 'jmeter',
    scenario,
    target: { url: f.urls[0]?.url ?? scenario.target, builtin: false, stats: null },
    startedAt: startedAt.toISOString(),
    loadStartedAt: startedAt.toISOString(),
    durationS: Math.round(f.durationS * 1000) / 1000,
    status: 'completed',
    host,
    workers: 1,
    ...results,
    ports: fold?.ports ?? null,
    destinations: fold?.destinations ?? [],
    ...(ownDestinations.length > 0 ? { ownDestinations } : {}),
    otherTraffic: fold?.otherTraffic ?? null,
    monitor: fold?.monitor ?? { ...monitorOff(0.25, 1), unavailable: { monitor: 'no --monitor file: the JMeter machine was not observed' } },
    ...(client ? { hosts: { [CLIENT_HOST]: client.host } } : {}),
    requestLogs: null,
    thresholds: [],
    limitsReached: [],
  };
  record.exhaustion = analyzeExhaustion(record);
  record.diagnosis = diagnose(record, record.exhaustion);
  for (const a of opts.attach) {
    const alabel = `attach ${a.name}: ${a.file}`;
    const samples = await readSamplesFile(a.file, alabel, attachWindow({ startEpochMs: f.startEpochMs, durationS: f.durationS, exact: true }));
    const attached = attachHost(record, { name: a.name, role: a.role, address: path.resolve(a.file), label: alabel, file: samples });
    record = attached.record;
    for (const p of samples.problems) note(`${p}; skipped`);
    note(overlapSentence(alabel, attached.overlap));
  }
  const dir = path.join(opts.resultsDir, runId);
  const file = await writeRunRecord(dir, record);
  const html = await writeBeside(dir, 'report.html', renderHtml(record)).catch(() => null);
  return { record, dir, file, html, read };
}
