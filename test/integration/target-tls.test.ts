/**
 * The built-in target over TLS (TargetOptions.tls): HTTPS with keep-alive, which side closes each
 * connection first (and where TIME_WAIT lands), completed and resumed handshakes, and handshakes
 * that fail (plain HTTP, a client that refuses the certificate) counted without crashing or logging.
 * The clients are node:tls sockets written here; everything on 127.0.0.1, port 0, bounded in time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeCertificate, type CertificatePair } from '../../src/target/certificate.js';
import { parseProcNetTcp } from '../../src/monitor/proc-net-tcp.js';
import { startTarget, type RunningTarget, type TargetOptions, type TargetStats } from '../../src/target/server.js';
import { startTargetThread } from '../../src/target/thread.js';

const HOST = '127.0.0.1';
const T = { timeout: 15_000 };
const pair: CertificatePair = await makeCertificate({ names: [HOST] });

function opts(over: Partial<TargetOptions> = {}): TargetOptions {
  return { protocol: 'http', host: HOST, port: 0, delayMs: 0, bodyBytes: 2, close: 'never', tls: pair, ...over };
}

/** Polls stats until pred holds (at most ~3 s); returns the last snapshot. */
async function settle(stats: () => TargetStats | Promise<TargetStats>, pred: (s: TargetStats) => boolean): Promise<TargetStats> {
  let s = await stats();
  for (let i = 0; i < 300 && !pred(s); i++) {
    await sleep(10);
    s = await stats();
  }
  return s;
}

/** Every connection is open or counted once by the side that closed it. */
function balanced(s: TargetStats): boolean {
  return s.connectionsAccepted === s.open + s.closedByServer + s.closedByClient + s.resetByClient;
}

/** A TLS client over a TCP socket of its own (so a test can reset the TCP connection under TLS). */
interface Client {
  tcp: Socket;
  tls: TLSSocket;
  /** The session to resume with, once the server has sent a ticket. */
  session(): Promise<Buffer>;
  closed: Promise<void>;
}

function tlsClient(port: number, extra: ConnectionOptions = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const tcp = netConnect({ host: HOST, port });
    const tls = tlsConnect({ socket: tcp, host: HOST, ca: pair.cert, ...extra });
    const closed = new Promise<void>((r) => tls.once('close', () => r()));
    const session = new Promise<Buffer>((r) => tls.once('session', (s: Buffer) => r(s)));
    tls.setTimeout(5000, () => tls.destroy(new Error('TLS client timed out')));
    tls.once('secureConnect', () => {
      tls.off('error', reject);
      resolve({ tcp, tls, session: () => session, closed });
    });
    tls.once('error', reject);
  });
}

