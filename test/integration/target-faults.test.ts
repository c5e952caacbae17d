/**
 * Target faults, each classified in the run record: a target killed mid-run, one that never
 * answers, one that resets every connection, and slow-loris answers. Every server listens on
 * 127.0.0.1; every run is bounded in requests and seconds.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, describe, it } from 'node:test';
import type { RunRecord } from '../../src/record/types.js';
import { runScenario, type RunOptions } from '../../src/run.js';
import { parseScenario } from '../../src/scenario/load.js';
import { childHttpServer, resettingServer, silentServer, slowLorisServer } from '../helpers/servers.js';

const resultsDir = mkdtempSync(path.join(os.tmpdir(), 'ps-faults-'));

async function run(doc: Record<string, unknown>, extra: Partial<RunOptions> = {}): Promise<{ record: RunRecord; dir: string }> {
  // The monitor is off: its host-wide picture would mix in whatever else this machine runs.
  const scenario = parseScenario({ name: 'fault', workers: 1, monitor: { enabled: false }, ...doc }, 'test');
  const { record, dir } = await runScenario({ scenario, resultsDir, ...extra });
  return { record, dir };
}

/** Most requests in flight at once, from the per-request log (dispatch to end). */
function peakInFlight(dir: string, logs: string[]): number {
  const edges: Array<[number, number]> = [];
  for (const name of logs) {
    for (const line of readFileSync(path.join(dir, name), 'utf8').split('\n')) {
      if (!line) continue;
      const e = JSON.parse(line) as { t: number; start: number; ms: number };
      edges.push([e.start, 1], [e.t + e.ms / 1000, -1]);
    }
  }
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let peak = 0;
  for (const [, d] of edges) peak = Math.max(peak, (now += d));
  return peak;
}

