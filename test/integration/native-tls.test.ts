/**
 * HTTPS on the native connection engine (native/connengine/tls.c, the OpenSSL of this Node
 * process): handshakes against node:tls / node:https servers written here, with certificates made
 * by makeCertificate. Failures must read as node:tls reports the same case (each is checked against
 * a node:tls connection to the same server); onHandshake is called once per handshake, with session
 * resumption as asked; keep-alive makes one handshake per pooled connection; the close policies show
 * on the wire (close_notify) as they should. Where TIME_WAIT lands: native-tls-netns.test.ts.
 *
 * The addon must be built with TLS available (Node's OpenSSL): without it these tests fail.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type http from 'node:http';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { httpRequestBytes } from '../../src/load/transport/http-request.js';
import { loadNativeEngine, type ConnEngineAddon, type EngineCreateOptions, type EngineHandle, type EngineTlsOptions } from '../../src/load/transport/native-engine.js';
import { nativeKeepAliveTransport } from '../../src/load/transport/native-keepalive.js';
import { nodeHintsSystemCa, nativeOneShotTransport, SYSTEM_CA_HINT } from '../../src/load/transport/native-oneshot.js';
import type { ExchangeResult, TlsClientOptions, Transport, TransportOptions } from '../../src/load/transport/types.js';
import { makeCertificate, type CertificatePair } from '../../src/target/certificate.js';
import { normalizeError, type Failure } from '../../src/vocab/failure.js';
import { runConcurrently } from '../helpers/concurrent.js';
import { rawServer, unacceptingListener } from '../helpers/raw-servers.js';
import { httpServer, silentServer, type TestServer } from '../helpers/servers.js';
import { httpsServer, wireServer, type HttpsTestServer } from '../helpers/tls-servers.js';
import { transportOptions } from '../helpers/engine-options.js';

function addon(): ConnEngineAddon {
  const n = loadNativeEngine();
  if (!n.available) throw new Error(`the native connection engine must be built for these tests (npm rebuild): ${n.reason}`);
  if (!n.addon.tls.available) throw new Error(`the native engine found no OpenSSL in this node: ${n.addon.tls.reason}`);
  return n.addon;
}

const TLS: TlsClientOptions = {
  servername: 'localhost',
  insecure: false,
  ca: null,
  cert: null,
  key: null,
  sessionResumption: true,
  alpn: ['http/1.1'],
  handshakeTimeoutMs: 3000,
};

/** Transport options for an HTTPS target at 127.0.0.1:`port`. */
function options(port: number, tlsOver: Partial<TlsClientOptions>, over: Partial<TransportOptions> = {}): TransportOptions {
  return transportOptions('127.0.0.1', port, { http: { method: 'GET', path: '/', headers: {}, body: '', authority: `localhost:${port}` }, tcp: { payload: '', expectBytes: 0 }, tls: { ...TLS, ...tlsOver }, ...over });
}

interface Run {
  results: ExchangeResult[];
  connects: number;
  handshakes: { tlsMs: number; resumed: boolean }[];
}

/** `n` exchanges, `concurrency` at a time, on a new one-shot (or keep-alive) transport, then closed. */
async function run(opts: TransportOptions, n = 1, concurrency = 1, keepAlive = false): Promise<Run> {
  const out: Run = { results: [], connects: 0, handshakes: [] };
  const o: TransportOptions = {
    ...opts,
    onConnect: () => out.connects++,
    onHandshake: (tlsMs, resumed) => out.handshakes.push({ tlsMs, resumed }),
  };
  const t: Transport = keepAlive ? nativeKeepAliveTransport(addon(), o) : nativeOneShotTransport(addon(), o, httpRequestBytes(o), { kind: 'http', isHead: o.http.method === 'HEAD' });
  out.results = await runConcurrently(n, concurrency, () => t.exchange());
  await t.close(false);
  return out;
}

