/**
 * The native engine's IP_BIND_ADDRESS_NO_PORT (issue 14, item 6): create() sets it with
 * localAddresses unless told not to and says whether it is in effect; the transport reports the
 * matching sourceStrategy, and exchanges from a bound source still work. The addon must be built.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { expectedSourceStrategy } from '../../src/load/transport/index.js';
import { loadNativeEngine, type ConnEngineAddon, type EngineCreateOptions } from '../../src/load/transport/native-engine.js';
import { pingOptions } from '../helpers/engine-options.js';
import { nativeOneShotTransport } from '../../src/load/transport/native-oneshot.js';
import type { TransportOptions } from '../../src/load/transport/types.js';

function engineAddon(): ConnEngineAddon {
  const n = loadNativeEngine();
  if (!n.available) throw new Error(`the native connection engine must be built (npm rebuild): ${n.reason}`);
  return n.addon;
}

const options = pingOptions;

describe('native engine: IP_BIND_ADDRESS_NO_PORT', () => {
  let server: net.Server;
  const peers: string[] = [];
  let port = 0;
  before(async () => {
    server = net.createServer((s) => {
      peers.push(s.remoteAddress ?? '');
      s.on('data', () => s.end('pong'));
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('create() says whether the option is set: with localAddresses by default, never without them or when turned off', () => {
    const a = engineAddon();
    const cases: Array<[Partial<EngineCreateOptions>, boolean]> = [
      [{}, false],
      [{ bindNoPort: true }, false],
      [{ localAddresses: ['127.0.0.2'] }, true],
      [{ localAddresses: ['127.0.0.2'], bindNoPort: true }, true],
      [{ localAddresses: ['127.0.0.2'], bindNoPort: false }, false],
    ];
    for (const [extra, expected] of cases) {
      const created = a.create(options(port, extra));
      try {
        // Linux >= 4.2 has it; this suite runs on such kernels only (DOMAIN.md: 6.x).
        assert.equal(created[4], expected, JSON.stringify(extra));
      } finally {
        a.stop(created[0]);
      }
    }
  });

  it('bindNoPort must be a boolean', () => {
    const a = engineAddon();
    for (const bad of ['yes', 1, null]) {
      assert.throws(() => a.create(options(port, { localAddresses: ['127.0.0.2'], bindNoPort: bad as unknown as boolean })), (e: unknown) => e instanceof TypeError && /bindNoPort must be a boolean/.test(e.message));
    }
  });

  it('the transport reports bind-no-port with source addresses, kernel without; bound exchanges come from their source', async () => {
    const a = engineAddon();
    const base: TransportOptions = {
      host: '127.0.0.1',
      port,
      localAddresses: [],
      close: 'client',
      poolSize: 1,
      connectTimeoutMs: 5000,
      requestTimeoutMs: 5000,
      http: { method: 'GET', path: '/', headers: {}, body: '', authority: 'x' },
      tcp: { payload: 'ping', expectBytes: 4 },
      onConnect: () => undefined,
    };
    const reader = { kind: 'bytes', expectBytes: 4 } as const;
    const plain = nativeOneShotTransport(a, base, Buffer.from('ping'), reader);
    assert.equal(plain.sourceStrategy, 'kernel');
    assert.equal((await plain.exchange()).failure, null);
    assert.equal(plain.sourceStrategy, 'kernel');
    await plain.close(false);

    peers.length = 0;
    const bound = nativeOneShotTransport(a, { ...base, localAddresses: ['127.0.0.2', '127.0.0.3'] }, Buffer.from('ping'), reader);
    const results = [await bound.exchange(), await bound.exchange()];
    assert.deepEqual(
      results.map((r) => r.failure),
      [null, null],
    );
    assert.ok(results.every((r) => r.localPort !== null && r.localPort > 0));
    assert.deepEqual(peers, ['127.0.0.2', '127.0.0.3']);
    assert.equal(bound.sourceStrategy, 'bind-no-port');
    await bound.close(false);
  });

  it('fault 16: a socket whose IP_BIND_ADDRESS_NO_PORT fails ends as setsockopt ENOPROTOOPT (connect phase), never with a plain bind()', async () => {
    const a = engineAddon();
    // Records: i32 index 8 type (2: done), 10 code (1: errno), 11 phase (0: connect), 12 errno, 13 syscall (4: setsockopt).
    const rec = await new Promise<number[]>((resolve, reject) => {
      let out: Int32Array;
      const timer = setTimeout(() => reject(new Error('the exchange did not end within 10 s')), 10_000);
      const [h, subAb, outAb] = a.create(
        options(port, {
          localAddresses: ['127.0.0.2'],
          onReady: () => {
            const k = a.take(h);
            for (let i = 0; i < k; i++) {
              if (out[i * 32 + 8] !== 2) continue;
              clearTimeout(timer);
              a.stop(h);
              resolve([10, 11, 12, 13].map((j) => out[i * 32 + j]!));
            }
          },
        }),
      );
      out = new Int32Array(outAb);
      a.fault(h, 16);
      new Int32Array(subAb)[0] = 0;
      assert.equal(a.submit(h, 1), true);
    });
    assert.deepEqual(rec, [1, 0, os.constants.errno.ENOPROTOOPT, 4]);
    assert.equal(a.errname(rec[2]!), 'ENOPROTOOPT');
  });

  it('expectedSourceStrategy: kernel without sources, bind-no-port on the native engine, bind on node:net', () => {
    assert.equal(expectedSourceStrategy({ engine: 'native', reason: null }, []), 'kernel');
    assert.equal(expectedSourceStrategy({ engine: 'js', reason: 'x' }, []), 'kernel');
    assert.equal(expectedSourceStrategy({ engine: 'native', reason: null }, ['10.0.0.1']), 'bind-no-port');
    assert.equal(expectedSourceStrategy({ engine: 'js', reason: 'PORTSTORM_ENGINE=js' }, ['10.0.0.1']), 'bind');
  });
});
