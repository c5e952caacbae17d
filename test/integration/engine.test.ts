/** The load engine against local servers: rates, models, coordinated omission, error codes. */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { runScenario } from '../../src/run.js';
import { parseScenario } from '../../src/scenario/load.js';
import type { LiveStats } from '../../src/record/accumulator.js';
import type { RunRecord } from '../../src/record/types.js';
import { chunkedServer, closedPort, httpServer, resettingServer, silentServer } from '../helpers/servers.js';

const resultsDir = mkdtempSync(path.join(os.tmpdir(), 'ps-engine-'));

async function run(doc: Record<string, unknown>): Promise<RunRecord> {
  const scenario = parseScenario({ name: 'engine-test', workers: 1, ...doc }, 'test');
  return (await runScenario({ scenario, resultsDir })).record;
}

describe('load engine', () => {
  it('open model: achieved arrivals follow the target rate', async () => {
    const r = await run({ load: [{ model: 'arrival-rate', rate: 300, duration: 3 }] });
    assert.equal(r.totals.attempted, 900);
    assert.equal(r.totals.completed, 900);
    assert.equal(r.totals.connectionsOpened, 900);
    for (const sec of r.timeline.slice(0, 3)) assert.ok(Math.abs(sec.attempted - 300) <= 3, `second ${sec.t}: ${sec.attempted}`);
  });

  it('open model with a linear ramp', async () => {
    const r = await run({ load: [{ model: 'arrival-rate', startRate: 100, rate: 300, rampUp: 2, duration: 3 }] });
    // 2 s ramping 100→300 holds 400 arrivals, then 1 s at 300.
    assert.ok(Math.abs(r.totals.attempted - 700) <= 2, `attempted ${r.totals.attempted}`);
    const [s0, s1, s2] = r.timeline;
    assert.ok(s0!.attempted < s1!.attempted && s1!.attempted < s2!.attempted, r.timeline.map((s) => s.attempted).join(','));
  });

  it('closed model: users × iterations, with two workers sharing the users', async () => {
    const r = await run({ workers: 2, load: [{ model: 'users', users: 5, rampUp: 0.5, iterations: 20 }] });
    assert.equal(r.totals.attempted, 100);
    assert.equal(r.totals.completed, 100);
    assert.equal(r.workers, 2);
  });

  it('two groups run side by side', async () => {
    const r = await run({
      load: [
        { model: 'arrival-rate', rate: 100, duration: 1 },
        { model: 'users', users: 2, iterations: 10, startAfter: 0.2 },
      ],
    });
    assert.equal(r.totals.attempted, 120);
  });

  it('open model: past maxInFlight, requests are dropped, not delayed', async () => {
    const stall = await httpServer((_req, res) => setTimeout(() => res.end('ok'), 1500));
    after(() => stall.close());
    const r = await run({ target: stall.url, load: [{ model: 'arrival-rate', rate: 100, duration: 1, maxInFlight: 10 }] });
    assert.equal(r.totals.attempted, 10);
    assert.equal(r.totals.dropped, 90);
    assert.equal(r.totals.completed, 10);
  });

  it('coordinated omission: latency from the intended start includes the queue behind a stall', async () => {
    let first = true;
    const server = await httpServer((_req, res) => {
      if (first) {
        first = false;
        setTimeout(() => res.end('slow'), 800);
      } else res.end('ok');
    });
    after(() => server.close());
    const r = await run({
      target: server.url,
      connection: { reuse: true, poolSize: 1 },
      load: [{ model: 'arrival-rate', rate: 100, duration: 2 }],
    });
    assert.equal(r.totals.completed, 200);
    // ~80 requests waited behind the stalled one: their corrected latency is hundreds of ms.
    assert.ok(r.latencyMs.p90 > 200, `corrected p90 ${r.latencyMs.p90}`);
    // A loopback exchange takes well under a millisecond; 100 ms leaves a starved machine room
    // and stays far below the 800 ms stall the corrected figure carries.
    assert.ok(r.latencyUncorrectedMs.p90 < 100, `uncorrected p90 ${r.latencyUncorrectedMs.p90}`);
    assert.ok(r.latencyUncorrectedMs.max >= 790, `uncorrected max ${r.latencyUncorrectedMs.max}`);
  });

  it('a refused target: ECONNREFUSED in the connect phase, the run still completes (new and kept-alive connections)', async () => {
    const port = await closedPort();
    for (const reuse of [false, true]) {
      const r = await run({ target: `http://127.0.0.1:${port}/`, connection: { reuse }, load: [{ model: 'users', users: 2, iterations: 5 }] });
      assert.equal(r.status, 'completed');
      assert.equal(r.totals.failed, 10);
      assert.equal(r.errorsByPhase['connect:ECONNREFUSED'], 10, `reuse ${reuse}: ${JSON.stringify(r.errorsByPhase)}`);
      assert.equal(r.errorSamples[0]?.code, 'ECONNREFUSED');
    }
  });

  it('a target that resets: ECONNRESET after connect', async () => {
    const server = await resettingServer();
    after(() => server.close());
    const r = await run({ target: server.url.replace('tcp', 'http'), load: [{ model: 'users', users: 1, iterations: 10 }] });
    assert.equal(r.totals.failed, 10);
    const codes = Object.keys(r.errors);
    assert.ok(codes.every((c) => c === 'ECONNRESET' || c === 'PREMATURE_CLOSE'), codes.join(','));
    // The RST can beat the 'connect' event, so not every connection is seen as opened.
    assert.ok(r.totals.connectionsOpened <= 10);
  });

  it('a target that never answers: REQUEST_TIMEOUT, bounded by timeouts.request', async () => {
    const server = await silentServer();
    after(() => server.close());
    for (const reuse of [false, true]) {
      const r = await run({
        target: server.url,
        timeouts: { request: '300ms' },
        connection: { reuse },
        load: [{ model: 'users', users: 2, iterations: 2 }],
      });
      assert.equal(r.errorsByPhase['response:REQUEST_TIMEOUT'], 4, `reuse ${reuse}: ${JSON.stringify(r.errorsByPhase)}`);
    }
  });

  it('HTTP statuses: 5xx and 4xx are failures with their own codes', async () => {
    let n = 0;
    const server = await httpServer((_req, res) => {
      res.statusCode = n++ % 2 === 0 ? 503 : 404;
      res.end('no');
    });
    after(() => server.close());
    for (const reuse of [false, true]) {
      const r = await run({ target: server.url, connection: { reuse }, load: [{ model: 'users', users: 1, iterations: 10 }] });
      assert.deepEqual(r.errors, { HTTP_5XX: 5, HTTP_4XX: 5 }, `reuse ${reuse}`);
      assert.equal(r.totals.failed, 10);
    }
  });

  it('keep-alive HTTP against a chunked response, with a request body', async () => {
    const server = await chunkedServer(5);
    after(() => server.close());
    for (const reuse of [true, false]) {
      const r = await run({
        target: server.url,
        request: { method: 'POST', body: 'hello' },
        connection: { reuse, poolSize: 2 },
        load: [{ model: 'users', users: 2, iterations: 5 }],
      });
      assert.equal(r.totals.completed, 10, `reuse ${reuse}: ${JSON.stringify(r.errors)}`);
    }
    assert.equal(server.bodies(), 20);
  });

  it('the record says which engine carried the connections', async () => {
    const native = await run({ connection: { reuse: false }, load: [{ model: 'users', users: 1, iterations: 3 }] });
    assert.deepEqual(native.engine, { engine: 'native', reason: null });
    const pooled = await run({ connection: { reuse: true }, load: [{ model: 'users', users: 1, iterations: 3 }] });
    assert.deepEqual(pooled.engine, { engine: 'native', reason: null });
    assert.equal(pooled.totals.completed, 3);
    assert.equal(pooled.totals.connectionsOpened, 1, 'one kept-alive connection');
    const tcp = await run({ target: `tcp://127.0.0.1:${await closedPort()}`, connection: { reuse: true }, load: [{ model: 'users', users: 1, iterations: 1 }] });
    assert.equal(tcp.engine?.engine, 'js');
    assert.match(tcp.engine!.reason!, /reuse: true over raw TCP/);
    process.env.PORTSTORM_ENGINE = 'js';
    try {
      const forced = await run({ connection: { reuse: false }, load: [{ model: 'users', users: 1, iterations: 3 }] });
      assert.deepEqual(forced.engine, { engine: 'js', reason: 'PORTSTORM_ENGINE=js' });
      assert.equal(forced.totals.completed, 3);
      const forcedPool = await run({ connection: { reuse: true }, load: [{ model: 'users', users: 1, iterations: 3 }] });
      assert.deepEqual(forcedPool.engine, { engine: 'js', reason: 'PORTSTORM_ENGINE=js' });
      assert.equal(forcedPool.totals.completed, 3);
    } finally {
      delete process.env.PORTSTORM_ENGINE;
    }
  });

  it('maxRequests caps a run', async () => {
    const r = await run({ limits: { maxRequests: 50 }, load: [{ model: 'arrival-rate', rate: 500, duration: 2 }] });
    assert.equal(r.totals.attempted, 50);
  });

  it('an abort signal stops the run early and marks it interrupted', async () => {
    const scenario = parseScenario({ workers: 1, load: [{ model: 'arrival-rate', rate: 100, duration: 30 }] }, 'test');
    const ac = new AbortController();
    const onProgress = (elapsedS: number): void => {
      if (elapsedS >= 1) ac.abort();
    };
    const { record } = await runScenario({ scenario, resultsDir, signal: ac.signal, onProgress });
    assert.equal(record.status, 'interrupted');
    // About 1 s of a 30 s schedule (3 000 arrivals) ran: a starved generator may have started
    // fewer than the 100 due by then, and a late abort a few more; both stay far from 3 000.
    assert.ok(record.totals.attempted >= 50 && record.totals.attempted < 1000, `attempted ${record.totals.attempted}`);
    assert.equal(record.totals.attempted, record.totals.completed + record.totals.failed);
    assert.ok(record.durationS < 15, `ran ${record.durationS} s of 30`);
  });

  it('users whose requests fail at once still yield: the run stops on abort and ships every second', async () => {
    // 192.0.2.1 (TEST-NET-1) is on no interface here: bind() fails with EADDRNOTAVAIL before any packet.
    const scenario = parseScenario(
      { workers: 1, connection: { localAddresses: ['192.0.2.1'] }, load: [{ model: 'users', users: 4, duration: 30 }] },
      'test',
    );
    const ac = new AbortController();
    const seen: number[] = [];
    const onProgress = (elapsedS: number, live: LiveStats): void => {
      seen.push(live.totals.attempted);
      if (elapsedS >= 1.5) ac.abort();
    };
    const { record } = await runScenario({ scenario, resultsDir, signal: ac.signal, onProgress });
    assert.equal(record.status, 'interrupted');
    // Aborted at 1.5 s of 30: 10 s leave a starved machine room and still show the stop.
    assert.ok(record.durationS < 10, `ran ${record.durationS} s`);
    assert.equal(record.totals.completed, 0);
    assert.equal(record.totals.failed, record.totals.attempted);
    assert.deepEqual(Object.keys(record.errors), ['EADDRNOTAVAIL']);
    // Progress arrived while the users spun: the worker's flush timer ran.
    assert.ok(seen.some((n) => n > 0), `progress ${seen.join(',')}`);
  });
});
