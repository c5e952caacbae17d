/**
 * The monitor agent's server (src/monitor/agent-server.ts) in this process on 127.0.0.1 port 0,
 * fed synthetic samples by the test: the bearer token on every path, read-only, /sample and
 * /health, the /stream lines on one connection per reader, the reader limit, a reader that never
 * reads cut off with bounded memory while the others keep receiving, and close().
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { HEARTBEAT_MS, type AgentHealth, type AgentLine, type HelloLine } from '../../src/monitor/agent-protocol.js';
import { AgentServer, type AgentServerOptions } from '../../src/monitor/agent-server.js';
import { hostInfo } from '../../src/monitor/host.js';
import { MonitorMetrics } from '../../src/monitor/prometheus.js';
import { COUNTER_NAMES, type CounterDeltas, type MonitorSample, type StateCounts } from '../../src/monitor/types.js';

const TOKEN = 'the-right-token-1234';
const HOST = { ...hostInfo(), portRange: [40000, 40999] as [number, number], reservedPorts: [], usablePorts: 1000 };
const running: AgentServer[] = [];
after(async () => {
  await Promise.all(running.map((a) => a.close()));
});

function states(over: Partial<StateCounts> = {}): StateCounts {
  return { established: 0, synSent: 0, synRecv: 0, finWait1: 0, finWait2: 0, timeWait: 0, close: 0, closeWait: 0, lastAck: 0, listen: 0, closing: 0, ...over };
}

/** A sample (with a scan unless `scan: false`); `seq` is its scan's `states.established`; `padding` adds that many TIME_WAIT time-left entries (≈ 6 bytes each). */
function sample(seq: number, o: { scan?: boolean; padding?: number } = {}): MonitorSample {
  const at = Date.now();
  const s = states({ established: seq, timeWait: 700 });
  return {
    at,
    lateMs: 0,
    sockstat: { at, timeWait: 700, inUse: 800, orphan: 0, alloc: 800, inUse6: 0 },
    scan:
      o.scan === false
        ? null
        : {
            at,
            costMs: 1,
            source: 'proc',
            total: 800,
            states: s,
            client: s,
            server: states({ listen: 1 }),
            ephemeralInUse: 800,
            destinations: [{ dest: '198.18.1.3:8080', inUse: 800, timeWait: 700, established: seq, bySource: null, utilization: 0.8, timeWaitLeft: Array.from({ length: o.padding ?? 1 }, () => 54321) }],
            sources: {},
          },
    counters: { ...(Object.fromEntries(COUNTER_NAMES.map((c) => [c, 0])) as CounterDeltas), TW: 10 },
    conntrack: null,
    fds: null,
  };
}

