/**
 * The report of a merged record (`portstorm merge`) in a real Chromium (test/helpers/chromium.ts):
 * the fleet's socket chart titled as the shards' sum, one socket chart per shard on the merged
 * seconds (a shard that started a second later shows its first second as a gap), no page error.
 * Screenshot: test-artifacts/report-merge-1280.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BrowserContext } from 'playwright-core';
import { startChromium, TIMEOUT } from '../helpers/chromium.js';
import { mergeShards, recordSource } from '../../src/merge/merge.js';
import { renderHtml } from '../../src/report/html.js';
import { entry, sockets } from '../helpers/synthetic-record.js';
import { shardRecord } from '../helpers/synthetic-shards.js';

const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-report-merge-'));
let context: BrowserContext | null = null;
let noBrowser = 'the browser was not started';

describe('HTML report of a merged record, in Chromium', { timeout: 120_000 }, () => {
  before(async () => {
    const started = await startChromium(path.join(tmp, 'profile'));
    context = started.context;
    if (started.error !== null) noBrowser = started.error;
  });

  after(async () => {
    await context?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('charts the fleet and each shard on the merged seconds, without a page error', { timeout: TIMEOUT * 2 }, async () => {
    assert.ok(context, noBrowser);
    const tl = Array.from({ length: 10 }, (_, t) => entry(t, { sockets: sockets({ timeWait: 50 * t, utilization: t / 20 }) }));
    const merged = await mergeShards([0, 1, 2].map((index) => recordSource(`shard-${index}.json`, shardRecord({ index, count: 3, startOffsetMs: index === 2 ? 1000 : 0, timeline: tl }))));
    const file = path.join(tmp, 'merged.html');
    writeFileSync(file, renderHtml(merged));
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (err) => errors.push(`page: ${err.message}`));
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load', timeout: TIMEOUT });
    await page.waitForFunction('window.__portstorm !== undefined && window.__portstorm.ready === true', null, { timeout: 15_000 });
    const charts = (await page.evaluate(`window.__portstorm.charts.map(function (u) {
      return { id: u.root.getAttribute('data-chart'), title: u.root.parentNode.querySelector('h3').textContent, points: u.data[0].length, first: u.data[1][0] };
    })`)) as Array<{ id: string; title: string; points: number; first: number | null }>;
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'report-merge-1280.png'), fullPage: true, timeout: TIMEOUT });
    assert.deepEqual(errors, []);
    assert.deepEqual(charts.map((c) => c.id), ['requests', 'latency', 'sockets', 'sockets-shard-0', 'sockets-shard-1', 'sockets-shard-2']);
    assert.match(charts[2]!.title, /^all shards \(sockets summed, utilization the highest shard's\): /);
    assert.match(charts[5]!.title, /^shard-2 \(client\): /);
    for (const c of charts) assert.equal(c.points, merged.timeline.length, `${c.id}: the merged seconds`);
    assert.equal(charts[5]!.first, null, "shard-2 began a second later: its first merged second is a gap");
    assert.equal(await page.locator('table.kv.meta').getByText('3 of 3 shards merged').count(), 1);
  });
});
