/**
 * The native `reuse: false` transport (native/connengine) against the node:net one (oneshot.ts):
 * the same exchanges against the same local servers must end the same way (codes, phases,
 * messages, which fields are set), with sane timings; close policies leave TIME_WAIT where they
 * should, and exhausting the port range gives the same EADDRNOTAVAIL (both inside private network
 * namespaces). The addon must be built (CI builds it in `npm ci`): without it these tests fail.
 *
 * Run with `--native-probe <json>` (inside a namespace), this file is the probe those tests start.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { httpRequestBytes } from '../../src/load/transport/http-request.js';
import { loadNativeEngine, type ConnEngineAddon } from '../../src/load/transport/native-engine.js';
import { nativeOneShotTransport } from '../../src/load/transport/native-oneshot.js';
import { oneShotTransport } from '../../src/load/transport/oneshot.js';
import { byteCountReader, httpResponseReader } from '../../src/load/transport/readers.js';
import type { ExchangeResult, Transport, TransportOptions } from '../../src/load/transport/types.js';
import { runInNetns } from '../helpers/netns.js';
import { closingFor, rawServer, scriptedServer, tcpReplyServer, timeWaitFor, unacceptingListener } from '../helpers/raw-servers.js';
import { closedPort, httpServer, silentServer, type TestServer } from '../helpers/servers.js';
import { runConcurrently } from '../helpers/concurrent.js';
import { transportOptions } from '../helpers/engine-options.js';

type Engine = 'js' | 'native';
const ENGINES: readonly Engine[] = ['js', 'native'];

function nativeAddon(): ConnEngineAddon {
  const n = loadNativeEngine();
  if (!n.available) throw new Error(`the native connection engine must be built for these tests (npm rebuild): ${n.reason}`);
  return n.addon;
}

/** Transport options for host:port with test-sized timeouts. */
const options = transportOptions;

/** The transport of `engine` for `protocol`, built as createTransport builds each. */
function transport(engine: Engine, protocol: 'http' | 'tcp', opts: TransportOptions): Transport {
  const isHead = opts.http.method === 'HEAD';
  const request = protocol === 'http' ? httpRequestBytes(opts) : Buffer.from(opts.tcp.payload);
  if (engine === 'native') {
    const reader = protocol === 'http' ? ({ kind: 'http', isHead } as const) : ({ kind: 'bytes', expectBytes: opts.tcp.expectBytes } as const);
    return nativeOneShotTransport(nativeAddon(), opts, request, reader);
  }
  return oneShotTransport(opts, request, protocol === 'http' ? () => httpResponseReader(isHead) : () => byteCountReader(opts.tcp.expectBytes));
}

/** One exchange's result and the onConnect calls the transport made meanwhile. */
interface Run {
  results: ExchangeResult[];
  connects: { connectMs: number; localPort: number | null }[];
}

/** Runs `n` exchanges, `concurrency` at a time, then closes the transport. */
async function exchanges(engine: Engine, protocol: 'http' | 'tcp', opts: TransportOptions, n = 1, concurrency = 1): Promise<Run> {
  const connects: Run['connects'] = [];
  const t = transport(engine, protocol, { ...opts, onConnect: (connectMs, localPort) => connects.push({ connectMs, localPort }) });
  const results = await runConcurrently(n, concurrency, () => t.exchange());
  await t.close(false);
  return { results, connects };
}

/** What must agree between the engines: the failure, and which fields are set. */
function outcome(r: ExchangeResult): Record<string, unknown> {
  return {
    code: r.failure?.code ?? null,
    phase: r.failure?.phase ?? null,
    message: r.failure?.message ?? null,
    syscall: r.failure?.syscall ?? null,
    connected: r.connectMs !== null,
    localPort: r.localPort !== null,
    firstByte: r.firstByteAt !== null,
  };
}

