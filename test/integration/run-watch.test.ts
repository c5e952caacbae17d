/**
 * `run` with watched agents (`watch:`): an agent double on 127.0.0.1 (test/helpers/agent-double.ts)
 * on a clock several seconds off, and failing in each way an agent can (dying, stalling, sending
 * lines that are not agent lines, down at the start of an optional watch). Every run is against the
 * built-in target on 127.0.0.1, a few seconds at 40 requests a second.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { epochMs } from '../../src/load/clock.js';
import type { HostRecord, RunRecord } from '../../src/record/types.js';
import { runScenario, type RunOptions } from '../../src/run.js';
import { makeCertificate } from '../../src/target/certificate.js';
import { parseScenario } from '../../src/scenario/load.js';
import { RECONNECT_DELAYS_MS } from '../../src/watch/agent-watch.js';
import { deadAgentUrl, startAgentDouble, type AgentDouble } from '../helpers/agent-double.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-watch-'));
const doubles: AgentDouble[] = [];
after(async () => {
  await Promise.all(doubles.map((d) => d.close()));
});

async function double(o: Parameters<typeof startAgentDouble>[0] = {}): Promise<AgentDouble> {
  const d = await startAgentDouble(o);
  doubles.push(d);
  return d;
}

interface Watched {
  record: RunRecord;
  /** The load's start (local epoch ms), as the run's progress callback told it. */
  startMs: number;
  checkpoints: RunRecord[];
}

/**
 * Runs `durationS` at 40/s against the built-in target, watching `watch`; `at(elapsedS)` is
 * called with every progress tick (twice a second) to inject a fault.
 */
async function run(watch: Record<string, unknown>, durationS: number, at?: (elapsedS: number) => void, extra: Partial<RunOptions> = {}): Promise<Watched> {
  const scenario = parseScenario(
    {
      name: 'watch',
      workers: 1,
      load: [{ model: 'arrival-rate', rate: 40, duration: durationS }],
      limits: { maxDuration: durationS + 5, maxRequests: 40 * (durationS + 1) },
      watch,
    },
    'watch test',
  );
  let startMs = NaN;
  const checkpoints: RunRecord[] = [];
  const { record } = await runScenario({
    scenario,
    resultsDir: tmp,
    checkpointIntervalS: 1,
    onCheckpoint: (c) => {
      if (c.error === null) checkpoints.push(JSON.parse(readFileSync(c.file, 'utf8')) as RunRecord);
    },
    onProgress: (elapsedS) => {
      startMs = epochMs() - elapsedS * 1000;
      at?.(elapsedS);
    },
    ...extra,
  });
  assert.ok(Number.isFinite(startMs), 'no progress tick: the load did not run');
  return { record, startMs, checkpoints };
}

/** The local time (epoch ms) a second's figures were taken at, as the double encoded it. */
const takenAt = (d: AgentDouble, h: HostRecord, t: number): number | null => {
  const e = h.timeline[t]!.sockets?.established;
  return e === null || e === undefined ? null : d.base + e;
};

