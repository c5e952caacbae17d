/** The Linux monitor sources on /proc text captured in a network namespace (test/fixtures/proc). */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { aggregateScan, rowsCursor, usablePorts } from '../../src/monitor/aggregate.js';
import { hostInfo, parsePortRange, parseReservedPorts } from '../../src/monitor/host.js';
import { counterDeltas, joinCounters, LinuxProc, parseCounterTable, parseNofile, parseSockstat, pickCounters } from '../../src/monitor/linux.js';
import { parseProcNetTcp } from '../../src/monitor/proc-net-tcp.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/proc/', import.meta.url));
const fixture = (name: string): string =>
  name.endsWith('.gz') ? gunzipSync(readFileSync(path.join(FIX, name))).toString('utf8') : readFileSync(path.join(FIX, name), 'utf8');

// Captured with 12 000 connections to 127.0.0.1:8080 closed client-first (tcp_tw_reuse=0), four
// open ones, and IPv6 connections to [::1]:9090 of which three were closed client-first.
const tcp = fixture('tcp.txt.gz');
const tcp6 = fixture('tcp6.txt');

describe('/proc/net/tcp parser', () => {
  it('parses a 12 009-row table (the sl column past 9999 included)', () => {
    const rows = parseProcNetTcp(tcp);
    assert.equal(rows.length, 12_009);
    assert.ok(tcp.includes('10000: '), 'fixture has sl >= 10000');
    const tw = rows.filter((r) => r.state === 'TIME_WAIT');
    assert.equal(tw.length, 12_000);
    assert.ok(tw.every((r) => r.remoteAddress === '127.0.0.1' && r.remotePort === 8080 && r.localPort >= 32768 && r.localPort <= 60999));
    assert.equal(rows.filter((r) => r.state === 'LISTEN' && r.localPort === 8080).length, 1);
  });

  it('parses IPv6 rows', () => {
    const rows = parseProcNetTcp(tcp6);
    assert.ok(rows.length >= 6);
    assert.ok(rows.some((r) => r.state === 'LISTEN' && r.localAddress === '::1' && r.localPort === 9090));
    assert.ok(rows.filter((r) => r.remotePort === 9090).every((r) => r.remoteAddress === '::1'));
  });

  it('skips the header and malformed lines', () => {
    assert.deepEqual(parseProcNetTcp('  sl  local_address rem_address st\ngarbage\n  0: zz:zz 00:00 06\n'), []);
  });
});

describe('scan aggregation', () => {
  it('splits client and server sockets and measures the budget per destination', () => {
    const rows = [...parseProcNetTcp(tcp), ...parseProcNetTcp(tcp6)];
    const scan = aggregateScan(rowsCursor(rows), { range: [32768, 60999], usable: 28_232 }, 1, 0, 'proc');
    assert.equal(scan.total, rows.length);
    assert.equal(scan.states.timeWait, 12_003);
    assert.equal(scan.client.timeWait, 12_003);
    assert.equal(scan.server.timeWait, 0);
    assert.equal(scan.server.listen, 2);
    const d = scan.destinations[0]!;
    assert.equal(d.dest, '127.0.0.1:8080');
    assert.equal(d.timeWait, 12_000);
    assert.equal(d.inUse, 12_004);
    assert.equal(d.utilization, Math.round((12_004 / 28_232) * 10_000) / 10_000);
    assert.equal(scan.destinations[1]?.dest, '[::1]:9090');
    assert.equal(scan.ephemeralInUse, 12_004 + scan.destinations[1]!.inUse);
    assert.deepEqual(Object.keys(scan.sources).sort(), ['127.0.0.1', '::1']);
  });

  it('TIME_WAIT on a listening port counts as server side', () => {
    const rows = [
      { localAddress: '10.0.0.1', localPort: 80, remoteAddress: '0.0.0.0', remotePort: 0, state: 'LISTEN' },
      ...Array.from({ length: 7 }, (_, i) => ({ localAddress: '10.0.0.1', localPort: 80, remoteAddress: '10.0.0.2', remotePort: 40000 + i, state: 'TIME_WAIT' })),
    ];
    const scan = aggregateScan(rowsCursor(rows), { range: [32768, 60999], usable: 28_232 }, 1, 0, 'proc');
    assert.equal(scan.server.timeWait, 7);
    assert.equal(scan.client.timeWait, 0);
    assert.equal(scan.ephemeralInUse, 0);
    assert.deepEqual(scan.destinations, []);
  });

  it('several source addresses: per-source counts and the busiest source sets utilization', () => {
    const row = (src: string, i: number) => ({ localAddress: src, localPort: 40000 + i, remoteAddress: '198.18.0.2', remotePort: 80, state: 'TIME_WAIT' });
    const rows = [...Array.from({ length: 30 }, (_, i) => row('198.18.0.1', i)), ...Array.from({ length: 10 }, (_, i) => row('198.18.0.3', i))];
    const scan = aggregateScan(rowsCursor(rows), { range: [40000, 40099], usable: 100 }, 1, 0, 'proc');
    assert.deepEqual(scan.destinations[0]!.bySource, { '198.18.0.1': 30, '198.18.0.3': 10 });
    assert.equal(scan.destinations[0]!.utilization, 0.3);
  });

  it('usable ports: the range less reserved ports inside it', () => {
    assert.equal(usablePorts([32768, 60999], []), 28_232);
    assert.equal(usablePorts([40000, 40999], [[40000, 40009], [50000, 50010]]), 990);
    assert.equal(usablePorts([40000, 40999], [[39990, 40001]]), 998);
  });
});

