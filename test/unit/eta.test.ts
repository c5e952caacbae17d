/**
 * The live capacity view (src/analysis/eta.ts) over fixed sequences of scans and counters: the
 * new-connection rate, the hold, the sustainable rate and the time to the first failure, every
 * expected figure worked out by hand in the test's comments.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HoldFacts } from '../../src/analysis/capacity.js';
import { capacityView, counterRates, expiredWithin, newConnectionRates, PortEtaEstimator, type CounterPoint, type EtaModel } from '../../src/analysis/eta.js';
import { COUNTER_NAMES, zeroStates, type CounterDeltas, type DestinationUsage, type MonitorSample, type SocketScan } from '../../src/monitor/types.js';

/** 32768–60999: Linux's default range. */
const USABLE = 28_232;
const linux = (over: Partial<HoldFacts> = {}): EtaModel => ({ facts: { platform: 'linux', timeWaitS: 60, tcpTwReuse: 0, tcpTwReuseDelayMs: 1000, tcpTimestamps: 1, ...over }, usable: USABLE });

function dest(name: string, inUse: number, timeWait = 0, extra: Partial<DestinationUsage> = {}): DestinationUsage {
  return { dest: name, inUse, timeWait, established: inUse - timeWait, bySource: null, utilization: inUse / USABLE, ...extra };
}

function scan(at: number, destinations: DestinationUsage[], sources: Record<string, number> = {}): SocketScan {
  const inUse = destinations.reduce((a, d) => a + d.inUse, 0);
  return { at, costMs: 5, source: 'sockdiag', total: inUse, states: zeroStates(), client: zeroStates(), server: zeroStates(), ephemeralInUse: inUse, destinations, sources };
}

/** Fast samples every 250 ms over [fromMs, toMs], each counting `perSecond / 4` of each counter. */
function counters(fromMs: number, toMs: number, perSecond: Partial<Record<(typeof COUNTER_NAMES)[number], number>>): CounterPoint[] {
  const out: CounterPoint[] = [];
  for (let at = fromMs; at <= toMs; at += 250) {
    const c = Object.fromEntries(COUNTER_NAMES.map((n) => [n, at === fromMs ? null : (perSecond[n] ?? 0) / 4])) as CounterDeltas;
    out.push({ at, counters: c });
  }
  return out;
}

/** A TIME_WAIT time-left histogram (100 ms steps): `count` sockets in each step from `from` to `to` inclusive. */
function left(steps: Array<[from: number, to: number, count: number]>): number[] {
  const h: number[] = [];
  for (const [from, to, count] of steps) for (let k = from; k <= to; k++) h[k] = count;
  return Array.from(h, (n) => n ?? 0);
}

const one = (view: ReturnType<typeof capacityView>, name: string) => {
  const v = view.find((x) => x.dest === name);
  assert.ok(v, `${name} in ${JSON.stringify(view)}`);
  return v;
};

