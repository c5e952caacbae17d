/**
 * The run report with every host, and the layout defects of issue 16, in a real Chromium
 * (test/helpers/chromium.ts) at 1280 and 1920 px: one socket chart per host on the shared,
 * cursor-synced axis with the unseen seconds as gaps; no card clips its text; series that coincide
 * (failed/s and the one error code; TIME_WAIT, ports in use, usable ports and utilization once every
 * port waits) stay visible, each with its own stroke. Screenshots: test-artifacts/report-hosts-*.png,
 * report-layout-*.png, compare-hosts.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { startChromium, TIMEOUT } from '../helpers/chromium.js';
import { compareRuns } from '../../src/compare/compare.js';
import type { RunRecord } from '../../src/record/types.js';
import { renderCompareHtml } from '../../src/report/compare-html.js';
import { renderHtml } from '../../src/report/html.js';
import { syntheticHost, twoHostRecord } from '../helpers/synthetic-host-runs.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/records/', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
const WIDTHS = [1280, 1920];

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-report-hosts-'));
let context: BrowserContext | null = null;
let noBrowser = 'the browser was not started';

function fixture(name: string): RunRecord {
  return JSON.parse(readFileSync(path.join(FIX, `${name}.json`), 'utf8')) as RunRecord;
}

const LONG_V6 = '[2001:db8:ffff:1234:5678:9abc:def0:1]:8443';

/** The two-host record with the longest values a card holds: IPv6 destinations, long rules, a long agent URL. */
function stress(): RunRecord {
  const r = twoHostRecord();
  r.ownDestinations = [LONG_V6];
  r.ports = { ...r.ports!, busiestDestination: LONG_V6 };
  r.thresholds = [
    { expr: 'errors.EADDRNOTAVAIL == 0', actual: 2988, passed: false },
    { expr: 'latency.p99 < 250', actual: 41.3, passed: true },
    { expr: 'ports.peakUtilization < 0.8', actual: 0.99, passed: false },
    { expr: 'errors.ERR_TLS_CERT_ALTNAME_INVALID == 0', actual: 123456, passed: false },
  ];
  r.errors = { ...r.errors, ERR_TLS_CERT_ALTNAME_INVALID: 123456 };
  r.errorsByPhase = { ...r.errorsByPhase, 'tls:ERR_TLS_CERT_ALTNAME_INVALID': 123456 };
  const service = r.hosts!.service!;
  service.address = 'https://service-agent.staging.example.internal:9464/stream?token-less-reader=1';
  service.ports = { ...service.ports!, busiestDestination: LONG_V6 };
  service.destinations = [{ ...service.destinations[0]!, dest: LONG_V6 }];
  return r;
}

/** Opens a page at `width`; errors are collected for the caller. */
async function open(file: string, width: number, ready: string): Promise<{ page: Page; errors: string[] }> {
  assert.ok(context, noBrowser);
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`page: ${err.message}`));
  await page.setViewportSize({ width, height: 900 });
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load', timeout: TIMEOUT });
  await page.waitForFunction(`${ready} !== undefined && ${ready}.ready === true`, null, { timeout: 15_000 });
  return { page, errors };
}

async function openReport(name: string, record: RunRecord, width: number): Promise<{ page: Page; errors: string[] }> {
  const file = path.join(tmp, `${name}.html`);
  writeFileSync(file, renderHtml(record));
  const opened = await open(file, width, 'window.__portstorm');
  mkdirSync(ARTIFACTS, { recursive: true });
  await opened.page.screenshot({ path: path.join(ARTIFACTS, `${name}-${width}.png`), fullPage: true, timeout: TIMEOUT });
  return opened;
}

interface Clip {
  what: string;
  scroll: number;
  client: number;
}

/**
 * Runs in the page: every card, and every cell and heading in a card, whose content is wider than
 * its box (scrollWidth > clientWidth: clipped or scrolled); cards past the page's main column; and
 * a page wider than the window.
 */
const CLIPPED = `(function () {
  var out = [];
  var main = document.querySelector('main').getBoundingClientRect();
  document.querySelectorAll('.card').forEach(function (card) {
    var title = (card.querySelector('h2') || {}).textContent || card.id;
    if (card.scrollWidth > card.clientWidth) out.push({ what: 'card ' + title, scroll: card.scrollWidth, client: card.clientWidth });
    var r = card.getBoundingClientRect();
    if (r.right > main.right + 0.5) out.push({ what: 'card ' + title + ' past the main column', scroll: Math.round(r.right), client: Math.round(main.right) });
    card.querySelectorAll('td, th, h2, p, li').forEach(function (el) {
      if (el.scrollWidth > el.clientWidth) out.push({ what: title + ': ' + el.tagName + ' ' + el.textContent.slice(0, 60), scroll: el.scrollWidth, client: el.clientWidth });
    });
  });
  if (document.documentElement.scrollWidth > window.innerWidth) out.push({ what: 'page', scroll: document.documentElement.scrollWidth, client: window.innerWidth });
  return out;
})()`;

interface Stroke {
  label: string;
  width: number;
  dash: string;
  /** Pixels of its colour in the plot from second `from` on (where the series coincide). */
  pixels: number;
}

