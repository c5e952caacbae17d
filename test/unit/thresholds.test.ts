import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../src/errors.js';
import { evaluateThresholds, type ThresholdRecord } from '../../src/analysis/thresholds.js';
import { parseThreshold } from '../../src/vocab/threshold-grammar.js';
import type { LatencySummary } from '../../src/record/types.js';

function summary(base: number, count = 100): LatencySummary {
  return { p50: base, p90: base * 2, p99: base * 3, p999: base * 4, max: base * 5, mean: base * 1.5, count };
}

const record: ThresholdRecord = {
  durationS: 10,
  totals: { attempted: 1000, completed: 900, failed: 100, dropped: 7, connectionsOpened: 950 },
  errors: { EADDRNOTAVAIL: 60, ECONNRESET: 40 },
  latencyMs: summary(10),
  latencyUncorrectedMs: summary(8),
  connectMs: summary(1),
  ttfbMs: summary(0, 0),
};

function thresholdError(expr: string): string {
  try {
    parseThreshold(expr);
  } catch (err) {
    assert.ok(err instanceof UsageError);
    assert.ok(err.message.startsWith(`threshold ${JSON.stringify(expr)}: `), err.message);
    return err.message.slice(`threshold ${JSON.stringify(expr)}: `.length);
  }
  assert.fail(`expected ${expr} to be rejected`);
}