describe('run --watch (agent double on 127.0.0.1)', () => {
  it("records the service's sockets at the right run seconds on a clock 7 s ahead, from one connection, and in every checkpoint", async () => {
    const skewMs = 7000;
    const d = await double({ skewMs });
    const { record, startMs, checkpoints } = await run({ service: d.url }, 4);
    assert.equal(record.status, 'completed');
    assert.deepEqual(Object.keys(record.hosts ?? {}), ['client', 'service']);
    const h = record.hosts!.service!;
    assert.equal(h.role, 'service');
    assert.equal(h.source, 'agent');
    assert.equal(h.address, d.url);
    // The offset estimate holds the injected skew within its own uncertainty (half the best round trip).
    assert.equal(h.clock.method, 'round-trip');
    assert.equal(h.clock.probes, 8);
    assert.ok(h.clock.uncertaintyMs !== null && Math.abs(h.clock.offsetMs - skewMs) <= h.clock.uncertaintyMs + 1, `offset ${h.clock.offsetMs} ± ${h.clock.uncertaintyMs}, skew ${skewMs}`);
    // The host's settings come from its hello.
    assert.deepEqual(h.host?.portRange, [40000, 40999]);
    assert.equal(h.ports?.usable, 1000);
    assert.equal(h.ports?.busiestDestination, d.backend);
    assert.equal(h.ports?.peakInUse, 800);
    assert.equal(h.destinations[0]?.dest, d.backend);
    assert.equal(h.timeline.length, record.timeline.length);
    // Every second but the last (which takes the samples up to the stop) has the figures taken in
    // it: a scan every 250 ms, the latest before the second's end. Uncorrected, they would be 7 s off.
    for (let t = 0; t < h.timeline.length - 1; t++) {
      const taken = takenAt(d, h, t);
      const from = startMs + t * 1000;
      assert.ok(taken !== null && taken >= from - 1000 && taken <= from + 1000 + h.clock.uncertaintyMs! + 2, `second ${t}: figures taken at ${taken === null ? 'none' : (taken - startMs) / 1000} s`);
      assert.equal(h.timeline[t]!.sockets!.ephemeralInUse, 800);
      // The double counts 10 TIME_WAIT entries per sample.
      const tw = h.timeline[t]!.counters?.TW;
      assert.ok(tw !== undefined && tw !== null && tw > 0 && tw % 10 === 0, `second ${t}: TW ${tw}`);
    }
    assert.equal(h.coverage.share, 1);
    assert.deepEqual(h.gaps, []);
    assert.ok(h.monitor.baseline !== null, 'the pre-load baseline');
    // Clock probes and the stream on one kept-alive connection.
    assert.equal(d.connections(), 1);
    assert.equal(d.requests('/health'), 8);
    assert.equal(d.requests('/stream'), 1);
    // Checkpoints carry the watched host too.
    assert.ok(checkpoints.length >= 2, `${checkpoints.length} checkpoints`);
    for (const c of checkpoints) assert.deepEqual(Object.keys(c.hosts ?? {}), ['client', 'service']);
    assert.ok(checkpoints.at(-1)!.hosts!.service!.timeline.some((e) => e.sockets !== null));
  });

  it('an agent that dies mid-run: its seconds after are null (not zero), the gap says when and why, the run completes', async () => {
    const d = await double({ skewMs: -3000 });
    let diedAtMs = NaN;
    const { record, startMs } = await run({ service: d.url }, 5, (elapsed) => {
      if (elapsed >= 1.5 && Number.isNaN(diedAtMs)) {
        diedAtMs = epochMs();
        void d.die();
      }
    });
    assert.equal(record.status, 'completed');
    assert.equal(record.totals.completed, 200);
    const h = record.hosts!.service!;
    const diedS = Math.floor((diedAtMs - startMs) / 1000);
    for (const e of h.timeline) {
      if (e.t < diedS) assert.notEqual(e.sockets, null, `second ${e.t} before the death`);
      if (e.t > diedS) {
        assert.equal(e.sockets, null, `second ${e.t} after the death`);
        assert.equal(e.counters, null);
      }
    }
    assert.equal(h.gaps.length, 1, h.gaps.join('; '));
    assert.match(h.gaps[0]!, /^connection lost \(.+\) at t = \d\.\d s; not back by the end \(\d reconnect attempts?, last: cannot connect \(ECONNREFUSED\)\): no figures from t = \d\.\d s to the end \(null, not zero\)$/);
    assert.ok(h.coverage.share < 1);
  });

  it('an agent that stalls mid-run: null from its last line on, though the stall shows only 3 s later', async () => {
    const d = await double();
    let stalledAtMs = NaN;
    const { record, startMs } = await run({ service: d.url }, 6, (elapsed) => {
      if (elapsed >= 1.5 && Number.isNaN(stalledAtMs)) {
        stalledAtMs = epochMs();
        d.stall();
      }
    });
    assert.equal(record.status, 'completed');
    const h = record.hosts!.service!;
    const stalledS = Math.floor((stalledAtMs - startMs) / 1000);
    for (const e of h.timeline) {
      if (e.t < stalledS) assert.notEqual(e.sockets, null, `second ${e.t} before the stall`);
      if (e.t > stalledS) assert.equal(e.sockets, null, `second ${e.t} after the stall`);
    }
    assert.equal(h.gaps.length, 1, h.gaps.join('; '));
    assert.match(h.gaps[0]!, /^stalled \(no line for 3 s\) at t = \d\.\d s; .*no figures from t = \d\.\d s to the end \(null, not zero\)$/);
    // Reconnects are bounded.
    assert.ok(d.requests('/stream') <= 1 + RECONNECT_DELAYS_MS.length, `${d.requests('/stream')} streams`);
  });

  it('an agent that stalls shortly before the end (before the stall could show): still told as stalled, its last seconds null', async () => {
    const d = await double();
    let stalledAtMs = NaN;
    const { record, startMs } = await run({ service: d.url }, 3, (elapsed) => {
      if (elapsed >= 1.5 && Number.isNaN(stalledAtMs)) {
        stalledAtMs = epochMs();
        d.stall();
      }
    });
    const h = record.hosts!.service!;
    const stalledS = Math.floor((stalledAtMs - startMs) / 1000);
    for (const e of h.timeline) if (e.t > stalledS) assert.equal(e.sockets, null, `second ${e.t} after the stall`);
    assert.equal(h.gaps.length, 1, h.gaps.join('; '));
    assert.match(h.gaps[0]!, /^stalled \(no line for \d(\.\d)? s( when the run ended)?\) at t = \d\.\d s; .*to the end \(null, not zero\)$/);
  });

  it('lines that are not agent lines are dropped and counted; the samples around them are kept', async () => {
    const d = await double({ badLines: ['not json', '{"type":"sample","sample":{"at":"soon"}}', '{"type":"gossip"}'] });
    const { record } = await run({ backend: { url: d.url, role: 'backend' } }, 2);
    const h = record.hosts!.backend!;
    assert.equal(h.role, 'backend');
    assert.equal(h.gaps.length, 1, h.gaps.join('; '));
    assert.match(h.gaps[0]!, /^dropped 3 lines that did not parse \(first: agent backend: not JSON \(.+\)\)$/);
    assert.ok(h.timeline.every((e) => e.sockets !== null));
  });

  it('an https:// agent: its certificate is verified (against watchAccess.ca), and one that does not verify stops the run before the load', async () => {
    const pair = await makeCertificate({ names: ['127.0.0.1'] });
    const d = await double({ tls: pair, token: 'secret' });
    const { record } = await run({ service: d.url }, 1, undefined, { watchAccess: { token: 'secret', ca: pair.cert } });
    assert.ok(record.hosts!.service!.timeline.every((e) => e.sockets !== null));
    assert.equal(d.connections(), 1);
    await assert.rejects(run({ service: d.url }, 1, undefined, { watchAccess: { token: 'secret', ca: null } }), (err: Error) => {
      assert.equal(err.name, 'RuntimeFailure');
      assert.match(err.message, new RegExp(`^agent service \\(${d.url.replace(/[.]/g, '\\.')}\\): its certificate is not accepted \\([A-Z_]+\\); trust its CA with --watch-ca$`));
      return true;
    });
  });

  it('an optional agent down at the start: the run goes on, the host is recorded with its gap and no clock', async () => {
    const url = await deadAgentUrl();
    const { record } = await run({ service: { url, optional: true } }, 2);
    assert.equal(record.status, 'completed');
    const h = record.hosts!.service!;
    assert.deepEqual(Object.keys(record.hosts!), ['client', 'service']);
    assert.ok(h.timeline.every((e) => e.sockets === null && e.counters === null));
    assert.equal(h.host, null);
    assert.equal(h.clock.uncertaintyMs, null);
    assert.equal(h.coverage.share, 0);
    assert.match(h.gaps[0]!, /^unreachable at the start \(cannot connect \(ECONNREFUSED\)\); .*: no figures from the start to the end \(null, not zero\)$/);
  });
});
