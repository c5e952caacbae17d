/**
 * Issue 14's case in a private network namespace: a first run leaves TIME_WAIT toward one port,
 * and a second run against another port must speak of its own destination (headline, ports,
 * destinations, utilization) and report the first run's leftovers as other traffic, with a
 * per-destination baseline that knows when they expire.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BaselineDestination, DestinationSummary, PortsSummary, RunRecord, TimelineSockets } from '../../src/record/types.js';
import { fixture, runInNetns } from '../helpers/netns.js';

interface Figures {
  totals: RunRecord['totals'];
  errors: Record<string, number>;
  ownDestinations: string[];
  ports: PortsSummary | null;
  destinations: DestinationSummary[];
  otherTraffic: RunRecord['otherTraffic'];
  baseline: RunRecord['monitor']['baseline'];
  source: string | null;
  sockets: Array<TimelineSockets | null>;
}

const SETUP = ['echo "40000 44999" > /proc/sys/net/ipv4/ip_local_port_range', 'echo 0 > /proc/sys/net/ipv4/tcp_tw_reuse'];
const FIRST = '127.0.0.1:9101';
const SECOND = '127.0.0.1:9102';
const scenario = (name: string, rate: number, duration: number) => ({
  name,
  protocol: 'http',
  connection: { reuse: false, close: 'client' },
  load: [{ model: 'arrival-rate', rate, duration }],
  workers: 1,
  monitor: { interval: '250ms', scanInterval: '500ms' },
});

describe('a run after another run (network namespace)', () => {
  // The first run is the busier one: 1 200 TIME_WAIT toward :9101; the second makes 400 toward :9102.
  const p = runInNetns<{ first: Figures; second: Figures; ssLeftS: number[] }>(
    fixture('own-dest-probe.js'),
    [JSON.stringify({ first: scenario('first', 800, 1.5), second: scenario('second', 200, 2), gapMs: 3000 })],
    SETUP,
    90_000,
  );
  const { first, second } = p;

  it('the first run: its own destination, no other traffic', () => {
    assert.equal(first.totals.completed, 1200, JSON.stringify(first.errors));
    assert.deepEqual(first.ownDestinations, [FIRST]);
    assert.equal(first.ports?.busiestDestination, FIRST);
    assert.equal(first.otherTraffic, null);
  });

  it('the second run: headline, ports, destinations and utilization are about its own port', () => {
    assert.equal(second.totals.completed, 400, JSON.stringify(second.errors));
    assert.deepEqual(second.ownDestinations, [SECOND]);
    const ports = second.ports!;
    assert.equal(ports.busiestDestination, SECOND);
    assert.ok(ports.peakInUse >= 380 && ports.peakInUse <= 400, `peakInUse ${ports.peakInUse}`);
    assert.ok(ports.peakTimeWait >= 380 && ports.peakTimeWait <= 400, `peakTimeWait ${ports.peakTimeWait}`);
    assert.ok(Math.abs(ports.peakUtilization! - ports.peakInUse / 5000) < 0.001);
    assert.deepEqual(second.destinations.map((d) => d.dest), [SECOND]);
    const last = second.sockets.at(-1)!;
    assert.ok(last.ownInUse! >= 380 && last.ownInUse! <= 400, `ownInUse ${last.ownInUse}`);
    assert.ok(last.ownTimeWait! >= 380, `ownTimeWait ${last.ownTimeWait}`);
    assert.equal(last.ownServerTimeWait, 0);
    // The timeline utilization is the own port's (~400/5000), not the busier other one's (~1 200/5000).
    assert.ok(last.utilization! < 0.1, `utilization ${last.utilization}`);
    // The host-wide TIME_WAIT still counts both.
    assert.ok(last.timeWait >= 1500, `host TIME_WAIT ${last.timeWait}`);
  });

  it('the first run\'s leftovers are other traffic', () => {
    const o = second.otherTraffic!;
    assert.ok(o, 'otherTraffic');
    assert.equal(o.busiestDestination, FIRST);
    assert.ok(o.peakInUse >= 1150 && o.peakInUse <= 1200, `other peakInUse ${o.peakInUse}`);
    assert.ok(o.peakTimeWait >= 1150 && o.peakTimeWait <= 1200, `other peakTimeWait ${o.peakTimeWait}`);
    assert.deepEqual(o.destinations.map((d) => d.dest), [FIRST]);
  });

  it('the baseline: 0 TIME_WAIT toward the own port, the leftovers per destination with when they expire', () => {
    const b = second.baseline!;
    assert.ok(b.ageS !== undefined && b.ageS >= 0 && b.ageS < 2.5, `ageS ${b.ageS}`);
    const [own, other] = b.byDestination as [BaselineDestination, BaselineDestination];
    assert.deepEqual(own, { dest: SECOND, own: true, inUse: 0, timeWait: 0, timeWaitExpiry: [] });
    assert.equal(other.dest, FIRST);
    assert.equal(other.own, false);
    assert.ok(other.timeWait >= 1150 && other.timeWait <= 1200, `baseline TIME_WAIT ${other.timeWait}`);
    const h = other.timeWaitExpiry!;
    assert.ok(h, `no expiry from ${second.source}`);
    assert.ok(h.reduce((a, n) => a + n, 0) >= other.timeWait - 2, `histogram ${h}`);
    // `ss` (just before the second run started) said 55–56 s left; the load started a moment later.
    const ss = [...p.ssLeftS].sort((a, c) => a - c);
    const firstSecond = h.findIndex((n) => n > 0);
    const lastSecond = h.length - 1;
    assert.ok(firstSecond >= ss[0]! - 3 && firstSecond <= ss[0]! + 1, `soonest ${firstSecond} s vs ss ${ss[0]} s`);
    assert.ok(lastSecond >= ss.at(-1)! - 3 && lastSecond <= ss.at(-1)! + 1, `latest ${lastSecond} s vs ss ${ss.at(-1)} s`);
  });
});
