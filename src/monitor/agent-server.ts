/**
 * The monitor agent's HTTP(S) server (`portstorm monitor --serve`): the paths of agent-protocol.ts,
 * read-only, behind a bearer token, with at most `maxReaders` streams at once.
 *
 * Serving spends no ephemeral port: the agent holds its listening socket and its readers'
 * connections, so it keeps answering while its host is out of ports. A reader that stops reading
 * is cut off once its unsent backlog passes `maxBacklogBytes`, so a stuck reader costs bounded
 * memory; a reader that comes back reconnects.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { epochMs } from '../load/clock.js';
import { hostPort } from '../vocab/address.js';
import { agentLine, AGENT_PATHS, HEARTBEAT_MS, type AgentHealth, type AgentLine, type HelloLine } from './agent-protocol.js';
import type { MonitorMetrics } from './prometheus.js';
import type { SamplerStatus } from './sampler.js';
import type { MonitorSample } from './types.js';

/** How the agent serves. */
export interface AgentServerOptions {
  host: string;
  port: number;
  /** Bearer token every request must carry; null: none needed (loopback only, checked by the caller). */
  token: string | null;
  /** Most `/stream` readers at once; one more gets 503. */
  maxReaders: number;
  /** Serve HTTPS with this certificate and key. */
  tls: { cert: string; key: string } | null;
  /** The hello line each stream starts with (called per stream: its time is the agent's clock then). */
  hello: () => HelloLine;
  metrics: MonitorMetrics;
  /** A reader whose unsent data passes this is cut off (default 8 MiB). */
  maxBacklogBytes?: number;
  /** Told once per reader cut off, or other events worth a line on stderr. */
  log?: (line: string) => void;
}

/** A stream's status line goes out this often (and right after the hello). */
export const STATUS_EVERY_MS = 10_000;
const DEFAULT_MAX_BACKLOG = 8 * 1024 * 1024;
/** Requests are small GETs: their headers must arrive within this (a slow-headers client is cut off). */
const HEADERS_TIMEOUT_MS = 10_000;
/** Connections beyond the readers' (health probes, /sample, /metrics scrapes) the server keeps at once. */
const SPARE_CONNECTIONS = 8;

interface Reader {
  res: http.ServerResponse;
  lastSentMs: number;
}

/** The running agent. */
export class AgentServer {
  private readonly readers = new Set<Reader>();
  private latestFull: MonitorSample | null = null;
  private lastSampleAt: number | null = null;
  private readonly status: SamplerStatus;
  private readonly tokenDigest: Buffer | null;
  private readonly timer: NodeJS.Timeout;
  private lastStatusMs = 0;
  private cutOff = 0;
  private readonly sockets = new Set<Socket>();

  /** Where it listens (`http://ip:port` or `https://…`), set once it listens. */
  url = '';

  private constructor(
    private readonly o: AgentServerOptions,
    private readonly server: http.Server,
    scanIntervalMs: number,
  ) {
    this.tokenDigest = o.token === null ? null : digest(o.token);
    this.status = { source: null, unavailable: {}, effectiveScanIntervalMs: scanIntervalMs };
    this.timer = setInterval(() => this.tick(), HEARTBEAT_MS / 4);
    this.timer.unref();
  }

