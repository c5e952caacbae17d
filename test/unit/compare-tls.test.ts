/** `compare` on HTTPS runs: session resumption off vs on, rules on TLS metrics, plain runs unchanged. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareRuns, describeChanges } from '../../src/compare/compare.js';
import { evaluateFailIf, parseFailIf } from '../../src/compare/rules.js';
import type { CompareResult, MetricComparison } from '../../src/compare/types.js';
import { UsageError } from '../../src/errors.js';
import type { RunRecord } from '../../src/record/types.js';
import { compareChartModel } from '../../src/report/compare-html.js';
import { renderCompareMarkdown } from '../../src/report/compare-markdown.js';
import { renderCompareText } from '../../src/report/compare-text.js';
import { entry, syntheticRecord } from '../helpers/synthetic-record.js';
import { normal, withDns, withTls } from '../helpers/synthetic-tls.js';

/** 12 s of 100 new HTTPS connections/s; `resumption` on: 90 % of handshakes resumed, 5× faster. */
function httpsRun(resumption: boolean, seed: number): RunRecord {
  const g = normal(seed);
  const timeline = Array.from({ length: 12 }, (_, t) => {
    const n = Math.round(100 * (1 + 0.05 * g()));
    return entry(t, { attempted: n, completed: n, connectionsOpened: n });
  });
  const r = withTls(syntheticRecord({ timeline }), {
    handshakeMs: resumption ? () => 0.8 : () => 4,
    resumed: resumption ? 0.9 : 0,
    settings: { sessionResumption: resumption },
    seed,
  });
  r.runId = `https-${resumption ? 'on' : 'off'}-${seed}`;
  r.scenario.load[0] = { ...r.scenario.load[0]!, rate: 100 } as RunRecord['scenario']['load'][number];
  return r;
}

const metric = (r: CompareResult, key: string): MetricComparison => {
  const m = r.candidates[0]!.metrics.find((x) => x.key === key);
  assert.ok(m, `metric ${key} missing from ${r.candidates[0]!.metrics.map((x) => x.key).join(', ')}`);
  return m;
};

describe('compare: session resumption off vs on', () => {
  const off = httpsRun(false, 3);
  const on = httpsRun(true, 4);
  const result = compareRuns([off, on]);

  it('what changed is the resumption setting, nothing else', () => {
    assert.deepEqual(result.candidates[0]!.changes, [{ kind: 'scenario', path: 'tls.sessionResumption', baseline: false, candidate: true }]);
    assert.deepEqual(result.warnings, []);
  });

  it('handshake p50 and p99 better by the per-second bootstrap; whole-run percentiles from the histograms', () => {
    for (const key of ['tls.p50', 'tls.p99']) {
      const m = metric(result, key);
      assert.deepEqual([m.assessment, m.test], ['better', 'bootstrap'], `${key}: ${JSON.stringify(m)}`);
      assert.ok(m.p !== null && m.p < 0.05);
      assert.equal(m.unit, 'ms');
    }
    const p50 = metric(result, 'tls.p50');
    assert.equal(p50.label, 'tls handshake p50');
    assert.equal(p50.baseline, off.tlsMs!.p50);
    assert.equal(p50.candidate, on.tlsMs!.p50);
    assert.ok(p50.candidate! < p50.baseline! / 3);
    for (const key of ['tls.p90', 'tls.p999', 'tls.max']) assert.deepEqual([metric(result, key).test, metric(result, key).assessment], ['none', 'not-tested'], key);
    assert.equal(result.runs[0]!.figures.tls?.count, off.totals.tlsHandshakes);
  });

  it('resumed share better by the exact count test; handshakes/s the same', () => {
    const share = metric(result, 'tlsResumedRate');
    assert.deepEqual([share.assessment, share.test, share.baseline], ['better', 'exact', 0]);
    assert.match(share.note!, /^none of 1 \d{3} → 1 \d{3} of 1 \d{3} handshakes$/);
    assert.ok(Math.abs(share.candidate! - 0.9) < 0.01);
    const rate = metric(result, 'handshakeRate');
    assert.equal(rate.test, 'bootstrap');
    assert.equal(rate.assessment, 'within-noise');
    assert.equal(rate.label, 'TLS handshakes/s');
    assert.ok(!result.candidates[0]!.metrics.some((m) => m.key.startsWith('dns.')), 'no lookup metrics without per-connection lookups');
    assert.ok(result.noise.description.some((d) => d.startsWith('HTTPS: TLS handshake p50/p99')));
  });

  it('--fail-if reads tls.<stat>, handshakeRate, tlsResumedRate and totals', () => {
    const rules = ['tls.p50 > +10%', 'tls.p99 > 50', 'tlsResumedRate < 0.5', 'handshakeRate < -20%', 'totals.tlsHandshakes < 1000', 'totals.tlsResumed >= 1000', 'dns.p99 > 0'];
    const got = evaluateFailIf(result, rules).map((f) => [f.rule, f.holds]);
    assert.deepEqual(got, [
      ['tls.p50 > +10%', false],
      ['tls.p99 > 50', false],
      ['tlsResumedRate < 0.5', false],
      ['handshakeRate < -20%', false],
      ['totals.tlsHandshakes < 1000', false],
      ['totals.tlsResumed >= 1000', true],
      ['dns.p99 > 0', false],
    ]);
    const reversed = evaluateFailIf(compareRuns([on, off]), ['tls.p50 > +100%', 'tlsResumedRate < 0.5']);
    assert.deepEqual(reversed.map((f) => f.holds), [true, true]);
    assert.equal(parseFailIf('tls.p99 > +10% any-coverage').anyCoverage, true);
    assert.throws(() => parseFailIf('tls.p95 > 1'), (e: unknown) => e instanceof UsageError && /unknown field "p95" for tls/.test(e.message));
    assert.throws(() => parseFailIf('totals.sent > 1'), (e: unknown) => e instanceof UsageError && /tlsHandshakes/.test(e.message));
  });

  it('a TLS latency figure of very different shares of the handshakes is inconclusive, its rule not applied', () => {
    const failing = httpsRun(true, 5);
    failing.errorsByPhase = { 'tls:TLS_HANDSHAKE_TIMEOUT': failing.totals.tlsHandshakes! };
    failing.errors = { TLS_HANDSHAKE_TIMEOUT: failing.totals.tlsHandshakes! };
    const r = compareRuns([off, failing]);
    const m = metric(r, 'tls.p99');
    assert.equal(m.assessment, 'inconclusive');
    assert.match(m.note!, /p99 of 100 % of handshakes → of 50 %/);
    const [rule] = evaluateFailIf(r, ['tls.p99 < 100']);
    assert.equal(rule!.holds, false);
    assert.match(rule!.skipped!, /different populations/);
  });

  it('the renderers list the TLS rows; the HTML overlays the handshake p99', () => {
    const text = renderCompareText(result);
    assert.match(text, /^ {2}tls handshake p50 +\d/m);
    assert.match(text, /^ {2}TLS resumed share +0\.00 % +90\.\d\d %/m);
    assert.match(text, /^ {2}scenario {2}tls\.sessionResumption: false → true$/m);
    const md = renderCompareMarkdown(result);
    assert.match(md, /^\| tls handshake p99 \| /m);
    const charts = compareChartModel([off, on]).charts;
    const tls = charts.find((c) => c.id === 'tls-p99');
    assert.ok(tls, charts.map((c) => c.id).join(', '));
    assert.ok(tls.data.every((run) => run.some((v) => v !== null)));
  });
});

