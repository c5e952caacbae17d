/**
 * The built-in target: a small HTTP, HTTPS or TCP-echo server with a configurable delay, body size
 * and closing side. It counts which side closes each connection first, because the side that closes
 * first is the one that holds TIME_WAIT (see DOMAIN.md, "TIME_WAIT"), and over TLS the handshakes
 * it completed, resumed and refused.
 *
 * A library: no console, no process.exit. The CLI (`portstorm serve`) and the worker-thread wrapper
 * (thread.ts) sit on top of it.
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import type { CertificatePair } from './certificate.js';

/** How the built-in target behaves. */
export interface TargetOptions {
  protocol: 'http' | 'tcp';
  host: string;
  /** 0 picks an ephemeral port; the actual port is returned by startTarget. */
  port: number;
  /** Delay before each response (HTTP) or echo (TCP), in milliseconds. */
  delayMs: number;
  /** HTTP response body size in bytes (ignored for TCP, which echoes). */
  bodyBytes: number;
  /** 'after-response': the server closes first after one response/echo; 'never': the client decides. */
  close: 'never' | 'after-response';
  /** Serve HTTPS with this certificate and key (PEM); absent: plain HTTP/TCP. */
  tls?: CertificatePair;
}

export type { TargetStats } from '../record/types.js';
import type { TargetStats } from '../record/types.js';

/** A running target. */
export interface RunningTarget {
  host: string;
  port: number;
  /** A snapshot of the counters. */
  stats(): TargetStats;
  /** Stops listening and destroys open connections; resolves once the server is closed. */
  close(): Promise<void>;
}

/** Listen backlog; the kernel caps it at net.core.somaxconn. */
const LISTEN_BACKLOG = 4096;
/** Longer than the usual 60 s client idle timeouts, so the load generator closes idle connections first. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** Must exceed keepAliveTimeout (a known Node pitfall) and stay below requestTimeout. */
const HEADERS_TIMEOUT_MS = 66_000;
const REQUEST_TIMEOUT_MS = 120_000;
/** How long a TLS connection waits for the client's FIN before the server closes its side anyway. */
const LINGER_MS = 5_000;
/** A TLS handshake not done by then is given up (node:tls servers default to the same). */
const HANDSHAKE_TIMEOUT_MS = 120_000;

/** Formats host:port, bracketing IPv6 literals. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Per-connection bookkeeping shared by all protocols. */
class ConnectionTracker {
  private readonly counters: TargetStats;
  readonly sockets = new Set<Socket>();
  /** close() is destroying every connection: handshakes cut short now are the server's doing. */
  closing = false;

  constructor(tls: boolean) {
    this.counters = { connectionsAccepted: 0, requests: 0, closedByServer: 0, closedByClient: 0, resetByClient: 0, open: 0 };
    if (tls) Object.assign(this.counters, { tlsHandshakes: 0, tlsResumed: 0, tlsErrors: 0 });
  }

  /**
   * Starts tracking a freshly accepted TCP socket: one connection from accept to close. Its own
   * events tell who closed first, TLS or not: a FIN ('end') before the server ended its side is
   * the client's, ECONNRESET a reset.
   */
  track(socket: Socket): void {
    this.counters.connectionsAccepted++;
    this.counters.open++;
    this.hold(socket);
    let clientFinFirst = false;
    let reset = false;
    // Prepended so it runs before Node's own 'end' handlers (the HTTP server ends its side from one):
    // at this moment writableEnded tells whether the server had already called end() (over TLS,
    // TcpStream ends the TCP socket).
    socket.prependListener('end', () => {
      if (!socket.writableEnded && !socket.destroyed) clientFinFirst = true;
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') reset = true;
    });
    socket.once('close', () => {
      this.counters.open--;
      if (reset) this.counters.resetByClient++;
      else if (clientFinFirst) this.counters.closedByClient++;
      else this.counters.closedByServer++;
    });
  }

  /** Keeps a socket to destroy on close() (the TLS socket over a tracked TCP socket). */
  hold(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /** A TLS handshake completed. */
  handshake(resumed: boolean): void {
    this.counters.tlsHandshakes!++;
    if (resumed) this.counters.tlsResumed!++;
  }

  /** A TLS handshake failed or was abandoned by the client (not one that close() cut short). */
  handshakeFailed(): void {
    if (!this.closing) this.counters.tlsErrors!++;
  }

  countRequest(): void {
    this.counters.requests++;
  }

  snapshot(): TargetStats {
    return { ...this.counters };
  }
}

/** Timers for delayed responses, cleared on close so they never hold the event loop. */
class DelayTimers {
  private readonly timers = new Set<NodeJS.Timeout>();

