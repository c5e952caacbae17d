/**
 * Checkpoints: `portstorm run` rewrites run.json while the load runs, so a SIGKILL loses at most
 * one checkpoint interval (plus the workers' half-second shipping lag), and a SIGINT or SIGTERM at
 * any moment still ends in a complete final record. Every run is against the built-in target on
 * 127.0.0.1, bounded in rate, duration and requests.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readRunRecord } from '../../src/record/run-file.js';
import type { RunRecord } from '../../src/record/types.js';
import { DEFAULT_CHECKPOINT_INTERVAL_S } from '../../src/run.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-checkpoint-'));
/** Workers ship their buckets every 500 ms (generator.ts FLUSH_MS): a checkpoint lags by up to that. */
const SHIP_LAG_S = 0.5;

const noStack = (text: string): void => assert.doesNotMatch(text, /\n\s+at .+:\d+:\d+/, `stack trace in: ${text}`);

function scenarioFile(name: string, rate: number, durationS: number): string {
  const file = path.join(tmp, `${name}.yaml`);
  writeFileSync(
    file,
    `name: ${name}
target: builtin
workers: 1
load:
  - model: arrival-rate
    rate: ${rate}
    duration: ${durationS}s
limits: { maxDuration: ${durationS + 5}s, maxRequests: ${rate * (durationS + 1)} }
`,
  );
  return file;
}

/** The one run directory under `out`. */
function runDir(out: string): string {
  const dirs = existsSync(out) ? readdirSync(out) : [];
  assert.equal(dirs.length, 1, `expected one run directory in ${out}, found ${dirs.join(', ') || 'none'}`);
  return path.join(out, dirs[0]!);
}

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Spawns `portstorm run` and sends `signal` `delayMs` after its first stderr line, or (with
 * `afterCheckpointIn`) after the first run.json appears under that directory, which is written as
 * the load starts; unless it has exited by then. Counting from an event, not from the spawn, keeps
 * a slow start-up on a busy machine out of the delay.
 */
function runWithSignal(args: string[], signal: NodeJS.Signals, delayMs: number, afterCheckpointIn?: string): Promise<Ended & { sentAtMs: number | null }> {
  const child = spawn(process.execPath, [MAIN, 'run', ...args], { cwd: tmp });
  let stdout = '';
  let stderr = '';
  let sentAtMs: number | null = null;
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    timer ??= setTimeout(() => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      sentAtMs = Date.now();
      child.kill(signal);
    }, delayMs);
  };
  const poll =
    afterCheckpointIn === undefined
      ? undefined
      : setInterval(() => {
          const dirs = existsSync(afterCheckpointIn) ? readdirSync(afterCheckpointIn) : [];
          if (dirs.some((d) => existsSync(path.join(afterCheckpointIn, d, 'run.json')))) {
            clearInterval(poll);
            arm();
          }
        }, 20);
  child.stdout.on('data', (c: Buffer) => (stdout += c));
  child.stderr.on('data', (c: Buffer) => {
    stderr += c;
    if (afterCheckpointIn === undefined) arm();
  });
  const guard = setTimeout(() => child.kill('SIGKILL'), 40_000);
  return new Promise((resolve) =>
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      clearTimeout(guard);
      clearInterval(poll);
      resolve({ code, signal: sig, stdout, stderr, sentAtMs });
    }),
  );
}

/** mulberry32: a small seeded PRNG, so a failing schedule can be replayed with its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** A record the run finished writing: internally consistent, every second present. */
function assertComplete(rec: RunRecord, what: string): void {
  assert.equal(rec.schema, 2, what);
  const t = rec.totals;
  assert.equal(t.completed + t.failed, t.attempted, `${what}: every attempted request is completed or failed`);
  assert.ok(rec.timeline.length >= Math.ceil(rec.durationS), `${what}: ${rec.timeline.length} timeline entries for ${rec.durationS} s`);
  assert.equal(
    rec.timeline.reduce((n, e) => n + e.attempted, 0),
    t.attempted,
    `${what}: the timeline adds up to the totals`,
  );
  for (const h of Object.values(rec.histograms)) assert.match(h, /^HIST/, `${what}: encoded histograms`);
  assert.ok(Array.isArray(rec.diagnosis) && rec.diagnosis.length > 0, `${what}: analysed`);
}

