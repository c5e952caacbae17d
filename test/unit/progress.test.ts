import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createProgress, progressLine } from '../../src/cli/progress.js';
import type { LiveStats } from '../../src/record/accumulator.js';

const live: LiveStats = {
  totals: { attempted: 10, completed: 7, failed: 3, dropped: 1, connectionsOpened: 10 },
  errors: { EADDRNOTAVAIL: 2, ECONNRESET: 1 },
  rate: 7,
  p99Ms: 1.234,
};

function fakeStream(isTTY: boolean, columns: number): NodeJS.WriteStream & { text: string } {
  const s = { isTTY, columns, text: '', write(chunk: string) { s.text += chunk; return true; } };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

describe('progress', () => {
  it('a progress line has elapsed, rate, counts, errors by code and p99', () => {
    assert.equal(progressLine(12.4, live), '12s  7.0/s  completed 7  failed 3 (EADDRNOTAVAIL 2 ECONNRESET 1)  dropped 1  p99 1.2 ms');
  });

  it('HTTPS runs: handshakes per second and their p99, short', () => {
    const tls: LiveStats = { ...live, totals: { ...live.totals, tlsHandshakes: 9, tlsResumed: 0 }, tls: { rate: 7, p99Ms: 12.4 }, sockets: { timeWait: 9, utilization: 0.01 } };
    assert.equal(progressLine(12.4, tls), '12s  7.0/s  completed 7  failed 3 (EADDRNOTAVAIL 2 ECONNRESET 1)  dropped 1  p99 1.2 ms  tls 7.0/s p99 12 ms  TIME_WAIT 9  ports 1 %');
    const before: LiveStats = { ...tls, totals: { ...tls.totals, tlsHandshakes: 0 }, tls: { rate: 0, p99Ms: 0 } };
    assert.match(progressLine(0.5, before), /  tls –\/s p99 –  /);
    // A plain run has no tls figures at all.
    assert.doesNotMatch(progressLine(12.4, live), /tls/);
  });

  it('watched hosts: one short field each, in the order given (utilization, else TIME_WAIT, else –; down while the agent is out)', () => {
    const hosts: LiveStats['hosts'] = [
      { name: 'service', up: true, utilization: 0.823, timeWait: 900 },
      { name: 'proxy', up: true, utilization: null, timeWait: 1234 },
      { name: 'backend', up: true, utilization: null, timeWait: null },
      { name: 'nat', up: false, utilization: 0.5, timeWait: 3 },
    ];
    assert.equal(
      progressLine(12.4, { ...live, sockets: { timeWait: 9, utilization: 0.01 }, hosts }),
      '12s  7.0/s  completed 7  failed 3 (EADDRNOTAVAIL 2 ECONNRESET 1)  dropped 1  p99 1.2 ms  TIME_WAIT 9  ports 1 %  service 82 %  proxy TW 1 234  backend –  nat down',
    );
  });

  it('before anything completed: – for the rate and p99, not 0/s and p99 0 ms', () => {
    const none: LiveStats = { totals: { attempted: 3, completed: 0, failed: 0, dropped: 0, connectionsOpened: 3 }, errors: {}, rate: 0, p99Ms: 0 };
    assert.equal(progressLine(0.6, none), '0s  –/s  completed 0  failed 0  dropped 0  p99 –');
    // Later, a second in which nothing completed has a true rate of 0 but no p99.
    const stalled = { ...none, totals: { ...none.totals, completed: 5 } };
    assert.equal(progressLine(3, stalled), '3s  0.0/s  completed 5  failed 0  dropped 0  p99 –');
  });

  it('counts, rates, latency and shares use the shared formats', () => {
    const big: LiveStats = {
      totals: { attempted: 30_000, completed: 28_232, failed: 1_500, dropped: 0, connectionsOpened: 30_000 },
      errors: { EADDRNOTAVAIL: 1_500 },
      rate: 1_200,
      p99Ms: 35.4,
      sockets: { timeWait: 28_232, utilization: 0.124 },
    };
    assert.equal(
      progressLine(61.9, big),
      '61s  1 200/s  completed 28 232  failed 1 500 (EADDRNOTAVAIL 1 500)  dropped 0  p99 35 ms  TIME_WAIT 28 232  ports 12 %',
    );
  });

  it('not a TTY: a plain line every 5 s of run time', () => {
    const s = fakeStream(false, 0);
    const p = createProgress(s, false);
    for (const e of [1, 2, 5, 6, 9.9, 10.1]) p.update(e, live);
    assert.equal(s.text.split('\n').filter(Boolean).length, 2);
    assert.match(s.text, /^portstorm: 5s /);
  });

  it('a TTY without a size (columns 0) gets plain lines, not a spinner', () => {
    const s = fakeStream(true, 0);
    const p = createProgress(s, false);
    p.update(6, live);
    p.stop();
    assert.match(s.text, /^portstorm: 6s /);
  });

  it('quiet writes nothing', () => {
    const s = fakeStream(false, 0);
    const p = createProgress(s, true);
    p.update(10, live);
    p.note('x');
    assert.equal(s.text, '');
  });
});
