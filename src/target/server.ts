/**
 * The built-in target: a small HTTP or TCP-echo server with a configurable delay, body size and
 * closing side. It counts which side closes each connection first, because the side that closes
 * first is the one that holds TIME_WAIT (see DOMAIN.md, "TIME_WAIT").
 *
 * A library: no console, no process.exit. The CLI (`portstorm serve`) and the worker-thread wrapper
 * (thread.ts) sit on top of it.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
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

/** Formats host:port, bracketing IPv6 literals. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Per-connection bookkeeping shared by both protocols. */
class ConnectionTracker {
  private readonly counters: TargetStats = {
    connectionsAccepted: 0,
    requests: 0,
    closedByServer: 0,
    closedByClient: 0,
    resetByClient: 0,
    open: 0,
  };
  readonly sockets = new Set<Socket>();

  /** Starts tracking a freshly accepted socket. */
  track(socket: Socket): void {
    this.counters.connectionsAccepted++;
    this.counters.open++;
    this.sockets.add(socket);
    let clientFinFirst = false;
    let reset = false;
    // Prepended so it runs before Node's own 'end' handlers (the HTTP server ends its side from one):
    // at this moment writableEnded tells whether the server had already called end().
    socket.prependListener('end', () => {
      if (!socket.writableEnded && !socket.destroyed) clientFinFirst = true;
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') reset = true;
    });
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.counters.open--;
      if (reset) this.counters.resetByClient++;
      else if (clientFinFirst) this.counters.closedByClient++;
      else this.counters.closedByServer++;
    });
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

  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
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
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.on('connection', (socket: Socket) => tracker.track(socket));
  // Without a handler Node answers parse errors with 400; keep that, but never write to a dead socket.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
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
  const tracker = new ConnectionTracker();
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
        server.close(() => resolve());
        for (const socket of tracker.sockets) socket.destroy();
      });
      return closing;
    },
  };
}
