/**
 * TLS servers for tests (certificates from makeCertificate, never files): an HTTPS server (node:https
 * on port 0) that counts handshakes, resumed sessions and what clients offered, and one that shows
 * what the client sends on the wire after its request (close_notify or not) and how its
 * connections end.
 */
import https from 'node:https';
import http from 'node:http';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { CertificatePair } from '../../src/target/certificate.js';
import { listen, type TestServer } from './servers.js';

/** Handshakes a TLS test server completed. */
export interface HandshakeCounts {
  /** Completed handshakes. */
  handshakes: number;
  /** Of which resumed a session (tlsSocket.isSessionReused()). */
  resumed: number;
}

/** What an HTTPS test server saw of its clients' handshakes. */
export interface TlsServerStats extends HandshakeCounts {
  /** The SNI name of each handshake (null: none sent). */
  servernames: Array<string | null>;
  /** The ALPN protocol agreed on, per handshake. */
  alpn: Array<string | null>;
}

/** A started HTTPS server. */
export interface HttpsTestServer extends TestServer {
  tls(): TlsServerStats;
  handshakes(): HandshakeCounts;
}

/** Options of {@link httpsServer}. */
export interface HttpsServerOptions {
  pair: CertificatePair;
  /** Require a client certificate signed by this CA. */
  clientCa?: string;
  handler?: http.RequestListener;
  /** Answer HTTP/1.1 only over ALPN, like the load offers (default true). */
  alpn?: boolean;
  /** Further server options (maxVersion, …). */
  tlsOptions?: Omit<tls.TlsOptions, 'cert' | 'key'>;
  /** Listen address (default 127.0.0.1). */
  host?: string;
}

/** An HTTPS server answering "ok" (or with `handler`) on `host` port 0. */
export async function httpsServer(o: HttpsServerOptions): Promise<HttpsTestServer> {
  const stats: TlsServerStats = { handshakes: 0, resumed: 0, servernames: [], alpn: [] };
  const server = https.createServer(
    {
      cert: o.pair.cert,
      key: o.pair.key,
      keepAliveTimeout: 60_000,
      ...(o.alpn === false ? {} : { ALPNProtocols: ['http/1.1'] }),
      ...(o.clientCa ? { ca: o.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
      ...o.tlsOptions,
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
  const base = await listen(server, 'http', o.host);
  return {
    ...base,
    url: base.url.replace(/^http:/, 'https:'),
    tls: () => ({ ...stats, servernames: [...stats.servernames], alpn: [...stats.alpn] }),
    handshakes: () => ({ handshakes: stats.handshakes, resumed: stats.resumed }),
  };
}

/** How one connection to a WireServer ended, seen from the server's socket. */
export interface WireView {
  /** TLS alert records (content type 21) the client sent after its request: close_notify, under TLS 1.2. */
  alertsAfterRequest: number;
  /** The client's FIN arrived. */
  fin: boolean;
  /** The connection was reset (ECONNRESET). */
  reset: boolean;
}

/** A TLS 1.2 HTTPS server that records each connection's WireView. */
export interface WireServer extends TestServer {
  views: WireView[];
}

/**
 * An HTTPS server (TLS 1.2, so alert records show their type on the wire) whose TLS runs over a
 * stream fed from the raw socket, so that the raw bytes the client sends can be read: the records
 * after the first application data record (the request) are counted by type.
 */
export async function wireServer(pair: CertificatePair, handler: http.RequestListener): Promise<WireServer> {
  const views: WireView[] = [];
  const context = tls.createSecureContext({ cert: pair.cert, key: pair.key, maxVersion: 'TLSv1.2' });
  const httpServer = http.createServer({ keepAliveTimeout: 60_000 }, handler);
  const server = net.createServer((raw) => {
    const view: WireView = { alertsAfterRequest: 0, fin: false, reset: false };
    let buffered = Buffer.alloc(0);
    let requestSeen = false;
    const stream = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        if (raw.destroyed) cb();
        else raw.write(chunk, () => cb());
      },
      final(cb) {
        raw.end();
        cb();
      },
    });
    raw.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      // Record headers: type (1 byte), version (2), length (2).
      while (buffered.length >= 5 && buffered.length >= 5 + buffered.readUInt16BE(3)) {
        const type = buffered[0];
        if (type === 23) requestSeen = true;
        else if (type === 21 && requestSeen) view.alertsAfterRequest++;
        buffered = buffered.subarray(5 + buffered.readUInt16BE(3));
      }
      stream.push(chunk);
    });
    raw.on('end', () => {
      view.fin = true;
      stream.push(null);
    });
    raw.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET') view.reset = true;
      stream.destroy();
    });
    raw.on('close', () => views.push(view));
    const secure = new tls.TLSSocket(stream, { isServer: true, secureContext: context });
    secure.on('error', () => undefined);
    secure.on('close', () => raw.destroySoon());
    httpServer.emit('connection', secure);
  });
  return { ...(await listen(server, 'http')), views };
}
