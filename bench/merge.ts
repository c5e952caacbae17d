/**
 * `node build/bench/merge.js [--shards 100] [--seconds 3600] [--keep]`: what `portstorm merge` costs
 * (issue 19, item 5: "merging 100 shard records of a one-hour run each takes < 10 s and < 1 GB").
 *
 * Generates `--shards` synthetic shard records of a `--seconds` run each into a temp directory, as
 * `run` writes them (JSON, one-space indent): every second of the timeline populated (counts, errors
 * after an onset, latency and connect percentiles, sockets, kernel counters, CPU), the client host's
 * own timeline too, four HdrHistograms from 20 000 random latencies each (log-normal, 3 significant
 * digits), the shard's exhaustion and diagnosis as a run stores them. Then, each in its own child
 * process so its peak RSS is its own: the peer, a plain `JSON.parse` of every file one after another
 * (read, parse, drop), and `mergeShards` (the library: two passes, one record at a time); then the
 * whole CLI (`portstorm merge … --out`, writing run.json and report.html) under /usr/bin/time -v.
 * Prints times, the ratio merge / parse, and peak RSS.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { analyzeExhaustion } from '../src/analysis/exhaustion.js';
import { diagnose } from '../src/analysis/diagnose.js';
import { fileSource, mergeShards } from '../src/merge/merge.js';
import { encodeHistogram, newHistogram } from '../src/record/histogram.js';
import type { HostRecord, RunRecord, TimelineEntry } from '../src/record/types.js';
import { entry, sockets, syntheticRecord } from '../test/helpers/synthetic-record.js';

const SELF = fileURLToPath(import.meta.url);
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

const { values } = parseArgs({
  options: {
    shards: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '3600' },
    keep: { type: 'boolean', default: false },
    child: { type: 'string' },
    dir: { type: 'string' },
  },
});

/** A seeded generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A log-normal latency in ms around `medianMs`. */
function lognormal(r: () => number, medianMs: number, sigma: number): number {
  const u = Math.max(1e-12, r());
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
  return medianMs * Math.exp(sigma * z);
}

const SCENARIO_LOAD = [{ model: 'arrival-rate' as const, rate: 30_000, rampUp: 0, duration: 3600, startAfter: 0, maxInFlight: 10_000 }];

function shard(index: number, count: number, seconds: number): RunRecord {
  const r = rng(index + 1);
  const usable = 28_232;
  const onset = 1800 + Math.floor(r() * 600);
  const timeline: TimelineEntry[] = [];
  for (let t = 0; t < seconds; t++) {
    const attempted = 280 + Math.floor(r() * 40);
    const failed = t >= onset ? Math.floor(attempted * 0.3) : 0;
    const completed = attempted - failed;
    const used = Math.min(usable, Math.round(completed * Math.min(t + 1, 60) * 1.6));
    const p50 = 0.4 + r() * 0.2;
    timeline.push(
      entry(t, {
        attempted,
        completed,
        failed,
        errors: failed > 0 ? { EADDRNOTAVAIL: failed } : {},
        connectionsOpened: completed,
        latencyMs: { p50, p90: p50 * 2.5, p99: p50 * 8, max: p50 * 40 },
        connectMs: { p50: 0.05 + r() * 0.05, p99: 0.5 + r() },
        cpu: { process: 0.6 + r() * 0.2, host: 1.1 + r() * 0.4 },
        sockets: sockets({ timeWait: used, established: 20 + Math.floor(r() * 10), synSent: Math.floor(r() * 3), ephemeralInUse: used, utilization: Math.round((used / usable) * 1e4) / 1e4, ownInUse: used, ownTimeWait: used, ownServerTimeWait: 0 }),
        counters: { TW: completed, TWRecycled: 0, TCPTimeWaitOverflow: 0, ListenOverflows: 0, ListenDrops: 0, ActiveOpens: completed, AttemptFails: failed },
      }),
    );
  }
  const rec = syntheticRecord({ timeline, host: { usablePorts: usable } });
  const hists = ['latency', 'latencyUncorrected', 'connect', 'ttfb'].map((name) => {
    const h = newHistogram();
    for (let i = 0; i < 20_000; i++) h.recordValue(Math.max(1, Math.round(lognormal(r, name === 'connect' ? 0.08 : 0.5, 0.9) * 1000)));
    return encodeHistogram(h);
  });
  const start = new Date(Date.parse('2026-12-08T10:00:00Z') + Math.floor(r() * 1500)).toISOString();
  const client: HostRecord = {
    role: 'client',
    address: 'local',
    source: 'local',
    clock: { method: 'local', offsetMs: 0, uncertaintyMs: 0 },
    host: rec.host,
    timeline: timeline.map((e) => ({ t: e.t, sockets: e.sockets, counters: e.counters, cpu: e.cpu, conntrack: { count: 1000 + e.t, max: 262_144 } })),
    ports: rec.ports,
    destinations: [{ dest: '198.18.0.2:8080', peakInUse: rec.ports?.peakInUse ?? 0, peakTimeWait: rec.ports?.peakTimeWait ?? 0, peakUtilization: rec.ports?.peakUtilization ?? null }],
    monitor: rec.monitor,
    coverage: { fromS: 0, toS: seconds - 1, share: 1 },
    gaps: [],
  };
  const out: RunRecord = {
    ...rec,
    schema: 2,
    runId: `20261208-100000-bench-shard-${index}`,
    scenario: { ...rec.scenario, load: SCENARIO_LOAD },
    shard: { index, count, startAt: '2026-12-08T10:00:00Z', lateMs: 0, split: `arrivals k ≡ ${index} (mod ${count})` },
    startedAt: start,
    loadStartedAt: start,
    histograms: { latency: hists[0]!, latencyUncorrected: hists[1]!, connect: hists[2]!, ttfb: hists[3]! },
    hosts: { client },
    errorSamples: [{ code: 'EADDRNOTAVAIL', phase: 'connect', message: 'connect EADDRNOTAVAIL 198.18.0.2:8080', t: onset, localPort: null }],
  };
  out.exhaustion = analyzeExhaustion(out);
  out.diagnosis = diagnose(out, out.exhaustion);
  return out;
}

