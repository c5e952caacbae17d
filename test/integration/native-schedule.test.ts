/**
 * Scheduled starts on the native engine: exchanges handed over with a not-before time start at it,
 * never before; cancelScheduled() (a stop) and close(true) (an abort) leave the ones not due yet
 * unstarted and say so; and a run that hands its arrivals over ahead of time keeps its record
 * honest under stop and caps (attempted = started = logged, every start at or after its intended
 * time). Local servers on 127.0.0.1 only. The addon must be built (npm ci builds it).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, describe, it } from 'node:test';
import { httpRequestBytes } from '../../src/load/transport/http-request.js';
import { createTransport } from '../../src/load/transport/index.js';
import { loadNativeEngine } from '../../src/load/transport/native-engine.js';
import { nativeOneShotTransport } from '../../src/load/transport/native-oneshot.js';
import type { ExchangeResult, Transport, TransportOptions } from '../../src/load/transport/types.js';
import type { RunRecord } from '../../src/record/types.js';
import { runScenario } from '../../src/run.js';
import { parseScenario } from '../../src/scenario/load.js';
import { httpServer, silentServer, type TestServer } from '../helpers/servers.js';

const resultsDir = mkdtempSync(path.join(os.tmpdir(), 'ps-schedule-'));
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function options(server: TestServer, over: Partial<TransportOptions> = {}): TransportOptions {
  return {
    host: '127.0.0.1',
    port: server.port,
    localAddresses: [],
    close: 'client',
    poolSize: 1,
    connectTimeoutMs: 2000,
    requestTimeoutMs: 3000,
    http: { method: 'GET', path: '/', headers: {}, body: '', authority: `127.0.0.1:${server.port}` },
    tcp: { payload: 'PING\n', expectBytes: 5 },
    onConnect: () => undefined,
    scheduled: true,
    ...over,
  };
}

function nativeTransport(opts: TransportOptions): Transport {
  const n = loadNativeEngine();
  if (!n.available) throw new Error(`the native connection engine must be built for these tests (npm rebuild): ${n.reason}`);
  return nativeOneShotTransport(n.addon, opts, httpRequestBytes(opts), { kind: 'http', isHead: false });
}

/** Waits until `done()` or `ms` passed. */
async function waitFor(done: () => boolean, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (!done() && performance.now() < end) await delay(5);
}

interface Logged {
  t: number;
  start: number;
  code: string | null;
}

async function run(doc: Record<string, unknown>, signalAfterS?: number): Promise<{ record: RunRecord; log: Logged[] }> {
  const scenario = parseScenario({ name: 'schedule', workers: 1, monitor: { enabled: false }, ...doc }, 'test');
  const ac = new AbortController();
  const onProgress = signalAfterS === undefined ? undefined : (elapsedS: number): void => (elapsedS >= signalAfterS ? ac.abort() : undefined);
  const { record, dir } = await runScenario({ scenario, resultsDir, logRequests: true, signal: ac.signal, onProgress });
  const log: Logged[] = [];
  for (const f of readdirSync(dir).filter((n) => n.startsWith('requests-'))) {
    for (const line of readFileSync(path.join(dir, f), 'utf8').split('\n')) if (line) log.push(JSON.parse(line) as Logged);
  }
  return { record, log };
}

/** The record and the request log agree, and no request started before its intended time. */
function assertHonest(record: RunRecord, log: Logged[]): void {
  assert.equal(record.engine?.engine, 'native');
  assert.equal(log.length, record.totals.attempted, 'every attempt is logged once');
  assert.equal(record.totals.attempted, record.totals.completed + record.totals.failed);
  assert.equal(
    record.timeline.reduce((n, e) => n + e.attempted, 0),
    record.totals.attempted,
  );
  assert.ok(record.timeline.every((e) => e.attempted >= 0));
  const early = log.filter((e) => e.start < e.t);
  assert.deepEqual(early, [], 'started before the intended time');
}

