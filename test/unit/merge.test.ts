/** `portstorm merge` as a library: shard records in, one merged record out (src/merge/). */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/errors.js';
import { decodeHistogram, encodeHistogram, newHistogram, recordMs, summarize } from '../../src/record/histogram.js';
import { fileSource, mergeShards, recordSource, reportView } from '../../src/merge/merge.js';
import { recordChunks } from '../../src/record/run-file.js';
import { decodeRecordLine, encodeRecordLine } from '../../src/merge/record-line.js';
import { renderTextSummary } from '../../src/report/text.js';
import { entry, sockets } from '../helpers/synthetic-record.js';
import { shardRecord } from '../helpers/synthetic-shards.js';
import type { RunRecord } from '../../src/record/types.js';

const sources = (rs: RunRecord[]) => rs.map((r, i) => recordSource(`shard${i}.json`, r));

/** Pseudo-random latencies, seeded. */
function latencies(seed: number, n: number): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return 0.2 + (x / 2 ** 31) * 50;
  });
}

describe('merge', () => {
  it('sums totals and errors, and merges histograms exactly: percentiles are those of the union of the values', async () => {
    const values = [latencies(1, 500), latencies(2, 800), latencies(3, 300)];
    const rs = values.map((v, i) =>
      shardRecord({ index: i, count: 3, latencies: v, timeline: Array.from({ length: 5 }, (_, t) => entry(t, { attempted: 10 * (i + 1), failed: i, completed: 10 * (i + 1) - i, errors: i > 0 ? { ECONNREFUSED: i } : {} })) }),
    );
    const m = await mergeShards(sources(rs));
    assert.equal(m.source, 'merge');
    assert.equal(m.schema, 2);
    assert.equal(m.totals.attempted, 5 * (10 + 20 + 30));
    assert.equal(m.totals.failed, 5 * (0 + 1 + 2));
    assert.deepEqual(m.errors, { ECONNREFUSED: 15 });
    assert.deepEqual(m.errorsByPhase, { 'connect:ECONNREFUSED': 15 });
    const union = newHistogram();
    for (const v of values.flat()) recordMs(union, v);
    // The union as a record stores it (encoded: max at HDR resolution, as a one-machine run's is).
    const want = summarize(decodeHistogram(encodeHistogram(union)));
    for (const s of [m.latencyMs, m.latencyUncorrectedMs, m.connectMs, m.ttfbMs]) assert.deepEqual(s, want);
    const raw = summarize(union);
    assert.deepEqual([m.latencyMs.p50, m.latencyMs.p90, m.latencyMs.p99, m.latencyMs.p999, m.latencyMs.mean], [raw.p50, raw.p90, raw.p99, raw.p999, raw.mean]);
    assert.ok(Math.abs(m.latencyMs.max - raw.max) <= raw.max / 1000, `${m.latencyMs.max} vs ${raw.max}`);
    assert.equal(decodeHistogram(m.histograms.latency).totalCount, 1600);
    assert.deepEqual(m.shards, {
      count: 3,
      covered: [0, 1, 2],
      missing: [],
      failed: [],
      runs: rs.map((r, i) => ({ index: i, runId: r.runId, label: null, host: `shard-${i}`, lateMs: 0 })),
      startSpreadMs: 0,
    });
  });

  it('aligns timelines on wall-clock seconds: load starts 0.4 s and 1.2 s after the earliest', async () => {
    const tl = (n: number) => Array.from({ length: 4 }, (_, t) => entry(t, { attempted: n, latencyMs: { p50: n, p90: n, p99: n, max: n } }));
    // Given out of order: the earliest is not the first input.
    const rs = [shardRecord({ index: 1, count: 3, startOffsetMs: 400, timeline: tl(2) }), shardRecord({ index: 0, count: 3, startOffsetMs: 0, timeline: tl(1) }), shardRecord({ index: 2, count: 3, startOffsetMs: 1200, timeline: tl(4) })];
    const m = await mergeShards(sources(rs));
    assert.equal(m.loadStartedAt, '2026-01-01T00:00:00.000Z');
    assert.equal(m.shards!.startSpreadMs, 1200);
    // 0.4 s rounds to 0 (most of its second lies in merged second 0), 1.2 s to 1.
    assert.deepEqual(m.timeline.map((e) => e.attempted), [1 + 2, 1 + 2 + 4, 1 + 2 + 4, 1 + 2 + 4, 4]);
    assert.equal(m.durationS, 5.2);
    // Per-second percentiles: the completion-weighted mean of the shards'; max the highest.
    assert.deepEqual(m.timeline[1]!.latencyMs, { p50: 3, p90: 3, p99: 3, max: 4 });
    assert.equal(m.timeline[0]!.latencyMs.p50, 1.667); // (1·1 + 2·2) / 3
    // Each shard is a host, its seconds moved onto the merged axis, unseen seconds null.
    assert.deepEqual(Object.keys(m.hosts!), ['shard-0', 'shard-1', 'shard-2']);
    assert.equal(m.hosts!['shard-2']!.timeline[0]!.sockets, null);
    assert.notEqual(m.hosts!['shard-2']!.timeline[1]!.sockets, null);
    assert.equal(m.hosts!['shard-2']!.coverage.fromS, 1);
    assert.equal(m.hosts!['shard-2']!.role, 'client');
  });

  it('names missing and failed shards, and says so in one summary line', async () => {
    const rs = [shardRecord({ index: 0, count: 4 }), shardRecord({ index: 2, count: 4, status: 'interrupted' }), shardRecord({ index: 3, count: 4 })];
    const m = await mergeShards(sources(rs));
    assert.deepEqual(m.shards!.covered, [0, 3]);
    assert.deepEqual(m.shards!.missing, [1]);
    assert.equal(m.shards!.failed.length, 1);
    assert.equal(m.shards!.failed[0]!.index, 2);
    assert.match(m.shards!.failed[0]!.why, /interrupted/);
    assert.equal(m.totals.attempted, 2 * 1000);
    const line = renderTextSummary(m, null).split('\n').filter((l) => l.includes('shards '));
    assert.equal(line.length, 1);
    assert.match(line[0]!, /2 of 4 shards merged; missing: shard 1; failed: shard 2 \(the run was interrupted/);
  });

  it('keeps other hosts as <name>@shard-<index> and gives a fleet-wide verdict naming the shards that ran out', async () => {
    const exhausted = (index: number, from: number) =>
      shardRecord({
        index,
        count: 3,
        startOffsetMs: index * 1000,
        host: { usablePorts: 1000 },
        timeline: Array.from({ length: 20 }, (_, t) =>
          t < from ? entry(t, { sockets: sockets({ timeWait: t * 100, utilization: (t * 100) / 1000 }) }) : entry(t, { completed: 0, failed: 100, connectionsOpened: 0, errors: { EADDRNOTAVAIL: 100 }, sockets: sockets({ timeWait: 1000, utilization: 1 }) }),
        ),
      });
    const rs = [exhausted(0, 10), shardRecord({ index: 1, count: 3, startOffsetMs: 1000 }), exhausted(2, 8)];
    rs[0]!.hosts = { service: { ...(await import('../helpers/synthetic-host-runs.js')).syntheticHost({ inUse: () => 10, seconds: 20 }) } };
    const m = await mergeShards(sources(rs));
    assert.ok(m.hosts!['service@shard-0'], Object.keys(m.hosts!).join(', '));
    const v = m.diagnosis!.find((d) => d.verdict === 'client-port-exhaustion');
    assert.ok(v, JSON.stringify(m.diagnosis!.map((d) => d.verdict)));
    // shard 2 started 2 s after shard 0 and ran out 8 s in: merged second 10, as shard 0 did at 10; shard 0 named first on a tie.
    assert.equal(v.host, 'shard-0');
    assert.match(v.evidence[0]!, /^On 2 of 3 shards: shard-0 from 10.0 s, shard-2 from 10.0 s\./);
    for (const d of m.diagnosis!) assert.match(d.host!, /shard-\d/);
    assert.equal(m.exhaustion!.firstAtS, 10);
    assert.ok(m.exhaustion!.capacity);
    assert.equal(m.ports!.peakUtilization, 1);
    assert.match(m.monitor.unavailable.merge!, /shard-0's \(the busiest/);
    assert.match(renderTextSummary(m, null), /^ {2}ports {18}peak .* \(shard-0, the busiest shard\)$/m);
  });

  it('refuses inputs that are not the shards of one run, in one line', async () => {
    const one = (o: Partial<Parameters<typeof shardRecord>[0]> = {}) => shardRecord({ index: 0, count: 2, ...o });
    const refuse = async (rs: RunRecord[], re: RegExp) => {
      await assert.rejects(mergeShards(sources(rs)), (err: Error) => err instanceof UsageError && re.test(err.message) && !err.message.includes('\n'));
    };
    const other = one({ index: 1 });
    other.scenario = { ...other.scenario, load: [{ ...other.scenario.load[0]!, duration: 99 } as RunRecord['scenario']['load'][number]] };
    await refuse([one(), other], /shard1\.json: another scenario than shard0\.json/);
    await refuse([one(), one({ index: 1, version: '9.9.9' })], /made by portstorm 9\.9\.9, shard0\.json by 0\.1\.0/);
    await refuse([one(), shardRecord({ index: 1, count: 3 })], /shard 1\/3, but shard0\.json is one of 2 shards/);
    await refuse([one(), one()], /shard 0 given twice/);
    const plain = one();
    delete plain.shard;
    await refuse([one(), plain], /shard1\.json: not a shard record/);
    await refuse([plain, plain], /not shards/);
    // startAt differs between shards: still one scenario.
    const late = one({ index: 1 });
    late.scenario = { ...late.scenario, startAt: '2026-01-01T00:00:05Z' };
    assert.equal((await mergeShards(sources([one(), late]))).shards!.covered.length, 2);
  });

  it('writes run.json piece by piece, the same bytes as in one string; report.html charts the fullest shards of many', async () => {
    const rs = Array.from({ length: 14 }, (_, i) => shardRecord({ index: i, count: 14, timeline: Array.from({ length: 3 }, (_, t) => entry(t, { sockets: sockets({ timeWait: 10 * i, utilization: i / 100 }) })) }));
    rs[3]!.hosts = { client: (await mergeShards(sources([shardRecord({ index: 0, count: 1 })]))).hosts!['shard-0']!, service: (await import('../helpers/synthetic-host-runs.js')).syntheticHost({ inUse: () => 1, seconds: 3 }) };
    const m = await mergeShards(sources(rs));
    assert.equal([...recordChunks(m)].join(''), JSON.stringify(m, null, 1) + '\n');
    const plain = shardRecord({ index: 0, count: 1 });
    assert.equal([...recordChunks(plain)].join(''), JSON.stringify(plain, null, 1) + '\n');
    assert.equal([...recordChunks({ ...plain, hosts: {} })].join(''), JSON.stringify({ ...plain, hosts: {} }, null, 1) + '\n');
    const view = reportView(m);
    assert.deepEqual(Object.keys(view.hosts!).sort(), ['shard-13', 'shard-12', 'shard-11', 'shard-10', 'shard-9', 'shard-8', 'shard-7', 'shard-6', 'shard-5', 'shard-4', 'shard-2', 'shard-1'].sort());
    assert.match(view.monitor.unavailable['merge-report']!, /charts 12 of the 15 hosts/);
    assert.equal(reportView(await mergeShards(sources(rs.slice(0, 3).map((r, i) => ({ ...r, shard: { ...r.shard!, index: i, count: 3 } }))))).monitor.unavailable['merge-report'], undefined);
  });

  it('reads shards from PORTSTORM-RECORD lines: a log with other lines before, an earlier line of the same shard left out, one file of every pod\'s line', async () => {
    const r = shardRecord({ index: 0, count: 1 });
    const line = encodeRecordLine(r);
    assert.match(line, /^PORTSTORM-RECORD [A-Za-z0-9+/]+=*$/);
    assert.deepEqual(decodeRecordLine(line).totals, r.totals);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'portstorm-merge-'));
    try {
      const log = path.join(dir, 'pod-0.log');
      const older = encodeRecordLine({ ...r, runId: 'older' });
      await writeFile(log, `starting\nportstorm run complete\n${older}\n2026-01-01T00:01:00Z ${line}\n`);
      const m = await mergeShards([fileSource(log)]);
      assert.equal(m.shards!.runs[0]!.runId, r.runId);
      // kubectl logs -l job-name=… --tail=1 > shards.log: every pod's last line in one file, each a shard.
      const two = [0, 1].map((index) => encodeRecordLine({ ...shardRecord({ index, count: 2 }), runId: `pod-${index}` }));
      const all = path.join(dir, 'shards.log');
      await writeFile(all, `${two[1]}\n${two[0]}\n`);
      const both = await mergeShards([fileSource(all)]);
      assert.deepEqual(both.shards!.runs.map((x) => x.runId), ['pod-0', 'pod-1']);
      assert.deepEqual(both.shards!.covered, [0, 1]);
      assert.match(both.hosts!['shard-1']!.address, /shards\.log:1$/);
      await writeFile(log, 'no record here\n');
      await assert.rejects(mergeShards([fileSource(log)]), /pod-0\.log: neither a run record \(JSON\) nor a log with a PORTSTORM-RECORD line/);
      await writeFile(log, `${line.slice(0, 200)}\n`);
      await assert.rejects(mergeShards([fileSource(log)]), (err: Error) => err instanceof UsageError && /last PORTSTORM-RECORD line\): the PORTSTORM-RECORD line does not gunzip/.test(err.message));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
