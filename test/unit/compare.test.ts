/** `compare` on synthetic run records with known differences, rules, and the renderers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareRuns } from '../../src/compare/compare.js';
import { evaluateFailIf, parseFailIf } from '../../src/compare/rules.js';
import type { CompareResult, MetricComparison } from '../../src/compare/types.js';
import { UsageError } from '../../src/errors.js';
import { decodeHistogram, encodeHistogram, newHistogram, recordMs, summarize } from '../../src/record/histogram.js';
import type { RunRecord, TimelineEntry } from '../../src/record/types.js';
import { renderCompareMarkdown } from '../../src/report/compare-markdown.js';
import { renderCompareText } from '../../src/report/compare-text.js';
import { entry, sockets, syntheticRecord } from '../helpers/synthetic-record.js';

/** A seeded PRNG (mulberry32) and a standard normal draw from it. */
function rng(seed: number): { u: () => number; g: () => number } {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { u, g: () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u()) };
}

interface Profile {
  seed: number;
  seconds?: number;
  rate: number;
  reuse: boolean;
  /** Share of requests failing with `code` from second `errorsFrom`. */
  errorShare?: number;
  code?: string;
  errorsFrom?: number;
  latencyMs: number;
  /** New connections per request. */
  connPerReq: number;
  util: [number, number];
}

/** A run drawn from a profile: per-request latencies in real HDR histograms, a noisy timeline. */
function makeRun(p: Profile): RunRecord {
  const { g } = rng(p.seed);
  const seconds = p.seconds ?? 12;
  const lat = newHistogram();
  const con = newHistogram();
  const timeline: TimelineEntry[] = [];
  for (let t = 0; t < seconds; t++) {
    const attempted = Math.max(1, Math.round(p.rate * (1 + 0.05 * g())));
    const share = t >= (p.errorsFrom ?? 0) ? (p.errorShare ?? 0) * (1 + 0.2 * g()) : 0;
    const failed = Math.min(attempted, Math.max(0, Math.round(attempted * share)));
    const completed = attempted - failed;
    const hs = newHistogram();
    for (let i = 0; i < completed; i++) {
      const ms = p.latencyMs * Math.exp(0.5 * g());
      recordMs(hs, ms);
      recordMs(lat, ms);
    }
    const opened = Math.round(attempted * p.connPerReq);
    const hc = newHistogram();
    for (let i = 0; i < opened; i++) {
      const ms = 0.2 * Math.exp(0.3 * g());
      recordMs(hc, ms);
      recordMs(con, ms);
    }
    const s = summarize(hs);
    const c = summarize(hc);
    const util = Math.max(0, p.util[0] + ((p.util[1] - p.util[0]) * t) / (seconds - 1) + 0.005 * g());
    timeline.push(
      entry(t, {
        attempted,
        completed,
        failed,
        errors: failed > 0 ? { [p.code ?? 'EADDRNOTAVAIL']: failed } : {},
        latencyMs: { p50: s.p50, p90: s.p90, p99: s.p99, max: s.max },
        connectMs: { p50: c.p50, p99: c.p99 },
        connectionsOpened: opened,
        sockets: sockets({ timeWait: Math.round(util * 28_232), ephemeralInUse: Math.round(util * 28_232), utilization: +util.toFixed(4) }),
      }),
    );
  }
  const rec = syntheticRecord({ timeline, connection: { reuse: p.reuse } });
  rec.scenario.load[0] = { ...rec.scenario.load[0]!, rate: 100 } as RunRecord['scenario']['load'][number];
  rec.runId = `run-${p.seed}`;
  rec.histograms = { latency: encodeHistogram(lat), latencyUncorrected: encodeHistogram(lat), connect: encodeHistogram(con), ttfb: encodeHistogram(lat) };
  return rec;
}

const REUSE_OFF: Profile = { seed: 11, rate: 100, reuse: false, errorShare: 0.1, errorsFrom: 4, latencyMs: 8, connPerReq: 1, util: [0.5, 0.95] };
const REUSE_ON: Profile = { seed: 12, rate: 140, reuse: true, latencyMs: 2, connPerReq: 0.05, util: [0.01, 0.01] };

const metric = (r: CompareResult, key: string, cand = 0): MetricComparison => {
  const m = r.candidates[cand]!.metrics.find((x) => x.key === key);
  assert.ok(m, `metric ${key} missing`);
  return m;
};