describe('new connections toward a destination', () => {
  it('a ramp from nothing: the growth of the ports held is the rate; Linux, no reuse: ETA = free ports ÷ rate', () => {
    // 0 → 1 000 ports held in 2 s: 500/s. Free 28 232 − 1 000 = 27 232; 27 232 / 500 = 54.46 s, inside the 60 s hold.
    const scans = [scan(0, []), scan(1000, [dest('10.0.0.5:80', 500, 400, { timeWaitLeft: left([[595, 599, 80]]) })]), scan(2000, [dest('10.0.0.5:80', 1000, 900, { timeWaitLeft: left([[590, 599, 90]]) })])];
    const view = capacityView(scans, counters(0, 2000, { ActiveOpens: 500 }), linux());
    assert.deepEqual(one(view, '10.0.0.5:80'), { dest: '10.0.0.5:80', etaS: 54.5, sustainableRate: 470.5, newConnectionRate: 500, holdS: 60 });
  });

  it('steady state: the TIME_WAIT that expired between the scans (their timers) is the rate; sustainable: +Inf', () => {
    // 100/s for a minute: 6 000 TIME_WAIT spread evenly over 60 s of time left (10 per 100 ms step), 10 established.
    // In 5 s the 50 youngest-to-expire steps run out: 500, so 100/s with no growth. 100/s < 470.5/s: never runs out.
    const d = dest('10.0.0.5:80', 6010, 6000, { timeWaitLeft: left([[0, 599, 10]]) });
    const view = capacityView([scan(0, [d]), scan(5000, [d])], [], linux());
    assert.deepEqual(one(view, '10.0.0.5:80'), { dest: '10.0.0.5:80', etaS: Infinity, sustainableRate: 470.5, newConnectionRate: 100, holdS: 60 });
  });

  it('without timers (netstat) the TIME_WAIT ages are taken as evenly spread: timeWait × Δt ÷ 60 s expired', () => {
    const d = dest('10.0.0.5:80', 6010, 6000);
    assert.deepEqual(expiredWithin(d, 5000, 60), { count: 500, exact: false });
    assert.equal(newConnectionRates([scan(0, [d]), scan(5000, [d])], [], 60).get('10.0.0.5:80'), 100);
  });

  it('the host-wide ActiveOpens rate caps a destination’s rate', () => {
    // The scans say 100/s (as above); the host opened only 40/s meanwhile.
    const d = dest('10.0.0.5:80', 6010, 6000, { timeWaitLeft: left([[0, 599, 10]]) });
    assert.equal(newConnectionRates([scan(0, [d]), scan(5000, [d])], counters(0, 5000, { ActiveOpens: 40 }), 60).get('10.0.0.5:80'), 40);
  });

  it('the server closes first: ActiveOpens says 1 000/s but the ports come back at once, so no exhaustion is predicted', () => {
    const d = dest('10.0.0.5:80', 12);
    const view = capacityView([scan(0, [d]), scan(1000, [d]), scan(2000, [d])], counters(0, 2000, { ActiveOpens: 1000 }), linux());
    assert.equal(one(view, '10.0.0.5:80').newConnectionRate, 0);
    assert.equal(one(view, '10.0.0.5:80').etaS, Infinity);
  });

  it('tcp_tw_reuse=1: TWRecycled adds the ports taken over from TIME_WAIT; only TIME_WAIT younger than the hold counts as held', () => {
    // 3 000/s, each taking over a TIME_WAIT port (TWRecycled 3 000/s), so nothing grows or expires between the scans.
    // 20 400 TIME_WAIT: 3 000 younger than 1 s (time left > 59 s, steps 590–599), 17 400 older. Held: 100 + 3 000.
    // (28 232 − 3 100) / 3 000 = 8.4 s ≥ the 1 s hold and 3 000/s ≤ 28 232/s: sustainable. A utilization of
    // 20 500 / 28 232 = 73 % looks alarming; the model says it holds.
    const d = dest('10.0.0.5:80', 20_500, 20_400, { timeWaitLeft: left([[10, 589, 30], [590, 599, 300]]) });
    const view = capacityView([scan(0, [d]), scan(1000, [d])], counters(0, 1000, { ActiveOpens: 3000, TWRecycled: 3000 }), linux({ tcpTwReuse: 1 }));
    assert.deepEqual(one(view, '10.0.0.5:80'), { dest: '10.0.0.5:80', etaS: Infinity, sustainableRate: 28_232, newConnectionRate: 3000, holdS: 1 });
  });

  it('tcp_tw_reuse=2: the 1 s hold toward loopback only', () => {
    const a = dest('127.0.0.1:8080', 0);
    const b = dest('10.0.0.5:80', 0);
    const view = capacityView([scan(0, [a, b]), scan(1000, [a, b])], [], linux({ tcpTwReuse: 2 }));
    assert.equal(one(view, '127.0.0.1:8080').holdS, 1);
    assert.equal(one(view, '127.0.0.1:8080').sustainableRate, 28_232);
    assert.equal(one(view, '10.0.0.5:80').holdS, 60);
    assert.equal(one(view, '10.0.0.5:80').sustainableRate, 470.5);
    assert.equal(one(view, '10.0.0.5:80').etaS, Infinity, 'no new connections');
  });

  it('several source addresses: a pool each; the busiest one’s share of the ports and of the rate', () => {
    // 0 → 2 000 in 2 s: 1 000/s, 60 % from .1: held 1 200, 600/s; (28 232 − 1 200) / 600 = 45.05 s. Two pools: 2 × 470.53.
    const d = dest('10.0.0.5:80', 2000, 0, { bySource: { '10.0.0.1': 1200, '10.0.0.2': 800 } });
    const view = capacityView([scan(0, []), scan(2000, [d])], [], linux());
    assert.deepEqual(one(view, '10.0.0.5:80'), { dest: '10.0.0.5:80', etaS: 45.1, sustainableRate: 941.1, newConnectionRate: 1000, holdS: 60 });
  });

  it('macOS: one pool per source address across destinations, the same ETA for each', () => {
    // 30 s TIME_WAIT, 16 384 ports: 546.1/s. 400/s + 200/s = 600/s from 600 held: (16 384 − 600) / 600 = 26.3 s < 30 s.
    const model: EtaModel = { facts: { platform: 'darwin', timeWaitS: 30, tcpTwReuse: null, tcpTwReuseDelayMs: null, tcpTimestamps: null }, usable: 16_384 };
    const scans = [scan(0, []), scan(1000, [dest('10.0.0.5:80', 400), dest('10.0.0.6:80', 200)], { '10.0.0.1': 600 })];
    const view = capacityView(scans, [], model);
    for (const name of ['10.0.0.5:80', '10.0.0.6:80']) {
      assert.equal(one(view, name).etaS, 26.3);
      assert.equal(one(view, name).sustainableRate, 546.1);
      assert.equal(one(view, name).holdS, 30);
    }
    assert.equal(one(view, '10.0.0.6:80').newConnectionRate, 200);
  });

  it('unknown stays unknown: one scan gives no rate (ETA null); unknown usable ports give no ETA or sustainable rate', () => {
    const d = dest('10.0.0.5:80', 500);
    assert.deepEqual(one(capacityView([scan(0, [d])], [], linux()), '10.0.0.5:80'), { dest: '10.0.0.5:80', etaS: null, sustainableRate: 470.5, newConnectionRate: null, holdS: 60 });
    const none = capacityView([scan(0, []), scan(1000, [d])], [], { ...linux(), usable: null });
    assert.deepEqual(one(none, '10.0.0.5:80'), { dest: '10.0.0.5:80', etaS: null, sustainableRate: null, newConnectionRate: 500, holdS: 60 });
  });

  it('a scan that kept only the busiest 20: a destination it left out is unknown, not idle; a dominant newcomer takes ActiveOpens', () => {
    const others = Array.from({ length: 20 }, (_, i) => dest(`10.1.0.${i}:80`, 10));
    const newcomer = dest('10.0.0.5:80', 1900);
    const small = dest('10.0.0.6:80', 5);
    const before = scan(0, others);
    const after = scan(1000, [newcomer, ...others.slice(0, 19)]);
    after.ephemeralInUse = 2000;
    const rates = newConnectionRates([before, after], counters(0, 1000, { ActiveOpens: 1900 }), 60);
    assert.equal(rates.get('10.0.0.5:80'), 1900, 'holds 95 % of the client ports: the host’s ActiveOpens');
    const after2 = scan(1000, [small, ...others.slice(0, 19)]);
    after2.ephemeralInUse = 2000;
    assert.equal(newConnectionRates([before, after2], counters(0, 1000, { ActiveOpens: 1900 }), 60).get('10.0.0.6:80'), null);
  });
});

