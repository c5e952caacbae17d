/**
 * The macOS and Windows netstat / sysctl / netsh parsers, on output captured from real machines
 * (test/fixtures/netstat, provenance in SOURCES.md) and on large generated tables.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nonLinuxPortFacts } from '../../src/monitor/host.js';
import { aggregateScan, rowsCursor, usablePorts, type ParsedRow } from '../../src/monitor/aggregate.js';
import {
  countUnknownStates,
  MAC_SYSCTL_NAMES,
  netstatCommand,
  parseMacPortRange,
  parseNetstatMac,
  parseNetstatWindows,
  parseWindowsDynamicPort,
} from '../../src/monitor/netstat.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/netstat/', import.meta.url));
const fixture = (name: string): string => readFileSync(FIX + name, 'utf8');

const MAC_RANGE: [number, number] = [49152, 65535];
const WIN_RANGE: [number, number] = [49152, 65535];

function byState(rows: readonly ParsedRow[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) out[r.state] = (out[r.state] ?? 0) + 1;
  return out;
}

function scan(rows: readonly ParsedRow[], range: [number, number]) {
  return aggregateScan(rowsCursor(rows), { range, usable: usablePorts(range, []) }, 1_000, 5, 'netstat');
}

const has = (rows: readonly ParsedRow[], row: ParsedRow): boolean =>
  rows.some((r) => JSON.stringify(r) === JSON.stringify(row));

describe('parseNetstatMac on captured output', () => {
  it('macOS 15 `netstat -atn`: rows, states, wildcards; IPv6 cut to 16 characters is skipped', () => {
    const rows = parseNetstatMac(fixture('macos15-netstat-atn.txt'));
    // 27 tcp rows; the two fe80 rows have a local address cut to "fe80::3ec3:369f:" (no -l).
    assert.equal(rows.length, 25);
    assert.deepEqual(byState(rows), { ESTABLISHED: 14, LISTEN: 10, TIME_WAIT: 1 });
    assert.ok(has(rows, { localAddress: '10.3.204.51', localPort: 50436, remoteAddress: '185.60.219.174', remotePort: 443, state: 'ESTABLISHED' }));
    assert.ok(has(rows, { localAddress: '10.3.204.51', localPort: 53783, remoteAddress: '17.253.37.214', remotePort: 80, state: 'TIME_WAIT' }));
    assert.ok(has(rows, { localAddress: '127.0.0.1', localPort: 6463, remoteAddress: '0.0.0.0', remotePort: 0, state: 'LISTEN' }));
    assert.ok(has(rows, { localAddress: '::', localPort: 49657, remoteAddress: '::', remotePort: 0, state: 'LISTEN' }));
    assert.ok(has(rows, { localAddress: '0.0.0.0', localPort: 49657, remoteAddress: '0.0.0.0', remotePort: 0, state: 'LISTEN' }));
    assert.ok(!rows.some((r) => r.localAddress.startsWith('fe80')));
  });

  it('macOS `netstat -anv | grep LISTEN`: -v columns, ::1, tcp46', () => {
    const rows = parseNetstatMac(fixture('macos-netstat-anv-listen.txt'));
    // 21 lines; 6 with a cut fe80 address are skipped.
    assert.equal(rows.length, 15);
    assert.ok(rows.every((r) => r.state === 'LISTEN'));
    assert.ok(has(rows, { localAddress: '::1', localPort: 631, remoteAddress: '::', remotePort: 0, state: 'LISTEN' }));
    assert.ok(has(rows, { localAddress: '127.0.0.1', localPort: 631, remoteAddress: '0.0.0.0', remotePort: 0, state: 'LISTEN' }));
    assert.ok(has(rows, { localAddress: '::', localPort: 3283, remoteAddress: '::', remotePort: 0, state: 'LISTEN' })); // tcp46
    assert.ok(has(rows, { localAddress: '0.0.0.0', localPort: 15018, remoteAddress: '0.0.0.0', remotePort: 0, state: 'LISTEN' }));
    assert.equal(rows.filter((r) => r.localPort === 22).length, 2);
  });

  it('aggregates the capture into client and server sockets', () => {
    const s = scan(parseNetstatMac(fixture('macos15-netstat-atn.txt')), MAC_RANGE);
    assert.equal(s.source, 'netstat');
    assert.equal(s.total, 25);
    assert.equal(s.server.listen, 10);
    assert.equal(s.client.established, 14);
    assert.equal(s.client.timeWait, 1);
    assert.equal(s.ephemeralInUse, 15);
    assert.deepEqual(s.sources, { '10.3.204.51': 15 });
    const github = s.destinations.find((d) => d.dest === '104.18.32.47:443');
    assert.deepEqual(github && [github.inUse, github.established, github.utilization], [2, 2, 0.0001]);
    const tw = s.destinations.find((d) => d.dest === '17.253.37.214:80');
    assert.equal(tw?.timeWait, 1);
  });
});

describe('parseNetstatMac on other shapes', () => {
  it('reads full IPv6 addresses (-l), strips %scope, maps SYN_RCVD, ignores trailing columns', () => {
    const text = [
      'Active Internet connections (including servers)',
      'Proto Recv-Q Send-Q  Local Address                                 Foreign Address                               (state)',
      'tcp6       0      0  fe80::1%lo0.49152                             fe80::1%lo0.8080                              ESTABLISHED',
      'tcp6       0      0  2001:db8::1:2:3:4.50001                       2001:db8::99.443                              SYN_RCVD',
      'tcp4       0      0  127.0.0.1.8080         127.0.0.1.54012        ESTABLISHED       194371       802811  408300  146988  Some Helper:63389  00102 00000004',
      'tcp4       0      0  *.*                    *.*                    CLOSED',
      'udp4       0      0  *.5353                 *.*',
    ].join('\n');
    assert.deepEqual(parseNetstatMac(text), [
      { localAddress: 'fe80::1', localPort: 49152, remoteAddress: 'fe80::1', remotePort: 8080, state: 'ESTABLISHED' },
      { localAddress: '2001:db8::1:2:3:4', localPort: 50001, remoteAddress: '2001:db8::99', remotePort: 443, state: 'SYN_RECEIVED' },
      { localAddress: '127.0.0.1', localPort: 8080, remoteAddress: '127.0.0.1', remotePort: 54012, state: 'ESTABLISHED' },
      { localAddress: '0.0.0.0', localPort: 0, remoteAddress: '0.0.0.0', remotePort: 0, state: 'CLOSED' },
    ]);
  });

  it('skips malformed lines without throwing', () => {
    const text = [
      '',
      'garbage',
      'tcp4',
      'tcp4       0      0  127.0.0.1.70000        127.0.0.1.80           ESTABLISHED', // port > 65535
      'tcp4       0      0  localhost.8080         localhost.5000         ESTABLISHED', // names, not -n
      'tcp4       x      0  127.0.0.1.8080         127.0.0.1.5000         ESTABLISHED',
      'tcp4       0      0  127.0.0.1              127.0.0.1.5000         ESTABLISHED', // no port
      'tcp5       0      0  127.0.0.1.8080         127.0.0.1.5000         ESTABLISHED',
      '7fb03cb94d505aed cedd0cbf tcp4       0      0  192.168.1.221.5486 140.82.113.26.443  ESTABLISHED', // -A
      'tcp4       0      0  127.0.0.1.8080         127.0.0.1.5000', // no state
    ].join('\n');
    assert.deepEqual(parseNetstatMac(text), []);
  });
});

describe('parseNetstatWindows on captured output', () => {
  it('Windows 10 `netstat -an` (CRLF): TCP rows only, IPv6 in brackets', () => {
    const text = fixture('windows10-netstat-an.txt');
    assert.ok(text.includes('\r\n'));
    const rows = parseNetstatWindows(text);
    assert.equal(rows.length, 80);
    assert.deepEqual(byState(rows), { LISTENING: 48, ESTABLISHED: 32 });
    assert.ok(has(rows, { localAddress: '0.0.0.0', localPort: 135, remoteAddress: '0.0.0.0', remotePort: 0, state: 'LISTENING' }));
    assert.ok(has(rows, { localAddress: '127.0.0.1', localPort: 30785, remoteAddress: '127.0.0.1', remotePort: 30786, state: 'ESTABLISHED' }));
    assert.ok(has(rows, { localAddress: '::', localPort: 49681, remoteAddress: '::', remotePort: 0, state: 'LISTENING' }));
    assert.ok(has(rows, { localAddress: '::1', localPort: 8307, remoteAddress: '::', remotePort: 0, state: 'LISTENING' }));
    assert.ok(!rows.some((r) => r.localPort === 5353)); // UDP only
    assert.equal(countUnknownStates(rows), 0);
  });

  it('Windows 10 `netstat -ano`: the PID column is ignored', () => {
    const rows = parseNetstatWindows(fixture('windows10-netstat-ano.txt'));
    assert.equal(rows.length, 71);
    assert.deepEqual(byState(rows), { LISTENING: 39, ESTABLISHED: 32 });
    assert.ok(has(rows, { localAddress: '127.0.0.1', localPort: 3949, remoteAddress: '127.0.0.1', remotePort: 3950, state: 'ESTABLISHED' }));
    assert.ok(has(rows, { localAddress: '192.168.255.1', localPort: 139, remoteAddress: '0.0.0.0', remotePort: 0, state: 'LISTENING' }));
  });

  it('German Windows `netstat -an`: translated states, mangled ABHÖREN, elided lines', () => {
    const rows = parseNetstatWindows(fixture('windows-de-netstat-an-excerpt.txt'));
    assert.equal(rows.length, 92);
    assert.deepEqual(byState(rows), { LISTENING: 20, ESTABLISHED: 56, TIME_WAIT: 5, CLOSE_WAIT: 7, FIN_WAIT_2: 4 });
    assert.equal(countUnknownStates(rows), 0);
    assert.ok(has(rows, { localAddress: '172.17.67.120', localPort: 51232, remoteAddress: '192.168.121.20', remotePort: 8080, state: 'TIME_WAIT' }));
    assert.ok(has(rows, { localAddress: '::1', localPort: 49370, remoteAddress: '::1', remotePort: 22350, state: 'ESTABLISHED' }));
    assert.ok(has(rows, { localAddress: '127.0.0.1', localPort: 49181, remoteAddress: '0.0.0.0', remotePort: 0, state: 'LISTENING' }));
  });

  it('aggregates the German capture: a listener inside the dynamic range is a server', () => {
    const s = scan(parseNetstatWindows(fixture('windows-de-netstat-an-excerpt.txt')), WIN_RANGE);
    assert.equal(s.total, 92);
    assert.equal(s.states.timeWait, 5);
    const web = s.destinations.find((d) => d.dest === '192.168.121.20:8080');
    assert.deepEqual(web && [web.inUse, web.established, web.timeWait], [5, 3, 2]);
    const loopback = s.destinations.find((d) => d.dest === '127.0.0.1:44080');
    assert.deepEqual(loopback && [loopback.inUse, loopback.timeWait], [3, 2]);
    // 127.0.0.1:49181 listens inside 49152-65535: its own rows are server rows, its peers are clients.
    assert.equal(s.destinations.find((d) => d.dest === '127.0.0.1:49181')?.inUse, 6);
    assert.ok(!s.destinations.some((d) => d.dest.endsWith(':49202')));
    assert.equal(s.server.listen, 20);
  });
});

describe('parseNetstatWindows on other shapes', () => {
  it('reads scoped IPv6, lower-case protocol, LF endings; skips UDP and headers in any language', () => {
    const text = [
      'Aktive Verbindungen',
      '  Proto  Lokale Adresse         Remoteadresse          Status           PID',
      '  tcp    [fe80::244e:2f1e:2096:62b2%9]:50001  [fe80::1%9]:445  SYN_SENT  4',
      '  TCP    10.0.0.2:50002         10.0.0.9:80            FIN_WAIT_1      0',
      '  TCP    10.0.0.2:50003         10.0.0.9:80            SYN_RECEIVED',
      '  UDP    0.0.0.0:5353           *:*                                    4808',
    ].join('\n');
    assert.deepEqual(parseNetstatWindows(text), [
      { localAddress: 'fe80::244e:2f1e:2096:62b2', localPort: 50001, remoteAddress: 'fe80::1', remotePort: 445, state: 'SYN_SENT' },
      { localAddress: '10.0.0.2', localPort: 50002, remoteAddress: '10.0.0.9', remotePort: 80, state: 'FIN_WAIT_1' },
      { localAddress: '10.0.0.2', localPort: 50003, remoteAddress: '10.0.0.9', remotePort: 80, state: 'SYN_RECEIVED' },
    ]);
  });

  it('keeps an unknown state as printed, counts it, and aggregateScan leaves it out', () => {
    const text = [
      '  TCP    0.0.0.0:8080           0.0.0.0:0              ÉCOUTE-INCONNU',
      '  TCP    127.0.0.1:50000        127.0.0.1:8080         ZUSTAND_X',
      '  TCP    127.0.0.1:50001        127.0.0.1:8080         TIME_WAIT',
    ].join('\r\n');
    const rows = parseNetstatWindows(text);
    assert.deepEqual(rows.map((r) => r.state), ['LISTENING', 'ZUSTAND_X', 'TIME_WAIT']);
    assert.equal(countUnknownStates(rows), 1);
    const s = scan(rows, WIN_RANGE);
    assert.equal(s.total, 2);
    assert.equal(s.client.timeWait, 1);
  });

  it('skips malformed lines without throwing', () => {
    const text = [
      'TCP',
      '  TCP    0.0.0.0:135',
      '  TCP    0.0.0.0:99999          0.0.0.0:0              LISTENING',
      '  TCP    ::1:8080               [::]:0                 LISTENING', // IPv6 without brackets
      '  TCP    [::1:8080              [::]:0                 LISTENING',
      '  TCP    myhost:8080            other:443              ESTABLISHED', // names, not -n
      '  TCP    1.2.3:80               1.2.3.4:5              ESTABLISHED',
      '  TCP    0.0.0.0:               0.0.0.0:0              LISTENING',
      '\u0000\uFFFD',
    ].join('\n');
    assert.deepEqual(parseNetstatWindows(text), []);
  });
});

/** 5 000 TIME_WAIT toward one destination, 3 000 toward another (IPv6), a listener with clients. */
function bigTable(line: (proto: 4 | 6, local: string, remote: string, state: string) => string): string {
  const out: string[] = [];
  out.push(line(4, '*:8080', '*:*', 'LISTEN'));
  for (let i = 0; i < 40; i++) out.push(line(4, '10.0.0.1:8080', `10.0.0.7:${50000 + i}`, 'ESTABLISHED'));
  for (let i = 0; i < 5000; i++) out.push(line(4, `192.168.1.10:${49152 + i}`, '10.0.0.5:443', 'TIME_WAIT'));
  for (let i = 0; i < 3000; i++) out.push(line(6, `2001:db8::10:${54152 + i}`, '2001:db8::5:8080', 'TIME_WAIT'));
  for (let i = 0; i < 7; i++) out.push(line(4, `192.168.1.10:${60000 + i}`, '10.0.0.5:443', 'ESTABLISHED'));
  return out.join('');
}

