/** The diagnosis of lab topologies (issue 17): snat-port-exhaustion on the router, and the lab model's prediction. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diagnose } from '../../src/analysis/diagnose.js';
import { labPrediction } from '../../src/analysis/lab-prediction.js';
import { readAnalysedRun } from '../../src/analysis/analysed-run.js';
import { runRecordSchema } from '../../src/record/schema.js';
import type { RunRecord, Verdict, VerdictId } from '../../src/record/types.js';
import { chainRecord, natRecord } from '../helpers/synthetic-lab.js';

const named = (vs: Verdict[]) => vs.map((v) => `${v.verdict}@${v.host}`);
function find(vs: Verdict[], id: VerdictId, host: string): Verdict {
  const v = vs.find((x) => x.verdict === id && x.host === host);
  assert.ok(v, `expected ${id} on ${host} in ${JSON.stringify(named(vs))}`);
  return v;
}
const says = (v: Verdict, ...parts: string[]) => {
  const text = v.evidence.join(' ');
  for (const p of parts) assert.ok(text.includes(p), `evidence lacks ${JSON.stringify(p)}: ${text}`);
};
const advises = (v: Verdict, ...parts: string[]) => {
  for (const p of parts) assert.ok(v.advice.some((a) => a.includes(p)), `advice lacks ${JSON.stringify(p)}: ${v.advice.join(' | ')}`);
};

describe('snat-port-exhaustion', () => {
  it('names the router when its insert_failed rises with the client\'s connect timeouts, and no client verdict claims them', () => {
    const vs = diagnose(natRecord());
    const v = find(vs, 'snat-port-exhaustion', 'router');
    assert.equal(v.severity, 'critical');
    assert.equal(v.atS, 0);
    assert.ok(v.confidence >= 0.9, `confidence ${v.confidence}`);
    says(v, '50 ports (40000–40049) × 1 address', '= 50 connections per destination', 'failed 21 conntrack insertions', 'dropped 21 packets', 'CONNECT_TIMEOUT 20', 'Not the client\'s own ports');
    says(v, 'Predicted vs observed', 'expected the first failure at 0 s');
    advises(v, 'snat to A-B', 'keep-alive', 'fewer connections at once', 'secondary IPv4', 'ErrorPortAllocation', 'allocatedOutboundPorts', 'minPortsPerVm', 'ip-masq-agent');
    for (const id of ['client-port-exhaustion', 'conntrack-full', 'target-unreachable', 'other-failures'] as const) {
      assert.ok(!vs.some((x) => x.verdict === id), `${id} should not fire: ${JSON.stringify(named(vs))}`);
    }
    assert.equal(vs[0]!.verdict, 'snat-port-exhaustion');
  });

  it('does not fire without drops on the router', () => {
    const vs = diagnose(natRecord({ drops: false }));
    assert.ok(!vs.some((x) => x.verdict === 'snat-port-exhaustion'), JSON.stringify(named(vs)));
    assert.deepEqual(named(vs), ['healthy@client']);
  });

  it('yields to conntrack-full when the router\'s table is full', () => {
    const vs = diagnose(natRecord({ tableFull: true }));
    find(vs, 'conntrack-full', 'router');
    assert.ok(!vs.some((x) => x.verdict === 'snat-port-exhaustion'), JSON.stringify(named(vs)));
  });

  it('says the range is unknown on a router outside a portstorm lab', () => {
    const r = natRecord();
    delete r.lab;
    const v = find(diagnose(r), 'snat-port-exhaustion', 'router');
    says(v, 'port range and addresses are unknown');
    assert.ok(!v.evidence.some((e) => e.startsWith('Predicted vs observed')));
  });

  it('warns when the router dropped SYNs but every connection made it', () => {
    const r = natRecord();
    r.timeline = r.timeline.map((e) => ({ ...e, failed: 0, errors: {} }));
    r.errors = {};
    r.errorsByPhase = {};
    r.errorSamples = [];
    r.totals = { ...r.totals, failed: 0 };
    const v = find(diagnose(r), 'snat-port-exhaustion', 'router');
    assert.equal(v.severity, 'warning');
    says(v, 'no connect timeout');
  });
});

describe('the lab fixtures', () => {
  const FIX = new URL('../../../test/fixtures/records/', import.meta.url);
  it('lab-nat.json reads as snat-port-exhaustion on router; lab-chain.json as upstream-port-exhaustion on service; both with their prediction', async () => {
    const nat = await readAnalysedRun(new URL('lab-nat.json', FIX).pathname);
    assert.equal(nat.diagnosis?.[0]?.verdict, 'snat-port-exhaustion');
    assert.equal(nat.lab?.topology?.prediction?.budget, 50);
    const chain = await readAnalysedRun(new URL('lab-chain.json', FIX).pathname);
    find(chain.diagnosis ?? [], 'upstream-port-exhaustion', 'service');
    assert.equal(chain.lab?.topology?.prediction?.predictedAtS, 5);
  });
});

describe('labPrediction', () => {
  it('chain: the service\'s 500 ports at 100 requests/s, held 60 s, run out at 5 s; observed from the first 502', () => {
    const p = labPrediction(chainRecord());
    assert.ok(p);
    assert.deepEqual({ host: p.host, budget: p.budget, holdS: p.holdS, basis: p.basis, predictedAtS: p.predictedAtS, observedAtS: p.observedAtS }, { host: 'service', budget: 500, holdS: 60, basis: 'rate', predictedAtS: 5, observedAtS: 5.02 });
    assert.match(p.reason, /one upstream connection/);
  });

  it('chain with upstreamReuse: the pool never runs out (null onset)', () => {
    const p = labPrediction(chainRecord({ upstreamReuse: true }));
    assert.ok(p);
    assert.equal(p.predictedAtS, null);
    assert.equal(p.observedAtS, null);
    assert.match(p.reason, /upstreamReuse/);
  });

  it('nat: 70 users held open against 50 ports × 1 address fail at once; 2 addresses hold them', () => {
    const p = labPrediction(natRecord());
    assert.ok(p);
    assert.deepEqual({ host: p.host, budget: p.budget, holdS: p.holdS, basis: p.basis, predictedAtS: p.predictedAtS, observedAtS: p.observedAtS }, { host: 'router', budget: 50, holdS: 0, basis: 'concurrency', predictedAtS: 0, observedAtS: 2.01 });
    assert.match(p.reason, /TIME_WAIT/);
    const two = labPrediction(natRecord({ addresses: 2, drops: false }));
    assert.equal(two?.budget, 100);
    assert.equal(two?.predictedAtS, null);
  });

  it('nat with a ramp: the onset is when the users held open pass the budget', () => {
    const r = natRecord();
    r.scenario = { ...r.scenario, load: [{ model: 'users', users: 100, rampUp: 10, duration: 10, thinkTime: 0, startAfter: 1 }] };
    // ceil(100 × (t − 1) / 10) > 50 first at t − 1 just past 5.
    const p = labPrediction(r);
    assert.ok(p?.predictedAtS !== null && Math.abs(p!.predictedAtS! - 6.01) < 0.011, `got ${p?.predictedAtS}`);
  });

  it('none for records without a topology', () => {
    const r = chainRecord();
    delete r.lab;
    assert.equal(labPrediction(r), null);
  });

  it('diagnose writes it into the record, quoted in the upstream verdict; the record stays valid', () => {
    const r: RunRecord = chainRecord();
    const vs = diagnose(r);
    assert.equal(r.lab?.topology?.prediction?.predictedAtS, 5);
    const v = find(vs, 'upstream-port-exhaustion', 'service');
    says(v, 'Predicted vs observed', 'expected the first failure at 5', '(+0.02 s)');
    r.diagnosis = vs;
    const parsed = runRecordSchema.safeParse(JSON.parse(JSON.stringify(r)));
    assert.ok(parsed.success, parsed.success ? '' : parsed.error.message);
  });
});
