/**
 * A stand-in for `portstorm monitor --serve` on 127.0.0.1 port 0 that speaks
 * src/monitor/agent-protocol.ts exactly (hello, samples, status and heartbeat lines on /stream,
 * /health with the agent's clock, bearer tokens) on a clock `skewMs` ahead of this machine's, and
 * can be made to fail: die (connections dropped, port closed), stall (nothing more sent), send
 * lines that are not agent lines.
 *
 * Its samples say when they were taken in a way that survives the fold: every sample has a scan
 * whose `states.established` is the local time it was taken, in ms since `base` (so the record's
 * `timeline[t].sockets.established` tells which moment a run second's figures come from).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { agentLine, AGENT_PATHS, HEARTBEAT_MS, type AgentHealth, type AgentLine } from '../../src/monitor/agent-protocol.js';
import { hostInfo } from '../../src/monitor/host.js';
import { COUNTER_NAMES, type CounterDeltas, type MonitorSample, type StateCounts } from '../../src/monitor/types.js';

/** How the double behaves. */
export interface AgentDoubleOptions {
  /** The agent's clock minus this machine's (ms). */
  skewMs?: number;
  /** Requests without `Authorization: Bearer <token>` get 401. */
  token?: string;
  /** Sample cadence (every sample has a scan), ms. */
  intervalMs?: number;
  /** Sent on each stream right after the hello. */
  badLines?: string[];
  /** Serve HTTPS with this certificate and key. */
  tls?: { cert: string; key: string };
}

/** A running double. */
export interface AgentDouble {
  url: string;
  /** Local epoch ms that `states.established` counts from. */
  base: number;
  /** The backend the service's sockets go to (its busiest destination). */
  backend: string;
  /** Connections accepted, and requests by path. */
  connections(): number;
  requests(path: string): number;
  /** Drops every connection and stops listening: reconnects are refused. */
  die(): Promise<void>;
  /** Sends nothing more on any stream, and nothing at all on new ones (their headers only). */
  stall(): void;
  close(): Promise<void>;
}

const USABLE = 1000;
const BACKEND = '198.18.1.3:8080';

function states(over: Partial<StateCounts>): StateCounts {
  return { established: 0, synSent: 0, synRecv: 0, finWait1: 0, finWait2: 0, timeWait: 0, close: 0, closeWait: 0, lastAck: 0, listen: 0, closing: 0, ...over };
}

/** Starts a double. */
export async function startAgentDouble(o: AgentDoubleOptions = {}): Promise<AgentDouble> {
  const skew = o.skewMs ?? 0;
  const intervalMs = o.intervalMs ?? 250;
  const localNow = (): number => performance.timeOrigin + performance.now();
  const agentNow = (): number => localNow() + skew;
  const base = Math.floor(localNow());
  const host = { ...hostInfo(), portRange: [40000, 40999] as [number, number], reservedPorts: [], usablePorts: USABLE };
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const counts = new Map<string, number>();
  let connections = 0;
  let stalled = false;

  const sample = (): MonitorSample => {
    const local = localNow();
    const at = local + skew;
    const inUse = 800;
    const timeWait = 700;
    const scanStates = states({ established: Math.round(local - base), timeWait });
    return {
      at,
      lateMs: 0,
      sockstat: { at, timeWait, inUse, orphan: 0, alloc: inUse, inUse6: 0 },
      scan: {
        at,
        costMs: 1,
        source: 'proc',
        total: inUse,
        states: scanStates,
        client: scanStates,
        server: states({ listen: 1 }),
        ephemeralInUse: inUse,
        destinations: [{ dest: BACKEND, inUse, timeWait, established: 100, bySource: null, utilization: inUse / USABLE, timeWaitLeft: [timeWait] }],
        sources: {},
      },
      counters: { ...(Object.fromEntries(COUNTER_NAMES.map((c) => [c, 0])) as CounterDeltas), TW: 10 },
      conntrack: null,
      fds: null,
    };
  };

  const handler: http.RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    if (o.token !== undefined && req.headers.authorization !== `Bearer ${o.token}`) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('unauthorized\n');
      return;
    }
    if (path === AGENT_PATHS.health) {
      const health: AgentHealth = { ok: true, time: agentNow(), version: 'double', readers: 0, maxReaders: 4, lastSampleAt: null };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(health));
      return;
    }
    if (path !== AGENT_PATHS.stream) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.flushHeaders();
    if (stalled) return;
    let lastSent = localNow();
    const send = (line: AgentLine | string): void => {
      if (stalled) return;
      res.write(typeof line === 'string' ? `${line}\n` : agentLine(line));
      lastSent = localNow();
    };
    send({ type: 'hello', time: agentNow(), agent: { version: 'double', pid: 4242 }, host, intervalMs, scanIntervalMs: intervalMs });
    for (const bad of o.badLines ?? []) send(bad);
    let n = 0;
    const tick = setInterval(() => {
      send({ type: 'sample', sample: sample() });
      if (++n % 8 === 0) send({ type: 'status', time: agentNow(), status: { source: 'proc', unavailable: {}, effectiveScanIntervalMs: intervalMs } });
    }, intervalMs);
    const beat = setInterval(() => {
      if (localNow() - lastSent >= HEARTBEAT_MS) send({ type: 'heartbeat', time: agentNow() });
    }, HEARTBEAT_MS / 4);
    timers.add(tick).add(beat);
    res.on('close', () => {
      clearInterval(tick);
      clearInterval(beat);
      timers.delete(tick);
      timers.delete(beat);
    });
  };
  const server = o.tls ? https.createServer({ cert: o.tls.cert, key: o.tls.key }, handler) : http.createServer(handler);
  server.on(o.tls ? 'secureConnection' : 'connection', (s: Socket) => {
    connections++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const close = (): Promise<void> =>
    new Promise<void>((resolve) => {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  return {
    url: `${o.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    base,
    backend: BACKEND,
    connections: () => connections,
    requests: (path) => counts.get(path) ?? 0,
    die: close,
    stall: () => {
      stalled = true;
    },
    close,
  };
}

/** A local URL where nothing listens (a port just closed). */
export async function deadAgentUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
