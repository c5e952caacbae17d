/**
 * The HTML comparison opened in a real Chromium (test/helpers/chromium.ts has the lookup order)
 * driven by playwright-core, from file:// with no network. The two fixture records are compared with the real compareRuns (healthy as the baseline, exhaustion as the candidate). The
 * screenshot goes to test-artifacts/compare.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BrowserContext } from 'playwright-core';
import { startChromium, TIMEOUT } from '../helpers/chromium.js';
import { compareRuns } from '../../src/compare/compare.js';
import { evaluateFailIf } from '../../src/compare/rules.js';
import type { RunRecord } from '../../src/record/types.js';
import { BASELINE_COLOR, renderCompareHtml } from '../../src/report/compare-html.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/records/', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
const CHART_IDS = ['completed', 'failed', 'latency-p99', 'time-wait', 'utilization'];

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-compare-'));
let context: BrowserContext | null = null;
/** Why no browser started (the tests then fail with it). */
let noBrowser = 'the browser was not started';

function fixture(name: string): RunRecord {
  return JSON.parse(readFileSync(path.join(FIX, `${name}.json`), 'utf8')) as RunRecord;
}

interface ChartInfo {
  id: string | null;
  labels: string[];
  strokes: string[];
  points: number;
  /** Per run series: how many x values have a value. */
  values: number[];
  markers: string | null;
  painted: number;
  colours: number;
  /** Pixels of the plot area painted in each run's colour (its line or marker is visible). */
  runPixels: number[];
  width: number;
}

interface PageResult {
  charts: ChartInfo[];
  synced: boolean;
  errors: string[];
  requests: string[];
  text: string;
  pwned: boolean;
}

/** Runs in the page (plain JS: the test build has no DOM types): per chart, its series, data and canvas. */
const MEASURE = `(function () {
  function rgb(hex) { var n = parseInt(hex.slice(1), 16); return [(n >> 16) & 255, (n >> 8) & 255, n & 255]; }
  return window.__portstormCompare.charts.map(function (u) {
    var cv = u.ctx.canvas;
    var img = u.ctx.getImageData(0, 0, cv.width, cv.height).data;
    var painted = 0, colours = new Set();
    var runs = u.series.slice(1).map(function (s) { return rgb(s.stroke()); });
    var runPixels = runs.map(function () { return 0; });
    for (var i = 0; i < img.length; i += 4) {
      if (img[i + 3] > 0) {
        painted++;
        if (colours.size < 64) colours.add((img[i] << 16) | (img[i + 1] << 8) | img[i + 2]);
        for (var k = 0; k < runs.length; k++) {
          var c = runs[k];
          if (Math.abs(img[i] - c[0]) + Math.abs(img[i + 1] - c[1]) + Math.abs(img[i + 2] - c[2]) < 24) runPixels[k]++;
        }
      }
    }
    return {
      id: u.root.getAttribute('data-chart'),
      labels: u.series.slice(1).map(function (s) { return s.label; }),
      strokes: u.series.slice(1).map(function (s) { return s.stroke(); }),
      points: u.data[0].length,
      values: u.data.slice(1).map(function (s) { return s.filter(function (v) { return v !== null && v !== undefined; }).length; }),
      markers: u.root.getAttribute('data-markers'),
      painted: painted / (cv.width * cv.height),
      colours: colours.size,
      runPixels: runPixels,
      width: u.width,
    };
  });
})()`;

/** After the mouse moved over the first chart: every chart's cursor is on the same x. */
const SYNCED = `(function () {
  var cs = window.__portstormCompare.charts;
  var idx = cs[0].cursor.idx;
  return idx !== null && idx !== undefined && cs.every(function (c) { return c.cursor.idx === idx; });
})()`;

/** Writes the comparison, opens it, waits for the charts and measures them. */
async function openCompare(name: string, runs: RunRecord[], screenshot: string | null): Promise<PageResult> {
  assert.ok(context, noBrowser);
  const result = compareRuns(runs);
  result.failIf = evaluateFailIf(result, ['errorRate > 0.01', 'latency.p99 > +10%']);
  const file = path.join(tmp, `compare-${name}.html`);
  writeFileSync(file, renderCompareHtml(runs, result));
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`page: ${err.message}`));
  page.on('request', (req) => requests.push(req.url()));
  try {
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load', timeout: TIMEOUT });
    await page.waitForFunction('window.__portstormCompare !== undefined && window.__portstormCompare.ready === true', null, { timeout: 15_000 });
    const charts = (await page.evaluate(MEASURE)) as ChartInfo[];
    if (screenshot) {
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, screenshot), fullPage: true, timeout: TIMEOUT });
    }
    const plot = page.locator('#chart-completed .u-over');
    await plot.scrollIntoViewIfNeeded({ timeout: TIMEOUT });
    const over = await plot.boundingBox({ timeout: TIMEOUT });
    assert.ok(over, 'the first chart has a plot area');
    await page.mouse.move(over.x + over.width / 2, over.y + over.height / 2);
    const synced = (await page.evaluate(SYNCED)) as boolean;
    const text = (await page.evaluate('document.body.innerText')) as string;
    const pwned = (await page.evaluate("'__pwned' in window")) as boolean;
    return { charts, synced, errors, requests, text, pwned };
  } finally {
    await page.close();
  }
}

