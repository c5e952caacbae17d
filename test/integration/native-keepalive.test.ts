/**
 * HTTP keep-alive on the native engine (native-keepalive.ts) against undici's (http-pool.ts): the
 * same exchanges against the same local servers must end with the same codes, phases and messages;
 * at most poolSize connections are opened and they are reused; connections the target closes are
 * replaced; timeouts.request bounds a dribbled response; close(true) aborts. Every server listens
 * on loopback; every loop is bounded in exchanges.
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { after, describe, it } from 'node:test';
import { httpPoolTransport } from '../../src/load/transport/http-pool.js';
import { loadNativeEngine } from '../../src/load/transport/native-engine.js';
import { nativeKeepAliveTransport, PROTOCOL_MESSAGE } from '../../src/load/transport/native-keepalive.js';
import type { ExchangeResult, Transport, TransportOptions } from '../../src/load/transport/types.js';
import { rawServer, scriptedServer, unacceptingListener } from '../helpers/raw-servers.js';
import { runConcurrently } from '../helpers/concurrent.js';
import { chunkedServer, closedPort, httpServer, silentServer, slowLorisServer, type TestServer } from '../helpers/servers.js';
import { transportOptions } from '../helpers/engine-options.js';

type Engine = 'js' | 'native';
const ENGINES: readonly Engine[] = ['js', 'native'];

function options(port: number, over: Partial<TransportOptions> = {}): TransportOptions {
  return transportOptions('127.0.0.1', port, { poolSize: 2, tcp: { payload: '', expectBytes: 0 }, ...over });
}

function transport(engine: Engine, opts: TransportOptions): Transport {
  if (engine === 'js') return httpPoolTransport(opts);
  const n = loadNativeEngine();
  if (!n.available) throw new Error(`the native connection engine must be built for these tests (npm rebuild): ${n.reason}`);
  return nativeKeepAliveTransport(n.addon, opts);
}

interface Run {
  results: ExchangeResult[];
  connects: number;
}

/** Runs `n` exchanges, `concurrency` at a time (each user awaiting `between` after each), then closes the transport. */
async function exchanges(engine: Engine, opts: TransportOptions, n: number, concurrency = 1, between?: () => Promise<void>): Promise<Run> {
  let connects = 0;
  const t = transport(engine, { ...opts, onConnect: () => connects++ });
  const results = await runConcurrently(n, concurrency, () => t.exchange(), between);
  await t.close(false);
  return { results, connects };
}

const failure = (r: ExchangeResult): unknown => r.failure;
const sorted = (xs: unknown[]): string[] => xs.map((x) => JSON.stringify(x)).sort();

/** The same exchanges on both engines: the failures must match one for one. */
async function same(server: TestServer, opts: TransportOptions, n: number, concurrency = 1, between?: () => Promise<void>): Promise<Record<Engine, Run>> {
  const runs = {} as Record<Engine, Run>;
  for (const engine of ENGINES) {
    const before = server.stats().accepted;
    runs[engine] = await exchanges(engine, opts, n, concurrency, between);
    assert.equal(runs[engine].results.length, n);
    for (const r of runs[engine].results) {
      assert.ok(r.endedAt >= r.startedAt && (r.firstByteAt === null || r.firstByteAt >= r.startedAt), `${engine}: ${JSON.stringify(r)}`);
    }
    // Every connection the server accepted was reported (the RST of a refused one never reaches it).
    assert.ok(runs[engine].connects <= server.stats().accepted - before, `${engine}: ${runs[engine].connects} reported`);
  }
  assert.deepEqual(sorted(runs.native.results.map(failure)), sorted(runs.js.results.map(failure)));
  return runs;
}

const until = async (done: () => boolean, ms = 2000): Promise<void> => {
  const deadline = performance.now() + ms;
  while (!done() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
};

/** A raw server answering every request head on a connection with `answer(socket, nth)`. */
function perRequest(answer: (s: net.Socket, nth: number) => void): Promise<TestServer> {
  return rawServer((s) => {
    let buf = '';
    let nth = 0;
    s.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      for (let i = buf.indexOf('\r\n\r\n'); i >= 0; i = buf.indexOf('\r\n\r\n')) {
        buf = buf.slice(i + 4);
        answer(s, nth++);
      }
    });
  });
}

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

