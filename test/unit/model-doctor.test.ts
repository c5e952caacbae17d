import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diagnoseHost } from '../../src/analysis/doctor.js';
import { connectionRate, secondsToExhaustion, sustainableRate } from '../../src/analysis/capacity.js';
import type { HostInfo } from '../../src/record/types.js';
import { zeroStates, type SocketScan } from '../../src/monitor/types.js';
import { renderDoctor } from '../../src/report/doctor-text.js';
import { LINUX_HOST } from '../helpers/synthetic-record.js';

const host: HostInfo = { ...LINUX_HOST, conntrackMax: null, unavailable: { conntrackMax: 'no nf_conntrack' } };

describe('capacity model (DOMAIN.md figures)', () => {
  it('sustainable rate = usable / TIME_WAIT, times sources and destinations', () => {
    assert.ok(Math.abs(sustainableRate(28_232, 60) - 470.5) < 0.1);
    assert.ok(Math.abs(sustainableRate(64_512, 60) - 1075.2) < 0.1);
    assert.ok(Math.abs(sustainableRate(28_232, 60, 6) - 470.5 * 6) < 0.5);
  });

  it('time to the first failure from empty: ≈ 28 s at 1 000/s, ≈ 5.6 s at 5 000/s; none when sustainable', () => {
    assert.ok(Math.abs(secondsToExhaustion(1000, 28_232, 0, 60)! - 28.232) < 1e-9);
    assert.ok(Math.abs(secondsToExhaustion(5000, 28_232, 0, 60)! - 5.6464) < 1e-9);
    assert.equal(secondsToExhaustion(400, 28_232, 0, 60), null);
    assert.equal(secondsToExhaustion(250, 500, 0, 60)!, 2); // the namespace measurement: 500 ports at 250/s
    assert.ok(Math.abs(secondsToExhaustion(1000, 28_232, 10_000, 60)! - 18.232) < 1e-9);
  });

  it('keep-alive divides the connection rate', () => {
    assert.equal(connectionRate(1000, 100), 10);
    assert.equal(connectionRate(1000, 0), 1000);
  });
});

describe('doctor', () => {
  const scan = (inUse: number): SocketScan => ({
    at: 0,
    costMs: 1,
    source: 'proc',
    total: inUse,
    states: { ...zeroStates(), timeWait: inUse },
    client: { ...zeroStates(), timeWait: inUse },
    server: zeroStates(),
    ephemeralInUse: inUse,
    destinations: [{ dest: '10.0.0.5:443', inUse, timeWait: inUse, established: 0, bySource: null, utilization: inUse / 28_232 }],
    sources: {},
  });

  it('reports budget, current use, time at a rate, and warns past half the range', () => {
    const r = diagnoseHost(host, scan(20_000), 1000, null);
    assert.equal(r.sustainableRate, 471);
    assert.equal(r.now?.destination, '10.0.0.5:443');
    assert.equal(r.atRate?.secondsToExhaustion, 8.2);
    assert.ok(r.warnings.some((w) => w.includes('71 % of the ports toward 10.0.0.5:443')));
    assert.ok(r.warnings.some((w) => w.includes('loopback only')));
    assert.ok(r.advice.some((a) => a.id === 'raise-nofile'), 'soft < hard');
    for (const a of r.advice) assert.ok(a.tradeOff.length > 10, a.id);
  });

  it('a sustainable rate and an unknown destination', () => {
    const r = diagnoseHost(host, scan(10), 100, '192.168.1.1:80');
    assert.deepEqual(r.atRate, { rate: 100, secondsToExhaustion: null, sustainable: true });
    assert.equal(r.now?.destination, '192.168.1.1:80');
    assert.equal(r.now?.inUse, 0);
  });

  it('the hold follows tcp_tw_reuse: 60 s off loopback with =2, 1 s toward loopback, 1 s everywhere with =1', () => {
    const def = diagnoseHost(host, scan(10), 1000, null);
    assert.equal(def.holdS, 60);
    assert.equal(def.loopbackHoldS, 1);
    const loop = diagnoseHost(host, scan(10), 1000, '127.0.0.1:8080');
    assert.equal(loop.holdS, 1);
    assert.equal(loop.sustainableRate, 28_232);
    assert.deepEqual(loop.atRate, { rate: 1000, secondsToExhaustion: null, sustainable: true });
    const reuse = diagnoseHost({ ...host, tcpTwReuse: 1, tcpTwReuseDelayMs: 500 }, scan(10), 1000, null);
    assert.equal(reuse.holdS, 0.5);
    assert.equal(reuse.sustainableRate, 56_464, '28 232 ports / 0.5 s');
    assert.match(renderDoctor(reuse), /port hold {9}0\.5 s after close: tcp_tw_reuse=1/);
  });

  it('macOS: 2 × MSL, a budget per source address, and no Linux-only advice', () => {
    const mac: HostInfo = { ...host, platform: 'darwin', portRange: [49_152, 65_535], usablePorts: 16_384, timeWaitS: 30, tcpTwReuse: null, tcpTwReuseDelayMs: null };
    const r = diagnoseHost(mac, scan(10), 1000, null);
    assert.equal(r.holdS, 30);
    assert.equal(r.budgetScope, 'source');
    assert.equal(r.sustainableRate, 546, '16 384 / 30 s');
    assert.ok(!r.advice.some((a) => a.id === 'more-destinations' || a.id === 'tw-reuse'), r.advice.map((a) => a.id).join());
    assert.ok(r.advice.some((a) => a.action.includes('net.inet.tcp.msl')));
    const win = diagnoseHost({ ...mac, platform: 'win32', timeWaitS: null }, null, null, null);
    assert.equal(win.holdS, 120);
    assert.equal(win.sustainableRate, 137, '16 384 / 120 s');
  });
});

