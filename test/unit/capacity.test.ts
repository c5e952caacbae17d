/**
 * The capacity model (src/analysis/capacity.ts) against hand-computed cases and the figures
 * DOMAIN.md measured; every expected number here is worked out in the test's name or comment, never
 * by the model's own formula.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { baselineHeld, baselineShare, capacityOf, isLoopbackHost, observedHold, portBudget, portHold, predictOnset, sourceStrategyOf, timeWaitSide } from '../../src/analysis/capacity.js';
import { diagnose } from '../../src/analysis/diagnose.js';
import { analyzeExhaustion } from '../../src/analysis/exhaustion.js';
import { predictedKnee } from '../../src/lab/knee.js';
import type { HoldFacts } from '../../src/analysis/capacity.js';
import type { RunRecord, Verdict, VerdictId } from '../../src/record/types.js';
import { entry, LINUX_HOST, sockets, syntheticRecord } from '../helpers/synthetic-record.js';

const near = (actual: number | null | undefined, expected: number, tol: number) =>
  assert.ok(actual != null && Math.abs(actual - expected) <= tol, `expected ≈ ${expected} ± ${tol}, got ${actual}`);
const linux = (over: Partial<HoldFacts> = {}): HoldFacts => ({ platform: 'linux', timeWaitS: 60, tcpTwReuse: 0, tcpTwReuseDelayMs: 1000, tcpTimestamps: 1, ...over });
const text = (v: Verdict) => v.evidence.join(' ');
function verdict(r: RunRecord, id: VerdictId): Verdict {
  const v = diagnose(r).find((x) => x.verdict === id);
  assert.ok(v, `expected ${id} in ${JSON.stringify(diagnose(r).map((x) => x.verdict))}`);
  return v;
}

describe('how long a closed port stays unusable', () => {
  it('Linux: 60 s without reuse; tcp_tw_reuse=1 with timestamps: tcp_tw_reuse_delay', () => {
    assert.equal(portHold(linux(), false).holdS, 60);
    assert.equal(portHold(linux({ tcpTwReuse: 1 }), false).holdS, 1);
    assert.equal(portHold(linux({ tcpTwReuse: 1, tcpTwReuseDelayMs: 250 }), false).holdS, 0.25);
    const absent = portHold(linux({ tcpTwReuse: 1, tcpTwReuseDelayMs: null }), false);
    assert.equal(absent.holdS, 1, 'the sysctl is absent: the fixed 1 s');
    assert.match(absent.reason, /absent/);
    assert.match(portHold(linux({ tcpTwReuse: 1 }), false).reason, /tcp_tw_reuse=1 with TCP timestamps.*tcp_tw_reuse_delay, 1 000 ms/);
  });

  it('Linux: tcp_tw_reuse=2 shortens it toward loopback only; timestamps off undo any reuse', () => {
    assert.equal(portHold(linux({ tcpTwReuse: 2 }), true).holdS, 1);
    const away = portHold(linux({ tcpTwReuse: 2 }), false);
    assert.equal(away.holdS, 60);
    assert.match(away.reason, /loopback only/);
    const noTs = portHold(linux({ tcpTwReuse: 1, tcpTimestamps: 0 }), false);
    assert.equal(noTs.holdS, 60);
    assert.match(noTs.reason, /tcp_timestamps=0/);
    assert.equal(portHold(linux({ tcpTwReuse: 2, tcpTimestamps: 0 }), true).holdS, 60);
  });

  it('macOS: 2 × MSL (default 2 × 15 s = 30 s); Windows: TcpTimedWaitDelay (documented default 120 s)', () => {
    assert.equal(portHold({ ...linux(), platform: 'darwin', timeWaitS: null }, false).holdS, 30);
    assert.equal(portHold({ ...linux(), platform: 'darwin', timeWaitS: 2 }, false).holdS, 2);
    assert.match(portHold({ ...linux(), platform: 'darwin', timeWaitS: 2 }, false).reason, /net\.inet\.tcp\.msl 1 000 ms/);
    const win = portHold({ ...linux(), platform: 'win32', timeWaitS: null, tcpTwReuse: null }, false);
    assert.equal(win.holdS, 120);
    assert.match(win.reason, /TcpTimedWaitDelay.*documented default/);
    assert.equal(portHold({ ...linux(), platform: 'win32', timeWaitS: 30 }, true).holdS, 30, 'no loopback recycling on Windows');
  });

  it('loopback hosts: 127/8, ::1, localhost, with or without a port', () => {
    for (const h of ['127.0.0.1:8080', '127.3.2.1', '[::1]:80', '::1', 'localhost', '[::ffff:127.0.0.1]:9']) assert.ok(isLoopbackHost(h), h);
    for (const h of ['198.18.0.2:8080', '[2001:db8::1]:80', '10.0.0.1']) assert.ok(!isLoopbackHost(h), h);
  });
});

describe('the port budget', () => {
  it('Linux connect() without bind(): one pool per destination ip:port', () => {
    const b = portBudget('linux', 28_232, 'kernel', 0, 2);
    assert.deepEqual([b.ports, b.scope, b.sources, b.destinations, b.pools], [28_232, 'source-destination', 1, 2, 2]);
  });

  it('Linux bind(): one pool per source address across destinations; IP_BIND_ADDRESS_NO_PORT: per source × destination', () => {
    const bound = portBudget('linux', 500, 'bind', 2, 2);
    assert.deepEqual([bound.scope, bound.pools], ['source', 2]);
    const noPort = portBudget('linux', 500, 'bind-no-port', 2, 2);
    assert.deepEqual([noPort.scope, noPort.pools], ['source-destination', 4]);
    assert.match(noPort.reason, /IP_BIND_ADDRESS_NO_PORT/);
  });

  it('macOS and Windows: per source address, more destinations add nothing', () => {
    for (const platform of ['darwin', 'win32']) {
      const b = portBudget(platform, 16_384, 'kernel', 0, 3);
      assert.deepEqual([b.scope, b.pools], ['source', 1], platform);
      assert.equal(portBudget(platform, 16_384, 'bind-no-port', 2, 3).pools, 2, platform);
    }
  });

  it('the strategy: as recorded, else bind() when source addresses are set', () => {
    const r = syntheticRecord({ connection: { localAddresses: ['198.18.0.10'] } });
    assert.equal(sourceStrategyOf(r), 'bind');
    r.sourceStrategy = 'bind-no-port';
    assert.equal(sourceStrategyOf(r), 'bind-no-port');
    assert.equal(sourceStrategyOf(syntheticRecord()), 'kernel');
  });
});

describe('the onset, hand-computed', () => {
  const steady = (rate: number, seconds: number): Array<[number, number]> => Array.from({ length: seconds }, (_, t) => [t, rate]);

  it('600 ports, 1 s hold, 300/s: at most 300 held at once, never runs out', () => {
    assert.equal(predictOnset(steady(300, 5), 600, 1), null);
  });

  it('28 232 ports, 60 s, 1 000/s: 28 232 / 1 000 = 28.232 s', () => {
    near(predictOnset(steady(1000, 40), 28_232, 60), 28.232, 1e-9);
  });

  it('500 ports, 60 s, 250/s (DOMAIN.md, measured 2.007 s): 500 / 250 = 2 s', () => {
    near(predictOnset(steady(250, 5), 500, 60), 2, 1e-9);
  });

  it('a baseline expiring at t = 3 s frees its ports: 800 ports, 100/s, 500 baseline TIME_WAIT', () => {
    // Held all run: 500 + 100 t = 800 at t = 3. Freed in [2, 3): the baseline is gone by 3 s, then 100 t = 800 at t = 8.
    near(predictOnset(steady(100, 10), 800, 60, 500), 3, 1e-9);
    near(predictOnset(steady(100, 10), 800, 60, { inUse: 0, expiry: [0, 0, 500] }), 8, 1e-9);
    // 900 ports, 100 open baseline sockets that stay held: all held, 600 + 100 t = 900 at t = 3; with the 500 TIME_WAIT
    // gone by 3 s (1 600 − 400 t falls to 400 at t = 3), 100 + 100 t = 900 at t = 8.
    near(predictOnset(steady(100, 10), 900, 60, 600), 3, 1e-9);
    near(predictOnset(steady(100, 10), 900, 60, { inUse: 100, expiry: [0, 0, 500] }), 8, 1e-9);
  });

  it('the baseline per destination: own destinations for a per-destination budget, all for bind()', () => {
    const r = syntheticRecord();
    r.monitor.baseline = {
      timeWait: 900,
      ephemeralInUse: 1000,
      byDestination: [
        { dest: '198.18.0.2:8080', own: true, inUse: 310, timeWait: 300, timeWaitExpiry: [100, 200] },
        { dest: '198.18.0.9:9000', own: false, inUse: 600, timeWait: 600, timeWaitExpiry: null },
      ],
    };
    assert.deepEqual(baselineHeld(r, 'kernel', 60), { inUse: 10, expiry: [100, 200] });
    assert.deepEqual(baselineHeld(r, 'bind', 60), { inUse: 610, expiry: [100, 200] });
    // A 1 s hold (tcp_tw_reuse=1): every baseline TIME_WAIT port is reusable within the first second.
    assert.deepEqual(baselineHeld(r, 'kernel', 1), { inUse: 10, expiry: [300] });
    delete r.monitor.baseline.byDestination;
    assert.deepEqual(baselineHeld(r, 'kernel', 60), { inUse: 1000, expiry: [] }, 'older records: the host-wide count for the whole run');
  });
});

/** DOMAIN.md's lab measurement: tcp_tw_reuse=1, 600 ports, 300 new connections/s for 5 s, no error, peak 375 TIME_WAIT. */
function twReuseLab(): RunRecord {
  const tw = [300, 375, 375, 375, 375];
  return syntheticRecord({
    host: { tcpTwReuse: 1, usablePorts: 600, portRange: [40_000, 40_599] },
    timeline: tw.map((n, t) => entry(t, { attempted: 300, sockets: sockets({ timeWait: n, ephemeralInUse: n, utilization: n / 600 }) })),
  });
}

