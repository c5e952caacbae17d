/** `report --attach`: a monitor --out file read, aligned by wall-clock time and folded into the record as a host. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { attachHost, attachWindow, cadenceOf, holeMs, overlapGaps, overlapOf, overlapSentence, runSpan, type AttachHost } from '../../src/analysis/attach.js';
import { diagnose } from '../../src/analysis/diagnose.js';
import { analyzeExhaustion } from '../../src/analysis/exhaustion.js';
import { hostViews } from '../../src/analysis/hosts.js';
import { parseAttachFlags } from '../../src/cli/attach-hosts.js';
import { UsageError } from '../../src/errors.js';
import { agentLine } from '../../src/monitor/agent-protocol.js';
import { MAX_PROBLEMS, SamplesReader, type SamplesFile } from '../../src/monitor/samples-file.js';
import type { MonitorSample } from '../../src/monitor/types.js';
import { runRecordSchema } from '../../src/record/schema.js';
import type { RunRecord } from '../../src/record/types.js';
import { BACKEND, madeSample, shiftTo, withBackendUse } from '../helpers/service-samples.js';
import { LINUX_HOST, syntheticRecord } from '../helpers/synthetic-record.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/records/', import.meta.url));
const fixture = (name: string): RunRecord => JSON.parse(readFileSync(`${FIX}${name}.json`, 'utf8')) as RunRecord;

/** A schema 2 record of `seconds` seconds whose load started at LOAD (its `startedAt` 1.2 s before). */
const LOAD = Date.parse('2026-01-01T00:00:01.200Z');
function record(seconds = 10): RunRecord {
  return { ...syntheticRecord(), schema: 2, loadStartedAt: new Date(LOAD).toISOString(), durationS: seconds };
}

/** The lines of a samples file: a hello, then samples every 250 ms (20 ms past) over [fromS, toS) run seconds, a scan each second; inUse = 100 × (|second| + 1). */
function serviceLines(fromS: number, toS: number, start = LOAD, hello = true): string[] {
  const lines = hello ? [agentLine({ type: 'hello', time: start + fromS * 1000 - 500, agent: { version: '0.1.0', pid: 7 }, host: LINUX_HOST, intervalMs: 250, scanIntervalMs: 1000 })] : [];
  for (let ms = fromS * 1000; ms < toS * 1000; ms += 250) {
    const s = madeSample(start + ms + 20);
    const t = Math.floor(ms / 1000);
    const one: MonitorSample = ms % 1000 === 0 ? s : { ...s, scan: null };
    lines.push(agentLine({ type: 'sample', sample: withBackendUse(one, 100 * (Math.abs(t) + 1)) }));
  }
  return lines.map((l) => l.trimEnd());
}

function read(lines: readonly string[], r: RunRecord, label = 'attach service: samples.ndjson'): SamplesFile {
  const reader = new SamplesReader(label, attachWindow(runSpan(r)));
  for (const l of lines) reader.line(l);
  return reader.result();
}

const service = (file: SamplesFile, over: Partial<AttachHost> = {}): AttachHost => ({ name: 'service', role: 'service', address: '/tmp/samples.ndjson', label: 'attach service: samples.ndjson', file, ...over });

describe('SamplesReader', () => {
  it('reads hello, sample and status lines; skips bad lines naming their line numbers; keeps reading', () => {
    const lines = serviceLines(0, 2);
    lines.splice(2, 0, '{"type":"sample"');
    lines.splice(4, 0, JSON.stringify({ type: 'reboot' }));
    lines.push('', JSON.stringify({ type: 'status', time: LOAD + 1000, status: { source: 'sockdiag', unavailable: { counters: 'EACCES' }, effectiveScanIntervalMs: 1000 } }));
    const f = read(lines, record());
    assert.equal(f.badLines, 2);
    assert.equal(f.problems.length, 2);
    assert.match(f.problems[0]!, /^attach service: samples\.ndjson line 3: not JSON/);
    assert.match(f.problems[1]!, /^attach service: samples\.ndjson line 5: type: /);
    assert.equal(f.sampleLines, 8);
    assert.equal(f.samples.length, 8);
    assert.equal(f.hello?.intervalMs, 250);
    assert.deepEqual(f.status?.unavailable, { counters: 'EACCES' });
  });

  it('keeps only the samples inside the window, but tells the whole file range', () => {
    const r = record(2);
    const f = read([...serviceLines(-120, -119), ...serviceLines(0, 2), ...serviceLines(3, 4)], r);
    assert.equal(f.sampleLines, 16);
    assert.equal(f.samples.length, 8);
    assert.equal(f.range?.firstMs, LOAD - 120_000 + 20);
    assert.equal(f.range?.lastMs, LOAD + 3750 + 20);
  });

  it('reads bare samples (older monitor --out files) as samples, and keeps word for word only the first few problems', () => {
    const lines = [...Array.from({ length: MAX_PROBLEMS + 3 }, () => 'garbage'), ...[0, 250, 500].map((ms) => JSON.stringify(madeSample(LOAD + ms)) + '\r')];
    const f = read(lines, record());
    assert.equal(f.samples.length, 3);
    assert.equal(f.hello, null);
    assert.equal(f.badLines, MAX_PROBLEMS + 3);
    assert.equal(f.problems.length, MAX_PROBLEMS);
  });
});

