/**
 * Connection policies behave as named: checked where TIME_WAIT lands, inside a private network
 * namespace so no other socket on the machine is counted, and through the target's own counters.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fixture, runInNetns } from '../helpers/netns.js';

interface Probe {
  totals: { attempted: number; completed: number; failed: number; connectionsOpened: number };
  errors: Record<string, number>;
  errorsByPhase: Record<string, number>;
  targetStats: { connectionsAccepted: number; closedByServer: number; closedByClient: number; resetByClient: number };
  clientTimeWait: number;
  serverTimeWait: number;
}

const N = 300;

function probe(protocol: 'http' | 'tcp', close: 'client' | 'server' | 'reset', reuse = false, setup: string[] = []): Probe {
  const scenario = {
    name: `policy-${protocol}-${close}`,
    target: 'builtin',
    protocol,
    connection: { reuse, close, poolSize: 4 },
    load: [{ model: 'users', users: 4, iterations: N / 4 }],
    workers: 1,
  };
  return runInNetns<Probe>(fixture('tw-probe.js'), [JSON.stringify(scenario)], setup);
}

// A late ACK can kill a TIME_WAIT socket early (DOMAIN.md), so counts are asserted within 5 %.
const most = (n: number): number => Math.floor(n * 0.95);
const few = (n: number): number => Math.ceil(n * 0.05);

describe('close policies (network namespace)', () => {
  for (const protocol of ['http', 'tcp'] as const) {
    it(`${protocol} close: client leaves TIME_WAIT on the client`, () => {
      const p = probe(protocol, 'client');
      assert.equal(p.totals.completed, N, JSON.stringify(p));
      assert.equal(p.totals.connectionsOpened, N);
      assert.ok(p.clientTimeWait >= most(N), `client TIME_WAIT ${p.clientTimeWait}`);
      assert.ok(p.serverTimeWait <= few(N), `server TIME_WAIT ${p.serverTimeWait}`);
      assert.ok(p.targetStats.closedByClient >= most(N), JSON.stringify(p.targetStats));
    });

    it(`${protocol} close: server leaves TIME_WAIT on the server`, () => {
      const p = probe(protocol, 'server');
      assert.equal(p.totals.completed, N, JSON.stringify(p));
      assert.ok(p.serverTimeWait >= most(N), `server TIME_WAIT ${p.serverTimeWait}`);
      assert.ok(p.clientTimeWait <= few(N), `client TIME_WAIT ${p.clientTimeWait}`);
      assert.ok(p.targetStats.closedByServer >= most(N), JSON.stringify(p.targetStats));
    });

    it(`${protocol} close: reset leaves no TIME_WAIT`, () => {
      const p = probe(protocol, 'reset');
      assert.equal(p.totals.completed, N, JSON.stringify(p));
      assert.ok(p.clientTimeWait + p.serverTimeWait <= few(N), `TIME_WAIT ${p.clientTimeWait}+${p.serverTimeWait}`);
      assert.ok(p.targetStats.resetByClient >= most(N), JSON.stringify(p.targetStats));
    });
  }

  it('reuse: true opens at most poolSize connections', () => {
    const p = probe('http', 'client', true);
    assert.equal(p.totals.completed, N);
    assert.ok(p.totals.connectionsOpened >= 1 && p.totals.connectionsOpened <= 4, `opened ${p.totals.connectionsOpened}`);
    assert.ok(p.targetStats.connectionsAccepted <= 4);
    assert.ok(p.clientTimeWait <= 4);
  });

  it('a narrowed port range runs out: the kernel EADDRNOTAVAIL is recorded as a connect failure', () => {
    // 50 ports, TIME_WAIT reuse off; the built-in target's own listening port may take one of them.
    const p = probe('http', 'client', false, [
      'echo "40000 40049" > /proc/sys/net/ipv4/ip_local_port_range',
      'echo 0 > /proc/sys/net/ipv4/tcp_tw_reuse',
    ]);
    assert.equal(p.totals.attempted, N);
    assert.ok(p.totals.completed >= 49 && p.totals.completed <= 50, `completed ${p.totals.completed}`);
    assert.equal(p.errorsByPhase['connect:EADDRNOTAVAIL'], N - p.totals.completed, JSON.stringify(p.errorsByPhase));
    assert.equal(p.totals.connectionsOpened, p.totals.completed);
  });
});
