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
    assert.equal(progressLine(12.4, live), '12s  7/s  completed 7  failed 3 (EADDRNOTAVAIL 2 ECONNRESET 1)  dropped 1  p99 1.2 ms');
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
