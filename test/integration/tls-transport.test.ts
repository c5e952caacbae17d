/**
 * HTTPS on the JS engine (oneshot.ts over node:tls, http-pool.ts over undici with a TLS connector),
 * constructed directly so no engine choice intervenes, against node:https servers written here with
 * certificates made at start: the `tls` phase, its failures as stable codes, SNI, session
 * resumption, client certificates and the keep-alive pool's one handshake per connection.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { httpPoolTransport } from '../../src/load/transport/http-pool.js';
import { httpRequestBytes } from '../../src/load/transport/http-request.js';
import { oneShotTransport } from '../../src/load/transport/oneshot.js';
import { httpResponseReader } from '../../src/load/transport/readers.js';
import type { ExchangeResult, TlsClientOptions, Transport, TransportOptions } from '../../src/load/transport/types.js';
import { makeCertificate, type CertificatePair } from '../../src/target/certificate.js';
import { httpServer, silentServer } from '../helpers/servers.js';
import { httpsServer } from '../helpers/tls-servers.js';
import { transportOptions } from '../helpers/engine-options.js';

const HOUR = 3_600_000;

/** TLS settings trusting `ca` (PEM) with SNI `servername`; `over` overrides any field. */
function tlsOptions(ca: string | null, over: Partial<TlsClientOptions> = {}): TlsClientOptions {
  return { servername: null, insecure: false, ca, cert: null, key: null, sessionResumption: true, alpn: ['http/1.1'], handshakeTimeoutMs: 2000, ...over };
}

interface Calls {
  connects: number;
  handshakes: Array<{ tlsMs: number; resumed: boolean }>;
}

/** Transport options toward 127.0.0.1:`port` over TLS, counting the callbacks into `calls`. */
function options(port: number, tls: TlsClientOptions, calls: Calls, over: Partial<TransportOptions> = {}): TransportOptions {
  return transportOptions('127.0.0.1', port, {
    tls,
    onConnect: () => void calls.connects++,
    onHandshake: (tlsMs, resumed) => void calls.handshakes.push({ tlsMs, resumed }),
    ...over,
  });
}

function oneShot(opts: TransportOptions): Transport {
  return oneShotTransport(opts, httpRequestBytes(opts), () => httpResponseReader(false));
}

/** `n` exchanges, `concurrency` at a time, then the transport closed. */
async function exchanges(t: Transport, n: number, concurrency = 1): Promise<ExchangeResult[]> {
  const results: ExchangeResult[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        results.push(await t.exchange());
      }
    }),
  );
  await t.close(false);
  return results;
}

const newCalls = (): Calls => ({ connects: 0, handshakes: [] });
const codes = (rs: ExchangeResult[]): string[] => rs.map((r) => (r.failure ? `${r.failure.phase}:${r.failure.code}` : 'ok'));