async function start(o: Partial<AgentServerOptions> = {}): Promise<{ agent: AgentServer; port: number; logs: string[] }> {
  const logs: string[] = [];
  const hello = (): HelloLine => ({ type: 'hello', time: Date.now(), agent: { version: '9.9.9-test', pid: process.pid }, host: HOST, intervalMs: 250, scanIntervalMs: 1000 });
  const agent = await AgentServer.start({ host: '127.0.0.1', port: 0, token: TOKEN, maxReaders: 4, tls: null, hello, metrics: new MonitorMetrics(1000), log: (l) => logs.push(l), ...o });
  running.push(agent);
  return { agent, port: Number(new URL(agent.url).port), logs };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, path: string, o: { method?: string; auth?: string | null; body?: string; agent?: http.Agent } = {}): Promise<Reply> {
  const auth = o.auth === undefined ? `Bearer ${TOKEN}` : o.auth;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: o.method ?? 'GET', headers: auth === null ? {} : { authorization: auth }, agent: o.agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

/** A /stream reader that parses every line as it arrives. */
interface StreamReader {
  status: number;
  lines: Array<AgentLine & { receivedAt: number }>;
  ended: boolean;
  socket: net.Socket;
  /** Resolves once `n` lines have arrived matching `pred` (fails after `ms`). */
  waitFor(pred: (l: AgentLine) => boolean, n?: number, ms?: number): Promise<void>;
  destroy(): void;
}

function openStream(port: number, auth: string = `Bearer ${TOKEN}`): Promise<StreamReader> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/stream', headers: { authorization: auth }, agent: false }, (res) => {
      const r: StreamReader = {
        status: res.statusCode ?? 0,
        lines: [],
        ended: false,
        socket: req.socket!,
        async waitFor(pred, n = 1, ms = 5000) {
          const until = Date.now() + ms;
          while (r.lines.filter(pred).length < n) {
            if (Date.now() > until) throw new Error(`waited ${ms} ms for ${n} matching lines; got ${r.lines.map((l) => l.type).join(',')}${r.ended ? ' (stream ended)' : ''}`);
            await delay(10);
          }
        },
        destroy: () => req.destroy(),
      };
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const text = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (r.status === 200) r.lines.push({ ...(JSON.parse(text) as AgentLine), receivedAt: Date.now() });
        }
      });
      const end = (): void => {
        r.ended = true;
      };
      res.on('end', end);
      res.on('close', end);
      res.on('error', end);
      resolve(r);
    });
    req.on('error', reject);
  });
}

/** Server-side ESTABLISHED TCP sockets on `port` (127.0.0.1), from /proc/net/tcp. */
function establishedOn(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => {
      const f = l.trim().split(/\s+/);
      return f[1] === `0100007F:${hex}` && f[3] === '01';
    }).length;
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(20);
  }
}

describe('AgentServer: the bearer token', () => {
  it('no token, a wrong one, one of another length, or a bare "Bearer": 401 on every path; the right one: 200', async () => {
    const { agent, port } = await start();
    agent.publish(sample(1));
    const wrong = [null, 'Bearer the-wrong-token-123', `Bearer ${TOKEN}x`, 'Bearer t', `Bearer ${TOKEN.slice(0, -1)}`, 'Bearer', 'Bearer ', TOKEN, `Basic ${TOKEN}`, `Bearer  ${TOKEN}`];
    for (const path of ['/stream', '/sample', '/health', '/metrics', '/nowhere']) {
      for (const auth of wrong) {
        const r = await request(port, path, { auth });
        assert.equal(r.status, 401, `${path} with ${JSON.stringify(auth)}`);
        assert.equal(r.headers['www-authenticate'], 'Bearer');
        assert.doesNotMatch(r.body, /sample|portstorm_/, 'nothing of the data before the token');
      }
    }
    assert.equal(agent.readerCount, 0, 'a refused /stream is no reader');
    for (const path of ['/sample', '/health', '/metrics']) assert.equal((await request(port, path)).status, 200, path);
    const metrics = await request(port, '/metrics');
    assert.match(metrics.body, /^portstorm_time_wait_sockets 700$/m);
    assert.match(metrics.body, /^portstorm_usable_ports 1000$/m);
    assert.equal((await request(port, '/nowhere')).status, 404);
    const s = await openStream(port);
    assert.equal(s.status, 200);
    await s.waitFor((l) => l.type === 'hello');
    s.destroy();
  });

  it('POST, PUT, DELETE, PATCH: 405 (after the token) and nothing changes', async () => {
    const { agent, port } = await start();
    agent.publish(sample(7));
    const before = JSON.parse((await request(port, '/sample')).body) as { sample: MonitorSample };
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      for (const path of ['/stream', '/sample', '/health', '/metrics']) {
        const r = await request(port, path, { method, body: JSON.stringify({ type: 'sample', sample: sample(99) }) });
        assert.equal(r.status, 405, `${method} ${path}`);
        assert.equal(r.headers.allow, 'GET');
        assert.equal((await request(port, path, { method, auth: null })).status, 401, `${method} ${path} without the token`);
      }
    }
    assert.equal(agent.readerCount, 0, 'no reader from a POST /stream');
    const after = JSON.parse((await request(port, '/sample')).body) as { sample: MonitorSample };
    assert.deepEqual(after.sample, before.sample, '/sample unchanged');
    const health = JSON.parse((await request(port, '/health')).body) as AgentHealth;
    assert.equal(health.readers, 0);
    assert.equal(health.lastSampleAt, before.sample.at);
  });
});