/** How node:tls fails the same connection (normalized as a transport would, in phase `tls`). */
function nodeFailure(port: number, o: Partial<TlsClientOptions>, host = '127.0.0.1'): Promise<Failure | null> {
  const t = { ...TLS, ...o };
  return new Promise((resolve) => {
    const s = tls.connect({
      host,
      port,
      servername: t.servername ?? undefined,
      ca: t.ca ?? undefined,
      cert: t.cert ?? undefined,
      key: t.key ?? undefined,
      rejectUnauthorized: !t.insecure,
      ALPNProtocols: t.alpn,
    });
    let secure = false;
    s.once('secureConnect', () => {
      secure = true;
      // A server that refuses the client after the handshake (TLS 1.3 client certificates) says so on the first read.
      s.on('data', () => undefined);
      s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      s.once('end', () => resolve(null));
    });
    s.once('error', (err) => resolve(normalizeError(err, secure ? 'send' : 'tls')));
  });
}

const failureOf = (r: Run): Failure | null => r.results[0]!.failure;

/** node:tls's message for a self-signed certificate on this Node (23.10+ appends a hint). */
const SELF_SIGNED = `self-signed certificate${nodeHintsSystemCa() ? SYSTEM_CA_HINT : ''}`;

/** The extension types of the ClientHello that starts `bytes` (one TLS record). */
function clientHelloExtensions(bytes: Buffer): number[] {
  let at = 5 + 4 + 2 + 32; // record header, handshake header, client_version, random
  at += 1 + bytes[at]!; // session_id
  at += 2 + bytes.readUInt16BE(at); // cipher_suites
  at += 1 + bytes[at]!; // compression_methods
  const end = at + 2 + bytes.readUInt16BE(at);
  const types: number[] = [];
  for (at += 2; at + 4 <= end; at += 4 + bytes.readUInt16BE(at + 2)) types.push(bytes.readUInt16BE(at));
  return types;
}

describe('native TLS: the addon', () => {
  it("uses this node's OpenSSL and says so", () => {
    const a = addon();
    assert.equal(a.tls.available, true);
    assert.equal(a.tls.reason, null);
    assert.match(a.tls.version ?? '', new RegExp(`^OpenSSL ${process.versions.openssl!.split('+')[0]!.replace(/\./g, '\\.')}`));
  });

  it('refuses TLS options it cannot use, naming the field', () => {
    const a = addon();
    const base: EngineCreateOptions = {
      family: 4,
      host: '127.0.0.1',
      port: 1,
      localAddresses: [],
      close: 0,
      connectTimeoutMs: 1000,
      requestTimeoutMs: 1000,
      request: Buffer.from('x'),
      reader: 1,
      isHead: false,
      expectBytes: 0,
      originNs: 0n,
      onReady: () => undefined,
    };
    const tlsBase: EngineTlsOptions = { servername: null, insecure: false, ca: null, cert: null, key: null, sessionResumption: true, alpn: [], handshakeTimeoutMs: 1000 };
    assert.throws(() => a.create({ ...base, tls: tlsBase }), /tls\.ca is required unless tls\.insecure/);
    assert.throws(() => a.create({ ...base, tls: { ...tlsBase, ca: 'not a certificate' } }), /tls\.ca holds no PEM certificate/);
    assert.throws(() => a.create({ ...base, tls: { ...tlsBase, insecure: true, cert: 'x', key: null } }), /tls\.cert and tls\.key go together/);
    assert.throws(() => a.create({ ...base, tls: { ...tlsBase, insecure: true, alpn: [''] } }), /tls\.alpn/);
  });
});

