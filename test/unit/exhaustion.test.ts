import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyzeExhaustion, earlyWarning, exhaustionSignalCounts, isExhaustionSignal, pearson, predictOnset } from '../../src/analysis/exhaustion.js';
import { clientCloseTimeline, entry, sockets, syntheticRecord } from '../helpers/synthetic-record.js';

const near = (actual: number | null, expected: number, tol: number) =>
  assert.ok(actual !== null && Math.abs(actual - expected) <= tol, `expected ≈ ${expected} ± ${tol}, got ${actual}`);

/** DOMAIN.md's default case: 1 000 new connections/s, 28 232 ports, 60 s TIME_WAIT. */
const run1000 = (samples = true) =>
  syntheticRecord({
    timeline: clientCloseTimeline({ rate: () => 1000, seconds: 40, usable: 28_232 }),
    errorSamples: samples ? [{ code: 'EADDRNOTAVAIL', phase: 'connect', message: 'connect EADDRNOTAVAIL', t: 28.2391, localPort: null }] : [],
  });

describe('exhaustion onset', () => {
  it('takes the exact time from errorSamples and the socket picture of that second', () => {
    const ex = analyzeExhaustion(run1000());
    assert.equal(ex.firstAtS, 28.239);
    assert.equal(ex.utilizationAtFirst, 1);
    assert.equal(ex.timeWaitAtFirst, 28_232);
    // second 28: 768 of 1 000 failed, then every request fails
    near(ex.errorRateAfter, (768 + 11 * 1000) / 12_000, 1e-4);
  });

  it('falls back to the first timeline second with an exhaustion error', () => {
    assert.equal(analyzeExhaustion(run1000(false)).firstAtS, 28);
  });

  it('is null with no exhaustion errors; sockets null gives null utilization', () => {
    const quiet = analyzeExhaustion(syntheticRecord());
    assert.equal(quiet.firstAtS, null);
    assert.equal(quiet.errorRateAfter, null);
    const blind = syntheticRecord({
      timeline: [entry(0), entry(1, { failed: 50, completed: 50, errors: { EADDRNOTAVAIL: 50 }, sockets: null })],
    });
    const ex = analyzeExhaustion(blind);
    assert.equal(ex.firstAtS, 1);
    assert.equal(ex.utilizationAtFirst, null);
    assert.equal(ex.timeWaitAtFirst, null);
  });

  it('counts EADDRINUSE / ENOBUFS / EAGAIN only on connect, and only where the platform reports them for ports', () => {
    assert.equal(isExhaustionSignal('EADDRNOTAVAIL', 'response'), true);
    assert.equal(isExhaustionSignal('EADDRINUSE', 'connect'), true);
    assert.equal(isExhaustionSignal('EADDRINUSE', 'send'), false);
    assert.equal(isExhaustionSignal('ECONNRESET', 'connect'), false);
    assert.equal(isExhaustionSignal('ENOBUFS', 'connect', 'linux'), false);
    assert.equal(isExhaustionSignal('EAGAIN', 'connect', 'linux'), false);
    assert.equal(isExhaustionSignal('EADDRINUSE', 'connect', 'linux'), true);
    assert.equal(isExhaustionSignal('ENOBUFS', 'connect', 'win32'), true);
    assert.equal(isExhaustionSignal('EAGAIN', 'connect', 'win32'), false);
    assert.equal(isExhaustionSignal('EAGAIN', 'connect', 'darwin'), true);
    const timeline = [entry(0), entry(1), entry(2, { completed: 90, failed: 10, errors: { EADDRINUSE: 10 } }), entry(3, { completed: 90, failed: 10, errors: { ENOBUFS: 10 } })];
    assert.equal(analyzeExhaustion(syntheticRecord({ timeline, errorsByPhase: { 'send:EADDRINUSE': 10, 'response:ENOBUFS': 10 } })).firstAtS, null);
    const onConnect = (platform: string) =>
      syntheticRecord({
        timeline,
        host: { platform },
        errorsByPhase: { 'send:EADDRINUSE': 10, 'connect:ENOBUFS': 10 },
        errorSamples: [{ code: 'ENOBUFS', phase: 'connect', message: '', t: 3.5, localPort: null }],
      });
    assert.equal(analyzeExhaustion(onConnect('win32')).firstAtS, 3.5);
    assert.equal(analyzeExhaustion(onConnect('linux')).firstAtS, null, 'ENOBUFS on Linux is memory, not ports');
  });

  it('leaves out EADDRNOTAVAIL from bind() of a source address', () => {
    const timeline = [entry(0, { completed: 0, failed: 100, errors: { EADDRNOTAVAIL: 100 } }), entry(1, { completed: 0, failed: 100, errors: { EADDRNOTAVAIL: 100 } })];
    const r = syntheticRecord({ timeline, connection: { localAddresses: ['10.9.9.9'] }, errorSamples: [{ code: 'EADDRNOTAVAIL', phase: 'connect', message: 'bind EADDRNOTAVAIL 10.9.9.9', t: 0.001, localPort: null, syscall: 'bind' }] });
    r.errorsBySyscall = { 'bind:EADDRNOTAVAIL': 150, 'connect:EADDRNOTAVAIL': 50 };
    assert.deepEqual(exhaustionSignalCounts(r), { EADDRNOTAVAIL: 50 });
    r.errorsBySyscall = { 'bind:EADDRNOTAVAIL': 200 };
    assert.deepEqual(exhaustionSignalCounts(r), {});
    assert.equal(analyzeExhaustion(r).firstAtS, null);
  });
});

