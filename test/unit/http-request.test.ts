import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { httpRequestBytes } from '../../src/load/transport/http-request.js';

type Opts = Parameters<typeof httpRequestBytes>[0];

function opts(over: { close?: Opts['close']; http?: Partial<Opts['http']> } = {}): Opts {
  return {
    close: over.close ?? 'client',
    http: { method: 'GET', path: '/', headers: {}, body: '', authority: '127.0.0.1:8080', ...over.http },
  };
}

interface Parsed {
  requestLine: string;
  headers: Array<[string, string]>;
  body: Buffer;
}

function parse(buf: Buffer): Parsed {
  const end = buf.indexOf('\r\n\r\n');
  assert.ok(end > 0, 'request has no end of head');
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  const headers = lines.slice(1).map((l): [string, string] => {
    const colon = l.indexOf(':');
    assert.ok(colon > 0, `bad header line ${JSON.stringify(l)}`);
    assert.equal(l[colon + 1], ' ', `no space after colon in ${JSON.stringify(l)}`);
    return [l.slice(0, colon), l.slice(colon + 2)];
  });
  return { requestLine: lines[0], headers, body: buf.subarray(end + 4) };
}

function values(p: Parsed, name: string): string[] {
  return p.headers.filter(([k]) => k.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
}

describe('httpRequestBytes', () => {
  it('a default GET: request line, Host, User-Agent, nothing else', () => {
    const buf = httpRequestBytes(opts());
    assert.equal(buf.toString('latin1'), 'GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: portstorm\r\n\r\n');
  });

  it('uses method and path (with query) in the request line', () => {
    const p = parse(httpRequestBytes(opts({ http: { method: 'DELETE', path: '/items/7?force=1' } })));
    assert.equal(p.requestLine, 'DELETE /items/7?force=1 HTTP/1.1');
  });

  it('the Host header is the target URL authority, not the resolved address', () => {
    const authority = new URL('http://[::1]:9000/x').host;
    assert.deepEqual(values(parse(httpRequestBytes(opts({ http: { authority } }))), 'host'), ['[::1]:9000']);
    const p = parse(httpRequestBytes(opts({ http: { authority: 'localhost:3000' } })));
    assert.deepEqual(values(p, 'host'), ['localhost:3000']);
  });

  it('keeps user headers in order, without duplicating defaults', () => {
    const p = parse(
      httpRequestBytes(
        opts({ http: { headers: { Accept: 'application/json', 'X-Trace': 'abc', 'user-agent': 'mine/1.0', HOST: 'example.test' } } }),
      ),
    );
    assert.deepEqual(values(p, 'host'), ['example.test']);
    assert.deepEqual(values(p, 'user-agent'), ['mine/1.0']);
    assert.deepEqual(values(p, 'accept'), ['application/json']);
    assert.deepEqual(values(p, 'x-trace'), ['abc']);
    const names = p.headers.map(([k]) => k);
    assert.deepEqual(names, ['Accept', 'X-Trace', 'user-agent', 'HOST']);
  });

  it('adds Content-Length for a body and appends the body', () => {
    const buf = httpRequestBytes(opts({ http: { method: 'POST', path: '/submit', headers: { 'Content-Type': 'text/plain' }, body: 'hello' } }));
    const p = parse(buf);
    assert.equal(p.requestLine, 'POST /submit HTTP/1.1');
    assert.deepEqual(values(p, 'content-length'), ['5']);
    assert.deepEqual(values(p, 'content-type'), ['text/plain']);
    assert.equal(p.body.toString(), 'hello');
    assert.ok(buf.toString('latin1').endsWith('\r\n\r\nhello'));
  });

  it('Content-Length counts bytes, not characters', () => {
    const p = parse(httpRequestBytes(opts({ http: { method: 'POST', body: 'héllo ✓' } })));
    const expected = Buffer.byteLength('héllo ✓');
    assert.equal(expected, 10);
    assert.deepEqual(values(p, 'content-length'), [String(expected)]);
    assert.equal(p.body.toString('utf8'), 'héllo ✓');
  });

  it('a body on a GET gets a Content-Length too', () => {
    const p = parse(httpRequestBytes(opts({ http: { method: 'GET', body: '{}' } })));
    assert.deepEqual(values(p, 'content-length'), ['2']);
    assert.equal(p.body.toString(), '{}');
  });

  it('POST, PUT and PATCH with an empty body send Content-Length: 0', () => {
    for (const method of ['POST', 'PUT', 'PATCH']) {
      const p = parse(httpRequestBytes(opts({ http: { method } })));
      assert.deepEqual(values(p, 'content-length'), ['0'], method);
      assert.equal(p.body.length, 0);
    }
  });

  it('GET, HEAD and DELETE with an empty body send no Content-Length', () => {
    for (const method of ['GET', 'HEAD', 'DELETE']) {
      const p = parse(httpRequestBytes(opts({ http: { method } })));
      assert.deepEqual(values(p, 'content-length'), [], method);
    }
  });

  it('a user Content-Length is not duplicated', () => {
    const p = parse(httpRequestBytes(opts({ http: { method: 'POST', headers: { 'content-length': '3' }, body: 'abc' } })));
    assert.deepEqual(values(p, 'content-length'), ['3']);
  });

  it('Connection: close only with close: server', () => {
    assert.deepEqual(values(parse(httpRequestBytes(opts({ close: 'server' }))), 'connection'), ['close']);
    assert.deepEqual(values(parse(httpRequestBytes(opts({ close: 'client' }))), 'connection'), []);
    assert.deepEqual(values(parse(httpRequestBytes(opts({ close: 'reset' }))), 'connection'), []);
  });

  it('a user Connection header wins over close: server', () => {
    const p = parse(httpRequestBytes(opts({ close: 'server', http: { headers: { connection: 'keep-alive' } } })));
    assert.deepEqual(values(p, 'connection'), ['keep-alive']);
    const p2 = parse(httpRequestBytes(opts({ close: 'client', http: { headers: { Connection: 'close' } } })));
    assert.deepEqual(values(p2, 'connection'), ['close']);
  });

  it('the head ends with one blank line, followed by exactly the body', () => {
    const buf = httpRequestBytes(opts({ close: 'server', http: { method: 'PUT', body: 'x\r\n\r\ny' } }));
    const text = buf.toString('latin1');
    const end = text.indexOf('\r\n\r\n');
    assert.equal(text.slice(end + 4), 'x\r\n\r\ny');
    assert.ok(!text.slice(0, end).includes('\r\n\r\n'));
    assert.deepEqual(values(parse(buf), 'content-length'), ['6']);
  });
});