describe('overlapOf', () => {
  const span = { startEpochMs: LOAD, durationS: 30, exact: true };
  const every = (fromS: number, toS: number, stepMs = 250): number[] => Array.from({ length: Math.round(((toS - fromS) * 1000) / stepMs) + 1 }, (_, i) => LOAD + fromS * 1000 + i * stepMs);

  it('a file sampling the whole run covers all of it', () => {
    const o = overlapOf(every(0.1, 29.9), span, holeMs(250));
    assert.deepEqual(o, { runS: 30, firstS: 0.1, lastS: 29.9, coveredS: 30, holes: [] });
    assert.equal(overlapSentence('samples.ndjson', o), "samples.ndjson covers 30.0 s of the run's 30.0 s (t = 0.1–29.9 s)");
    assert.deepEqual(overlapGaps(o), []);
  });

  it('a file over part of the run: what it covers, and the stretches without samples', () => {
    const o = overlapOf([...every(-5, 8), ...every(10.5, 16)], span, holeMs(250));
    assert.equal(o.firstS, 0);
    assert.equal(o.lastS, 16);
    assert.deepEqual(o.holes, [
      { fromS: 8, toS: 10.5 },
      { fromS: 16, toS: 30 },
    ]);
    assert.equal(o.coveredS, 13.5);
    assert.equal(overlapSentence('samples.ndjson', o), "samples.ndjson covers 13.5 s of the run's 30.0 s (t = 0.0–16.0 s); 16.5 s without samples");
    assert.deepEqual(overlapGaps(o), ['no samples from t = 8.0 s to 10.5 s', 'no samples after t = 16.0 s: the file ends 14.0 s before the run']);
    const late = overlapOf(every(4, 16), span, holeMs(250));
    assert.equal(overlapSentence('samples.ndjson', late), "samples.ndjson covers 12.0 s of the run's 30.0 s (t = 4.0–16.0 s); 18.0 s without samples");
    assert.equal(overlapGaps(late)[0], 'no samples before t = 4.0 s: the file starts 4.0 s into the run');
  });

  it('a file before or after the run does not overlap it', () => {
    const o = overlapOf([...every(-60, -1), ...every(31, 40)], span, holeMs(250));
    assert.deepEqual(o, { runS: 30, firstS: null, lastS: null, coveredS: 0, holes: [] });
  });

  it('the cadence comes from the hello line, else from the samples', () => {
    const r = record();
    assert.deepEqual(cadenceOf(read(serviceLines(0, 3), r)), { intervalMs: 250, scanIntervalMs: 1000 });
    assert.deepEqual(cadenceOf(read(serviceLines(0, 3, LOAD, false), r)), { intervalMs: 250, scanIntervalMs: 1000 });
  });
});