describe('parseThreshold', () => {
  it('parses every operator, with or without spaces', () => {
    const cases: Array<[string, string]> = [
      ['latency.p99 < 250', '<'],
      ['latency.p99<=250', '<='],
      ['rate > 700', '>'],
      ['rate>=700', '>='],
      ['errors.EADDRNOTAVAIL == 0', '=='],
      ['errors.total!=0', '!='],
    ];
    for (const [expr, op] of cases) assert.equal(parseThreshold(expr).op, op, expr);
    assert.deepEqual(parseThreshold('  errorRate  <  0.01 '), { expr: '  errorRate  <  0.01 ', metric: 'errorRate', ref: { kind: 'errorRate' }, op: '<', value: 0.01 });
    assert.equal(parseThreshold('rate >= 1e3').value, 1000);
    assert.equal(parseThreshold('latency.max < .5').value, 0.5);
  });

  it('accepts every metric family', () => {
    const metrics = [
      'errors.EADDRNOTAVAIL',
      'errors.total',
      'errorRate',
      'rate',
      ...['latency', 'latencyUncorrected', 'connect', 'ttfb'].flatMap((f) =>
        ['p50', 'p90', 'p99', 'p999', 'max', 'mean'].map((s) => `${f}.${s}`),
      ),
      ...['attempted', 'completed', 'failed', 'dropped', 'connectionsOpened'].map((t) => `totals.${t}`),
    ];
    for (const m of metrics) assert.equal(parseThreshold(`${m} <= 1`).metric, m);
  });

  it('accepts the TLS and DNS metrics', () => {
    const metrics = [
      ...['tls', 'dns'].flatMap((f) => ['p50', 'p90', 'p99', 'p999', 'max', 'mean'].map((s) => `${f}.${s}`)),
      'tlsResumedRate',
      'totals.tlsHandshakes',
      'totals.tlsResumed',
      'totals.dnsLookups',
    ];
    for (const m of metrics) assert.equal(parseThreshold(`${m} <= 1`).metric, m);
    assert.deepEqual(parseThreshold('tlsResumedRate > 0.9').ref, { kind: 'tlsResumedRate' });
    assert.deepEqual(parseThreshold('tls.p99 < 20').ref, { kind: 'summary', family: 'tls', stat: 'p99' });
    assert.match(thresholdError('tls.p95 < 3'), /^unknown statistic "p95" for tls/);
    for (const family of ['tls.<stat>', 'dns.<stat>', 'tlsResumedRate', 'tlsHandshakes']) assert.ok(thresholdError('speed > 3').includes(family), family);
  });

  it('rejects malformed expressions', () => {
    assert.match(thresholdError('latency.p99'), /^expected <metric> <op> <number>/);
    assert.match(thresholdError('latency.p99 = 5'), /^expected <metric> <op> <number>/);
    assert.equal(thresholdError('< 5'), 'expected a metric before <');
    assert.equal(thresholdError('latency.p99 <'), 'expected a number after <');
    assert.equal(thresholdError('latency.p99 < fast'), 'expected a number after <, got "fast"');
    assert.equal(thresholdError('latency.p99 < < 5'), 'expected a number after <, got "< 5"');
    assert.equal(thresholdError('latency p99 < 5'), 'expected a metric name before <, got "latency p99"');
  });

  it('rejects unknown metrics and lists the families', () => {
    const msg = thresholdError('speed > 3');
    assert.match(msg, /^unknown metric "speed" \(expected /);
    for (const family of ['errors.<CODE>', 'errors.total', 'errorRate', 'rate', 'latency.<stat>', 'latencyUncorrected.<stat>', 'connect.<stat>', 'ttfb.<stat>', 'totals.<']) {
      assert.ok(msg.includes(family), `${family} missing from: ${msg}`);
    }
    assert.match(thresholdError('errors < 3'), /^unknown metric "errors"/);
    assert.match(thresholdError('latency.p95 < 3'), /^unknown statistic "p95" for latency \(expected one of p50, p90, p99, p999, max, mean\)$/);
    assert.match(thresholdError('totals.sent > 3'), /^unknown field "sent" for totals/);
    assert.match(thresholdError('errors.A.B > 3'), /^expected an error code after errors\./);
  });
});

describe('evaluateThresholds', () => {
  it('reads each metric from the record and compares', () => {
    const results = evaluateThresholds(record, [
      'errors.EADDRNOTAVAIL == 0',
      'errors.EMFILE == 0',
      'errors.total <= 100',
      'errorRate < 0.2',
      'rate >= 90',
      'rate > 90',
      'latency.p99 < 30',
      'latency.p99 <= 30',
      'latencyUncorrected.max != 40',
      'connect.mean == 1.5',
      'totals.dropped > 5',
      'totals.connectionsOpened < 900',
    ]);
    assert.deepEqual(
      results.map((r) => [r.actual, r.passed]),
      [
        [60, false],
        [0, true],
        [100, true],
        [0.1, true],
        [90, true],
        [90, false],
        [30, false],
        [30, true],
        [40, false],
        [1.5, true],
        [7, true],
        [950, false],
      ],
    );
    assert.equal(results[0]!.expr, 'errors.EADDRNOTAVAIL == 0');
  });

  it('fails metrics that have no data, and treats no requests as a zero error rate', () => {
    const empty: ThresholdRecord = {
      ...record,
      durationS: 0,
      totals: { attempted: 0, completed: 0, failed: 0, dropped: 0, connectionsOpened: 0 },
      errors: {},
    };
    assert.deepEqual(evaluateThresholds(empty, ['ttfb.p99 < 100', 'rate >= 0', 'errorRate == 0', 'errors.total == 0']), [
      { expr: 'ttfb.p99 < 100', actual: null, passed: false },
      { expr: 'rate >= 0', actual: null, passed: false },
      { expr: 'errorRate == 0', actual: 0, passed: true },
      { expr: 'errors.total == 0', actual: 0, passed: true },
    ]);
  });

  it('reads the TLS and DNS metrics of an HTTPS run with per-connection lookups', () => {
    const https: ThresholdRecord = {
      ...record,
      totals: { ...record.totals, tlsHandshakes: 950, tlsResumed: 855, dnsLookups: 940 },
      tlsMs: summary(4),
      dnsMs: summary(0.5),
    };
    const results = evaluateThresholds(https, [
      'tls.p99 < 20',
      'tls.p50 <= 4',
      'dns.max < 2',
      'tlsResumedRate >= 0.9',
      'totals.tlsHandshakes == 950',
      'totals.tlsResumed > 900',
      'totals.dnsLookups >= 940',
    ]);
    assert.deepEqual(
      results.map((r) => [r.actual, r.passed]),
      [
        [12, true],
        [4, true],
        [2.5, false],
        [0.9, true],
        [950, true],
        [855, false],
        [940, true],
      ],
    );
  });

  it('a TLS or DNS metric with no data fails, as latency metrics do', () => {
    // A plain HTTP run: no handshake or lookup figures at all.
    assert.deepEqual(
      evaluateThresholds(record, ['tls.p99 < 20', 'dns.p50 < 1', 'tlsResumedRate >= 0', 'totals.tlsHandshakes >= 0']).map((r) => [r.actual, r.passed]),
      [
        [null, false],
        [null, false],
        [null, false],
        [null, false],
      ],
    );
    // An HTTPS run whose every handshake failed: counts are 0, the time has no data.
    const failed: ThresholdRecord = { ...record, totals: { ...record.totals, tlsHandshakes: 0, tlsResumed: 0 }, tlsMs: summary(0, 0) };
    assert.deepEqual(
      evaluateThresholds(failed, ['tls.p99 < 20', 'totals.tlsHandshakes == 0', 'tlsResumedRate > 0.5']).map((r) => [r.actual, r.passed]),
      [
        [null, false],
        [0, true],
        [null, false],
      ],
    );
  });

  it('throws on an invalid expression', () => {
    assert.throws(() => evaluateThresholds(record, ['bogus > 1']), UsageError);
  });
});
