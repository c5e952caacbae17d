/**
 * Where TIME_WAIT lands with HTTPS on the native engine, in a private network namespace (so only
 * this test's sockets are counted) against a node:https server on 198.18.0.2: close: client leaves
 * it on the client (close_notify, FIN, and the socket kept open until the server's FIN, so the
 * server's own close_notify never meets a closed socket and turns into a RST), close: server on the
 * server, close: reset nowhere; a keep-alive pool closed at the end leaves its few connections'
 * TIME_WAIT on the client (none with reset).
 *
 * Run with `--tls-probe <json>` (inside the namespace), this file is the probe those tests start.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { httpRequestBytes } from '../../src/load/transport/http-request.js';
import { loadNativeEngine } from '../../src/load/transport/native-engine.js';
import { nativeKeepAliveTransport } from '../../src/load/transport/native-keepalive.js';
import { nativeOneShotTransport } from '../../src/load/transport/native-oneshot.js';
import type { TransportOptions } from '../../src/load/transport/types.js';
import { makeCertificate } from '../../src/target/certificate.js';
import { runConcurrently } from '../helpers/concurrent.js';
import { runInNetns } from '../helpers/netns.js';
import { closingFor, timeWaitFor } from '../helpers/raw-servers.js';
import { httpsServer } from '../helpers/tls-servers.js';

const ADDRESS = '198.18.0.2';

interface PolicyCount {
  close: 'client' | 'server' | 'reset';
  keepAlive: boolean;
  maxVersion: 'TLSv1.2' | 'TLSv1.3';
  completed: number;
  codes: string[];
  handshakes: number;
  client: number;
  server: number;
}

async function probe(n: number): Promise<PolicyCount[]> {
  const n0 = loadNativeEngine();
  if (!n0.available || !n0.addon.tls.available) throw new Error('the native engine with TLS is required');
  const addon = n0.addon;
  const pair = await makeCertificate({ names: [ADDRESS] });
  const out: PolicyCount[] = [];
  const cases = [
    ...(['client', 'server', 'reset'] as const).flatMap((close) => (['TLSv1.2', 'TLSv1.3'] as const).map((maxVersion) => ({ close, keepAlive: false, maxVersion }))),
    { close: 'client', keepAlive: true, maxVersion: 'TLSv1.3' } as const,
    { close: 'reset', keepAlive: true, maxVersion: 'TLSv1.3' } as const,
  ];
  for (const { close, keepAlive, maxVersion } of cases) {
    const server = await httpsServer({ pair, handler: (_req, res) => res.end('ok'), tlsOptions: { maxVersion }, host: ADDRESS });
    let handshakes = 0;
    const opts: TransportOptions = {
      host: ADDRESS,
      port: server.port,
      localAddresses: [],
      close,
      poolSize: 4,
      connectTimeoutMs: 2000,
      requestTimeoutMs: 3000,
      http: { method: 'GET', path: '/', headers: {}, body: '', authority: `${ADDRESS}:${server.port}` },
      tcp: { payload: '', expectBytes: 0 },
      onConnect: () => undefined,
      onHandshake: () => handshakes++,
      tls: { servername: null, insecure: false, ca: pair.cert, cert: null, key: null, sessionResumption: true, alpn: ['http/1.1'], handshakeTimeoutMs: 3000 },
    };
    const t = keepAlive ? nativeKeepAliveTransport(addon, opts) : nativeOneShotTransport(addon, opts, httpRequestBytes(opts), { kind: 'http', isHead: false });
    const results = await runConcurrently(n, 4, () => t.exchange());
    await t.close(false);
    for (let i = 0; i < 150 && closingFor(server.port) > 0; i++) await new Promise((r) => setTimeout(r, 20));
    const tw = timeWaitFor(server.port);
    await server.close();
    const codes = results.filter((r) => r.failure).map((r) => r.failure!.code);
    out.push({ close, keepAlive, maxVersion, completed: results.length - codes.length, codes, handshakes, ...tw });
  }
  return out;
}

const probeAt = process.argv.indexOf('--tls-probe');
if (probeAt > 0) {
  const { n } = JSON.parse(process.argv[probeAt + 1] ?? '{}') as { n: number };
  process.stdout.write(JSON.stringify(await probe(n)) + '\n');
} else {
  describe('native TLS: TIME_WAIT placement (network namespace)', () => {
    const N = 60;
    it('client: on the client; server: on the server; reset: nowhere; a keep-alive pool: only its own connections', () => {
      const counts = runInNetns<PolicyCount[]>(
        fileURLToPath(import.meta.url),
        ['--tls-probe', JSON.stringify({ n: N })],
        [`ip addr add ${ADDRESS}/32 dev lo`, 'echo 0 > /proc/sys/net/ipv4/tcp_tw_reuse'],
        120_000,
      );
      assert.equal(counts.length, 8);
      // A late ACK can end a TIME_WAIT early: counts are asserted within 5 %.
      const most = Math.floor(N * 0.95);
      const few = Math.ceil(N * 0.05);
      for (const c of counts) {
        const info = JSON.stringify(c);
        assert.equal(c.completed, N, info);
        if (c.keepAlive) {
          assert.ok(c.handshakes >= 1 && c.handshakes <= 4, `one handshake per pooled connection: ${info}`);
          assert.equal(c.server, 0, info);
          if (c.close === 'reset') assert.equal(c.client, 0, `the pool closes with RST: ${info}`);
          // close_notify, FIN, then the server's: its answering close_notify must not turn the close into a RST.
          else assert.ok(c.client >= 1 && c.client <= c.handshakes, `the pool closes first, gracefully: ${info}`);
          continue;
        }
        assert.equal(c.handshakes, N, info);
        if (c.close === 'client') assert.ok(c.client >= most && c.server <= few, `TIME_WAIT on the client: ${info}`);
        if (c.close === 'server') assert.ok(c.server >= most && c.client <= few, `TIME_WAIT on the server: ${info}`);
        if (c.close === 'reset') assert.ok(c.client + c.server <= few, `no TIME_WAIT: ${info}`);
      }
    });
  });
}
