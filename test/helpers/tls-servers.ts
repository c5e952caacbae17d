/** Local HTTPS servers for tests (node:https on 127.0.0.1 port 0), counting handshakes and what clients offered. */
import https from 'node:https';
import type http from 'node:http';
import type tls from 'node:tls';
import type { CertificatePair } from '../../src/target/certificate.js';
import { listen, type TestServer } from './servers.js';

/** What an HTTPS test server saw of its clients' handshakes. */
export interface TlsServerStats {
  /** Handshakes completed. */
  handshakes: number;
  /** Of those, resumed sessions. */
  resumed: number;
  /** The SNI name of each handshake (null: none sent). */
  servernames: Array<string | null>;
  /** The ALPN protocol agreed on, per handshake. */
  alpn: Array<string | null>;
}

/** A started HTTPS server. */
export interface HttpsTestServer extends TestServer {
  tls(): TlsServerStats;
}

/** Options of {@link httpsServer}: node:https server options (certificate, client certificates) and the handler. */
export interface HttpsServerOptions {
  pair: CertificatePair;
  /** Require a client certificate signed by this CA. */
  clientCa?: string;
  handler?: http.RequestListener;
  /** Answer HTTP/1.1 only over ALPN, like the load offers (default true). */
  alpn?: boolean;
}

/** An HTTPS server answering "ok" (or with `handler`) on 127.0.0.1 port 0. */
export async function httpsServer(o: HttpsServerOptions): Promise<HttpsTestServer> {
  const stats: TlsServerStats = { handshakes: 0, resumed: 0, servernames: [], alpn: [] };
  const server = https.createServer(
    {
      cert: o.pair.cert,
      key: o.pair.key,
      keepAliveTimeout: 60_000,
      ...(o.alpn === false ? {} : { ALPNProtocols: ['http/1.1'] }),
      ...(o.clientCa ? { ca: o.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
    },
    o.handler ?? ((_req, res) => res.end('ok')),
  );
  server.on('secureConnection', (s: tls.TLSSocket) => {
    stats.handshakes++;
    if (s.isSessionReused()) stats.resumed++;
    stats.servernames.push(typeof s.servername === 'string' ? s.servername : null);
    stats.alpn.push(typeof s.alpnProtocol === 'string' ? s.alpnProtocol : null);
  });
  server.on('tlsClientError', () => undefined);
  const base = await listen(server, 'http');
  return { ...base, url: base.url.replace(/^http:/, 'https:'), tls: () => ({ ...stats, servernames: [...stats.servernames], alpn: [...stats.alpn] }) };
}