describe('native TLS: exchanges', () => {
  let pair: CertificatePair;
  let ok: HttpsTestServer;
  const servers: TestServer[] = [];
  before(async () => {
    pair = await makeCertificate({ names: ['localhost', '127.0.0.1'] });
    ok = await httpsServer({ pair, handler: (_req, res) => res.end('hello') });
    servers.push(ok);
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  it('completes HTTPS exchanges under each close policy: one handshake per connection, timed from the connect', async () => {
    for (const close of ['client', 'server', 'reset'] as const) {
      const before = ok.handshakes().handshakes;
      const r = await run(options(ok.port, { ca: pair.cert }, { close }), 30, 3);
      assert.ok(
        r.results.every((x) => x.failure === null && x.firstByteAt !== null && x.connectMs !== null),
        `${close}: ${JSON.stringify(r.results.find((x) => x.failure))}`,
      );
      assert.equal(r.connects, 30);
      assert.equal(r.handshakes.length, 30, `${close}: onHandshake once per handshake`);
      assert.equal(ok.handshakes().handshakes - before, 30);
      for (const h of r.handshakes) assert.ok(Number.isFinite(h.tlsMs) && h.tlsMs > 0, JSON.stringify(h));
      // The first byte comes after the connect and the handshake.
      for (const x of r.results) assert.ok(x.firstByteAt! >= x.startedAt + x.connectMs!, JSON.stringify(x));
    }
  });

  it('reads responses of many records, chunked bodies and bodies ended by the close; writes large requests', async () => {
    const big = 'x'.repeat(300_000);
    let received = 0;
    const handler: http.RequestListener = (req, res) => {
      req.on('data', (c: Buffer) => (received += c.length));
      req.on('end', () => {
        if (req.url === '/big') res.end(big);
        else if (req.url === '/chunked') {
          res.write('abc');
          setTimeout(() => res.end('def'), 5);
        } else {
          // HTTP/1.0 style: no length, the end of the body is the end of the connection.
          res.writeHead(200, { Connection: 'close' });
          res.useChunkedEncodingByDefault = false;
          res.end('until the end');
        }
      });
    };
    const s = await httpsServer({ pair, handler });
    servers.push(s);
    for (const path of ['/big', '/chunked', '/close']) {
      const r = await run(options(s.port, { ca: pair.cert }, { http: { method: 'GET', path, headers: {}, body: '', authority: 'localhost' } }), 4, 2);
      assert.ok(r.results.every((x) => x.failure === null), `${path}: ${JSON.stringify(r.results.map((x) => x.failure))}`);
    }
    const body = 'b'.repeat(2 << 20);
    const post = await run(options(s.port, { ca: pair.cert }, { http: { method: 'POST', path: '/big', headers: {}, body, authority: 'localhost' } }), 2);
    assert.ok(post.results.every((x) => x.failure === null), JSON.stringify(post.results));
    assert.equal(received, 2 * body.length, 'every byte of the request reached the server');
  });

  it('HTTP failures over TLS stay response failures', async () => {
    const handler: http.RequestListener = (_req, res) => {
      res.statusCode = 503;
      res.end('busy');
    };
    const s = await httpsServer({ pair, handler });
    servers.push(s);
    const r = await run(options(s.port, { ca: pair.cert }), 2);
    assert.deepEqual(failureOf(r), { code: 'HTTP_5XX', phase: 'response', message: 'response HTTP_5XX' });
  });

  it('session resumption on: the first handshake is full, the next ones resume (and the server sees them resumed)', async () => {
    for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
      const s = await httpsServer({ pair, handler: (_req, res) => res.end('ok'), tlsOptions: { maxVersion } });
      servers.push(s);
      const r = await run(options(s.port, { ca: pair.cert, sessionResumption: true }), 6, 1);
      assert.ok(r.results.every((x) => x.failure === null), maxVersion);
      assert.deepEqual(
        r.handshakes.map((h) => h.resumed),
        [false, true, true, true, true, true],
        maxVersion,
      );
      assert.deepEqual(s.handshakes(), { handshakes: 6, resumed: 5 }, maxVersion);
    }
  });

  it('session resumption off: a full handshake every time', async () => {
    for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
      const s = await httpsServer({ pair, handler: (_req, res) => res.end('ok'), tlsOptions: { maxVersion } });
      servers.push(s);
      const r = await run(options(s.port, { ca: pair.cert, sessionResumption: false }), 5, 1);
      assert.ok(r.results.every((x) => x.failure === null), maxVersion);
      assert.deepEqual(
        r.handshakes.map((h) => h.resumed),
        [false, false, false, false, false],
      );
      assert.deepEqual(s.handshakes(), { handshakes: 5, resumed: 0 }, maxVersion);
    }
  });

  it('without resumption the ClientHello asks for no TLS 1.2 ticket (no session_ticket extension)', async () => {
    const hellos: number[][] = [];
    const rawHellos = await rawServer((socket) => {
      socket.once('data', (hello: Buffer) => {
        hellos.push(clientHelloExtensions(hello));
        socket.destroy();
      });
    });
    servers.push(rawHellos);
    await run(options(rawHellos.port, { ca: pair.cert, sessionResumption: false }), 1);
    await run(options(rawHellos.port, { ca: pair.cert, sessionResumption: true }), 1);
    const SESSION_TICKET = 0x23;
    assert.equal(hellos.length, 2);
    assert.equal(hellos[0]!.includes(SESSION_TICKET), false, 'resumption off');
    assert.equal(hellos[1]!.includes(SESSION_TICKET), true, 'resumption on');
  });

  it('keep-alive: N requests on at most poolSize connections, one handshake each', async () => {
    const s = await httpsServer({ pair, handler: (_req, res) => res.end('ok') });
    servers.push(s);
    const r = await run(options(s.port, { ca: pair.cert }, { poolSize: 3 }), 60, 6, true);
    assert.ok(r.results.every((x) => x.failure === null), JSON.stringify(r.results.find((x) => x.failure)));
    assert.ok(r.connects >= 1 && r.connects <= 3, `connections ${r.connects}`);
    assert.equal(r.handshakes.length, r.connects, 'handshakes = connections');
    assert.equal(s.stats().accepted, r.connects);
    assert.equal(s.handshakes().handshakes, r.connects);
    assert.equal(r.results.filter((x) => x.connectMs !== null).length, r.connects, 'the exchange that opened a connection reports its connect');
  });

  it('keep-alive: a failed handshake fails its exchange in phase tls', async () => {
    const r = await run(options(ok.port, { ca: null }, { poolSize: 2 }), 3, 1, true);
    for (const x of r.results) assert.deepEqual(x.failure, { code: 'DEPTH_ZERO_SELF_SIGNED_CERT', phase: 'tls', message: SELF_SIGNED });
    assert.equal(r.handshakes.length, 0);
  });

  it('a client certificate the server requires: accepted when given, refused (as node:tls is) when not', async () => {
    const ca = await makeCertificate({ ca: true, commonName: 'client CA' });
    const client = await makeCertificate({ names: ['client'], issuer: ca });
    let peer = '';
    const handler: http.RequestListener = (req, res) => {
      peer = String((req.socket as tls.TLSSocket).getPeerCertificate().subject?.CN ?? '');
      res.end('ok');
    };
    const s = await httpsServer({ pair, handler, tlsOptions: { requestCert: true, rejectUnauthorized: true, ca: ca.cert } });
    servers.push(s);
    const withCert = await run(options(s.port, { ca: pair.cert, cert: client.cert, key: client.key }), 2);
    assert.ok(withCert.results.every((x) => x.failure === null), JSON.stringify(withCert.results));
    assert.equal(peer, 'client');
    const without = failureOf(await run(options(s.port, { ca: pair.cert }), 1));
    const node = await nodeFailure(s.port, { ca: pair.cert });
    assert.ok(without !== null && node !== null, `native ${JSON.stringify(without)}, node ${JSON.stringify(node)}`);
    assert.equal(without.code, node.code);
    assert.match(without.code, /^ERR_SSL_/);
  });

  it('ALPN: http/1.1 is offered and the server picks it', async () => {
    let protocol: string | false | null = null;
    const handler: http.RequestListener = (req, res) => {
      protocol = (req.socket as tls.TLSSocket).alpnProtocol;
      res.end('ok');
    };
    const s = await httpsServer({ pair, handler, tlsOptions: { ALPNProtocols: ['h2', 'http/1.1'] } });
    servers.push(s);
    const r = await run(options(s.port, { ca: pair.cert }), 1);
    assert.equal(failureOf(r), null);
    assert.equal(protocol, 'http/1.1');
  });
});