describe('AgentServer: /sample and /health', () => {
  it('/sample: 503 before a sample with a scan, then the latest with a scan (not a later scan-less one)', async () => {
    const { agent, port } = await start();
    const none = await request(port, '/sample');
    assert.equal(none.status, 503);
    assert.match(JSON.parse(none.body).error, /no sample with a scan yet/);
    agent.publish(sample(1, { scan: false }));
    assert.equal((await request(port, '/sample')).status, 503, 'a sample without a scan is not enough');
    agent.publish(sample(2));
    agent.publish(sample(3));
    const fast = sample(4, { scan: false });
    agent.publish(fast);
    const r = await request(port, '/sample');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json');
    const doc = JSON.parse(r.body) as { time: number; sample: MonitorSample };
    assert.equal(doc.sample.scan?.states.established, 3);
    assert.ok(Math.abs(doc.time - Date.now()) < 2000, `time ${doc.time}`);
    const health = JSON.parse((await request(port, '/health')).body) as AgentHealth;
    assert.equal(health.lastSampleAt, fast.at, 'lastSampleAt: the newest sample, scan or not');
  });

  it("/health: the agent's clock, its version, readers now and the most it takes", async () => {
    const { port } = await start({ maxReaders: 3 });
    const h0 = JSON.parse((await request(port, '/health')).body) as AgentHealth;
    assert.ok(Math.abs(h0.time - Date.now()) < 1000, `time ${h0.time} vs now ${Date.now()}`);
    assert.deepEqual({ ...h0, time: 0 }, { ok: true, time: 0, version: '9.9.9-test', readers: 0, maxReaders: 3, lastSampleAt: null });
    const a = await openStream(port);
    const b = await openStream(port);
    await a.waitFor((l) => l.type === 'hello');
    await b.waitFor((l) => l.type === 'hello');
    assert.equal((JSON.parse((await request(port, '/health')).body) as AgentHealth).readers, 2);
    a.destroy();
    await until('the reader count to drop', async () => (JSON.parse((await request(port, '/health')).body) as AgentHealth).readers === 1);
    b.destroy();
  });
});

