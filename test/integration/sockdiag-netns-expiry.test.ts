/**
 * The TIME_WAIT time left the scanner reports (sock_diag's idiag_expires, /proc/net/tcp's timer
 * field) agrees with `ss -o` within 1 s, against the kernel in a private network namespace: two
 * batches of TIME_WAIT sockets made 2 s apart, read 3 s after the second.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nativeSkipped } from '../../src/native-skip.js';
import { fixture, runInNetns } from '../helpers/netns.js';

interface Probe {
  sockdiag: number[] | null;
  sockdiagReason: string | null;
  proc: number[] | null;
  ss: number[];
}

const PER_BATCH = 100;

const sorted = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b);
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Same sockets, seconds left: the i-th shortest of each list within 1 s (ss truncates to whole seconds). */
function agrees(mine: readonly number[], ss: readonly number[], what: string): void {
  // A late RST may take a socket away between two reads (DOMAIN.md): never exact counts.
  assert.ok(Math.abs(mine.length - ss.length) <= 2, `${what}: ${mine.length} sockets, ss ${ss.length}`);
  const a = sorted(mine);
  const b = sorted(ss);
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) assert.ok(a[i]! - b[i]! > -1 && a[i]! - b[i]! < 1 + 0.5, `${what}: socket ${i}: ${a[i]} s vs ss ${b[i]} s`);
  assert.ok(Math.abs(mean(a) - (mean(b) + 0.5)) < 1, `${what}: mean ${mean(a)} vs ss ${mean(b)}`);
}

describe('TIME_WAIT time left against ss -o (network namespace)', () => {
  const p = runInNetns<Probe>(fixture('tw-expiry-probe.js'), [JSON.stringify({ perBatch: PER_BATCH, batchGapMs: 2000, waitMs: 3000 })], ['echo 0 > /proc/sys/net/ipv4/tcp_tw_reuse']);

  it('ss sees both batches: about 55 s and 57 s left', () => {
    assert.ok(p.ss.length >= 2 * PER_BATCH - 2, `ss: ${p.ss.length}`);
    const s = sorted(p.ss);
    // 60 s less the 3 s wait (second batch), less the 2 s gap and the batch time (first batch).
    assert.ok(s.at(-1)! >= 55 && s.at(-1)! <= 57, `longest ${s.at(-1)}`);
    assert.ok(s[0]! >= 52 && s[0]! <= 55, `shortest ${s[0]}`);
  });

  it('/proc/net/tcp (USER_HZ ticks) agrees within 1 s', () => {
    assert.ok(p.proc, 'the /proc scan found the destination');
    agrees(p.proc, p.ss, '/proc');
  });

  it(nativeSkipped() ? 'sock_diag: skipped by PORTSTORM_SKIP_NATIVE, so no native source' : 'sock_diag (idiag_expires, ms) agrees within 1 s', () => {
    if (nativeSkipped()) {
      assert.equal(p.sockdiag, null);
      return;
    }
    assert.ok(p.sockdiag, `no sock_diag scan: ${p.sockdiagReason}`);
    agrees(p.sockdiag, p.ss, 'sock_diag');
  });
});