describe('native TLS: failures read as node:tls reports them', () => {
  const servers: TestServer[] = [];
  let pair: CertificatePair;
  let s: HttpsTestServer;
  before(async () => {
    pair = await makeCertificate({ names: ['localhost', '127.0.0.1'] });
    s = await httpsServer({ pair, handler: (_req, res) => res.end('ok') });
    servers.push(s);
  });
  after(async () => {
    await Promise.all(servers.map((x) => x.close()));
  });

  /** The native failure for `o`, asserted equal to node:tls's; returned. */
  async function same(port: number, o: Partial<TlsClientOptions>, what: string): Promise<Failure> {
    const native = failureOf(await run(options(port, o), 1));
    const node = await nodeFailure(port, o);
    assert.ok(native !== null, `${what}: the native exchange succeeded`);
    assert.deepEqual(native, node, what);
    return native;
  }

  it('a self-signed certificate: refused without trust, accepted with insecure or as ca', async () => {
    const f = await same(s.port, {}, 'untrusted');
    assert.deepEqual(f, { code: 'DEPTH_ZERO_SELF_SIGNED_CERT', phase: 'tls', message: SELF_SIGNED });
    assert.equal(failureOf(await run(options(s.port, { insecure: true }), 1)), null);
    assert.equal(failureOf(await run(options(s.port, { ca: pair.cert }), 1)), null);
    // insecure also skips the name: any servername, or none.
    assert.equal(failureOf(await run(options(s.port, { insecure: true, servername: 'example.com' }), 1)), null);
    assert.equal(failureOf(await run(options(s.port, { insecure: true, servername: null }), 1)), null);
  });

  it('a certificate signed by a trusted CA is accepted; by another CA refused', async () => {
    const ca = await makeCertificate({ ca: true, commonName: 'test CA' });
    const other = await makeCertificate({ ca: true, commonName: 'other CA' });
    const leaf = await makeCertificate({ names: ['localhost'], issuer: ca });
    const signed = await httpsServer({ pair: leaf, handler: (_req, res) => res.end('ok') });
    servers.push(signed);
    assert.equal(failureOf(await run(options(signed.port, { ca: ca.cert }), 1)), null);
    const f = await same(signed.port, { ca: other.cert }, 'other CA');
    assert.equal(f.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('an expired certificate: CERT_HAS_EXPIRED (trusted or not, as node:tls reports the last chain error)', async () => {
    const expired = await makeCertificate({ names: ['localhost'], notBefore: new Date(Date.now() - 10 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
    const old = await httpsServer({ pair: expired, handler: (_req, res) => res.end('ok') });
    servers.push(old);
    const trusted = await same(old.port, { ca: expired.cert }, 'expired, trusted');
    assert.deepEqual(trusted, { code: 'CERT_HAS_EXPIRED', phase: 'tls', message: 'certificate has expired' });
    await same(old.port, {}, 'expired, untrusted');
    // A chain error comes before the name, as in node:tls.
    await same(old.port, { ca: expired.cert, servername: 'example.com' }, 'expired, wrong name');
  });

  it('a name the certificate does not cover: ERR_TLS_CERT_ALTNAME_INVALID with Node message, by servername and by address', async () => {
    const byName = await same(s.port, { ca: pair.cert, servername: 'example.com' }, 'servername');
    assert.equal(byName.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.equal(byName.phase, 'tls');
    assert.match(byName.message, /^Hostname\/IP does not match certificate's altnames: Host: example\.com\. is not in the cert's altnames: DNS:localhost, IP Address:127\.0\.0\.1$/);
    // No servername: the certificate must cover the target's address.
    const nameOnly = await makeCertificate({ names: ['localhost', '::1'] });
    const v = await httpsServer({ pair: nameOnly, handler: (_req, res) => res.end('ok') });
    servers.push(v);
    const byAddress = await same(v.port, { ca: nameOnly.cert, servername: null }, 'address');
    assert.equal(byAddress.message, "Hostname/IP does not match certificate's altnames: IP: 127.0.0.1 is not in the cert's list: ::1");
    assert.equal(failureOf(await run(options(s.port, { ca: pair.cert, servername: null }), 1)), null, 'the address is covered');
    // A certificate with no DNS name, checked by name: its CN.
    const cnOnly = await makeCertificate({ commonName: 'cn.example', names: [] });
    const c = await httpsServer({ pair: cnOnly, handler: (_req, res) => res.end('ok') });
    servers.push(c);
    await same(c.port, { ca: cnOnly.cert, servername: 'localhost' }, 'CN only');
  });

  it('a plain HTTP target: an OpenSSL error named as Node names it (ERR_SSL_…)', async () => {
    const plain = await httpServer((_req, res) => res.end('not TLS'));
    servers.push(plain);
    const native = failureOf(await run(options(plain.port, { ca: pair.cert }), 1));
    const node = await nodeFailure(plain.port, { ca: pair.cert });
    assert.equal(native?.code, node?.code);
    assert.equal(native?.phase, 'tls');
    assert.match(native!.code, /^ERR_SSL_/);
    assert.match(native!.message, /^error:[0-9A-F]{8}:SSL routines::/);
  });

  it('a server that never answers the ClientHello: TLS_HANDSHAKE_TIMEOUT after handshakeTimeoutMs', async () => {
    const silent = await silentServer();
    servers.push(silent);
    const r = await run(options(silent.port, { ca: pair.cert, handshakeTimeoutMs: 300 }), 2, 2);
    for (const x of r.results) {
      assert.deepEqual(x.failure, { code: 'TLS_HANDSHAKE_TIMEOUT', phase: 'tls', message: 'no TLS handshake within 300 ms' });
      assert.ok(x.connectMs !== null && x.endedAt - x.startedAt >= 299, JSON.stringify(x));
    }
    assert.equal(r.connects, 2);
    assert.equal(r.handshakes.length, 0);
  });

  it('a server that closes or resets during the handshake: ECONNRESET as node:tls says it', async () => {
    const closes = await rawServer((sock) => sock.once('data', () => sock.end()));
    servers.push(closes);
    const fin = await same(closes.port, { ca: pair.cert }, 'FIN');
    assert.deepEqual(fin, { code: 'ECONNRESET', phase: 'tls', message: 'Client network socket disconnected before secure TLS connection was established' });
    const resets = await rawServer((sock) => sock.once('data', () => sock.resetAndDestroy()));
    servers.push(resets);
    const rst = await same(resets.port, { ca: pair.cert }, 'RST');
    assert.deepEqual(rst, { code: 'ECONNRESET', phase: 'tls', message: 'read ECONNRESET', syscall: 'read' });
  });

  it('a connect completed late (a retransmitted SYN): the handshake starts then, and is timed from then', async () => {
    const l = await unacceptingListener();
    try {
      const pending = run(options(l.port, { ca: pair.cert, handshakeTimeoutMs: 300 }, { connectTimeoutMs: 5000 }), 1);
      await new Promise((r) => setTimeout(r, 300));
      // It accepts, then waits for a request head that a ClientHello never completes: the handshake times out.
      l.serve();
      const r = await pending;
      const x = r.results[0]!;
      assert.deepEqual(x.failure, { code: 'TLS_HANDSHAKE_TIMEOUT', phase: 'tls', message: 'no TLS handshake within 300 ms' });
      assert.ok(x.connectMs !== null && x.connectMs > 500, `connected after ${x.connectMs} ms (the first SYN was dropped)`);
      assert.ok(x.endedAt - x.startedAt >= x.connectMs + 299, JSON.stringify(x));
      assert.equal(r.connects, 1);
    } finally {
      await l.close();
    }
  });

  it('a connect refused late (a retransmitted SYN meets a RST): ECONNREFUSED in phase connect', async () => {
    const l = await unacceptingListener();
    const pending = run(options(l.port, { ca: pair.cert }, { connectTimeoutMs: 5000 }), 1);
    await new Promise((r) => setTimeout(r, 300));
    await l.close();
    const x = (await pending).results[0]!;
    assert.deepEqual(x.failure, { code: 'ECONNREFUSED', phase: 'connect', message: `connect ECONNREFUSED 127.0.0.1:${l.port}`, syscall: 'connect' });
    assert.equal(x.connectMs, null);
  });

  it("one connection's OpenSSL error never shows on the next (the thread's error queue is emptied)", async () => {
    const plain = await httpServer((_req, res) => res.end('not TLS'));
    servers.push(plain);
    const t = nativeOneShotTransport(addon(), options(plain.port, { ca: pair.cert }), Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), { kind: 'http', isHead: false });
    const good = nativeOneShotTransport(addon(), options(s.port, { ca: pair.cert }), Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), { kind: 'http', isHead: false });
    for (let i = 0; i < 5; i++) {
      assert.match((await t.exchange()).failure?.code ?? '', /^ERR_SSL_/);
      assert.equal((await good.exchange()).failure, null);
    }
    await t.close(false);
    await good.close(false);
  });
});

describe('native TLS: every exchange ends, also without memory for its record', () => {
  it('a verification failure whose record cannot be allocated still ends with its verify result (fault 1)', async () => {
    const a = addon();
    const pair = await makeCertificate({ names: ['localhost'] });
    const other = await makeCertificate({ names: ['localhost'] });
    const s = await httpsServer({ pair, handler: (_req, res) => res.end('ok') });
    const N = 20;
    let handle: EngineHandle | undefined;
    try {
      const records = await new Promise<number[][]>((resolve, reject) => {
        const got: number[][] = [];
        let out: Int32Array;
        const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${N} exchanges ended within 10 s`)), 10_000);
        const [h, subAb, outAb] = a.create({
          family: 4,
          host: '127.0.0.1',
          port: s.port,
          localAddresses: [],
          close: 0,
          connectTimeoutMs: 2000,
          requestTimeoutMs: 2000,
          request: Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'),
          reader: 1,
          isHead: false,
          expectBytes: 0,
          originNs: 0n,
          tls: { servername: 'localhost', insecure: false, ca: other.cert, cert: null, key: null, sessionResumption: true, alpn: [], handshakeTimeoutMs: 2000 },
          onReady: () => {
            const k = a.take(handle!);
            // Records: i32 8 type (2 done), 10 code, 11 phase, 12 errno, 15 detail.
            for (let i = 0; i < k; i++) if (out[i * 32 + 8] === 2) got.push([10, 11, 12, 15].map((f) => out[i * 32 + f]!));
            if (got.length === N) {
              clearTimeout(timer);
              resolve(got);
            }
          },
        });
        handle = h;
        out = new Int32Array(outAb);
        a.fault(h, 1);
        const sub = new Int32Array(subAb);
        for (let i = 0; i < N; i++) sub[i] = i;
        a.submit(h, N);
      });
      // CODE_TLS_VERIFY, PH_TLS, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, no message (it was in the lost record).
      assert.deepEqual(records, Array.from({ length: N }, () => [12, 3, 18, -1]));
    } finally {
      if (handle) a.stop(handle);
      await s.close();
    }
  });
});

describe('native TLS: what the server sees of each close policy (TLS 1.2 on the wire)', () => {
  it('client: close_notify then FIN; server: the server closes first; reset: RST without close_notify', async () => {
    const pair = await makeCertificate({ names: ['localhost'] });
    const s = await wireServer(pair, (_req, res) => res.end('ok'));
    try {
      for (const close of ['client', 'server', 'reset'] as const) {
        s.views.length = 0;
        const r = await run(options(s.port, { ca: pair.cert }, { close }), 10, 2);
        assert.ok(r.results.every((x) => x.failure === null), `${close}: ${JSON.stringify(r.results.find((x) => x.failure))}`);
        for (let i = 0; i < 100 && s.views.length < 10; i++) await new Promise((res) => setTimeout(res, 10));
        assert.equal(s.views.length, 10, close);
        const info = `${close}: ${JSON.stringify(s.views)}`;
        if (close === 'client') assert.ok(s.views.every((v) => v.alertsAfterRequest === 1 && v.fin && !v.reset), info);
        if (close === 'server') assert.ok(s.views.every((v) => v.alertsAfterRequest === 0 && !v.reset), info);
        if (close === 'reset') assert.ok(s.views.every((v) => v.alertsAfterRequest === 0 && v.reset), info);
      }
    } finally {
      await s.close();
    }
  });
});

describe('native TLS: without OpenSSL', () => {
  const BUILD = (p: string): string => fileURLToPath(new URL(`../../${p}`, import.meta.url));
  const probe = `
import https from 'node:https';
import { loadNativeEngine } from ${JSON.stringify(pathToFileURL(BUILD('src/load/transport/native-engine.js')).href)};
import { connectionEngine, createTransport } from ${JSON.stringify(pathToFileURL(BUILD('src/load/transport/index.js')).href)};
import { readdirSync, readFileSync } from 'node:fs';
const threads = () => readdirSync('/proc/self/task').map((t) => readFileSync('/proc/self/task/' + t + '/comm', 'utf8').trim());
const n = loadNativeEngine();
const out = { tls: n.available ? n.addon.tls : null, https: connectionEngine(false, '127.0.0.1', 'http', { tls: true }), http: connectionEngine(false, '127.0.0.1', 'http', { tls: false }) };
try {
  n.addon.create({ family: 4, host: '127.0.0.1', port: 1, localAddresses: [], close: 0, connectTimeoutMs: 1000, requestTimeoutMs: 1000,
    request: Buffer.from('x'), reader: 1, isHead: false, expectBytes: 0, originNs: 0n, onReady: () => {},
    tls: { servername: null, insecure: true, ca: null, cert: null, key: null, sessionResumption: true, alpn: [], handshakeTimeoutMs: 1000 } });
} catch (e) { out.createError = e.message; }
try {
  createTransport('http', false, { host: '127.0.0.1', port: 1, localAddresses: [], close: 'client', poolSize: 1, connectTimeoutMs: 1000, requestTimeoutMs: 1000,
    http: { method: 'GET', path: '/', headers: {}, body: '', authority: 'x' }, tcp: { payload: '', expectBytes: 0 }, onConnect: () => {},
    tls: { servername: null, insecure: true, ca: null, cert: null, key: null, sessionResumption: true, alpn: [], handshakeTimeoutMs: 1000 } });
  out.transport = 'built';
} catch (e) { out.transport = e.message; }
console.log(JSON.stringify(out));
`;
  const child = (env: Record<string, string | undefined>): Record<string, unknown> => {
    const { NODE_TEST_CONTEXT: _c, ...base } = process.env;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8', timeout: 30_000, env: { ...base, ...env } });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>;
  };

  it('PORTSTORM_NATIVE_TLS=0 (a process without OpenSSL, as far as the addon knows): HTTPS goes to node:tls with the reason, plain HTTP stays native', () => {
    const off = child({ PORTSTORM_NATIVE_TLS: '0', PORTSTORM_ENGINE: undefined, PORTSTORM_SKIP_NATIVE: undefined });
    assert.deepEqual(off.tls, { available: false, version: null, reason: 'disabled by PORTSTORM_NATIVE_TLS=0' });
    assert.deepEqual(off.https, { engine: 'js', reason: 'the native engine has no OpenSSL here (disabled by PORTSTORM_NATIVE_TLS=0)' });
    assert.deepEqual(off.http, { engine: 'native', reason: null });
    assert.match(String(off.createError), /TLS is unavailable here: disabled by PORTSTORM_NATIVE_TLS=0/);
    assert.equal(off.transport, 'built');
    const on = child({ PORTSTORM_NATIVE_TLS: undefined, PORTSTORM_ENGINE: undefined, PORTSTORM_SKIP_NATIVE: undefined });
    assert.deepEqual(on.https, { engine: 'native', reason: null });
  });

  it('PORTSTORM_ENGINE=native with TLS unavailable: creating an HTTPS transport throws, naming why', () => {
    const r = child({ PORTSTORM_NATIVE_TLS: '0', PORTSTORM_ENGINE: 'native', PORTSTORM_SKIP_NATIVE: undefined });
    assert.match(String(r.transport), /PORTSTORM_ENGINE=native, but the native engine has no OpenSSL here/);
  });
});