describe('compareRuns: reuse false vs true', () => {
  const result = compareRuns([makeRun(REUSE_OFF), makeRun(REUSE_ON)]);

  it('finds the change and judges every difference in the right direction', () => {
    assert.deepEqual(result.candidates[0]!.changes, [{ kind: 'scenario', path: 'connection.reuse', baseline: false, candidate: true }]);
    for (const key of ['rate', 'connectionRate', 'ports.peakUtilization', 'ports.peakTimeWait', 'latency.p50', 'latency.p99']) {
      const m = metric(result, key);
      assert.equal(m.assessment, 'better', `${key}: ${JSON.stringify(m)}`);
      assert.equal(m.test, 'bootstrap');
      assert.ok(m.p !== null && m.p < 0.05);
      assert.equal(m.effect?.measure, 'mean-difference');
    }
    // Error counts are judged by the exact test of two Poisson counts, with the rate ratio's interval.
    for (const key of ['errorRate', 'errors.EADDRNOTAVAIL']) {
      const m = metric(result, key);
      assert.deepEqual([m.assessment, m.test], ['better', 'exact'], `${key}: ${JSON.stringify(m)}`);
      assert.ok(m.p !== null && m.p < 1e-6, `${key}: p=${m.p}`);
      assert.match(m.note!, /→ none of [\d ]+ requests/);
      assert.deepEqual(m.effect?.measure, 'rate-ratio');
      assert.ok(m.effect!.pct!.estimate === -100 && m.effect!.pct!.high < -90, JSON.stringify(m.effect));
    }
    assert.ok(metric(result, 'rate').delta! > 30);
    assert.ok(metric(result, 'connectionRate').deltaPct! < -90);
    assert.equal(metric(result, 'errors.EADDRNOTAVAIL').candidate, 0);
    const onset = metric(result, 'exhaustion.firstAtS');
    assert.deepEqual([onset.baseline, onset.candidate, onset.test, onset.assessment], [4, null, 'exact', 'better']);
    assert.equal(metric(result, 'latency.p999').assessment, 'not-tested');
  });

  it('is direction-aware: the same pair the other way round is worse on every metric', () => {
    const back = compareRuns([makeRun(REUSE_ON), makeRun(REUSE_OFF)]);
    for (const key of ['rate', 'errorRate', 'errors.EADDRNOTAVAIL', 'connectionRate', 'ports.peakUtilization', 'latency.p99', 'exhaustion.firstAtS']) {
      assert.equal(metric(back, key).assessment, 'worse', key);
    }
    assert.ok(metric(back, 'rate').delta! < 0, 'lower completed/s is worse');
    assert.ok(metric(back, 'latency.p99').delta! > 0, 'higher latency is worse');
    assert.deepEqual(back.candidates[0]!.changes, [{ kind: 'scenario', path: 'connection.reuse', baseline: true, candidate: false }]);
  });

  it('reports the verdicts of each run and how they moved', () => {
    assert.ok(result.runs.every((r) => r.verdicts.length > 0));
    assert.equal(result.runs[0]!.verdicts[0]!.verdict, 'client-port-exhaustion');
    assert.equal(result.runs[1]!.verdicts[0]!.verdict, 'healthy');
    assert.equal(result.candidates[0]!.verdicts.assessment, 'better');
    assert.ok(result.candidates[0]!.verdicts.removed.includes('client-port-exhaustion'));
  });

  it('labels runs label ?? runId', () => {
    const a = makeRun(REUSE_OFF);
    a.label = 'before';
    const r = compareRuns([a, makeRun(REUSE_ON)]);
    assert.deepEqual(r.runs.map((x) => x.name), ['before', 'run-12']);
  });
});