describe('native engine: scheduled starts (transport)', () => {
  it('the native transport schedules; the node:net one does not', async () => {
    const server = await httpServer((_req, res) => res.end('ok'));
    after(() => server.close());
    assert.equal(nativeTransport(options(server)).schedules, true);
    const saved = process.env.PORTSTORM_ENGINE;
    process.env.PORTSTORM_ENGINE = 'js';
    try {
      const js = createTransport('http', false, options(server));
      assert.ok(!js.schedules);
      assert.equal(js.cancelScheduled, undefined);
    } finally {
      if (saved === undefined) delete process.env.PORTSTORM_ENGINE;
      else process.env.PORTSTORM_ENGINE = saved;
    }
  });

  it('an exchange given a time starts at it, never before, whatever the order it was handed over in', async () => {
    const server = await httpServer((_req, res) => res.end('ok'));
    after(() => server.close());
    const t = nativeTransport(options(server));
    const t0 = performance.now();
    // Two interleaved sequences (two arrival groups in one shard), one handed over after the other.
    const dues = [...Array.from({ length: 15 }, (_, i) => t0 + 40 + i * 6), ...Array.from({ length: 15 }, (_, i) => t0 + 43 + i * 6)];
    const results = await Promise.all([...dues.map((d) => t.exchange(d)), t.exchange()]);
    await t.close(false);
    results.slice(0, dues.length).forEach((r, i) => {
      assert.equal(r.failure, null, JSON.stringify(r));
      assert.ok(r.startedAt >= dues[i]!, `#${i} started ${(dues[i]! - r.startedAt).toFixed(3)} ms early`);
    });
    // Without a time: at once, ahead of the scheduled ones.
    const now = results[dues.length]!;
    assert.equal(now.failure, null);
    assert.ok(now.startedAt < Math.min(...dues));
    assert.equal(server.stats().accepted, dues.length + 1);
  });

  it('cancelScheduled: the ones due after it never start and resolve notStarted; the rest run', async () => {
    const server = await httpServer((_req, res) => res.end('ok'));
    after(() => server.close());
    const t = nativeTransport(options(server));
    const t0 = performance.now();
    const dues = Array.from({ length: 40 }, (_, i) => t0 - 5 + i * 50); // the first is due already; the last in 2 s
    const pending = dues.map((d) => t.exchange(d));
    await delay(120);
    const before = performance.now();
    t.cancelScheduled!();
    const afterCancel = performance.now();
    // Handed over after the cancel: with a later time it never starts, without one it runs.
    const late = t.exchange(afterCancel + 30);
    const unscheduled = t.exchange();
    const results = await Promise.all(pending);
    const started = results.filter((r) => !r.notStarted);
    results.forEach((r, i) => {
      if (r.notStarted) {
        assert.ok(dues[i]! > before, `#${i} due ${(before - dues[i]!).toFixed(3)} ms before the cancel was not started`);
        assert.equal(r.failure?.code, 'ABORTED');
        assert.equal(r.connectMs, null);
        assert.equal(r.localPort, null);
      } else {
        assert.ok(dues[i]! <= afterCancel, `#${i} due ${(dues[i]! - afterCancel).toFixed(3)} ms after the cancel started`);
        assert.equal(r.failure, null, JSON.stringify(r));
        assert.ok(r.startedAt >= dues[i]!);
      }
    });
    assert.ok(started.length >= 1 && started.length < dues.length, `started ${started.length}`);
    assert.equal((await late).notStarted, true);
    const u = await unscheduled;
    assert.equal(u.failure, null);
    assert.ok(!u.notStarted);
    // Nothing reaches the server after the cancel but what was due before it (and the unscheduled one).
    await delay(dues.at(-1)! - performance.now() + 50);
    await t.close(false);
    assert.equal(server.stats().accepted, started.length + 1);
  });

  it('close(true): started exchanges end ABORTED, the ones not due yet notStarted; none starts afterwards', async () => {
    const server = await silentServer();
    after(() => server.close());
    const t = nativeTransport(options(server, { requestTimeoutMs: 20_000 }));
    const t0 = performance.now();
    const dues = Array.from({ length: 20 }, (_, i) => t0 + i * 100); // over 2 s
    const pending = dues.map((d) => t.exchange(d));
    await waitFor(() => server.stats().accepted >= 3, 1500);
    const before = performance.now();
    const closing = t.close(true);
    const afterClose = performance.now();
    const results: ExchangeResult[] = await Promise.all(pending);
    await closing;
    const started = results.filter((r) => !r.notStarted);
    const info = `started ${started.length}, closed at +${(before - t0).toFixed(1)} ms`;
    assert.ok(started.length >= 3 && started.length < dues.length, info);
    results.forEach((r, i) => {
      if (r.notStarted) assert.ok(dues[i]! > before, `#${i}: ${info}`);
      else {
        assert.ok(dues[i]! <= afterClose, `#${i}: ${info}`);
        assert.equal(r.failure?.code, 'ABORTED');
      }
    });
    await delay(dues.at(-1)! - performance.now() + 50);
    // One due before the abort that the engine had not started yet (a stalled machine) ends
    // ABORTED without a connection, as an exchange submitted just before an abort does.
    const detail = results.map((r, i) => `${i}:${r.notStarted ? 'n' : r.connectMs === null ? 'a' : 'c'}@${(r.startedAt - dues[i]!).toFixed(1)}`).join(' ');
    assert.equal(server.stats().accepted, started.filter((r) => r.connectMs !== null).length, `${info}; ${detail}`);
  });
});

