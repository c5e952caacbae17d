/**
 * The built-in target (src/target): HTTP and TCP behaviour, and which side it reports as closing
 * first. Everything on 127.0.0.1, port 0; every test bounded in time and request count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTarget, type TargetOptions, type TargetStats } from '../../src/target/server.js';
import { startTargetThread } from '../../src/target/thread.js';

const HOST = '127.0.0.1';
const T = { timeout: 10_000 };

function opts(over: Partial<TargetOptions> = {}): TargetOptions {
  return { protocol: 'http', host: HOST, port: 0, delayMs: 0, bodyBytes: 2, close: 'never', ...over };
}

/** Polls stats until pred holds (at most ~3 s); returns the last snapshot. */
async function settle(
  stats: () => TargetStats | Promise<TargetStats>,
  pred: (s: TargetStats) => boolean,
): Promise<TargetStats> {
  let s = await stats();
  for (let i = 0; i < 300 && !pred(s); i++) {
    await sleep(10);
    s = await stats();
  }
  return s;
}

/** A GET through node:http with no agent (so the client sends Connection: close). */
function httpGet(port: number): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: HOST, port, path: '/', agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

function connected(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: HOST, port }, () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/**
 * Sends one HTTP/1.1 request on a raw socket and resolves once the whole response (by
 * Content-Length) has arrived, leaving the socket open for the test to close as it likes.
 */
async function rawHttp(
  port: number,
  extraHeaders = '',
): Promise<{ socket: Socket; status: number; headers: Record<string, string>; body: Buffer }> {
  const socket = await connected(port);
  socket.setTimeout(5000, () => socket.destroy(new Error('raw request timed out')));
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (c: Buffer): void => {
      buf = Buffer.concat([buf, c]);
      const headEnd = buf.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const lines = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const i = line.indexOf(':');
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      const length = Number(headers['content-length'] ?? 0);
      if (buf.length < headEnd + 4 + length) return;
      socket.off('data', onData);
      socket.off('error', reject);
      socket.setTimeout(0);
      const status = Number(lines[0]!.split(' ')[1]);
      resolve({ socket, status, headers, body: buf.subarray(headEnd + 4, headEnd + 4 + length) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`GET / HTTP/1.1\r\nHost: ${HOST}:${port}\r\n${extraHeaders}\r\n`);
  });
}

