/**
 * The HTML report of a record with own-destination figures, in a real Chromium: the sockets chart
 * plots the figures toward the target (with the host-wide TIME_WAIT as a thin line), and the ports
 * card tells other traffic apart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BrowserContext } from 'playwright-core';
import { startChromium, TIMEOUT } from '../helpers/chromium.js';
import type { RunRecord } from '../../src/record/types.js';
import { renderHtml } from '../../src/report/html.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/records/', import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-report-own-'));
let context: BrowserContext | null = null;
let noBrowser = 'the browser was not started';

/** The exhaustion fixture with own-destination figures (half the host's TIME_WAIT is the run's). */
function record(): RunRecord {
  const r = JSON.parse(readFileSync(path.join(FIX, 'exhaustion.json'), 'utf8')) as RunRecord;
  r.ownDestinations = ['10.200.0.1:8080'];
  r.otherTraffic = { peakInUse: 3496, peakTimeWait: 3490, busiestDestination: '127.0.0.1:34505', destinations: [{ dest: '127.0.0.1:34505', peakInUse: 3496, peakTimeWait: 3490, peakUtilization: 0.12 }] };
  for (const e of r.timeline) {
    if (!e.sockets) continue;
    e.sockets.ownTimeWait = Math.round(e.sockets.timeWait / 2);
    e.sockets.ownInUse = (e.sockets.ownTimeWait ?? 0) + 3;
    e.sockets.ownServerTimeWait = 1;
  }
  return r;
}

describe('HTML report with own destinations in Chromium', { timeout: 120_000 }, () => {
  before(async () => {
    const started = await startChromium(path.join(tmp, 'profile'));
    context = started.context;
    if (started.error !== null) noBrowser = started.error;
  });

  after(async () => {
    await context?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('plots the figures toward the target and tells other traffic apart', { timeout: TIMEOUT }, async () => {
    assert.ok(context, noBrowser);
    const file = path.join(tmp, 'report-own.html');
    const r = record();
    writeFileSync(file, renderHtml(r));
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    try {
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load', timeout: TIMEOUT });
      await page.waitForFunction('window.__portstorm !== undefined && window.__portstorm.ready === true', null, { timeout: 15_000 });
      const chart = (await page.evaluate(`(function () {
        var u = window.__portstorm.charts.find(function (c) { return c.root.getAttribute('data-chart') === 'sockets'; });
        return { labels: u.series.slice(1).map(function (s) { return s.label; }), first: u.data[1], host: u.data[4] };
      })()`)) as { labels: string[]; first: Array<number | null>; host: Array<number | null> };
      assert.deepEqual(errors, []);
      assert.deepEqual(chart.labels.slice(0, 4), ['TIME_WAIT toward the target', 'ports in use toward the target', 'TIME_WAIT on the target side', 'TIME_WAIT, whole host']);
      assert.deepEqual(chart.first, r.timeline.map((e) => e.sockets?.ownTimeWait ?? null));
      assert.deepEqual(chart.host, r.timeline.map((e) => e.sockets?.timeWait ?? null));
      const text = (await page.evaluate('document.body.innerText')) as string;
      assert.ok(text.includes('Other traffic on this host: 3 496 ports toward 127.0.0.1:34505'), text);
      assert.ok(text.includes('Sockets and port utilization toward the target'));
    } finally {
      await page.close();
    }
  });
});
