/**
 * The monitor losing its sources in the middle of a run (files that vanish, or that become
 * unreadable): the run goes on, and the seconds after the loss have no figure (null) rather than
 * zeros, with the loss told in the record's monitor section. The monitor reads a /proc tree built
 * from captured fixtures in a temp directory, which the tests take apart.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { foldMonitor, sourceGaps } from '../../src/monitor/fold.js';
import { TEST_PROC_ROOT_ENV } from '../../src/monitor/monitor.js';
import { Sampler } from '../../src/monitor/sampler.js';
import type { MonitorSample } from '../../src/monitor/types.js';
import { runScenario } from '../../src/run.js';
import { parseScenario } from '../../src/scenario/load.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/proc/', import.meta.url));
const BUILT_SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/**
 * The compiled sources copied where any user can read them, for code run as an unprivileged
 * user: the checkout itself may lie in a directory only its owner can enter (a `mktemp -d`
 * clone is 0700). The sampler's imports stay inside build/src (no npm packages).
 */
function readableCopyOfSources(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-loss-src-'));
  cpSync(BUILT_SRC, path.join(dir, 'src'), { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  chmodSync(dir, 0o755);
  return dir;
}
const budget = { range: [32768, 60999] as [number, number], usable: 28_232 };

/**
 * A /proc tree from the fixtures, with a self/ part (limits, three descriptors). `tcpRows` keeps
 * that many sockets of the 12 000-row net/tcp fixture, so scans are cheap enough to run every
 * scan interval (the sampler spaces costly scans out).
 */
function procTree(tcpRows = Infinity): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'ps-loss-'));
  mkdirSync(path.join(root, 'net'));
  mkdirSync(path.join(root, 'self/fd'), { recursive: true });
  const tcp = gunzipSync(readFileSync(path.join(FIX, 'tcp.txt.gz'))).toString('latin1').split('\n');
  writeFileSync(path.join(root, 'net/tcp'), tcp.slice(0, Math.min(tcp.length, tcpRows + 1)).join('\n') + '\n');
  for (const f of ['tcp6', 'sockstat', 'sockstat6', 'netstat', 'snmp']) copyFileSync(path.join(FIX, `${f}.txt`), path.join(root, `net/${f}`));
  copyFileSync(path.join(FIX, 'limits.txt'), path.join(root, 'self/limits'));
  for (const fd of ['0', '1', '2']) writeFileSync(path.join(root, 'self/fd', fd), '');
  return root;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `cond` holds (polled every 20 ms), failing after 30 s. */
async function until(cond: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 30_000; !cond(); await sleep(20)) {
    if (Date.now() > deadline) throw new Error('timed out after 30 s');
  }
}

