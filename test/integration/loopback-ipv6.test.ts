/**
 * Loopback hides exhaustion over IPv6 exactly as over IPv4 (DOMAIN.md): in a private network
 * namespace with 500 ports and the default tcp_tw_reuse=2, 1 000 client-closed connections at
 * 250/s to the built-in target on ::1 (or 127.0.0.1) all succeed, because the kernel takes over
 * TIME_WAIT ports toward loopback after tcp_tw_reuse_delay (TWRecycled rises), and the capacity
 * model says so (a 1 s hold, healthy). With tcp_tw_reuse=0 the same load to ::1 runs out of ports.
 * The kernel's rule (tcp_twsk_unique) counts ::1 and IPv4-mapped 127.0.0.0/8 as loopback, not
 * fd00::/8: that side is lab-ipv6.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunRecord } from '../../src/record/types.js';
import { fixture, runInNetns } from '../helpers/netns.js';

const RANGE = 'echo "40000 40499" > /proc/sys/net/ipv4/ip_local_port_range';

function run(host: string, setup: string[]): RunRecord {
  const scenario = {
    name: `loopback-${host}`,
    connection: { reuse: false, close: 'client' },
    load: [{ model: 'arrival-rate', rate: 250, duration: 4 }],
    timeouts: { connect: '1s', request: '2s' },
    workers: 1,
  };
  return runInNetns<RunRecord>(fixture('served-run-probe.js'), [JSON.stringify({ host, scenario })], [RANGE, ...setup]);
}

const recycled = (r: RunRecord): number => r.timeline.reduce((a, e) => a + (e.counters?.['TWRecycled'] ?? 0), 0);

describe('loopback with the default tcp_tw_reuse=2 (network namespace, 500 ports, 250/s for 4 s)', () => {
  for (const host of ['::1', '127.0.0.1']) {
    it(`${host}: all 1 000 connections succeed on 500 ports (TIME_WAIT ports recycled); the model holds a port 1 s and finds nothing wrong`, () => {
      const r = run(host, []);
      assert.equal(r.host.tcpTwReuse, 2);
      assert.equal(r.totals.attempted, 1000);
      assert.equal(r.errors.EADDRNOTAVAIL ?? 0, 0, JSON.stringify(r.errors));
      assert.ok(r.totals.completed >= 990, JSON.stringify([r.totals, r.errors]));
      assert.ok(recycled(r) > 0, 'TWRecycled rose');
      assert.deepEqual(r.ownDestinations, [`${host.includes(':') ? `[${host}]` : host}:${new URL(r.target.url).port}`]);
      assert.equal(r.exhaustion?.capacity?.holdS, 1);
      assert.match(r.exhaustion?.capacity?.holdReason ?? '', /tcp_tw_reuse=2 and the destination is on loopback/);
      assert.equal(r.exhaustion?.firstAtS, null);
      assert.equal(r.diagnosis?.[0]?.verdict, 'healthy', JSON.stringify(r.diagnosis?.[0]));
    });
  }

  it('::1 with tcp_tw_reuse=0: the same load runs out of ports after the 500', () => {
    const r = run('::1', ['echo 0 > /proc/sys/net/ipv4/tcp_tw_reuse']);
    const seen = JSON.stringify([r.totals, r.errors, r.exhaustion]);
    assert.ok((r.errors.EADDRNOTAVAIL ?? 0) > 400, seen);
    // Each of the 500 ports serves one connection, then stays in TIME_WAIT; a connection that failed
    // otherwise (a timeout beside other work on two cores) held no TIME_WAIT and frees its port.
    const freedEarly = r.totals.failed - (r.errors.EADDRNOTAVAIL ?? 0);
    assert.ok(r.totals.completed <= 500 + freedEarly + 5, seen);
    assert.equal(r.exhaustion?.capacity?.holdS, 60);
    assert.equal(r.diagnosis?.[0]?.verdict, 'client-port-exhaustion');
    assert.ok(r.diagnosis![0]!.evidence.some((e) => e.includes(`toward [::1]:${new URL(r.target.url).port}`)), r.diagnosis![0]!.evidence.join('\n'));
  });
});
