/**
 * The HTML report opened in a real Chromium (test/helpers/chromium.ts has the lookup order)
 * driven by playwright-core, from file:// with no network. Screenshots go to
 * test-artifacts/report-<name>.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BrowserContext } from 'playwright-core';
import { startChromium, TIMEOUT } from '../helpers/chromium.js';
import type { RunRecord } from '../../src/record/types.js';
import { renderHtml } from '../../src/report/html.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/records/', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-report-'));
let context: BrowserContext | null = null;
/** Why no browser started (the tests then fail with it). */
let noBrowser = 'the browser was not started';

function fixture(name: string): RunRecord {
  return JSON.parse(readFileSync(path.join(FIX, `${name}.json`), 'utf8')) as RunRecord;
}

/** A record with every optional part gone: monitor off, no sockets, no port budget, no completions. */
function bare(): RunRecord {
  const r = fixture('healthy');
  r.scenario.name = 'bare </script><script>window.__pwned = 1</script>';
  r.monitor = { ...r.monitor, enabled: false, source: null, unavailable: {}, baseline: null };
  r.ports = null;
  r.destinations = [];
  r.host.usablePorts = null;
  for (const e of r.timeline) {
    e.sockets = null;
    e.counters = null;
    e.completed = 0;
    e.latencyMs = { p50: 0, p90: 0, p99: 0, max: 0 };
    e.connectMs = { p50: 0, p99: 0 };
  }
  delete r.exhaustion;
  delete r.diagnosis;
  return r;
}

interface ChartInfo {
  id: string | null;
  series: number;
  points: number;
  seriesWithData: number;
  markers: string | null;
  painted: number;
  colours: number;
}

interface PageResult {
  charts: ChartInfo[];
  errors: string[];
  requests: string[];
  text: string;
  pwned: boolean;
}

/** Runs in the page (plain JS: the test build has no DOM types): per chart, its data and canvas. */
const MEASURE = `window.__portstorm.charts.map(function (u) {
  var cv = u.ctx.canvas;
  var img = u.ctx.getImageData(0, 0, cv.width, cv.height).data;
  var painted = 0, colours = new Set();
  for (var i = 0; i < img.length; i += 4) {
    if (img[i + 3] > 0) {
      painted++;
      if (colours.size < 64) colours.add((img[i] << 16) | (img[i + 1] << 8) | img[i + 2]);
    }
  }
  var ys = u.data.slice(1);
  return {
    id: u.root.getAttribute('data-chart'),
    series: ys.length,
    points: u.data[0].length,
    seriesWithData: ys.filter(function (s) { return s.some(function (v) { return v !== null && v !== undefined; }); }).length,
    markers: u.root.getAttribute('data-markers'),
    painted: painted / (cv.width * cv.height),
    colours: colours.size,
  };
})`;

/** Writes the report, opens it, waits for the charts and measures them. */
async function openReport(name: string, record: RunRecord): Promise<PageResult> {
  assert.ok(context, noBrowser);
  const file = path.join(tmp, `report-${name}.html`);
  writeFileSync(file, renderHtml(record));
  const page = await context.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`page: ${err.message}`));
  page.on('request', (req) => requests.push(req.url()));
  try {
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load', timeout: TIMEOUT });
    await page.waitForFunction('window.__portstorm !== undefined && window.__portstorm.ready === true', null, { timeout: 15_000 });
    const charts = (await page.evaluate(MEASURE)) as ChartInfo[];
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, `report-${name}.png`), fullPage: true, timeout: TIMEOUT });
    const text = (await page.evaluate('document.body.innerText')) as string;
    const pwned = (await page.evaluate("'__pwned' in window")) as boolean;
    return { charts, errors, requests, text, pwned };
  } finally {
    await page.close();
  }
}

function assertCommon(res: PageResult, record: RunRecord): void {
  assert.deepEqual(res.errors, [], 'no console or page errors');
  assert.deepEqual(
    res.requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:')),
    [],
    'nothing is fetched from the network',
  );
  assert.ok(res.charts.length >= 3 && res.charts.length <= 4, `3-4 charts, got ${res.charts.length}`);
  assert.deepEqual(
    res.charts.map((c) => c.id),
    ['requests', 'latency', 'sockets'],
  );
  for (const c of res.charts) assert.equal(c.points, record.timeline.length, `${c.id}: one x value per timeline second`);
  assert.equal(res.pwned, false);
}

describe('HTML report in Chromium', { timeout: 120_000 }, () => {
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

  for (const name of ['healthy', 'exhaustion']) {
    it(`draws the ${name} record`, { timeout: TIMEOUT }, async () => {
      const record = fixture(name);
      const res = await openReport(name, record);
      assertCommon(res, record);
      for (const c of res.charts) {
        assert.ok(c.seriesWithData >= 1, `${c.id}: at least one series with data`);
        // Not blank: axes, grid and lines paint a few per cent of the canvas in several colours.
        assert.ok(c.painted > 0.01, `${c.id}: canvas painted ${(c.painted * 100).toFixed(2)} %`);
        assert.ok(c.colours >= 4, `${c.id}: ${c.colours} colours on the canvas`);
      }
      assert.ok(res.text.includes(record.scenario.name));
      assert.ok(res.text.includes(record.runId));
      if (name === 'exhaustion') {
        for (const c of res.charts) assert.deepEqual(c.markers?.split(' ').sort(), ['early-warning', 'onset', 'predicted'], `${c.id} markers`);
        assert.match(res.text, /Markers: early warning at 4\.0 s · predicted at 5\.5 s · onset at 6\.0 s/);
        assert.ok(res.text.includes('Client port exhaustion'));
        assert.ok(res.text.includes('Onset (first exhaustion error)'));
        const sockets = res.charts.find((c) => c.id === 'sockets')!;
        assert.equal(sockets.seriesWithData, sockets.series, 'every socket series has data');
      } else {
        for (const c of res.charts) assert.equal(c.markers, '', `${c.id}: no markers without exhaustion`);
      }
    });
  }

  it('draws a record with the monitor off and no completions without errors', { timeout: TIMEOUT }, async () => {
    const record = bare();
    const res = await openReport('bare', record);
    assertCommon(res, record);
    const byId = Object.fromEntries(res.charts.map((c) => [c.id, c]));
    assert.ok(byId.requests.seriesWithData >= 1);
    assert.equal(byId.latency.seriesWithData, 0, 'zero latencies of empty seconds are gaps, not points');
    assert.equal(byId.sockets.seriesWithData, 0, 'null sockets are gaps, not zeros');
    assert.ok(res.text.includes('The monitor was off for this run'));
    assert.ok(res.text.includes(record.scenario.name), 'the hostile name is shown as text');
  });
});
