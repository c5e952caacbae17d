/**
 * The diagnosis end to end in a private network namespace with 500 ports and TIME_WAIT reuse off:
 * a client-closes scenario above the sustainable rate runs out of ports where the model says, and
 * gets `client-port-exhaustion`; the same scenario with `close: server` does not.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunRecord } from '../../src/record/types.js';
import { fixture, runInNetns } from '../helpers/netns.js';

const SETUP = ['echo "40000 40499" > /proc/sys/net/ipv4/ip_local_port_range', 'echo 0 > /proc/sys/net/ipv4/tcp_tw_reuse'];

function run(close: 'client' | 'server'): RunRecord {
  const scenario = {
    name: `diagnosis-${close}`,
    connection: { close },
    // 500 ports / 60 s sustain ≈ 8 new connections/s; 250/s runs out after ≈ 2 s.
    load: [{ model: 'arrival-rate', rate: 250, duration: 4 }],
    timeouts: { connect: '1s', request: '2s' },
    workers: 1,
  };
  return runInNetns<RunRecord>(fixture('run-probe.js'), [JSON.stringify(scenario)], SETUP);
}

describe('diagnosis (network namespace, 500 ports)', () => {
  it('close: client → client-port-exhaustion, onset within 20 % of the prediction', () => {
    const r = run('client');
    const ex = r.exhaustion!;
    assert.ok(r.errors.EADDRNOTAVAIL! > 400, JSON.stringify(r.errors));
    assert.ok(ex.firstAtS !== null && ex.predictedAtS !== null, JSON.stringify(ex));
    assert.ok(Math.abs(ex.firstAtS - ex.predictedAtS) <= 0.2 * ex.predictedAtS, `onset ${ex.firstAtS} vs predicted ${ex.predictedAtS}`);
    assert.ok(Math.abs(ex.predictedAtS - 2) < 0.25, `predicted ${ex.predictedAtS}`);
    const top = r.diagnosis![0]!;
    assert.equal(top.verdict, 'client-port-exhaustion');
    assert.equal(top.severity, 'critical');
    assert.ok(top.confidence >= 0.8, `confidence ${top.confidence}`);
    assert.ok(top.evidence.some((e) => e.includes('EADDRNOTAVAIL')));
    // The last scan before the onset may be up to a scan interval old.
    assert.ok(ex.utilizationAtFirst === null || ex.utilizationAtFirst > 0.5, `utilization at onset ${ex.utilizationAtFirst}`);
  });

  it('close: server → no client port exhaustion', () => {
    const r = run('server');
    assert.equal(r.errors.EADDRNOTAVAIL ?? 0, 0, JSON.stringify(r.errors));
    assert.equal(r.totals.completed, 1000);
    assert.ok(!r.diagnosis!.some((v) => v.verdict === 'client-port-exhaustion' && v.severity === 'critical'), JSON.stringify(r.diagnosis!.map((v) => v.verdict)));
    assert.equal(r.exhaustion!.firstAtS, null);
    assert.equal(r.exhaustion!.predictedAtS, null);
  });
});
