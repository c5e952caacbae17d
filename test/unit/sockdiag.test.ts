/**
 * The native socket reader (native/sockdiag) and its wrapper. The addon must be present after
 * `npm install` (prebuilt or compiled), so its absence fails these tests; with PORTSTORM_SKIP_NATIVE
 * set (src/native-skip.ts) they assert the fallback instead. They never skip.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  RECORD_BYTES,
  TCP_STATE,
  addressAt,
  decodeRows,
  destinationKey,
  forEachRow,
  loadSockDiag,
  statesMask,
  type DestinationCache,
  type SocketRow,
} from '../../src/monitor/sockdiag.js';
import { nativeSkipReason, nativeSkipped } from '../../src/native-skip.js';

/** A hand-built record. */
function record(family: 4 | 6, state: number, local: number[], lport: number, remote: number[], rport: number, leftMs = 0): Buffer {
  const b = Buffer.alloc(RECORD_BYTES);
  b[0] = family;
  b[1] = state;
  b.writeUInt16BE(leftMs, 2);
  b.writeUInt16BE(lport, 4);
  b.writeUInt16BE(rport, 6);
  Buffer.from(local).copy(b, 8);
  Buffer.from(remote).copy(b, 24);
  return b;
}

const V6_LOOPBACK = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const mapped = (a: number, b: number, c: number, d: number): number[] => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d];

describe('sockdiag decoding', () => {
  const buf = Buffer.concat([
    record(4, TCP_STATE.ESTABLISHED, [127, 0, 0, 1], 40000, [10, 1, 2, 3], 8080),
    record(6, TCP_STATE.LISTEN, V6_LOOPBACK, 443, new Array(16).fill(0), 0),
    record(6, TCP_STATE.TIME_WAIT, mapped(192, 168, 0, 1), 65535, mapped(1, 2, 3, 4), 80, 59_123),
    record(6, TCP_STATE.CLOSE_WAIT, [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 1, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1], 2),
  ]);

  it('decodeRows round-trips IPv4, IPv6 and v4-mapped records', () => {
    const expected: SocketRow[] = [
      { family: 4, state: 1, localAddress: '127.0.0.1', localPort: 40000, remoteAddress: '10.1.2.3', remotePort: 8080, timeWaitLeftMs: null },
      { family: 6, state: 10, localAddress: '::1', localPort: 443, remoteAddress: '::', remotePort: 0, timeWaitLeftMs: null },
      { family: 6, state: 6, localAddress: '::ffff:192.168.0.1', localPort: 65535, remoteAddress: '::ffff:1.2.3.4', remotePort: 80, timeWaitLeftMs: 59_123 },
      { family: 6, state: 8, localAddress: 'fe80::1', localPort: 1, remoteAddress: '2001:db8::1:0:0:1', remotePort: 2, timeWaitLeftMs: null },
    ];
    assert.deepEqual(decodeRows(buf), expected);
    // Same text as Node's own formatting of those addresses.
    const canonical = (a: string): string => new net.SocketAddress({ address: a, family: 'ipv6' }).address;
    for (const r of expected.filter((x) => x.family === 6)) {
      assert.equal(r.localAddress, canonical(r.localAddress));
      assert.equal(r.remoteAddress, canonical(r.remoteAddress));
    }
  });

  it('forEachRow and addressAt agree with decodeRows; a trailing partial record is ignored', () => {
    const seen: [number, number, number, number, number, string, string][] = [];
    forEachRow(Buffer.concat([buf, Buffer.alloc(7)]), (state, family, lp, rp, o) =>
      seen.push([state, family, lp, rp, o, addressAt(buf, o, 'local'), addressAt(buf, o, 'remote')]),
    );
    assert.deepEqual(
      seen,
      decodeRows(buf).map((r, i) => [r.state, r.family, r.localPort, r.remotePort, i * RECORD_BYTES, r.localAddress, r.remoteAddress]),
    );
  });

  it('destinationKey formats ip:port once per destination', () => {
    const cache: DestinationCache = new Map();
    assert.equal(destinationKey(buf, 0, cache), '10.1.2.3:8080');
    assert.equal(destinationKey(buf, 2 * RECORD_BYTES, cache), '[::ffff:1.2.3.4]:80');
    assert.equal(destinationKey(buf, 3 * RECORD_BYTES, cache), '[2001:db8::1:0:0:1]:2');
    assert.equal(cache.size, 2);
    const again = destinationKey(buf, 0, cache);
    assert.equal(again, '10.1.2.3:8080');
    assert.equal(cache.size, 2);
    // An IPv4 and a v4-mapped destination with the same address and port stay distinct.
    const twin = Buffer.concat([record(4, 6, [1, 2, 3, 4], 1, [1, 2, 3, 4], 80), record(6, 6, mapped(1, 2, 3, 4), 1, mapped(1, 2, 3, 4), 80)]);
    assert.deepEqual([destinationKey(twin, 0, cache), destinationKey(twin, RECORD_BYTES, cache)], ['1.2.3.4:80', '[::ffff:1.2.3.4]:80']);
  });

  it('statesMask sets one bit per state', () => {
    assert.equal(statesMask(TCP_STATE.TIME_WAIT), 0x40);
    assert.equal(statesMask(TCP_STATE.ESTABLISHED, TCP_STATE.LISTEN), 0x402);
  });
});

