/**
 * HTTPS runs in Chromium (test/helpers/chromium.ts has the lookup order), from file:// with no
 * network: the run report draws the handshake and lookup series on the latency chart, handshakes/s
 * beside the requests, and a CPU chart; the comparison overlays the handshake p99. Screenshots go
 * to test-artifacts/report-https.png and compare-https.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BrowserContext } from 'playwright-core';
import { readAnalysedRun } from '../../src/analysis/analysed-run.js';
import { compareRuns } from '../../src/compare/compare.js';
import type { RunRecord } from '../../src/record/types.js';
import { renderCompareHtml } from '../../src/report/compare-html.js';
import { renderHtml } from '../../src/report/html.js';
import { startChromium, TIMEOUT } from '../helpers/chromium.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/records/', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-report-tls-'));
let context: BrowserContext | null = null;
let noBrowser = 'the browser was not started';

interface Series {
  label: string;
  points: number;
}
interface ChartInfo {
  id: string | null;
  series: Series[];
  painted: number;
}
interface PageResult {
  charts: ChartInfo[];
  errors: string[];
  requests: string[];
  text: string;
}

/** Runs in the page: per chart, its series (label, points with data) and how much of the canvas is painted. */
const measure = (global: string) => `window.${global}.charts.map(function (u) {
  var cv = u.ctx.canvas;
  var img = u.ctx.getImageData(0, 0, cv.width, cv.height).data;
  var painted = 0;
  for (var i = 3; i < img.length; i += 4) if (img[i] > 0) painted++;
  return {
    id: u.root.getAttribute('data-chart'),
    series: u.series.slice(1).map(function (s, i) {
      return { label: s.label, points: u.data[i + 1].filter(function (v) { return v !== null && v !== undefined; }).length };
    }),
    painted: painted / (cv.width * cv.height),
  };
})`;

async function open(name: string, html: string, global: string): Promise<PageResult> {
  assert.ok(context, noBrowser);
  const file = path.join(tmp, `${name}.html`);
  writeFileSync(file, html);
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
    await page.waitForFunction(`window.${global} !== undefined && window.${global}.ready === true`, null, { timeout: 15_000 });
    const charts = (await page.evaluate(measure(global))) as ChartInfo[];
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true, timeout: TIMEOUT });
    const text = (await page.evaluate('document.body.innerText')) as string;
    return { charts, errors, requests, text };
  } finally {
    await page.close();
  }
}

function clean(res: PageResult): void {
  assert.deepEqual(res.errors, [], 'no console or page errors');
  assert.deepEqual(res.requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:')), [], 'nothing is fetched from the network');
}

const withData = (c: ChartInfo, label: string): number => {
  const s = c.series.find((x) => x.label === label);
  assert.ok(s, `${c.id}: no series ${label} among ${c.series.map((x) => x.label).join(', ')}`);
  return s.points;
};

describe('HTTPS reports in Chromium', { timeout: 120_000 }, () => {
  let record: RunRecord;

  before(async () => {
    record = await readAnalysedRun(`${FIX}https.json`);
    const started = await startChromium(path.join(tmp, 'profile'));
    context = started.context;
    if (started.error !== null) noBrowser = started.error;
  });

  after(async () => {
    await context?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('the run report: handshake and lookup series, handshakes/s, a CPU chart, the TLS and DNS card', { timeout: TIMEOUT }, async () => {
    const res = await open('report-https', renderHtml(record), '__portstorm');
    clean(res);
    assert.deepEqual(res.charts.map((c) => c.id), ['requests', 'latency', 'sockets', 'cpu']);
    const seconds = record.timeline.length;
    const [requests, latency, , cpu] = res.charts as [ChartInfo, ChartInfo, ChartInfo, ChartInfo];
    assert.equal(withData(requests, 'TLS handshakes/s'), seconds);
    for (const code of ['EAI_AGAIN/s', 'TLS_HANDSHAKE_TIMEOUT/s']) assert.equal(withData(requests, code), seconds, 'errors by code, TLS and DNS codes included');
    const withHandshakes = record.timeline.filter((e) => (e.tlsHandshakes ?? 0) > 0).length;
    for (const label of ['handshake p50', 'handshake p99', 'lookup p99']) assert.equal(withData(latency, label), withHandshakes, label);
    assert.equal(withData(cpu, 'portstorm process'), seconds);
    assert.equal(withData(cpu, 'whole host'), seconds - 1, 'an unreadable host second is a gap');
    assert.equal(withData(cpu, 'host CPUs'), seconds);
    for (const c of res.charts) assert.ok(c.painted > 0.01, `${c.id}: canvas painted ${(c.painted * 100).toFixed(2)} %`);
    for (const s of ['TLS and DNS', 'certificate verified against tls.ca', 'per-connection, 2 addresses', 'TLS handshake failures', 'DNS lookup failures', 'tls handshake']) {
      assert.ok(res.text.includes(s), s);
    }
  });

  it('a plain run keeps its three charts and no TLS series', { timeout: TIMEOUT }, async () => {
    const plain = await readAnalysedRun(`${FIX}healthy.json`);
    const res = await open('report-plain-check', renderHtml(plain), '__portstorm');
    clean(res);
    assert.deepEqual(res.charts.map((c) => c.id), ['requests', 'latency', 'sockets']);
    assert.ok(!res.charts.some((c) => c.series.some((s) => /handshake|lookup|TLS/.test(String(s.label)))));
    assert.ok(!res.text.includes('TLS and DNS'));
  });

  it('the comparison overlays the handshake p99 of both runs', { timeout: TIMEOUT }, async () => {
    const other = structuredClone(record);
    other.runId = `${record.runId}-resumed`;
    other.label = 'staging https, resumption on';
    for (const e of other.timeline) if (e.tlsMs) e.tlsMs = { p50: e.tlsMs.p50 / 4, p99: e.tlsMs.p99 / 4 };
    const runs = [record, other];
    const res = await open('compare-https', renderCompareHtml(runs, compareRuns(runs)), '__portstormCompare');
    clean(res);
    const tls = res.charts.find((c) => c.id === 'tls-p99');
    assert.ok(tls, res.charts.map((c) => c.id).join(', '));
    const withHandshakes = record.timeline.filter((e) => (e.tlsHandshakes ?? 0) > 0).length;
    for (const s of tls.series) assert.equal(s.points, withHandshakes, `${s.label}: a point per second with handshakes`);
    assert.ok(tls.painted > 0.01);
    assert.ok(res.text.includes('tls handshake p50'));
  });
});
