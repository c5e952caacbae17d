/** The lab's settings without a namespace: the scenario's `lab:` block, the knee search and model. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { labUsablePorts, predictedKnee, searchKnee, type KneeProbe } from '../../src/lab/knee.js';
import { labSysctls } from '../../src/scenario/sysctls.js';
import { parseScenario } from '../../src/scenario/load.js';
import type { Scenario } from '../../src/scenario/schema.js';

const LOAD = [{ model: 'arrival-rate', rate: 100, duration: '2s' }];

function scenario(extra: Record<string, unknown>): Scenario {
  return parseScenario({ name: 't', load: LOAD, ...extra }, 's.yaml');
}

describe('the scenario lab: block', () => {
  it('normalises port range, sysctl keys and values, serve shorthand and both variant forms', () => {
    const s = scenario({
      lab: {
        portRange: '40000-40299',
        sysctls: { tcp_tw_reuse: 0, 'net.ipv4.ip_local_reserved_ports': '40010, 40020-40029' },
        serve: 'node app.js',
        variants: ['baseline', 'tw:sysctl.net.ipv4.tcp_tw_reuse=1,connection.close=reset', { name: 'ka', set: ['connection.reuse=true'] }],
      },
    });
    assert.deepEqual(s.lab, {
      topology: 'single',
      hosts: {},
      portRange: '40000 40299',
      sysctls: { 'net.ipv4.tcp_tw_reuse': '0', 'net.ipv4.ip_local_reserved_ports': '40010,40020-40029' },
      serve: { command: 'node app.js', port: 8080, ready: 10 },
      variants: [
        { name: 'baseline', sysctls: {}, set: [] },
        { name: 'tw', sysctls: { 'net.ipv4.tcp_tw_reuse': '1' }, set: ['connection.close=reset'] },
        { name: 'ka', sysctls: {}, set: ['connection.reuse=true'] },
      ],
    });
    // A resolved scenario is valid input again.
    assert.deepEqual(parseScenario(s, 'again').lab, s.lab);
    assert.equal(scenario({}).lab, undefined);
  });

  it('names the field of every bad lab setting', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ portRange: '50000-40000' }, /s\.yaml: lab\.portRange: net\.ipv4\.ip_local_port_range expects a port range/],
      [{ sysctls: { 'net.ipv4.ip_forward': 1 } }, /s\.yaml: lab\.sysctls\.net\.ipv4\.ip_forward|lab\.sysctls.*ip_forward is not a sysctl the lab sets/],
      [{ sysctls: { tcp_tw_reuse: 5 } }, /lab\.sysctls.*tcp_tw_reuse expects 0, 1 or 2/],
      [{ serve: { command: 'x', port: 70000 } }, /s\.yaml: lab\.serve/],
      [{ serve: { command: 'x', ready: 'soon' } }, /s\.yaml: lab\.serve\.ready/],
      [{ variants: ['a', 'a'] }, /s\.yaml: lab\.variants: expected variant names to differ/],
      [{ variants: ['x:sysctl.kernel.panic=1'] }, /s\.yaml: lab\.variants\[0\]: .*kernel\.panic is not a sysctl the lab sets/],
      [{ variants: [{ name: 'has space' }] }, /s\.yaml: lab\.variants\[0\]\.name/],
      [{ colour: 'red' }, /s\.yaml: lab.*colour/],
    ];
    for (const [lab, re] of bad) assert.throws(() => scenario({ lab }), re, JSON.stringify(lab));
  });

  it('flags override the scenario: default range < lab.portRange < lab.sysctls < --port-range < --sysctl', () => {
    const fromScenario = { portRange: '41000 41099', sysctls: { 'net.ipv4.tcp_tw_reuse': '0', 'net.ipv4.tcp_fin_timeout': '9' } };
    assert.deepEqual(labSysctls(undefined, [], fromScenario), {
      'net.ipv4.ip_local_port_range': '41000 41099',
      'net.ipv4.tcp_tw_reuse': '0',
      'net.ipv4.tcp_fin_timeout': '9',
    });
    assert.deepEqual(labSysctls('42000-42009', ['tcp_tw_reuse=1'], fromScenario), {
      'net.ipv4.ip_local_port_range': '42000 42009',
      'net.ipv4.tcp_tw_reuse': '1',
      'net.ipv4.tcp_fin_timeout': '9',
    });
  });
});

describe('--find-knee', () => {
  /** A lab whose ports last the duration up to `knee` new connections per second. */
  const fakeLab = (knee: number) => async (rate: number): Promise<KneeProbe> => ({
    rate,
    exhaustionErrors: rate > knee ? Math.round((rate - knee) * 2) : 0,
    firstAtS: rate > knee ? (2 * knee) / rate : null,
    completed: Math.min(rate, knee) * 2,
    file: `run-${rate}.json`,
  });

  it('doubles up to the first failure, then bisects to within the tolerance', async () => {
    const r = await searchKnee({ start: 100, tolerance: 0.05, maxProbes: 12, maxRate: 100_000 }, fakeLab(150));
    assert.deepEqual(r.probes.map((p) => p.rate), [100, 200, 150, 175, 163, 157]);
    assert.equal(r.knee, 150);
    assert.equal(r.firstFailing, 157);
  });

  it('bisects down when the first rate already fails, and stops at the probe budget', async () => {
    const r = await searchKnee({ start: 1000, tolerance: 0.01, maxProbes: 4, maxRate: 100_000 }, fakeLab(333));
    assert.deepEqual(r.probes.map((p) => p.rate), [1000, 500, 250, 375]);
    assert.equal(r.knee, 250);
    assert.equal(r.firstFailing, 375);
  });

  it('reports no knee found when every probe up to the cap passes, or every probe fails', async () => {
    const up = await searchKnee({ start: 100, tolerance: 0.05, maxProbes: 10, maxRate: 500 }, fakeLab(10_000));
    assert.deepEqual(up.probes.map((p) => p.rate), [100, 200, 400, 500]);
    assert.equal(up.knee, 500);
    assert.equal(up.firstFailing, null);
    const down = await searchKnee({ start: 8, tolerance: 0.05, maxProbes: 10, maxRate: 500 }, fakeLab(0));
    assert.equal(down.knee, null);
    assert.equal(down.firstFailing, 1);
  });

  it('predicts usable ports / min(duration, TIME_WAIT), per source address; none without client TIME_WAIT', () => {
    const sysctls = { 'net.ipv4.ip_local_port_range': '40000 40299', 'net.ipv4.ip_local_reserved_ports': '40290-40400' };
    assert.equal(labUsablePorts(sysctls), 290);
    assert.equal(predictedKnee(scenario({}), sysctls, 2), 145);
    assert.equal(predictedKnee(scenario({}), sysctls, 120), 290 / 60);
    assert.equal(predictedKnee(scenario({ connection: { localAddresses: ['198.18.0.10', '198.18.0.11'] } }), sysctls, 2), 290);
    assert.equal(predictedKnee(scenario({}), { ...sysctls, 'net.ipv4.tcp_tw_reuse': '1' }, 2), 290);
    assert.equal(predictedKnee(scenario({ connection: { reuse: true } }), sysctls, 2), null);
    assert.equal(predictedKnee(scenario({ connection: { close: 'reset' } }), sysctls, 2), null);
  });
});