describe('sockdiag addon', () => {
  const diag = loadSockDiag();

  if (nativeSkipped()) {
    it(`with ${nativeSkipReason()} loadSockDiag reports the fallback`, () => {
      assert.deepEqual(diag, { available: false, reason: nativeSkipReason() });
    });
    return;
  }

  it('is there and loads (prebuilt in the package, or compiled by npm install)', () => {
    assert.ok(diag.available, `addon unavailable: ${diag.available ? '' : diag.reason}`);
  });

  describe('against live sockets', () => {
    const servers: net.Server[] = [];
    const clients: net.Socket[] = [];
    const ports: Record<4 | 6, number> = { 4: 0, 6: 0 };
    const clientPorts: Record<4 | 6, number[]> = { 4: [], 6: [] };

    before(async () => {
      for (const [family, host] of [[4, '127.0.0.1'], [6, '::1']] as const) {
        const server = net.createServer();
        let accepted = 0;
        const allAccepted = new Promise<void>((resolve) =>
          server.on('connection', (s) => {
            clients.push(s);
            if (++accepted === 3) resolve();
          }),
        );
        await new Promise<void>((resolve) => server.listen(0, host, resolve));
        servers.push(server);
        ports[family] = (server.address() as AddressInfo).port;
        for (let i = 0; i < 3; i++) {
          const c = net.connect(ports[family], host);
          clients.push(c);
          await new Promise<void>((resolve, reject) => c.once('connect', resolve).once('error', reject));
          clientPorts[family].push(c.localPort!);
        }
        await allAccepted;
      }
    });

    after(async () => {
      for (const c of clients) c.destroy();
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    });

    for (const [family, host] of [[4, '127.0.0.1'], [6, '::1']] as const) {
      it(`dump(${family}) lists the LISTEN socket and both ends of each connection`, () => {
        assert.ok(diag.available);
        const rows = decodeRows(diag.dump(family));
        assert.ok(rows.every((r) => r.family === family));
        const port = ports[family];
        const listen = rows.filter((r) => r.state === TCP_STATE.LISTEN && r.localPort === port);
        assert.deepEqual(listen, [{ family, state: 10, localAddress: host, localPort: port, remoteAddress: family === 4 ? '0.0.0.0' : '::', remotePort: 0, timeWaitLeftMs: null }]);
        for (const cp of clientPorts[family]) {
          const has = (r: Partial<SocketRow>): boolean =>
            rows.some((x) => x.state === TCP_STATE.ESTABLISHED && x.localAddress === host && x.remoteAddress === host && x.localPort === r.localPort && x.remotePort === r.remotePort);
          assert.ok(has({ localPort: cp, remotePort: port }), `client end ${cp} -> ${port}`);
          assert.ok(has({ localPort: port, remotePort: cp }), `server end ${port} -> ${cp}`);
        }
      });
    }

    it('statesMask filters in the kernel', () => {
      assert.ok(diag.available);
      const rows = decodeRows(diag.dump(4, statesMask(TCP_STATE.LISTEN)));
      assert.ok(rows.length >= 1);
      assert.ok(rows.every((r) => r.state === TCP_STATE.LISTEN));
      assert.ok(rows.some((r) => r.localPort === ports[4]));
    });

    it('a bad family throws an Error with a code', () => {
      assert.ok(diag.available);
      const dump = diag.dump as (family: number, mask?: number) => Buffer;
      assert.throws(() => dump(5), (e: NodeJS.ErrnoException) => e instanceof Error && typeof e.code === 'string' && /family/.test(e.message));
      assert.throws(() => dump(4, 'x' as unknown as number), (e: NodeJS.ErrnoException) => e instanceof Error && typeof e.code === 'string');
    });
  });

  it('a failing system call throws with its errno name (EMFILE when no fd is left)', () => {
    const wrapper = fileURLToPath(new URL('../../src/monitor/sockdiag.js', import.meta.url));
    const script = `
      import { openSync } from 'node:fs';
      import { loadSockDiag } from ${JSON.stringify(wrapper)};
      const d = loadSockDiag();
      if (!d.available) throw new Error(d.reason);
      for (let i = 0; i < 200; i++) { try { openSync('/dev/null', 'r'); } catch { break; } }
      try { d.dump(4); console.log('{}'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
    const r = spawnSync('sh', ['-c', 'ulimit -n 100 && exec "$0" --input-type=module -e "$1"', process.execPath, script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { code?: string; message?: string };
    assert.equal(out.code, 'EMFILE', r.stdout);
    assert.match(out.message!, /socket\(AF_NETLINK/);
  });

  it('PORTSTORM_SKIP_NATIVE=1 makes loadSockDiag report the fallback', () => {
    const wrapper = fileURLToPath(new URL('../../src/monitor/sockdiag.js', import.meta.url));
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { loadSockDiag } from ${JSON.stringify(wrapper)}; console.log(JSON.stringify(loadSockDiag()));`], {
      encoding: 'utf8',
      env: { ...process.env, PORTSTORM_SKIP_NATIVE: '1' },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { available: false, reason: 'disabled by PORTSTORM_SKIP_NATIVE=1' });
  });
});