async function child(mode: string, dir: string): Promise<void> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort().map((f) => path.join(dir, f));
  const began = process.hrtime.bigint();
  let check = 0;
  if (mode === 'parse') {
    for (const f of files) check += (JSON.parse(await readFile(f, 'utf8')) as RunRecord).totals.attempted;
  } else {
    const m = await mergeShards(files.map(fileSource));
    check = m.totals.attempted;
  }
  const ms = Number(process.hrtime.bigint() - began) / 1e6;
  process.stdout.write(JSON.stringify({ ms, maxRssMB: process.resourceUsage().maxRSS / 1024, check }) + '\n');
}

function runChild(mode: string, dir: string): { ms: number; maxRssMB: number; check: number } {
  const r = spawnSync(process.execPath, [SELF, '--child', mode, '--dir', dir], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`${mode}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

async function main(): Promise<void> {
  if (values.child) return child(values.child, values.dir!);
  const count = Number(values.shards);
  const seconds = Number(values.seconds);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'portstorm-bench-merge-'));
  const dir = path.join(tmp, 'shards');
  await mkdir(dir);
  const gen = Date.now();
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const text = JSON.stringify(shard(i, count, seconds), null, 1) + '\n';
    bytes += text.length;
    await writeFile(path.join(dir, `shard-${String(i).padStart(3, '0')}.json`), text);
  }
  console.log(`${count} shard records of ${seconds} s: ${(bytes / 1e6).toFixed(0)} MB (${(bytes / count / 1e6).toFixed(1)} MB each), generated in ${((Date.now() - gen) / 1000).toFixed(1)} s; ${os.cpus().length} CPUs, node ${process.version}`);
  const parse = runChild('parse', dir);
  const merge = runChild('merge', dir);
  if (merge.check !== parse.check) throw new Error(`merged attempted ${merge.check} ≠ sum ${parse.check}`);
  console.log(`JSON.parse of every file (peer):   ${(parse.ms / 1000).toFixed(2)} s, peak RSS ${parse.maxRssMB.toFixed(0)} MB`);
  console.log(`mergeShards (library, streaming): ${(merge.ms / 1000).toFixed(2)} s, peak RSS ${merge.maxRssMB.toFixed(0)} MB`);
  console.log(`ratio merge / parse:               ${(merge.ms / parse.ms).toFixed(2)}×`);
  const out = path.join(tmp, 'out');
  const files = (await readdir(dir)).sort().map((f) => path.join(dir, f));
  const timeBin = existsSync('/usr/bin/time') ? ['/usr/bin/time', ['-v', process.execPath, CLI, 'merge', ...files, '--out', out]] as const : [process.execPath, [CLI, 'merge', ...files, '--out', out]] as const;
  const began = Date.now();
  const cli = spawnSync(timeBin[0], [...timeBin[1]], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const wall = (Date.now() - began) / 1000;
  if (cli.status !== 0 && cli.status !== 1) throw new Error(`portstorm merge exited ${cli.status}: ${cli.stderr.slice(-2000)}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(cli.stderr)?.[1];
  const [runId] = await readdir(out);
  const size = (f: string) => (statSync(path.join(out, runId!, f)).size / 1e6).toFixed(0);
  console.log(`portstorm merge (CLI, run.json ${size('run.json')} MB + report.html ${size('report.html')} MB): ${wall.toFixed(2)} s wall, peak RSS ${rss ? `${(Number(rss) / 1024).toFixed(0)} MB` : 'unknown (no /usr/bin/time)'}`);
  const merged = JSON.parse(readFileSync(path.join(out, runId!, 'run.json'), 'utf8')) as RunRecord;
  console.log(`merged: ${merged.timeline.length} s, ${Object.keys(merged.hosts ?? {}).length} hosts, attempted ${merged.totals.attempted}, latency p99 ${merged.latencyMs.p99} ms; verdicts ${merged.diagnosis?.map((v) => `${v.verdict} on ${v.host}`).join(', ')}`);
  if (values.keep) console.log(`kept: ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
}

await main();