describe('sockstat, counters, limits', () => {
  it('sockstat: TIME_WAIT, in use, orphans; sockstat6 in use', () => {
    const s = parseSockstat(fixture('sockstat.txt'), fixture('sockstat6.txt'), 5)!;
    assert.equal(s.timeWait, 12_003);
    assert.equal(s.inUse, 9);
    assert.equal(s.at, 5);
    assert.equal(typeof s.inUse6, 'number');
    assert.equal(parseSockstat('nothing here', null, 0), null);
  });

  it('counters: every followed counter found, deltas subtract', () => {
    const values = pickCounters(parseCounterTable(fixture('netstat.txt')), parseCounterTable(fixture('snmp.txt')));
    for (const [k, v] of Object.entries(values)) assert.equal(typeof v, 'number', k);
    assert.ok(values.ActiveOpens! >= 12_000);
    assert.ok(values.TW! >= 0);
    const first = joinCounters(values, null)!;
    const later = { ...first, ActiveOpens: values.ActiveOpens! + 250, TW: null };
    const d = counterDeltas(first, later);
    assert.equal(d.ActiveOpens, 250);
    assert.equal(d.TW, null);
    assert.equal(d.OutRsts, 0);
  });

  it('nofile limits', () => {
    const n = parseNofile(fixture('limits.txt'));
    assert.ok(n.soft !== null && n.hard !== null && n.soft <= n.hard);
    assert.deepEqual(parseNofile('Max open files            unlimited            unlimited            files'), { soft: null, hard: null });
  });
});

describe('host settings', () => {
  it('parses the port range and reserved ports', () => {
    assert.deepEqual(parsePortRange('32768\t60999\n'), [32768, 60999]);
    assert.equal(parsePortRange('60999 32768'), null);
    assert.deepEqual(parseReservedPorts('8080,9000-9010\n'), [[8080, 8080], [9000, 9010]]);
    assert.deepEqual(parseReservedPorts(''), []);
    assert.equal(parseReservedPorts('80-x'), null);
  });

  it('reads a /proc tree; what is missing is null with a reason, never a guess', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'ps-proc-'));
    mkdirSync(path.join(root, 'sys/net/ipv4'), { recursive: true });
    writeFileSync(path.join(root, 'sys/net/ipv4/ip_local_port_range'), '40000\t40999\n');
    writeFileSync(path.join(root, 'sys/net/ipv4/ip_local_reserved_ports'), '40000-40009\n');
    writeFileSync(path.join(root, 'sys/net/ipv4/tcp_tw_reuse'), '2\n');
    const h = hostInfo(root);
    assert.deepEqual(h.portRange, [40000, 40999]);
    assert.equal(h.usablePorts, 990);
    assert.equal(h.tcpTwReuse, 2);
    assert.equal(h.somaxconn, null);
    assert.match(h.unavailable.somaxconn!, /cannot read .*somaxconn/);
    assert.equal(h.conntrackMax, null);
    assert.ok('conntrackMax' in h.unavailable);
    assert.ok(!('tcpTwReuse' in h.unavailable));
  });

  it('a missing source reads as null', () => {
    const proc = new LinuxProc(mkdtempSync(path.join(os.tmpdir(), 'ps-empty-')));
    assert.equal(proc.sockstat(0), null);
    assert.equal(proc.counters(), null);
    assert.equal(proc.conntrack(), null);
    assert.equal(proc.fds(), null);
  });
});