describe('compare: per-connection lookups, and plain runs', () => {
  it('lookup p50/p99 when a run looked its target up per connection', () => {
    const a = withDns(syntheticRecord(), { lookupMs: 0.4, seed: 1 });
    const b = withDns(syntheticRecord(), { lookupMs: 4, seed: 2 });
    b.runId = 'dns-slow';
    const r = compareRuns([a, b]);
    assert.equal(metric(r, 'dns.p50').assessment, 'worse');
    assert.equal(metric(r, 'dns.p50').label, 'dns lookup p50');
    assert.ok(!r.candidates[0]!.metrics.some((m) => m.key.startsWith('tls.')));
    assert.deepEqual(evaluateFailIf(r, ['dns.p99 > +100%']).map((f) => f.holds), [true]);
  });

  it('plain runs: the same metrics as before, no TLS noise note, no handshake chart', () => {
    const a = syntheticRecord();
    const b = syntheticRecord();
    b.runId = 'other';
    const r = compareRuns([a, b]);
    assert.ok(!r.candidates[0]!.metrics.some((m) => /^(tls|dns)\.|handshakeRate|tlsResumedRate/.test(m.key)));
    assert.ok(!r.noise.description.some((d) => d.startsWith('HTTPS') || d.startsWith('dns:')));
    assert.ok(!compareChartModel([a, b]).charts.some((c) => c.id === 'tls-p99'));
    assert.equal(r.runs[0]!.figures.tls, undefined);
  });

  it('an older record (no tls, dns or timeouts.tls in its scenario) against a newer plain one: nothing changed', () => {
    const older = syntheticRecord();
    const s = older.scenario as Partial<RunRecord['scenario']>;
    delete s.tls;
    delete s.dns;
    delete (s.timeouts as { tls?: number }).tls;
    delete (s.builtin as { tls?: boolean }).tls;
    assert.deepEqual(describeChanges(older, syntheticRecord()), []);
    // HTTPS against plain: the setting and the TLS itself are listed.
    const changes = describeChanges(syntheticRecord(), httpsRun(false, 9));
    assert.ok(changes.some((c) => c.path === 'target' && c.candidate === 'https://198.18.0.2:8443/'), JSON.stringify(changes));
    const tls = changes.find((c) => c.path === 'target.tls');
    assert.deepEqual([tls?.kind, tls?.baseline, (tls?.candidate as { trust?: string } | undefined)?.trust], ['run', null, 'system']);
  });
});