/** Runs in the page: each series' stroke style and the pixels of its colour in the plot area from t = FROM. */
function strokes(chartId: string, from: number): string {
  return `(function () {
    function rgb(c) { if (c[0] === '#') { var n = parseInt(c.slice(1), 16); return [(n >> 16) & 255, (n >> 8) & 255, n & 255]; } return c.match(/\\d+(\\.\\d+)?/g).map(Number).slice(0, 3); }
    var u = window.__portstorm.charts.find(function (c) { return c.root.getAttribute('data-chart') === ${JSON.stringify(chartId)}; });
    var bb = u.bbox, x0 = Math.round(u.valToPos(${from}, 'x', true)), x1 = Math.round(bb.left + bb.width);
    var img = u.ctx.getImageData(x0, bb.top, x1 - x0, bb.height).data;
    return u.series.slice(1).map(function (s, k) {
      var c = rgb(s.stroke(u, k + 1)), n = 0;
      for (var i = 0; i < img.length; i += 4) {
        if (img[i + 3] === 255 && Math.abs(img[i] - c[0]) + Math.abs(img[i + 1] - c[1]) + Math.abs(img[i + 2] - c[2]) < 30) n++;
      }
      return { label: s.label, width: s.width, dash: (s.dash || []).join(','), pixels: n };
    });
  })()`;
}

/** Two series are told apart by their stroke (width or dash), and both show in the plot. */
function assertDistinct(all: Stroke[], labels: string[], minPixels: number): void {
  const picked = labels.map((l) => {
    const s = all.find((x) => x.label === l);
    assert.ok(s, `series ${l} in ${JSON.stringify(all.map((x) => x.label))}`);
    return s;
  });
  for (let i = 0; i < picked.length; i++) {
    assert.ok(picked[i]!.pixels >= minPixels, `${picked[i]!.label} is visible: ${picked[i]!.pixels} px of its colour where the series coincide`);
    for (let j = i + 1; j < picked.length; j++) {
      const a = picked[i]!;
      const b = picked[j]!;
      assert.ok(a.width !== b.width || a.dash !== b.dash, `${a.label} (${a.width} px, dash ${a.dash || 'none'}) and ${b.label} (${b.width} px, dash ${b.dash || 'none'}) have distinct strokes`);
    }
  }
}