describe('attachHost', () => {
  it("folds the file's samples into hosts.service at the run seconds they were taken, and makes the analysis again", () => {
    const r = record(10);
    const { name: _name, ...client } = hostViews(r)[0]!;
    r.hosts = { client };
    r.diagnosis = [{ verdict: 'dns-failures', severity: 'critical', confidence: 1, atS: null, evidence: ['stale'], advice: [] }];
    const a = attachHost(r, service(read(serviceLines(2, 6), r)));
    const h = a.record.hosts!.service!;
    assert.deepEqual(Object.keys(a.record.hosts!), ['client', 'service']);
    assert.equal(a.record.schema, 2);
    assert.equal(h.source, 'file');
    assert.equal(h.role, 'service');
    assert.deepEqual(h.clock, { method: 'wall-clock', offsetMs: 0, uncertaintyMs: null });
    assert.deepEqual(h.host, LINUX_HOST);
    assert.equal(h.timeline.length, r.timeline.length);
    // Samples from t = 2 to 6 s: TIME_WAIT 100 × (t + 1) in those seconds; the scan of t = 5 stands for t = 6 too; nothing before 2.
    assert.deepEqual(
      h.timeline.map((e) => e.sockets?.timeWait ?? null),
      [null, null, 300, 400, 500, 600, 600, null, null, null],
    );
    assert.equal(h.ports?.busiestDestination, BACKEND);
    assert.equal(h.ports?.peakInUse, 600);
    assert.equal(h.ports?.usable, LINUX_HOST.usablePorts);
    assert.deepEqual(h.coverage, { fromS: 2, toS: 5, share: 0.5 });
    assert.deepEqual(h.gaps, ['no samples before t = 2.0 s: the file starts 2.0 s into the run', 'no samples after t = 5.8 s: the file ends 4.2 s before the run']);
    assert.deepEqual(a.overlap, { runS: 10, firstS: 2, lastS: 5.8, coveredS: 3.8, holes: [{ fromS: 0, toS: 2 }, { fromS: 5.8, toS: 10 }] });
    assert.equal(a.replaced, null);
    // The analysis is the record's, with the host in it.
    const { exhaustion: _e, diagnosis: _d, ...bare } = a.record;
    assert.deepEqual(a.record.exhaustion, analyzeExhaustion(bare as RunRecord));
    assert.deepEqual(a.record.diagnosis, diagnose(a.record, a.record.exhaustion));
    assert.ok(!a.record.diagnosis!.some((v) => v.evidence.includes('stale')));
    assert.equal(runRecordSchema.safeParse(a.record).success, true, JSON.stringify(runRecordSchema.safeParse(a.record).error?.issues.slice(0, 3)));
    // The input record is left as it was.
    assert.deepEqual(Object.keys(r.hosts), ['client']);
  });

  it('a schema 1 record takes an attach: the result is schema 2 with client (from its top-level figures) and the host, aligned to startedAt', () => {
    const r = fixture('healthy');
    assert.equal(r.schema, 1);
    const span = runSpan(r);
    assert.equal(span.exact, false);
    assert.equal(span.startEpochMs, Date.parse(r.startedAt));
    const a = attachHost(r, service(read(serviceLines(0, 8, span.startEpochMs), r), { role: 'proxy', name: 'nginx' }));
    assert.equal(a.record.schema, 2);
    assert.deepEqual(Object.keys(a.record.hosts!), ['client', 'nginx']);
    assert.equal(a.record.hosts!.nginx!.role, 'proxy');
    assert.deepEqual(a.record.hosts!.client!.ports, r.ports);
    assert.deepEqual(a.record.hosts!.nginx!.timeline.slice(0, 8).map((e) => e.sockets?.timeWait), [100, 200, 300, 400, 500, 600, 700, 800]);
    assert.equal(runRecordSchema.safeParse(a.record).success, true);
  });

  it('attaching a name again replaces that host, and says which it replaced', () => {
    const r = record(4);
    const first = attachHost(r, service(read(serviceLines(0, 4), r), { address: '/tmp/old.ndjson' }));
    const again = attachHost(first.record, service(read(serviceLines(1, 3), first.record), { address: '/tmp/new.ndjson' }));
    assert.equal(again.replaced?.address, '/tmp/old.ndjson');
    assert.equal(again.record.hosts!.service!.address, '/tmp/new.ndjson');
    assert.deepEqual(Object.keys(again.record.hosts!), ['client', 'service']);
  });

  it('refuses a file without a usable sample, and one whose samples all fall outside the run, in one line', () => {
    const r = record(4);
    const empty = read(['not json', '{"type":"heartbeat","time":1}'], r);
    assert.throws(
      () => attachHost(r, service(empty)),
      (e: Error) => e instanceof UsageError && /^attach service: samples\.ndjson: no usable sample in it \(1 line could not be read, the first: line 1: not JSON/.test(e.message) && !e.message.includes('\n'),
    );
    const before = read(serviceLines(-30, -10), r);
    assert.throws(
      () => attachHost(r, service(before)),
      (e: Error) => e instanceof UsageError && /^attach service: samples\.ndjson: does not overlap the run: its samples are from 2025-12-31T23:59:31\.220Z to 2025-12-31T23:59:50\.970Z, the run's load from 2026-01-01T00:00:01\.200Z to 2026-01-01T00:00:05\.200Z$/.test(e.message),
    );
    assert.throws(() => attachHost(r, service(read(serviceLines(0, 2), r), { name: 'client' })), UsageError);
  });
});

describe('parseAttachFlags', () => {
  it('reads NAME=FILE and NAME:ROLE=FILE (role service unless given)', () => {
    assert.deepEqual(parseAttachFlags(['service=a.ndjson', 'lb:proxy=dir/b=c.ndjson']), [
      { name: 'service', role: 'service', file: 'a.ndjson' },
      { name: 'lb', role: 'proxy', file: 'dir/b=c.ndjson' },
    ]);
  });

  const refused: Array<[string[], RegExp]> = [
    [['samples.ndjson'], /^--attach samples\.ndjson: expected NAME=FILE or NAME:ROLE=FILE/],
    [['client=a.ndjson'], /^--attach client=a\.ndjson: client is the load generator's own host/],
    [['bad name=a.ndjson'], /^--attach bad name=a\.ndjson: the name bad name: expected letters, digits/],
    [['=a.ndjson'], /^--attach =a\.ndjson: the name \(none\)/],
    [['a:b:c=a.ndjson'], /^--attach a:b:c=a\.ndjson: the name a:b:c/],
    [['db:database=a.ndjson'], /^--attach db:database=a\.ndjson: role database: expected one of service, proxy/],
    [['service='], /^--attach service=: no file after =/],
    [['service=a.ndjson', 'service:proxy=b.ndjson'], /^--attach service:proxy=b\.ndjson: service is attached twice \(also service=a\.ndjson\)/],
  ];
  for (const [values, message] of refused) {
    it(`refuses ${values.join(' ')} in one line`, () => {
      assert.throws(
        () => parseAttachFlags(values),
        (e: Error) => e instanceof UsageError && message.test(e.message) && !e.message.includes('\n'),
      );
    });
  }
});
