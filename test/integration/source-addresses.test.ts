/**
 * Source addresses in private network namespaces (`unshare -rn`; traffic stays inside them):
 * - the failing syscall is recorded: an address the namespace lacks fails bind() with EADDRNOTAVAIL
 *   (`bind:EADDRNOTAVAIL`), a real exhaustion fails connect() (`connect:EADDRNOTAVAIL`), on both engines;
 * - the port budget of two sources × two destinations with 200 ports and TIME_WAIT reuse off: ~200 per
 *   source across both destinations when bind() picks the port (node:net), ~200 per source and
 *   destination when connect() does (the native engine with IP_BIND_ADDRESS_NO_PORT);
 * - the same over IPv6 (fd00::1 and fd00::11 toward fd00::2 and fd00::3): the engine sets
 *   IP_BIND_ADDRESS_NO_PORT at level IPPROTO_IP on its AF_INET6 sockets too (Linux's
 *   ipv6_setsockopt hands SOL_IP options to the IPv4 code, which sets the flag that inet6_bind
 *   reads), and
 *   net.ipv4.ip_local_port_range and tcp_tw_reuse bound IPv6 connections as well.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadNativeEngine } from '../../src/load/transport/native-engine.js';
import type { RunRecord } from '../../src/record/types.js';
import type { SourceBudgetProbe } from '../fixtures/source-budget-probe.js';
import { hostPort } from '../../src/vocab/address.js';
import { fixture, runInNetns } from '../helpers/netns.js';

const ENGINES = ['js', 'native'] as const;
type Engine = (typeof ENGINES)[number];
const NO_REUSE = 'echo 0 > /proc/sys/net/ipv4/tcp_tw_reuse';

function runRecord(engine: Engine, doc: Record<string, unknown>, setup: string[]): RunRecord {
  const scenario = { name: `source-${engine}`, monitor: { enabled: false }, workers: 1, timeouts: { connect: '1s', request: '2s' }, ...doc };
  return runInNetns<RunRecord>(fixture('run-probe.js'), [JSON.stringify(scenario)], [`export PORTSTORM_ENGINE=${engine}`, ...setup]);
}

/** Within `rel` of `expected` (TIME_WAIT sockets a late segment kills free a few ports early: DOMAIN.md). */
function near(actual: number, expected: number, rel: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= expected * rel, `${what}: ${actual}, expected ≈ ${expected}`);
}

describe('source addresses (network namespace)', () => {
  it('the native engine is available (it carries IP_BIND_ADDRESS_NO_PORT)', () => {
    const native = loadNativeEngine();
    assert.ok(native.available, native.available ? '' : native.reason);
  });

  for (const engine of ENGINES) {
    it(`${engine}: a source address the host lacks fails bind() with EADDRNOTAVAIL, recorded as bind:EADDRNOTAVAIL`, () => {
      const r = runRecord(engine, { connection: { localAddresses: ['198.18.9.9'] }, load: [{ model: 'users', users: 1, iterations: 20 }] }, []);
      assert.equal(r.engine?.engine, engine);
      assert.equal(r.totals.attempted, 20);
      assert.deepEqual(r.errors, { EADDRNOTAVAIL: 20 });
      assert.deepEqual(r.errorsBySyscall, { 'bind:EADDRNOTAVAIL': 20 });
      assert.deepEqual(
        r.errorSamples.map((s) => [s.code, s.phase, s.syscall]),
        [['EADDRNOTAVAIL', 'connect', 'bind']],
      );
      assert.match(r.errorSamples[0]!.message, /^bind EADDRNOTAVAIL 198\.18\.9\.9/);
      assert.equal(r.sourceStrategy, engine === 'native' ? 'bind-no-port' : 'bind');
      // The host's addresses say why: 198.18.9.9 is not one of them.
      assert.ok(r.host.localAddresses?.includes('127.0.0.1'), JSON.stringify(r.host.localAddresses));
      assert.ok(!r.host.localAddresses?.includes('198.18.9.9'));
    });

    it(`${engine}: ports that run out fail connect() with EADDRNOTAVAIL, recorded as connect:EADDRNOTAVAIL`, () => {
      // 50 ports, no reuse: the 100 one-shot requests outnumber them (the built-in target's own
      // listening port comes from the same range).
      const r = runRecord(engine, { load: [{ model: 'users', users: 1, iterations: 100 }] }, ['echo "40000 40049" > /proc/sys/net/ipv4/ip_local_port_range', NO_REUSE]);
      assert.equal(r.engine?.engine, engine);
      assert.equal(r.sourceStrategy, 'kernel');
      assert.equal(r.totals.attempted, 100);
      assert.ok(r.totals.completed >= 45 && r.totals.completed <= 52, `completed ${r.totals.completed}`);
      assert.deepEqual(r.errorsBySyscall, { 'connect:EADDRNOTAVAIL': r.totals.failed }, JSON.stringify(r.errors));
      assert.equal(r.errorSamples[0]?.syscall, 'connect');
    });
  }

  for (const family of [4, 6] as const) {
    describe(`IPv${family}: two sources × two destinations, 200 ports, TIME_WAIT reuse off`, () => {
      const SOURCES = family === 4 ? ['198.18.0.1', '198.18.0.11'] : ['fd00::1', 'fd00::11'];
      const DESTINATIONS: Array<[string, number]> =
        family === 4
          ? [
              ['198.18.0.2', 8080],
              ['198.18.0.3', 8080],
            ]
          : [
              ['fd00::2', 8080],
              ['fd00::3', 8080],
            ];
      const SETUP = [
        ...[...SOURCES, ...DESTINATIONS.map(([h]) => h)].map((a) => (family === 4 ? `ip addr add ${a}/32 dev lo` : `ip -6 addr add ${a}/128 dev lo nodad`)),
        'echo "40000 40199" > /proc/sys/net/ipv4/ip_local_port_range',
        NO_REUSE,
      ];
      const probe = (engine: Engine): SourceBudgetProbe =>
        runInNetns<SourceBudgetProbe>(
          fixture('source-budget-probe.js'),
          [JSON.stringify({ engine, sources: SOURCES, destinations: DESTINATIONS, attempts: 1200, concurrency: 4, deadlineMs: 30_000 })],
          SETUP,
        );

      it('bind() before connect() (node:net): ~200 connections per source across both destinations, then connect:EADDRINUSE', () => {
        const p = probe('js');
        assert.equal(p.sourceStrategy, 'bind');
        assert.equal(p.attempted, 1200);
        near(p.completed, 400, 0.05, `completed ${JSON.stringify(p)}`);
        for (const [h, port] of DESTINATIONS) near(p.completedByDestination[hostPort(h, port)] ?? 0, 200, 0.1, `toward ${h}`);
        // The implicit bind finds no port of the source free; Node reports it from connect().
        assert.deepEqual(Object.keys(p.failures), ['connect:EADDRINUSE'], JSON.stringify(p.failures));
      });

      it('IP_BIND_ADDRESS_NO_PORT (native): ~200 per source and destination, twice as many, then connect:EADDRNOTAVAIL', () => {
        const p = probe('native');
        assert.equal(p.sourceStrategy, 'bind-no-port');
        assert.equal(p.attempted, 1200);
        near(p.completed, 800, 0.05, `completed ${JSON.stringify(p)}`);
        for (const [h, port] of DESTINATIONS) near(p.completedByDestination[hostPort(h, port)] ?? 0, 400, 0.1, `toward ${h}`);
        assert.deepEqual(Object.keys(p.failures), ['connect:EADDRNOTAVAIL'], JSON.stringify(p.failures));
      });
    });
  }
});