/** Times are ordered: start <= connected <= first byte <= end. */
function assertSaneTimes(r: ExchangeResult, what: string): void {
  const info = `${what}: ${JSON.stringify(r)}`;
  assert.ok(Number.isFinite(r.startedAt) && r.startedAt > 0, info);
  assert.ok(r.endedAt >= r.startedAt, info);
  assert.ok(r.endedAt <= performance.now(), info);
  if (r.connectMs !== null) {
    assert.ok(r.connectMs >= 0 && r.startedAt + r.connectMs <= r.endedAt + 1e-6, info);
    if (r.firstByteAt !== null) assert.ok(r.startedAt + r.connectMs <= r.firstByteAt + 1e-6, info);
  }
  if (r.firstByteAt !== null) assert.ok(r.firstByteAt >= r.startedAt && r.firstByteAt <= r.endedAt, info);
  if (r.localPort !== null) assert.ok(r.localPort > 0 && r.localPort < 65536, info);
}

/** Runs the same exchanges on both engines; asserts they end alike and returns both runs. */
async function same(protocol: 'http' | 'tcp', opts: TransportOptions, n = 1, concurrency = 1): Promise<Record<Engine, Run>> {
  const runs = {} as Record<Engine, Run>;
  for (const engine of ENGINES) {
    runs[engine] = await exchanges(engine, protocol, opts, n, concurrency);
    runs[engine].results.forEach((r, i) => assertSaneTimes(r, `${engine} #${i}`));
    // onConnect is called once per connection, with the values the exchange reports.
    const connected = runs[engine].results.filter((r) => r.connectMs !== null);
    assert.equal(runs[engine].connects.length, connected.length, `${engine}: onConnect calls`);
    assert.deepEqual(
      runs[engine].connects.map((c) => c.localPort).sort(),
      connected.map((r) => r.localPort).sort(),
      `${engine}: onConnect local ports`,
    );
  }
  const summary = (e: Engine): Record<string, unknown>[] => runs[e].results.map(outcome).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  assert.deepEqual(summary('native'), summary('js'));
  return runs;
}