const hostPortSplit = (hp: string): [string, string] => {
  const i = hp.lastIndexOf(':');
  return [hp.slice(0, i), hp.slice(i + 1)];
};

function macLine(proto: 4 | 6, local: string, remote: string, state: string): string {
  const fmt = (hp: string): string => {
    const [h, p] = hostPortSplit(hp);
    return `${h}.${p}`;
  };
  const w = proto === 6 ? 46 : 23;
  return `tcp${proto}       0      0  ${fmt(local).padEnd(w)}${fmt(remote).padEnd(w)}${state.padEnd(12)}\n`;
}

function windowsLine(_proto: 4 | 6, local: string, remote: string, state: string): string {
  const fmt = (hp: string): string => {
    const [h, p] = hostPortSplit(hp);
    const host = h === '*' ? (_proto === 6 ? '::' : '0.0.0.0') : h;
    const port = p === '*' ? '0' : p;
    return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  };
  const st = state === 'LISTEN' ? 'LISTENING' : state;
  return `  TCP    ${fmt(local).padEnd(23)}${fmt(remote).padEnd(23)}${st.padEnd(16)}${st === 'TIME_WAIT' ? 0 : 4242}\r\n`;
}

function assertBigScan(rows: readonly ParsedRow[], range: [number, number]): void {
  assert.equal(rows.length, 1 + 40 + 5000 + 3000 + 7);
  const s = scan(rows, range);
  assert.equal(s.states.timeWait, 8000);
  assert.equal(s.client.timeWait, 8000);
  assert.equal(s.client.established, 7);
  assert.equal(s.server.listen, 1);
  assert.equal(s.server.established, 40);
  assert.equal(s.ephemeralInUse, 8007);
  assert.deepEqual(s.sources, { '192.168.1.10': 5007, '2001:db8::10': 3000 });
  const [first, second] = s.destinations;
  assert.deepEqual(first, {
    dest: '10.0.0.5:443',
    inUse: 5007,
    timeWait: 5000,
    established: 7,
    bySource: null,
    utilization: Math.round((5007 / 16384) * 10_000) / 10_000,
  });
  assert.equal(second?.dest, '[2001:db8::5]:8080');
  assert.equal(second?.timeWait, 3000);
  assert.equal(second?.utilization, 0.1831); // 3000 / 16384
}

