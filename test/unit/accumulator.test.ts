import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { countCompletion, countFailure, newBucket, toWire, type Bucket, type WireBucket } from '../../src/record/bucket.js';
import { RunAccumulator } from '../../src/record/accumulator.js';
import { decodeHistogram, newHistogram, recordMs, summarize } from '../../src/record/histogram.js';
import type { LatencySummary } from '../../src/record/types.js';

/** Ships a bucket the way a worker does: serialized, then structured-cloned by postMessage. */
function ship(b: Bucket): WireBucket {
  return structuredClone(toWire(b));
}

function near(actual: number, expected: number, relTol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= Math.abs(expected) * relTol, `${what}: ${actual} not within ${relTol * 100}% of ${expected}`);
}

/** A deterministic pseudo-random sequence (LCG) in [0, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('bucket helpers', () => {
  it('counts failures by code and by phase:code', () => {
    const b = newBucket(3);
    countFailure(b, 'EADDRNOTAVAIL', 'connect');
    countFailure(b, 'EADDRNOTAVAIL', 'connect');
    countFailure(b, 'ECONNRESET', 'response');
    countFailure(b, 'ECONNRESET', 'send');
    assert.equal(b.t, 3);
    assert.equal(b.failed, 4);
    assert.deepEqual(b.errors, { EADDRNOTAVAIL: 2, ECONNRESET: 2 });
    assert.deepEqual(b.errorsByPhase, { 'connect:EADDRNOTAVAIL': 2, 'response:ECONNRESET': 1, 'send:ECONNRESET': 1 });
  });

  it('counts completions into latency, uncorrected latency and ttfb', () => {
    const b = newBucket(0);
    countCompletion(b, 12, 10, 3);
    countCompletion(b, 8, 7, 2);
    assert.equal(b.completed, 2);
    assert.equal(b.latency.totalCount, 2);
    assert.equal(b.latencyUncorrected.totalCount, 2);
    assert.equal(b.ttfb.totalCount, 2);
    assert.equal(b.connect.totalCount, 0);
    near(b.latency.maxValue / 1000, 12, 0.001, 'latency max');
    near(b.ttfb.maxValue / 1000, 3, 0.001, 'ttfb max');
  });

  it('toWire sends empty histograms as null and others as strings', () => {
    const b = newBucket(1);
    countCompletion(b, 5, 5, 1);
    const w = toWire(b);
    assert.equal(typeof w.latency, 'string');
    assert.equal(typeof w.latencyUncorrected, 'string');
    assert.equal(typeof w.ttfb, 'string');
    assert.equal(w.connect, null);
    assert.equal(decodeHistogram(w.latency as string).totalCount, 1);
    const empty = toWire(newBucket(2));
    assert.deepEqual([empty.latency, empty.latencyUncorrected, empty.connect, empty.ttfb], [null, null, null, null]);
  });
});

describe('RunAccumulator.results', () => {
  function twoWorkers(): RunAccumulator {
    const acc = new RunAccumulator();

    // Worker A.
    const a0 = newBucket(0);
    a0.attempted = 5;
    a0.connectionsOpened = 5;
    countCompletion(a0, 1, 1, 0.5);
    countCompletion(a0, 2, 2, 0.5);
    countCompletion(a0, 3, 3, 0.5);
    countFailure(a0, 'EADDRNOTAVAIL', 'connect');
    countFailure(a0, 'EADDRNOTAVAIL', 'connect');
    for (let i = 0; i < 3; i++) recordMs(a0.connect, 0.25);
    const a2 = newBucket(2);
    a2.attempted = 1;
    a2.connectionsOpened = 1;
    countCompletion(a2, 10, 9, 4);
    recordMs(a2.connect, 2);
    acc.add([ship(a0), ship(a2)]);

    // Worker B: the same second 0 and a later second 3.
    const b0 = newBucket(0);
    b0.attempted = 4;
    b0.dropped = 2;
    b0.connectionsOpened = 2;
    countCompletion(b0, 4, 4, 1);
    countFailure(b0, 'ECONNRESET', 'response');
    recordMs(b0.connect, 0.5);
    const b3 = newBucket(3);
    b3.attempted = 1;
    countFailure(b3, 'EADDRNOTAVAIL', 'connect');
    acc.add([ship(b0)]);
    acc.add([ship(b3)]);
    return acc;
  }

  it('totals add up across workers and seconds', () => {
    const r = twoWorkers().results(4.5);
    assert.deepEqual(r.totals, { attempted: 11, completed: 5, failed: 4, dropped: 2, connectionsOpened: 8 });
    assert.equal(r.latencyMs.count, 5);
    assert.equal(r.ttfbMs.count, 5);
    assert.equal(r.connectMs.count, 5);
  });

  it('errors and errorsByPhase are merged', () => {
    const r = twoWorkers().results(4.5);
    assert.deepEqual(r.errors, { EADDRNOTAVAIL: 3, ECONNRESET: 1 });
    assert.deepEqual(r.errorsByPhase, { 'connect:EADDRNOTAVAIL': 3, 'response:ECONNRESET': 1 });
  });

  it('the timeline is dense: ceil(durationS) seconds, empty ones as zeros', () => {
    const r = twoWorkers().results(4.5);
    assert.equal(r.timeline.length, 5);
    assert.deepEqual(
      r.timeline.map((e) => e.t),
      [0, 1, 2, 3, 4],
    );
    const zero = {
      attempted: 0,
      completed: 0,
      failed: 0,
      dropped: 0,
      errors: {},
      latencyMs: { p50: 0, p90: 0, p99: 0, max: 0 },
      connectMs: { p50: 0, p99: 0 },
      connectionsOpened: 0,
      sockets: null,
      counters: null,
    };
    assert.deepEqual(r.timeline[1], { t: 1, ...zero });
    assert.deepEqual(r.timeline[4], { t: 4, ...zero });

    const s0 = r.timeline[0];
    assert.equal(s0.attempted, 9);
    assert.equal(s0.completed, 4);
    assert.equal(s0.failed, 3);
    assert.equal(s0.dropped, 2);
    assert.equal(s0.connectionsOpened, 7);
    assert.deepEqual(s0.errors, { EADDRNOTAVAIL: 2, ECONNRESET: 1 });
    near(s0.latencyMs.p50, 2, 0.001, 'second 0 p50');
    near(s0.latencyMs.p90, 4, 0.001, 'second 0 p90');
    near(s0.latencyMs.p99, 4, 0.001, 'second 0 p99');
    near(s0.latencyMs.max, 4, 0.001, 'second 0 max');
    assert.deepEqual(s0.connectMs, { p50: 0.25, p99: 0.5 });

    const s2 = r.timeline[2];
    assert.equal(s2.completed, 1);
    near(s2.latencyMs.p50, 10, 0.001, 'second 2 p50');
    near(s2.connectMs.p99, 2, 0.001, 'second 2 connect p99');

    assert.deepEqual(r.timeline[3].errors, { EADDRNOTAVAIL: 1 });
    assert.equal(r.timeline[3].failed, 1);
  });

  it('timeline length follows durationS when no data reaches the end', () => {
    const acc = new RunAccumulator();
    const b = newBucket(0);
    b.attempted = 1;
    acc.add([ship(b)]);
    assert.equal(acc.results(10).timeline.length, 10);
    assert.equal(acc.results(9.01).timeline.length, 10);
    assert.equal(acc.results(1).timeline.length, 1);
    assert.equal(new RunAccumulator().results(3).timeline.length, 3);
  });

  it('late data past durationS still appears in the timeline and totals', () => {
    const acc = new RunAccumulator();
    const late = newBucket(6);
    countCompletion(late, 1, 1, 1);
    acc.add([ship(late)]);
    const r = acc.results(3);
    assert.equal(r.timeline.length, 7);
    assert.equal(r.timeline[6].completed, 1);
    assert.equal(r.totals.completed, 1);
  });

  it("per-second p99 comes from the merged histograms of all workers", () => {
    const acc = new RunAccumulator();
    const a = newBucket(0);
    for (let i = 0; i < 99; i++) countCompletion(a, 1, 1, 1);
    const b = newBucket(0);
    countCompletion(b, 100, 100, 1);
    acc.add([ship(a)]);
    acc.add([ship(b)]);
    const s0 = acc.results(1).timeline[0];
    assert.equal(s0.completed, 100);
    near(s0.latencyMs.p99, 1, 0.001, 'p99');
    near(s0.latencyMs.p50, 1, 0.001, 'p50');
    near(s0.latencyMs.max, 100, 0.001, 'max');

    const live = acc.live(1.5, 0);
    assert.equal(live.rate, 100);
    near(live.p99Ms, 1, 0.001, 'live p99');
  });

  it('a late delta for a second long past merges with what that second already had', () => {
    const acc = new RunAccumulator();
    const early = newBucket(0);
    for (let i = 0; i < 98; i++) countCompletion(early, 1, 1, 1);
    acc.add([ship(early)]);
    // Twenty newer seconds push second 0 far out of the recent window before its late delta comes.
    for (let t = 1; t <= 20; t++) {
      const b = newBucket(t);
      countCompletion(b, 2, 2, 1);
      acc.add([ship(b)]);
    }
    const before = acc.results(21).timeline[0];
    assert.equal(before.completed, 98);
    near(before.latencyMs.max, 1, 0.001, 'max before the late delta');

    const late = newBucket(0);
    countCompletion(late, 500, 500, 1);
    countCompletion(late, 400, 400, 1);
    countFailure(late, 'ECONNRESET', 'response');
    acc.add([ship(late)]);
    const r = acc.results(21);
    const s0 = r.timeline[0];
    assert.equal(s0.completed, 100);
    assert.equal(s0.failed, 1);
    assert.deepEqual(s0.errors, { ECONNRESET: 1 });
    near(s0.latencyMs.p50, 1, 0.001, 'p50');
    near(s0.latencyMs.p99, 400, 0.001, 'p99 of early and late values together');
    near(s0.latencyMs.max, 500, 0.001, 'max');
    assert.equal(r.totals.completed, 120);
    near(r.timeline[20].latencyMs.p50, 2, 0.001, "a recent second still reads its own figures");
  });

  it('whole-run percentiles equal those of one histogram holding every value', () => {
    const rnd = lcg(42);
    const refLatency = newHistogram();
    const refUncorrected = newHistogram();
    const refTtfb = newHistogram();
    const refConnect = newHistogram();
    const acc = new RunAccumulator();
    for (let worker = 0; worker < 3; worker++) {
      const deltas: WireBucket[] = [];
      for (let t = 0; t < 4; t++) {
        const b = newBucket(t);
        const n = 50 + Math.floor(rnd() * 200);
        for (let i = 0; i < n; i++) {
          // A long tail: mostly sub-10 ms, some up to seconds.
          const lat = rnd() < 0.95 ? 0.05 + rnd() * 10 : 10 + rnd() * 3000;
          const unc = lat * (0.5 + rnd() * 0.5);
          const ttfb = unc * rnd();
          countCompletion(b, lat, unc, ttfb);
          recordMs(refLatency, lat);
          recordMs(refUncorrected, unc);
          recordMs(refTtfb, ttfb);
          const con = rnd() * 5;
          recordMs(b.connect, con);
          recordMs(refConnect, con);
        }
        deltas.push(ship(b));
      }
      acc.add(deltas);
    }
    const r = acc.results(4);
    // Percentiles, mean and count are exact; max may move to the top of its HDR bucket once a
    // histogram has been encoded and merged, so it is compared within HDR precision (3 digits).
    const sameSummary = (actual: LatencySummary, expected: LatencySummary, what: string) => {
      const { max: aMax, ...aRest } = actual;
      const { max: eMax, ...eRest } = expected;
      assert.deepEqual(aRest, eRest, what);
      near(aMax, eMax, 0.001, `${what} max`);
      assert.ok(aMax >= eMax, `${what} max ${aMax} below the true max ${eMax}`);
    };
    sameSummary(r.latencyMs, summarize(refLatency), 'latency');
    sameSummary(r.latencyUncorrectedMs, summarize(refUncorrected), 'latencyUncorrected');
    sameSummary(r.ttfbMs, summarize(refTtfb), 'ttfb');
    sameSummary(r.connectMs, summarize(refConnect), 'connect');
    assert.equal(r.totals.completed, refLatency.totalCount);

    const decoded = {
      latency: decodeHistogram(r.histograms.latency),
      latencyUncorrected: decodeHistogram(r.histograms.latencyUncorrected),
      connect: decodeHistogram(r.histograms.connect),
      ttfb: decodeHistogram(r.histograms.ttfb),
    };
    for (const [name, h] of Object.entries(decoded)) assert.equal(h.totalCount, refLatency.totalCount, `histograms.${name}`);
    assert.deepEqual(summarize(decoded.latency), r.latencyMs);
    assert.deepEqual(summarize(decoded.connect), r.connectMs);
  });

  it('an empty run has zero summaries and decodable empty histograms', () => {
    const r = new RunAccumulator().results(2);
    assert.deepEqual(r.totals, { attempted: 0, completed: 0, failed: 0, dropped: 0, connectionsOpened: 0 });
    assert.deepEqual(r.latencyMs, { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0, count: 0 });
    assert.deepEqual(r.errors, {});
    assert.deepEqual(r.errorsByPhase, {});
    assert.equal(decodeHistogram(r.histograms.latency).totalCount, 0);
    assert.deepEqual(r.errorSamples, []);
  });

  it('results() can be called repeatedly without double counting', () => {
    const acc = twoWorkers();
    const first = acc.results(4.5);
    const second = acc.results(4.5);
    assert.deepEqual(second.totals, first.totals);
    assert.deepEqual(second.latencyMs, first.latencyMs);
    assert.deepEqual(second.timeline, first.timeline);
  });

  it('read between deltas (as checkpoints do), it gives what one read at the end gives', () => {
    const rnd = lcg(7);
    const deltas: WireBucket[][] = [];
    for (let round = 0; round < 24; round++) {
      // The current second, the one before, and now and then a late one for an old second.
      const seconds = [Math.floor(round / 2), Math.max(0, Math.floor(round / 2) - 1), ...(round % 5 === 4 ? [Math.floor(rnd() * 3)] : [])];
      deltas.push(
        seconds.map((t) => {
          const b = newBucket(t);
          const n = 1 + Math.floor(rnd() * 40);
          b.attempted = n;
          for (let i = 0; i < n; i++) {
            if (rnd() < 0.1) countFailure(b, 'ECONNRESET', 'response');
            else countCompletion(b, rnd() * (rnd() < 0.05 ? 900 : 5), rnd() * 4, rnd());
            recordMs(b.connect, rnd() * 2);
          }
          return ship(b);
        }),
      );
    }
    const readOften = new RunAccumulator();
    const readOnce = new RunAccumulator();
    for (const [i, d] of deltas.entries()) {
      readOften.add(d);
      readOnce.add(d);
      readOften.results(i / 2);
    }
    const a = readOften.results(12);
    const b = readOnce.results(12);
    assert.deepEqual({ ...a, histograms: null }, { ...b, histograms: null });
    for (const name of ['latency', 'latencyUncorrected', 'connect', 'ttfb'] as const) {
      assert.deepEqual(summarize(decodeHistogram(a.histograms[name])), summarize(decodeHistogram(b.histograms[name])), name);
    }
    const attempted = new Map<number, number>();
    for (const w of deltas.flat()) attempted.set(w.t, (attempted.get(w.t) ?? 0) + w.attempted);
    assert.deepEqual(
      a.timeline.map((e) => e.attempted),
      a.timeline.map((e) => attempted.get(e.t) ?? 0),
    );
  });
});

describe('RunAccumulator.live', () => {
  it("reports running totals and the last complete second's rate", () => {
    const acc = new RunAccumulator();
    const b0 = newBucket(0);
    b0.attempted = 3;
    for (let i = 0; i < 3; i++) countCompletion(b0, 2, 2, 1);
    const b1 = newBucket(1);
    b1.attempted = 8;
    for (let i = 0; i < 7; i++) countCompletion(b1, 5, 5, 1);
    countFailure(b1, 'EADDRNOTAVAIL', 'connect');
    acc.add([ship(b0), ship(b1)]);
    // Another worker's delta for second 1.
    const b1b = newBucket(1);
    b1b.attempted = 2;
    countCompletion(b1b, 5, 5, 1);
    countCompletion(b1b, 5, 5, 1);
    acc.add([ship(b1b)]);

    const at1 = acc.live(1.2, 0);
    assert.equal(at1.rate, 3);
    near(at1.p99Ms, 2, 0.001, 'p99 of second 0');

    const at2 = acc.live(2.9, 0);
    assert.equal(at2.rate, 9);
    near(at2.p99Ms, 5, 0.001, 'p99 of second 1');
    assert.deepEqual(at2.totals, { attempted: 13, completed: 12, failed: 1, dropped: 0, connectionsOpened: 0 });
    assert.deepEqual(at2.errors, { EADDRNOTAVAIL: 1 });

    const at5 = acc.live(5, 0);
    assert.equal(at5.rate, 0);
    assert.equal(at5.p99Ms, 0);

    assert.equal(acc.live(0.5, 0).rate, 0);
    // With the default shipping lag, second 0 is reported only once its last delta can have arrived.
    assert.equal(acc.live(1.2).rate, 0);
    assert.equal(acc.live(1.6).rate, 3);
  });

  it('HTTPS runs: the last second\'s handshakes and their p99; plain runs have none', () => {
    const acc = new RunAccumulator({ tls: true });
    const b0 = newBucket(0);
    for (const ms of [2, 3, 40]) {
      b0.tlsHandshakes++;
      recordMs(b0.tls, ms);
    }
    b0.tlsResumed = 1;
    acc.add([ship(b0)]);
    const l = acc.live(1.2, 0);
    assert.equal(l.tls?.rate, 3);
    near(l.tls!.p99Ms, 40, 0.1, 'handshake p99 of second 0');
    assert.deepEqual([l.totals.tlsHandshakes, l.totals.tlsResumed], [3, 1]);
    assert.deepEqual(acc.live(5, 0).tls, { rate: 0, p99Ms: 0 });
    assert.equal(new RunAccumulator().live(1, 0).tls, undefined);
  });

  it('returns copies, not live references', () => {
    const acc = new RunAccumulator();
    const b = newBucket(0);
    b.attempted = 1;
    countFailure(b, 'ECONNREFUSED', 'connect');
    acc.add([ship(b)]);
    const l = acc.live(1);
    l.totals.attempted = 999;
    l.errors.ECONNREFUSED = 999;
    assert.equal(acc.live(1).totals.attempted, 1);
    assert.equal(acc.live(1).errors.ECONNREFUSED, 1);
  });
});

describe('RunAccumulator.addSample', () => {
  it('keeps the first sample of each code, sorted by time in results', () => {
    const acc = new RunAccumulator();
    acc.addSample({ code: 'EADDRNOTAVAIL', phase: 'connect', message: 'first', t: 5, localPort: null });
    acc.addSample({ code: 'ECONNRESET', phase: 'response', message: 'reset', t: 1, localPort: 40000 });
    acc.addSample({ code: 'EADDRNOTAVAIL', phase: 'connect', message: 'second', t: 0, localPort: null });
    acc.addSample({ code: 'ECONNRESET', phase: 'send', message: 'again', t: 2, localPort: 40001 });
    assert.deepEqual(acc.results(6).errorSamples, [
      { code: 'ECONNRESET', phase: 'response', message: 'reset', t: 1, localPort: 40000, syscall: null },
      { code: 'EADDRNOTAVAIL', phase: 'connect', message: 'first', t: 5, localPort: null, syscall: null },
    ]);
  });

  it('keeps the first sample of each code and syscall: bind EADDRNOTAVAIL and connect EADDRNOTAVAIL both', () => {
    const acc = new RunAccumulator();
    acc.addSample({ code: 'EADDRNOTAVAIL', phase: 'connect', message: 'connect EADDRNOTAVAIL', t: 3, localPort: null, syscall: 'connect' });
    acc.addSample({ code: 'EADDRNOTAVAIL', phase: 'connect', message: 'bind EADDRNOTAVAIL 198.18.9.9', t: 1, localPort: null, syscall: 'bind' });
    acc.addSample({ code: 'EADDRNOTAVAIL', phase: 'connect', message: 'bind again', t: 2, localPort: null, syscall: 'bind' });
    assert.deepEqual(
      acc.results(4).errorSamples.map((s) => [s.syscall, s.message]),
      [
        ['bind', 'bind EADDRNOTAVAIL 198.18.9.9'],
        ['connect', 'connect EADDRNOTAVAIL'],
      ],
    );
  });

  it('is capped', () => {
    const acc = new RunAccumulator();
    for (let i = 0; i < 200; i++) acc.addSample({ code: `E${i}`, phase: 'connect', message: 'm', t: i, localPort: null });
    const samples = acc.results(1).errorSamples;
    assert.ok(samples.length > 0 && samples.length < 200, `${samples.length} samples kept`);
    assert.equal(new Set(samples.map((s) => s.code)).size, samples.length);
    assert.equal(samples[0].code, 'E0');
  });
});

describe('RunAccumulator: errorsBySyscall and sourceStrategy', () => {
  const failing = (t: number, code: string): WireBucket => {
    const b = newBucket(t);
    countFailure(b, code, 'connect');
    return structuredClone(toWire(b));
  };

  it('sums the workers’ syscall:CODE counts over every delta and second', () => {
    const acc = new RunAccumulator();
    acc.add([{ ...failing(0, 'EADDRNOTAVAIL'), errorsBySyscall: { 'bind:EADDRNOTAVAIL': 1 } }]);
    acc.add([
      { ...failing(0, 'EADDRNOTAVAIL'), errorsBySyscall: { 'bind:EADDRNOTAVAIL': 2, 'connect:EADDRNOTAVAIL': 1 } },
      { ...failing(1, 'CONNECT_TIMEOUT') },
    ]);
    const r = acc.results(2);
    assert.deepEqual(r.errorsBySyscall, { 'bind:EADDRNOTAVAIL': 3, 'connect:EADDRNOTAVAIL': 1 });
    // The per-code counts come from the buckets, unchanged.
    assert.deepEqual(r.errors, { EADDRNOTAVAIL: 2, CONNECT_TIMEOUT: 1 });
  });

  it('an empty map without failures, and no sourceStrategy until a worker reports one', () => {
    const acc = new RunAccumulator();
    acc.add([structuredClone(toWire(newBucket(0)))]);
    const r = acc.results(1);
    assert.deepEqual(r.errorsBySyscall, {});
    assert.equal('sourceStrategy' in r, false);
  });

  it('records the strategy the workers report; where they disagree, the one with the smaller budget', () => {
    const one = new RunAccumulator();
    one.add([{ ...structuredClone(toWire(newBucket(0))), sourceStrategy: 'bind-no-port' }]);
    assert.equal(one.results(1).sourceStrategy, 'bind-no-port');
    const mixed = new RunAccumulator();
    mixed.add([{ ...structuredClone(toWire(newBucket(0))), sourceStrategy: 'bind-no-port' }]);
    mixed.add([{ ...structuredClone(toWire(newBucket(0))), sourceStrategy: 'bind' }]);
    mixed.add([{ ...structuredClone(toWire(newBucket(1))), sourceStrategy: 'bind-no-port' }]);
    assert.equal(mixed.results(2).sourceStrategy, 'bind');
    const kernel = new RunAccumulator();
    kernel.add([{ ...structuredClone(toWire(newBucket(0))), sourceStrategy: 'kernel' }]);
    assert.equal(kernel.results(1).sourceStrategy, 'kernel');
  });
});
