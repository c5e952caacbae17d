/**
 * The capacity view in /metrics against the kernel (test/fixtures/eta-probe.ts): in a private network
 * namespace with 1 000 usable ports, connections toward 127.0.0.1:8080 open at 150/s with the client
 * closing first, and the gauges the monitor's sampler threads feed are read every 500 ms.
 * - tcp_tw_reuse=0: each port is held 60 s, so 1 000 ÷ 60 = 16.7/s is sustainable and connect()
 *   fails once the ports are spent; the rate and the ETA the gauges gave match what happened.
 * - tcp_tw_reuse=1: connect() takes a TIME_WAIT port back after 1 s, so 1 000/s is sustainable; the
 *   ports are taken over (TWRecycled) rather than exhausted, and the ETA stays +Inf.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fixture, runInNetns } from '../helpers/netns.js';

interface Reading {
  t: number;
  inUse: number | null;
  eta: number | 'Inf' | null;
  rate: number | null;
  sustainable: number | null;
  hold: number | null;
  openedInWindow: number;
}
interface Probe {
  usable: number;
  rate: number;
  windowMs: number;
  ok: number;
  opened: number;
  failedAt: number | null;
  failure: string | null;
  readings: Reading[];
}

const RATE = 150;
const WINDOW_MS = 2000;
const setup = (reuse: number) => ['echo "40000 40999" > /proc/sys/net/ipv4/ip_local_port_range', `echo ${reuse} > /proc/sys/net/ipv4/tcp_tw_reuse`];
const probe = (reuse: number, max?: number): Probe => runInNetns<Probe>(fixture('eta-probe.js'), [JSON.stringify({ rate: RATE, windowMs: WINDOW_MS, max })], setup(reuse), 60_000);

/** Readings over a full window of steady load (the estimator's window is then all load), before any failure. */
const steady = (p: Probe): Reading[] => p.readings.filter((r) => r.t >= WINDOW_MS + 500 && (p.failedAt === null || r.t <= p.failedAt - 500));

/** The estimate within 35 % of the connections the probe opened over the window before the reading. */
function assertRateTracks(p: Probe): void {
  const readings = steady(p);
  assert.ok(readings.length >= 4, `${readings.length} steady readings: ${JSON.stringify(p.readings)}`);
  for (const r of readings) {
    const opened = r.openedInWindow / (WINDOW_MS / 1000);
    assert.ok(r.rate !== null && Math.abs(r.rate - opened) <= 0.35 * opened, `at ${r.t} ms: estimated ${r.rate}/s, opened ${opened}/s`);
  }
}

describe('the ETA and sustainable rate in /metrics, against the kernel (network namespace)', { timeout: 120_000 }, () => {
  it('tcp_tw_reuse=0: 150/s over 1 000 ports held 60 s runs out, when the ETA said it would', () => {
    const p = probe(0);
    assert.equal(p.usable, 1000);
    assert.equal(p.failure, 'EADDRNOTAVAIL', JSON.stringify({ ...p, readings: undefined }));
    assert.ok(p.ok >= 990 && p.ok <= 1000, `${p.ok} connections before the first failure`);
    for (const r of p.readings.filter((x) => x.hold !== null)) assert.deepEqual([r.hold, r.sustainable], [60, 16.7], `at ${r.t} ms`);
    assertRateTracks(p);
    // Each steady reading's ETA, counted from when it was read, lands within 30 % of the first failure.
    for (const r of steady(p)) {
      assert.equal(typeof r.eta, 'number', `at ${r.t} ms: ETA ${r.eta}`);
      const predicted = r.t + (r.eta as number) * 1000;
      assert.ok(Math.abs(predicted - p.failedAt!) <= 0.3 * p.failedAt!, `at ${r.t} ms the ETA ${r.eta} s predicts ${predicted} ms; connect() failed at ${p.failedAt} ms`);
    }
  });

  it('tcp_tw_reuse=1: the same 150/s takes TIME_WAIT ports over after 1 s; sustainable 1 000/s, ETA +Inf, no failure', () => {
    const p = probe(1, 1400);
    assert.equal(p.failure, null, JSON.stringify({ ...p, readings: undefined }));
    assert.equal(p.ok, 1400, 'more connections than ports: ports were taken over from TIME_WAIT');
    for (const r of p.readings.filter((x) => x.hold !== null)) assert.deepEqual([r.hold, r.sustainable], [1, 1000], `at ${r.t} ms`);
    assertRateTracks(p);
    for (const r of steady(p)) assert.equal(r.eta, 'Inf', `at ${r.t} ms`);
  });
});
