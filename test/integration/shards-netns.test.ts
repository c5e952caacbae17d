/**
 * Proof without a cluster (issue 19): three `portstorm run --shard I/3` processes, each in its own
 * network namespace with its own source address and a 300-port range, load one target namespace
 * (`portstorm serve`) from one shared `--start-at`. Between them they attempt exactly the
 * one-machine schedule, each arrival once at its one-machine time; each starts on time; each runs
 * out of ports when its own budget says it must (300 ports ÷ its third of the rate). Merged
 * (`portstorm merge`), they make the one-machine run: its count, its rate each second, and the p50
 * and p99 of every request the shards logged.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { arrivalSchedule } from '../../src/load/pacer.js';
import { fileSource, mergeShards } from '../../src/merge/merge.js';
import { newHistogram, recordMs, summarize } from '../../src/record/histogram.js';
import type { RunRecord } from '../../src/record/types.js';
import { parseScenario } from '../../src/scenario/load.js';
import type { ArrivalRateGroup } from '../../src/scenario/schema.js';
import type { ShardsProbe } from '../fixtures/shards-probe.js';
import { fixture } from '../helpers/netns.js';
import { needPrograms } from '../helpers/programs.js';

const SHARDS = 3;
const RATE = 450;
const DURATION = 3;
const PORTS = 300;
/** Each shard's ports last PORTS ÷ (RATE ÷ SHARDS) seconds: TIME_WAIT (60 s) outlives the run. */
const MODEL_ONSET_S = PORTS / (RATE / SHARDS);

interface LogLine {
  t: number;
  ms: number;
  code: string | null;
}

const out = mkdtempSync(path.join(os.tmpdir(), 'ps-shards-'));
/** The shards' run directories, once the first test has run them. */
let runDirs: string[] = [];
after(() => rmSync(out, { recursive: true, force: true }));

function logsOf(dir: string): LogLine[] {
  return readdirSync(dir)
    .filter((n) => /^requests-\d+\.ndjson$/.test(n))
    .flatMap((n) => readFileSync(path.join(dir, n), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as LogLine));
}

describe('three shards in three namespaces against one target', () => {
  it('attempt the one-machine schedule exactly, start on time, and run out at their own budgets', () => {
    needPrograms('unshare', 'ip');
    const cfg = { shards: SHARDS, rate: RATE, duration: DURATION, ports: PORTS, leadMs: 6000, out };
    const r = spawnSync('unshare', ['-rnm', '--propagation', 'private', process.execPath, fixture('shards-probe.js'), JSON.stringify(cfg)], { encoding: 'utf8', timeout: 50_000 });
    assert.equal(r.status, 0, `the probe failed (status ${r.status}, signal ${r.signal}): ${r.stderr || r.error?.message}`);
    const probe = JSON.parse(r.stdout.trim().split('\n').pop()!) as ShardsProbe;
    for (const run of probe.runs) assert.ok(run.status === 0 && run.dir !== '', `a shard failed (status ${run.status}): ${run.stderr}`);
    runDirs = probe.runs.map((run) => run.dir);
    const records = probe.runs.map((run) => JSON.parse(readFileSync(path.join(run.dir, 'run.json'), 'utf8')) as RunRecord);
    const logs = probe.runs.map((run) => logsOf(run.dir));

    const schedule = arrivalSchedule(parseScenario(probe.scenario, 'test').load[0] as ArrivalRateGroup);
    assert.equal(schedule.total, RATE * DURATION);
    // Total attempted across the shards is the one-machine schedule's count, and the same arrivals.
    assert.equal(records.reduce((sum, rec) => sum + rec.totals.attempted, 0), schedule.total);
    const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;
    assert.deepEqual(logs.flat().map((l) => l.t).sort((a, b) => a - b), Array.from({ length: schedule.total }, (_, k) => round6(schedule.at(k)!)));

    records.forEach((rec, i) => {
      assert.equal(rec.shard?.index, i);
      assert.equal(rec.shard?.count, SHARDS);
      assert.equal(rec.shard?.startAt, probe.startAt);
      // Each started on time: set-up (target resolution, monitor baseline) ended before the agreed instant.
      assert.ok(rec.shard!.lateMs !== null && rec.shard!.lateMs < 250, `shard ${i} started ${rec.shard!.lateMs} ms late`);
      assert.deepEqual(rec.host.portRange, [40000, 40000 + PORTS - 1]);
      assert.equal(rec.totals.attempted, logs[i]!.length);
      // Its onset: the first arrival refused a port, against the model for its own budget.
      const refused = logs[i]!.filter((l) => l.code === 'EADDRNOTAVAIL').map((l) => l.t);
      assert.ok(refused.length > 0, `shard ${i} never ran out of ports: ${JSON.stringify(rec.errorsByPhase)}`);
      const onset = Math.min(...refused);
      assert.ok(Math.abs(onset - MODEL_ONSET_S) <= 0.2 * MODEL_ONSET_S, `shard ${i}: onset ${onset} s, model ${MODEL_ONSET_S} s`);
      assert.ok(rec.exhaustion?.firstAtS !== null && rec.exhaustion?.firstAtS !== undefined, `shard ${i}: no exhaustion onset in the record`);
    });
  });

  it('merge into the one-machine run: its count, its rate each second, the p50/p99 of the union of the request logs, each shard\'s onset', async () => {
    const dirs = runDirs;
    assert.equal(dirs.length, SHARDS, `the shards' run directories (the test above ran them): ${dirs.join(', ')}`);
    const merged = await mergeShards(dirs.map(fileSource));
    assert.deepEqual(merged.shards!.covered, [0, 1, 2]);
    assert.equal(merged.totals.attempted, RATE * DURATION);
    // Attempted counts by start time: each merged second holds the scenario's rate (within 1 %).
    for (const e of merged.timeline.filter((x) => x.t < DURATION)) assert.ok(Math.abs(e.attempted - RATE) <= RATE / 100, `second ${e.t}: ${e.attempted} attempted, rate ${RATE}`);
    const union = newHistogram();
    for (const l of dirs.flatMap(logsOf)) if (l.code === null) recordMs(union, l.ms);
    const want = summarize(union);
    assert.equal(merged.latencyMs.count, want.count);
    assert.deepEqual([merged.latencyMs.p50, merged.latencyMs.p99], [want.p50, want.p99]);
    const v = merged.diagnosis!.find((d) => d.verdict === 'client-port-exhaustion');
    assert.ok(v, JSON.stringify(merged.diagnosis));
    assert.match(v.evidence[0]!, /^On 3 of 3 shards: shard-\d from [\d.]+ s, shard-\d from [\d.]+ s, shard-\d from [\d.]+ s\./);
  });
});