describe('the issue\'s cases', () => {
  it('tcp_tw_reuse=1, 600 ports, 300/s: healthy, because the hold is ≈ 1 s so 600 ports sustain ≈ 600/s', () => {
    const r = twReuseLab();
    const ex = analyzeExhaustion(r);
    assert.equal(ex.capacity?.holdS, 1);
    assert.equal(ex.sustainableRate, 600);
    assert.equal(ex.predictedAtS, null);
    assert.deepEqual(diagnose(r).map((v) => v.verdict), ['healthy']);
    const t = text(verdict(r, 'healthy'));
    for (const part of ['sustainable ≈ 600/s', '2.0× headroom', '600 ports held ≈ 1.0 s after close', 'tcp_tw_reuse=1 with TCP timestamps', 'mostly TIME_WAIT that connect() takes over']) assert.ok(t.includes(part), `${part}: ${t}`);
  });

  it('loopback with tcp_tw_reuse=2 at 500/s: ports do not run out after ≈ 56.5 s', () => {
    const r = syntheticRecord({
      targetUrl: 'http://127.0.0.1:8080/',
      timeline: Array.from({ length: 8 }, (_, t) => entry(t, { attempted: 500, sockets: sockets({ timeWait: 600, utilization: 0.02 }) })),
    });
    const ex = analyzeExhaustion(r);
    assert.equal(ex.capacity?.holdS, 1);
    assert.equal(ex.predictedAtS, null);
    const t = text(verdict(r, 'healthy'));
    assert.ok(!t.includes('56.5 s'), t);
    assert.ok(t.includes('sustainable ≈ 28 232/s'), t);
  });

  it('the same 500/s toward a non-loopback address with tcp_tw_reuse=2: 60 s, ports run out after 28 232 / 500 ≈ 56.5 s', () => {
    const r = syntheticRecord({ timeline: Array.from({ length: 8 }, (_, t) => entry(t, { attempted: 500, sockets: sockets({ timeWait: 500 * (t + 1), utilization: 0.1 }) })) });
    assert.ok(text(verdict(r, 'healthy')).includes('ports run out after ≈ 56.5 s'));
  });
});

