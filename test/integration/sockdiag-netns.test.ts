/**
 * The native socket reader sees the same TIME_WAIT sockets as /proc/net/tcp, inside a private
 * network namespace so that only the probe's sockets are counted. With PORTSTORM_SKIP_NATIVE set
 * (src/native-skip.ts) it asserts the fallback instead: no addon, and /proc still counts them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nativeSkipReason, nativeSkipped } from '../../src/native-skip.js';
import { fixture, runInNetns } from '../helpers/netns.js';

interface Probe {
  k: number;
  failed: number;
  available: boolean;
  reason: string | null;
  addon: number;
  proc: number;
  addonAfter: number;
  others: number;
}

const K = 2000;

describe('sockdiag in a network namespace', () => {
  const probe = (): Probe => runInNetns<Probe>(fixture('sockdiag-probe.js'), [String(K)], ['echo 0 > /proc/sys/net/ipv4/tcp_tw_reuse']);

  if (nativeSkipped()) {
    it(`with ${nativeSkipReason()}: no addon, and /proc/net/tcp still counts ${K} TIME_WAIT sockets`, () => {
      const p = probe();
      const info = JSON.stringify(p);
      assert.equal(p.available, false, info);
      assert.equal(p.reason, nativeSkipReason(), info);
      assert.equal(p.failed, 0, info);
      assert.ok(p.proc >= 0.95 * K && p.proc <= K, `/proc count off: ${info}`);
    });
    return;
  }

  it(`counts ${K} client TIME_WAIT sockets like /proc/net/tcp`, () => {
    const p = probe();
    const info = JSON.stringify(p);
    assert.ok(p.available, `addon unavailable: ${p.reason}`);
    assert.equal(p.failed, 0, info);
    // A late RST can kill a TIME_WAIT socket early (DOMAIN.md): never exact counts.
    assert.ok(p.addon >= 0.95 * K, `addon sees too few: ${info}`);
    assert.ok(p.proc >= 0.95 * K, `/proc sees too few: ${info}`);
    assert.ok(p.addon <= K && p.proc <= K, `more TIME_WAIT than connections: ${info}`);
    assert.ok(Math.abs(p.addon - p.proc) <= 0.01 * K, `addon and /proc disagree: ${info}`);
  });
});