  /** Runs fn after ms (synchronously when ms <= 0); returns a cancel function. */
  after(ms: number, fn: () => void): () => void {
    if (ms <= 0) {
      fn();
      return () => {};
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return () => {
      clearTimeout(t);
      this.timers.delete(t);
    };
  }

  clearAll(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

function createHttpTarget(opts: TargetOptions, tracker: ConnectionTracker, timers: DelayTimers): Server {
  const body = Buffer.alloc(opts.bodyBytes, 'o');
  const headers: Record<string, string | number> = {
    'Content-Type': 'text/plain',
    'Content-Length': body.length,
  };
  if (opts.close === 'after-response') headers['Connection'] = 'close';

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    tracker.countRequest();
    const respond = (): void => {
      if (res.destroyed || res.writableEnded) return;
      res.writeHead(200, headers);
      res.end(body);
    };
    let cancel: (() => void) | undefined;
    res.once('close', () => cancel?.());
    // Read and discard the request body; the delay starts once the request is fully received.
    req.once('end', () => {
      cancel = timers.after(opts.delayMs, respond);
    });
    req.resume();
  };
  const http = createHttpServer(onRequest);
  http.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  http.headersTimeout = HEADERS_TIMEOUT_MS;
  http.requestTimeout = REQUEST_TIMEOUT_MS;
  // Without a handler Node answers parse errors with 400; keep that, but never write to a dead socket.
  http.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  if (!opts.tls) {
    http.on('connection', (socket: Socket) => tracker.track(socket));
    return http;
  }
  return createTlsListener(opts.tls, tracker, http);
}

/**
 * HTTPS: a TCP listener whose connections are wrapped in TLS here and handed, once the handshake is
 * done, to the HTTP server, which never listens itself. The TLS socket runs over a {@link TcpStream}
 * rather than over the TCP handle, so that the TCP socket's own FIN and RST stay visible: the
 * tracker counts who closed first at the TCP level, where TIME_WAIT is decided. (As it never
 * listens, Node's headersTimeout/requestTimeout sweep, started by 'listening', does not run for
 * HTTPS; keepAliveTimeout, set per socket, does.)
 */
function createTlsListener(pair: CertificatePair, tracker: ConnectionTracker, http: ReturnType<typeof createHttpServer>): Server {
  // One context, so one set of session-ticket keys: a session resumes on any connection.
  const context = createSecureContext({ cert: pair.cert, key: pair.key, ticketKeys: randomBytes(48) });
  // allowHalfOpen: the TCP socket ends only when the TLS socket over it does (TcpStream._final).
  return createNetServer({ allowHalfOpen: true, noDelay: true }, (raw: Socket) => {
    tracker.track(raw);
    serveTls(raw, context, tracker, http);
  });
}

/** Wraps one accepted TCP socket in TLS, counts its handshake, and hands it to `http` once secure. */
function serveTls(raw: Socket, context: SecureContext, tracker: ConnectionTracker, http: ReturnType<typeof createHttpServer>): void {
  const tcp = new TcpStream(raw);
  const tls = new TLSSocket(tcp, { isServer: true, secureContext: context, ALPNProtocols: ['http/1.1'] });
  tcp.tls = tls;
  tracker.hold(tls);
  let secure = false;
  let failed = false;
  const handshakeFailed = (): void => {
    if (secure || failed) return;
    failed = true;
    tracker.handshakeFailed();
  };
  // A failed handshake destroys the TLS socket with its error (plain HTTP, a refused certificate):
  // counted, never logged.
  tls.on('error', handshakeFailed);
  tls.once('close', handshakeFailed);
  raw.setTimeout(HANDSHAKE_TIMEOUT_MS, () => tls.destroy());
  // Nothing reads the TLS socket before its handshake is done, so it would never see this EOF.
  raw.once('end', () => {
    if (!secure) tls.destroy();
  });
  // Prepended: node:tls ends the TLS socket from an 'end' listener of its own.
  tls.prependListener('end', () => {
    if (!tls.writableEnded) tcp.clientClosedFirst = true;
  });
  tls.once('secure', () => {
    secure = true;
    raw.setTimeout(0);
    tracker.handshake(tls.isSessionReused());
    http.emit('connection', tls);
  });
}

/**
 * The TCP side of a TLS connection as a stream the TLS socket reads and writes, with the TCP close
 * made to follow the TLS one, so that TIME_WAIT lands where it would without TLS:
 * - the client closed TLS first (close_notify): its FIN comes after it, and the server's reply
 *   (close_notify, FIN) could overtake it. So the server's FIN waits for the client's (LINGER_MS at
 *   most): TIME_WAIT on the client.
 * - the server closes first: its FIN goes in the same turn as its close_notify, before the client
 *   can answer the close_notify with a FIN of its own. Then the TCP socket stays open, reading,
 *   until the client's FIN (LINGER_MS at most): the client's close_notify arriving on a closed
 *   socket would make Linux answer RST, and neither side would keep a TIME_WAIT. TIME_WAIT on the
 *   server.
 */
class TcpStream extends Duplex {
  /** The TLS socket over this stream. */
  tls: TLSSocket | null = null;
  /** The client's close_notify came before the server ended TLS (set by the TLS socket's owner). */
  clientClosedFirst = false;
  private finReceived = false;
  private readonly onFin: Array<() => void> = [];

  constructor(private readonly raw: Socket) {
    super({ allowHalfOpen: true });
    raw.on('data', (chunk: Buffer) => {
      if (!this.destroyed && !this.push(chunk)) raw.pause();
    });
    raw.on('end', () => {
      this.finReceived = true;
      if (!this.destroyed) this.push(null);
      for (const f of this.onFin.splice(0)) f();
    });
    raw.on('error', (err) => this.destroy(err));
    raw.on('close', () => this.destroy());
  }

  override _read(): void {
    this.raw.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    // The TLS socket has ended and flushed everything else: this is its close_notify.
    const closeNotify = this.tls !== null && this.tls.writableEnded && this.tls.writableLength === 0;
    if (closeNotify && !this.clientClosedFirst && !this.raw.writableEnded) {
      this.raw.end(chunk);
      callback();
      return;
    }
    // Done once the kernel has it (or, when it is full, once it drains), not a loop turn later.
    if (this.raw.write(chunk)) callback();
    else this.raw.once('drain', () => callback());
  }

  override _final(callback: (err?: Error | null) => void): void {
    const end = (): void => {
      if (!this.raw.writableEnded) this.raw.end();
      callback();
    };
    if (this.finReceived || !this.clientClosedFirst) end();
    else this.untilFin(end);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    // Once our FIN is out the TCP socket destroys itself when both directions have ended
    // (autoDestroy); until the client's FIN is in, it keeps reading (and dropping) what comes.
    if (!this.raw.writableEnded || err) this.raw.destroy();
    else if (!this.finReceived && !this.raw.destroyed) {
      this.raw.resume();
      this.untilFin(() => undefined);
    }
    callback(err);
  }

  /** Runs fn once the client's FIN has arrived, or after LINGER_MS (then destroying the socket). */
  private untilFin(fn: () => void): void {
    const timer = setTimeout(() => {
      fn();
      this.raw.destroy();
    }, LINGER_MS).unref();
    this.onFin.push(() => {
      clearTimeout(timer);
      fn();
    });
    this.raw.once('close', () => clearTimeout(timer));
  }
}

function createTcpTarget(opts: TargetOptions, tracker: ConnectionTracker, timers: DelayTimers): Server {
  // allowHalfOpen so that echoes still pending (delayMs) are written before we end our side.
  const server = createNetServer({ allowHalfOpen: true, noDelay: true }, (socket: Socket) => {
    tracker.track(socket);
    let pending = 0;
    let done = false; // 'after-response' has echoed once, or the client has ended
    let clientEnded = false;
    const endIfIdle = (): void => {
      if (pending === 0 && !socket.writableEnded && !socket.destroyed) socket.end();
    };
    socket.on('data', (chunk: Buffer) => {
      if (done) return;
      tracker.countRequest();
      if (opts.close === 'after-response') done = true;
      pending++;
      // A timer that fires after the socket closed finds it destroyed and does nothing.
      timers.after(opts.delayMs, () => {
        pending--;
        if (socket.destroyed || socket.writableEnded) return;
        socket.write(chunk);
        if (opts.close === 'after-response' || clientEnded) endIfIdle();
      });
    });
    socket.on('end', () => {
      clientEnded = true;
      endIfIdle();
    });
  });
  return server;
}

/** Turns a listen error into one clear line naming host:port, keeping the errno code. */
export function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  const reason =
    err.code === 'EADDRINUSE'
      ? 'address already in use'
      : err.code === 'EACCES'
        ? 'permission denied (ports below 1024 need privileges)'
        : err.code === 'EADDRNOTAVAIL'
          ? 'address not available on this host'
          : err.message;
  const wrapped = new Error(`cannot listen on ${formatHostPort(host, port)}: ${reason}${err.code ? ` (${err.code})` : ''}`) as NodeJS.ErrnoException;
  if (err.code) wrapped.code = err.code;
  return wrapped;
}

/** Starts the target and resolves once it is listening; rejects with a clear Error if it cannot listen. */
export async function startTarget(opts: TargetOptions): Promise<RunningTarget> {
  if (opts.tls && opts.protocol !== 'http') throw new Error('the built-in target serves TLS over HTTP only (protocol http)');
  const tracker = new ConnectionTracker(opts.tls !== undefined);
  const timers = new DelayTimers();
  const server =
    opts.protocol === 'http' ? createHttpTarget(opts, tracker, timers) : createTcpTarget(opts, tracker, timers);

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      reject(listenError(err, opts.host, opts.port));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host: opts.host, port: opts.port, backlog: LISTEN_BACKLOG });
  });
  // Errors after listening (e.g. EMFILE on accept) must not crash the process; the server keeps going.
  server.on('error', () => {});

  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : opts.port;
  let closing: Promise<void> | undefined;

  return {
    host: opts.host,
    port,
    stats: () => tracker.snapshot(),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        timers.clearAll();
        tracker.closing = true;
        server.close(() => resolve());
        for (const socket of tracker.sockets) socket.destroy();
      });
      return closing;
    },
  };
}
