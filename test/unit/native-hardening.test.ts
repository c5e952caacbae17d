/**
 * The native addons' defences (issue 13, item 4): handles are type-tagged externals, so a wrong or
 * stale handle is a TypeError and never a pointer cast; every submitted exchange ends, also when the
 * engine thread cannot allocate its record (the fault() hook makes those allocations fail); both
 * addons name errnos from one table, the one Node uses. Both addons must be built: their absence
 * fails these tests.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import util from 'node:util';
import { loadNativeEngine, type ConnEngineAddon, type EngineCreateOptions, type EngineHandle } from '../../src/load/transport/native-engine.js';
import { pingOptions } from '../helpers/engine-options.js';
import { loadSockDiag } from '../../src/monitor/sockdiag.js';

function engineAddon(): ConnEngineAddon {
  const n = loadNativeEngine();
  if (!n.available) throw new Error(`the native connection engine must be built (npm rebuild): ${n.reason}`);
  return n.addon;
}

function sockDiag(): Extract<ReturnType<typeof loadSockDiag>, { available: true }> {
  const d = loadSockDiag();
  if (!d.available) throw new Error(`the native socket reader must be built and usable (npm rebuild): ${d.reason}`);
  return d;
}

const options = (port: number, onReady: () => void): EngineCreateOptions => pingOptions(port, { onReady });

/** A 127.0.0.1 server answering "pong" to anything, for the suite that calls it; its port once up. */
function pongServer(): { port: number } {
  const at = { port: 0 };
  let server: net.Server;
  before(async () => {
    server = net.createServer((s) => {
      s.on('data', () => s.end('pong'));
      s.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    at.port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return at;
}

const isTypeError = (what: RegExp) => (e: unknown) => e instanceof TypeError && what.test(e.message);

describe('native hardening: wrong and stale handles are TypeErrors', () => {
  // Records: i32 index 8 type (2: done), 10 code, 12 errno (see connengine.c).
  const srv = pongServer();

  const handleCalls = (a: ConnEngineAddon, h: unknown): [string, () => unknown][] => {
    const eh = h as EngineHandle;
    return [
      ['submit', () => a.submit(eh, 0)],
      ['take', () => a.take(eh)],
      ['open', () => a.open(eh)],
      ['abort', () => a.abort(eh)],
      ['cancel', () => a.cancel(eh)],
      ['destroy', () => a.destroy(eh)],
      ['stop', () => a.stop(eh)],
      ['stats', () => a.stats(eh)],
      ['fault', () => a.fault(eh, 0)],
      ['text', () => a.text(eh, 0)],
    ];
  };

  it('connengine: a plain object, a number, null, a Buffer or a framer is not an engine handle', () => {
    const a = engineAddon();
    const framer = a.framer(1, 0);
    for (const bad of [{}, { __brand: 'connengine' }, 42, null, undefined, Buffer.alloc(8), framer]) {
      for (const [name, call] of handleCalls(a, bad)) {
        assert.throws(call, isTypeError(/not an engine handle/), `${name}(${util.inspect(bad)})`);
      }
    }
  });

  it('connengine: an engine handle or a plain object is not a framer', () => {
    const a = engineAddon();
    const [h] = a.create(options(srv.port, () => {}));
    try {
      for (const bad of [h, {}, 7, null]) {
        assert.throws(() => a.feed(bad as never, Buffer.from('HTTP/1.1 200 OK\r\n\r\n')), isTypeError(/feed\(framer, buffer\)/));
        assert.throws(() => a.end(bad as never), isTypeError(/end\(framer\)/));
      }
      // A real framer still works, and feed() wants a Buffer.
      const f = a.framer(0, 3);
      assert.equal(a.feed(f, Buffer.from('abc')) & 1, 1);
      assert.throws(() => a.feed(f, 'abc' as unknown as Buffer), TypeError);
    } finally {
      a.stop(h);
    }
  });

  it('connengine: after stop() the handle is stale: TypeError, except submit() (false) and stop() again', () => {
    const a = engineAddon();
    const [h] = a.create(options(srv.port, () => {}));
    assert.equal(a.open(h), 0);
    assert.equal(a.stats(h).length, 4);
    a.stop(h);
    assert.equal(a.submit(h, 1), false);
    a.stop(h);
    for (const [name, call] of handleCalls(a, h)) {
      if (name === 'submit' || name === 'stop') continue;
      assert.throws(call, isTypeError(/stale/), name);
    }
  });

  it('sockdiag: a handle or any non-number family is a TypeError; a bad number a RangeError', () => {
    const d = sockDiag();
    const a = engineAddon();
    const [h] = a.create(options(srv.port, () => {}));
    const dump = d.dump as (family: unknown, mask?: unknown) => Buffer;
    try {
      for (const bad of [h, a.framer(0, 1), {}, '4', null, undefined]) {
        assert.throws(() => dump(bad), isTypeError(/family must be 4 or 6/), util.inspect(bad));
      }
      assert.throws(() => dump(4, h), isTypeError(/statesMask/));
      assert.throws(() => dump(5), (e: unknown) => e instanceof RangeError && /family/.test(e.message));
      assert.throws(() => d.errname(h as unknown as number), TypeError);
    } finally {
      a.stop(h);
    }
  });
});

describe('native hardening: every exchange ends, also without memory for its record', () => {
  const srv = pongServer();

  /** Runs `n` exchanges with `mask` faults; resolves with how many ended with each "code:errno". */
  function run(a: ConnEngineAddon, mask: number, n: number): Promise<Map<string, number>> {
    return new Promise((resolve, reject) => {
      const ends = new Map<string, number>();
      const seen = new Set<number>();
      let out: Int32Array;
      let handle: EngineHandle;
      let finished = false;
      const finish = (err?: Error): void => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        a.stop(handle);
        if (err) reject(err);
        else resolve(ends);
      };
      const timer = setTimeout(() => finish(new Error(`fault ${mask}: only ${seen.size} of ${n} exchanges ended within 15 s (hung)`)), 15_000);
      const [h, subAb, outAb] = a.create(
        options(srv.port, () => {
          for (;;) {
            const k = a.take(handle);
            for (let i = 0; i < k; i++) {
              if (out[i * 32 + 8] !== 2) continue;
              const slot = out[i * 32 + 9]!;
              if (seen.has(slot)) return finish(new Error(`slot ${slot} ended twice`));
              seen.add(slot);
              const key = `${out[i * 32 + 10]}:${out[i * 32 + 12]}`;
              ends.set(key, (ends.get(key) ?? 0) + 1);
            }
            if (k < a.recordCapacity) break;
          }
          if (seen.size === n) finish();
        }),
      );
      handle = h;
      out = new Int32Array(outAb);
      a.fault(h, mask);
      const sub = new Int32Array(subAb);
      let next = 0;
      const submitSome = (): void => {
        if (finished) return;
        const k = Math.min(n - next, 250);
        for (let i = 0; i < k; i++) sub[i] = next++;
        assert.equal(a.submit(h, k), true);
        if (next < n) setTimeout(submitSome, 2);
      };
      submitSome();
    });
  }

  it('without faults: every exchange succeeds (the harness itself)', async () => {
    const ends = await run(engineAddon(), 0, 600);
    assert.deepEqual([...ends], [['0:0', 600]]);
  });

  const ENOMEM = os.constants.errno.ENOMEM;
  for (const [mask, what] of [
    [1, 'no record can be allocated'],
    [2, 'the queue to JS cannot grow'],
    [4, 'no connection can be allocated'],
    [7, 'nothing can be allocated'],
  ] as const) {
    it(`fault ${mask} (${what}): every exchange still ends, as ENOMEM`, async () => {
      const ends = await run(engineAddon(), mask, 600);
      assert.deepEqual([...ends], [[`1:${ENOMEM}`, 600]]);
    });
  }

  it('fault 8: submit() throws ENOMEM synchronously (nothing is taken, nothing is left waiting)', () => {
    const a = engineAddon();
    const [h, subAb] = a.create(options(srv.port, () => {}));
    try {
      a.fault(h, 8);
      new Int32Array(subAb)[0] = 0;
      assert.throws(() => a.submit(h, 1), (e: NodeJS.ErrnoException) => e instanceof Error && e.code === 'ENOMEM');
      assert.deepEqual(a.stats(h)[3], 0, 'no exchange started');
    } finally {
      a.stop(h);
    }
  });

  it('clearing the fault: the same engine works again', async () => {
    const a = engineAddon();
    const ends = await run(a, 1, 50);
    assert.equal(ends.get(`1:${ENOMEM}`), 50);
    assert.deepEqual([...(await run(a, 0, 50))], [['0:0', 50]]);
  });
});

describe('native hardening: one errno-name table for both addons', () => {
  it('sockdiag and connengine name every errno alike, as Node does (util.getSystemErrorName)', () => {
    const d = sockDiag();
    const a = engineAddon();
    const differ: string[] = [];
    for (let e = 1; e < 256; e++) {
      const node = util.getSystemErrorName(-e);
      const s = d.errname(e);
      const c = a.errname(e);
      if (s !== node || c !== node) differ.push(`${e}: sockdiag ${s}, connengine ${c}, node ${node}`);
    }
    assert.deepEqual(differ, []);
    // Names the old sockdiag table gave differently from Node: EOPNOTSUPP is Node's ENOTSUP.
    assert.equal(d.errname(95), 'ENOTSUP');
    assert.equal(d.errname(111), 'ECONNREFUSED');
  });
});