describe('AgentServer: /stream', () => {
  it('hello first, a status line, a sample line per publish in order, heartbeats about every second when idle, all on one connection', async () => {
    const { agent, port } = await start();
    agent.publish(sample(0));
    const s = await openStream(port);
    assert.equal(s.status, 200);
    await s.waitFor((l) => l.type === 'status');
    const [hello, status] = s.lines;
    assert.equal(hello!.type, 'hello', 'the first line is the hello');
    if (hello!.type !== 'hello') return;
    assert.deepEqual(hello!.agent, { version: '9.9.9-test', pid: process.pid });
    assert.deepEqual(hello!.host.portRange, [40000, 40999]);
    assert.equal(hello!.intervalMs, 250);
    assert.equal(hello!.scanIntervalMs, 1000);
    assert.ok(Math.abs(hello!.time - Date.now()) < 2000);
    assert.equal(status!.type, 'status');
    if (status!.type === 'status') assert.deepEqual(status!.status, { source: 'proc', unavailable: {}, effectiveScanIntervalMs: 1000 });

    for (let i = 1; i <= 10; i++) agent.publish(sample(i, { scan: i % 2 === 0 }));
    await s.waitFor((l) => l.type === 'sample', 10);
    const seq = s.lines.filter((l) => l.type === 'sample').map((l) => (l.type === 'sample' ? (l.sample.scan?.states.established ?? -1) : 0));
    assert.deepEqual(seq, [-1, 2, -1, 4, -1, 6, -1, 8, -1, 10], 'every sample, in order, the sample before the stream not repeated');

    // Idle: heartbeats, each about HEARTBEAT_MS after the line before.
    const idleFrom = s.lines.length;
    await s.waitFor((l) => l.type === 'heartbeat', 3, 6000);
    const idle = s.lines.slice(idleFrom - 1);
    // (The status line every STATUS_EVERY_MS may fall in the idle time too.)
    assert.ok(idle.slice(1).every((l) => l.type === 'heartbeat' || l.type === 'status'), `nothing but heartbeats when idle: ${idle.map((l) => l.type).join(',')}`);
    for (let i = 1; i < idle.length; i++) {
      if (idle[i]!.type !== 'heartbeat') continue;
      const gap = idle[i]!.receivedAt - idle[i - 1]!.receivedAt;
      assert.ok(gap >= HEARTBEAT_MS - 100 && gap <= HEARTBEAT_MS + 600, `heartbeat ${i} came ${gap} ms after the line before`);
      const beat = idle[i]!;
      if (beat.type === 'heartbeat') assert.ok(Math.abs(beat.time - beat.receivedAt) < 500);
    }
    // A publish in between: no heartbeat right after it.
    agent.publish(sample(11));
    await s.waitFor((l) => l.type === 'sample', 11);
    assert.equal(establishedOn(port), 1, 'the whole stream on one TCP connection (server side)');
    assert.equal(s.socket.destroyed, false);
    assert.equal(s.ended, false);
    s.destroy();
    await until('the reader to be gone', () => agent.readerCount === 0);
  });

  it('a stream before any sample: a hello, then heartbeats (no status yet)', async () => {
    const { port } = await start();
    const s = await openStream(port);
    await s.waitFor((l) => l.type === 'heartbeat', 1, 3000);
    assert.deepEqual(
      s.lines.map((l) => l.type),
      ['hello', 'heartbeat'],
    );
    s.destroy();
  });

  it('max readers: that many streams, the next gets 503 naming the limit; after one closes a new one gets 200', async () => {
    const { agent, port } = await start({ maxReaders: 3 });
    const open = [await openStream(port), await openStream(port), await openStream(port)];
    for (const s of open) {
      assert.equal(s.status, 200);
      await s.waitFor((l) => l.type === 'hello');
    }
    assert.equal(agent.readerCount, 3);
    const extra = await request(port, '/stream');
    assert.equal(extra.status, 503);
    assert.match(JSON.parse(extra.body).error, /most readers \(3\)/);
    assert.equal(agent.readerCount, 3);
    assert.equal((await request(port, '/health')).status, 200, 'other paths still answer at the limit');
    open[1]!.destroy();
    await until('a reader slot to free', () => agent.readerCount === 2);
    const again = await openStream(port);
    assert.equal(again.status, 200);
    await again.waitFor((l) => l.type === 'hello');
    agent.publish(sample(5));
    for (const s of [open[0]!, open[2]!, again]) await s.waitFor((l) => l.type === 'sample');
    for (const s of [open[0]!, open[2]!, again]) s.destroy();
  });

  it('a reader that never reads is cut off at maxBacklogBytes; the server holds at most that much for it; the other reader gets every sample', async () => {
    const MAX = 256 * 1024;
    const { agent, port, logs } = await start({ maxBacklogBytes: MAX });
    const good = await openStream(port);
    await good.waitFor((l) => l.type === 'hello');

    // The stuck reader: a raw socket that sends its request and never reads a byte.
    const stuck = net.connect({ host: '127.0.0.1', port });
    await new Promise((r) => stuck.once('connect', r));
    stuck.pause();
    let stuckClosed = false;
    stuck.on('close', () => (stuckClosed = true));
    stuck.on('error', () => undefined);
    stuck.write(`GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`);
    await until('two readers', () => agent.readerCount === 2);

    // The server-side responses of the readers (to watch their unsent backlog).
    const readers = (agent as unknown as { readers: Set<{ res: http.ServerResponse }> }).readers;
    assert.ok(readers instanceof Set && readers.size === 2, 'AgentServer keeps its readers in a Set of {res}');
    const responses = [...readers].map((r) => r.res);
    const line = JSON.stringify({ type: 'sample', sample: sample(0, { padding: 16_000 }) }).length;
    assert.ok(line > 64 * 1024, `a sample line of ${line} bytes`);

    let maxBacklog = 0;
    let published = 0;
    const rssBefore = process.memoryUsage().rss;
    // Kernel buffers on loopback take several MB before the server's own backlog grows: publish
    // until the cut-off (at most 64 MB), pacing on the good reader so that it stays caught up.
    while (agent.cutOffCount === 0 && published * line < 64 * 1024 * 1024) {
      agent.publish(sample(++published, { padding: 16_000 }));
      for (const r of readers) maxBacklog = Math.max(maxBacklog, r.res.writableLength);
      await good.waitFor((l) => l.type === 'sample', published, 10_000);
    }
    assert.equal(agent.cutOffCount, 1, `cut off after ${published} samples of ${line} bytes`);
    assert.ok(maxBacklog > MAX, `the stuck reader's backlog reached ${maxBacklog} bytes`);
    assert.ok(maxBacklog <= MAX + line + 4096, `the backlog held for it stayed within maxBacklogBytes + one line: ${maxBacklog}`);
    assert.ok(process.memoryUsage().rss - rssBefore < 64 * 1024 * 1024, 'no unbounded growth');
    assert.equal(agent.readerCount, 1);
    const dropped = responses.filter((res) => ![...readers].some((r) => r.res === res));
    assert.equal(dropped.length, 1);
    assert.ok(dropped[0]!.destroyed, "the stuck reader's response is destroyed: its backlog is freed");
    // Once it reads again, it sees what the kernel still held, then the end of the connection.
    stuck.resume();
    await until('the stuck reader to see its connection closed', () => stuckClosed, 10_000);
    assert.equal(logs.filter((l) => /stopped reading .* cut off/.test(l)).length, 1, logs.join('\n'));

    // The good reader still gets every line, before and after.
    for (let i = 0; i < 5; i++) {
      agent.publish(sample(++published, { padding: 16_000 }));
      await good.waitFor((l) => l.type === 'sample', published, 10_000);
    }
    const seq = good.lines.filter((l) => l.type === 'sample').map((l) => (l.type === 'sample' ? l.sample.scan!.states.established : 0));
    assert.deepEqual(seq, Array.from({ length: published }, (_, i) => i + 1));
    assert.equal(good.ended, false);
    assert.equal(agent.cutOffCount, 1, 'the reader that reads is never cut off');
    good.destroy();
  });

  it('close(): every stream ends, the port stops listening', async () => {
    const { agent, port } = await start();
    const a = await openStream(port);
    const b = await openStream(port);
    await until('two readers', () => agent.readerCount === 2);
    agent.publish(sample(1));
    await a.waitFor((l) => l.type === 'sample');
    await b.waitFor((l) => l.type === 'sample');
    // A keep-alive client with an idle connection too: close() does not wait for it.
    const keep = new http.Agent({ keepAlive: true });
    assert.equal((await request(port, '/health', { agent: keep })).status, 200);
    const t0 = Date.now();
    await agent.close();
    assert.ok(Date.now() - t0 < 3000, `close() took ${Date.now() - t0} ms`);
    await until('both streams to end', () => a.ended && b.ended);
    await assert.rejects(request(port, '/health'), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');
    keep.destroy();
  });
});
