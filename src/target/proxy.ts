/**
 * The built-in proxy: a small HTTP/1.1 reverse proxy that reproduces "the service runs out of ports
 * toward its backend" (an application server, or nginx `proxy_pass` without upstream keep-alive,
 * opening a new upstream connection per request), and its fix (a keep-alive pool).
 *
 * Without reuse every request opens its own TCP connection to the upstream and closes it as
 * `close` says, which decides where TIME_WAIT lands (DOMAIN.md, "TIME_WAIT"): `client` = the proxy
 * sends FIN first (TIME_WAIT on the proxy's host, the incident), `server` = the proxy asks
 * `Connection: close` and waits for the backend's FIN (TIME_WAIT on the backend), `reset` = the
 * proxy aborts with RST (no TIME_WAIT anywhere).
 *
 * A library: no console, no process.exit. `portstorm serve --proxy-to` sits on top of it.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { Pool } from 'undici';
import { formatHostPort, listenError } from './server.js';

/** How the built-in proxy behaves. */
export interface ProxyOptions {
  /** Where it listens. */
  host: string;
  /** 0 picks an ephemeral port; the URL of the running proxy has the actual one. */
  port: number;
  /** The backend: http://ip:port, IPv6 in brackets. */
  upstream: string;
  /** true: a keep-alive pool (the fix); false: a new upstream connection per request (the incident). */
  reuse: boolean;
  /** Most upstream connections open at once with reuse. */
  poolSize: number;
  /** Without reuse: who closes the upstream connection after the response (see the module comment). */
  close: 'client' | 'server' | 'reset';
  /** The status answered when the upstream request fails (502 by default in the CLI and scenarios). */
  failureStatus: number;
  /** Upstream bounds, in ms: connect (default 5 000) and response (headers, or a gap in the body; default 30 000). */
  timeouts?: { connectMs?: number; responseMs?: number };
}

/** What the proxy did, counted since it started. */
export interface ProxyStats {
  /** Client requests received. */
  requests: number;
  /** Upstream TCP connections established. */
  upstreamConnections: number;
  /** Failed upstream requests by error code (EADDRNOTAVAIL, ECONNREFUSED, ETIMEDOUT, …). */
  upstreamFailures: Record<string, number>;
  /** Responses to clients by status. */
  answered: Record<string, number>;
}

/** A running proxy. */
export interface RunningProxy {
  /** http://host:port/ where it listens. */
  url: string;
  /** A snapshot of the counters. */
  stats(): ProxyStats;
  /** Stops listening, destroys every client and upstream connection; resolves once closed. */
  close(): Promise<void>;
}

/** The header naming the upstream's error on a failure answer. */
export const UPSTREAM_ERROR_HEADER = 'x-portstorm-upstream-error';
/** An upstream that does not accept the connection by then fails with ETIMEDOUT. */
const CONNECT_TIMEOUT_MS = 5_000;
/** An upstream whose response (headers, or a gap in the body) takes longer fails with ETIMEDOUT. */
const RESPONSE_TIMEOUT_MS = 30_000;
/** close=server: how long the proxy waits for the backend's FIN before closing itself. */
const SERVER_CLOSE_WAIT_MS = 5_000;
/** Longer than the usual 60 s client idle timeouts, so the load generator closes idle connections first. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
const LISTEN_BACKLOG = 4096;
/** Hop-by-hop headers (RFC 9110 7.6.1) are not forwarded, in either direction. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authenticate', 'proxy-authorization']);

/** The upstream's host and port from http://ip:port (IPv6 in brackets); throws a plain Error naming what is wrong. */
export function parseUpstream(url: string): { host: string; port: number; origin: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`expected a URL like http://10.0.0.2:8080, got ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'http:') throw new Error(`only http:// upstreams are proxied, got ${u.protocol}`);
  if (u.username || u.password || (u.pathname !== '/' && u.pathname !== '') || u.search || u.hash) {
    throw new Error(`expected only a scheme, host and port like http://10.0.0.2:8080, got ${JSON.stringify(url)}`);
  }
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const port = u.port === '' ? 80 : Number(u.port);
  return { host, port, origin: `http://${formatHostPort(host, port)}` };
}

