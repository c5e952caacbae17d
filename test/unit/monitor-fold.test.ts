import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { foldMonitor } from '../../src/monitor/fold.js';
import { COUNTER_NAMES, zeroStates, type CounterDeltas, type MonitorSample, type SocketScan } from '../../src/monitor/types.js';

const START = 1_000_000;

function scan(at: number, timeWait: number, dest = '127.0.0.1:80', usable = 1000): SocketScan {
  const states = { ...zeroStates(), timeWait, established: 2 };
  return {
    at,
    costMs: 3,
    source: 'proc',
    total: timeWait + 2,
    states,
    client: states,
    server: { ...zeroStates(), timeWait: 1 },
    ephemeralInUse: timeWait + 2,
    destinations: [{ dest, inUse: timeWait + 2, timeWait, established: 2, bySource: null, utilization: (timeWait + 2) / usable }],
    sources: { '127.0.0.1': timeWait + 2 },
  };
}

function counters(activeOpens: number): CounterDeltas {
  const c = Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as CounterDeltas;
  c.ActiveOpens = activeOpens;
  c.TWKilled = null;
  return c;
}

function sample(at: number, tw: number | null, withScan: boolean, opens = 10): MonitorSample {
  return {
    at,
    lateMs: (at - START) % 500 === 0 ? 2 : 0.5,
    sockstat: tw === null ? null : { at, timeWait: tw, inUse: 3, orphan: 0, alloc: 3, inUse6: 0 },
    scan: withScan && tw !== null ? scan(at, tw) : null,
    counters: counters(opens),
    conntrack: null,
    fds: { open: 40 + Math.round(at - START) / 250, soft: 1024, hard: 4096 },
  };
}

const status = { source: 'proc' as const, unavailable: {}, effectiveScanIntervalMs: 1000 };
const opts = { startEpochMs: START, durationS: 3, intervalS: 0.25, scanIntervalS: 1, usable: 1000 };

describe('foldMonitor', () => {
  // A baseline sample before the start, then 4 samples a second for 3 s with TIME_WAIT rising.
  const samples = [sample(START - 100, 5, true), ...Array.from({ length: 12 }, (_, i) => sample(START + i * 250, 100 * (i + 1), i % 4 === 0))];
  const f = foldMonitor(samples, status, opts);

  it('one socket picture per second: peak TIME_WAIT in the second, the rest from its scan', () => {
    assert.deepEqual([...f.perSecond.keys()], [0, 1, 2]);
    const s1 = f.perSecond.get(1)!.sockets!;
    assert.equal(s1.timeWait, 800); // sockstat peak in second 1 (samples 4..7)
    assert.equal(s1.ephemeralInUse, 502); // the scan at 1.0 s
    assert.equal(s1.utilization, 0.502);
    assert.equal(s1.serverTimeWait, 1);
    assert.equal(s1.established, 2);
  });

  it('counters add up over the second; a counter never read stays null', () => {
    const c = f.perSecond.get(2)!.counters!;
    assert.equal(c.ActiveOpens, 40);
    assert.equal(c.TWKilled, null);
  });

  it('peaks, destinations, baseline and monitor facts', () => {
    assert.deepEqual(f.ports, { usable: 1000, peakInUse: 902, peakUtilization: 0.902, peakTimeWait: 1200, busiestDestination: '127.0.0.1:80' });
    assert.deepEqual(f.destinations, [{ dest: '127.0.0.1:80', peakInUse: 902, peakTimeWait: 900, peakUtilization: 0.902 }]);
    // The fixture's scans carry no TIME_WAIT timers: the baseline says so (null), not 0 s.
    assert.deepEqual(f.monitor.baseline, {
      timeWait: 5,
      ephemeralInUse: 7,
      byDestination: [{ dest: '127.0.0.1:80', own: false, inUse: 7, timeWait: 5, timeWaitExpiry: null }],
      ageS: 0.1,
    });
    assert.equal(f.monitor.samples, 13);
    assert.equal(f.monitor.scans, 4);
    assert.deepEqual(f.monitor.scanCostMs, { p50: 3, max: 3 });
    assert.deepEqual(f.monitor.lateMs, { p50: 0.5, max: 2 });
    assert.equal(f.monitor.peakFds?.soft, 1024);
  });

  it('seconds without any readable source are null, not zero', () => {
    const gap = [sample(START, 100, true), sample(START + 1000, null, false), sample(START + 2000, null, false), sample(START + 2250, null, false)];
    const g = foldMonitor(gap, status, { ...opts, durationS: 4 });
    assert.equal(g.perSecond.get(0)!.sockets!.timeWait, 100);
    // Second 1 still has the scan from 0.0 s (within 1.5 scan intervals) ...
    assert.equal(g.perSecond.get(1)!.sockets!.ephemeralInUse, 102);
    // ... but by second 3 nothing is known.
    assert.equal(g.perSecond.get(3)!.sockets, null);
  });

  it('no samples: no ports summary', () => {
    const g = foldMonitor([], { source: null, unavailable: { scan: 'none' }, effectiveScanIntervalMs: 1000 }, opts);
    assert.equal(g.ports, null);
    assert.equal(g.perSecond.get(0)!.sockets, null);
    assert.deepEqual(g.monitor.unavailable, { scan: 'none' });
  });
});
