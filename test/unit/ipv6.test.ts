/**
 * IPv6 as a first-class address family, without a network: one textual form per address (RFC 5952)
 * from every source (/proc/net/tcp6, sock_diag, the scenario, the target URL), the remote-target
 * guard, source addresses of the other family, the capacity model's loopback rule, the per-destination
 * budget and the renderers with `[ip]:port` keys.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { capacityOf, isLoopbackHost } from '../../src/analysis/capacity.js';
import { diagnose } from '../../src/analysis/diagnose.js';
import { analyzeExhaustion } from '../../src/analysis/exhaustion.js';
import { compareRuns, leftoverTimeWait } from '../../src/compare/compare.js';
import { ExitCode, UsageError } from '../../src/errors.js';
import { isLocalAddress, resolveTarget } from '../../src/load/target-address.js';
import { httpRequestBytes } from '../../src/load/transport/http-request.js';
import { aggregateScan, rowsCursor } from '../../src/monitor/aggregate.js';
import { foldMonitor } from '../../src/monitor/fold.js';
import { parseProcNetTcp, parseTcpLine } from '../../src/monitor/proc-net-tcp.js';
import { addressAt, destinationKey, RECORD_BYTES, type DestinationCache } from '../../src/monitor/sockdiag.js';
import type { MonitorSample } from '../../src/monitor/types.js';
import type { RunRecord } from '../../src/record/types.js';
import { renderCompareText } from '../../src/report/compare-text.js';
import { renderHtml } from '../../src/report/html.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderTextSummary } from '../../src/report/text.js';
import { sampleLine } from '../../src/report/monitor-text.js';
import { parseScenario } from '../../src/scenario/load.js';
import { sourceFamilyProblem } from '../../src/scenario/source-family.js';
import { addressFamily, canonicalIp, formatIpv6, hostPort, isLoopbackIp, normalDest, splitHostPort, unmappedIp } from '../../src/vocab/address.js';
import { clientCloseTimeline, entry, syntheticRecord } from '../helpers/synthetic-record.js';

describe('IPv6 address text (vocab/address.ts)', () => {
  it('formats groups per RFC 5952: lower case, the longest zero run (first on a tie) as ::, never a single zero group, IPv4-mapped dotted', () => {
    assert.equal(formatIpv6([0xfd00, 0, 0, 0, 0, 0, 0, 2]), 'fd00::2');
    assert.equal(formatIpv6([0, 0, 0, 0, 0, 0, 0, 1]), '::1');
    assert.equal(formatIpv6([0, 0, 0, 0, 0, 0, 0, 0]), '::');
    assert.equal(formatIpv6([1, 0, 0, 1, 0, 0, 0, 1]), '1:0:0:1::1');
    assert.equal(formatIpv6([1, 0, 0, 1, 0, 0, 1, 1]), '1::1:0:0:1:1');
    assert.equal(formatIpv6([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1]), '2001:db8:0:1:1:1:1:1');
    assert.equal(formatIpv6([0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]), '::ffff:127.0.0.1');
  });

  it('gives every textual form of an address one form; IPv4-mapped ones unmap to IPv4', () => {
    assert.equal(canonicalIp('FD00:0:0:0::0002'), 'fd00::2');
    assert.equal(canonicalIp('0:0:0:0:0:0:0:1'), '::1');
    assert.equal(canonicalIp('2001:2:0:0:1:0:0:1'), '2001:2::1:0:0:1');
    assert.equal(canonicalIp('::ffff:7f00:1'), '::ffff:127.0.0.1');
    assert.equal(canonicalIp('198.18.0.1'), '198.18.0.1');
    assert.equal(canonicalIp('fe80::1%eth0'), 'fe80::1%eth0', 'a zone is left as written');
    assert.equal(unmappedIp('::FFFF:198.18.0.1'), '198.18.0.1');
    assert.equal(unmappedIp('::ffff:c612:1'), '198.18.0.1');
    assert.equal(unmappedIp('fd00::2'), 'fd00::2');
    assert.deepEqual(['1.2.3.4', '::1', '::ffff:1.2.3.4', 'fd00::2', 'example'].map(addressFamily), [4, 6, 4, 6, 0]);
  });

  it('ip:port keys: brackets for IPv6, split back, normalised', () => {
    assert.equal(hostPort('fd00::2', 8080), '[fd00::2]:8080');
    assert.equal(hostPort('198.18.0.2', 8080), '198.18.0.2:8080');
    assert.deepEqual(splitHostPort('[fd00::2]:8080'), { host: 'fd00::2', port: 8080 });
    assert.deepEqual(splitHostPort('198.18.0.2:80'), { host: '198.18.0.2', port: 80 });
    assert.equal(splitHostPort('fd00::2'), null);
    assert.equal(splitHostPort('[::1]:70000'), null);
    assert.equal(normalDest('[FD00:0::2]:8080'), '[fd00::2]:8080');
    assert.equal(normalDest('[::ffff:7f00:1]:80'), '127.0.0.1:80');
    assert.equal(normalDest('not a key'), 'not a key');
  });

  it('loopback as tcp_tw_reuse=2 sees it: 127/8, ::1, IPv4-mapped 127/8; not ULA, not the benchmarking ranges', () => {
    for (const a of ['127.0.0.1', '127.9.9.9', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '::ffff:7f00:2']) assert.ok(isLoopbackIp(a), a);
    for (const a of ['fd00::2', '2001:2::2', '198.18.0.2', '::', '::2', '::ffff:198.18.0.2']) assert.ok(!isLoopbackIp(a), a);
  });
});

describe('the remote-target guard', () => {
  it('accepts ::1, fc00::/7 and the IPv6 benchmarking range 2001:2::/48 (RFC 5180); refuses other global IPv6 addresses', () => {
    for (const a of ['::1', 'fd00::2', 'fc00::1', 'fdff:ffff::1', '2001:2::1', '2001:2:0:ffff::1', 'FD00::2']) assert.ok(isLocalAddress(a), a);
    for (const a of ['2001:2:1::1', '2001:db8::1', '2606:4700:4700::1111', 'fe80::1', '::', 'fec0::1', '2001:3::1']) assert.ok(!isLocalAddress(a), a);
  });

  it('judges an IPv4-mapped address by its IPv4 address', () => {
    for (const a of ['::ffff:127.0.0.1', '::ffff:10.1.2.3', '::ffff:198.19.255.1', '::ffff:c0a8:101']) assert.ok(isLocalAddress(a), a);
    for (const a of ['::ffff:8.8.8.8', '::ffff:1.1.1.1', '::ffff:808:808']) assert.ok(!isLocalAddress(a), a);
  });

  it('resolves IPv6 literals without brackets, IPv4-mapped ones to IPv4, and refuses a global one (exit 2) unless allowed', async () => {
    assert.deepEqual(await resolveTarget('http://[::1]:8080/', false), { host: '::1', port: 8080, name: null, addresses: ['::1'] });
    assert.deepEqual(await resolveTarget('tcp://[fd00::2]:9000', false), { host: 'fd00::2', port: 9000, name: null, addresses: ['fd00::2'] });
    assert.deepEqual(await resolveTarget('http://[2001:2::5]:80/x', false), { host: '2001:2::5', port: 80, name: null, addresses: ['2001:2::5'] });
    assert.deepEqual(await resolveTarget('https://[::1]:8443/', false), { host: '::1', port: 8443, name: null, addresses: ['::1'] });
    assert.deepEqual(await resolveTarget('http://[::ffff:127.0.0.1]:8080/', false), { host: '127.0.0.1', port: 8080, name: null, addresses: ['127.0.0.1'] });
    for (const url of ['http://[2001:db8::1]:8080/', 'http://[::ffff:8.8.8.8]:80/']) {
      await assert.rejects(resolveTarget(url, false), (err: unknown) => {
        assert.ok(err instanceof UsageError, String(err));
        assert.equal(err.exitCode, ExitCode.USAGE);
        assert.match(err.message, /which is not a loopback or private address/);
        assert.equal(err.message.split('\n').length, 1);
        return true;
      });
    }
    assert.deepEqual(await resolveTarget('http://[2001:db8::1]:8080/', true), { host: '2001:db8::1', port: 8080, name: null, addresses: ['2001:db8::1'] });
  });

  it('keeps the brackets in the Host header (the URL authority)', () => {
    const authority = new URL('http://[fd00::2]:8080/x').host;
    assert.equal(authority, '[fd00::2]:8080');
    const bytes = httpRequestBytes({ http: { method: 'GET', path: '/x', headers: {}, body: '', authority }, close: 'client' }).toString('latin1');
    assert.match(bytes, /^GET \/x HTTP\/1\.1\r\nHost: \[fd00::2\]:8080\r\n/);
  });
});

describe('source addresses and the target family', () => {
  const base = { load: [{ model: 'arrival-rate', rate: 1, duration: 1 }] };

  it('the scenario keeps one form of each source address (IPv6 per RFC 5952, IPv4-mapped as IPv4)', () => {
    const s = parseScenario({ ...base, connection: { localAddresses: ['FD00:0:0::0011', '::ffff:198.18.0.1', '198.18.0.3'] } }, 'x.yaml');
    assert.deepEqual(s.connection.localAddresses, ['fd00::11', '198.18.0.1', '198.18.0.3']);
    // A resolved scenario is valid input again, and resolves to itself.
    assert.deepEqual(parseScenario(s, 'again').connection, s.connection);
  });

  it('names the first source of the other family as connection.localAddresses[i], on one line', () => {
    assert.equal(sourceFamilyProblem(['fd00::1', 'fd00::11'], 'fd00::2', 'the target'), null);
    assert.equal(sourceFamilyProblem(['198.18.0.1'], '198.18.0.2', 'the target'), null);
    assert.equal(sourceFamilyProblem([], 'fd00::2', 'the target'), null);
    const mixed = sourceFamilyProblem(['fd00::1', '198.18.0.1'], 'fd00::2', 'the target http://[fd00::2]:8080/');
    assert.match(mixed ?? '', /^connection\.localAddresses\[1\]: 198\.18\.0\.1 is an IPv4 address but the target http:\/\/\[fd00::2\]:8080\/ \(fd00::2\) is IPv6;/);
    const v6 = sourceFamilyProblem(['::1'], '127.0.0.1', 'the built-in target');
    assert.match(v6 ?? '', /^connection\.localAddresses\[0\]: ::1 is an IPv6 address but the built-in target \(127\.0\.0\.1\) is IPv4;/);
    assert.equal(v6!.split('\n').length, 1);
    // IPv4-mapped counts as IPv4.
    assert.equal(sourceFamilyProblem(['::ffff:198.18.0.1'], '198.18.0.2', 'the target'), null);
  });

  it('lab.ipv6 is a boolean of the lab: block', () => {
    assert.equal(parseScenario({ ...base, lab: { ipv6: true } }, 'x.yaml').lab?.ipv6, true);
    assert.equal(parseScenario({ ...base, lab: {} }, 'x.yaml').lab?.ipv6, undefined);
    assert.throws(() => parseScenario({ ...base, lab: { ipv6: 'yes' } }, 'x.yaml'), /^UsageError: x\.yaml: lab\.ipv6: /);
  });
});

/** A /proc/net/tcp6 address field: the 16 bytes as four 32-bit words in little-endian order. */
function tcp6Hex(groups: number[]): string {
  const bytes = groups.flatMap((g) => [g >> 8, g & 0xff]);
  let hex = '';
  for (let w = 0; w < 4; w++) for (let b = 3; b >= 0; b--) hex += bytes[w * 4 + b]!.toString(16).padStart(2, '0').toUpperCase();
  return hex;
}