/** An upstream error's code: the socket's errno where there is one, undici's timeouts as ETIMEDOUT. */
export function upstreamErrorCode(err: unknown): string {
  const e = (err ?? {}) as { code?: unknown; cause?: { code?: unknown } };
  const code = typeof e.code === 'string' ? e.code : '';
  const cause = typeof e.cause?.code === 'string' ? e.cause.code : '';
  if (/^E[A-Z0-9]+$/.test(code)) return code;
  if (/^E[A-Z0-9]+$/.test(cause)) return cause;
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'ETIMEDOUT';
  if (code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED') return 'ECONNRESET';
  return code || 'EUPSTREAM';
}

/** Headers to forward: the end-to-end ones, including those the Connection header names as hop-by-hop. */
function endToEnd(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const named = String(headers.connection ?? '')
    .toLowerCase()
    .split(',')
    .map((s) => s.trim());
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) {
    const name = k.toLowerCase();
    if (v === undefined || HOP_BY_HOP.has(name) || named.includes(name)) continue;
    out[name] = v;
  }
  return out;
}

/** An upstream exchange that failed with an errno-style code. */
class UpstreamError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

/**
 * A stream between node:http's client and one upstream socket: it carries the bytes but never ends
 * or destroys the socket, so the proxy alone decides how that connection closes.
 */
class Shield extends Duplex {
  private readonly onData = (chunk: Buffer): void => {
    if (!this.push(chunk)) this.socket.pause();
  };
  private readonly onEnd = (): void => {
    this.push(null);
  };

  constructor(private readonly socket: Socket) {
    super();
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.socket.write(chunk, cb);
  }

  override _final(cb: () => void): void {
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    // Keep reading (and discarding): close=server waits for the backend's FIN.
    this.socket.resume();
    cb(err);
  }
}

/** Connects one socket, bounded by the connect timeout. */
function connectOnce(host: string, port: number, sockets: Set<Socket>, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port, noDelay: true });
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new UpstreamError('ETIMEDOUT'));
    }, timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.on('error', () => {});
      resolve(socket);
    });
  });
}

/** Closes a finished upstream connection as `close` says. */
function closeUpstream(socket: Socket, close: ProxyOptions['close']): void {
  if (close === 'reset') {
    socket.resetAndDestroy();
  } else if (close === 'client' || socket.readableEnded) {
    socket.destroy();
  } else {
    // close=server: the backend's FIN first (net ends our side on 'end': allowHalfOpen is false).
    const timer = setTimeout(() => socket.destroy(), SERVER_CLOSE_WAIT_MS);
    socket.once('close', () => clearTimeout(timer));
  }
}

/** What an upstream exchange needs from the client's request. */
interface Forward {
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  body: Buffer | null;
}

