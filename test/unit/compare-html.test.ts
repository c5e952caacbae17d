/** The HTML comparison of run records (test/fixtures/records: healthy as baseline, exhaustion as candidate). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compareRuns } from '../../src/compare/compare.js';
import type { CompareResult, MetricComparison } from '../../src/compare/types.js';
import type { RunRecord } from '../../src/record/types.js';
import { BASELINE_COLOR, compareChartModel, renderCompareHtml, runLabels, type CompareChartModel } from '../../src/report/compare-html.js';
import { escapeHtml } from '../../src/report/html.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/records/', import.meta.url));

function fixture(name: 'healthy' | 'exhaustion'): RunRecord {
  return JSON.parse(readFileSync(`${FIX}${name}.json`, 'utf8')) as RunRecord;
}

function metric(m: Partial<MetricComparison> & Pick<MetricComparison, 'key' | 'label' | 'unit' | 'better' | 'assessment'>): MetricComparison {
  const baseline = m.baseline ?? null;
  const candidate = m.candidate ?? null;
  const delta = baseline !== null && candidate !== null ? candidate - baseline : null;
  return {
    baseline,
    candidate,
    delta,
    deltaPct: delta !== null && baseline ? (delta / Math.abs(baseline)) * 100 : null,
    test: 'mann-whitney',
    p: 0.01,
    samples: { baseline: 7, candidate: 10 },
    note: null,
    ...m,
  };
}

/** The real comparison of `runs` (runs[0] the baseline), with hand-made changes, warnings, metrics,
 * verdict changes and --fail-if results so every section and mark is exercised. */
function result(runs: RunRecord[]): CompareResult {
  const res = compareRuns(runs);
  res.candidates = res.candidates.map((c) => ({
    ...c,
    changes: [
      { kind: 'scenario' as const, path: 'connection.reuse', baseline: true, candidate: false },
      { kind: 'host' as const, path: 'host.portRange', baseline: [32768, 60999], candidate: [40000, 41999] },
      { kind: 'run' as const, path: 'label', candidate: runs[c.run.index].label },
    ],
    warnings: [{ kind: 'target' as const, candidate: c.run, message: 'the target differs: <b>http://a</b> vs http://b' }],
    metrics: [
      metric({ key: 'rate', label: 'completed/s', unit: '/s', better: 'higher', assessment: 'worse', baseline: 496.2, candidate: 166.4 }),
      metric({ key: 'errorRate', label: 'error rate', unit: 'ratio', better: 'lower', assessment: 'worse', baseline: 0, candidate: 0.6 }),
      metric({ key: 'latency.p99', label: 'latency p99', unit: 'ms', better: 'lower', assessment: 'within-noise', baseline: 10.1, candidate: 41.3, p: 0.2 }),
      metric({ key: 'connect.p99', label: 'connect p99', unit: 'ms', better: 'lower', assessment: 'within-noise', baseline: 5, candidate: 5 }),
      metric({ key: 'connect.p50', label: 'connect p50', unit: 'ms', better: 'lower', assessment: 'better', baseline: 0.2, candidate: 0.1 }),
      metric({ key: 'ports.peakTimeWait', label: 'peak TIME_WAIT', unit: 'count', better: 'lower', assessment: 'inconclusive', baseline: 8299, candidate: 2000, note: 'too few seconds' }),
      metric({ key: 'exhaustion.firstAtS', label: 'exhaustion onset', unit: 's', better: 'later', assessment: 'worse', baseline: null, candidate: 6, test: 'exact', p: null, samples: null }),
    ],
    verdicts: { added: ['client-port-exhaustion' as const], removed: [], assessment: 'worse' as const },
  }));
  res.warnings = res.candidates.flatMap((c) => c.warnings);
  res.failIf = res.candidates.map((c) => ({ rule: 'errorRate > 0.01', metric: 'errorRate', candidate: c.run, actual: 0.6, baseline: 0, limit: 0.01, holds: true }));
  return res;
}

type Embedded = CompareChartModel & { result: CompareResult };

/** The embedded chart data, parsed back out of the page. */
function embedded(html: string): Embedded {
  const m = /<script type="application\/json" id="portstorm-compare-data">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(m, 'the data is embedded in a application/json script');
  return JSON.parse(m[1]) as Embedded;
}

function scriptTags(html: string): string[] {
  return [...html.matchAll(/<script\b[^>]*>/gi)].map((m) => m[0]);
}