/** The same address in a sock_diag record (network byte order). */
function sockdiagRecord(local: number[], lport: number, remote: number[], rport: number, state = 6): Buffer {
  const b = Buffer.alloc(RECORD_BYTES);
  b[0] = 6;
  b[1] = state;
  b.writeUInt16BE(lport, 4);
  b.writeUInt16BE(rport, 6);
  local.forEach((g, i) => b.writeUInt16BE(g, 8 + 2 * i));
  remote.forEach((g, i) => b.writeUInt16BE(g, 24 + 2 * i));
  return b;
}

describe('the monitor reads IPv6 sockets as it reads IPv4 ones', () => {
  const CLIENT = [0xfd00, 0, 0, 0, 0, 0, 0, 1];
  const TARGET = [0xfd00, 0, 0, 0, 0, 0, 0, 2];
  const ODD = [1, 0, 0, 1, 0, 0, 0, 1];
  const MAPPED = [0, 0, 0, 0, 0, 0xffff, 0x7f00, 1];

  it('/proc/net/tcp6 and sock_diag give the same RFC 5952 text (fd00::2, the longest zero run, IPv4-mapped)', () => {
    for (const [groups, text] of [
      [TARGET, 'fd00::2'],
      [ODD, '1:0:0:1::1'],
      [MAPPED, '::ffff:127.0.0.1'],
      [[0x2001, 2, 0, 0, 0, 0, 0, 0x10], '2001:2::10'],
    ] as const) {
      const line = `   0: ${tcp6Hex(CLIENT)}:9C40 ${tcp6Hex([...groups])}:1F90 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000`;
      const row = parseTcpLine(line);
      assert.equal(row?.remoteAddress, text, line);
      assert.equal(row?.localAddress, 'fd00::1');
      assert.equal(row?.localPort, 40000);
      assert.equal(row?.remotePort, 8080);
      assert.equal(row?.timeWaitLeftMs, 60_000);
      const rec = sockdiagRecord(CLIENT, 40000, [...groups], 8080);
      assert.equal(addressAt(rec, 0, 'remote'), text);
    }
    // The captured fixture's ::1 rows still read as before.
    assert.ok(parseProcNetTcp(`  sl  local_address remote_address st\n   0: ${tcp6Hex([0, 0, 0, 0, 0, 0, 0, 1])}:2382 ${tcp6Hex([0, 0, 0, 0, 0, 0, 0, 1])}:BD4E 01 0 0 0`)[0]?.localAddress === '::1');
  });

  it('sock_diag destination keys are [ip]:port, cached across records of one destination, told apart from the next', () => {
    const cache: DestinationCache = new Map();
    const buf = Buffer.concat([
      sockdiagRecord(CLIENT, 40000, TARGET, 8080),
      sockdiagRecord(CLIENT, 40001, TARGET, 8080),
      sockdiagRecord(CLIENT, 40002, TARGET, 9000),
      sockdiagRecord(CLIENT, 40003, [0xfd00, 0, 0, 0, 0, 0, 0, 3], 9000),
      sockdiagRecord(CLIENT, 40004, TARGET, 8080),
    ]);
    const keys = [0, 1, 2, 3, 4].map((i) => destinationKey(buf, i * RECORD_BYTES, cache));
    assert.deepEqual(keys, ['[fd00::2]:8080', '[fd00::2]:8080', '[fd00::2]:9000', '[fd00::3]:9000', '[fd00::2]:8080']);
  });

  const twRows = (n: number, to: string, port = 8080) =>
    Array.from({ length: n }, (_, i) => ({ localAddress: 'fd00::1', localPort: 40000 + i, remoteAddress: to, remotePort: port, state: 'TIME_WAIT', timeWaitLeftMs: 59_000 }));

  it('per-destination budget: [fd00::2]:8080 is an own destination however it was written, with its utilization and TIME_WAIT timers', () => {
    const budget = { range: [40000, 40499] as [number, number], usable: 500 };
    for (const own of ['[fd00::2]:8080', '[FD00:0:0::2]:8080']) {
      const scan = aggregateScan(rowsCursor([...twRows(400, 'fd00::2'), ...twRows(50, 'fd00::3', 9000)]), budget, 1, 0, 'proc', [own]);
      const d = scan.destinations.find((x) => x.own);
      assert.equal(d?.dest, '[fd00::2]:8080', own);
      assert.equal(d?.inUse, 400);
      assert.equal(d?.timeWait, 400);
      assert.equal(d?.utilization, 0.8);
      assert.equal(d?.timeWaitLeft?.[590], 400);
      assert.deepEqual(scan.sources, { 'fd00::1': 450 });
      assert.ok(!scan.destinations.find((x) => x.dest === '[fd00::3]:9000')?.own);
    }
    // An own destination written IPv4-mapped matches the dual-stack socket's key and an IPv4 one.
    const mapped = aggregateScan(rowsCursor(twRows(10, '::ffff:127.0.0.1')), budget, 1, 0, 'proc', ['[::ffff:7f00:1]:8080']);
    assert.equal(mapped.destinations.find((x) => x.own)?.inUse, 10);
  });

  it('the fold reports the own IPv6 destination and other traffic apart', () => {
    const budget = { range: [40000, 40499] as [number, number], usable: 500 };
    const scanAt = (at: number, n: number) => aggregateScan(rowsCursor([...twRows(n, 'fd00::2'), ...twRows(20, 'fd00::3', 9000)]), budget, at, 0, 'proc', ['[fd00::2]:8080']);
    const samples: MonitorSample[] = [0, 1000, 2000].map((at, i) => ({ at, lateMs: 0, sockstat: null, counters: null, conntrack: null, fds: null, scan: scanAt(at, 100 * (i + 1)) }) as MonitorSample);
    const fold = foldMonitor(samples, { source: 'proc', unavailable: {}, effectiveScanIntervalMs: 1000 }, {
      startEpochMs: 0,
      durationS: 3,
      intervalS: 1,
      scanIntervalS: 1,
      usable: 500,
      ownDestinations: ['[fd00::2]:8080'],
    });
    assert.equal(fold.ports?.busiestDestination, '[fd00::2]:8080');
    assert.equal(fold.ports?.peakInUse, 300);
    assert.equal(fold.ports?.peakUtilization, 0.6);
    assert.deepEqual(fold.destinations.map((d) => d.dest), ['[fd00::2]:8080']);
    assert.equal(fold.otherTraffic?.busiestDestination, '[fd00::3]:9000');
  });
});