describe('counter rates', () => {
  it('sum the deltas of the fast samples spanning the window, null when one is unknown or the samples do not span it', () => {
    const fast = counters(0, 2000, { ActiveOpens: 400, TWRecycled: 8 });
    assert.deepEqual(counterRates(fast, 0, 2000), { opens: 400, recycled: 8 });
    assert.deepEqual(counterRates(fast, 100, 1100), { opens: 400, recycled: 8 }, 'from the sample at 0 to the one at 1 000');
    assert.deepEqual(counterRates(fast, -1, 2000), { opens: null, recycled: null }, 'nothing before the window');
    const gap = fast.map((p) => (p.at === 1000 ? { ...p, counters: { ...p.counters, ActiveOpens: null } } : p));
    assert.deepEqual(counterRates(gap, 0, 2000), { opens: null, recycled: 8 });
  });
});

describe('the estimator over a running monitor’s samples', () => {
  const sample = (at: number, s: SocketScan | null, c: CounterDeltas | null): MonitorSample => ({ at, lateMs: null, sockstat: null, scan: s, counters: c, conntrack: null, fds: null });

  it('answers on scans only, measures over the last 10 s of scans, and keeps its window bounded', () => {
    const est = new PortEtaEstimator(linux());
    const fastDelta = Object.fromEntries(COUNTER_NAMES.map((n) => [n, n === 'ActiveOpens' ? 50 : 0])) as CounterDeltas;
    let last = null;
    // 200/s toward one destination for 30 s: a scan a second, fast samples every 250 ms (50 opens each).
    for (let at = 0; at <= 30_000; at += 250) {
      assert.equal(est.observe(sample(at, null, at === 0 ? null : fastDelta)), null);
      if (at % 1000 === 0) {
        const held = (200 * at) / 1000;
        last = est.observe(sample(at, scan(at, held ? [dest('10.0.0.5:80', held, held)] : []), null));
        assert.ok(last, `a view at ${at}`);
      }
    }
    // 6 000 held, 200/s: (28 232 − 6 000) / 200 = 111.2 s ≥ 60 s, and 200/s < 470.5/s: sustainable.
    assert.deepEqual(last, [{ dest: '10.0.0.5:80', etaS: Infinity, sustainableRate: 470.5, newConnectionRate: 200, holdS: 60 }]);
    const internals = est as unknown as { scans: SocketScan[]; fast: CounterPoint[] };
    assert.deepEqual(internals.scans.map((s) => s.at), [20_000, 21_000, 22_000, 23_000, 24_000, 25_000, 26_000, 27_000, 28_000, 29_000, 30_000]);
    assert.ok(internals.fast.length <= 41 && internals.fast[0]!.at <= 20_000, `${internals.fast.length} counter samples from ${internals.fast[0]!.at}`);
  });

  it('a scan older than the last one (threads racing) is ignored', () => {
    const est = new PortEtaEstimator(linux());
    assert.ok(est.observe(sample(1000, scan(1000, []), null)));
    assert.equal(est.observe(sample(900, scan(900, []), null)), null);
  });
});
