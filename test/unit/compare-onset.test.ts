/**
 * `compare` on runs that change state (issue 14 item 7): ports run out at an onset, so per-second
 * samples are neither independent nor identically distributed. Synthetic records shaped like the lab's
 * `lab-exhaustion` (250/s, 1 000 ports: onset at 4 s) against `keep-alive-fix`; same-scenario pairs
 * drawn as AR(1) series; latency figures over different populations and the `--fail-if` opt-in; the
 * warning for a run that started on earlier TIME_WAIT.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyzeExhaustion } from '../../src/analysis/exhaustion.js';
import { compareRuns, leftoverTimeWait } from '../../src/compare/compare.js';
import { evaluateFailIf, parseFailIf } from '../../src/compare/rules.js';
import { mulberry32 } from '../../src/compare/stats.js';
import type { CompareResult, MetricComparison } from '../../src/compare/types.js';
import { UsageError } from '../../src/errors.js';
import type { BaselineDestination, RunRecord, TimelineEntry } from '../../src/record/types.js';
import { renderCompareHtml } from '../../src/report/compare-html.js';
import { renderCompareMarkdown } from '../../src/report/compare-markdown.js';
import { renderCompareText } from '../../src/report/compare-text.js';
import { entry, sockets, syntheticRecord } from '../helpers/synthetic-record.js';

const USABLE = 1000;
const metric = (r: CompareResult, key: string, cand = 0): MetricComparison => {
  const m = r.candidates[cand]!.metrics.find((x) => x.key === key);
  assert.ok(m, `metric ${key} missing`);
  return m;
};

/** 250 new connections/s, the client closing first: 1 000 ports last 4 s, then every connect fails. */
function exhaustionRun(seed: number, seconds = 9, onset = 4): RunRecord {
  const u = mulberry32(seed);
  const timeline: TimelineEntry[] = [];
  for (let t = 0; t < seconds; t++) {
    const ok = t < onset;
    const tw = Math.min(USABLE, 250 * (t + 1));
    timeline.push(
      entry(t, {
        attempted: 250,
        completed: ok ? 250 : 0,
        failed: ok ? 0 : 250,
        errors: ok ? {} : { EADDRNOTAVAIL: 250 },
        connectionsOpened: ok ? 250 : 0,
        latencyMs: ok ? { p50: 0.5 + 0.05 * u(), p90: 0.7 + 0.1 * u(), p99: 2.4 + 0.4 * u(), max: 5 + u() } : { p50: 0, p90: 0, p99: 0, max: 0 },
        sockets: sockets({ timeWait: tw, ephemeralInUse: tw, utilization: tw / USABLE }),
      }),
    );
  }
  const r = syntheticRecord({ timeline, host: { usablePorts: USABLE } });
  r.runId = `exhaustion-${seed}`;
  r.latencyMs = { ...r.latencyMs, p99: 2.6 };
  return r;
}

/** The same load over a keep-alive pool of 20 connections. */
function keepAliveRun(seed: number, seconds = 9): RunRecord {
  const u = mulberry32(seed);
  const timeline = Array.from({ length: seconds }, (_, t) => {
    const n = 249 + Math.round(2 * u());
    return entry(t, {
      attempted: n,
      completed: n,
      connectionsOpened: t === 0 ? 20 : 0,
      latencyMs: { p50: 0.2 + 0.05 * u(), p90: 0.3 + 0.1 * u(), p99: 1.6 + 0.5 * u(), max: 5 + u() },
      sockets: sockets({ timeWait: 0, ephemeralInUse: 20, utilization: 20 / USABLE, established: 20 }),
    });
  });
  const r = syntheticRecord({ timeline, host: { usablePorts: USABLE }, connection: { reuse: true, poolSize: 20 } });
  r.runId = `keep-alive-${seed}`;
  return r;
}