describe('capacity model against the run', () => {
  it('1 000/s with 28 232 ports and a 60 s hold: predicted 28 232 / 1 000 = 28.2 s, sustainable 28 232 / 60 = 470.5/s', () => {
    const ex = analyzeExhaustion(run1000());
    near(ex.predictedAtS, 28.232, 0.01);
    near(ex.sustainableRate, 470.5, 0.1);
    assert.equal(ex.peakConnectionRate, 1000);
    assert.equal(ex.capacity?.holdS, 60);
    assert.equal(ex.capacity?.timeWaitSide.source, 'monitor');
  });

  it('250/s with 500 ports: 2.0 s (the namespace measurement)', () => {
    const r = syntheticRecord({ host: { usablePorts: 500 }, timeline: clientCloseTimeline({ rate: () => 250, seconds: 5, usable: 500 }) });
    near(analyzeExhaustion(r).predictedAtS, 2.0, 1e-9);
  });

  it('a ramp of 100, 200, 300 … per second: 2 000 ports are spent 5/6 into second 5', () => {
    near(predictOnset(Array.from({ length: 10 }, (_, t) => [t, 100 * (t + 1)]), 2000, 60), 5 + 500 / 600, 1e-9);
    const r = syntheticRecord({ host: { usablePorts: 2000 }, timeline: clientCloseTimeline({ rate: (t) => 100 * (t + 1), seconds: 10, usable: 2000 }) });
    near(analyzeExhaustion(r).predictedAtS, 5.833, 0.001);
  });

  it('ports freed after TIME_WAIT: 600/s on 1 000 ports with W = 1 s never runs out', () => {
    assert.equal(predictOnset(Array.from({ length: 10 }, (_, t) => [t, 600]), 1000, 1), null);
    near(predictOnset(Array.from({ length: 10 }, (_, t) => [t, 1200]), 1000, 1), 0.833, 0.001);
  });

  it('counts the ports in use before the load', () => {
    const r = run1000();
    r.monitor.baseline = { timeWait: 10_000, ephemeralInUse: 10_000 };
    near(analyzeExhaustion(r).predictedAtS, 18.232, 0.01);
  });

  it('is null when the policy says the client keeps no TIME_WAIT and the monitor is off, or ports never run out', () => {
    const blind = (e: ReturnType<typeof entry>) => ({ ...e, sockets: null });
    for (const connection of [{ close: 'server' as const }, { close: 'reset' as const }, { reuse: true }]) {
      const r = syntheticRecord({ connection, monitor: { enabled: false }, ports: null, timeline: Array.from({ length: 40 }, (_, t) => blind(entry(t, { attempted: 1000 }))) });
      assert.equal(analyzeExhaustion(r).predictedAtS, null, JSON.stringify(connection));
      assert.equal(analyzeExhaustion(r).capacity?.timeWaitSide.source, 'scenario');
    }
    const slow = syntheticRecord({ timeline: Array.from({ length: 60 }, (_, t) => entry(t, { attempted: 400, sockets: sockets({ timeWait: 400 * (t + 1) }) })) });
    assert.equal(analyzeExhaustion(slow).predictedAtS, null, '400/s < 470.5/s');
    assert.equal(analyzeExhaustion(syntheticRecord({ host: { usablePorts: null } })).predictedAtS, null);
    assert.equal(analyzeExhaustion(syntheticRecord({ host: { usablePorts: null } })).sustainableRate, null);
  });

  it('follows the observed side: close: server against a server that never closes is predicted; close: client against a server that closes first is not', () => {
    const clientTw = Array.from({ length: 40 }, (_, t) => entry(t, { attempted: 1000, sockets: sockets({ timeWait: Math.min(28_232, 1000 * (t + 1)) }) }));
    const neverCloses = analyzeExhaustion(syntheticRecord({ connection: { close: 'server' }, timeline: clientTw }));
    near(neverCloses.predictedAtS, 28.232, 0.01);
    assert.equal(neverCloses.capacity?.timeWaitSide.side, 'client');
    const serverTw = Array.from({ length: 40 }, (_, t) => entry(t, { attempted: 1000, sockets: sockets({ timeWait: 1000 * (t + 1), serverTimeWait: 1000 * (t + 1) }) }));
    const http10 = analyzeExhaustion(syntheticRecord({ connection: { close: 'client' }, timeline: serverTw }));
    assert.equal(http10.predictedAtS, null);
    assert.equal(http10.capacity?.timeWaitSide.side, 'server');
    assert.equal(http10.capacity?.timeWaitSide.source, 'monitor');
  });

  it('multiplies the sustainable rate by the source addresses when there are several', () => {
    near(analyzeExhaustion(syntheticRecord({ connection: { localAddresses: ['10.0.0.1'] } })).sustainableRate, 470.5, 0.1);
    near(analyzeExhaustion(syntheticRecord({ connection: { localAddresses: ['10.0.0.1', '10.0.0.2'] } })).sustainableRate, 941.1, 0.1);
  });

  it('peak connection rate: attempts without reuse, opened connections with it', () => {
    const timeline = [entry(0, { attempted: 800, connectionsOpened: 50 }), entry(1, { attempted: 900, connectionsOpened: 10 })];
    assert.equal(analyzeExhaustion(syntheticRecord({ timeline })).peakConnectionRate, 900);
    assert.equal(analyzeExhaustion(syntheticRecord({ timeline, connection: { reuse: true } })).peakConnectionRate, 50);
  });
});