describe('observed behaviour', () => {
  it('TIME_WAIT levelling off far below rate × hold: the effective hold is peak ÷ rate, and the record says so', () => {
    // 300/s for 10 s with a 60 s hold would leave 3 000; it levelled off at 375: 375 / 300 = 1.25 s.
    const r = syntheticRecord({
      host: { tcpTwReuse: 0 },
      timeline: Array.from({ length: 10 }, (_, t) => entry(t, { attempted: 300, sockets: sockets({ timeWait: Math.min(375, 300 * (t + 1)) }), counters: { TWRecycled: t > 0 ? 300 : 0 } })),
    });
    const seen = observedHold(r, 60, 28_232);
    near(seen?.holdS, 1.25, 1e-9);
    assert.match(seen!.reason, /TWRecycled rose by 2 700/);
    const c = capacityOf(r);
    assert.equal(c.holdSource, 'observed');
    near(c.holdS, 1.25, 1e-9);
  });

  it('TWRecycled rising although the settings read give no reuse: the hold is tcp_tw_reuse_delay', () => {
    const r = syntheticRecord({ host: { tcpTwReuse: null }, monitor: { enabled: false }, ports: null, timeline: Array.from({ length: 5 }, (_, t) => entry(t, { sockets: null, counters: { TWRecycled: 50 } })) });
    const c = capacityOf(r);
    assert.deepEqual([c.holdS, c.holdSource], [1, 'observed']);
    assert.match(c.holdReason, /TWRecycled rose by 250/);
  });

  it('no correction when TIME_WAIT grows as the hold says, or ports were running out', () => {
    const growing = syntheticRecord({ timeline: Array.from({ length: 10 }, (_, t) => entry(t, { attempted: 300, sockets: sockets({ timeWait: 300 * (t + 1) }) })) });
    assert.equal(observedHold(growing, 60, 28_232), null);
    const full = syntheticRecord({ timeline: Array.from({ length: 10 }, (_, t) => entry(t, { attempted: 300, sockets: sockets({ timeWait: 500 }) })) });
    assert.equal(observedHold(full, 60, 500), null, 'capped by the budget, not by recycling');
  });

  it('who holds TIME_WAIT: the monitor first, then the built-in target, then the scenario', () => {
    const clientTw = Array.from({ length: 5 }, (_, t) => entry(t, { sockets: sockets({ timeWait: 100 * (t + 1) }) }));
    assert.deepEqual([timeWaitSide(syntheticRecord({ timeline: clientTw })).side, timeWaitSide(syntheticRecord({ timeline: clientTw })).source], ['client', 'monitor']);
    const own = Array.from({ length: 5 }, (_, t) => entry(t, { sockets: sockets({ timeWait: 5000, ownTimeWait: 0, ownServerTimeWait: 100 * (t + 1) }) }));
    assert.equal(timeWaitSide(syntheticRecord({ timeline: own })).side, 'server', 'own* figures win over host-wide TIME_WAIT');
    const blind = Array.from({ length: 5 }, (_, t) => entry(t, { sockets: null }));
    const stats = { connectionsAccepted: 500, requests: 500, closedByServer: 480, closedByClient: 20, resetByClient: 0, open: 0 };
    const fromTarget = timeWaitSide(syntheticRecord({ timeline: blind, monitor: { enabled: false }, ports: null, builtin: true, targetStats: stats }));
    assert.deepEqual([fromTarget.side, fromTarget.source], ['server', 'target']);
    const fromScenario = timeWaitSide(syntheticRecord({ timeline: blind, monitor: { enabled: false }, ports: null }));
    assert.deepEqual([fromScenario.side, fromScenario.source], ['client', 'scenario']);
    assert.equal(timeWaitSide(syntheticRecord({ timeline: blind, monitor: { enabled: false }, ports: null, connection: { close: 'reset' } })).side, 'none');
  });

  it('an HTTP/1.0 server that closes first under close: client: no client exhaustion predicted, server-time-wait told', () => {
    const r = syntheticRecord({
      timeline: Array.from({ length: 10 }, (_, t) => entry(t, { attempted: 1000, sockets: sockets({ timeWait: 1000 * (t + 1), serverTimeWait: 1000 * (t + 1), utilization: 0.001 }) })),
    });
    assert.equal(analyzeExhaustion(r).predictedAtS, null);
    assert.deepEqual(diagnose(r).map((v) => v.verdict), ['server-time-wait']);
  });
});

