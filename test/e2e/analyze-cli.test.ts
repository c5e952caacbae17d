/**
 * `portstorm analyze`: a JTL of a test that ran out of ports, with a real `portstorm monitor --out`
 * file taken in a network namespace with 50 ephemeral ports while real connections used them up;
 * the records of two JTLs compared; bad input in one line, exit 2.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fixture } from '../helpers/netns.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/jmeter-jtl/', import.meta.url));

function cli(args: string[], cwd: string) {
  return spawnSync(process.execPath, [MAIN, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
}

function recordIn(dir: string): { file: string; record: any } {
  const [runId] = readdirSync(dir);
  const file = path.join(dir, runId!, 'run.json');
  return { file, record: JSON.parse(readFileSync(file, 'utf8')) };
}

test('a JTL of BindExceptions with the JMeter machine\'s monitor file (ports full) is client-port-exhaustion', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-analyze-'));
  const jtl = path.join(tmp, 'results.jtl');
  const mon = path.join(tmp, 'jmeter-host.ndjson');
  const script = [
    'ip link set lo up',
    'echo "40000 40049" > /proc/sys/net/ipv4/ip_local_port_range',
    `"$NODE" "$MAIN" monitor --out "$MON" --duration 6s --interval 250ms --scan-interval 250ms & M=$!`,
    'sleep 1',
    `"$NODE" "$PROBE" "$JTL" 3`,
    'wait $M',
  ].join(' && ');
  const r = spawnSync('unshare', ['-rn', 'sh', '-c', script], { env: { ...process.env, NODE: process.execPath, MAIN, MON: mon, PROBE: fixture('jtl-exhaust-probe.js'), JTL: jtl }, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `the namespace run failed (unshare -rn and a writable ip_local_port_range are needed): ${r.stderr}`);
  const probe = JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('{"rows"'))!);
  assert.ok(probe.failed > 0, `the 50 ports never ran out: ${r.stdout}`);
  const out = path.join(tmp, 'results');
  const a = cli(['analyze', jtl, '--monitor', mon, '--out', out], tmp);
  assert.equal(a.status, 0, a.stderr);
  const { record } = recordIn(out);
  assert.equal(record.source, 'jmeter');
  assert.equal(record.totals.attempted, probe.rows);
  assert.equal(record.errors.EADDRNOTAVAIL, probe.failed);
  assert.equal(record.diagnosis[0].verdict, 'client-port-exhaustion', JSON.stringify(record.diagnosis, null, 1));
  assert.ok(record.ports.peakUtilization > 0.9, `peak utilization ${record.ports.peakUtilization}`);
  assert.equal(record.hosts.client.source, 'file');
  assert.match(a.stdout, /client-port-exhaustion/);
});

test('two analyzed JTLs compare; without a monitor file the diagnosis says what it cannot know', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-analyze-'));
  const out = path.join(tmp, 'results');
  const a = cli(['analyze', path.join(FIXTURES, 'HTMLReportTestFile.csv'), '--out', path.join(out, 'a')], tmp);
  const b = cli(['analyze', path.join(FIXTURES, 'sample_log1c.jtl'), '--out', path.join(out, 'b')], tmp);
  assert.equal(a.status, 0, a.stderr);
  assert.equal(b.status, 0, b.stderr);
  assert.match(a.stdout, /No socket samples: run portstorm monitor --out on the JMeter machine during the test\./);
  const c = cli(['compare', recordIn(path.join(out, 'a')).file, recordIn(path.join(out, 'b')).file], tmp);
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stdout, /p99/);
  const report = cli(['report', recordIn(path.join(out, 'a')).file, '--format', 'md'], tmp);
  assert.equal(report.status, 0, report.stderr);
});

test('bad input: one line naming file:line, exit 2', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-analyze-'));
  const header = 'timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect';
  const row = (ts: number) => `${ts},10,r,200,OK,T 1-1,text,true,,1,1,1,1,http://127.0.0.1:8080/,5,0,1`;
  const cases: Array<[string, string, RegExp]> = [
    ['empty.jtl', '', /empty.jtl:1: empty file/],
    ['notjtl.csv', 'a,b,c\n1,2,3\n', /notjtl.csv:1: not a JMeter results file/],
    ['truncated.jtl', `${header}\n${row(1700000000000)}\n1700000000100,10,r,20`, /truncated.jtl:3: truncated last line/],
    ['order.jtl', `${header}\n${row(1700000100000)}\n${row(1700000000000)}\n`, /order.jtl:3: timestamps out of order/],
    ['root.xml', '<?xml version="1.0"?>\n<plan/>\n', /root.xml:2: not a JMeter results file/],
  ];
  for (const [name, text, want] of cases) {
    writeFileSync(path.join(tmp, name), text);
    const r = cli(['analyze', name, '--out', 'results'], tmp);
    assert.equal(r.status, 2, `${name}: ${r.stderr}`);
    assert.match(r.stderr, want);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
  const headerOnly = cli(['analyze', path.join(FIXTURES, 'BatchTestLocal.csv'), '--out', 'results'], tmp);
  assert.equal(headerOnly.status, 2);
  assert.match(headerOnly.stderr, /BatchTestLocal.csv:1: the header lacks timeStamp, elapsed/);
  writeFileSync(path.join(tmp, 'middle.jtl'), `${header}\n${row(1700000000000)}\nbroken,row\n${row(1700000000500)}\n`);
  const m = cli(['analyze', 'middle.jtl', '--out', 'results', '--json'], tmp);
  assert.equal(m.status, 0, m.stderr);
  assert.match(m.stderr, /middle.jtl: skipped 1 unreadable row \(the first at line 3/);
  assert.equal(JSON.parse(m.stdout).totals.attempted, 2);
});