/** Starts the proxy and resolves once it listens; rejects with a clear Error if it cannot listen or the upstream URL is bad. */
export async function startProxy(o: ProxyOptions): Promise<RunningProxy> {
  const up = parseUpstream(o.upstream);
  const stats: ProxyStats = { requests: 0, upstreamConnections: 0, upstreamFailures: {}, answered: {} };
  const upstreamSockets = new Set<Socket>();
  const connectMs = o.timeouts?.connectMs ?? CONNECT_TIMEOUT_MS;
  const responseMs = o.timeouts?.responseMs ?? RESPONSE_TIMEOUT_MS;
  const pool = o.reuse
    ? new Pool(up.origin, {
        connections: o.poolSize,
        pipelining: 1,
        connect: { timeout: connectMs },
        headersTimeout: responseMs,
        bodyTimeout: responseMs,
        keepAliveTimeout: 60_000,
      })
    : null;
  pool?.on('connect', () => stats.upstreamConnections++);

  const count = (status: number): void => {
    stats.answered[status] = (stats.answered[status] ?? 0) + 1;
  };
  const fail = (res: ServerResponse, err: unknown): void => {
    const code = upstreamErrorCode(err);
    stats.upstreamFailures[code] = (stats.upstreamFailures[code] ?? 0) + 1;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = `upstream ${up.origin}: ${code}\n`;
    count(o.failureStatus);
    res.writeHead(o.failureStatus, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), [UPSTREAM_ERROR_HEADER]: code });
    res.end(body);
  };

  /** With reuse: one request on the keep-alive pool. */
  const viaPool = async (f: Forward, res: ServerResponse): Promise<void> => {
    const r = await pool!.request({ path: f.path, method: f.method as 'GET', headers: f.headers, body: f.body });
    count(r.statusCode);
    res.writeHead(r.statusCode, endToEnd(r.headers));
    for await (const chunk of r.body) {
      if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
    }
    res.end();
  };

  /** Without reuse: one request on its own connection, closed as `close` says. */
  const viaOwnConnection = async (f: Forward, res: ServerResponse): Promise<void> => {
    const socket = await connectOnce(up.host, up.port, upstreamSockets, connectMs);
    stats.upstreamConnections++;
    await new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout;
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          socket.destroy();
          reject(new UpstreamError('ETIMEDOUT'));
        }, responseMs);
      };
      arm();
      // Asked to keep the connection alive and given no agent, node:http leaves the socket alone after
      // the response; asked to close it, it would send FIN itself, so the Shield stands between.
      const stream = o.close === 'server' ? new Shield(socket) : socket;
      const headers = { ...f.headers, connection: o.close === 'server' ? 'close' : 'keep-alive' };
      const req = httpRequest({ method: f.method, path: f.path, headers, createConnection: () => stream, setHost: false });
      let responded = false;
      // Before a response the backend hung up; during one, its end is the parser's to judge.
      const lost = (): void => {
        if (responded) return;
        clearTimeout(timer);
        reject(new UpstreamError('ECONNRESET'));
      };
      socket.once('close', lost);
      req.on('error', (err) => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      });
      req.on('response', (ures: IncomingMessage) => {
        responded = true;
        ures.once('aborted', () => {
          clearTimeout(timer);
          socket.destroy();
          reject(new UpstreamError('ECONNRESET'));
        });
        count(ures.statusCode ?? 502);
        res.writeHead(ures.statusCode ?? 502, endToEnd(ures.headers));
        ures.on('data', (chunk: Buffer) => {
          arm();
          if (!res.write(chunk)) {
            ures.pause();
            res.once('drain', () => ures.resume());
          }
        });
        ures.on('end', () => {
          clearTimeout(timer);
          socket.off('close', lost);
          closeUpstream(socket, o.close);
          res.end();
          resolve();
        });
      });
      req.end(f.body ?? undefined);
    });
  };

  const server: Server = createServer({ keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, headersTimeout: KEEP_ALIVE_TIMEOUT_MS + 1_000 }, (req, res) => {
    stats.requests++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
      const headers = endToEnd(req.headers);
      headers.host = formatHostPort(up.host, up.port);
      delete headers['content-length'];
      const body = hasBody ? Buffer.concat(chunks) : null;
      if (body) headers['content-length'] = String(body.length);
      const f: Forward = { method: req.method ?? 'GET', path: req.url ?? '/', headers, body };
      (pool ? viaPool(f, res) : viaOwnConnection(f, res)).catch((err) => fail(res, err));
    });
  });
  const clients = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    clients.add(s);
    s.once('close', () => clients.delete(s));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, o.host, o.port)));
    server.listen({ host: o.host, port: o.port, backlog: LISTEN_BACKLOG }, () => resolve());
  });
  server.removeAllListeners('error');
  server.on('error', () => {});
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : o.port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${formatHostPort(o.host, port)}/`,
    stats: () => ({ ...stats, upstreamFailures: { ...stats.upstreamFailures }, answered: { ...stats.answered } }),
    close: () => {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const s of clients) s.destroy();
        for (const s of upstreamSockets) s.destroy();
        await Promise.all([closed, pool?.destroy()]);
      })();
      return closing;
    },
  };
}
