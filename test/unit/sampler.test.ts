/** The sampler on a /proc tree built from captured fixtures (no real sockets involved). */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { Sampler } from '../../src/monitor/sampler.js';
import type { MonitorSample } from '../../src/monitor/types.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/proc/', import.meta.url));

function procTree(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'ps-sampler-'));
  mkdirSync(path.join(root, 'net'));
  writeFileSync(path.join(root, 'net/tcp'), gunzipSync(readFileSync(path.join(FIX, 'tcp.txt.gz'))));
  for (const f of ['tcp6', 'sockstat', 'sockstat6', 'netstat', 'snmp']) copyFileSync(path.join(FIX, `${f}.txt`), path.join(root, `net/${f}`));
  return root;
}

const budget = { range: [32768, 60999] as [number, number], usable: 28_232 };

describe('sampler', () => {
  it('one sample: totals, a scan from /proc, no counter deltas yet', async () => {
    const sampler = new Sampler({ intervalMs: 250, scanIntervalMs: 1000, budget, procRoot: procTree(), prefer: 'proc' }, () => undefined);
    const s = await sampler.sample(true);
    assert.equal(s.sockstat?.timeWait, 12_003);
    assert.equal(s.scan?.source, 'proc');
    assert.equal(s.scan?.destinations[0]?.timeWait, 12_000);
    assert.equal(s.counters, null, 'deltas need two readings');
    const s2 = await sampler.sample(false);
    assert.equal(s2.scan, null);
    assert.equal(s2.counters?.ActiveOpens, 0);
    assert.equal(sampler.status().source, 'proc');
  });

  it('a source that vanishes mid-run becomes null with a reason, not zero', async () => {
    const root = procTree();
    const sampler = new Sampler({ intervalMs: 250, scanIntervalMs: 1000, budget, procRoot: root, prefer: 'proc' }, () => undefined);
    await sampler.sample(true);
    rmSync(path.join(root, 'net/sockstat'));
    rmSync(path.join(root, 'net/tcp'));
    const s = await sampler.sample(true);
    assert.equal(s.sockstat, null);
    assert.equal(s.scan, null);
    const status = sampler.status();
    assert.equal(status.source, null);
    assert.match(status.unavailable['scan.proc'] ?? '', /failed mid-run/);
    assert.ok(status.unavailable.sockstat);
  });

  it('scans are spaced so they stay within the CPU budget', async () => {
    const samples: MonitorSample[] = [];
    // A budget of 0.01 % of a core: one /proc scan of 12 000 rows (at least a few ms) must push
    // the next scan seconds away, while fast samples go on every 20 ms.
    const sampler = new Sampler(
      { intervalMs: 20, scanIntervalMs: 40, budget, procRoot: procTree(), prefer: 'proc', maxCpuShare: 0.0001 },
      (s) => samples.push(s),
    );
    sampler.start();
    await new Promise((r) => setTimeout(r, 600));
    await sampler.stop();
    assert.equal(samples.filter((s) => s.scan).length, 1);
    assert.ok(samples.length >= 5, `${samples.length} samples`);
    assert.ok(sampler.status().effectiveScanIntervalMs > 1000);
  });
});