describe('native engine: scheduled starts (runs)', () => {
  it('open model: every arrival starts at or after its time, once, and the record matches the schedule', async () => {
    const server = await httpServer((_req, res) => res.end('ok'));
    after(() => server.close());
    const { record, log } = await run({ target: server.url, load: [{ model: 'arrival-rate', rate: 400, duration: 1.5 }] });
    assertHonest(record, log);
    const info = JSON.stringify({ status: record.status, totals: record.totals, errors: record.errors, durationS: record.durationS });
    assert.equal(record.totals.attempted, 600, info);
    assert.equal(record.totals.completed, 600, info);
    assert.equal(server.stats().accepted, 600);
    // Attempts are counted in their intended second.
    assert.deepEqual(
      record.timeline.slice(0, 2).map((e) => e.attempted),
      [400, 200],
    );
  });

  it('maxRequests and maxDuration: nothing is handed over past a cap, however far ahead arrivals go', async () => {
    const server = await httpServer((_req, res) => res.end('ok'));
    after(() => server.close());
    const capped = await run({ target: server.url, workers: 2, limits: { maxRequests: 101 }, load: [{ model: 'arrival-rate', rate: 1000, duration: 2 }] });
    assertHonest(capped.record, capped.log);
    assert.equal(capped.record.totals.attempted, 101);
    assert.equal(server.stats().accepted, 101);
    // At 1000/s, the arrivals due in the last 50 ms before the cap are handed over before it.
    const timed = await run({ target: server.url, limits: { maxDuration: 0.5 }, load: [{ model: 'arrival-rate', rate: 1000, duration: 5 }] });
    assertHonest(timed.record, timed.log);
    // 500 arrivals are due before 0.5 s (fewer if this thread fell behind past the cap).
    assert.ok(timed.record.totals.attempted <= 500, `attempted ${timed.record.totals.attempted}`);
    assert.ok(timed.log.every((e) => e.t < 0.5));
    assert.deepEqual(timed.record.limitsReached, ['maxDuration']);
  });

  it('a stop with arrivals handed over ahead: the unstarted ones are no attempts, and the record stays consistent', async () => {
    const server = await httpServer((_req, res) => res.end('ok'));
    after(() => server.close());
    const { record, log } = await run({ target: server.url, load: [{ model: 'arrival-rate', rate: 1000, duration: 30 }] }, 1);
    assert.equal(record.status, 'interrupted');
    assertHonest(record, log);
    assert.ok(record.totals.attempted > 0);
    // Every request the server saw is an attempt in the record (none was started unrecorded).
    await waitFor(() => server.stats().open === 0, 2000);
    assert.equal(server.stats().accepted, record.totals.attempted);
  });

  it('past maxInFlight, arrivals handed over ahead are still dropped and counted', async () => {
    const stall = await httpServer((_req, res) => setTimeout(() => res.end('ok'), 1500));
    after(() => stall.close());
    const { record, log } = await run({ target: stall.url, load: [{ model: 'arrival-rate', rate: 200, duration: 1, maxInFlight: 25 }] });
    assertHonest(record, log);
    assert.equal(record.totals.attempted, 25);
    assert.equal(record.totals.dropped, 175);
    assert.equal(record.timeline[0]!.dropped, 175);
  });
});