describe('compare: the keep-alive fix against the exhaustion it fixes', () => {
  const base = exhaustionRun(1);
  const cand = keepAliveRun(2);
  const result = compareRuns([base, cand]);

  it('reads "better" where Mann–Whitney said "within noise"', () => {
    const rate = metric(result, 'rate');
    assert.ok(rate.deltaPct! > 90, JSON.stringify(rate));
    assert.deepEqual([rate.test, rate.assessment], ['bootstrap', 'better'], JSON.stringify(rate));
    assert.match(rate.note!, /split at the onset/);
    assert.ok(rate.effect!.pct!.low > 50, `the whole interval is a gain: ${JSON.stringify(rate.effect)}`);
    const conn = metric(result, 'connectionRate');
    assert.deepEqual([conn.test, conn.assessment], ['bootstrap', 'better'], JSON.stringify(conn));
    assert.ok(conn.effect!.pct!.high < -90, JSON.stringify(conn.effect));
    const errors = metric(result, 'errors.EADDRNOTAVAIL');
    assert.deepEqual([errors.test, errors.assessment], ['exact', 'better']);
    assert.equal(metric(result, 'exhaustion.firstAtS').assessment, 'better');
  });

  it('the reverse order is worse on the same metrics', () => {
    const back = compareRuns([keepAliveRun(2), exhaustionRun(1)]);
    for (const key of ['rate', 'connectionRate', 'errors.EADDRNOTAVAIL', 'errorRate', 'exhaustion.firstAtS']) {
      assert.equal(metric(back, key).assessment, 'worse', key);
    }
  });

  it('shows latency over different populations as such and leaves it inconclusive', () => {
    const p99 = metric(result, 'latency.p99');
    assert.deepEqual(p99.coverage, { baseline: 4 / 9, candidate: 1, differs: true });
    assert.equal(p99.assessment, 'inconclusive');
    assert.match(p99.note!, /^p99 of 44 % of attempts → of 100 %: different populations/);
    assert.match(renderCompareText(result), /latency p99 .*p99 of 44 % of attempts → of 100 %/);
    // Connect latency: 1 000 connects opened and 1 250 failed (EADDRNOTAVAIL) against 20 of 20.
    assert.deepEqual(metric(result, 'connect.p99').coverage, { baseline: 1000 / 2250, candidate: 1, differs: true });
    // Same populations: no coverage note.
    const same = compareRuns([keepAliveRun(3), keepAliveRun(4)]);
    assert.deepEqual(metric(same, 'latency.p99').coverage, { baseline: 1, candidate: 1, differs: false });
    assert.doesNotMatch(metric(same, 'latency.p99').note ?? '', /populations/);
  });

  it('the README gate passes the fix and fails the reverse; a latency rule over different populations needs any-coverage', () => {
    const gate = ['latency.p99 > +10%', 'errors.EADDRNOTAVAIL > 0'];
    // Make the fix's p99 higher than the exhaustion's (as in the issue): the rule still must not trip.
    const fix = keepAliveRun(2);
    fix.latencyMs = { ...fix.latencyMs, p99: 3.5 };
    const forward = evaluateFailIf(compareRuns([exhaustionRun(1), fix]), gate);
    assert.deepEqual(forward.map((f) => f.holds), [false, false]);
    assert.match(forward[0]!.skipped!, /^not applied: p99 of 44 % of attempts → of 100 %, different populations \(end the rule in any-coverage/);
    assert.equal(forward[1]!.skipped, null);
    const reverse = evaluateFailIf(compareRuns([fix, exhaustionRun(1)]), gate);
    assert.deepEqual(reverse.map((f) => f.holds), [false, true]);
    // Opting in applies the rule to the figures as they are.
    const opted = evaluateFailIf(compareRuns([exhaustionRun(1), fix]), ['latency.p99 > +10% any-coverage']);
    assert.deepEqual([opted[0]!.holds, opted[0]!.skipped], [true, null]);
    // Runs with the same coverage: the plain rule applies and can fail.
    const slower = keepAliveRun(5);
    slower.latencyMs = { ...slower.latencyMs, p99: 3.5 };
    assert.deepEqual(evaluateFailIf(compareRuns([keepAliveRun(4), slower]), ['latency.p99 > +10%']).map((f) => [f.holds, f.skipped]), [[true, null]]);
    // Only latency rules take the suffix.
    assert.throws(() => parseFailIf('rate < -5% any-coverage'), (e: unknown) => e instanceof UsageError && /any-coverage applies to latency/.test(e.message));
  });

  it('every renderer says when a rule was not applied, and shows the effect interval', () => {
    const runs = [exhaustionRun(1), keepAliveRun(2)];
    const res = compareRuns(runs);
    res.failIf = evaluateFailIf(res, ['latency.p99 > +10%', 'errors.EADDRNOTAVAIL > 0']);
    const text = renderCompareText(res);
    assert.match(text, /skip {3}latency\.p99 > \+10% .*not applied: p99 of 44 % of attempts → of 100 %/);
    assert.match(text, /ok {5}errors\.EADDRNOTAVAIL > 0/);
    assert.match(text, /completed\/s .*per-second mean \+\d+\.\d % \[\+\d+\.\d, \+\d+\.\d\]/);
    const md = renderCompareMarkdown(res);
    assert.match(md, /\| ⏭️ not applied: p99 of 44 % of attempts → of 100 %, different populations .*\| `latency\.p99 > \+10%` \|/);
    const html = renderCompareHtml(runs, res);
    assert.match(html, /<span class="badge ok" title="not applied: p99 of 44 % of attempts[^"]*">not applied<\/span>/);
    assert.match(html, /<tr data-metric="rate">.*title="test: bootstrap; p = [^"]*change per-second mean \+[\d.]+ % \[[^"]*\] \(95 %\)"/);
  });

  it('is reproducible: the same records give the same document', () => {
    assert.equal(JSON.stringify(compareRuns([exhaustionRun(1), keepAliveRun(2)])), JSON.stringify(result));
  });
});

describe('compare: two runs of one scenario', () => {
  it('two exhaustion runs whose onsets differ by a fraction of a second are the same', () => {
    const a = exhaustionRun(10);
    const b = exhaustionRun(11);
    b.exhaustion = { ...analyzeExhaustion(b), firstAtS: 4.3 };
    const r = compareRuns([a, b]);
    const tested = r.candidates[0]!.metrics.filter((m) => m.assessment === 'better' || m.assessment === 'worse');
    assert.deepEqual(tested.map((m) => m.key), [], JSON.stringify(tested));
    const onset = metric(r, 'exhaustion.firstAtS');
    assert.equal(onset.assessment, 'within-noise');
    assert.match(onset.note!, /0\.3 s apart, within the tolerance of 0\.5 s/);
    // A "warning" at the onset itself warned of nothing: one run having it is no difference.
    b.exhaustion = { ...analyzeExhaustion(b), firstAtS: 4.3, earlyWarningAtS: 4 };
    const warn = metric(compareRuns([a, b]), 'exhaustion.earlyWarningAtS');
    assert.deepEqual([warn.baseline, warn.candidate, warn.assessment], [null, 4, 'within-noise']);
    assert.match(warn.note!, /came with the onset counts as none/);
    b.exhaustion = { ...analyzeExhaustion(b), firstAtS: 4.3, earlyWarningAtS: 2 };
    assert.equal(metric(compareRuns([a, b]), 'exhaustion.earlyWarningAtS').assessment, 'worse', 'an earlier warning is worse');
    // A warning at 0.4 % port utilization in a run that never ran out is a latency blip, not a change.
    const calm = keepAliveRun(20);
    const blip = keepAliveRun(21);
    blip.exhaustion = { ...analyzeExhaustion(blip), earlyWarningAtS: 4, utilizationAtWarning: 0.004 };
    const blipped = metric(compareRuns([calm, blip]), 'exhaustion.earlyWarningAtS');
    assert.deepEqual([blipped.candidate, blipped.assessment], [4, 'within-noise']);
    assert.match(blipped.note!, /at 0\.4 % port utilization \(below 25 %\)/);
    // Two seconds apart is a change (a later onset is better).
    b.exhaustion = { ...analyzeExhaustion(b), firstAtS: 6 };
    assert.equal(metric(compareRuns([a, b]), 'exhaustion.firstAtS').assessment, 'better');
  });

  it('AR(1) per-second series with the same mean: no metric differs in at least 90 % of 20 seeded pairs', () => {
    const run = (seed: number): RunRecord => {
      const u = mulberry32(seed);
      const g = () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
      const phi = 0.5;
      let x = g() / Math.sqrt(1 - phi * phi);
      let y = g() / Math.sqrt(1 - phi * phi);
      const timeline = Array.from({ length: 32 }, (_, t) => {
        x = phi * x + g();
        y = phi * y + g();
        const n = Math.max(0, Math.round(200 + 8 * x));
        const util = Math.max(0, 0.3 + 0.02 * y);
        return entry(t, {
          attempted: n,
          completed: n,
          connectionsOpened: n,
          latencyMs: { p50: 0.5 * Math.exp(0.1 * y), p90: 1 * Math.exp(0.1 * y), p99: 2 * Math.exp(0.1 * x), max: 5 * Math.exp(0.1 * x) },
          connectMs: { p50: 0.01 * Math.exp(0.1 * x), p99: 0.05 * Math.exp(0.1 * y) },
          sockets: sockets({ timeWait: Math.round(util * USABLE), utilization: util }),
        });
      });
      const r = syntheticRecord({ timeline, host: { usablePorts: USABLE } });
      r.runId = `ar1-${seed}`;
      return r;
    };
    let flagged = 0;
    let shiftFound = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const r = compareRuns([run(seed), run(seed + 500)]);
      const hits = r.candidates[0]!.metrics.filter((m) => m.assessment === 'better' || m.assessment === 'worse');
      if (hits.length > 0) flagged++;
      // The test can fail: 15 % more completed/s (about 4 standard errors) is found.
      const more = run(seed + 500);
      for (const e of more.timeline) e.completed = e.attempted = Math.round(e.completed * 1.15);
      more.totals.completed = more.totals.attempted = more.timeline.reduce((s, e) => s + e.completed, 0);
      if (metric(compareRuns([run(seed), more]), 'rate').assessment === 'better') shiftFound++;
    }
    assert.ok(flagged <= 2, `${flagged} of 20 same-mean pairs showed a difference`);
    assert.ok(shiftFound >= 18, `a 15 % rise found in ${shiftFound} of 20`);
  });
});

describe('compare: a run that started on earlier TIME_WAIT', () => {
  const dest = (over: Partial<BaselineDestination>): BaselineDestination => ({
    dest: '198.18.0.2:8080', own: true, inUse: 0, timeWait: 0, timeWaitExpiry: null, ...over,
  });
  const withBaseline = (byDestination: BaselineDestination[] | undefined, usable: number | null = USABLE): RunRecord => {
    const r = keepAliveRun(7);
    r.monitor.baseline = { timeWait: 400, ephemeralInUse: 400, ...(byDestination ? { byDestination } : {}) };
    r.ports = { ...r.ports!, usable };
    r.host = { ...r.host, usablePorts: usable };
    return r;
  };

  it('warns when more than 5 % of an own destination\'s budget was held, saying when it frees', () => {
    const expiry = new Array<number>(60).fill(0);
    expiry[41] = 300;
    expiry[57] = 12;
    const cand = withBaseline([dest({ timeWait: 312, timeWaitExpiry: expiry }), dest({ dest: '10.0.0.9:5432', own: false, timeWait: 900 })]);
    const r = compareRuns([keepAliveRun(8), cand]);
    const w = r.warnings.filter((x) => x.kind === 'leftover-time-wait');
    assert.equal(w.length, 1, JSON.stringify(r.warnings));
    assert.equal(
      w[0]!.message,
      'keep-alive-7 started with 312 TIME_WAIT toward 198.18.0.2:8080 left by earlier traffic (31 % of its 1 000 usable ports; the last of them frees its port 58 s into the run): its ports run out sooner than from a clean start',
    );
    assert.match(renderCompareText(r), /! keep-alive-7 started with 312 TIME_WAIT/);
    // The baseline is checked too.
    assert.match(compareRuns([cand, keepAliveRun(8)]).warnings.map((x) => x.message).join('\n'), /^baseline started with 312 TIME_WAIT/m);
  });

  it('stays quiet at 5 % or less, for other destinations, and for records without the per-destination baseline', () => {
    assert.deepEqual(leftoverTimeWait(withBaseline([dest({ timeWait: 50 })]), 'x'), []);
    assert.equal(leftoverTimeWait(withBaseline([dest({ timeWait: 51 })]), 'x').length, 1);
    assert.deepEqual(leftoverTimeWait(withBaseline([dest({ own: false, timeWait: 900 })]), 'x'), []);
    // Older records: only the host-wide count (400 here), which cannot say whose budget it ate.
    assert.deepEqual(leftoverTimeWait(withBaseline(undefined), 'x'), []);
    assert.deepEqual(leftoverTimeWait(withBaseline([dest({ timeWait: 900 })], null), 'x'), []);
  });
});
