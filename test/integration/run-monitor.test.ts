/**
 * A run with the monitor, in a private network namespace with 5 000 ports and TIME_WAIT reuse off:
 * the record shows where the ports went, second by second.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunRecord } from '../../src/record/types.js';
import { fixture, runInNetns } from '../helpers/netns.js';

const SETUP = ['echo "40000 44999" > /proc/sys/net/ipv4/ip_local_port_range', 'echo 0 > /proc/sys/net/ipv4/tcp_tw_reuse'];

function run(close: 'client' | 'server'): RunRecord {
  const scenario = {
    name: `monitor-${close}`,
    connection: { close },
    load: [{ model: 'arrival-rate', rate: 600, duration: 3 }],
    workers: 1,
    monitor: { interval: '250ms', scanInterval: '500ms' },
  };
  return runInNetns<RunRecord>(fixture('run-probe.js'), [JSON.stringify(scenario)], SETUP);
}

const closedByServerOf = (r: RunRecord): number => r.target.stats?.closedByServer ?? 0;

describe('run with the socket monitor (network namespace)', () => {
  it('close: client — client TIME_WAIT rises with the connections, toward the target', () => {
    const r = run('client');
    assert.equal(r.totals.completed, 1800, JSON.stringify(r.errors));
    assert.equal(r.monitor.enabled, true);
    assert.equal(r.monitor.source, 'sockdiag');
    assert.equal(r.host.usablePorts, 5000);
    const target = new URL(r.target.url).host;
    assert.ok(r.ports, 'ports summary');
    assert.equal(r.ports.usable, 5000);
    assert.equal(r.ports.busiestDestination, target);
    // Every connection's port is still in TIME_WAIT at the end (60 s), less the odd early kill.
    assert.ok(r.ports.peakInUse >= 1700 && r.ports.peakInUse <= 1800, `peakInUse ${r.ports.peakInUse}`);
    assert.ok(Math.abs(r.ports.peakUtilization! - r.ports.peakInUse / 5000) < 0.001);
    const d = r.destinations.find((x) => x.dest === target)!;
    assert.ok(d.peakTimeWait >= 1700);
    // Own-destination figures: the client's TIME_WAIT toward the target, none on the target side.
    assert.deepEqual(r.ownDestinations, [target]);
    assert.equal(r.otherTraffic, null);
    const end = r.timeline.at(-1)!.sockets!;
    assert.ok(end.ownTimeWait! >= 1700 && end.ownInUse! >= end.ownTimeWait!, `own ${JSON.stringify(end)}`);
    assert.ok(end.ownServerTimeWait! <= closedByServerOf(r), `ownServerTimeWait ${end.ownServerTimeWait}`);
    // The timeline rises: more TIME_WAIT at the end than after the first second.
    const tw = r.timeline.map((e) => e.sockets?.timeWait ?? -1);
    assert.ok(tw.every((x) => x >= 0), `a second without sockets: ${tw}`);
    assert.ok(tw[tw.length - 1]! > tw[0]! + 900, `timeline TIME_WAIT ${tw}`);
    // Server-side TIME_WAIT only where the target closed first (it counts that itself), and the
    // client closed first on nearly every connection.
    const serverTw = Math.max(...r.timeline.map((e) => e.sockets!.serverTimeWait ?? 0));
    const closedByServer = r.target.stats?.closedByServer ?? -1;
    assert.ok(closedByServer >= 0 && closedByServer <= 18 && serverTw <= closedByServer, `server TIME_WAIT ${serverTw}, target stats ${JSON.stringify(r.target.stats)}`);
    // Kernel counters: ActiveOpens over the run adds up to the connections made.
    const opens = r.timeline.reduce((n, e) => n + (e.counters?.ActiveOpens ?? 0), 0);
    assert.ok(opens >= 1700 && opens <= 1800 + 50, `ActiveOpens ${opens}`);
    assert.ok(r.monitor.scans >= 5 && r.monitor.samples >= r.monitor.scans);
    assert.ok(r.monitor.baseline !== null);
  });

  it('close: server — TIME_WAIT lands on the server side, client ports stay free', () => {
    const r = run('server');
    assert.equal(r.totals.completed, 1800, JSON.stringify(r.errors));
    const last = r.timeline.at(-1)!.sockets!;
    // Client ports are free again at once, so connect() may pick one whose 4-tuple is still in
    // TIME_WAIT on the server; the server's TIME_WAIT socket then gives way to the new SYN. So
    // fewer than 1 800 remain, but most do, and none are on the client side.
    assert.ok(last.serverTimeWait! >= 900, `server TIME_WAIT ${last.serverTimeWait}`);
    assert.ok(last.timeWait >= last.serverTimeWait!);
    assert.ok(r.ports!.peakInUse < 200, `client ports in use ${r.ports!.peakInUse}`);
    // The target listens here: its TIME_WAIT has the own destination as its local end.
    assert.equal(last.ownServerTimeWait, last.serverTimeWait);
    assert.ok(last.ownTimeWait! < 50, `client TIME_WAIT toward the target ${last.ownTimeWait}`);
  });
});