describe('early warning', () => {
  it('finds the connect p50 jump (10 µs → 700 µs) before the onset', () => {
    const ex = analyzeExhaustion(run1000());
    assert.equal(ex.earlyWarningAtS, 15); // 15 000 of 28 232 ports in use at its start
    near(ex.utilizationAtWarning, 16_000 / 28_232, 1e-4);
    assert.ok(ex.earlyWarningAtS! < ex.firstAtS!);
  });

  it('ignores a single-second spike and a rise too small in absolute terms', () => {
    const spike = Array.from({ length: 20 }, (_, t) => entry(t, { connectMs: { p50: t === 8 ? 0.7 : 0.01, p99: 1 } }));
    assert.equal(earlyWarning(spike, null), null);
    const tiny = Array.from({ length: 20 }, (_, t) => entry(t, { connectMs: { p50: t >= 8 ? 0.15 : 0.01, p99: 1 } }));
    assert.equal(earlyWarning(tiny, null), null);
    const sustained = Array.from({ length: 20 }, (_, t) => entry(t, { connectMs: { p50: t >= 8 ? 0.7 : 0.01, p99: 1 } }));
    const w = earlyWarning(sustained, null);
    assert.equal(w?.entry.t, 8);
    assert.equal(w?.baselineMs, 0.01);
  });

  it('skips seconds without new connections and reports a rise after the onset too', () => {
    const timeline = Array.from({ length: 12 }, (_, t) =>
      entry(t, { connectionsOpened: t < 2 ? 0 : 100, connectMs: { p50: t < 2 ? 0 : t >= 9 ? 0.8 : 0.02, p99: 1 } }),
    );
    assert.equal(earlyWarning(timeline, 5.5)?.entry.t, 9);
  });
});

describe('correlation', () => {
  it('≈ +1 for utilization rising with errors and p99 latency', () => {
    const ex = analyzeExhaustion(run1000());
    assert.ok(ex.correlation.utilizationVsLatencyP99! > 0.99, String(ex.correlation.utilizationVsLatencyP99));
    assert.ok(ex.correlation.utilizationVsErrorRate! > 0.5, String(ex.correlation.utilizationVsErrorRate));
    const linear = Array.from({ length: 6 }, (_, t) =>
      entry(t, { completed: 100 - 10 * t, failed: 10 * t, sockets: sockets({ utilization: 0.1 * t }), latencyMs: { p50: 1, p90: 2, p99: 3 + t, max: 9 } }),
    );
    const c = analyzeExhaustion(syntheticRecord({ timeline: linear })).correlation;
    near(c.utilizationVsErrorRate, 1, 1e-9);
    near(c.utilizationVsLatencyP99, 1, 1e-9);
  });

  it('null with fewer than 3 points or no variance', () => {
    const two = [entry(0, { sockets: sockets({ utilization: 0.1 }) }), entry(1, { sockets: sockets({ utilization: 0.2 }) }), entry(2, { sockets: null })];
    assert.deepEqual(analyzeExhaustion(syntheticRecord({ timeline: two })).correlation, { utilizationVsErrorRate: null, utilizationVsLatencyP99: null });
    // no failures at all: the error rate has no variance
    const flat = Array.from({ length: 5 }, (_, t) => entry(t, { sockets: sockets({ utilization: 0.1 * t }) }));
    assert.equal(analyzeExhaustion(syntheticRecord({ timeline: flat })).correlation.utilizationVsErrorRate, null);
    assert.equal(pearson([1, 2, 3], [3, 2, 1]), -1);
    assert.equal(pearson([1, 2], [1, 2]), null);
  });
});