function closedOf(socket: Socket): Promise<void> {
  return new Promise((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
}

test('http: GET returns 200 and exactly bodyBytes bytes', T, async () => {
  const target = await startTarget(opts({ bodyBytes: 1000 }));
  try {
    assert.ok(target.port > 0);
    const res = await httpGet(target.port);
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 1000);
    assert.equal(res.headers['content-length'], '1000');
    const empty = await startTarget(opts({ bodyBytes: 0 }));
    try {
      assert.equal((await httpGet(empty.port)).body.length, 0);
    } finally {
      await empty.close();
    }
    assert.equal(target.stats().requests, 1);
  } finally {
    await target.close();
  }
});

test('http: delayMs delays the response by at least delayMs', T, async () => {
  const target = await startTarget(opts({ delayMs: 150 }));
  try {
    const t0 = performance.now();
    const res = await httpGet(target.port);
    const elapsed = performance.now() - t0;
    assert.equal(res.status, 200);
    assert.ok(elapsed >= 145, `elapsed ${elapsed.toFixed(1)} ms`);
  } finally {
    await target.close();
  }
});

test("http: close 'after-response' sends connection: close and the server closes first", T, async () => {
  const target = await startTarget(opts({ close: 'after-response' }));
  try {
    const { socket, status, headers } = await rawHttp(target.port);
    assert.equal(status, 200);
    assert.equal(headers['connection'], 'close');
    await closedOf(socket); // the server's FIN arrives; net ends our side too
    const s = await settle(target.stats, (x) => x.open === 0);
    assert.equal(s.connectionsAccepted, 1);
    assert.equal(s.closedByServer, 1);
    assert.equal(s.closedByClient, 0);
    assert.equal(s.resetByClient, 0);
  } finally {
    await target.close();
  }
});

test("http: close 'never', client destroys after the response -> closedByClient", T, async () => {
  const target = await startTarget(opts({ close: 'never' }));
  try {
    const { socket, status, headers } = await rawHttp(target.port);
    assert.equal(status, 200);
    assert.notEqual(headers['connection'], 'close');
    socket.destroy();
    const s = await settle(target.stats, (x) => x.open === 0);
    assert.equal(s.closedByClient, 1);
    assert.equal(s.closedByServer, 0);
    assert.equal(s.resetByClient, 0);
  } finally {
    await target.close();
  }
});

test("http: a client sending Connection: close to a 'never' server -> closedByServer", T, async () => {
  const target = await startTarget(opts({ close: 'never' }));
  try {
    const { socket, headers } = await rawHttp(target.port, 'Connection: close\r\n');
    assert.equal(headers['connection'], 'close');
    await closedOf(socket);
    const s = await settle(target.stats, (x) => x.open === 0);
    assert.equal(s.closedByServer, 1);
    assert.equal(s.closedByClient, 0);
  } finally {
    await target.close();
  }
});

test('http: keep-alive serves several requests on one connection', T, async () => {
  const target = await startTarget(opts());
  try {
    const first = await rawHttp(target.port);
    first.socket.destroy();
    const second = await rawHttp(target.port);
    second.socket.destroy();
    const s = await settle(target.stats, (x) => x.open === 0);
    assert.equal(s.requests, 2);
    assert.equal(s.connectionsAccepted, 2);
    assert.equal(s.connectionsAccepted, s.open + s.closedByServer + s.closedByClient + s.resetByClient);
  } finally {
    await target.close();
  }
});

test('tcp: echoes every chunk; client end -> closedByClient', T, async () => {
  const target = await startTarget(opts({ protocol: 'tcp', delayMs: 20 }));
  try {
    const socket = await connected(target.port);
    const received: Buffer[] = [];
    const ended = new Promise<void>((resolve) => socket.once('end', () => resolve()));
    socket.on('data', (c: Buffer) => received.push(c));
    socket.write('hello');
    await settle(target.stats, (x) => x.requests === 1);
    socket.end('world'); // echoes still pending must arrive before the server ends its side
    await ended;
    assert.equal(Buffer.concat(received).toString(), 'helloworld');
    const s = await settle(target.stats, (x) => x.open === 0);
    assert.equal(s.closedByClient, 1);
    assert.equal(s.closedByServer, 0);
  } finally {
    await target.close();
  }
});

test("tcp: close 'after-response' ends after the first echo", T, async () => {
  const target = await startTarget(opts({ protocol: 'tcp', close: 'after-response' }));
  try {
    const socket = await connected(target.port);
    const received: Buffer[] = [];
    const ended = new Promise<void>((resolve) => socket.once('end', () => resolve()));
    socket.on('data', (c: Buffer) => received.push(c));
    socket.write('ping');
    await ended;
    assert.equal(Buffer.concat(received).toString(), 'ping');
    await closedOf(socket);
    const s = await settle(target.stats, (x) => x.open === 0);
    assert.equal(s.closedByServer, 1);
    assert.equal(s.closedByClient, 0);
    assert.equal(s.requests, 1);
  } finally {
    await target.close();
  }
});

test('tcp: reset by client (resetAndDestroy) -> resetByClient', T, async () => {
  const target = await startTarget(opts({ protocol: 'tcp' }));
  try {
    const socket = await connected(target.port);
    const echoed = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.write('x');
    await echoed;
    socket.resetAndDestroy();
    const s = await settle(target.stats, (x) => x.open === 0);
    assert.equal(s.resetByClient, 1);
    assert.equal(s.closedByClient, 0);
    assert.equal(s.closedByServer, 0);
  } finally {
    await target.close();
  }
});

test('close() destroys open connections and stops listening', T, async () => {
  const target = await startTarget(opts());
  const { socket } = await rawHttp(target.port);
  const closed = closedOf(socket);
  await target.close();
  await closed;
  await target.close(); // idempotent
  await assert.rejects(connected(target.port), { code: 'ECONNREFUSED' });
});

test('a listen error names host:port and keeps the code', T, async () => {
  const first = await startTarget(opts());
  try {
    await assert.rejects(startTarget(opts({ port: first.port })), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'EADDRINUSE');
      assert.match(err.message, new RegExp(`${HOST}:${first.port}`));
      return true;
    });
  } finally {
    await first.close();
  }
});

test('startTargetThread: serves, reports stats, closes', T, async () => {
  const target = await startTargetThread(opts({ bodyBytes: 10 }));
  let closed = false;
  try {
    assert.equal(target.host, HOST);
    assert.ok(target.port > 0);
    const res = await httpGet(target.port);
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 10);
    const s = await settle(target.stats, (x) => x.open === 0);
    assert.equal(s.requests, 1);
    assert.equal(s.connectionsAccepted, 1);
    assert.equal(s.closedByServer, 1); // node:http without an agent sent Connection: close
    await target.close();
    closed = true;
    await target.close(); // idempotent
    await assert.rejects(connected(target.port), { code: 'ECONNREFUSED' });
    await assert.rejects(target.stats());
  } finally {
    if (!closed) await target.close();
  }
});

test('startTargetThread: a listen error rejects naming host:port', T, async () => {
  const first = await startTarget(opts());
  try {
    await assert.rejects(startTargetThread(opts({ port: first.port })), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'EADDRINUSE');
      assert.match(err.message, new RegExp(`${HOST}:${first.port}`));
      return true;
    });
  } finally {
    await first.close();
  }
});
