/**
 * The monitor's Prometheus metrics (src/monitor/prometheus.ts) with the capacity view injected as
 * the CLI injects it: the exposition text Prometheus scrapes, per destination, +Inf where the rate
 * is sustainable, and series that go away with their destination.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PortEtaEstimator } from '../../src/analysis/eta.js';
import { MonitorMetrics } from '../../src/monitor/prometheus.js';
import { COUNTER_NAMES, zeroStates, type CounterDeltas, type DestinationUsage, type MonitorSample } from '../../src/monitor/types.js';

const USABLE = 28_232;
const HOST = { platform: 'linux', timeWaitS: 60, tcpTwReuse: 0, tcpTwReuseDelayMs: 1000, tcpTimestamps: 1 };

const dest = (name: string, inUse: number): DestinationUsage => ({ dest: name, inUse, timeWait: 0, established: inUse, bySource: null, utilization: inUse / USABLE });
function scanSample(at: number, destinations: DestinationUsage[]): MonitorSample {
  const inUse = destinations.reduce((a, d) => a + d.inUse, 0);
  const scan = { at, costMs: 3, source: 'sockdiag' as const, total: inUse, states: zeroStates(), client: zeroStates(), server: zeroStates(), ephemeralInUse: inUse, destinations, sources: {} };
  return { at, lateMs: null, sockstat: null, scan, counters: null, conntrack: null, fds: null };
}
const fastSample = (at: number, opens: number): MonitorSample => ({
  at,
  lateMs: 0,
  sockstat: null,
  scan: null,
  counters: Object.fromEntries(COUNTER_NAMES.map((n) => [n, n === 'ActiveOpens' ? opens : 0])) as CounterDeltas,
  conntrack: null,
  fds: null,
});

/** Every sample line of the exposition text for `metric`, as `labels value`. */
async function lines(m: MonitorMetrics, metric: string): Promise<string[]> {
  const text = await m.registry.metrics();
  return text.split('\n').filter((l) => l.startsWith(metric + '{') || l.startsWith(metric + ' ')).map((l) => l.slice(metric.length));
}

describe('MonitorMetrics: the capacity view', () => {
  it('per destination: ETA (+Inf when sustainable), sustainable rate, new-connection rate and hold', async () => {
    const m = new MonitorMetrics(USABLE, new PortEtaEstimator({ facts: HOST, usable: USABLE }));
    // Toward .5: 0 → 1 000 held in 2 s, 500/s: (28 232 − 1 000) / 500 = 54.5 s. Toward .6: 10 held throughout, no new ones.
    m.update(fastSample(0, 0));
    m.update(scanSample(0, [dest('10.0.0.6:80', 10)]));
    for (let at = 250; at <= 2000; at += 250) m.update(fastSample(at, 125));
    m.update(scanSample(1000, [dest('10.0.0.5:80', 500), dest('10.0.0.6:80', 10)]));
    m.update(scanSample(2000, [dest('10.0.0.5:80', 1000), dest('10.0.0.6:80', 10)]));
    assert.deepEqual(await lines(m, 'portstorm_port_exhaustion_eta_seconds'), ['{dest="10.0.0.5:80"} 54.5', '{dest="10.0.0.6:80"} +Inf']);
    assert.deepEqual(await lines(m, 'portstorm_sustainable_connection_rate'), ['{dest="10.0.0.5:80"} 470.5', '{dest="10.0.0.6:80"} 470.5']);
    assert.deepEqual(await lines(m, 'portstorm_new_connection_rate'), ['{dest="10.0.0.5:80"} 500', '{dest="10.0.0.6:80"} 0']);
    assert.deepEqual(await lines(m, 'portstorm_port_hold_seconds'), ['{dest="10.0.0.5:80"} 60', '{dest="10.0.0.6:80"} 60']);
    assert.deepEqual(await lines(m, 'portstorm_ephemeral_ports_in_use'), ['{dest="10.0.0.5:80"} 1000', '{dest="10.0.0.6:80"} 10']);

    // .6 leaves the scan: its series go, as portstorm_ephemeral_ports_in_use's do.
    m.update(scanSample(3000, [dest('10.0.0.5:80', 1500)]));
    assert.deepEqual((await lines(m, 'portstorm_port_exhaustion_eta_seconds')).map((l) => l.split(' ')[0]), ['{dest="10.0.0.5:80"}']);
    assert.deepEqual((await lines(m, 'portstorm_sustainable_connection_rate')).map((l) => l.split(' ')[0]), ['{dest="10.0.0.5:80"}']);
  });

  it('the first scan gives no rate yet: no ETA series (unknown), the sustainable rate is there', async () => {
    const m = new MonitorMetrics(USABLE, new PortEtaEstimator({ facts: HOST, usable: USABLE }));
    m.update(scanSample(0, [dest('10.0.0.5:80', 100)]));
    assert.deepEqual(await lines(m, 'portstorm_port_exhaustion_eta_seconds'), []);
    assert.deepEqual(await lines(m, 'portstorm_new_connection_rate'), []);
    assert.deepEqual(await lines(m, 'portstorm_sustainable_connection_rate'), ['{dest="10.0.0.5:80"} 470.5']);
  });

  it('without an estimator the capacity gauges stay empty and the rest works as before', async () => {
    const m = new MonitorMetrics(USABLE);
    m.update(scanSample(0, [dest('10.0.0.5:80', 100)]));
    m.update(scanSample(1000, [dest('10.0.0.5:80', 600)]));
    assert.deepEqual(await lines(m, 'portstorm_port_exhaustion_eta_seconds'), []);
    assert.deepEqual(await lines(m, 'portstorm_ephemeral_ports_in_use'), ['{dest="10.0.0.5:80"} 600']);
    assert.deepEqual(await lines(m, 'portstorm_usable_ports'), [' 28232']);
  });
});

describe('MonitorMetrics: kernel counters', () => {
  it('TCP counters go to portstorm_tcp_events_total, the Conntrack* ones to portstorm_conntrack_events_total; a null counter has no series', async () => {
    const m = new MonitorMetrics(USABLE);
    const s = fastSample(0, 3);
    m.update({ ...s, counters: { ...s.counters!, ConntrackInsertFailed: 2, ConntrackDrop: 1, ConntrackEarlyDrop: null } });
    m.update({ ...s, counters: { ...s.counters!, ConntrackInsertFailed: 5, ConntrackDrop: 0, ConntrackEarlyDrop: null } });
    const tcp = await lines(m, 'portstorm_tcp_events_total');
    assert.ok(tcp.includes('{counter="ActiveOpens"} 6'), tcp.join('\n'));
    assert.ok(tcp.every((l) => !l.includes('Conntrack')), tcp.join('\n'));
    assert.deepEqual(await lines(m, 'portstorm_conntrack_events_total'), ['{counter="ConntrackInsertFailed"} 7', '{counter="ConntrackDrop"} 1']);
  });
});