function assertCommon(res: PageResult, runs: RunRecord[]): void {
  assert.deepEqual(res.errors, [], 'no console or page errors');
  assert.deepEqual(
    res.requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:')),
    [],
    'nothing is fetched from the network',
  );
  assert.deepEqual(res.charts.map((c) => c.id), CHART_IDS);
  const longest = Math.max(...runs.map((r) => r.timeline.length));
  for (const c of res.charts) {
    assert.equal(c.labels.length, runs.length, `${c.id}: one series per run`);
    assert.equal(c.points, longest, `${c.id}: one relative time axis as long as the longest run`);
    assert.ok(c.width >= 320, `${c.id}: laid out`);
    // Not blank: axes, grid and lines paint a few per cent of the canvas in several colours.
    assert.ok(c.painted > 0.01, `${c.id}: canvas painted ${(c.painted * 100).toFixed(2)} %`);
    assert.ok(c.colours >= 4, `${c.id}: ${c.colours} colours on the canvas`);
  }
  assert.ok(res.synced, 'the cursor is synced across the charts');
  assert.equal(res.pwned, false);
}

describe('HTML comparison in Chromium', { timeout: 120_000 }, () => {
  before(async () => {
    const started = await startChromium(path.join(tmp, 'profile'));
    context = started.context;
    if (started.error !== null) noBrowser = started.error;
  });

  after(async () => {
    await context?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('has a Chromium (PORTSTORM_CHROMIUM, system, or the npm devDependency)', () => {
    assert.ok(context, noBrowser);
  });

  it('overlays the baseline and the candidate on one relative time axis', { timeout: TIMEOUT * 2 }, async () => {
    const runs = [fixture('healthy'), fixture('exhaustion')];
    const res = await openCompare('fixtures', runs, 'compare.png');
    assertCommon(res, runs);
    const labels = [runs[0].runId, 'narrow port range'];
    for (const c of res.charts) {
      assert.deepEqual(c.labels, labels, `${c.id}: each run labelled`);
      assert.equal(c.strokes[0], BASELINE_COLOR, `${c.id}: baseline in the neutral colour`);
      assert.notEqual(c.strokes[1], c.strokes[0], `${c.id}: the candidate in its own colour`);
      // The exhaustion candidate's onset (6 s), in its colour; the healthy baseline has none.
      assert.equal(c.markers, 'onset-1', `${c.id}: the candidate's onset is marked`);
    }
    const byId = Object.fromEntries(res.charts.map((c) => [c.id, c]));
    for (const id of ['completed', 'failed', 'latency-p99', 'time-wait', 'utilization']) {
      assert.ok(byId[id].values[1] > 0, `${id}: the candidate has data`);
      assert.ok(byId[id].runPixels[1] > 20, `${id}: the candidate is drawn (${byId[id].runPixels[1]} px)`);
    }
    for (const id of ['completed', 'failed', 'latency-p99', 'time-wait']) {
      assert.ok(byId[id].values[0] > 0, `${id}: the baseline has data`);
      assert.ok(byId[id].runPixels[0] > 20, `${id}: the baseline is drawn (${byId[id].runPixels[0]} px)`);
    }
    // The shorter baseline (9 s) is padded with gaps to the candidate's 12 s.
    assert.equal(byId.completed.values[0], runs[0].timeline.length);
    assert.equal(byId.completed.values[1], runs[1].timeline.length);
    // Texts from the CompareResult.
    assert.ok(res.text.includes('What changed'));
    assert.ok(res.text.includes('Key figures'));
    assert.ok(res.text.includes('Client port exhaustion'));
    assert.match(res.text, /Exhaustion onset: narrow port range at 6\.0 s/);
    assert.ok(res.text.includes('errorRate > 0.01'));
    assert.ok(res.text.includes(runs[0].runId) && res.text.includes(runs[1].runId));
  });

  it('draws three runs of different lengths with a hostile label without errors', { timeout: TIMEOUT * 2 }, async () => {
    const a = fixture('healthy');
    const b = fixture('exhaustion');
    const c = fixture('healthy');
    c.runId = 'third';
    c.label = '</script><script>window.__pwned = 1</script><b>x</b>';
    c.timeline = c.timeline.slice(0, 4);
    for (const en of c.timeline) en.sockets = null;
    const runs = [a, b, c];
    const res = await openCompare('three', runs, null);
    assertCommon(res, runs);
    for (const ch of res.charts) {
      assert.equal(ch.labels[2], c.label, `${ch.id}: the hostile label is shown as text`);
      assert.equal(new Set(ch.strokes).size, 3, `${ch.id}: three colours`);
    }
    const byId = Object.fromEntries(res.charts.map((ch) => [ch.id, ch]));
    assert.equal(byId.completed.values[2], 4, 'the short run stops after 4 s');
    assert.equal(byId['time-wait'].values[2], 0, 'no socket data: gaps, not zeros');
    assert.ok(res.text.includes(c.label), 'the label is shown as text');
  });
});
