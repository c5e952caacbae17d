/**
 * The run report's lab topology diagram (issue 17) in a real Chromium (test/helpers/chromium.ts) at
 * 1280 px, for a chain record and a nat record: the host boxes lie left to right along the data
 * links without overlapping, no text in the diagram leaves its box or the SVG, the verdict's host is
 * outlined in its severity's colour and its socket chart card is marked. Screenshots:
 * test-artifacts/report-topology-*.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BrowserContext } from 'playwright-core';
import { diagnose } from '../../src/analysis/diagnose.js';
import { analyzeExhaustion } from '../../src/analysis/exhaustion.js';
import type { RunRecord } from '../../src/record/types.js';
import { renderHtml } from '../../src/report/html.js';
import { startChromium, TIMEOUT } from '../helpers/chromium.js';
import { chainRecord, natRecord } from '../helpers/synthetic-lab.js';

const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
const WIDTH = 1280;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-report-topology-'));
let context: BrowserContext | null = null;
let noBrowser = 'the browser was not started';

function analysed(r: RunRecord): RunRecord {
  r.exhaustion = analyzeExhaustion(r);
  r.diagnosis = diagnose(r, r.exhaustion);
  return r;
}

interface Box {
  host: string;
  left: number;
  right: number;
  top: number;
  bottom: number;
  stroke: string;
}
interface Layout {
  svg: { left: number; right: number; top: number; bottom: number };
  boxes: Box[];
  /** Text elements whose box leaves the SVG, or a host's text that leaves its host's box. */
  outside: string[];
  /** Texts of the diagram that overlap one another. */
  overlaps: string[];
  hotChart: { host: string | null; verdict: string | null; border: string } | null;
}

/** Runs in the page: every host box's and text's bounding box in the topology SVG, and the marked chart card. */
const LAYOUT = `(function () {
  function rect(el) { var r = el.getBoundingClientRect(); return { left: r.left, right: r.right, top: r.top, bottom: r.bottom }; }
  var svg = document.querySelector('#topology svg.topology');
  var s = rect(svg);
  var boxes = [], outside = [], overlaps = [];
  svg.querySelectorAll('g.topo-host').forEach(function (g) {
    var b = rect(g.querySelector('rect'));
    boxes.push({ host: g.getAttribute('data-host'), left: b.left, right: b.right, top: b.top, bottom: b.bottom, stroke: getComputedStyle(g.querySelector('rect')).stroke });
    g.querySelectorAll('text').forEach(function (t) {
      var r = rect(t);
      if (r.left < b.left - 0.5 || r.right > b.right + 0.5 || r.top < b.top - 0.5 || r.bottom > b.bottom + 0.5) outside.push(g.getAttribute('data-host') + ': ' + t.textContent);
    });
  });
  var texts = Array.prototype.slice.call(svg.querySelectorAll('text'));
  texts.forEach(function (t, i) {
    var r = rect(t);
    if (r.left < s.left - 0.5 || r.right > s.right + 0.5 || r.top < s.top - 0.5 || r.bottom > s.bottom + 0.5) outside.push('svg: ' + t.textContent);
    texts.slice(i + 1).forEach(function (u) {
      var q = rect(u);
      if (r.left < q.right - 0.5 && q.left < r.right - 0.5 && r.top < q.bottom - 0.5 && q.top < r.bottom - 0.5) overlaps.push(t.textContent + ' / ' + u.textContent);
    });
  });
  var hot = document.querySelector('.chart.hot');
  return {
    svg: s, boxes: boxes, outside: outside, overlaps: overlaps,
    hotChart: hot ? { host: hot.querySelector('[data-host]') ? hot.querySelector('[data-host]').getAttribute('data-host') : null, verdict: hot.getAttribute('data-verdict'), border: getComputedStyle(hot).borderTopColor } : null,
  };
})()`;

async function layoutOf(name: string, r: RunRecord): Promise<{ layout: Layout; errors: string[] }> {
  assert.ok(context, noBrowser);
  const file = path.join(tmp, `${name}.html`);
  writeFileSync(file, renderHtml(r));
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`page: ${err.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  await page.setViewportSize({ width: WIDTH, height: 900 });
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load', timeout: TIMEOUT });
  await page.waitForFunction('window.__portstorm !== undefined && window.__portstorm.ready === true', null, { timeout: 15_000 });
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.locator('#topology').screenshot({ path: path.join(ARTIFACTS, `report-topology-${name}-${WIDTH}.png`), timeout: TIMEOUT });
  await page.screenshot({ path: path.join(ARTIFACTS, `report-topology-${name}-page-${WIDTH}.png`), fullPage: true, timeout: TIMEOUT });
  const layout = (await page.evaluate(LAYOUT)) as Layout;
  await page.close();
  return { layout, errors };
}

function checkLayout(layout: Layout, order: string[]): void {
  assert.deepEqual(layout.boxes.map((b) => b.host).sort(), [...order].sort());
  const byX = [...layout.boxes].sort((a, b) => a.left - b.left).map((b) => b.host);
  assert.deepEqual(byX, order, 'hosts left to right along the data links');
  for (let i = 0; i + 1 < layout.boxes.length; i++) {
    for (const b of layout.boxes.slice(i + 1)) {
      const a = layout.boxes[i]!;
      const overlap = a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
      assert.ok(!overlap, `boxes ${a.host} and ${b.host} overlap: ${JSON.stringify([a, b])}`);
    }
  }
  for (const b of layout.boxes) assert.ok(b.left >= layout.svg.left - 0.5 && b.right <= layout.svg.right + 0.5, `box ${b.host} leaves the SVG`);
  assert.deepEqual(layout.outside, [], 'text clipped by its box or the SVG');
  assert.deepEqual(layout.overlaps, [], 'texts overlapping');
}

describe('the lab topology diagram in Chromium at 1280 px', { timeout: 120_000 }, () => {
  before(async () => {
    const started = await startChromium(path.join(tmp, 'profile'));
    context = started.context;
    if (started.error !== null) noBrowser = started.error;
  });

  after(async () => {
    await context?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('chain: client → service → backend, the service outlined in red and its socket chart marked', async () => {
    const { layout, errors } = await layoutOf('chain', analysed(chainRecord()));
    assert.deepEqual(errors, []);
    checkLayout(layout, ['client', 'service', 'backend']);
    const service = layout.boxes.find((b) => b.host === 'service')!;
    assert.equal(service.stroke, 'rgb(201, 42, 42)');
    assert.notEqual(layout.boxes.find((b) => b.host === 'client')!.stroke, 'rgb(201, 42, 42)');
    assert.deepEqual(layout.hotChart, { host: 'service', verdict: 'upstream-port-exhaustion', border: 'rgb(201, 42, 42)' });
  });

  it('nat: client → router → server, the router outlined with the NAT range in its box', async () => {
    const { layout, errors } = await layoutOf('nat', analysed(natRecord({ addresses: 2 })));
    assert.deepEqual(errors, []);
    checkLayout(layout, ['client', 'router', 'server']);
    assert.equal(layout.boxes.find((b) => b.host === 'router')!.stroke, 'rgb(201, 42, 42)');
    assert.equal(layout.hotChart?.host, 'router');
    assert.equal(layout.hotChart?.verdict, 'snat-port-exhaustion');
  });
});