describe('compareRuns: no difference', () => {
  const SAME: Profile = { seed: 0, rate: 200, reuse: false, errorShare: 0.02, code: 'ECONNRESET', latencyMs: 3, connPerReq: 1, util: [0.1, 0.4] };
  const result = compareRuns([makeRun({ ...SAME, seed: 101 }), makeRun({ ...SAME, seed: 202 })]);

  it('comes out within noise on every tested metric; untested ones say so', () => {
    const ms = result.candidates[0]!.metrics;
    for (const m of ms.filter((x) => x.test !== 'none')) assert.equal(m.assessment, 'within-noise', `${m.key}: ${JSON.stringify(m)}`);
    assert.deepEqual(ms.filter((x) => x.test === 'none').map((x) => x.key), ['latency.p999', 'connect.p90', 'connect.p999', 'connect.max']);
    assert.ok(ms.filter((x) => x.test === 'none').every((x) => x.assessment === 'not-tested'));
    assert.ok(ms.some((x) => x.key === 'errors.ECONNRESET' && x.test === 'exact' && x.p !== null));
    assert.deepEqual(result.candidates[0]!.changes, []);
    assert.deepEqual(result.warnings, []);
  });

  it('identical runs stay within noise across many seeds (Holm correction over the metrics)', () => {
    let flagged = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const r = compareRuns([makeRun({ ...SAME, seed }), makeRun({ ...SAME, seed: seed + 1000 })]);
      if (r.candidates[0]!.metrics.some((m) => m.test !== 'none' && (m.assessment === 'better' || m.assessment === 'worse'))) flagged++;
    }
    // Uncorrected, a dozen tests at 5 % would flag up to 1 − 0.95^12 ≈ 46 % of such pairs; Holm
    // keeps the family-wise rate near 5 %.
    assert.ok(flagged <= 2, `${flagged} of 20 identical pairs showed a difference`);
  });

  it('says the noise test has too few samples with fewer than 5 seconds a run', () => {
    const short = compareRuns([makeRun({ ...SAME, seed: 1, seconds: 6 }), makeRun({ ...SAME, seed: 2, rate: 400, seconds: 6 })]);
    const rate = metric(short, 'rate');
    assert.equal(rate.assessment, 'inconclusive');
    assert.deepEqual(rate.samples, { baseline: 4, candidate: 4 });
    assert.match(rate.note!, /too few samples/);
    assert.equal(short.runs[0]!.noiseSeconds, 4);
  });
});

describe('compareRuns: percentiles from the histograms', () => {
  it('recomputes whole-run percentiles from the merged HDR histogram, never by averaging', () => {
    const merged = newHistogram();
    const timeline: TimelineEntry[] = [];
    for (let t = 0; t < 8; t++) {
      const h = newHistogram();
      const slow = t === 3;
      for (let i = 0; i < 100; i++) recordMs(h, slow ? 50 + i : 1 + i / 100);
      merged.add(h);
      const s = summarize(h);
      timeline.push(entry(t, { latencyMs: { p50: s.p50, p90: s.p90, p99: s.p99, max: s.max } }));
    }
    const base = syntheticRecord({ timeline });
    base.histograms = { ...base.histograms, latency: encodeHistogram(merged) };
    // The merged histogram as stored (encoding rounds max up to its bucket's highest equivalent value).
    const expected = summarize(decodeHistogram(encodeHistogram(merged)));
    assert.deepEqual({ ...expected, max: 0 }, { ...summarize(merged), max: 0 });
    const r = compareRuns([base, syntheticRecord({ timeline })]);
    assert.deepEqual(r.runs[0]!.figures.latency, expected);
    assert.equal(r.runs[0]!.figures.latencySource, 'histogram');
    assert.equal(metric(r, 'latency.p99').baseline, expected.p99);
    const averaged = timeline.reduce((a, e) => a + e.latencyMs.p99, 0) / timeline.length;
    assert.notEqual(expected.p99, averaged);
    assert.notEqual(expected.p99, base.latencyMs.p99, 'not the stored summary either');
    // No histogram stored: the stored summary, said so.
    assert.equal(r.runs[1]!.figures.latencySource, 'summary');
    assert.equal(metric(r, 'latency.p99').candidate, 2);
  });
});