describe('large generated tables', () => {
  it('macOS: 8 000 TIME_WAIT toward two destinations on 49152-65535', () => {
    const text = 'Active Internet connections (including servers)\nProto Recv-Q Send-Q  Local Address  Foreign Address  (state)\n' + bigTable(macLine);
    assertBigScan(parseNetstatMac(text), MAC_RANGE);
  });

  it('macOS: 5 000 TIME_WAIT toward one destination is 5000/16384 of the budget', () => {
    const text = Array.from({ length: 5000 }, (_, i) => macLine(4, `127.0.0.1:${49152 + i}`, '127.0.0.1:8080', 'TIME_WAIT')).join('');
    const s = scan(parseNetstatMac(text), MAC_RANGE);
    assert.equal(s.destinations[0]?.timeWait, 5000);
    assert.equal(s.destinations[0]?.utilization, 0.3052); // 5000 / 16384 = 0.30518
  });

  it('Windows: the same table, CRLF, with PIDs and UDP noise', () => {
    const udp = '  UDP    0.0.0.0:5353           *:*                                    4808\r\n'.repeat(50);
    const text = '\r\nActive Connections\r\n\r\n  Proto  Local Address          Foreign Address        State           PID\r\n' + bigTable(windowsLine) + udp;
    assertBigScan(parseNetstatWindows(text), WIN_RANGE);
  });
});

