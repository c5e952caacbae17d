import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diagnoseHost } from '../../src/analysis/doctor.js';
import { connectionRate, secondsToExhaustion, sustainableRate } from '../../src/analysis/capacity.js';
import type { HostInfo } from '../../src/record/types.js';
import { zeroStates, type SocketScan } from '../../src/monitor/types.js';
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
});