/** A client-closes run that ran out of ports toward `own` (500 ports, 250/s). */
function exhaustedRecord(own: string, url: string): RunRecord {
  const r = syntheticRecord({
    timeline: clientCloseTimeline({ rate: () => 250, seconds: 4, usable: 500 }),
    host: { portRange: [40000, 40499], usablePorts: 500 },
    ports: { busiestDestination: own },
    targetUrl: url,
  });
  r.ownDestinations = [own];
  r.destinations = [{ dest: own, peakInUse: 500, peakTimeWait: 500, peakUtilization: 1 }];
  r.exhaustion = analyzeExhaustion(r);
  r.diagnosis = diagnose(r, r.exhaustion);
  return r;
}

describe('the capacity model, verdicts and reports with IPv6 destinations', () => {
  it('tcp_tw_reuse=2 shortens the hold toward ::1 and IPv4-mapped loopback only, not toward fd00::/8', () => {
    assert.ok(isLoopbackHost('[::1]:8080') && isLoopbackHost('[::1]') && isLoopbackHost('[::ffff:7f00:1]:80') && isLoopbackHost('[0:0::1]:80'));
    assert.ok(!isLoopbackHost('[fd00::2]:8080') && !isLoopbackHost('[2001:2::2]:80') && !isLoopbackHost('[::ffff:198.18.0.2]:8080'));
    const hold = (own: string, url: string) => {
      const r = syntheticRecord({ targetUrl: url });
      r.ownDestinations = [own];
      return capacityOf(r).holdS;
    };
    assert.equal(hold('[fd00::2]:8080', 'http://[fd00::2]:8080/'), 60);
    assert.equal(hold('[2001:2::2]:8080', 'http://[2001:2::2]:8080/'), 60);
    assert.equal(hold('[::1]:8080', 'http://[::1]:8080/'), 1);
    assert.equal(hold('127.0.0.1:8080', 'http://[::ffff:127.0.0.1]:8080/'), 1);
  });

  it('client-port-exhaustion names [fd00::2]:8080, and the text, Markdown, HTML and compare renderers print [ip]:port', () => {
    const r = exhaustedRecord('[fd00::2]:8080', 'http://[fd00::2]:8080/');
    const top = r.diagnosis![0]!;
    assert.equal(top.verdict, 'client-port-exhaustion');
    assert.ok(top.evidence.some((e) => e.includes('toward [fd00::2]:8080')), top.evidence.join('\n'));
    assert.ok(top.evidence.some((e) => e.includes("This run's destination: [fd00::2]:8080")), top.evidence.join('\n'));
    assert.match(r.exhaustion!.capacity!.holdReason, /not on loopback/);

    const text = renderTextSummary(r, 'run.json');
    assert.match(text, /target {17}http:\/\/\[fd00::2\]:8080\//);
    assert.match(text, /toward \[fd00::2\]:8080, peak TIME_WAIT/);
    const md = renderMarkdown(r);
    assert.match(md, /\*\*Target\*\* `http:\/\/\[fd00::2\]:8080\/`/);
    assert.match(md, /\| `\[fd00::2\]:8080` \|/);
    assert.match(md, /own destinations: `\[fd00::2\]:8080`/);
    const html = renderHtml(r);
    assert.match(html, /<code>\[fd00::2\]:8080<\/code>/);

    const before = structuredClone(r);
    before.label = 'before';
    before.monitor.baseline = { timeWait: 100, ephemeralInUse: 100, byDestination: [{ dest: '[fd00::2]:8080', own: true, inUse: 100, timeWait: 100, timeWaitExpiry: [100] }] };
    assert.match(leftoverTimeWait(before, 'before')[0] ?? '', /100 TIME_WAIT toward \[fd00::2\]:8080 left by earlier traffic/);
    const after = structuredClone(r);
    after.label = 'after';
    const cmp = renderCompareText(compareRuns([before, after]));
    assert.match(cmp, /toward \[fd00::2\]:8080/);
  });

  it('source-address-unavailable: an IPv6 source the host lacks is matched in RFC 5952 form, and the advice adds it as IPv6', () => {
    const timeline = Array.from({ length: 3 }, (_, t) => entry(t, { completed: 0, failed: 100, errors: { EADDRNOTAVAIL: 100 }, connectionsOpened: 0 }));
    const r = syntheticRecord({ timeline, connection: { localAddresses: ['fd00::9'] }, host: { localAddresses: ['127.0.0.1', '::1', 'fd00::1'] }, targetUrl: 'http://[fd00::2]:8080/' });
    r.errorsBySyscall = { 'bind:EADDRNOTAVAIL': 300 };
    r.exhaustion = analyzeExhaustion(r);
    const v = diagnose(r, r.exhaustion).find((x) => x.verdict === 'source-address-unavailable');
    assert.ok(v, JSON.stringify(diagnose(r, r.exhaustion).map((x) => x.verdict)));
    assert.ok(v.evidence.some((e) => e.includes('connection.localAddresses has fd00::9, which is not among')), v.evidence.join('\n'));
    assert.match(v.advice[0]!, /ip -6 addr add fd00::9\/128 dev lo nodad/);
    // fd00::1 is the host's: nothing missing.
    r.scenario.connection.localAddresses = ['fd00::1'];
    assert.ok(!diagnose(r, analyzeExhaustion(r)).find((x) => x.verdict === 'source-address-unavailable')?.evidence.some((e) => e.includes('not among')));
  });

  it('portstorm monitor --dest finds an IPv6 destination however it is written', () => {
    const budget = { range: [40000, 40499] as [number, number], usable: 500 };
    const rows = Array.from({ length: 3 }, (_, i) => ({ localAddress: 'fd00::1', localPort: 40000 + i, remoteAddress: 'fd00::2', remotePort: 8080, state: 'ESTABLISHED' }));
    const scan = aggregateScan(rowsCursor(rows), budget, 0, 1, 'proc');
    const sample = { at: 0, lateMs: 0, sockstat: null, counters: null, conntrack: null, fds: null, scan } as MonitorSample;
    assert.match(sampleLine(sample, 500, '[FD00::0:2]:8080'), /in use 3\/500 .* → \[fd00::2\]:8080/);
  });
});
