/**
 * The TLS client of the JS transports: one secure context per transport, the handshake over an
 * already connected TCP socket (the `tls` phase), bounded by `handshakeTimeoutMs`, and the newest
 * session kept for resumption.
 */
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { normalizeError, TLS_HANDSHAKE_TIMEOUT, type Failure } from '../../vocab/failure.js';
import type { OnHandshake, TlsClientOptions } from './types.js';

/** Makes handshakes over connected sockets, all with the same settings and one session cache. */
export interface TlsHandshaker {
  /**
   * Starts a handshake over `socket` (connected to `host` at `connectedAt`, a performance.now()
   * time); `done` is called once, with the TLS socket ready for the request or with the failure
   * (phase `tls`; the sockets are destroyed then). Returns the TLS socket at once. With
   * `watchFin`, the TCP socket's own end (the peer's FIN) is told to `watchFin`, which node:tls
   * hides when it reads the socket itself (the close_notify ends its stream, and nothing comes after).
   */
  handshake(socket: net.Socket, host: string, connectedAt: number, done: (result: tls.TLSSocket | Failure) => void, watchFin?: () => void): tls.TLSSocket;
}

/**
 * A handshaker for `o`. With `sessionResumption`, the newest session the server gave (TLS 1.3
 * tickets come after the handshake, as 'session' events) is offered on every new connection;
 * without it none is ever offered: Node's client contexts keep no internal session cache
 * (SSL_SESS_CACHE_NO_INTERNAL), so every handshake is a full one.
 */
export function tlsHandshaker(o: TlsClientOptions, onHandshake?: OnHandshake): TlsHandshaker {
  const secureContext = tls.createSecureContext({
    ...(o.ca !== null ? { ca: o.ca } : {}),
    ...(o.cert !== null && o.key !== null ? { cert: o.cert, key: o.key } : {}),
  });
  let session: Buffer | null = null;
  return {
    handshake(socket, host, connectedAt, done, watchFin) {
      let settled = false;
      const tlsSocket = tls.connect({
        socket: watchFin ? finWatching(socket, watchFin) : socket,
        host,
        ...(o.servername !== null ? { servername: o.servername } : {}),
        secureContext,
        rejectUnauthorized: !o.insecure,
        ALPNProtocols: o.alpn,
        ...(o.sessionResumption && session !== null ? { session } : {}),
      });
      const finish = (result: tls.TLSSocket | Failure): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (!(result instanceof tls.TLSSocket)) {
          tlsSocket.destroy();
          socket.destroy();
        }
        done(result);
      };
      // Stays on after the handshake (a no-op then): later errors belong to the caller's listeners.
      const onError = (err: Error): void => finish(normalizeError(err, 'tls'));
      const timer = setTimeout(
        () => finish({ code: TLS_HANDSHAKE_TIMEOUT, phase: 'tls', message: `no TLS handshake within ${o.handshakeTimeoutMs} ms` }),
        Math.max(0, o.handshakeTimeoutMs - (performance.now() - connectedAt)),
      );
      if (o.sessionResumption) tlsSocket.on('session', (s: Buffer) => (session = s));
      tlsSocket.on('error', onError);
      tlsSocket.once('close', () => finish({ code: 'PREMATURE_CLOSE', phase: 'tls', message: 'connection closed during the TLS handshake' }));
      tlsSocket.once('secureConnect', () => {
        if (settled) return;
        onHandshake?.(performance.now() - connectedAt, tlsSocket.isSessionReused());
        finish(tlsSocket);
      });
      return tlsSocket;
    },
  };
}

/**
 * `f` in phase `tls` when it is a TLS-layer failure (an `ERR_SSL_*` alert) before any response
 * byte: in TLS 1.3 the client's handshake ends before the server has checked the client's
 * certificate, and the server's refusal (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED) arrives while
 * the request is sent or awaited. It still is the handshake that failed.
 */
export function handshakePhase(f: Failure, responseStarted: boolean): Failure {
  return !responseStarted && f.phase !== 'tls' && f.code.startsWith('ERR_SSL_') ? { ...f, phase: 'tls' } : f;
}

/**
 * `socket` as a JS stream for node:tls to read and write through (its JSStreamSocket), so the TCP
 * socket's 'end' (the peer's FIN) stays visible: `onFin` is called then.
 */
function finWatching(socket: net.Socket, onFin: () => void): Duplex {
  const stream = new Duplex({
    read: () => void socket.resume(),
    write: (chunk: Buffer, _encoding, callback) => void socket.write(chunk, callback),
    final: (callback) => {
      socket.end();
      callback();
    },
    destroy: (err, callback) => {
      socket.destroy();
      callback(err);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) socket.pause();
  });
  socket.once('end', () => {
    onFin();
    stream.push(null);
  });
  return stream;
}
