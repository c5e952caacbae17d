/**
 * HTTP (and HTTPS) over a keep-alive pool (`reuse: true`), on undici's Pool through its low-level `dispatch()`
 * (no body stream, no async iterator per request). p-limit holds requests until a connection is
 * free, so undici never queues internally and `startedAt` is the real dispatch time.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import pLimit from 'p-limit';
import { Pool } from 'undici';
import type { buildConnector, Dispatcher } from 'undici';
import { httpStatusFailure, normalizeError, type Failure } from '../../vocab/failure.js';
import { localAddressPicker, nodeNetStrategy } from './local-address.js';
import { isFailure, lookupFirst } from './lookup.js';
import { handshakePhase, tlsHandshaker } from './tls-client.js';
import type { ExchangeResult, Transport, TransportOptions } from './types.js';

const ABORTED: Failure = { code: 'ABORTED', phase: 'connect', message: 'aborted by portstorm (run stopped)' };

/** A connector failure that knows its phase (`dns`, `connect`, `tls`): undici hands it to the exchange as it is. */
class PhaseError extends Error {
  constructor(readonly failure: Failure) {
    super(failure.message);
    this.name = 'PhaseError';
  }
}

/** Builds the keep-alive HTTP transport (HTTPS with `opts.tls`: one handshake per pooled connection). */
export function httpPoolTransport(opts: TransportOptions): Transport {
  const nextLocal = localAddressPicker(opts.localAddresses);
  const sockets = new Set<net.Socket>();
  const handshaker = opts.tls ? tlsHandshaker(opts.tls, opts.onHandshake) : null;
  const tlsErrors = new TlsErrors();
  const connectTo = (host: string, callback: Parameters<buildConnector.connector>[1]): void => {
    const started = performance.now();
    const socket = net.connect({ host, port: opts.port, localAddress: nextLocal(), noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      callback(Object.assign(new Error(`no connection within ${opts.connectTimeoutMs} ms`), { code: 'UND_ERR_CONNECT_TIMEOUT' }), null);
    }, opts.connectTimeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      callback(err, null);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      const connectedAt = performance.now();
      opts.onConnect(connectedAt - started, socket.localPort ?? null);
      if (!handshaker) return callback(null, socket);
      // Errors after the handshake go to undici's listeners on the TLS socket; this one keeps a
      // late error on the TCP socket from being unhandled.
      socket.on('error', () => undefined);
      handshaker.handshake(socket, host, connectedAt, (result) => {
        if (isFailure(result)) return callback(new PhaseError(result), null);
        tlsErrors.watch(result);
        callback(null, result);
      });
    });
  };
  const connector: buildConnector.connector = (_options, callback) => {
    if (!opts.lookupName) return connectTo(opts.host, callback);
    lookupFirst(opts.lookupName, opts.connectTimeoutMs, opts.onLookup, (result) =>
      isFailure(result) ? callback(new PhaseError(result), null) : connectTo(result, callback),
    );
  };
  const hostPort = opts.host.includes(':') ? `[${opts.host}]:${opts.port}` : `${opts.host}:${opts.port}`;
  const pool = new Pool(`${opts.tls ? 'https' : 'http'}://${hostPort}`, {
    connections: opts.poolSize,
    connect: connector,
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 600_000,
    headersTimeout: opts.requestTimeoutMs,
    bodyTimeout: opts.requestTimeoutMs,
  });
  const limit = pLimit(opts.poolSize);
  const { method, path, body, authority } = opts.http;
  const headers = Object.keys(opts.http.headers).some((h) => h.toLowerCase() === 'host') ? opts.http.headers : { host: authority, ...opts.http.headers };
  const requestBody = body === '' ? null : body;
  let closing = false;

  const request: Dispatcher.DispatchOptions = { method: method as Dispatcher.HttpMethod, path, headers, body: requestBody };
  // undici's headers/body timeouts restart with every byte; timeouts.request bounds the whole
  // exchange, so a sweep (cheaper than a timer per request) ends exchanges past their deadline.
  const inFlight = new Set<ExchangeHandler>();
  const sweepMs = Math.max(5, Math.min(100, opts.requestTimeoutMs / 10));
  const sweeper = setInterval(() => {
    const now = performance.now();
    for (const h of inFlight) if (now - h.startedAt >= opts.requestTimeoutMs) h.timeOut(opts.requestTimeoutMs);
  }, sweepMs);
  sweeper.unref();
  const run = (): Promise<ExchangeResult> =>
    new Promise((resolve) => {
      const handler = new ExchangeHandler(resolve, inFlight, tlsErrors);
      if (closing) return handler.done(ABORTED);
      inFlight.add(handler);
      try {
        pool.dispatch(request, handler);
      } catch (err) {
        handler.onResponseError(null, err as Error);
      }
    });

  return {
    sourceStrategy: nodeNetStrategy(opts.localAddresses),
    exchange: () => limit(run),
    async close(force) {
      closing = true;
      clearInterval(sweeper);
      // In-flight exchanges end as aborted by portstorm (undici would say "The client is destroyed").
      if (force) for (const h of inFlight) h.abort();
      if (opts.close === 'reset') for (const s of sockets) s.resetAndDestroy();
      if (force || opts.close === 'reset') await pool.destroy().catch(() => undefined);
      else await pool.close().catch(() => undefined);
    },
  };
}