describe('parseMacPortRange', () => {
  it('reads the captured `sysctl` port range (no MSL asked)', () => {
    assert.deepEqual(parseMacPortRange(fixture('macos-sysctl-portrange.txt')), { range: [49152, 65535], mslMs: null });
  });

  it('reads the captured `sysctl net.inet.tcp.msl` (15000 ms: TIME_WAIT 30 s)', () => {
    const { range, mslMs } = parseMacPortRange(fixture('macos-sysctl-msl.txt'));
    assert.equal(range, null);
    assert.equal(mslMs, 15000);
    assert.equal(2 * mslMs! / 1000, 30);
  });

  it('reads all three names together, in any order, with `:` or `=`', () => {
    const text = fixture('macos-sysctl-msl.txt') + fixture('macos-sysctl-portrange.txt');
    assert.deepEqual(parseMacPortRange(text), { range: [49152, 65535], mslMs: 15000 });
    assert.deepEqual(parseMacPortRange('net.inet.ip.portrange.last = 60999\nnet.inet.ip.portrange.first = 32768\n'), {
      range: [32768, 60999],
      mslMs: null,
    });
  });

  it('reads `sysctl -n` values in MAC_SYSCTL_NAMES order', () => {
    assert.deepEqual(MAC_SYSCTL_NAMES, ['net.inet.ip.portrange.first', 'net.inet.ip.portrange.last', 'net.inet.tcp.msl']);
    assert.deepEqual(parseMacPortRange('49152\n65535\n15000\n'), { range: [49152, 65535], mslMs: 15000 });
    assert.deepEqual(parseMacPortRange('32768\n65535\n'), { range: [32768, 65535], mslMs: null });
  });

  it('returns nulls for garbage, inverted or out-of-range values', () => {
    const none = { range: null, mslMs: null };
    assert.deepEqual(parseMacPortRange(''), none);
    assert.deepEqual(parseMacPortRange('sysctl: unknown oid \'net.inet.tcp.msl\'\n'), none);
    assert.deepEqual(parseMacPortRange('net.inet.tcp.msl: 15000 -> 1000\n'), none); // `sysctl -w` output
    assert.deepEqual(parseMacPortRange('net.inet.ip.portrange.first: 65535\nnet.inet.ip.portrange.last: 49152\n'), none);
    assert.deepEqual(parseMacPortRange('net.inet.ip.portrange.first: 0\nnet.inet.ip.portrange.last: 70000\nnet.inet.tcp.msl: 0\n'), none);
    assert.deepEqual(parseMacPortRange('49152\n'), none);
  });
});

