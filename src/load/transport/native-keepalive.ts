/**
 * HTTP keep-alive (`reuse: true`) on the native connection engine: the semantics of http-pool.ts
 * (at most `poolSize` persistent connections, waiting for a free one happens before `startedAt`,
 * connect timeout, `timeouts.request` bounding each whole exchange however its bytes trickle in)
 * with the sockets on the engine's epoll thread. The request timeout runs from when the request
 * can go out: at once on an idle connection, from the connect on a new one (as with `reuse: false`;
 * undici's sweep also counts the connect, which timeouts.connect bounds anyway). Failures read as the undici transport's do (codes, phases, messages), so the two
 * engines can be compared exchange for exchange:
 * - a failure after the request is out is in phase `send` until the response head is complete,
 *   `response` after (undici reports the phase that way);
 * - the target's FIN before a complete response is SOCKET_CLOSED "other side closed";
 * - HTTP failures read `HTTP <status>`.
 *
 * Differences that remain, by design: the engine times the first byte (undici: the complete head),
 * reports each exchange's local port, accepts 1xx interim responses (undici fails them), keeps the
 * connection after a HEAD (undici closes it), and does not name the broken rule of a malformed
 * response (PROTOCOL either way).
 *
 * The connection is kept when the response allows it (HTTP/1.1 without `Connection: close`, a
 * delimited body, nothing after it); a connection the target closes while idle is dropped, and one
 * it closes just as a request goes out fails that request (SOCKET_CLOSED or ECONNRESET/EPIPE in
 * phase `send`), as with undici. Nothing is retried.
 *
 * HTTPS: each pooled connection makes its TLS handshake when it opens (see native-oneshot.ts);
 * handshakes are as many as connections, and a failed handshake fails its exchange in phase `tls`.
 */
import type { Failure } from '../../vocab/failure.js';
import { httpRequestBytes } from './http-request.js';
import type { ConnEngineAddon } from './native-engine.js';
import { CODE, nativeOneShotTransport } from './native-oneshot.js';
import type { Transport, TransportOptions } from './types.js';

/** The message undici's parser errors start with; the engine's framer does not say which rule broke. */
export const PROTOCOL_MESSAGE = 'Response does not match the HTTP/1.1 protocol';

/**
 * The failure of a kept-alive exchange, from the one-shot reading of its record (`raw`: the
 * engine's code; `status`: the response head's status, 0 while no head was complete).
 */
export function keepAliveFailure(raw: number, oneShot: Failure, status: number): Failure {
  // Before the request went out (connect, bind, connect timeout, TLS handshake, never started): as one-shot.
  if (oneShot.phase === 'connect' || oneShot.phase === 'tls' || raw === CODE.REQUEST_TIMEOUT) return oneShot;
  const phase = status > 0 ? 'response' : 'send';
  switch (raw) {
    case CODE.PREMATURE_END:
      return { code: 'SOCKET_CLOSED', phase, message: 'other side closed' };
    case CODE.HTTP_4XX:
    case CODE.HTTP_5XX:
      return { code: oneShot.code, phase: 'response', message: `HTTP ${status}` };
    case CODE.PROTOCOL:
      return { code: 'PROTOCOL', phase, message: PROTOCOL_MESSAGE };
    default:
      return { ...oneShot, phase };
  }
}

/** Builds the keep-alive HTTP transport on the engine. */
export function nativeKeepAliveTransport(addon: ConnEngineAddon, opts: TransportOptions): Transport {
  // No `Connection: close` whatever the close policy: the connection is meant to stay.
  const request = httpRequestBytes({ http: opts.http, close: 'client' });
  const reader = { kind: 'http', isHead: opts.http.method === 'HEAD' } as const;
  return nativeOneShotTransport(addon, opts, request, reader, { poolSize: Math.max(1, opts.poolSize), failure: keepAliveFailure });
}