describe('checkpoints', () => {
  it('SIGKILL leaves the last checkpoint: loadable, reported as partial, missing at most one interval', async (t) => {
    const rate = 200;
    const out = path.join(tmp, 'killed');
    // Killed 4.5 s after the first checkpoint (at the load's start): the one at 2 s and most
    // likely the one at 4 s are on disk by then.
    const ended = await runWithSignal([scenarioFile('killed', rate, 20), '--out', out, '--quiet'], 'SIGKILL', 4500, out);
    assert.equal(ended.signal, 'SIGKILL', ended.stderr);
    assert.ok(ended.sentAtMs !== null);

    const file = path.join(runDir(out), 'run.json');
    const rec = await readRunRecord(file);
    assert.equal(rec.status, 'checkpoint');
    assert.ok(rec.durationS >= DEFAULT_CHECKPOINT_INTERVAL_S, `a checkpoint ${rec.durationS} s into the load`);
    assert.ok(rec.timeline.length >= Math.ceil(rec.durationS));
    assert.equal(
      rec.timeline.reduce((n, e) => n + e.attempted, 0),
      rec.totals.attempted,
    );
    // The load began durationS before the checkpoint was written (its mtime); by the kill it had
    // scheduled `rate` requests a second. A checkpoint is at most one interval old, and covers what
    // the workers had shipped: all but the last SHIP_LAG_S.
    const loadStartMs = statSync(file).mtimeMs - rec.durationS * 1000;
    const scheduled = (rate * (ended.sentAtMs! - loadStartMs)) / 1000;
    const missing = scheduled - rec.totals.attempted;
    // On a quiet machine the loss is one interval plus the shipping lag. A starved machine writes
    // late, and a checkpoint that cost more than 5 % of its interval pushes the next one back, so
    // the bound allows a second interval: still far below the 20 s the run would have lost.
    const allowed = rate * (2 * DEFAULT_CHECKPOINT_INTERVAL_S + SHIP_LAG_S + 0.5);
    assert.ok(rec.totals.attempted > 0 && rec.totals.attempted <= scheduled + rate * 0.1, `${rec.totals.attempted} attempted of ${scheduled.toFixed(0)} scheduled`);
    t.diagnostic(`checkpoint ${rec.durationS} s into the load: ${rec.totals.attempted} of ${scheduled.toFixed(0)} scheduled requests`);
    assert.ok(missing <= allowed, `the checkpoint misses ${missing.toFixed(0)} of ${scheduled.toFixed(0)} scheduled requests (allowed ${allowed})`);

    const text = spawnSync(process.execPath, [MAIN, 'report', file], { encoding: 'utf8', cwd: tmp });
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^portstorm run partial \(checkpoint\): killed/);
    assert.match(text.stdout, /partial record: a checkpoint taken \d+\.\d s into the load/);
    const md = spawnSync(process.execPath, [MAIN, 'report', path.dirname(file), '--format', 'md'], { encoding: 'utf8', cwd: tmp });
    assert.equal(md.status, 0, md.stderr);
    assert.match(md.stdout, /\*\*Status\*\* \*\*partial \(checkpoint\)\*\*/);
    assert.match(md.stderr, /partial record/);
  });

  it('SIGINT and SIGTERM at random moments: a complete final record, exit 130 (or 0 once done)', async (t) => {
    const seed = Number(process.env.PORTSTORM_CHECKPOINT_SEED ?? Date.now() % 2 ** 31);
    t.diagnostic(`seed ${seed} (replay with PORTSTORM_CHECKPOINT_SEED=${seed})`);
    const rnd = prng(seed);
    const loadS = 3;
    const file = scenarioFile('signalled', 100, loadS);
    // Delays count from the child's first stderr line ("starting ..."), printed once its signal
    // handlers listen; the load starts a few hundred ms later, and ends loadS after that.
    const phases: Array<{ name: string; from: number; to: number }> = [
      { name: 'start-up', from: 0, to: 600 },
      { name: 'mid-load', from: 700, to: 2900 },
      { name: 'near the end', from: 3000, to: 4200 },
    ];
    const outcomes: string[] = [];
    // Six runs: each phase once with each signal (i mod 3 picks the phase, i mod 2 the signal).
    for (let i = 0; i < 6; i++) {
      const phase = phases[i % phases.length]!;
      const signal: NodeJS.Signals = i % 2 === 0 ? 'SIGINT' : 'SIGTERM';
      const delayMs = Math.round(phase.from + rnd() * (phase.to - phase.from));
      const interval = rnd() < 0.5 ? '2s' : '500ms';
      const what = `run ${i} (seed ${seed}): ${signal} ${delayMs} ms after start (${phase.name}), checkpoints every ${interval}`;
      const out = path.join(tmp, `signalled-${i}`);
      const ended = await runWithSignal([file, '--out', out, '--checkpoint-interval', interval], signal, delayMs);
      noStack(ended.stderr);
      assert.equal(ended.signal, null, `${what}: ended by ${ended.signal}; stderr: ${ended.stderr}`);
      assert.ok(ended.code === 130 || ended.code === 0, `${what}: exit ${ended.code}; stderr: ${ended.stderr}`);
      const dir = runDir(out);
      const rec = await readRunRecord(dir);
      assert.equal(rec.status, ended.code === 130 ? 'interrupted' : 'completed', what);
      if (ended.sentAtMs === null) assert.equal(ended.code, 0, `${what}: no signal was sent, so the run completed`);
      assertComplete(rec, what);
      assert.ok(existsSync(path.join(dir, 'report.html')), `${what}: report.html written after run.json`);
      assert.match(ended.stdout, ended.code === 130 ? /^portstorm run interrupted: signalled/ : /^portstorm run complete: signalled/, what);
      outcomes.push(`${signal} at ${delayMs} ms (${phase.name}) → ${rec.status}, ${rec.totals.attempted} requests`);
    }
    t.diagnostic(outcomes.join('; '));
    assert.ok(outcomes.some((o) => o.includes('interrupted')));
  });
});
