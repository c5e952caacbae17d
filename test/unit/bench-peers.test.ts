/** The peer benchmark's parsers read the real reports of ab, wrk, hey and autocannon. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { median, parseOptions } from '../../bench/peers.js';
import { parseAb, parseAutocannon, parseHey, parseWrk } from '../../bench/peer-tools.js';

const fixture = (name: string): string => readFileSync(new URL(`../../../test/fixtures/peers/${name}`, import.meta.url), 'utf8');

describe('bench:peers report parsers', () => {
  it('ab: completed, failed, elapsed and rate from its own figures', () => {
    const text = fixture('ab.txt');
    const r = parseAb(text)!;
    const complete = Number(/^Complete requests:\s+(\d+)/m.exec(text)![1]);
    const taken = Number(/^Time taken for tests:\s+([\d.]+)/m.exec(text)![1]);
    assert.equal(r.completed, complete);
    assert.equal(r.failed, 0);
    assert.equal(r.elapsedS, taken);
    assert.ok(Math.abs(r.rate - complete / taken) < 1e-6);
    assert.equal(parseAb('ab: invalid URL'), null);
  });

  it('wrk: requests and duration; socket errors and non-2xx count as failed', () => {
    const r = parseWrk(fixture('wrk-close.txt'))!;
    const m = /(\d+) requests in ([\d.]+)s/.exec(fixture('wrk-close.txt'))!;
    assert.equal(r.completed, Number(m[1]));
    assert.equal(r.elapsedS, Number(m[2]));
    const failing = '  1000 requests in 2.00s, 1.00MB read\n  Socket errors: connect 7, read 0, write 0, timeout 3\n  Non-2xx or 3xx responses: 100\n';
    assert.deepEqual(parseWrk(failing), { completed: 900, failed: 110, elapsedS: 2, rate: 450, errors: { connect: 7, timeout: 3, non2xx: 100 } });
    assert.equal(parseWrk('unable to connect to 127.0.0.1:1 Connection refused')?.completed, undefined);
  });

  it('hey: 2xx responses completed, refused dials failed by kind', () => {
    const ok = parseHey(fixture('hey.txt'))!;
    assert.equal(ok.completed, Number(/\[200\]\s+(\d+) responses/.exec(fixture('hey.txt'))![1]));
    assert.equal(ok.failed, 0);
    const refused = parseHey(fixture('hey-refused.txt'))!;
    assert.equal(refused.completed, 0);
    assert.equal(refused.failed, Number(/\[(\d+)\]\s+Get/.exec(fixture('hey-refused.txt'))![1]));
    assert.deepEqual(Object.keys(refused.errors), ['connection refused']);
  });

  it('autocannon -j: total requests over its duration', () => {
    const text = fixture('autocannon-close.json');
    const j = JSON.parse(text) as { requests: { total: number }; duration: number };
    const r = parseAutocannon(text)!;
    assert.equal(r.completed, j.requests.total);
    assert.equal(r.elapsedS, j.duration);
    assert.equal(parseAutocannon('not json'), null);
  });
});

describe('bench:peers options', () => {
  it('defaults, lists and one-line errors', () => {
    const o = parseOptions([]);
    assert.equal(o.concurrency, 50);
    assert.deepEqual(o.targets, ['nginx', 'builtin']);
    assert.equal(o.memoryMinutes, 10);
    assert.deepEqual(parseOptions(['--sections', 'close,accuracy']).sections, ['close', 'accuracy']);
    assert.throws(() => parseOptions(['--sections', 'close,speed']), /--sections: speed is not one of/);
    assert.throws(() => parseOptions(['--duration', '0']), /--duration: expected a whole number from 1 to 60, got 0/);
    assert.equal(median([3, 1, NaN, 2]), 2);
    assert.ok(Number.isNaN(median([])));
  });
});
