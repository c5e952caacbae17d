/** JTL parsing (CSV with and without a header, quoted fields, XML) and JMeter's failures in portstorm's codes. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { normaliseJmeterFailure } from '../../src/jmeter/jtl-errors.js';
import { readJtl } from '../../src/jmeter/read-jtl.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/jmeter-jtl/', import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-jtl-'));
const write = (name: string, text: string): string => {
  const f = path.join(tmp, name);
  writeFileSync(f, text);
  return f;
};

test('JMeter failures map to portstorm codes and phases', () => {
  const bind = (m: string) => normaliseJmeterFailure('Non HTTP response code: java.net.BindException', `Non HTTP response message: ${m}`, '', 0);
  assert.deepEqual([bind('Address already in use').code, bind('Address already in use: connect').code], ['EADDRINUSE', 'EADDRINUSE']);
  assert.equal(bind('Cannot assign requested address').code, 'EADDRNOTAVAIL');
  assert.equal(bind("Can't assign requested address").code, 'EADDRNOTAVAIL');
  assert.equal(bind('Cannot assign requested address').phase, 'connect');
  const n = (cls: string, msg: string, connect = 0) => normaliseJmeterFailure(`Non HTTP response code: ${cls}`, `Non HTTP response message: ${msg}`, '', connect);
  assert.equal(n('java.net.ConnectException', 'Connection refused').code, 'ECONNREFUSED');
  assert.equal(n('org.apache.http.conn.HttpHostConnectException', 'Connect to localhost:80 [localhost/127.0.0.1] failed: Connection refused (Connection refused)').code, 'ECONNREFUSED');
  assert.deepEqual(n('java.net.SocketTimeoutException', 'connect timed out'), { code: 'CONNECT_TIMEOUT', phase: 'connect', message: 'java.net.SocketTimeoutException: connect timed out' });
  assert.deepEqual({ ...n('java.net.SocketTimeoutException', 'Read timed out', 3), message: '' }, { code: 'REQUEST_TIMEOUT', phase: 'response', message: '' });
  assert.equal(n('org.apache.http.NoHttpResponseException', 'localhost:8082 failed to respond').code, 'SOCKET_CLOSED');
  assert.equal(n('java.net.SocketException', 'Connection reset').code, 'ECONNRESET');
  assert.equal(n('javax.net.ssl.SSLHandshakeException', 'Received fatal alert: handshake_failure').code, 'ERR_SSL_HANDSHAKE_FAILURE');
  assert.equal(n('javax.net.ssl.SSLHandshakeException', 'PKIX path building failed: ...').phase, 'tls');
  assert.deepEqual({ ...n('java.net.UnknownHostException', 'nope.example'), message: '' }, { code: 'ENOTFOUND', phase: 'dns', message: '' });
  assert.equal(n('java.net.SocketException', 'Too many open files').code, 'EMFILE');
  assert.deepEqual(normaliseJmeterFailure('503', 'Service Unavailable', '', 1), { code: 'HTTP_5XX', phase: 'response', message: '503 Service Unavailable' });
  assert.equal(normaliseJmeterFailure('404', 'Not Found', '', 1).code, 'HTTP_4XX');
  const other = n('com.example.WeirdException', 'something odd');
  assert.deepEqual([other.code, other.message], ['OTHER', 'com.example.WeirdException: something odd']);
  assert.deepEqual([normaliseJmeterFailure('200', 'OK', 'Test failed: text expected to contain /x/', 1).code, normaliseJmeterFailure('200', 'OK', 'Test failed: text expected to contain /x/', 1).message], ['OTHER', 'Test failed: text expected to contain /x/']);
});

test('a real CSV JTL with a header (apache/jmeter HTMLReportTestFile.csv)', async () => {
  const r = await readJtl(path.join(FIXTURES, 'HTMLReportTestFile.csv'));
  assert.equal(r.form, 'csv');
  assert.equal(r.figures.results.totals.attempted, 255);
  assert.equal(r.figures.results.errors.HTTP_4XX, 3);
  assert.equal(r.figures.startEpochMs, 1551783627191);
  assert.equal(r.skipped, 0);
});

test('a real XML JTL (apache/jmeter sample_log1c.jtl)', async () => {
  const r = await readJtl(path.join(FIXTURES, 'sample_log1c.jtl'));
  assert.equal(r.form, 'xml');
  assert.equal(r.figures.results.totals.attempted, 2000);
  assert.equal(r.figures.results.totals.completed, 2000);
  assert.ok(Math.abs(r.figures.results.latencyMs.max - 3197) < 2, String(r.figures.results.latencyMs.max));
  assert.equal(r.figures.maxThreads, 0);
});

test('a header-less CSV in the default columns, quoted fields and a line break inside one', async () => {
  const rows = [
    '1700000000000,12,home,200,OK,Thread Group 1-1,text,true,,100,50,2,2,http://127.0.0.1:8080/a?x=1,10,0,3',
    '1700000000500,7,"a, quoted ""label""",Non HTTP response code: java.net.BindException,Non HTTP response message: Cannot assign requested address,Thread Group 1-2,text,false,,0,0,2,2,http://127.0.0.1:8080/a,0,0,0',
    '1700000001200,30,multi,500,"Internal',
    'Server Error",Thread Group 1-1,text,false,,10,50,2,2,http://127.0.0.1:8080/b,29,0,0',
  ];
  const r = await readJtl(write('noheader.jtl', rows.join('\n') + '\n'));
  assert.equal(r.header?.header, false);
  const f = r.figures;
  assert.deepEqual(f.results.totals, { attempted: 3, completed: 1, failed: 2, dropped: 0, connectionsOpened: 1 });
  assert.deepEqual(f.results.errors, { EADDRNOTAVAIL: 1, HTTP_5XX: 1 });
  assert.deepEqual(f.results.errorsByPhase, { 'connect:EADDRNOTAVAIL': 1, 'response:HTTP_5XX': 1 });
  assert.equal(f.urls[0]!.url, 'http://127.0.0.1:8080/a');
  assert.equal(f.maxThreads, 2);
  assert.equal(f.results.timeline.length, 2);
  assert.equal(f.results.timeline[1]!.failed, 1);
  assert.equal(f.results.errorSamples.find((e) => e.code === 'HTTP_5XX')!.message, '500 Internal\nServer Error');
});

test('disorder within what JMeter writes is read; extra columns are listed and ignored', async () => {
  const header = 'timeStamp,elapsed,label,responseCode,responseMessage,threadName,success,failureMessage,myVar,allThreads,URL,Latency,Connect';
  // Written at completion: the 5 s sample that started first comes after the short ones.
  const rows = ['1700000001000,10,a,200,OK,T,true,,v,1,http://h/,5,1', '1700000000000,5000,a,200,OK,T,true,,v,1,http://h/,5,1', '1700000006000,10,a,200,OK,T,true,,v,1,http://h/,5,1'];
  const r = await readJtl(write('disorder.jtl', [header, ...rows].join('\n') + '\n'));
  assert.deepEqual(r.header?.unknown, ['myVar']);
  assert.equal(r.figures.startEpochMs, 1700000000000);
  assert.equal(r.figures.results.timeline[0]!.attempted, 1);
  assert.equal(r.figures.results.timeline[5]!.completed, 1);
  assert.equal(r.figures.durationS, 6.01);
});