describe('causes told apart', () => {
  it('bind() of an address the host lacks: source-address-unavailable with the address, not exhaustion', () => {
    const timeline = Array.from({ length: 3 }, (_, t) => entry(t, { completed: 0, failed: 100, errors: { EADDRNOTAVAIL: 100 }, sockets: sockets() }));
    const r = syntheticRecord({ timeline, connection: { localAddresses: ['10.9.9.9'] }, host: { localAddresses: ['127.0.0.1', '198.18.0.1'] } });
    const ids = diagnose(r).map((v) => v.verdict);
    assert.deepEqual(ids, ['source-address-unavailable']);
    const v = verdict(r, 'source-address-unavailable');
    assert.equal(v.severity, 'critical');
    assert.ok(text(v).includes('10.9.9.9'), text(v));
    assert.ok(v.advice.some((a) => a.includes('10.9.9.9')));
  });

  it('by the sample\'s message in records without syscalls (measured: "bind EADDRNOTAVAIL 10.9.9.9" from the native engine)', () => {
    const timeline = Array.from({ length: 2 }, (_, t) => entry(t, { attempted: 50, completed: 0, failed: 50, errors: { EADDRNOTAVAIL: 50 }, sockets: sockets() }));
    const r = syntheticRecord({ timeline, connection: { localAddresses: ['10.9.9.9'] }, errorSamples: [{ code: 'EADDRNOTAVAIL', phase: 'connect', message: 'bind EADDRNOTAVAIL 10.9.9.9', t: 0.0104, localPort: null }] });
    assert.deepEqual(diagnose(r).map((v) => v.verdict), ['source-address-unavailable']);
    assert.equal(verdict(r, 'source-address-unavailable').atS, 0.0104);
  });

  it('by the failing syscall, when the transport recorded it; connect() failures beside it stay exhaustion', () => {
    const timeline = Array.from({ length: 3 }, (_, t) => entry(t, { completed: 0, failed: 100, errors: { EADDRNOTAVAIL: 100 }, sockets: sockets() }));
    const r = syntheticRecord({ timeline, connection: { localAddresses: ['198.18.0.10'] }, errorSamples: [{ code: 'EADDRNOTAVAIL', phase: 'connect', message: 'bind EADDRNOTAVAIL', t: 0.002, localPort: null, syscall: 'bind' }] });
    r.errorsBySyscall = { 'bind:EADDRNOTAVAIL': 300 };
    assert.deepEqual(diagnose(r).map((v) => v.verdict), ['source-address-unavailable']);
    r.errorsBySyscall = { 'bind:EADDRNOTAVAIL': 200, 'connect:EADDRNOTAVAIL': 100 };
    const ids = diagnose(r).map((v) => v.verdict);
    assert.ok(ids.includes('source-address-unavailable') && ids.includes('client-port-exhaustion'), JSON.stringify(ids));
  });
});