describe('parseWindowsDynamicPort', () => {
  it('reads the captured English and French netsh output', () => {
    assert.deepEqual(parseWindowsDynamicPort(fixture('windows-netsh-dynamicport.txt')), [49152, 65535]);
    assert.deepEqual(parseWindowsDynamicPort(fixture('windows-netsh-dynamicport-fr.txt')), [49152, 65535]);
  });

  it('tolerates CRLF, collapsed spacing and a console transcript around it', () => {
    const crlf = fixture('windows-netsh-dynamicport.txt').replace(/\n/g, '\r\n');
    assert.deepEqual(parseWindowsDynamicPort(crlf), [49152, 65535]);
    const transcript = 'D:\\>netsh interface ipv4 show dynamicportrange protocol=tcp\n\nProtocol tcp Dynamic Port Range\n---------------------------------\nStart Port : 1025\nNumber of Ports : 3976\n\nD:\\>';
    assert.deepEqual(parseWindowsDynamicPort(transcript), [1025, 5000]);
  });

  it('returns null when absent or out of range', () => {
    assert.equal(parseWindowsDynamicPort(''), null);
    assert.equal(parseWindowsDynamicPort('The following command was not found: int ipv4 show dynamicport tcp.'), null);
    assert.equal(parseWindowsDynamicPort('Start Port      : 49152\n'), null);
    assert.equal(parseWindowsDynamicPort('Start Port      : 60000\nNumber of Ports : 16384\n'), null);
    assert.equal(parseWindowsDynamicPort('Start Port      : 0\nNumber of Ports : 0\n'), null);
    assert.equal(parseWindowsDynamicPort('Start Port      : abc\nNumber of Ports : 16384\n'), null);
  });
});