  /** Starts listening; rejects when the address cannot be bound. */
  static async start(o: AgentServerOptions): Promise<AgentServer> {
    const handler: http.RequestListener = (req, res) => agent.handle(req, res);
    const server = o.tls ? https.createServer({ cert: o.tls.cert, key: o.tls.key }, handler) : http.createServer(handler);
    const agent = new AgentServer(o, server, o.hello().scanIntervalMs);
    server.headersTimeout = HEADERS_TIMEOUT_MS;
    server.requestTimeout = HEADERS_TIMEOUT_MS;
    server.maxConnections = o.maxReaders + SPARE_CONNECTIONS;
    server.on(o.tls ? 'secureConnection' : 'connection', (s: Socket) => {
      agent.sockets.add(s);
      s.on('close', () => agent.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      clearInterval(agent.timer);
      throw err;
    });
    const addr = server.address() as AddressInfo;
    agent.url = `${o.tls ? 'https' : 'http'}://${hostPort(addr.address, addr.port)}`;
    return agent;
  }

  /** Readers connected now. */
  get readerCount(): number {
    return this.readers.size;
  }

  /** Readers cut off so far for not reading. */
  get cutOffCount(): number {
    return this.cutOff;
  }

  /** Takes a new sample: the metrics, `/sample`, and every stream see it. */
  publish(sample: MonitorSample): void {
    this.o.metrics.update(sample);
    this.lastSampleAt = sample.at;
    if (sample.scan) {
      this.latestFull = sample;
      this.status.source = sample.scan.source;
    }
    for (const [what, code] of Object.entries(sample.missing ?? {})) this.status.unavailable[what] ??= code;
    this.broadcast({ type: 'sample', sample });
  }

  /** Ends every stream and stops listening. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const r of this.readers) r.res.end();
    this.readers.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    // A reader that never read its last lines holds its socket open: the stop does not wait for it.
    setTimeout(() => {
      for (const s of this.sockets) s.destroy();
    }, 1000).unref();
    await closed;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.on('error', () => undefined);
    if (!this.authorized(req.headers.authorization)) {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' }).end('unauthorized: send Authorization: Bearer <token>\n');
      return;
    }
    if (req.method !== 'GET') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET' }).end('read-only: GET only\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    switch (path) {
      case AGENT_PATHS.stream:
        return this.stream(res);
      case AGENT_PATHS.sample:
        if (!this.latestFull) return json(res, 503, { error: 'no sample with a scan yet' });
        return json(res, 200, { time: epochMs(), sample: this.latestFull });
      case AGENT_PATHS.health:
        return json(res, 200, this.health());
      case AGENT_PATHS.metrics:
        this.o.metrics.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': this.o.metrics.registry.contentType }).end(text),
          (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
        );
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end(`no such path; the agent serves ${Object.values(AGENT_PATHS).join(', ')}\n`);
    }
  }

  private health(): AgentHealth {
    return { ok: true, time: epochMs(), version: this.o.hello().agent.version, readers: this.readers.size, maxReaders: this.o.maxReaders, lastSampleAt: this.lastSampleAt };
  }

  private stream(res: http.ServerResponse): void {
    if (this.readers.size >= this.o.maxReaders) {
      json(res, 503, { error: `the agent serves its most readers (${this.o.maxReaders}) already` });
      return;
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    const reader: Reader = { res, lastSentMs: 0 };
    this.readers.add(reader);
    res.on('close', () => this.readers.delete(reader));
    this.send(reader, agentLine(this.o.hello()));
    if (this.status.source !== null || Object.keys(this.status.unavailable).length > 0) this.send(reader, agentLine(this.statusLine()));
  }

  private statusLine(): AgentLine {
    return { type: 'status', time: epochMs(), status: { ...this.status, unavailable: { ...this.status.unavailable } } };
  }

  private broadcast(line: AgentLine): void {
    if (this.readers.size === 0) return;
    const text = agentLine(line);
    for (const r of this.readers) this.send(r, text);
  }

  private send(r: Reader, text: string): void {
    if (r.res.writableLength > (this.o.maxBacklogBytes ?? DEFAULT_MAX_BACKLOG)) {
      this.cutOff++;
      this.readers.delete(r);
      this.o.log?.(`a /stream reader stopped reading (${Math.round(r.res.writableLength / 1024)} KiB unsent): cut off`);
      r.res.destroy();
      return;
    }
    r.res.write(text);
    r.lastSentMs = epochMs();
  }

  private tick(): void {
    const now = epochMs();
    if (now - this.lastStatusMs >= STATUS_EVERY_MS) {
      this.lastStatusMs = now;
      if (this.status.source !== null || Object.keys(this.status.unavailable).length > 0) this.broadcast(this.statusLine());
    }
    for (const r of this.readers) if (now - r.lastSentMs >= HEARTBEAT_MS) this.send(r, agentLine({ type: 'heartbeat', time: now }));
  }

  /** Compares the token in constant time (SHA-256 of both, so the lengths never differ). */
  private authorized(header: string | undefined): boolean {
    if (this.tokenDigest === null) return true;
    const m = /^Bearer ([\x21-\x7e]+)$/.exec(header ?? '');
    return timingSafeEqual(digest(m ? m[1]! : ''), this.tokenDigest) && m !== null;
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body) + '\n');
}