describe('native keep-alive vs undici', () => {
  const servers: TestServer[] = [];
  const keep = <T extends TestServer>(s: T): T => (servers.push(s), s);
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  describe('connections', () => {
    it('exchanges share at most poolSize connections, reported once each', async () => {
      for (const engine of ENGINES) {
        // A server per engine: its counts are this engine's alone.
        const ok = keep(await httpServer((_req, res) => res.end('hello')));
        const run = await exchanges(engine, options(ok.port, { poolSize: 3 }), 60, 3);
        const { accepted, peakOpen } = ok.stats();
        assert.ok(run.results.every((r) => r.failure === null), engine);
        assert.ok(accepted >= 1 && accepted <= 3 && peakOpen <= 3, `${engine}: ${accepted} connections (${peakOpen} at once) for 60 exchanges`);
        assert.equal(run.connects, accepted, `${engine}: onConnect per connection`);
      }
    });

    it('more exchanges in flight than poolSize wait for a connection; none is lost', async () => {
      for (const engine of ENGINES) {
        const slow = keep(await httpServer((_req, res) => setTimeout(() => res.end('ok'), 20)));
        const run = await exchanges(engine, options(slow.port, { poolSize: 2, requestTimeoutMs: 10_000 }), 30, 10);
        assert.ok(run.results.every((r) => r.failure === null), `${engine}: ${JSON.stringify(run.results.map(failure))}`);
        assert.ok(slow.stats().peakOpen <= 2, `${engine}: peak ${slow.stats().peakOpen} connections`);
      }
    });

    it('native: connectMs on the exchange that opened the connection only, the local port on every one', async () => {
      const ok = keep(await httpServer((_req, res) => res.end('ok')));
      const { results } = await exchanges('native', options(ok.port, { poolSize: 1 }), 5);
      assert.ok(results[0]!.connectMs !== null && results[0]!.connectMs >= 0);
      assert.ok(results.slice(1).every((r) => r.connectMs === null));
      assert.equal(new Set(results.map((r) => r.localPort)).size, 1, 'one connection, one port');
    });

    it('a response with Connection: close: the next exchange opens a new connection', async () => {
      const s = keep(await perRequest((sock) => sock.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok')));
      const runs = await same(s, options(s.port, { poolSize: 1 }), 5);
      for (const engine of ENGINES) assert.equal(runs[engine].connects, 5, engine);
    });

    it('Connection: close without the FIN: the client closes and reconnects', async () => {
      const s = keep(await perRequest((sock) => sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok')));
      await same(s, options(s.port, { poolSize: 1 }), 4);
      await until(() => s.stats().open === 0);
      assert.equal(s.stats().open, 0, 'no connection left open');
    });

    it('the target closes idle connections (FIN or RST after the response): replaced, no failure', async () => {
      for (const close of ['end', 'reset'] as const) {
        const s = keep(
          await perRequest((sock) => {
            sock.write(OK);
            setTimeout(() => (close === 'end' ? sock.end() : sock.resetAndDestroy()), 20);
          }),
        );
        // Each request goes out once the server has closed the last connection and the client had time to see it.
        const closed = async (): Promise<void> => {
          await until(() => s.stats().open === 0);
          await new Promise((r) => setTimeout(r, 30));
        };
        const runs = await same(s, options(s.port, { poolSize: 1 }), 4, 1, closed);
        for (const engine of ENGINES) {
          assert.ok(runs[engine].results.every((r) => r.failure === null), `${close} ${engine}`);
          assert.equal(runs[engine].connects, 4, `${close} ${engine}: a new connection per exchange`);
        }
      }
    });

    it('HTTP/1.0 and bodies delimited by the connection end are not reused', async () => {
      const s10 = keep(await perRequest((sock) => sock.write('HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok')));
      await same(s10, options(s10.port, { poolSize: 1 }), 3);
      const eof = keep(await scriptedServer(Buffer.from('HTTP/1.1 200 OK\r\n\r\nuntil the end'), { end: true }));
      const runs = await same(eof, options(eof.port, { poolSize: 1 }), 3);
      assert.ok(runs.native.results.every((r) => r.failure === null));
    });

    it('HEAD: complete at the end of the head despite Content-Length; the engine keeps the connection', async () => {
      const s = keep(await perRequest((sock) => sock.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n')));
      const opts = options(s.port, { poolSize: 1, http: { method: 'HEAD', path: '/', headers: {}, body: '', authority: 'x' } });
      const runs = await same(s, opts, 3);
      // undici closes a connection after a HEAD; the engine keeps it, as HTTP allows.
      assert.equal(runs.native.connects, 1);
    });

    it('bytes after a complete response: the exchange succeeds, the connection is not reused', async () => {
      const s = keep(await perRequest((sock) => sock.write(`${OK}EXTRA`)));
      const runs = await same(s, options(s.port, { poolSize: 1 }), 3);
      assert.ok(runs.native.results.every((r) => r.failure === null));
      assert.equal(runs.native.connects, 3);
    });

    it('chunked responses and request bodies on a kept-alive connection', async () => {
      const s = keep(await chunkedServer(5));
      const opts = options(s.port, { http: { method: 'POST', path: '/', headers: {}, body: 'hello', authority: 'x' } });
      const runs = await same(s, opts, 10, 2);
      assert.ok(runs.native.results.every((r) => r.failure === null));
      assert.equal(s.bodies(), 20);
    });
  });

  describe('failures', () => {
    it('ECONNREFUSED: connect phase, Node message', async () => {
      const port = await closedPort();
      const runs = { js: await exchanges('js', options(port), 3), native: await exchanges('native', options(port), 3) };
      assert.deepEqual(sorted(runs.native.results.map(failure)), sorted(runs.js.results.map(failure)));
      assert.deepEqual(runs.native.results[0]!.failure, { code: 'ECONNREFUSED', phase: 'connect', message: `connect ECONNREFUSED 127.0.0.1:${port}`, syscall: 'connect' });
    });

    it('connect timeout: CONNECT_TIMEOUT in the connect phase', async () => {
      const l = await unacceptingListener();
      try {
        for (const engine of ENGINES) {
          const { results } = await exchanges(engine, options(l.port, { connectTimeoutMs: 300, poolSize: 1 }), 1);
          assert.deepEqual(results[0]!.failure, { code: 'CONNECT_TIMEOUT', phase: 'connect', message: 'no connection within 300 ms' }, engine);
        }
      } finally {
        await l.close();
      }
    });

    it('HTTP 5xx and 4xx: the status in the message, and the connection is kept', async () => {
      const s = keep(await perRequest((sock, nth) => sock.write(nth % 2 === 0 ? 'HTTP/1.1 503 Busy\r\nContent-Length: 2\r\n\r\nno' : 'HTTP/1.1 404 NF\r\nContent-Length: 0\r\n\r\n')));
      const runs = await same(s, options(s.port, { poolSize: 1 }), 4);
      assert.deepEqual(sorted(runs.native.results.map(failure)), sorted([
        { code: 'HTTP_5XX', phase: 'response', message: 'HTTP 503' },
        { code: 'HTTP_4XX', phase: 'response', message: 'HTTP 404' },
        { code: 'HTTP_5XX', phase: 'response', message: 'HTTP 503' },
        { code: 'HTTP_4XX', phase: 'response', message: 'HTTP 404' },
      ]));
      for (const engine of ENGINES) assert.equal(runs[engine].connects, 1, engine);
    });

    it('the target closes before any response: SOCKET_CLOSED in the send phase', async () => {
      const s = keep(await perRequest((sock) => sock.end()));
      const runs = await same(s, options(s.port, { poolSize: 1 }), 3);
      assert.deepEqual(runs.native.results[0]!.failure, { code: 'SOCKET_CLOSED', phase: 'send', message: 'other side closed' });
    });

    it('the target closes mid-body: SOCKET_CLOSED in the response phase', async () => {
      const s = keep(await perRequest((sock) => sock.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc')));
      const runs = await same(s, options(s.port, { poolSize: 1 }), 3);
      assert.deepEqual(runs.native.results[0]!.failure, { code: 'SOCKET_CLOSED', phase: 'response', message: 'other side closed' });
    });

    it('a reset after the request: ECONNRESET (read) in the send phase', async () => {
      const s = keep(await perRequest((sock) => sock.resetAndDestroy()));
      const runs = await same(s, options(s.port, { poolSize: 1 }), 3);
      assert.deepEqual(runs.native.results[0]!.failure, { code: 'ECONNRESET', phase: 'send', message: 'read ECONNRESET', syscall: 'read' });
    });

    it('a malformed response: PROTOCOL on both (the engine does not name the broken rule)', async () => {
      for (const [bad, phase] of [
        ['HTTP/2 200 OK\r\n\r\n', 'send'],
        ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'response'],
      ] as const) {
        const s = keep(await perRequest((sock) => sock.write(bad)));
        for (const engine of ENGINES) {
          const { results } = await exchanges(engine, options(s.port, { poolSize: 1 }), 2);
          for (const r of results) {
            assert.equal(r.failure?.code, 'PROTOCOL', `${engine}: ${JSON.stringify(r.failure)}`);
            assert.equal(r.failure?.phase, phase, engine);
            assert.ok(r.failure?.message.startsWith(PROTOCOL_MESSAGE), engine);
          }
        }
      }
    });

    it('a silent target: REQUEST_TIMEOUT in the response phase', async () => {
      const s = keep(await silentServer());
      const runs = await same(s, options(s.port, { requestTimeoutMs: 300 }), 2);
      assert.deepEqual(runs.native.results[0]!.failure, { code: 'REQUEST_TIMEOUT', phase: 'response', message: 'no complete response within 300 ms' });
    });

    it('a dribbled body times out at timeouts.request, not per byte', async () => {
      // A byte every 100 ms for 4 s: a timeout restarted per byte would never fire.
      const s = keep(await slowLorisServer({ part: 'body', bodyBytes: 40, everyMs: 100 }));
      const runs = await same(s, options(s.port, { requestTimeoutMs: 1000, poolSize: 1 }), 2);
      for (const engine of ENGINES) {
        for (const r of runs[engine].results) {
          assert.deepEqual(r.failure, { code: 'REQUEST_TIMEOUT', phase: 'response', message: 'no complete response within 1000 ms' }, engine);
          const ms = r.endedAt - r.startedAt;
          // The lower bound is the timer's own; the upper one only says it fired well before the
          // body's end at 4 s (a timer 2.5 s late would be a bug, not a busy machine).
          assert.ok(ms >= 990 && ms < 3500, `${engine}: timed out after ${ms} ms, before the body's end`);
        }
      }
    });
  });

  describe('close()', () => {
    it('close(true) aborts in-flight and waiting exchanges; every connection closes', async () => {
      const silent = keep(await silentServer());
      for (const engine of ENGINES) {
        const t = transport(engine, options(silent.port, { poolSize: 2 }));
        const pending = Array.from({ length: 5 }, () => t.exchange());
        await until(() => silent.stats().open >= 2);
        await new Promise((r) => setTimeout(r, 50));
        await t.close(true);
        let settled = 0;
        pending.forEach((p) => void p.then(() => settled++));
        await new Promise((r) => setImmediate(r));
        assert.equal(settled, 5, `${engine}: every exchange has its outcome once close(true) resolves`);
        const results = await Promise.all(pending);
        const phases = results.map((r) => `${r.failure?.code}:${r.failure?.phase}:${r.failure?.message}`).sort();
        assert.deepEqual(phases, [
          'ABORTED:connect:aborted by portstorm (run stopped)',
          'ABORTED:connect:aborted by portstorm (run stopped)',
          'ABORTED:connect:aborted by portstorm (run stopped)',
          'ABORTED:send:aborted by portstorm (run stopped)',
          'ABORTED:send:aborted by portstorm (run stopped)',
        ], engine);
        await until(() => silent.stats().open === 0);
        assert.equal(silent.stats().open, 0, `${engine}: every connection closed`);
      }
    });

    it('close(false) closes the idle connections; the transport works again after it', async () => {
      for (const close of ['client', 'reset'] as const) {
        const ok = keep(await httpServer((_req, res) => res.end('ok')));
        for (const engine of ENGINES) {
          const t = transport(engine, options(ok.port, { close }));
          assert.equal((await t.exchange()).failure, null);
          assert.equal(ok.stats().open, 1, `${engine}: kept open`);
          await t.close(false);
          await until(() => ok.stats().open === 0);
          assert.equal(ok.stats().open, 0, `${close} ${engine}: closed`);
          if (engine === 'native') {
            assert.equal((await t.exchange()).failure, null);
            await t.close(false);
          }
        }
      }
    });
  });
});