describe('HTTPS on the JS engine', () => {
  let ca: CertificatePair;
  let leaf: CertificatePair;
  before(async () => {
    ca = await makeCertificate({ ca: true, commonName: 'portstorm test CA' });
    leaf = await makeCertificate({ names: ['127.0.0.1', 'staging-api.internal'], issuer: ca });
  });

  for (const close of ['client', 'server', 'reset'] as const) {
    it(`reuse: false, close: ${close}: one connection and one full handshake per exchange, tlsMs reported`, async () => {
      const server = await httpsServer({ pair: leaf });
      after(() => server.close());
      const calls = newCalls();
      const rs = await exchanges(oneShot(options(server.port, tlsOptions(ca.cert, { sessionResumption: false }), calls, { close })), 12, 3);
      assert.deepEqual(codes(rs), Array(12).fill('ok'));
      assert.equal(calls.connects, 12);
      assert.equal(calls.handshakes.length, 12);
      assert.ok(calls.handshakes.every((h) => h.tlsMs >= 0 && !h.resumed), JSON.stringify(calls.handshakes));
      assert.equal(server.stats().accepted, 12);
      assert.equal(server.tls().handshakes, 12);
      assert.deepEqual(new Set(server.tls().alpn), new Set(['http/1.1']));
      for (const r of rs) assert.ok(r.connectMs !== null && r.firstByteAt !== null && r.localPort !== null);
    });
  }

  it('a self-signed certificate is refused without trust (DEPTH_ZERO_SELF_SIGNED_CERT, phase tls) and accepted with insecure', async () => {
    const self = await makeCertificate({ names: ['127.0.0.1'] });
    const server = await httpsServer({ pair: self });
    after(() => server.close());
    const refused = newCalls();
    const a = await exchanges(oneShot(options(server.port, tlsOptions(null), refused)), 2);
    assert.deepEqual(codes(a), ['tls:DEPTH_ZERO_SELF_SIGNED_CERT', 'tls:DEPTH_ZERO_SELF_SIGNED_CERT']);
    assert.equal(refused.connects, 2, 'the TCP connection was made');
    assert.equal(refused.handshakes.length, 0);
    const insecure = newCalls();
    const b = await exchanges(oneShot(options(server.port, tlsOptions(null, { insecure: true }), insecure)), 2);
    assert.deepEqual(codes(b), ['ok', 'ok']);
    assert.equal(insecure.handshakes.length, 2);
    // Trusted as its own CA, it verifies.
    const trusted = await exchanges(oneShot(options(server.port, tlsOptions(self.cert), newCalls())), 1);
    assert.deepEqual(codes(trusted), ['ok']);
  });

  it('a certificate signed by an unknown CA: UNABLE_TO_VERIFY_LEAF_SIGNATURE', async () => {
    const server = await httpsServer({ pair: leaf });
    after(() => server.close());
    const other = await makeCertificate({ ca: true });
    assert.deepEqual(codes(await exchanges(oneShot(options(server.port, tlsOptions(other.cert), newCalls())), 1)), ['tls:UNABLE_TO_VERIFY_LEAF_SIGNATURE']);
  });

  it('an expired certificate: CERT_HAS_EXPIRED in phase tls', async () => {
    const expired = await makeCertificate({ names: ['127.0.0.1'], issuer: ca, notBefore: new Date(Date.now() - 48 * HOUR), notAfter: new Date(Date.now() - 24 * HOUR) });
    const server = await httpsServer({ pair: expired });
    after(() => server.close());
    assert.deepEqual(codes(await exchanges(oneShot(options(server.port, tlsOptions(ca.cert), newCalls())), 1)), ['tls:CERT_HAS_EXPIRED']);
  });

  it('SNI carries the name, none for an IP address; a name the certificate does not cover: ERR_TLS_CERT_ALTNAME_INVALID', async () => {
    const server = await httpsServer({ pair: leaf });
    after(() => server.close());
    const named = await exchanges(oneShot(options(server.port, tlsOptions(ca.cert, { servername: 'staging-api.internal' }), newCalls())), 1);
    const byAddress = await exchanges(oneShot(options(server.port, tlsOptions(ca.cert), newCalls())), 1);
    assert.deepEqual(codes([...named, ...byAddress]), ['ok', 'ok']);
    assert.deepEqual(server.tls().servernames, ['staging-api.internal', null]);
    const wrong = await exchanges(oneShot(options(server.port, tlsOptions(ca.cert, { servername: 'other.internal' }), newCalls())), 1);
    assert.deepEqual(codes(wrong), ['tls:ERR_TLS_CERT_ALTNAME_INVALID']);
    const other = await makeCertificate({ names: ['other.internal'], issuer: ca });
    const elsewhere = await httpsServer({ pair: other });
    after(() => elsewhere.close());
    // No servername: the certificate must cover the address connected to.
    assert.deepEqual(codes(await exchanges(oneShot(options(elsewhere.port, tlsOptions(ca.cert), newCalls())), 1)), ['tls:ERR_TLS_CERT_ALTNAME_INVALID']);
  });

  it('a server that never answers the ClientHello: TLS_HANDSHAKE_TIMEOUT after the connect', async () => {
    const server = await silentServer();
    after(() => server.close());
    const calls = newCalls();
    const rs = await exchanges(oneShot(options(server.port, tlsOptions(ca.cert, { handshakeTimeoutMs: 300 }), calls)), 2);
    assert.deepEqual(codes(rs), ['tls:TLS_HANDSHAKE_TIMEOUT', 'tls:TLS_HANDSHAKE_TIMEOUT']);
    assert.equal(calls.connects, 2);
    assert.match(rs[0]!.failure!.message, /no TLS handshake within 300 ms/);
  });

  it('a plain HTTP server: the handshake fails with an ERR_SSL_ code in phase tls', async () => {
    const server = await httpServer((_req, res) => res.end('plain'));
    after(() => server.close());
    const [r] = await exchanges(oneShot(options(server.port, tlsOptions(ca.cert), newCalls())), 1);
    assert.equal(r!.failure?.phase, 'tls');
    assert.match(r!.failure!.code, /^ERR_SSL_/);
  });

  it('sessionResumption: true resumes the newest session on new connections; false never offers one', async () => {
    const server = await httpsServer({ pair: leaf });
    after(() => server.close());
    const on = newCalls();
    const a = await exchanges(oneShot(options(server.port, tlsOptions(ca.cert), on)), 10);
    assert.deepEqual(codes(a), Array(10).fill('ok'));
    assert.equal(on.handshakes[0]!.resumed, false, 'the first handshake is a full one');
    const resumed = on.handshakes.filter((h) => h.resumed).length;
    // One after another, each connection has the ticket of the one before.
    assert.equal(resumed, 9, JSON.stringify(on.handshakes));
    assert.equal(server.tls().resumed, 9);
    const off = newCalls();
    await exchanges(oneShot(options(server.port, tlsOptions(ca.cert, { sessionResumption: false }), off)), 10);
    assert.equal(off.handshakes.filter((h) => h.resumed).length, 0);
    assert.equal(server.tls().resumed, 9, 'the server resumed no session of the second transport');
  });

  it('a required client certificate: refused without one, accepted with one', async () => {
    const client = await makeCertificate({ names: ['portstorm-client'], issuer: ca });
    const server = await httpsServer({ pair: leaf, clientCa: ca.cert });
    after(() => server.close());
    const [without] = await exchanges(oneShot(options(server.port, tlsOptions(ca.cert), newCalls())), 1);
    // TLS 1.3: the client's handshake is over before the server checks it; its alert still fails the handshake.
    assert.deepEqual(codes([without!]), ['tls:ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED']);
    const pooled = await exchanges(httpPoolTransport(options(server.port, tlsOptions(ca.cert), newCalls())), 1);
    assert.deepEqual(codes(pooled), ['tls:ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED']);
    const withCert = await exchanges(oneShot(options(server.port, tlsOptions(ca.cert, { cert: client.cert, key: client.key }), newCalls())), 3);
    assert.deepEqual(codes(withCert), ['ok', 'ok', 'ok']);
  });

  it('keep-alive (undici pool over TLS): N requests on at most poolSize connections, one handshake each', async () => {
    const server = await httpsServer({ pair: leaf });
    after(() => server.close());
    const calls = newCalls();
    const rs = await exchanges(httpPoolTransport(options(server.port, tlsOptions(ca.cert, { servername: 'staging-api.internal' }), calls, { poolSize: 4 })), 200, 8);
    assert.deepEqual(new Set(codes(rs)), new Set(['ok']));
    assert.equal(rs.length, 200);
    assert.ok(calls.connects >= 1 && calls.connects <= 4, `connections ${calls.connects}`);
    assert.equal(calls.handshakes.length, calls.connects);
    assert.equal(server.tls().handshakes, calls.connects);
    assert.ok(server.stats().accepted <= 4);
    assert.deepEqual(new Set(server.tls().servernames), new Set(['staging-api.internal']));
  });

  it('keep-alive over TLS: a refused certificate fails every request in phase tls', async () => {
    const self = await makeCertificate({ names: ['127.0.0.1'] });
    const server = await httpsServer({ pair: self });
    after(() => server.close());
    const rs = await exchanges(httpPoolTransport(options(server.port, tlsOptions(null), newCalls(), { poolSize: 2 })), 4, 2);
    assert.deepEqual(codes(rs), Array(4).fill('tls:DEPTH_ZERO_SELF_SIGNED_CERT'));
  });
});