describe('compareRuns: what changed and comparability', () => {
  it('lists host settings, scenario paths (not the name), version, workers and any lab settings', () => {
    const a = syntheticRecord();
    const b = syntheticRecord({ host: { tcpTwReuse: 0, portRange: [1024, 65535], kernel: '6.19' } });
    b.scenario = { ...b.scenario, name: 'renamed', thresholds: ['latency.p99 < 250'], connection: { ...b.scenario.connection, reuse: true } };
    b.scenario.load = [{ ...b.scenario.load[0]!, rate: 1200 } as RunRecord['scenario']['load'][number]];
    a.scenario.load = [{ ...a.scenario.load[0]!, rate: 800 } as RunRecord['scenario']['load'][number]];
    b.portstormVersion = '0.2.0';
    b.workers = 2;
    (b as unknown as { lab: unknown }).lab = { namespace: 'ps-lab', portRange: [40000, 40999] };
    const changes = compareRuns([a, b]).candidates[0]!.changes;
    const text = changes.map((c) => `${c.kind} ${c.path}: ${JSON.stringify(c.baseline)} → ${JSON.stringify(c.candidate)}`);
    assert.deepEqual(text, [
      'version portstormVersion: "0.1.0" → "0.2.0"',
      'host host.kernel: "6.18" → "6.19"',
      'host host.portRange: [32768,60999] → [1024,65535]',
      'host host.tcpTwReuse: 2 → 0',
      'scenario connection.reuse: false → true',
      'scenario load[0].rate: 800 → 1200',
      'scenario thresholds[0]: undefined → "latency.p99 < 250"',
      'run workers: 1 → 2',
      'lab lab.namespace: undefined → "ps-lab"',
      'lab lab.portRange[0]: undefined → 40000',
      'lab lab.portRange[1]: undefined → 40999',
    ]);
    assert.ok(!('baseline' in changes.find((c) => c.path === 'thresholds[0]')!), 'an absent side has no key');
  });

  it('warns when runs are not comparable: target, protocol, duration > 10 %, an unfinished run', () => {
    const base = syntheticRecord({ timeline: Array.from({ length: 10 }, (_, t) => entry(t)) });
    const other = syntheticRecord({ targetUrl: 'http://198.18.0.9:8080/', timeline: Array.from({ length: 12 }, (_, t) => entry(t)), status: 'interrupted' });
    other.scenario.protocol = 'tcp';
    const w = compareRuns([base, other]).warnings;
    assert.deepEqual(w.map((x) => x.kind), ['target', 'protocol', 'duration', 'status']);
    assert.match(w[0]!.message, /198\.18\.0\.2.*198\.18\.0\.9/);
    assert.match(w[2]!.message, /10\.0 s .* 12\.0 s/);
    // Built-in targets are one target whatever their ephemeral port; 5 % longer is comparable.
    const b1 = syntheticRecord({ builtin: true, targetUrl: 'http://127.0.0.1:41000/' });
    const b2 = syntheticRecord({ builtin: true, targetUrl: 'http://127.0.0.1:42000/' });
    b1.scenario.target = b2.scenario.target = 'builtin';
    b2.durationS = 10.5;
    assert.deepEqual(compareRuns([b1, b2]).warnings, []);
  });

  it('needs two runs', () => {
    assert.throws(() => compareRuns([syntheticRecord()]), RangeError);
  });
});

describe('fail-if rules', () => {
  const result = compareRuns([makeRun(REUSE_OFF), makeRun(REUSE_ON)]);
  const base = result.runs[0]!.figures;
  const cand = result.runs[1]!.figures;

  it('parses absolute and relative rules', () => {
    assert.deepEqual(parseFailIf('latency.p99 > +10%'), { rule: 'latency.p99 > +10%', metric: 'latency.p99', op: '>', value: 10, relative: true, anyCoverage: false });
    assert.deepEqual(parseFailIf('rate<-5%'), { rule: 'rate<-5%', metric: 'rate', op: '<', value: -5, relative: true, anyCoverage: false });
    assert.deepEqual(parseFailIf('latency.p99 > 250'), { rule: 'latency.p99 > 250', metric: 'latency.p99', op: '>', value: 250, relative: false, anyCoverage: false });
    assert.deepEqual(parseFailIf('latency.p99 > +10% any-coverage'), {
      rule: 'latency.p99 > +10% any-coverage', metric: 'latency.p99', op: '>', value: 10, relative: true, anyCoverage: true,
    });
    for (const r of ['errors.EADDRNOTAVAIL > 0', 'ports.peakUtilization > 0.8', 'errorRate > 0.01', 'connect.p99 > +20%', 'ports.peakTimeWait > +50%', 'exhaustion.firstAtS < 10', 'connectionRate != 0', 'errors.total >= 1']) {
      assert.equal(parseFailIf(r).rule, r);
    }
  });

  it('evaluates against the baseline: relative limits are baseline × (1 + N/100)', () => {
    const rules = ['rate < -5%', 'rate > +10%', 'latency.p99 < -50%', 'errors.EADDRNOTAVAIL > 0', 'exhaustion.firstAtS < 10', 'ports.peakUtilization > 0.8', 'latency.p99 > 250'];
    const out = evaluateFailIf(result, rules);
    assert.deepEqual(out.map((f) => [f.rule, f.holds]), [
      ['rate < -5%', false],
      ['rate > +10%', true],
      ['latency.p99 < -50%', true],
      ['errors.EADDRNOTAVAIL > 0', false],
      ['exhaustion.firstAtS < 10', false],
      ['ports.peakUtilization > 0.8', false],
      ['latency.p99 > 250', false],
    ]);
    const rate = out[1]!;
    assert.equal(rate.actual, cand.rate);
    assert.equal(rate.baseline, base.rate);
    assert.ok(Math.abs(rate.limit! - base.rate! * 1.1) < 1e-9);
    assert.equal(rate.candidate.name, 'run-12');
    assert.equal(out[4]!.actual, null, 'never exhausted: no value, the rule does not hold');
    // The other way round the baseline's exhaustion is the candidate's.
    const back = compareRuns([makeRun(REUSE_ON), makeRun(REUSE_OFF)]);
    assert.deepEqual(evaluateFailIf(back, ['errors.EADDRNOTAVAIL > 0', 'exhaustion.firstAtS < 10', 'ports.peakUtilization > 0.8']).map((f) => f.holds), [true, true, true]);
  });

  it('a malformed rule or unknown metric is a UsageError naming the rule', () => {
    const cases: Array<[string, RegExp]> = [
      ['latency.p99 >> 3', /--fail-if "latency\.p99 >> 3": expected a number or a signed percentage .* after >, got "> 3"/],
      ['latency.p98 > 1', /unknown field "p98" for latency/],
      ['throughput > 1', /unknown metric "throughput"/],
      ['latency.p99 > 10%', /a percentage needs a sign: \+10% or -10%/],
      ['latency.p99', /expected <metric> <op> <value>/],
      ['> 5', /expected a metric before >/],
      ['rate <', /expected a number or a signed percentage .* after </],
    ];
    for (const [rule, re] of cases) {
      assert.throws(() => parseFailIf(rule), (e: unknown) => e instanceof UsageError && re.test(e.message) && e.message.includes(JSON.stringify(rule)), rule);
    }
    assert.throws(() => evaluateFailIf(result, ['rate < -5%', 'bogus > 1']), UsageError);
  });
});

