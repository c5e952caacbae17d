/**
 * The built-in proxy (src/target/proxy.ts) in front of the built-in target on 127.0.0.1: it answers
 * with the backend's status and body, pools or opens one connection per request as told, closes
 * each upstream connection from the side `close` names, and answers failureStatus naming the
 * upstream's error when the backend is down.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Client, request } from 'undici';
import { parseUpstream, startProxy, upstreamErrorCode, UPSTREAM_ERROR_HEADER, type ProxyOptions, type RunningProxy } from '../../src/target/proxy.js';
import { startTarget, type RunningTarget } from '../../src/target/server.js';

let backend: RunningTarget;
const proxies: RunningProxy[] = [];

async function proxy(o: Partial<ProxyOptions>): Promise<RunningProxy> {
  const p = await startProxy({ host: '127.0.0.1', port: 0, upstream: `http://127.0.0.1:${backend.port}`, reuse: false, poolSize: 4, close: 'client', failureStatus: 502, ...o });
  proxies.push(p);
  return p;
}

/** `n` GETs through `url`, `inFlight` at a time, each on a kept-alive client connection. */
async function load(url: string, n: number, inFlight = 1): Promise<number[]> {
  const client = new Client(url.replace(/\/$/, ''), { pipelining: 1 });
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < n) {
        next++;
        const r = await request(url, { dispatcher: client });
        await r.body.dump();
        statuses.push(r.statusCode);
      }
    }),
  );
  await client.close();
  return statuses;
}

/** A port nothing listens on: one just freed. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Waits (bounded) until the backend has seen every connection close. */
async function settled(): Promise<void> {
  for (let i = 0; i < 100 && backend.stats().open > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(backend.stats().open, 0, 'the backend still has open connections after 2 s');
}

describe('the built-in proxy', () => {
  before(async () => {
    backend = await startTarget({ protocol: 'http', host: '127.0.0.1', port: 0, delayMs: 0, bodyBytes: 7, close: 'never' });
  });
  after(async () => {
    await Promise.all(proxies.map((p) => p.close()));
    await backend.close();
  });

  it("answers with the backend's status and body, for GET and POST", async () => {
    const p = await proxy({});
    const r = await request(`${p.url}some/path?q=1`);
    assert.equal(r.statusCode, 200);
    assert.equal(await r.body.text(), 'ooooooo');
    assert.equal(r.headers[UPSTREAM_ERROR_HEADER], undefined);
    const post = await request(p.url, { method: 'POST', body: 'x'.repeat(10_000) });
    assert.equal(post.statusCode, 200);
    assert.equal(await post.body.text(), 'ooooooo');
    assert.deepEqual(p.stats(), { requests: 2, upstreamConnections: 2, upstreamFailures: {}, answered: { 200: 2 } });
  });

  it('with reuse, 60 requests 10 at a time use at most poolSize upstream connections', async () => {
    const before = backend.stats().connectionsAccepted;
    const p = await proxy({ reuse: true, poolSize: 3 });
    assert.deepEqual(await load(p.url, 60, 10), Array(60).fill(200));
    const s = p.stats();
    assert.ok(s.upstreamConnections >= 1 && s.upstreamConnections <= 3, JSON.stringify(s));
    assert.equal(backend.stats().connectionsAccepted - before, s.upstreamConnections);
    assert.deepEqual(s.answered, { 200: 60 });
    await p.close();
  });

  for (const [close, side] of [
    ['client', 'closedByClient'],
    ['server', 'closedByServer'],
    ['reset', 'resetByClient'],
  ] as const) {
    it(`without reuse, 30 requests open 30 upstream connections, each closed as close=${close} says`, async () => {
      await settled();
      const before = backend.stats();
      const p = await proxy({ close });
      assert.deepEqual(await load(p.url, 30, 3), Array(30).fill(200));
      assert.equal(p.stats().upstreamConnections, 30);
      await settled();
      const after = backend.stats();
      assert.equal(after.connectionsAccepted - before.connectionsAccepted, 30);
      assert.equal(after[side] - before[side], 30, `${side}: ${JSON.stringify({ before, after })}`);
    });
  }

  for (const reuse of [false, true]) {
    it(`${reuse ? 'with' : 'without'} reuse, a backend that is down: 502 naming ECONNREFUSED; failureStatus honoured`, async () => {
      const upstream = `http://127.0.0.1:${await closedPort()}`;
      const p = await proxy({ upstream, reuse });
      const r = await request(p.url);
      assert.equal(r.statusCode, 502);
      assert.equal(r.headers[UPSTREAM_ERROR_HEADER], 'ECONNREFUSED');
      assert.match(await r.body.text(), /ECONNREFUSED/);
      const q = await proxy({ upstream, reuse, failureStatus: 503 });
      const r2 = await request(q.url);
      assert.equal(r2.statusCode, 503);
      assert.equal(r2.headers[UPSTREAM_ERROR_HEADER], 'ECONNREFUSED');
      await r2.body.dump();
      assert.deepEqual(q.stats(), { requests: 1, upstreamConnections: 0, upstreamFailures: { ECONNREFUSED: 1 }, answered: { 503: 1 } });
    });
  }

  for (const reuse of [false, true]) {
    it(`${reuse ? 'with' : 'without'} reuse, a backend that accepts and never answers: failureStatus naming ETIMEDOUT`, async () => {
      const hung = createServer(() => {});
      await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
      try {
        const p = await proxy({ upstream: `http://127.0.0.1:${(hung.address() as { port: number }).port}`, reuse, timeouts: { responseMs: 300 } });
        const t0 = performance.now();
        const r = await request(p.url);
        assert.equal(r.statusCode, 502);
        assert.equal(r.headers[UPSTREAM_ERROR_HEADER], 'ETIMEDOUT');
        await r.body.dump();
        assert.ok(performance.now() - t0 < 5_000);
        assert.deepEqual(p.stats().upstreamFailures, { ETIMEDOUT: 1 });
        await p.close();
      } finally {
        hung.close();
      }
    });
  }

  it('parses upstream URLs (IPv6 in brackets) and names error codes', () => {
    assert.deepEqual(parseUpstream('http://[fd00::2]:8080'), { host: 'fd00::2', port: 8080, origin: 'http://[fd00::2]:8080' });
    assert.deepEqual(parseUpstream('http://10.0.0.2'), { host: '10.0.0.2', port: 80, origin: 'http://10.0.0.2:80' });
    assert.throws(() => parseUpstream('https://10.0.0.2'), /only http/);
    assert.throws(() => parseUpstream('http://10.0.0.2/x'), /only a scheme, host and port/);
    assert.equal(upstreamErrorCode({ code: 'UND_ERR_HEADERS_TIMEOUT' }), 'ETIMEDOUT');
    assert.equal(upstreamErrorCode({ code: 'UND_ERR_CONNECT_TIMEOUT' }), 'ETIMEDOUT');
    assert.equal(upstreamErrorCode({ code: 'UND_ERR_SOCKET', cause: { code: 'ECONNRESET' } }), 'ECONNRESET');
    assert.equal(upstreamErrorCode({ code: 'EADDRNOTAVAIL' }), 'EADDRNOTAVAIL');
  });
});