function http200(body = 'ok', extra = ''): Buffer {
  return Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`, 'latin1');
}

// ---------------------------------------------------------------------------------------------
// The namespace probe: `node native-oneshot.test.js --native-probe <json>`.

interface PolicyCount {
  protocol: 'http' | 'tcp';
  close: 'client' | 'server' | 'reset';
  engine: Engine;
  completed: number;
  codes: string[];
  client: number;
  server: number;
}

type ProbeRequest = { kind: 'policies'; n: number } | { kind: 'exhaust'; engine: Engine; n: number; localAddresses: string[] };

async function settleCloses(port: number): Promise<void> {
  for (let i = 0; i < 150 && closingFor(port) > 0; i++) await new Promise((r) => setTimeout(r, 20));
}

async function probe(req: ProbeRequest): Promise<unknown> {
  if (req.kind === 'exhaust') {
    // A fixed port outside the namespace's narrowed range, so that every port of it is the client's.
    const server = net.createServer((s) => {
      s.on('error', () => undefined);
      s.on('data', () => s.write(http200()));
    });
    await new Promise<void>((resolve) => server.listen(9000, '127.0.0.1', resolve));
    const { results } = await exchanges(req.engine, 'http', options('127.0.0.1', 9000, { localAddresses: req.localAddresses }), req.n, 1);
    server.close();
    return results.map((r) => ({ ...outcome(r), port: r.localPort }));
  }
  const out: PolicyCount[] = [];
  for (const protocol of ['http', 'tcp'] as const) {
    for (const close of ['client', 'server', 'reset'] as const) {
      for (const engine of ENGINES) {
        const server =
          protocol === 'http'
            ? await httpServer((_req, res) => res.end('ok'))
            : await tcpReplyServer(Buffer.from('PONG\n'), close === 'server');
        const { results } = await exchanges(engine, protocol, options('127.0.0.1', server.port, { close }), req.n, 4);
        await settleCloses(server.port);
        const tw = timeWaitFor(server.port);
        await server.close();
        const codes = results.filter((r) => r.failure).map((r) => r.failure!.code);
        out.push({ protocol, close, engine, completed: results.length - codes.length, codes, ...tw });
      }
    }
  }
  return out;
}

const probeAt = process.argv.indexOf('--native-probe');
if (probeAt > 0) {
  const result = await probe(JSON.parse(process.argv[probeAt + 1] ?? '{}') as ProbeRequest);
  process.stdout.write(JSON.stringify(result) + '\n');
} else {
  tests();
}

// ---------------------------------------------------------------------------------------------

function tests(): void {
  const servers: TestServer[] = [];
  const keep = <T extends TestServer>(s: T): T => (servers.push(s), s);
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  describe('native transport: the addon', () => {
    it('is built and loads (CI builds it in npm ci)', () => {
      const n = loadNativeEngine();
      assert.ok(n.available, n.available ? '' : n.reason);
    });
  });

  describe('native transport vs node:net: successful exchanges', () => {
    let ok: TestServer;
    before(async () => {
      ok = keep(await httpServer((_req, res) => res.end('hello')));
    });

    it('HTTP 200: same outcome, sane timings, one onConnect per connection, distinct local ports', async () => {
      const runs = await same('http', options('127.0.0.1', ok.port), 40, 4);
      for (const engine of ENGINES) {
        const ports = runs[engine].results.map((r) => r.localPort);
        assert.equal(new Set(ports).size, ports.length, `${engine}: a new connection (port) per exchange`);
        assert.ok(runs[engine].results.every((r) => r.failure === null && r.firstByteAt !== null));
      }
    });

    it('each close policy completes every exchange', async () => {
      for (const close of ['client', 'server', 'reset'] as const) await same('http', options('127.0.0.1', ok.port, { close }), 10, 2);
    });

    it('chunked bodies, with trailers, and 1xx before the response', async () => {
      const chunked = keep(
        await httpServer((_req, res) => {
          res.write('abc');
          res.write('defgh');
          res.end();
        }),
      );
      await same('http', options('127.0.0.1', chunked.port), 3);
      const trailers = keep(
        await scriptedServer(
          [
            Buffer.from('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki'),
            Buffer.from('\r\n5\r\npedia\r\n0\r\nX-Checksum: 1\r\n\r\n'),
          ],
          { gapMs: 20 },
        ),
      );
      const runs = await same('http', options('127.0.0.1', trailers.port), 3);
      assert.ok(runs.native.results.every((r) => r.failure === null));
    });

    it('a body delimited by the connection end completes at the FIN', async () => {
      const s = keep(await scriptedServer(Buffer.from('HTTP/1.0 200 OK\r\n\r\nuntil the end'), { end: true }));
      const runs = await same('http', options('127.0.0.1', s.port), 3);
      assert.ok(runs.native.results.every((r) => r.failure === null));
    });

    it('HEAD: complete at the end of the head despite Content-Length', async () => {
      const s = keep(await scriptedServer(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n')));
      const runs = await same('http', options('127.0.0.1', s.port, { http: { method: 'HEAD', path: '/', headers: {}, body: '', authority: 'x' } }), 3);
      assert.ok(runs.native.results.every((r) => r.failure === null));
    });

    it('raw TCP: complete after expectBytes; expectBytes 0 is complete once sent', async () => {
      const echo = keep(await tcpReplyServer(Buffer.from('PONG\n'), false));
      const runs = await same('tcp', options('127.0.0.1', echo.port), 5);
      assert.ok(runs.native.results.every((r) => r.failure === null && r.firstByteAt !== null));
      const silent = keep(await silentServer());
      const zero = await same('tcp', options('127.0.0.1', silent.port, { tcp: { payload: 'FIRE', expectBytes: 0 } }), 3);
      assert.ok(zero.native.results.every((r) => r.failure === null && r.firstByteAt === null));
    });

    it('a request larger than the socket buffer is written across writability edges', async () => {
      let received = 0;
      const sink = keep(
        await httpServer((req, res) => {
          req.on('data', (c: Buffer) => (received += c.length));
          req.on('end', () => res.end('done'));
        }),
      );
      const body = 'b'.repeat(16 << 20);
      const runs = await same('http', options('127.0.0.1', sink.port, { http: { method: 'POST', path: '/', headers: {}, body, authority: 'x' } }), 2);
      assert.ok(runs.native.results.every((r) => r.failure === null));
      assert.equal(received, 4 * body.length, 'every byte of both engines reached the server');
    });

    it('IPv6: an exchange with ::1, and ECONNREFUSED naming it', async () => {
      const v6 = keep(await rawServer((s) => s.on('data', () => s.write(http200())), '::1'));
      const runs = await same('http', options('::1', v6.port), 3);
      assert.ok(runs.native.results.every((r) => r.failure === null));
      const s = net.createServer();
      await new Promise<void>((resolve) => s.listen(0, '::1', resolve));
      const port = (s.address() as net.AddressInfo).port;
      await new Promise<void>((resolve) => s.close(() => resolve()));
      const refused = await same('http', options('::1', port), 1);
      assert.equal(refused.native.results[0]!.failure?.message, `connect ECONNREFUSED ::1:${port}`);
    });

    it('local addresses: bound round-robin, as the server sees them', async () => {
      const peers = keep(await rawServer((s) => s.on('data', () => s.write(http200()))));
      for (const engine of ENGINES) {
        peers.peers.length = 0;
        const { results } = await exchanges(engine, 'http', options('127.0.0.1', peers.port, { localAddresses: ['127.0.0.2', '127.0.0.3'] }), 4, 1);
        assert.ok(results.every((r) => r.failure === null), `${engine}: ${JSON.stringify(results)}`);
        assert.deepEqual(peers.peers, ['127.0.0.2', '127.0.0.3', '127.0.0.2', '127.0.0.3'], engine);
      }
      // An IPv6 source for an IPv4 target: bind fails with EINVAL, as Node reports it.
      const mixed = await same('http', options('127.0.0.1', peers.port, { localAddresses: ['::1'] }), 1);
      assert.equal(mixed.native.results[0]!.failure?.message, 'bind EINVAL ::1');
    });
  });

  describe('native transport vs node:net: failures', () => {
    it('ECONNREFUSED on a closed port: connect phase, Node message, no connection', async () => {
      const port = await closedPort();
      const runs = await same('http', options('127.0.0.1', port), 3);
      assert.deepEqual(runs.native.results[0]!.failure, { code: 'ECONNREFUSED', phase: 'connect', message: `connect ECONNREFUSED 127.0.0.1:${port}`, syscall: 'connect' });
      assert.equal(runs.native.results[0]!.localPort, null);
    });

    it('connect timeout: a listener whose accept queue is full drops the SYN', async () => {
      const l = await unacceptingListener();
      try {
        const runs = await same('http', options('127.0.0.1', l.port, { connectTimeoutMs: 300 }), 2);
        for (const engine of ENGINES) {
          for (const r of runs[engine].results) {
            assert.deepEqual(r.failure, { code: 'CONNECT_TIMEOUT', phase: 'connect', message: 'no connection within 300 ms' });
            assert.ok(r.endedAt - r.startedAt >= 299, `${engine}: timed out after ${r.endedAt - r.startedAt} ms`);
          }
        }
      } finally {
        await l.close();
      }
    });

    it('a connect completed by a retransmitted SYN (after epoll reports it) succeeds', async () => {
      for (const engine of ENGINES) {
        const l = await unacceptingListener();
        try {
          const pending = exchanges(engine, 'http', options('127.0.0.1', l.port, { connectTimeoutMs: 5000 }), 1);
          await new Promise((r) => setTimeout(r, 300));
          l.serve();
          const { results, connects } = await pending;
          const r = results[0]!;
          assertSaneTimes(r, engine);
          assert.equal(r.failure, null, `${engine}: ${JSON.stringify(r)}`);
          assert.equal(connects.length, 1);
          // The first SYN was dropped: the handshake is the retransmission's, 1 s later.
          assert.ok(r.connectMs !== null && r.connectMs > 500, `${engine}: connected after ${r.connectMs} ms`);
        } finally {
          await l.close();
        }
      }
    });

    it('ECONNREFUSED for a retransmitted SYN (an asynchronous connect error)', async () => {
      for (const engine of ENGINES) {
        const l = await unacceptingListener();
        const pending = exchanges(engine, 'http', options('127.0.0.1', l.port, { connectTimeoutMs: 5000 }), 1);
        await new Promise((r) => setTimeout(r, 300));
        await l.close();
        const r = (await pending).results[0]!;
        assertSaneTimes(r, engine);
        assert.deepEqual(r.failure, { code: 'ECONNREFUSED', phase: 'connect', message: `connect ECONNREFUSED 127.0.0.1:${l.port}`, syscall: 'connect' }, engine);
        assert.equal(r.localPort, null, engine);
        assert.ok(r.endedAt - r.startedAt > 500, `${engine}: refused when the SYN was retransmitted`);
      }
    });

    it('request timeout: connected, then nothing', async () => {
      const silent = keep(await silentServer());
      const runs = await same('http', options('127.0.0.1', silent.port, { requestTimeoutMs: 300 }), 2);
      assert.deepEqual(runs.native.results[0]!.failure, { code: 'REQUEST_TIMEOUT', phase: 'response', message: 'no complete response within 300 ms' });
    });

    it('premature close: part of a response, then the FIN', async () => {
      const cut = keep(await scriptedServer(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'), { end: true }));
      const runs = await same('http', options('127.0.0.1', cut.port), 3);
      assert.deepEqual(runs.native.results[0]!.failure, {
        code: 'PREMATURE_CLOSE',
        phase: 'response',
        message: 'the target closed the connection before a complete response',
      });
      const tcpCut = keep(await tcpReplyServer(Buffer.from('PO'), true));
      await same('tcp', options('127.0.0.1', tcpCut.port), 3);
    });

    it('premature close: the FIN before any byte of the response', async () => {
      const hangup = keep(
        await rawServer((s) => {
          s.once('data', () => s.end());
        }),
      );
      await same('http', options('127.0.0.1', hangup.port), 3);
    });

    it('HTTP 5xx and 4xx are failures of the response phase', async () => {
      const busy = keep(
        await httpServer((req, res) => {
          res.statusCode = req.url === '/missing' ? 404 : 503;
          res.end('no');
        }),
      );
      const r5 = await same('http', options('127.0.0.1', busy.port), 2);
      assert.deepEqual(r5.native.results[0]!.failure, { code: 'HTTP_5XX', phase: 'response', message: 'response HTTP_5XX' });
      const r4 = await same('http', options('127.0.0.1', busy.port, { http: { method: 'GET', path: '/missing', headers: {}, body: '', authority: 'x' } }), 2);
      assert.deepEqual(r4.native.results[0]!.failure, { code: 'HTTP_4XX', phase: 'response', message: 'response HTTP_4XX' });
    });

    it('a malformed status line is PROTOCOL', async () => {
      const bad = keep(await scriptedServer(Buffer.from('HTTP/2 200 OK\r\n\r\n')));
      const runs = await same('http', options('127.0.0.1', bad.port), 2);
      assert.equal(runs.native.results[0]!.failure?.code, 'PROTOCOL');
    });

    it('a reset after the request: ECONNRESET', async () => {
      const rst = keep(await rawServer((s) => s.once('data', () => s.resetAndDestroy())));
      const runs = await same('http', options('127.0.0.1', rst.port), 3);
      assert.equal(runs.native.results[0]!.failure?.code, 'ECONNRESET');
    });
  });

  describe('native transport vs node:net: close()', () => {
    it('close(true) aborts in-flight exchanges with ABORTED in their phase', async () => {
      const silent = keep(await silentServer());
      const outcomes: Record<string, unknown>[][] = [];
      for (const engine of ENGINES) {
        const t = transport(engine, 'http', options('127.0.0.1', silent.port));
        const pending = Array.from({ length: 5 }, () => t.exchange());
        // Until the server holds all five and the requests are out.
        for (let i = 0; i < 200 && silent.stats().open < 5; i++) await new Promise((r) => setTimeout(r, 10));
        await new Promise((r) => setTimeout(r, 50));
        await t.close(true);
        let settled = 0;
        pending.forEach((p) => void p.then(() => settled++));
        await new Promise((r) => setImmediate(r));
        assert.equal(settled, 5, `${engine}: every exchange has its outcome once close(true) resolves`);
        const results = await Promise.all(pending);
        results.forEach((r) => assertSaneTimes(r, engine));
        assert.ok(results.every((r) => r.failure?.code === 'ABORTED' && r.failure.phase === 'response'), `${engine}: ${JSON.stringify(results)}`);
        outcomes.push(results.map(outcome));
        for (let i = 0; i < 200 && silent.stats().open > 0; i++) await new Promise((r) => setTimeout(r, 10));
        assert.equal(silent.stats().open, 0, `${engine}: every connection closed`);
      }
      assert.deepEqual(outcomes[1], outcomes[0]);
    });

    it('close(false) waits for close: server connections to see the FIN (bounded by the request timeout)', async () => {
      // Answers and keeps the connection open: the wait for the FIN ends at requestTimeoutMs.
      const keepOpen = keep(await rawServer((s) => s.on('data', () => s.write(http200()))));
      for (const engine of ENGINES) {
        const t = transport(engine, 'http', options('127.0.0.1', keepOpen.port, { close: 'server', requestTimeoutMs: 300 }));
        const r = await t.exchange();
        assert.equal(r.failure, null, engine);
        assert.equal(keepOpen.stats().open, 1, `${engine}: still waiting for the target's FIN`);
        await t.close(false);
        for (let i = 0; i < 100 && keepOpen.stats().open > 0; i++) await new Promise((r) => setTimeout(r, 10));
        assert.equal(keepOpen.stats().open, 0, `${engine}: closed after the wait`);
      }
    });

    it('overlapping close() calls (the cap abort during a graceful stop) end together, without touching a stopped engine', async () => {
      // Answers and keeps the connection open, so the first close waits for the FIN while the
      // second, forced one comes in: before, the slower call used the handle after stop().
      const keepOpen = keep(await rawServer((s) => s.on('data', () => s.write(http200()))));
      for (const engine of ENGINES) {
        const t = transport(engine, 'http', options('127.0.0.1', keepOpen.port, { close: 'server', requestTimeoutMs: 2000 }));
        assert.equal((await t.exchange()).failure, null, engine);
        const graceful = t.close(false);
        const forced = t.close(true);
        await Promise.all([graceful, forced, t.close(false)]);
        assert.equal((await t.exchange()).failure, null, `${engine}: usable again after the overlapping closes`);
        await t.close(true);
      }
    });

    it('the transport works again after close()', async () => {
      const ok = keep(await httpServer((_req, res) => res.end('ok')));
      const t = transport('native', 'http', options('127.0.0.1', ok.port));
      assert.equal((await t.exchange()).failure, null);
      await t.close(false);
      assert.equal((await t.exchange()).failure, null);
      await t.close(false);
    });
  });

  describe('native transport vs node:net: in a network namespace', () => {
    const self = fileURLToPath(import.meta.url);
    const N = 60;

    it('close policies leave TIME_WAIT where they should, on both engines', () => {
      const counts = runInNetns<PolicyCount[]>(self, ['--native-probe', JSON.stringify({ kind: 'policies', n: N })], ['echo 0 > /proc/sys/net/ipv4/tcp_tw_reuse']);
      assert.equal(counts.length, 12);
      // A late ACK can end a TIME_WAIT early: counts are asserted within 5 %.
      const most = Math.floor(N * 0.95);
      const few = Math.ceil(N * 0.05);
      for (const c of counts) {
        const info = JSON.stringify(c);
        assert.equal(c.completed, N, info);
        if (c.close === 'client') assert.ok(c.client >= most && c.server <= few, `TIME_WAIT on the client: ${info}`);
        if (c.close === 'server') assert.ok(c.server >= most && c.client <= few, `TIME_WAIT on the server: ${info}`);
        if (c.close === 'reset') assert.ok(c.client + c.server <= few, `no TIME_WAIT: ${info}`);
      }
    });

    for (const localAddresses of [[], ['127.0.0.2']]) {
      const what = localAddresses.length ? 'from 127.0.0.2' : 'from any address';
      const expect = localAddresses.length
        ? 'the same 10 ports; node:net runs out in its implicit bind (EADDRINUSE), the native engine in connect() (EADDRNOTAVAIL)'
        : 'the same failures, codes, syscalls and messages on both engines';
      it(`ports run out (${what}): ${expect}`, () => {
        // 10 ports, TIME_WAIT reuse off, in this namespace only.
        const setup = ['echo "40000 40009" > /proc/sys/net/ipv4/ip_local_port_range', 'echo 0 > /proc/sys/net/ipv4/tcp_tw_reuse'];
        const runs = {} as Record<Engine, Record<string, unknown>[]>;
        for (const engine of ENGINES) {
          runs[engine] = runInNetns<Record<string, unknown>[]>(self, ['--native-probe', JSON.stringify({ kind: 'exhaust', engine, n: 25, localAddresses })], setup);
        }
        for (const engine of ENGINES) {
          const ok = runs[engine].filter((r) => r.code === null);
          assert.equal(ok.length, 10, `${engine}: ${JSON.stringify(runs[engine])}`);
          assert.ok(ok.every((r) => (r.port as number) >= 40000 && (r.port as number) <= 40009), engine);
        }
        const failures = (e: Engine): Record<string, unknown>[] => runs[e].filter((r) => r.code !== null).map(({ port: _port, ...r }) => r);
        const first = (e: Engine): Record<string, unknown> => {
          const f = failures(e)[0]!;
          return { code: f.code, phase: f.phase, syscall: f.syscall, message: f.message };
        };
        if (localAddresses.length === 0) {
          assert.deepEqual(failures('native'), failures('js'));
          assert.deepEqual(first('native'), {
            code: 'EADDRNOTAVAIL',
            phase: 'connect',
            syscall: 'connect',
            message: 'connect EADDRNOTAVAIL 127.0.0.1:9000 - Local (0.0.0.0:0)',
          });
        } else {
          // One destination: a port per source (bind() picks it, node:net) and a port per source and
          // destination (connect() picks it, IP_BIND_ADDRESS_NO_PORT) are the same 10 ports, but they
          // run out in different calls: the implicit bind of a bound socket (EADDRINUSE, which Node
          // reports from connect) against connect()'s own search (EADDRNOTAVAIL).
          for (const engine of ENGINES) assert.equal(new Set(failures(engine).map((f) => `${f.syscall}:${f.code}`)).size, 1, engine);
          assert.deepEqual(
            { code: first('js').code, phase: first('js').phase, syscall: first('js').syscall },
            { code: 'EADDRINUSE', phase: 'connect', syscall: 'connect' },
          );
          assert.deepEqual(
            { code: first('native').code, phase: first('native').phase, syscall: first('native').syscall },
            { code: 'EADDRNOTAVAIL', phase: 'connect', syscall: 'connect' },
          );
          assert.equal(failures('native').length, failures('js').length);
        }
      });
    }
  });
}
