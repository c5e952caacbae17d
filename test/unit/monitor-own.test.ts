/**
 * The run's own destinations through the monitor: the scan keeps them however busy other traffic
 * is, server-side TIME_WAIT on them is counted, the fold reports them apart from other traffic, and
 * the baseline tells per destination when its TIME_WAIT ends (relative to the load's start).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aggregateScan, canonicalDest, rowsCursor, type ParsedRow } from '../../src/monitor/aggregate.js';
import { expiryFromStart, foldMonitor } from '../../src/monitor/fold.js';
import { parseTcpLine } from '../../src/monitor/proc-net-tcp.js';
import { MAX_DESTINATIONS, type MonitorSample, type SocketScan } from '../../src/monitor/types.js';

const BUDGET = { range: [40000, 49999] as [number, number], usable: 10_000 };

function rows(n: number, to: string, port: number, state = 'TIME_WAIT', firstLocal = 40000, leftMs: (i: number) => number | null = () => 30_000): ParsedRow[] {
  return Array.from({ length: n }, (_, i) => ({
    localAddress: '198.18.0.1',
    localPort: firstLocal + i,
    remoteAddress: to,
    remotePort: port,
    state,
    timeWaitLeftMs: state === 'TIME_WAIT' ? leftMs(i) : null,
  }));
}

describe('/proc/net/tcp timer field', () => {
  it('a TIME_WAIT row (timer 3) gives ms left from USER_HZ ticks; other rows none', () => {
    // Captured in a namespace 3 s after the close: 0x163E = 5694 ticks, `ss -o` said 56sec.
    const tw = parseTcpLine('   1: 0100007F:95DA 0100007F:2328 06 00000000:00000000 03:0000163E 00000000     0        0 0 3 00000000bdc7540d');
    assert.equal(tw?.state, 'TIME_WAIT');
    assert.equal(tw?.timeWaitLeftMs, 56_940);
    const est = parseTcpLine('   2: 0100007F:2328 0100007F:95DA 01 00000000:00000000 00:00000000 00000000     0        0 123 1 0000000000000000 20 4 30 10 -1');
    assert.equal(est?.state, 'ESTABLISHED');
    assert.equal(est?.timeWaitLeftMs, undefined);
  });
});

describe('aggregateScan with own destinations', () => {
  it('keeps an own destination that is not among the busiest MAX_DESTINATIONS, and one with no socket at all', () => {
    const busy = Array.from({ length: MAX_DESTINATIONS + 5 }, (_, k) => rows(50, `10.0.0.${k + 1}`, 80, 'ESTABLISHED', 40000 + k * 100)).flat();
    const mine = rows(3, '198.18.0.2', 8080, 'TIME_WAIT', 45000);
    const scan = aggregateScan(rowsCursor([...busy, ...mine]), BUDGET, 1, 0, 'proc', ['198.18.0.2:8080', '198.18.0.3:9090']);
    assert.equal(scan.destinations.length, MAX_DESTINATIONS + 2);
    const own = scan.destinations.filter((d) => d.own);
    assert.deepEqual(
      own.map((d) => [d.dest, d.inUse, d.timeWait]),
      [
        ['198.18.0.2:8080', 3, 3],
        ['198.18.0.3:9090', 0, 0],
      ],
    );
    // 30 000 ms left: step 300 of 100 ms.
    assert.equal(own[0]!.timeWaitLeft?.length, 301);
    assert.equal(own[0]!.timeWaitLeft?.[300], 3);
    assert.equal(own[1]!.timeWaitLeft, undefined);
    // Other destinations carry no `own` flag at all.
    assert.ok(scan.destinations.filter((d) => !d.own).every((d) => !('own' in d)));
  });

  it('counts TIME_WAIT on the own destination as its local end (the target on this host), v4-mapped too', () => {
    const server: ParsedRow[] = [
      { localAddress: '0.0.0.0', localPort: 8080, remoteAddress: '0.0.0.0', remotePort: 0, state: 'LISTEN' },
      { localAddress: '198.18.0.2', localPort: 8080, remoteAddress: '198.18.0.1', remotePort: 40001, state: 'TIME_WAIT' },
      { localAddress: '::ffff:198.18.0.2', localPort: 8080, remoteAddress: '::ffff:198.18.0.1', remotePort: 40002, state: 'TIME_WAIT' },
      // Another address on the same port is not the own destination.
      { localAddress: '198.18.0.9', localPort: 8080, remoteAddress: '198.18.0.1', remotePort: 40003, state: 'TIME_WAIT' },
    ];
    const scan = aggregateScan(rowsCursor(server), BUDGET, 1, 0, 'proc', ['198.18.0.2:8080']);
    assert.equal(scan.ownServerTimeWait, 2);
    assert.equal(scan.server.timeWait, 3);
    assert.equal(canonicalDest('[::ffff:1.2.3.4]:80'), '1.2.3.4:80');
    assert.equal(canonicalDest('[::1]:80'), '[::1]:80');
  });
});

const START = 5_000_000;

function sampleOf(at: number, scan: SocketScan): MonitorSample {
  return { at, lateMs: null, sockstat: null, scan, counters: null, conntrack: null, fds: null };
}

describe('foldMonitor with own destinations', () => {
  const own = ['198.18.0.2:8080'];
  // Before the load: 20 TIME_WAIT toward another port (an earlier run), 4 toward our own one.
  const before = aggregateScan(
    rowsCursor([...rows(20, '198.18.0.2', 7070, 'TIME_WAIT', 40000, (i) => 10_000 + i * 1000), ...rows(4, '198.18.0.2', 8080, 'TIME_WAIT', 41000, () => 2_050)]),
    BUDGET,
    START - 500,
    0,
    'sockdiag',
    own,
  );
  // During the load: the other port is the busier destination, ours is 10 in use with 6 TIME_WAIT.
  const during = aggregateScan(
    rowsCursor([...rows(20, '198.18.0.2', 7070), ...rows(6, '198.18.0.2', 8080, 'TIME_WAIT', 41000), ...rows(4, '198.18.0.2', 8080, 'ESTABLISHED', 42000)]),
    BUDGET,
    START + 500,
    0,
    'sockdiag',
    own,
  );
  const status = { source: 'sockdiag' as const, unavailable: {}, effectiveScanIntervalMs: 1000 };
  const f = foldMonitor([sampleOf(START - 500, before), sampleOf(START + 500, during)], status, {
    startEpochMs: START,
    durationS: 1,
    intervalS: 0.25,
    scanIntervalS: 1,
    usable: 10_000,
    ownDestinations: own,
  });

  it('utilization, own figures, ports and destinations are about the own destination alone', () => {
    const s = f.perSecond.get(0)!.sockets!;
    assert.equal(s.utilization, 0.001);
    assert.equal(s.ownInUse, 10);
    assert.equal(s.ownTimeWait, 6);
    assert.equal(s.ownServerTimeWait, 0);
    assert.equal(s.timeWait, 26); // host-wide, as before
    assert.deepEqual(f.ports, { usable: 10_000, peakInUse: 10, peakUtilization: 0.001, peakTimeWait: 6, busiestDestination: '198.18.0.2:8080' });
    assert.deepEqual(f.destinations, [{ dest: '198.18.0.2:8080', peakInUse: 10, peakTimeWait: 6, peakUtilization: 0.001 }]);
  });

  it('other traffic is reported apart', () => {
    assert.deepEqual(f.otherTraffic, {
      peakInUse: 20,
      peakTimeWait: 20,
      busiestDestination: '198.18.0.2:7070',
      destinations: [{ dest: '198.18.0.2:7070', peakInUse: 20, peakTimeWait: 20, peakUtilization: 0.002 }],
    });
  });

  it('the baseline lists the own destination first, with expiry counted from the load start', () => {
    const b = f.monitor.baseline!;
    assert.equal(b.ageS, 0.5);
    assert.equal(b.byDestination?.length, 2);
    const [mine, other] = b.byDestination!;
    // 2 050 ms left at the baseline scan, 0.5 s before the start: ends 1.5–1.6 s into the load.
    assert.deepEqual(mine, { dest: '198.18.0.2:8080', own: true, inUse: 4, timeWait: 4, timeWaitExpiry: [0, 4] });
    assert.equal(other!.own, false);
    assert.equal(other!.timeWait, 20);
    // 10 s, 11 s, ... 29 s left at the scan: 9.5 s, 10.5 s, ... after the start, one per second.
    assert.deepEqual(other!.timeWaitExpiry!.slice(9), new Array(20).fill(1));
    assert.equal(other!.timeWaitExpiry!.slice(0, 9).reduce((a, b) => a + b, 0), 0);
  });

  it('an own destination with nothing before the load is listed with 0 TIME_WAIT (an empty histogram; null from netstat)', () => {
    const idle = aggregateScan(rowsCursor(rows(2, '10.0.0.1', 80)), BUDGET, START - 100, 0, 'proc', own);
    const g = foldMonitor([sampleOf(START - 100, idle)], status, { startEpochMs: START, durationS: 1, intervalS: 1, scanIntervalS: 1, usable: 10_000, ownDestinations: own });
    assert.deepEqual(g.monitor.baseline?.byDestination?.[0], { dest: '198.18.0.2:8080', own: true, inUse: 0, timeWait: 0, timeWaitExpiry: [] });
    const mac = aggregateScan(rowsCursor(rows(2, '10.0.0.1', 80).map((r) => ({ ...r, timeWaitLeftMs: null }))), BUDGET, START - 100, 0, 'netstat', own);
    const h = foldMonitor([sampleOf(START - 100, mac)], status, { startEpochMs: START, durationS: 1, intervalS: 1, scanIntervalS: 1, usable: 10_000, ownDestinations: own });
    assert.equal(h.monitor.baseline?.byDestination?.[0]?.timeWaitExpiry, null);
    assert.equal(h.monitor.baseline?.byDestination?.[1]?.timeWaitExpiry, null);
  });

  it('no other traffic: otherTraffic is null', () => {
    const alone = aggregateScan(rowsCursor(rows(3, '198.18.0.2', 8080)), BUDGET, START + 100, 0, 'proc', own);
    const g = foldMonitor([sampleOf(START + 100, alone)], status, { startEpochMs: START, durationS: 1, intervalS: 1, scanIntervalS: 1, usable: 10_000, ownDestinations: own });
    assert.equal(g.otherTraffic, null);
    assert.equal(g.ports?.peakInUse, 3);
  });

  it('expiryFromStart drops sockets that ended before the start', () => {
    // 100 ms steps: one at 0.05 s, one at 0.85 s, one at 1.25 s left; 0.5 s later.
    const left = [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1];
    assert.deepEqual(expiryFromStart(left, 0.5), [2]);
    assert.deepEqual(expiryFromStart(left, 0), [2, 1]);
    assert.equal(expiryFromStart(null, 0), null);
  });
});
