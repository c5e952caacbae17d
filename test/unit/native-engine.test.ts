/**
 * The native connection engine (native/connengine) and its selection. The addon must be present
 * after `npm install` (prebuilt, or compiled in `npm ci`): its absence fails these tests, it is not skipped.
 *
 * Its C framing must decide exactly what readers.ts decides: the whole of test/unit/readers.test.ts
 * runs again with readers.js swapped for the native framing (a module resolve hook), and a property
 * test feeds both the same generated responses split at random points.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { loadNativeEngine, monotonicOriginNs, nativeByteCountReader, nativeHttpResponseReader, type ConnEngineAddon } from '../../src/load/transport/native-engine.js';
import { byteCountReader, httpResponseReader, type ReadState, type ResponseReader } from '../../src/load/transport/readers.js';
import { connectionEngine, ENGINE_ENV } from '../../src/load/transport/index.js';
import { nativeSkipReason, nativeSkipped } from '../../src/native-skip.js';

const BUILD = (p: string): string => fileURLToPath(new URL(`../../${p}`, import.meta.url));

function addon(): ConnEngineAddon {
  const n = loadNativeEngine();
  if (!n.available) throw new Error(`the native connection engine must be built (npm rebuild): ${n.reason}`);
  return n.addon;
}

describe('native engine: the addon', () => {
  it(nativeSkipped() ? `with ${nativeSkipReason()} the loader reports the fallback` : 'is there and loads (prebuilt in the package, or compiled by npm install)', () => {
    const n = loadNativeEngine();
    if (nativeSkipped()) {
      // The other addon tests then fail, saying why (they test the addon itself).
      assert.deepEqual(n, { available: false, reason: nativeSkipReason() });
      return;
    }
    assert.ok(n.available, n.available ? '' : n.reason);
    assert.equal(n.addon.version, 4);
    assert.equal(n.addon.recordBytes, 128);
  });

  it("names errors as Node does (libuv's uv_err_name)", () => {
    const a = addon();
    assert.equal(a.errname(111), 'ECONNREFUSED');
    assert.equal(a.errname(99), 'EADDRNOTAVAIL');
    assert.equal(a.errname(98), 'EADDRINUSE');
    assert.equal(a.errname(24), 'EMFILE');
    assert.equal(a.errname(105), 'ENOBUFS');
    assert.equal(a.errname(104), 'ECONNRESET');
  });

  it('the monotonic origin converts CLOCK_MONOTONIC readings to performance.now()', () => {
    const origin = monotonicOriginNs();
    for (let i = 0; i < 5; i++) {
      const before = performance.now();
      const mono = process.hrtime.bigint();
      const after = performance.now();
      const asPerf = Number(mono - origin) / 1e6;
      assert.ok(asPerf >= before - 0.01 && asPerf <= after + 0.01, `${before} <= ${asPerf} <= ${after}`);
    }
  });
});

describe('native engine: framing = readers.ts', () => {
  it('passes test/unit/readers.test.ts with readers.js swapped for the native framing', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-native-readers-'));
    const shim = path.join(dir, 'native-readers.mjs');
    writeFileSync(
      shim,
      [
        `import { loadNativeEngine, nativeByteCountReader, nativeHttpResponseReader } from ${JSON.stringify(pathToFileURL(BUILD('src/load/transport/native-engine.js')).href)};`,
        'const n = loadNativeEngine();',
        'if (!n.available) throw new Error(n.reason);',
        "process.stderr.write('native framing in use\\n');",
        'export const httpResponseReader = (isHead) => nativeHttpResponseReader(n.addon, isHead);',
        'export const byteCountReader = (expected) => nativeByteCountReader(n.addon, expected);',
        '',
      ].join('\n'),
    );
    const hooks = path.join(dir, 'hooks.mjs');
    writeFileSync(
      hooks,
      [
        'export async function resolve(specifier, context, next) {',
        '  const r = await next(specifier, context);',
        "  if (r.url.endsWith('/src/load/transport/readers.js') && context.parentURL?.endsWith('/test/unit/readers.test.js')) {",
        `    return { url: ${JSON.stringify(pathToFileURL(shim).href)}, shortCircuit: true };`,
        '  }',
        '  return r;',
        '}',
        '',
      ].join('\n'),
    );
    const register = path.join(dir, 'register.mjs');
    writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
    // Under `node --test`, NODE_TEST_CONTEXT would make the child report to this runner instead.
    const { NODE_TEST_CONTEXT: _ctx, ...env } = process.env;
    const run = (extra: string[]) =>
      spawnSync(process.execPath, [...extra, '--test-reporter=tap', BUILD('test/unit/readers.test.js')], { encoding: 'utf8', timeout: 120_000, env });
    const plain = run([]);
    const native = run(['--import', pathToFileURL(register).href]);
    const count = (out: string, what: string): number => Number(new RegExp(`^# ${what} (\\d+)$`, 'm').exec(out)?.[1] ?? NaN);
    assert.match(native.stderr, /native framing in use/);
    assert.equal(native.status, 0, native.stdout.split('\n').filter((l) => /not ok|expected|actual|[+-] /.test(l)).slice(0, 40).join('\n'));
    assert.equal(count(native.stdout, 'fail'), 0);
    assert.ok(count(plain.stdout, 'pass') > 30);
    assert.equal(count(native.stdout, 'pass'), count(plain.stdout, 'pass'), 'the same tests ran');
  });

  /** Feeds `pieces` to both readers until one is done; their states must agree at every step. */
  function agree(js: ResponseReader, native: ResponseReader, pieces: Buffer[], end: boolean): void {
    let state: ReadState = { done: false };
    for (const [i, p] of pieces.entries()) {
      state = js.feed(p);
      assert.deepEqual(native.feed(p), state, `piece ${i} of ${pieces.length}`);
      if (state.done) return;
    }
    if (end) assert.deepEqual(native.end(), js.end(), 'end()');
  }

  const split = (bytes: Buffer, cuts: number[]): Buffer[] => {
    const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
    const out: Buffer[] = [];
    let from = 0;
    for (const c of [...at, bytes.length]) {
      out.push(bytes.subarray(from, c));
      from = c;
    }
    return out;
  };

  const ws = fc.constantFrom('', ' ', '  ', '\t', '\xa0', '\x0b');
  const statusLine = fc.oneof(
    fc.tuple(fc.constantFrom('1.1', '1.0'), fc.constantFrom(100, 101, 103, 200, 204, 302, 304, 404, 500, 503), fc.constantFrom(' OK', '', ' X y')).map(
      ([v, s, r]) => `HTTP/${v} ${s}${r}`,
    ),
    fc.constantFrom('HTTP/2 200 OK', 'HTTP/1.1 OK', 'garbage', '', 'HTTP/1.1 20', 'HTTP/1.1 2000 Big', 'http/1.1 200 OK', ' HTTP/1.1 200 OK'),
  );
  const header = fc.oneof(
    fc.tuple(ws, fc.constantFrom('Content-Length', 'content-length', 'CONTENT-LENGTH'), ws, fc.constantFrom('0', '2', '5', '12', '007', '-1', 'abc', '1.5', '', '3 4', '99999999999999999999999')).map(
      ([a, n, b, v]) => `${a}${n}:${b}${v}${a}`,
    ),
    fc.tuple(fc.constantFrom('Transfer-Encoding', 'transfer-encoding'), ws, fc.constantFrom('chunked', 'CHUNKED', 'gzip, chunked', 'chunked, gzip', 'gzip', ' chunked ,x', 'xchunked')).map(
      ([n, b, v]) => `${n}:${b}${v}`,
    ),
    fc.tuple(fc.constantFrom('Connection', 'CONNECTION'), fc.constantFrom('close', 'keep-alive', 'Keep-Alive', 'close, keep-alive', 'upgrade', 'CLOSE')).map(([n, v]) => `${n}: ${v}`),
    fc.constantFrom('Server: x', 'X-Empty:', ': no name', 'no colon', 'X-Bare: a\nb', 'Date: Mon, 01 Jan 2024 00:00:00 GMT'),
  );
  const chunkSize = fc.tuple(fc.constantFrom('', ' ', '\t', '\xa0'), fc.constantFrom('', '+', '-', '0x', '0X', '-0x'), fc.nat(40), fc.boolean(), fc.constantFrom('', ';ext=1', ' ; a', 'zz', ' ')).map(
    ([lead, prefix, n, upper, ext]) => {
      const hex = n.toString(16);
      return `${lead}${prefix}${upper ? hex.toUpperCase() : hex}${ext}`;
    },
  );
  const chunkedBody = fc
    .tuple(
      fc.array(fc.tuple(chunkSize, fc.nat(60)), { maxLength: 4 }),
      fc.constantFrom('0\r\n\r\n', '0\r\nX-T: 1\r\n\r\n', '0\n\n', '0\r\n\r', '0\r\n\rx\r\n\r\n', '0;e\r\n\r\n', 'zz\r\n', ''),
    )
    .map(([chunks, last]) => chunks.map(([size, fill]) => `${size}\r\n${'d'.repeat(fill)}\r\n`).join('') + last);
  const body = fc.oneof(fc.string({ maxLength: 40 }), chunkedBody, fc.constant(''));
  const message = fc.tuple(statusLine, fc.array(header, { maxLength: 5 }), fc.constantFrom('\r\n', '\n', '\r\n\r\n'), body).map(([s, h, sep, b]) => [s, ...h].join('\r\n') + '\r\n' + sep + b);
  const response = fc.tuple(fc.array(message, { minLength: 1, maxLength: 3 }), fc.string({ maxLength: 10 })).map(([m, tail]) => Buffer.from(m.join('') + tail, 'latin1'));

  it('agrees with httpResponseReader on generated responses cut anywhere (GET and HEAD)', () => {
    const a = addon();
    fc.assert(
      fc.property(response, fc.array(fc.nat(), { maxLength: 8 }), fc.boolean(), fc.boolean(), (bytes, cuts, isHead, end) => {
        agree(httpResponseReader(isHead), nativeHttpResponseReader(a, isHead), split(bytes, cuts), end);
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees on arbitrary bytes drawn from the grammar alphabet', () => {
    const a = addon();
    const alphabet = fc.constantFrom(...'HTP/1.0 2345\r\n\r\n:;-+xX abcdefABCDEF\t\xa0chunkedlength'.split(''));
    const noise = fc.array(alphabet, { maxLength: 120 }).map((c) => Buffer.from('HTTP/1.1 200 OK\r\n' + c.join(''), 'latin1'));
    fc.assert(
      fc.property(noise, fc.array(fc.nat(), { maxLength: 6 }), fc.boolean(), (bytes, cuts, end) => {
        agree(httpResponseReader(false), nativeHttpResponseReader(a, false), split(bytes, cuts), end);
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees on heads near the 64 KiB limit', () => {
    const a = addon();
    for (const size of [65_530, 65_536, 65_537, 70_000]) {
      const head = Buffer.from('HTTP/1.1 200 OK\r\nX-Pad: ' + 'p'.repeat(size) + '\r\nContent-Length: 1\r\n\r\nz', 'latin1');
      for (const step of [1000, 4096, 65_536, head.length]) {
        const pieces: Buffer[] = [];
        for (let i = 0; i < head.length; i += step) pieces.push(head.subarray(i, i + step));
        agree(httpResponseReader(false), nativeHttpResponseReader(a, false), pieces, true);
      }
    }
  });

  it('agrees with byteCountReader', () => {
    const a = addon();
    fc.assert(
      fc.property(fc.nat(50), fc.array(fc.nat(20), { maxLength: 6 }), fc.boolean(), (expected, sizes, end) => {
        agree(byteCountReader(expected), nativeByteCountReader(a, expected), sizes.map((n) => Buffer.alloc(n)), end);
      }),
      { numRuns: 1000 },
    );
  });
});

/** Runs ES module code in a child node with `env` added; returns its last stdout line as JSON. */
function child<T>(code: string, env: Record<string, string | undefined>): T {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as T;
}

/**
 * In a child: which engine connectionEngine() picks, whether createTransport builds (or throws),
 * whether an exchange with a local server succeeds, and whether a `connengine` thread ran it.
 */
const SELECTION_PROBE = `
import http from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { connectionEngine, createTransport } from ${JSON.stringify(pathToFileURL(BUILD('src/load/transport/index.js')).href)};
const threads = () => readdirSync('/proc/self/task').map((t) => readFileSync('/proc/self/task/' + t + '/comm', 'utf8').trim());
const server = http.createServer((_req, res) => res.end('ok'));
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;
const opts = { host: '127.0.0.1', port, localAddresses: [], close: 'client', poolSize: 1, connectTimeoutMs: 2000, requestTimeoutMs: 2000,
  http: { method: 'GET', path: '/', headers: {}, body: '', authority: '127.0.0.1:' + port }, tcp: { payload: '', expectBytes: 0 }, onConnect: () => {} };
const out = { choice: connectionEngine(false), keepAlive: connectionEngine(true), tcpPooled: connectionEngine(true, undefined, 'tcp').engine };
try {
  for (const reuse of [false, true]) {
    const t = createTransport('http', reuse, opts);
    const r = await t.exchange();
    out[reuse ? 'keepAliveFailure' : 'failure'] = r.failure;
    out[reuse ? 'keepAliveThread' : 'engineThread'] = threads().includes('connengine');
    await t.close(false);
  }
} catch (e) {
  out.thrown = e.message;
}
server.close();
console.log(JSON.stringify(out));
`;

interface Selection {
  choice: { engine: string; reason: string | null };
  keepAlive: { engine: string; reason: string | null };
  tcpPooled: string;
  failure?: unknown;
  engineThread?: boolean;
  keepAliveFailure?: unknown;
  keepAliveThread?: boolean;
  thrown?: string;
}

describe('native engine: selection and fallback', () => {
  it('reuse: false and HTTP keep-alive use the native engine by default; raw TCP reuse stays on node:net', () => {
    const s = child<Selection>(SELECTION_PROBE, { [ENGINE_ENV]: undefined, PORTSTORM_SKIP_NATIVE: undefined });
    assert.deepEqual(s.choice, { engine: 'native', reason: null });
    assert.equal(s.failure, null);
    assert.equal(s.engineThread, true, 'the exchange ran on the engine thread');
    assert.deepEqual(s.keepAlive, { engine: 'native', reason: null });
    assert.equal(s.keepAliveFailure, null);
    assert.equal(s.keepAliveThread, true, 'the kept-alive exchange ran on the engine thread');
    assert.equal(s.tcpPooled, 'js', 'raw TCP with reuse: true keeps tcp-pool.ts');
  });

  it(`${ENGINE_ENV}=js falls back to node:net`, () => {
    const s = child<Selection>(SELECTION_PROBE, { [ENGINE_ENV]: 'js', PORTSTORM_SKIP_NATIVE: undefined });
    assert.deepEqual(s.choice, { engine: 'js', reason: `${ENGINE_ENV}=js` });
    assert.deepEqual(s.keepAlive, { engine: 'js', reason: `${ENGINE_ENV}=js` });
    assert.equal(s.failure, null);
    assert.equal(s.engineThread, false);
    assert.equal(s.keepAliveFailure, null);
    assert.equal(s.keepAliveThread, false, 'keep-alive on undici');
  });

  it('without the addon (PORTSTORM_SKIP_NATIVE=1) createTransport falls back to node:net', () => {
    const s = child<Selection>(SELECTION_PROBE, { [ENGINE_ENV]: undefined, PORTSTORM_SKIP_NATIVE: '1' });
    assert.equal(s.choice.engine, 'js');
    assert.match(s.choice.reason ?? '', /PORTSTORM_SKIP_NATIVE=1/);
    assert.equal(s.keepAlive.engine, 'js');
    assert.equal(s.failure, null);
    assert.equal(s.engineThread, false);
    assert.equal(s.keepAliveFailure, null);
    assert.equal(s.keepAliveThread, false);
  });

  it(`${ENGINE_ENV}=native without the addon: createTransport throws, naming why`, () => {
    const s = child<Selection>(SELECTION_PROBE, { [ENGINE_ENV]: 'native', PORTSTORM_SKIP_NATIVE: '1' });
    assert.match(s.thrown ?? '', /PORTSTORM_ENGINE=native, but native connection engine unavailable: disabled by PORTSTORM_SKIP_NATIVE=1/);
  });

  it('a target that is not an IP address is left to node:net', () => {
    assert.equal(connectionEngine(false, 'localhost').engine, 'js');
    assert.equal(connectionEngine(false, '127.0.0.1').engine, process.env[ENGINE_ENV] === 'js' ? 'js' : 'native');
  });
});