describe('monitor losing its source mid-run', () => {
  it('files that vanish: later samples are null with the errno, the fold gives null seconds, not zeros', async () => {
    const root = procTree();
    const samples: MonitorSample[] = [];
    const sampler = new Sampler({ intervalMs: 100, scanIntervalMs: 200, budget, procRoot: root, prefer: 'proc', maxCpuShare: 1 }, (s) => samples.push(s));
    sampler.start();
    // Counted in samples, not sleeps: a busy machine delays samples, never reorders them.
    await until(() => samples.length >= 6 && samples.some((x) => x.scan));
    for (const f of ['net/sockstat', 'net/netstat', 'net/tcp']) rmSync(path.join(root, f));
    rmSync(path.join(root, 'self/fd'), { recursive: true });
    const lostAt = performance.timeOrigin + performance.now();
    await until(() => samples.filter((x) => x.at > lostAt + 5).length >= 9 && samples.at(-1)!.at > lostAt + 2200 && samples.some((x) => x.at > lostAt && x.missing?.scan !== undefined));
    await sampler.stop();
    sampler.dispose();

    const before = samples.filter((s) => s.at < lostAt - 5);
    const afterLoss = samples.filter((s) => s.at > lostAt + 5);
    assert.ok(before.length >= 5 && afterLoss.length >= 8, `${before.length} before, ${afterLoss.length} after`);
    assert.ok(before.every((s) => s.sockstat?.timeWait === 12_003 && s.fds?.open === 3 && s.missing?.sockstat === undefined));
    for (const s of afterLoss) {
      assert.equal(s.sockstat, null);
      assert.equal(s.counters, null);
      assert.equal(s.fds, null);
      assert.equal(s.missing?.sockstat, 'ENOENT');
      assert.equal(s.missing?.counters, 'ENOENT');
      assert.equal(s.missing?.fds, 'ENOENT');
      if (s.missing?.scan !== undefined) assert.equal(s.scan, null);
    }
    assert.ok(afterLoss.some((s) => s.missing?.scan === 'ENOENT'), 'a scan was tried and failed');
    assert.deepEqual(sourceGaps(samples, 'sockstat').map((g) => [g.toMs, g.code]), [[null, 'ENOENT']]);

    // Fold on a run clock that starts with the first sample, so second 0 is wholly before the loss
    // when the loss came at least a second in, and the last whole second is after it.
    const t0 = Math.min(lostAt - 1000, samples[0]!.at);
    const endS = Math.floor((samples.at(-1)!.at - t0) / 1000);
    const lostS = (lostAt - t0) / 1000;
    const fold = foldMonitor(samples, sampler.status(), { startEpochMs: t0, durationS: endS, intervalS: 0.1, scanIntervalS: 0.2, usable: 28_232 });
    const [s0, sLast] = [fold.perSecond.get(0)!, fold.perSecond.get(endS - 1)!];
    assert.ok(endS - 1 > lostS, `the last whole second (${endS - 1}) is after the loss at ${lostS.toFixed(2)} s`);
    assert.equal(s0.sockets?.timeWait, 12_003);
    assert.equal(s0.counters?.ActiveOpens, 0, 'before the loss a counter that did not move is a real 0');
    // The last second is wholly after the loss: no scan carried over it, no counter, no TIME_WAIT.
    assert.equal(sLast.sockets, null);
    assert.equal(sLast.counters, null);
    const lostFrom = (what: string): number => Number(/lost from t = (\d+\.\d) s to the end \(ENOENT\)/.exec(fold.monitor.unavailable[what as 'sockstat'] ?? '')?.[1] ?? NaN);
    assert.match(fold.monitor.unavailable.sockstat ?? '', /null, not zero/);
    // Lost at the first sample after the files went: within a few sample intervals of it.
    assert.ok(lostFrom('sockstat') >= lostS - 0.25 && lostFrom('sockstat') <= lostS + 1, `sockstat ${fold.monitor.unavailable.sockstat}, lost at ${lostS}`);
    assert.ok(lostFrom('scan') >= lostS - 0.25 && lostFrom('scan') <= lostS + 1.5, `scan ${fold.monitor.unavailable.scan}, lost at ${lostS}`);
    assert.match(fold.monitor.unavailable.fds ?? '', /lost from/);
    assert.equal(fold.monitor.peakFds?.open, 3);
  });

  it('files that become unreadable (EACCES, as an unprivileged user): null with the errno, and back when readable', () => {
    // Root reads through any mode; the sampler runs as nobody on a tree nobody owns.
    const root = procTree();
    spawnSync('chown', ['-R', '65534:65534', root]);
    const code = readableCopyOfSources();
    const SAMPLER = path.join(code, 'src/monitor/sampler.js');
    const script = `
      import { chmodSync } from 'node:fs';
      import { Sampler } from ${JSON.stringify(SAMPLER)};
      const root = ${JSON.stringify(root)};
      const samples = [];
      const sampler = new Sampler({ intervalMs: 100, scanIntervalMs: 200, budget: ${JSON.stringify(budget)}, procRoot: root, prefer: 'proc', maxCpuShare: 1 }, (s) => samples.push(s));
      const lost = { at: 0, back: 0 };
      // Steps counted in samples (a busy machine delays them, never reorders them).
      const after = (t) => samples.filter((s) => s.at > t + 5).length;
      const step = setInterval(async () => {
        const now = performance.timeOrigin + performance.now();
        if (!lost.at && samples.length >= 4) { chmodSync(root + '/net/sockstat', 0); chmodSync(root + '/net/tcp', 0); lost.at = now; }
        else if (lost.at && !lost.back && after(lost.at) >= 5) { chmodSync(root + '/net/sockstat', 0o644); lost.back = now; }
        else if (lost.back && after(lost.back) >= 4) {
          clearInterval(step);
          await sampler.stop(); sampler.dispose(); process.stdout.write(JSON.stringify({ samples, lost }));
        }
      }, 20);
      sampler.start();
    `;
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', script], {
      encoding: 'utf8',
      cwd: code,
      timeout: 60_000,
    });
    rmSync(code, { recursive: true, force: true });
    assert.equal(r.status, 0, r.stderr);
    const { samples, lost } = JSON.parse(r.stdout) as { samples: MonitorSample[]; lost: { at: number; back: number } };
    const during = samples.filter((s) => s.at > lost.at + 5 && s.at < lost.back - 5);
    assert.ok(during.length >= 3, `${during.length} samples while unreadable`);
    for (const s of during) {
      assert.equal(s.sockstat, null);
      assert.equal(s.missing?.sockstat, 'EACCES');
    }
    const back = samples.filter((s) => s.at > lost.back + 5);
    assert.ok(back.length >= 2 && back.every((s) => s.sockstat?.timeWait === 12_003), 'sockstat is read again once readable');
    // /proc/net/tcp stays unreadable: the scan source is gone for the rest of the run.
    assert.ok(samples.some((s) => s.missing?.scan === 'EACCES'));
    const gaps = sourceGaps(samples, 'sockstat');
    assert.equal(gaps.length, 1);
    assert.equal(gaps[0]!.code, 'EACCES');
    assert.ok(gaps[0]!.toMs !== null && gaps[0]!.toMs > lost.back, 'the gap ends when the file is readable again');
    chmodSync(root, 0o755);
  });

  it('a whole run: it completes, and the record marks the seconds after the loss unavailable', async () => {
    const root = procTree(200);
    process.env[TEST_PROC_ROOT_ENV] = root;
    let lostAtS: number | null = null;
    try {
      const scenario = parseScenario(
        { name: 'monitor-loss', workers: 1, monitor: { interval: '100ms', scanInterval: '250ms' }, load: [{ model: 'arrival-rate', rate: 100, duration: 3 }] },
        'test',
      );
      const { record: r } = await runScenario({
        scenario,
        resultsDir: mkdtempSync(path.join(os.tmpdir(), 'ps-loss-run-')),
        onProgress: (elapsedS) => {
          if (lostAtS !== null || elapsedS < 0.9) return;
          for (const f of ['net/sockstat', 'net/sockstat6', 'net/netstat', 'net/tcp', 'net/tcp6']) rmSync(path.join(root, f));
          lostAtS = elapsedS;
        },
      });
      assert.ok(lostAtS !== null && lostAtS < 1.6, `lost at ${lostAtS}`);
      assert.equal(r.status, 'completed');
      assert.equal(r.totals.completed, 300);
      // The source that worked until the loss, not null ("no socket source worked").
      assert.equal(r.monitor.source, 'proc');
      const t0 = r.timeline.find((e) => e.t === 0)!;
      assert.equal(t0.sockets?.timeWait, 12_003);
      assert.equal(t0.counters?.ActiveOpens, 0);
      const afterLoss = r.timeline.filter((e) => e.t >= Math.ceil(lostAtS!));
      assert.ok(afterLoss.length >= 1);
      for (const e of afterLoss) {
        assert.equal(e.sockets, null, `second ${e.t}: ${JSON.stringify(e.sockets)}`);
        assert.equal(e.counters, null, `second ${e.t}`);
      }
      assert.match(r.monitor.unavailable.sockstat ?? '', /lost from t = 1\.\d s to the end \(ENOENT\)/);
      assert.match(r.monitor.unavailable.counters ?? '', /lost from t = 1\.\d s to the end \(ENOENT\)/);
      assert.match(r.monitor.unavailable.scan ?? '', /lost from t = 1\.\d s to the end \(ENOENT\)/);
      // The peaks come from before the loss, never from zeros after it. The fixture's sockets are
      // toward other destinations than the run's own: other traffic; the own port's TIME_WAIT is 0.
      assert.equal(r.ports?.peakTimeWait, 0);
      assert.equal(r.ports?.busiestDestination, r.ownDestinations![0]);
      assert.ok(r.otherTraffic && r.otherTraffic.peakInUse > 0 && r.otherTraffic.peakTimeWait > 0, JSON.stringify(r.otherTraffic));
    } finally {
      delete process.env[TEST_PROC_ROOT_ENV];
    }
  });
});