describe('strategy, platform and own destinations in evidence and advice', () => {
  const exhausted = (o: Parameters<typeof syntheticRecord>[0] = {}) =>
    syntheticRecord({
      timeline: Array.from({ length: 4 }, (_, t) => entry(t, { attempted: 500, completed: t === 0 ? 500 : 0, failed: t === 0 ? 0 : 500, errors: t === 0 ? {} : { EADDRNOTAVAIL: 500 }, sockets: sockets({ timeWait: 500, ephemeralInUse: 500, utilization: 1 }) })),
      host: { usablePorts: 500 },
      errorSamples: [{ code: 'EADDRNOTAVAIL', phase: 'connect', message: 'connect EADDRNOTAVAIL', t: 1.01, localPort: null }],
      ...o,
    });

  it('IP_BIND_ADDRESS_NO_PORT: per destination again, and the sentence says so', () => {
    const r = exhausted({ connection: { localAddresses: ['198.18.0.10', '198.18.0.11'] } });
    r.sourceStrategy = 'bind-no-port';
    r.ownDestinations = ['198.18.0.2:8080', '198.18.0.2:8081'];
    const v = verdict(r, 'client-port-exhaustion');
    assert.ok(text(v).includes('the engine sets IP_BIND_ADDRESS_NO_PORT, so the port is picked at connect()'), text(v));
    assert.ok(text(v).includes('over 4 (source, destination) pairs'), text(v));
    assert.ok(v.advice.some((a) => a.includes('more destination IPs or ports')));
  });

  it('macOS: the budget is per source address; no "more destinations" or tcp_tw_reuse advice', () => {
    const r = exhausted({ host: { platform: 'darwin', timeWaitS: 30, usablePorts: 500 } });
    const v = verdict(r, 'client-port-exhaustion');
    assert.ok(text(v).includes('per source address, across all destinations'), text(v));
    assert.ok(!v.advice.some((a) => a.includes('more destination IPs') || a.includes('tcp_tw_reuse')), v.advice.join(' | '));
    assert.ok(v.advice.some((a) => a.includes('net.inet.ip.portrange.first')));
  });

  it('other traffic: reported apart, counted only where it shares the budget', () => {
    const r = exhausted();
    r.ownDestinations = ['198.18.0.2:8080'];
    r.otherTraffic = { peakInUse: 3496, peakTimeWait: 3000, busiestDestination: '127.0.0.1:34505', destinations: [] };
    const kernel = text(verdict(r, 'client-port-exhaustion'));
    assert.ok(kernel.includes("This run's destination: 198.18.0.2:8080"), kernel);
    assert.ok(kernel.includes('Other traffic on this host: 3 496 ports toward 127.0.0.1:34505; it uses other (source, destination) pairs'), kernel);
    r.scenario.connection.localAddresses = ['198.18.0.10'];
    assert.ok(text(verdict(r, 'client-port-exhaustion')).includes('same per-source budget, so it counts here'));
  });
});