describe('HTML report with hosts, and its layout, in Chromium', { timeout: 300_000 }, () => {
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

  for (const width of WIDTHS) {
    it(`${width} px: one socket chart per host, titled with name and role, cursor-synced; unseen seconds are gaps`, { timeout: TIMEOUT * 2 }, async () => {
      const record = twoHostRecord();
      const { page, errors } = await openReport('report-hosts', record, width);
      try {
        const charts = (await page.evaluate(`window.__portstorm.charts.map(function (u) {
          return { id: u.root.getAttribute('data-chart'), host: u.root.getAttribute('data-host'), title: u.root.parentNode.querySelector('h3').textContent,
            points: u.data[0].length, data: u.data.slice(1), labels: u.series.slice(1).map(function (s) { return s.label; }), gaps: u.root.getAttribute('data-gaps') };
        })`)) as Array<{ id: string; host: string | null; title: string; points: number; data: Array<Array<number | null>>; labels: string[]; gaps: string | null }>;
        assert.deepEqual(errors, []);
        assert.deepEqual(charts.map((c) => c.id), ['requests', 'latency', 'sockets', 'sockets-service']);
        const [client, service] = [charts[2]!, charts[3]!];
        assert.equal(client.title, 'client (client): Sockets and port utilization');
        assert.equal(service.title, 'service (service): Sockets and port utilization');
        assert.deepEqual([client.host, service.host], ['client', 'service']);
        for (const c of charts) assert.equal(c.points, record.timeline.length, `${c.id}: the run's time axis`);
        // Seconds 7 and 8 the agent did not see: null in every measured series (never 0), and shaded.
        const measured = service.labels.map((l, i) => [l, i] as const).filter(([l]) => l !== 'usable ports');
        for (const [label, i] of measured) {
          assert.deepEqual([service.data[i]![7], service.data[i]![8]], [null, null], `${label}: gaps at t = 7, 8`);
          assert.notEqual(service.data[i]![6], null, `${label}: seen at t = 6`);
        }
        assert.equal(service.gaps, '7 8');
        assert.equal(client.gaps, '', 'the client saw every second');
        const tw = service.data[service.labels.indexOf('TIME_WAIT (client and server side)')]!;
        assert.deepEqual(tw.slice(0, 3), [160, 320, 480]);

        // Hover the service's chart: every chart's cursor follows.
        const plot = page.locator('#chart-sockets-service .u-over');
        await plot.scrollIntoViewIfNeeded();
        const box = await plot.boundingBox();
        assert.ok(box);
        await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
        const idx = (await page.evaluate('window.__portstorm.charts.map(function (u) { return u.cursor.idx; })')) as Array<number | null>;
        assert.ok(idx[0] !== null && idx.every((i) => i === idx[0]), `cursors: ${JSON.stringify(idx)}`);

        const text = (await page.evaluate('document.body.innerText')) as string;
        assert.match(text, /Upstream port exhaustion\s+on service/);
        assert.ok(text.includes('Host settings'));
        assert.deepEqual((await page.evaluate(CLIPPED)) as Clip[], []);
      } finally {
        await page.close();
      }
    });

    it(`${width} px: no card clips its text (the issue's fixture, and the longest values)`, { timeout: TIMEOUT * 2 }, async () => {
      for (const [name, record] of [
        ['report-layout-exhaustion', fixture('exhaustion')],
        ['report-layout-long', stress()],
      ] as const) {
        const { page, errors } = await openReport(name, record, width);
        try {
          assert.deepEqual(errors, []);
          const clipped = (await page.evaluate(CLIPPED)) as Clip[];
          assert.deepEqual(clipped, [], `${name} at ${width} px`);
          const text = (await page.evaluate('document.body.innerText')) as string;
          for (const s of ['Actual', 'Busiest', 'Peak utilization']) assert.ok(text.includes(s), s);
        } finally {
          await page.close();
        }
      }
    });

    it(`${width} px: series that coincide stay visible, each with its own stroke`, { timeout: TIMEOUT * 2 }, async () => {
      const record = fixture('exhaustion');
      // From t = 7 every failure is EADDRNOTAVAIL and every port waits: the series coincide there.
      const late = record.timeline.filter((e) => e.t >= 7 && e.sockets !== null);
      assert.ok(late.every((e) => e.failed === e.errors.EADDRNOTAVAIL), 'failed/s equals EADDRNOTAVAIL/s from t = 7');
      assert.ok(late.every((e) => e.sockets!.timeWait === e.sockets!.ephemeralInUse && e.sockets!.utilization === 1), 'TIME_WAIT equals ports in use, at 100 %');
      const { page, errors } = await openReport('report-layout-exhaustion', record, width);
      try {
        assert.deepEqual(errors, []);
        assertDistinct((await page.evaluate(strokes('requests', 7))) as Stroke[], ['failed/s', 'EADDRNOTAVAIL/s'], 100);
        assertDistinct((await page.evaluate(strokes('sockets', 7))) as Stroke[], ['TIME_WAIT', 'ephemeral ports in use', 'usable ports', 'utilization'], 20);
        // The legend shows the difference too: each marker is a sample of its line.
        const markers = (await page.evaluate(`(function () {
          var u = window.__portstorm.charts.find(function (c) { return c.root.getAttribute('data-chart') === 'requests'; });
          return Array.prototype.slice.call(u.root.querySelectorAll('.u-legend .u-series .u-marker'), 1).map(function (m) { return getComputedStyle(m).borderTopWidth + ' ' + getComputedStyle(m).borderTopStyle; });
        })()`)) as string[];
        assert.deepEqual(markers.slice(0, 4), ['2px solid', '7px solid', '2px dashed', '2px dashed']);
      } finally {
        await page.close();
      }
    });
  }

  it('compare of two two-host runs: per-host overlays drawn without errors', { timeout: TIMEOUT * 2 }, async () => {
    const base = twoHostRecord({ label: 'no-keepalive' });
    const backend = syntheticHost({ role: 'backend', seconds: 10, inUse: () => 0, serverTimeWait: () => 5, source: 'file', address: 'backend.ndjson', clock: { method: 'wall-clock', offsetMs: 0, uncertaintyMs: null } });
    const cand = twoHostRecord({ label: 'keepalive', runId: 'run-2', serviceInUse: () => 20, extra: { backend } });
    const file = path.join(tmp, 'compare-hosts.html');
    writeFileSync(file, renderCompareHtml([base, cand], compareRuns([base, cand])));
    const { page, errors } = await open(file, 1280, 'window.__portstormCompare');
    try {
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'compare-hosts.png'), fullPage: true, timeout: TIMEOUT });
      assert.deepEqual(errors, []);
      const charts = (await page.evaluate(`window.__portstormCompare.charts.map(function (u) {
        return [u.root.getAttribute('data-chart'), u.root.getAttribute('data-host'), u.data.slice(1).map(function (s) { return s.filter(function (v) { return v !== null; }).length; })];
      })`)) as Array<[string, string | null, number[]]>;
      const hostCharts = charts.filter(([, host]) => host !== null);
      assert.deepEqual(hostCharts.map(([id]) => id), ['time-wait-host-service', 'utilization-host-service', 'time-wait-host-backend', 'utilization-host-backend']);
      assert.deepEqual(hostCharts[0]![2], [8, 10], 'the service: 8 seconds seen in the baseline, 10 in the candidate');
      assert.deepEqual(hostCharts[2]![2], [0, 10], 'the backend: only the candidate watched it');
      assert.deepEqual((await page.evaluate(CLIPPED)) as Clip[], []);
      const text = (await page.evaluate('document.body.innerText')) as string;
      assert.ok(text.includes('candidate only'));
      assert.ok(text.includes('No data for no-keepalive (the run did not observe this host, or never saw it).'));
    } finally {
      await page.close();
    }
  });
});