describe('netstatCommand', () => {
  it('macOS asks for whole IPv6 addresses; Windows lists both families; elsewhere null', () => {
    assert.deepEqual(netstatCommand('darwin'), { cmd: 'netstat', args: ['-a', '-n', '-l', '-p', 'tcp'] });
    assert.deepEqual(netstatCommand('win32'), { cmd: 'netstat', args: ['-a', '-n'] });
    assert.equal(netstatCommand('linux'), null);
    assert.equal(netstatCommand('freebsd'), null);
  });
});

describe('port facts without /proc', () => {
  const fixtures = fileURLToPath(new URL('../../../test/fixtures/netstat/', import.meta.url));
  const fake = (file: string) => () => readFileSync(path.join(fixtures, file), 'utf8');

  it('macOS: the range from sysctl, TIME_WAIT = 2 × MSL', () => {
    const f = nonLinuxPortFacts('darwin', (cmd, args) => {
      assert.equal(cmd, 'sysctl');
      assert.deepEqual(args, ['net.inet.ip.portrange.first', 'net.inet.ip.portrange.last', 'net.inet.tcp.msl']);
      return fake('macos-sysctl-portrange.txt')() + fake('macos-sysctl-msl.txt')();
    });
    assert.deepEqual(f.portRange, [49152, 65535]);
    assert.equal(f.reason, null);
    assert.equal(f.timeWaitS, 30);
  });

  it('Windows: the range from netsh; TIME_WAIT unknown', () => {
    const f = nonLinuxPortFacts('win32', fake('windows-netsh-dynamicport.txt'));
    assert.deepEqual(f.portRange, [49152, 65535]);
    assert.equal(f.timeWaitS, null);
  });

  it('a failing command is a reason, not an exception', () => {
    const f = nonLinuxPortFacts('darwin', () => {
      throw new Error('spawn sysctl ENOENT');
    });
    assert.equal(f.portRange, null);
    assert.match(f.reason!, /could not run the port range command \(spawn sysctl ENOENT\)/);
  });
});