describe('renderCompareHtml', () => {
  it('embeds the chart data and the comparison, parseable back', () => {
    const runs = [fixture('healthy'), fixture('exhaustion')];
    const res = result(runs);
    const html = renderCompareHtml(runs, res);
    const back = embedded(html);
    assert.deepEqual(back.result, res, 'the CompareResult round-trips');
    assert.deepEqual(back, JSON.parse(JSON.stringify({ ...compareChartModel(runs), result: res })));
    // One relative time axis: the union of the runs' seconds (9 and 12 seconds, both from 0).
    assert.deepEqual(back.x, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    assert.deepEqual(back.charts.map((c) => c.id), ['completed', 'failed', 'latency-p99', 'time-wait', 'utilization']);
    for (const c of back.charts) {
      assert.equal(c.data.length, 2, `${c.id}: one series per run`);
      for (const d of c.data) assert.equal(d.length, back.x.length, `${c.id}: one value per x`);
      // The shorter baseline is padded with gaps, not zeros.
      assert.deepEqual(c.data[0].slice(9), [null, null, null], `${c.id}: baseline padded with nulls`);
    }
    const byId = Object.fromEntries(back.charts.map((c) => [c.id, c]));
    assert.deepEqual(byId.completed.data[1], runs[1].timeline.map((en) => en.completed));
    assert.deepEqual(byId.failed.data[1], runs[1].timeline.map((en) => en.failed));
    assert.deepEqual(byId['latency-p99'].data[0].slice(0, 9), runs[0].timeline.map((en) => (en.latencyMs.p99 > 0 ? en.latencyMs.p99 : null)));
    assert.deepEqual(byId['time-wait'].data[1], runs[1].timeline.map((en) => en.sockets?.timeWait ?? null));
    assert.deepEqual(byId.utilization.data[1], runs[1].timeline.map((en) => (en.sockets?.utilization == null ? null : +(en.sockets.utilization * 100).toFixed(2))));
    assert.equal(byId['latency-p99'].log, true);
    assert.deepEqual(back.runs.map((r) => r.onsetS), [null, 6], 'each run’s exhaustion onset');
  });

  it('is self-contained: uPlot is inlined, nothing is loaded from elsewhere', () => {
    const runs = [fixture('healthy'), fixture('exhaustion')];
    const html = renderCompareHtml(runs, result(runs));
    assert.ok(html.startsWith('<!doctype html>'));
    assert.doesNotMatch(html, /<script[^>]+src=/i);
    assert.doesNotMatch(html, /<link[^>]+href=/i);
    assert.doesNotMatch(html, /\b(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i);
    assert.doesNotMatch(html, /@import|url\(\s*['"]?https?:/i);
    const uplot = readFileSync(new URL('../../../node_modules/uplot/dist/uPlot.iife.min.js', import.meta.url), 'utf8');
    assert.ok(html.includes(uplot.slice(0, 200)), 'uPlot JS is inlined');
    assert.ok(html.includes(uplot.slice(-200).trim().slice(0, 100)), 'all of uPlot JS is inlined');
    assert.match(html, /\.uplot\s*\{/, 'uPlot CSS is inlined');
    assert.deepEqual(scriptTags(html), ['<script type="application/json" id="portstorm-compare-data">', '<script>', '<script>']);
    assert.match(html, /window\.__portstormCompare = \{ charts: charts/);
  });

  it('cannot be broken out of by a hostile label, scenario name or change value', () => {
    const evil = '</script><b>x</b>';
    const runs = [fixture('healthy'), fixture('exhaustion')];
    runs[1].label = evil;
    runs[0].scenario.name = `<!-- ${evil}`;
    const res = result(runs);
    res.candidates[0].changes.push({ kind: 'scenario', path: evil, baseline: evil, candidate: `<img src=x onerror=alert(1)>` });
    const html = renderCompareHtml(runs, res);
    assert.equal(scriptTags(html).length, 3, 'no extra script element');
    assert.ok(!html.includes('<b>x</b>'), 'the label is never markup');
    assert.ok(!html.includes('<img src=x'));
    assert.ok(html.includes(escapeHtml(evil)), 'the label is shown, escaped');
    const data = /<script type="application\/json" id="portstorm-compare-data">([\s\S]*?)<\/script>/.exec(html)![1];
    assert.ok(!data.includes('<'), 'no < inside the JSON block');
    const back = embedded(html);
    assert.equal(back.runs[1].label, evil, 'the JSON still round-trips to the original text');
    assert.equal(back.result.candidates[0].run.label, evil);
    // The <title> holds the escaped labels too.
    assert.match(html, /<title>portstorm compare: [^<]*&lt;\/script&gt;&lt;b&gt;x&lt;\/b&gt;<\/title>/);
  });

  it('puts every run in the legend data, baseline first in a neutral colour, each run its own colour', () => {
    const runs = [fixture('healthy'), fixture('exhaustion'), fixture('exhaustion'), fixture('healthy')];
    runs[2].runId = 'run-3';
    runs[3].label = 'narrow port range';
    runs[3].runId = 'run-4';
    const html = renderCompareHtml(runs, result(runs));
    const back = embedded(html);
    assert.equal(back.runs.length, 4);
    assert.deepEqual(
      back.runs.map((r) => r.label),
      [runs[0].runId, 'narrow port range (20261124-031500-lab-exhaustion-7f3a)', 'narrow port range (run-3)', 'narrow port range (run-4)'],
      'label ?? runId, repeats told apart',
    );
    assert.deepEqual(back.runs.map((r) => r.role), ['baseline', 'candidate', 'candidate', 'candidate']);
    assert.equal(back.runs[0].color, BASELINE_COLOR);
    assert.equal(new Set(back.runs.map((r) => r.color)).size, 4, 'distinct colours');
    for (const c of back.charts) assert.equal(c.data.length, 4, `${c.id}: a series per run`);
    for (const r of back.runs) assert.ok(html.includes(escapeHtml(r.label)), `${r.label} is named on the page`);
    assert.deepEqual(runLabels([runs[1], runs[1]]), ['narrow port range #1', 'narrow port range #2'], 'the same run twice');
  });

  it('shows the runs, warnings, what changed, marked deltas, verdicts and --fail-if', () => {
    const runs = [fixture('healthy'), fixture('exhaustion')];
    const html = renderCompareHtml(runs, result(runs));
    for (const s of [runs[0].runId, runs[1].runId, 'narrow port range', 'demo', 'lab-exhaustion', runs[0].startedAt, runs[1].startedAt, '8.1 s', '12.0 s']) {
      assert.ok(html.includes(escapeHtml(s)), `header has ${s}`);
    }
    // Baseline first in the runs table.
    assert.ok(html.indexOf(runs[0].runId) < html.indexOf(runs[1].runId));
    assert.ok(html.includes('id="warnings"'));
    assert.ok(html.includes(escapeHtml('the target differs: <b>http://a</b> vs http://b')));
    assert.ok(html.includes('<code>connection.reuse</code></td><td><code>true</code></td><td><code>false</code>'));
    assert.ok(html.includes('<code>[32768,60999]</code>'));
    assert.match(html, /<code>label<\/code><\/td><td><span class="muted">absent<\/span><\/td>/);
    const row = (k: string): string => new RegExp(`<tr data-metric="${k.replace('.', '\\.')}">.*?</tr>`).exec(html)![0];
    assert.match(row('rate'), /496\/s<\/td>.*166\/s<\/td>.*−330\/s \(−66 %\).*class="mark worse"/);
    assert.match(row('errorRate'), /0\.00 %<\/td>.*60\.0 %<\/td>.*\+60\.0 pp<.*class="mark worse"/);
    assert.match(row('latency.p99'), /class="mark within-noise"[^>]*>within noise</);
    assert.match(row('latency.p99'), /title="test: mann-whitney; p = 0\.200; seconds tested: 7 \/ 10; lower is better"/);
    assert.match(row('connect.p50'), /class="mark better"/);
    assert.match(row('connect.p99'), /<td class="n delta within-noise">±0 ms<\/td>/);
    assert.match(row('ports.peakTimeWait'), /8,299<\/td>.*2,000<\/td>.*class="mark inconclusive" title="[^"]*too few seconds/);
    assert.match(row('exhaustion.firstAtS'), />never<\/td>.*>6 s<\/td>/);
    assert.ok(html.includes('id="fail-if"'));
    assert.match(html, /<span class="badge bad">fail<\/span><\/td><td><code>errorRate &gt; 0\.01<\/code>/);
    assert.ok(html.includes('data-verdict="client-port-exhaustion"'));
    assert.ok(html.includes('Client port exhaustion'));
    assert.match(html, /vs baseline: <span class="mark worse">worse<\/span> new: Client port exhaustion/);
    // Each run's verdicts, in its own card (the healthy baseline is diagnosed by compareRuns).
    assert.match(html, /<article class="card run-verdicts" data-run="0">.*data-verdict="healthy"/);
    assert.match(html, /<article class="card run-verdicts" data-run="1">.*data-verdict="client-port-exhaustion"/);
  });

  it('leaves out empty sections and draws runs with no timeline', () => {
    const runs = [fixture('healthy'), fixture('healthy')];
    runs[1].runId = 'empty';
    runs[1].timeline = [];
    const res = result(runs);
    res.warnings = [];
    res.failIf = [];
    res.candidates[0].changes = [];
    const html = renderCompareHtml(runs, res);
    assert.ok(!html.includes('id="warnings"'));
    assert.ok(!html.includes('id="fail-if"'));
    assert.ok(html.includes('No setting differs from the baseline.'));
    const back = embedded(html);
    assert.equal(back.x.length, 9);
    for (const c of back.charts) assert.ok(c.data[1].every((v) => v === null), `${c.id}: the empty run is all gaps`);
  });
});
