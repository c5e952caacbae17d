/** The agent's NDJSON lines: checked before use, a bad line is one problem naming where it was. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { agentLine } from '../../src/monitor/agent-protocol.js';
import { parseAgentLine } from '../../src/monitor/agent-lines.js';
import { hostInfo } from '../../src/monitor/host.js';
import { COUNTER_NAMES, zeroStates, type CounterDeltas, type MonitorSample } from '../../src/monitor/types.js';

const sample: MonitorSample = {
  at: 1_700_000_000_000,
  lateMs: 0.4,
  sockstat: { at: 1_700_000_000_000, timeWait: 3, inUse: 4, orphan: 0, alloc: 5, inUse6: 0 },
  scan: {
    at: 1_700_000_000_000,
    costMs: 1.5,
    source: 'sockdiag',
    total: 4,
    states: zeroStates(),
    client: zeroStates(),
    server: zeroStates(),
    ephemeralInUse: 0,
    destinations: [{ dest: '[fd00::2]:8080', inUse: 2, timeWait: 1, established: 1, bySource: null, utilization: 0.002 }],
    sources: {},
  },
  counters: { ...(Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as CounterDeltas), ActiveOpens: 4, TWKilled: null },
  conntrack: null,
  fds: { open: 12, soft: 1024, hard: 4096 },
  cpu: { processUs: 1200, host: null },
};

describe('parseAgentLine', () => {
  it('reads back every line the agent writes', () => {
    const lines = [
      agentLine({ type: 'hello', time: 1, agent: { version: '0.1.0', pid: 42 }, host: hostInfo(), intervalMs: 250, scanIntervalMs: 1000 }),
      agentLine({ type: 'sample', sample }),
      agentLine({ type: 'status', time: 2, status: { source: 'sockdiag', unavailable: {}, effectiveScanIntervalMs: 1000 } }),
      agentLine({ type: 'heartbeat', time: 3 }),
    ];
    for (const l of lines) {
      const r = parseAgentLine(l.trimEnd(), 'agent service');
      assert.ok(r.ok, r.ok ? '' : r.problem);
      assert.deepEqual(r.line, JSON.parse(l));
    }
  });

  it('reads a bare sample (an older monitor --out line) as a sample line', () => {
    const r = parseAgentLine(JSON.stringify(sample), 'samples.ndjson line 1');
    assert.ok(r.ok && r.line.type === 'sample' && r.line.sample.at === sample.at);
  });

  it('refuses what does not parse or match, naming where and what', () => {
    const notJson = parseAgentLine('{"type":"sample"', 'samples.ndjson line 3');
    assert.ok(!notJson.ok && /^samples\.ndjson line 3: not JSON/.test(notJson.problem), JSON.stringify(notJson));
    const bad = parseAgentLine(JSON.stringify({ type: 'sample', sample: { ...sample, sockstat: { ...sample.sockstat, timeWait: -1 } } }), 'agent service');
    assert.ok(!bad.ok && /^agent service: sample\.sockstat\.timeWait: /.test(bad.problem), JSON.stringify(bad));
    const unknown = parseAgentLine('{"type":"reboot"}', 'agent service');
    assert.ok(!unknown.ok && /^agent service: type: /.test(unknown.problem), JSON.stringify(unknown));
    const huge = parseAgentLine('x'.repeat(5 * 1024 * 1024), 'agent service');
    assert.ok(!huge.ok && /a line of \d+ bytes/.test(huge.problem));
  });
});