/** Sends one GET and resolves with the response once it has fully arrived (by Content-Length). */
function get(c: Client, extraHeaders = ''): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
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
      c.tls.off('data', onData);
      c.tls.off('error', reject);
      resolve({ status: Number(lines[0]!.split(' ')[1]), headers, body: buf.subarray(headEnd + 4, headEnd + 4 + length) });
    };
    c.tls.on('data', onData);
    c.tls.once('error', reject);
    c.tls.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\n${extraHeaders}\r\n`);
  });
}

/** The TIME_WAIT sockets of this network namespace between the target's port and `clientPort`. */
function timeWait(targetPort: number, clientPort: number): { server: boolean; client: boolean } {
  const rows = [...parseProcNetTcp(readFileSync('/proc/net/tcp', 'utf8'))].filter((r) => r.state === 'TIME_WAIT');
  return {
    server: rows.some((r) => r.localPort === targetPort && r.remotePort === clientPort),
    client: rows.some((r) => r.localPort === clientPort && r.remotePort === targetPort),
  };
}

/** Runs fn with this process's stderr captured; resolves with what was written there. */
async function capturingStderr(fn: () => Promise<void>): Promise<string> {
  const write = process.stderr.write.bind(process.stderr);
  let captured = '';
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    captured += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return write(chunk, ...(rest as []));
  }) as typeof process.stderr.write;
  try {
    await fn();
  } finally {
    process.stderr.write = write;
  }
  return captured;
}

async function withTarget(o: Partial<TargetOptions>, fn: (t: RunningTarget) => Promise<void>): Promise<void> {
  const target = await startTarget(opts(o));
  try {
    await fn(target);
  } finally {
    await target.close();
  }
}

test('https: GET over TLS returns 200 and bodyBytes; keep-alive serves two requests after one handshake', T, async () => {
  await withTarget({ bodyBytes: 1000 }, async (target) => {
    const c = await tlsClient(target.port);
    assert.equal(c.tls.alpnProtocol, false); // the client offered no ALPN
    const first = await get(c);
    assert.equal(first.status, 200);
    assert.equal(first.body.length, 1000);
    assert.notEqual(first.headers['connection'], 'close');
    assert.equal((await get(c)).status, 200);
    c.tls.end();
    await c.closed;
    const s = await settle(target.stats, (x) => x.open === 0);
    assert.deepEqual(s, {
      connectionsAccepted: 1,
      requests: 2,
      closedByServer: 0,
      closedByClient: 1,
      resetByClient: 0,
      open: 0,
      tlsHandshakes: 1,
      tlsResumed: 0,
      tlsErrors: 0,
    });
  });
});

test('https: ALPN http/1.1 is agreed when the client offers it', T, async () => {
  await withTarget({}, async (target) => {
    const c = await tlsClient(target.port, { ALPNProtocols: ['http/1.1'] });
    assert.equal(c.tls.alpnProtocol, 'http/1.1');
    assert.equal((await get(c)).status, 200);
    c.tls.destroy();
  });
});

test("https: the client's close_notify + FIN first -> closedByClient, TIME_WAIT on the client", T, async () => {
  await withTarget({}, async (target) => {
    const c = await tlsClient(target.port);
    const clientPort = c.tcp.localPort!;
    await get(c);
    c.tls.end(); // close_notify, then FIN
    await c.closed;
    const s = await settle(target.stats, (x) => x.open === 0);
    assert.equal(s.closedByClient, 1);
    assert.equal(s.closedByServer, 0);
    assert.equal(s.resetByClient, 0);
    assert.deepEqual(timeWait(target.port, clientPort), { server: false, client: true });
  });
});

test("https: close 'after-response' -> the server sends close_notify and closes first, TIME_WAIT on the server", T, async () => {
  await withTarget({ close: 'after-response' }, async (target) => {
    const c = await tlsClient(target.port);
    const clientPort = c.tcp.localPort!;
    // Prepended: node:tls ends the client's side from an 'end' listener of its own.
    const ended = new Promise<boolean>((r) => c.tls.prependOnceListener('end', () => r(c.tls.writableEnded)));
    const res = await get(c);
    assert.equal(res.headers['connection'], 'close');
    assert.equal(await ended, false, "the server's close_notify/FIN came while the client had not ended its side");
    await c.closed;
    const s = await settle(target.stats, (x) => x.open === 0);
    assert.equal(s.closedByServer, 1);
    assert.equal(s.closedByClient, 0);
    assert.equal(s.requests, 1);
    assert.deepEqual(timeWait(target.port, clientPort), { server: true, client: false });
  });
});

test('https: a client that resets the TCP connection under TLS -> resetByClient', T, async () => {
  await withTarget({}, async (target) => {
    const c = await tlsClient(target.port);
    await get(c);
    c.tcp.resetAndDestroy();
    const s = await settle(target.stats, (x) => x.open === 0);
    assert.equal(s.resetByClient, 1);
    assert.equal(s.closedByClient, 0);
    assert.equal(s.closedByServer, 0);
    assert.equal(s.tlsErrors, 0);
  });
});

for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
  test(`https: a ${version} session resumes on a new connection (tlsResumed), every handshake counted`, T, async () => {
    await withTarget({}, async (target) => {
      const first = await tlsClient(target.port, { minVersion: version, maxVersion: version });
      assert.equal(first.tls.getProtocol(), version);
      await get(first); // TLS 1.3 tickets come after the handshake: a request round trip waits for them
      const session = await first.session();
      first.tls.end();
      await first.closed;
      const again = await tlsClient(target.port, { minVersion: version, maxVersion: version, session });
      assert.equal(again.tls.isSessionReused(), true);
      assert.equal((await get(again)).status, 200);
      again.tls.end();
      await again.closed;
      const fresh = await tlsClient(target.port, { minVersion: version, maxVersion: version });
      assert.equal(fresh.tls.isSessionReused(), false);
      fresh.tls.end();
      await fresh.closed;
      const s = await settle(target.stats, (x) => x.open === 0);
      assert.equal(s.tlsHandshakes, 3);
      assert.equal(s.tlsResumed, 1);
      assert.equal(s.closedByClient, 3);
    });
  });
}

test('https: a plain-HTTP client is a TLS error, closed by the server, logged nowhere; the target keeps serving', T, async () => {
  await withTarget({}, async (target) => {
    const stderr = await capturingStderr(async () => {
      const plain = netConnect({ host: HOST, port: target.port });
      plain.on('error', () => undefined);
      let answer = '';
      plain.on('data', (d: Buffer) => (answer += d.toString('latin1')));
      plain.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
      await new Promise<void>((r) => plain.once('close', () => r()));
      assert.doesNotMatch(answer, /^HTTP\/1\.1 200/);
      await settle(target.stats, (x) => x.open === 0);
    });
    assert.equal(stderr, '');
    const c = await tlsClient(target.port);
    assert.equal((await get(c)).status, 200);
    c.tls.end();
    const s = await settle(target.stats, (x) => x.open === 0);
    assert.equal(s.tlsErrors, 1);
    assert.equal(s.tlsHandshakes, 1);
    assert.equal(s.requests, 1);
    assert.equal(s.connectionsAccepted, 2);
    assert.equal(s.closedByServer, 1);
    assert.equal(s.closedByClient, 1);
    assert.ok(balanced(s), JSON.stringify(s));
  });
});

test('https: a client that refuses the certificate is a TLS error, closed by the client; the target keeps serving', T, async () => {
  const otherCa = await makeCertificate({ ca: true, commonName: 'not the target' });
  await withTarget({}, async (target) => {
    const stderr = await capturingStderr(async () => {
      await assert.rejects(tlsClient(target.port, { ca: otherCa.cert }), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
      // The name check is the client's too: the certificate does not cover "localhost".
      await assert.rejects(tlsClient(target.port, { servername: 'localhost', host: 'localhost' }), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
      await settle(target.stats, (x) => x.open === 0 && x.tlsErrors! + x.tlsHandshakes! === 2);
    });
    assert.equal(stderr, '');
    const c = await tlsClient(target.port);
    assert.equal((await get(c)).status, 200);
    c.tls.end();
    const s = await settle(target.stats, (x) => x.open === 0 && x.closedByClient === 3);
    assert.equal(s.connectionsAccepted, 3);
    assert.equal(s.requests, 1);
    assert.equal(s.closedByClient, 3);
    assert.equal(s.closedByServer, 0);
    // A Node client checks the certificate once its side of the handshake is done: the server may
    // or may not have completed its own by the time the client hangs up.
    assert.equal(s.tlsErrors! + s.tlsHandshakes!, 3);
    assert.ok(s.tlsErrors! >= 1, JSON.stringify(s));
  });
});

test('https: a TCP connection that hangs up or resets in the middle of the handshake', T, async () => {
  await withTarget({}, async (target) => {
    const hello = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x50, 0x01]); // the start of a ClientHello
    const half = async (how: 'end' | 'reset'): Promise<void> => {
      const s = netConnect({ host: HOST, port: target.port });
      s.on('error', () => undefined);
      await new Promise<void>((r) => s.once('connect', () => r()));
      s.write(hello);
      await settle(target.stats, (x) => x.connectionsAccepted > 0);
      await sleep(20);
      if (how === 'end') s.end();
      else s.resetAndDestroy();
      await settle(target.stats, (x) => x.open === 0);
    };
    await half('end');
    await half('reset');
    const s = await settle(target.stats, (x) => x.open === 0);
    assert.equal(s.tlsErrors, 2);
    assert.equal(s.closedByClient, 1);
    assert.equal(s.resetByClient, 1);
    assert.equal(s.tlsHandshakes, 0);
  });
});

test('https: close() with a handshake pending and a connection idle resolves, and is no client error', T, async () => {
  const target = await startTarget(opts());
  const pending = netConnect({ host: HOST, port: target.port });
  pending.on('error', () => undefined);
  const idle = await tlsClient(target.port);
  await get(idle);
  await settle(target.stats, (x) => x.connectionsAccepted === 2);
  await target.close();
  await idle.closed;
  const s = await settle(target.stats, (x) => x.open === 0);
  assert.equal(s.tlsErrors, 0);
  assert.equal(s.closedByServer, 2);
  pending.destroy();
});

test('plain HTTP targets have no TLS counters; TLS over TCP is refused', T, async () => {
  const plain = await startTarget(opts({ tls: undefined }));
  try {
    assert.equal('tlsHandshakes' in plain.stats(), false);
  } finally {
    await plain.close();
  }
  await assert.rejects(startTarget(opts({ protocol: 'tcp' })), /TLS over HTTP only/);
});

test('startTargetThread carries the certificate to the worker and reports the TLS counters', T, async () => {
  const target = await startTargetThread(opts({ bodyBytes: 10 }));
  try {
    const first = await tlsClient(target.port);
    assert.equal(first.tls.getPeerX509Certificate()?.fingerprint256, new X509Certificate(pair.cert).fingerprint256);
    assert.equal((await get(first)).body.length, 10);
    const session = await first.session();
    first.tls.end();
    await first.closed;
    const again = await tlsClient(target.port, { session });
    assert.equal(again.tls.isSessionReused(), true);
    again.tls.end();
    await again.closed;
    const s = await settle(target.stats, (x) => x.open === 0 && x.closedByClient === 2);
    assert.equal(s.tlsHandshakes, 2);
    assert.equal(s.tlsResumed, 1);
    assert.equal(s.tlsErrors, 0);
    assert.equal(s.requests, 1);
  } finally {
    await target.close();
  }
});
