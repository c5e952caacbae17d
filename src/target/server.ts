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
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
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
/** How long a TLS connection the server has ended waits for the client's close (lingerWhenClosing). */
const LINGER_MS = 5_000;

/** Formats host:port, bracketing IPv6 literals. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Which side ended a connection first. */
type Side = 'server' | 'client' | 'reset';

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

  /** Starts tracking a freshly accepted plain socket: one connection from accept to close. */
  track(socket: Socket): void {
    this.accept(socket);
    this.watch(socket);
  }

  /** Counts an accepted TCP connection; its closing side is counted by watch() or handshakeFailed(). */
  accept(socket: Socket): void {
    this.counters.connectionsAccepted++;
    this.counters.open++;
    this.hold(socket);
  }

  /**
   * Watches the socket that carries the connection's bytes (the TCP socket, or the TLS socket over
   * it) and counts, when it closes, which side ended the connection first.
   */
  watch(socket: Socket): void {
    this.hold(socket);
    let clientFinFirst = false;
    let reset = false;
    // Prepended so it runs before Node's own 'end' handlers (the HTTP server ends its side from one):
    // at this moment writableEnded tells whether the server had already called end(). Over TLS,
    // 'end' is the client's close_notify or FIN, and the server's end() sends close_notify and FIN.
    socket.prependListener('end', () => {
      if (!socket.writableEnded && !socket.destroyed) clientFinFirst = true;
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') reset = true;
    });
    socket.once('close', () => this.closed(reset ? 'reset' : clientFinFirst ? 'client' : 'server'));
  }

  /** A TLS handshake completed. */
  handshake(resumed: boolean): void {
    this.counters.tlsHandshakes!++;
    if (resumed) this.counters.tlsResumed!++;
  }

  /**
   * A TLS handshake failed and the connection is closing without ever being watched: counts the
   * error, and the side that ended it, told by the error (Node reports a TCP connection that closed
   * before the handshake finished as ECONNRESET "socket hang up", without a syscall; a Node client
   * that refuses the certificate just hangs up, OpenSSL clients such as curl send an alert first).
   */
  handshakeFailed(err: NodeJS.ErrnoException): void {
    // A handshake close() cut short is the server's doing, not a client's error.
    if (this.closing) return this.closed('server');
    this.counters.tlsErrors!++;
    const code = err.code ?? '';
    let side: Side = 'server'; // the server refuses what it got (plain HTTP, not TLS, a timeout) and closes
    if (code === 'ECONNRESET') side = err.syscall ? 'reset' : 'client';
    else if (code.includes('ALERT')) side = 'client'; // the client refused the handshake with an alert and hung up
    this.closed(side);
  }

  countRequest(): void {
    this.counters.requests++;
  }

  snapshot(): TargetStats {
    return { ...this.counters };
  }

  private hold(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private closed(side: Side): void {
    this.counters.open--;
    if (side === 'reset') this.counters.resetByClient++;
    else if (side === 'client') this.counters.closedByClient++;
    else this.counters.closedByServer++;
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
  const server = opts.tls ? createTlsHttpServer(opts.tls, tracker, onRequest) : createHttpServer(onRequest);
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  if (!opts.tls) server.on('connection', (socket: Socket) => tracker.track(socket));
  // Without a handler Node answers parse errors with 400; keep that, but never write to a dead socket,
  // nor HTTP into a TLS handshake that failed (handshakeFailed() has counted it).
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable || failedHandshakes.has(socket)) {
      socket.destroy();
      return;
    }
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  return server;
}

/**
 * node:http closes a connection it ends (`Connection: close`) as soon as its FIN is written. Over TLS
 * the client answers the server's close_notify with its own, and data arriving on a socket already
 * closed makes Linux answer with RST: then neither side holds TIME_WAIT. So the server ends its side
 * and keeps reading until the client's FIN (the socket then closes itself, in TIME_WAIT), or for
 * LINGER_MS at most, as a plain HTTP server that closes first ends up.
 */
function lingerWhenClosing(socket: TLSSocket): void {
  socket.destroySoon = () => {
    socket.end();
    socket.resume();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS).unref();
    socket.once('close', () => clearTimeout(timer));
  };
}

/** TLS sockets whose handshake failed: the HTTP server hears of them as a clientError. */
const failedHandshakes = new WeakSet<Socket>();

/**
 * HTTPS: node:https with the same request handling. The TCP socket of each connection is counted
 * when accepted; the TLS socket over it, once its handshake completes, tells who closed first (the
 * TCP socket's own events stop when TLS takes its handle over). A failed handshake is counted and
 * its socket destroyed, never logged.
 */
function createTlsHttpServer(
  pair: CertificatePair,
  tracker: ConnectionTracker,
  onRequest: (req: IncomingMessage, res: ServerResponse) => void,
): ReturnType<typeof createHttpsServer> {
  const server = createHttpsServer(
    {
      cert: pair.cert,
      key: pair.key,
      ALPNProtocols: ['http/1.1'],
      // One set of session-ticket keys for the whole server (a resumed session is accepted on any
      // connection), made here rather than left implicit.
      ticketKeys: randomBytes(48),
    },
    onRequest,
  );
  server.on('connection', (socket: Socket) => tracker.accept(socket));
  server.on('secureConnection', (socket: TLSSocket) => {
    tracker.handshake(socket.isSessionReused());
    tracker.watch(socket);
    lingerWhenClosing(socket);
  });
  // Prepended: node:https turns tlsClientError into clientError from a listener of its own.
  server.prependListener('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    failedHandshakes.add(socket);
    tracker.handshakeFailed(err);
  });
  return server;
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
function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
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