describe('baseline share (compare warns past 5 %)', () => {
  it('the own destination\'s earlier TIME_WAIT over its budget; null for older records', () => {
    const r = syntheticRecord({ host: { usablePorts: 1000 } });
    assert.equal(baselineShare(r), null);
    r.monitor.baseline = { timeWait: 900, ephemeralInUse: 900, byDestination: [
      { dest: '198.18.0.2:8080', own: true, inUse: 60, timeWait: 60, timeWaitExpiry: null },
      { dest: '198.18.0.9:1', own: false, inUse: 800, timeWait: 800, timeWaitExpiry: null },
    ] };
    assert.equal(baselineShare(r), 0.06, '60 of 1 000');
  });
});

describe('knee and doctor use the model', () => {
  it('predictedKnee: tcp_tw_reuse=1 holds 1 s, tcp_tw_reuse_delay shortens it, tcp_timestamps=0 undoes it', () => {
    const scenario = syntheticRecord().scenario;
    const sysctls = { 'net.ipv4.ip_local_port_range': '40000 40599' };
    assert.equal(predictedKnee(scenario, { ...sysctls, 'net.ipv4.tcp_tw_reuse': '1' }, 5), 600);
    assert.equal(predictedKnee(scenario, { ...sysctls, 'net.ipv4.tcp_tw_reuse': '1', 'net.ipv4.tcp_tw_reuse_delay': '500' }, 5), 1200);
    assert.equal(predictedKnee(scenario, { ...sysctls, 'net.ipv4.tcp_tw_reuse': '1', 'net.ipv4.tcp_timestamps': '0' }, 5), 120);
    assert.equal(predictedKnee(scenario, sysctls, 5), 120, 'tw_reuse=2 on non-loopback lab addresses: 600 / 5 s');
  });

  it('capacityOf on a plain Linux record: 60 s, per destination, client side from the monitor', () => {
    const c = capacityOf(syntheticRecord({ timeline: Array.from({ length: 5 }, (_, t) => entry(t, { sockets: sockets({ timeWait: 100 * (t + 1) }) })) }));
    assert.deepEqual([c.holdS, c.holdSource, c.budget, c.budgetScope, c.pools, c.sourceStrategy, c.timeWaitSide.side], [60, 'host', LINUX_HOST.usablePorts, 'source-destination', 1, 'kernel', 'client']);
    near(c.sustainableRate, 470.5, 0.1);
  });
});