/**
 * The TLS error each pooled TLS connection ended with, by local port, until it is closed. undici
 * reports a TLS alert (a refused client certificate) as "other side closed" (UND_ERR_SOCKET): the
 * peer's FIN after the alert replaces the error it had. The TLS error is the one that says why.
 */
class TlsErrors {
  private readonly byPort = new Map<number, Error>();

  /** Keeps the TLS-layer errors of `socket` while it is open (and one turn after, for undici's close handler). */
  watch(socket: net.Socket): void {
    const port = socket.localPort;
    if (port === undefined) return;
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (typeof err.code === 'string' && /^ERR_(SSL|TLS)_/.test(err.code)) this.byPort.set(port, err);
    });
    socket.once('close', () => setImmediate(() => this.byPort.delete(port)));
  }

  /** The TLS error behind undici's socket error `err`, if its connection had one. */
  behind(err: Error): Error | undefined {
    const e = err as { code?: string; socket?: { localPort?: number } };
    return e.code === 'UND_ERR_SOCKET' && e.socket?.localPort !== undefined ? this.byPort.get(e.socket.localPort) : undefined;
  }
}

/** One exchange's undici handler: times the response, drains the body, classifies the outcome. */
class ExchangeHandler implements Dispatcher.DispatchHandler {
  readonly startedAt = performance.now();
  private firstByteAt: number | null = null;
  private status = 0;
  private settled = false;
  private controller: Dispatcher.DispatchController | null = null;

  constructor(
    private readonly resolve: (r: ExchangeResult) => void,
    private readonly inFlight: Set<ExchangeHandler>,
    private readonly tlsErrors: TlsErrors,
  ) {}

  done(failure: Failure | null): void {
    if (this.settled) return;
    this.settled = true;
    this.inFlight.delete(this);
    this.resolve({ startedAt: this.startedAt, firstByteAt: this.firstByteAt, endedAt: performance.now(), localPort: null, connectMs: null, failure });
  }

  /** Ends the exchange as REQUEST_TIMEOUT and aborts it (undici then drops the connection). */
  timeOut(ms: number): void {
    this.done({ code: 'REQUEST_TIMEOUT', phase: 'response', message: `no complete response within ${ms} ms` });
    this.controller?.abort(Object.assign(new Error(`no complete response within ${ms} ms`), { code: 'REQUEST_TIMEOUT' }));
  }

  /** Ends the exchange as ABORTED, in the phase it had reached. */
  abort(): void {
    this.done({ ...ABORTED, phase: this.firstByteAt === null ? 'send' : 'response' });
  }

  // undici takes a handler for its current API only when it has onRequestStart.
  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
  }

  onResponseStart(_c: unknown, statusCode: number): void {
    this.firstByteAt ??= performance.now();
    this.status = statusCode;
  }

  onResponseData(): void {
    // The body is counted by nobody and kept by nobody: drained.
  }

  onResponseEnd(): void {
    const code = httpStatusFailure(this.status);
    this.done(code ? { code, phase: 'response', message: `HTTP ${this.status}` } : null);
  }

  onResponseError(_c: unknown, err: Error): void {
    if (err instanceof PhaseError) return this.done(err.failure);
    const cause = this.tlsErrors.behind(err) ?? err;
    this.done(handshakePhase(normalizeError(cause, this.firstByteAt === null ? 'send' : 'response'), this.firstByteAt !== null));
  }
}