describe('compare renderers', () => {
  const result = compareRuns([makeRun(REUSE_OFF), makeRun(REUSE_ON)]);
  result.failIf = evaluateFailIf(result, ['rate > +10%']);

  it('text: changes first, markers, the noise note and fail-if', () => {
    const text = renderCompareText(result);
    assert.match(text, /connection\.reuse: false → true/);
    assert.ok(text.indexOf('What changed') < text.indexOf('completed/s'));
    assert.match(text, /completed\/s .*▲ better .*bootstrap p[=<][\d.]+ \(\d+\/10 s\), per-second mean \+\d+\.\d % \[\+\d+\.\d, \+\d+\.\d\]/);
    assert.match(text, /errors EADDRNOTAVAIL .*▲ better .*exact p<0\.0001, rate per request -100\.0 % \[-100\.0, -\d+\.\d\]/);
    assert.match(text, /latency p99\.9 .*· not tested\s+none/);
    assert.match(text, /Noise test/);
    assert.match(text, /HOLDS {2}rate > \+10% {2}run-12: actual /);
  });

  it('markdown: tables of changes and metrics, verdicts, noise test, fail-if', () => {
    const md = renderCompareMarkdown(result);
    assert.match(md, /^# portstorm compare: run-11 vs run-12/);
    assert.match(md, /\| scenario \| `connection\.reuse` \| `false` \| `true` \|/);
    assert.match(md, /\| metric \| baseline \| candidate \| Δ \| Δ % \| assessment \| test \|/);
    assert.match(md, /\| completed\/s \| .* \| ▲ better \|/);
    assert.match(md, /## Verdicts[\s\S]*client-port-exhaustion \(critical\)/);
    assert.match(md, /## Noise test/);
    assert.match(md, /❌ holds \| `rate > \+10%`/);
  });

  it('warnings come before the tables', () => {
    const a = syntheticRecord();
    const b = syntheticRecord({ targetUrl: 'http://198.18.0.9:8080/' });
    const text = renderCompareText(compareRuns([a, b]));
    assert.match(text, /WARNING: these runs may not be comparable\n {2}! different target/);
    assert.ok(text.indexOf('WARNING') < text.indexOf('completed/s'));
    assert.match(renderCompareMarkdown(compareRuns([a, b])), /> \[!WARNING\]/);
  });
});

describe('compareRuns: a failure that appears', () => {
  it('0 → thousands of EADDRNOTAVAIL over a few seconds is worse, judged exactly, not left to a low-power rank test', async () => {
    const { readFileSync } = await import('node:fs');
    const load = (name: string): RunRecord =>
      JSON.parse(readFileSync(new URL(`../../../test/fixtures/records/${name}.json`, import.meta.url), 'utf8')) as RunRecord;
    const r = compareRuns([load('healthy'), load('exhaustion')]);
    const m = metric(r, 'errors.EADDRNOTAVAIL');
    assert.deepEqual([m.baseline, m.assessment, m.test], [0, 'worse', 'exact']);
    assert.equal(metric(r, 'errorRate').assessment, 'worse');
    // Three ECONNRESET in about as many requests as the baseline's none: no real difference.
    const reset = metric(r, 'errors.ECONNRESET');
    assert.deepEqual([reset.baseline, reset.candidate, reset.test, reset.assessment], [0, 3, 'exact', 'within-noise']);
    assert.ok(reset.p! > 0.05);
  });
});