describe('target faults', () => {
  it('a target killed mid-run: ECONNREFUSED from that moment, and the diagnosis says when', async (t) => {
    const server = await childHttpServer();
    after(() => server.kill());
    let killS = null as number | null;
    let deadS = null as number | null;
    let scheduled = false;
    const { record: r, dir } = await run(
      { target: server.url, load: [{ model: 'arrival-rate', rate: 200, duration: 3 }] },
      {
        logRequests: true,
        onProgress: (elapsedS) => {
          if (scheduled) return;
          scheduled = true;
          const at = performance.now();
          setTimeout(() => {
            killS = elapsedS + (performance.now() - at) / 1000;
            void server.kill().then(() => (deadS = elapsedS + (performance.now() - at) / 1000));
          }, Math.max(0, 1 - elapsedS) * 1000);
        },
      },
    );
    // The kill is due at 1 s; a busy machine may fire it late, but it lands inside the 3 s run.
    assert.ok(killS !== null && deadS !== null && killS >= 0.9 && deadS < 2.5, `killed at ${killS}, dead at ${deadS}`);
    assert.equal(r.status, 'completed');
    assert.equal(r.totals.attempted, 600);
    const refused = r.errorsByPhase['connect:ECONNREFUSED'] ?? 0;
    // Orderings from the request log (actual starts), not counts per second: before the kill the
    // target answered everything; a connect refused started after it; nothing completed that
    // started after the process was gone.
    const log = r.requestLogs!.flatMap((f) =>
      readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { start: number; code: string | null }),
    );
    assert.equal(log.length, 600);
    const ok = log.filter((e) => e.code === null);
    assert.equal(ok.length, r.totals.completed);
    assert.ok(ok.every((e) => e.start <= deadS!), `a request started after the target died completed`);
    assert.ok(ok.length >= 100, `${ok.length} completed before the kill`);
    assert.ok(log.filter((e) => e.code === 'ECONNREFUSED').every((e) => e.start >= killS! - 0.02), 'ECONNREFUSED before the kill');
    assert.ok(log.filter((e) => e.start > deadS! + 0.05).every((e) => e.code === 'ECONNREFUSED'), 'after the death, not refused');
    assert.ok(refused >= 0.9 * r.totals.failed && refused > 0, JSON.stringify(r.errorsByPhase));
    for (const e of r.timeline) {
      if (e.t + 1 <= killS! - 0.05) assert.equal(e.errors.ECONNREFUSED ?? 0, 0, `second ${e.t}`);
      if (e.t >= Math.ceil(deadS! + 0.05)) assert.equal(e.completed, 0, `second ${e.t}`);
    }
    const v = r.diagnosis![0]!;
    assert.equal(v.verdict, 'target-unreachable');
    assert.equal(v.severity, 'warning');
    // The verdict is timed to the first refusal; a starved generator may start it up to a few
    // hundred ms after the death.
    assert.ok(v.atS !== null && v.atS >= killS! - 0.3 && v.atS <= deadS! + 0.5, `atS ${v.atS}, kill at ${killS}, dead at ${deadS}`);
    assert.ok(v.evidence.some((e) => /went away mid-run/.test(e)), v.evidence.join('\n'));
    t.diagnostic(`killed at ${killS!.toFixed(3)} s; diagnosis atS ${v.atS!.toFixed(3)} s; ${r.totals.completed} completed, ${refused} refused`);
  });

  for (const workers of [1, 2]) {
    it(`a target that accepts and never answers: request timeouts, in flight bounded by maxInFlight (${workers} worker${workers > 1 ? 's' : ''})`, async (t) => {
      const server = await silentServer();
      after(() => server.close());
      const rss0 = process.memoryUsage().rss;
      let rssPeak = rss0;
      const probe = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 50);
      const { record: r, dir } = await run(
        {
          workers,
          target: server.url.replace('tcp:', 'http:'),
          timeouts: { request: '1s' },
          load: [{ model: 'arrival-rate', rate: 1000, duration: 3, maxInFlight: 41 }],
        },
        { logRequests: true },
      ).finally(() => clearInterval(probe));
      assert.equal(r.totals.attempted + r.totals.dropped, 3000);
      assert.equal(r.totals.completed, 0);
      assert.deepEqual(r.errorsByPhase, { 'response:REQUEST_TIMEOUT': r.totals.attempted });
      // 41 slots, each freed by a 1 s timeout: about 41 requests a second over 3 s. The cap makes
      // 41 × 4 a hard ceiling; late timeouts on a busy machine can only lower the count.
      assert.ok(r.totals.attempted >= 41 * 2 && r.totals.attempted <= 41 * 4, `attempted ${r.totals.attempted}`);
      const peak = peakInFlight(dir, r.requestLogs!);
      assert.ok(peak <= 41 && peak >= 30, `peak in flight ${peak}`);
      assert.ok(server.stats().accepted <= r.totals.attempted);
      assert.ok(rssPeak - rss0 < 150 * 1024 * 1024, `RSS grew ${Math.round((rssPeak - rss0) / 1048576)} MB`);
      assert.equal(r.diagnosis![0]!.verdict, 'other-failures');
      assert.match(r.diagnosis![0]!.evidence[0]!, /REQUEST_TIMEOUT/);
      t.diagnostic(`attempted ${r.totals.attempted}, dropped ${r.totals.dropped}, peak in flight ${peak} (cap 41), RSS +${Math.round((rssPeak - rss0) / 1048576)} MB`);
    });
  }

  for (const reuse of [false, true]) {
    it(`a target that resets every connection: ECONNRESET (reuse ${reuse})`, async () => {
      const server = await resettingServer();
      after(() => server.close());
      const { record: r } = await run({
        target: server.url.replace('tcp:', 'http:'),
        connection: { reuse, poolSize: 10 },
        load: [{ model: 'arrival-rate', rate: 200, duration: 1 }],
      });
      assert.equal(r.totals.attempted, 200);
      assert.equal(r.totals.failed, 200);
      assert.deepEqual(Object.keys(r.errors), ['ECONNRESET'], JSON.stringify(r.errorsByPhase));
      const v = r.diagnosis![0]!;
      assert.equal(v.verdict, 'other-failures');
      assert.match(v.evidence[0]!, /ECONNRESET 200/);
      assert.ok(!r.diagnosis!.some((d) => d.verdict === 'target-unreachable' || d.verdict === 'fd-exhaustion'));
    });
  }

  for (const reuse of [false, true]) {
    it(`slow-loris headers (a byte every 200 ms): REQUEST_TIMEOUT in the response phase (reuse ${reuse})`, async () => {
      const server = await slowLorisServer({ part: 'headers', everyMs: 200 });
      after(() => server.close());
      const { record: r } = await run({
        target: server.url,
        connection: { reuse, poolSize: 4 },
        timeouts: { request: '1s' },
        load: [{ model: 'users', users: 4, iterations: 1 }],
      });
      assert.deepEqual(r.errorsByPhase, { 'response:REQUEST_TIMEOUT': 4 });
      assert.equal(r.diagnosis![0]!.verdict, 'other-failures');
    });
  }

  for (const reuse of [false, true]) {
    it(`slow-loris body longer than timeouts.request: REQUEST_TIMEOUT, the whole exchange bounded (reuse ${reuse})`, async () => {
      const server = await slowLorisServer({ part: 'body', bodyBytes: 10, everyMs: 200 });
      after(() => server.close());
      const { record: r } = await run({
        target: server.url,
        connection: { reuse, poolSize: 4 },
        timeouts: { request: '1s' },
        load: [{ model: 'users', users: 4, iterations: 1 }],
      });
      assert.deepEqual(r.errorsByPhase, { 'response:REQUEST_TIMEOUT': 4 });
      // The head came at once: the first byte is not what timed out. (undici reconnects a pool slot
      // whose request was aborted, with no request on it, so keep-alive may count more.)
      if (reuse) assert.ok(r.totals.connectionsOpened >= 4, `opened ${r.totals.connectionsOpened}`);
      else assert.equal(r.totals.connectionsOpened, 4);
      // Below the 2 s the whole dribbled body takes: the exchange was cut at the timeout.
      assert.ok(r.latencyMs.max < 2000, `latency ${JSON.stringify(r.latencyMs)}`);
    });
  }

  for (const reuse of [false, true]) {
    it(`slow-loris body within timeouts.request: completed, with the dribble in the latency (reuse ${reuse})`, async () => {
      const server = await slowLorisServer({ part: 'body', bodyBytes: 5, everyMs: 200 });
      after(() => server.close());
      const { record: r } = await run({
        target: server.url,
        connection: { reuse, poolSize: 4 },
        timeouts: { request: '3s' },
        load: [{ model: 'users', users: 4, iterations: 1 }],
      });
      assert.equal(r.totals.completed, 4, JSON.stringify(r.errors));
      // 5 bytes, 200 ms apart: the last comes ~800 ms after the head.
      assert.ok(r.latencyMs.p50 >= 750 && r.latencyMs.max < 2500, `latency ${JSON.stringify(r.latencyMs)}`);
      // The head is sent at once; 300 ms is far below the 800 ms dribble even on a busy machine.
      assert.ok(r.ttfbMs.p50 < 300, `ttfb ${JSON.stringify(r.ttfbMs)}`);
      assert.equal(r.diagnosis![0]!.verdict, 'healthy');
    });
  }
});
