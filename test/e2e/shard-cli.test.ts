/**
 * `portstorm run --shard I/N --start-at T` as users run it, on loopback: three shard processes
 * started at one instant log between them every arrival of the one-machine schedule exactly once
 * at its one-machine time; users and iterations add up; a stale --start-at warns and records its
 * lateness; bad flags are one line and exit 2.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { arrivalSchedule } from '../../src/load/pacer.js';
import type { RunRecord } from '../../src/record/types.js';
import { parseScenario } from '../../src/scenario/load.js';
import type { ArrivalRateGroup } from '../../src/scenario/schema.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-shard-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const ARRIVALS = {
  name: 'shard-arrivals',
  target: 'builtin',
  workers: 2,
  monitor: { enabled: false },
  load: [{ model: 'arrival-rate', stages: [{ duration: 0.5, rate: 40 }, { duration: 1, startRate: 40, rate: 160 }] }],
};
const USERS = { name: 'shard-users', target: 'builtin', workers: 2, monitor: { enabled: false }, load: [{ model: 'users', users: 7, rampUp: 0.3, iterations: 2 }] };

function file(name: string, doc: unknown): string {
  const f = path.join(tmp, name);
  writeFileSync(f, JSON.stringify(doc));
  return f;
}

interface Done {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Done> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: tmp });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

const record = (d: Done): RunRecord => JSON.parse(d.stdout) as RunRecord;

describe('run --shard', () => {
  it('three shards with one --start-at: the union of their arrivals is the one-machine schedule; users add up; a stale start warns', async () => {
    const arrivals = file('arrivals.json', ARRIVALS);
    const users = file('users.json', USERS);
    const startAt = new Date(Date.now() + 5000).toISOString();
    const stale = new Date(Date.now() - 60_000).toISOString();
    const common = ['--json', '--quiet', '--checkpoint-interval', '0'];
    const runs = await Promise.all([
      ...[0, 1, 2].map((i) => cli(['run', arrivals, '--shard', `${i}/3`, '--start-at', startAt, '--out', path.join(tmp, 'a'), '--log-requests', ...common])),
      ...[0, 1, 2].map((i) => cli(['run', users, '--shard', `${i}/3`, '--out', path.join(tmp, 'u'), ...common])),
      cli(['run', users, '--shard', '2/3', '--start-at', stale, '--out', path.join(tmp, 's'), '--json', '--checkpoint-interval', '0']),
    ]);
    for (const r of runs) assert.equal(r.status, 0, r.stderr);
    const [a0, a1, a2, u0, u1, u2, late] = runs.map(record) as [RunRecord, RunRecord, RunRecord, RunRecord, RunRecord, RunRecord, RunRecord];

    // Arrivals: every shard ran its stripe of the global schedule, at the global times.
    const schedule = arrivalSchedule(parseScenario(ARRIVALS, 'test').load[0] as ArrivalRateGroup);
    const logged: number[] = [];
    [a0, a1, a2].forEach((r, i) => {
      assert.deepEqual(r.shard && { ...r.shard, lateMs: 0 }, { index: i, count: 3, startAt, lateMs: 0, split: `arrivals k ≡ ${i} (mod 3): 40 of 120; maxRequests ${[33333334, 33333333, 33333333][i]} of 100000000` });
      assert.ok(r.shard!.lateMs !== null && r.shard!.lateMs >= 0 && r.shard!.lateMs < 20_000, `lateMs ${r.shard!.lateMs}`);
      assert.equal(r.label, `shard-${i}-of-3`);
      assert.equal(r.scenario.startAt, startAt);
      assert.equal(r.totals.attempted, 40);
      const dir = path.join(tmp, 'a', r.runId);
      for (const name of readdirSync(dir).filter((n) => n.endsWith('.ndjson'))) {
        for (const line of readFileSync(path.join(dir, name), 'utf8').split('\n').filter(Boolean)) logged.push((JSON.parse(line) as { t: number }).t);
      }
    });
    assert.equal(schedule.total, 120);
    const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;
    assert.deepEqual(logged.sort((x, y) => x - y), Array.from({ length: schedule.total }, (_, k) => round6(schedule.at(k)!)));
    // An on-time shard's second 0 is the agreed instant.
    for (const r of [a0, a1, a2]) if (r.shard!.lateMs! < 1) assert.equal(r.loadStartedAt, startAt);

    // Users: 7 users over 3 shards are 3 + 2 + 2, two iterations each.
    assert.deepEqual([u0, u1, u2].map((r) => r.totals.attempted), [6, 4, 4]);
    assert.deepEqual([u0, u1, u2].map((r) => r.shard!.split.split(';')[0]), ['users j ≡ 0 (mod 3): 3 of 7', 'users j ≡ 1 (mod 3): 2 of 7', 'users j ≡ 2 (mod 3): 2 of 7']);
    assert.deepEqual([u0, u1, u2].map((r) => r.shard!.startAt), [null, null, null]);

    // A --start-at a minute ago: one warning line, started at once, the real lateness recorded.
    assert.ok(late.shard!.lateMs! >= 60_000 && late.shard!.lateMs! < 90_000, String(late.shard!.lateMs));
    assert.equal(late.totals.attempted, 4);
    const warnings = runs[6]!.stderr.split('\n').filter((l) => l.includes('warning'));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^portstorm: warning: --start-at \S+ had passed \d+\.\d s before the load was ready; started now \(lateMs [\d.]+ recorded\)$/);
  });

  it('a shard with nothing to run says so and records an empty run', () => {
    const one = file('one.json', { ...USERS, load: [{ model: 'users', users: 1, iterations: 1 }] });
    const r = spawnSync(process.execPath, [MAIN, 'run', one, '--shard', '2/3', '--out', path.join(tmp, 'e'), '--json', '--checkpoint-interval', '0'], { encoding: 'utf8', cwd: tmp, timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /portstorm: shard 2\/3 runs nothing \(its part of the load is empty\): users j ≡ 2 \(mod 3\): 0 of 1/);
    assert.equal((JSON.parse(r.stdout) as RunRecord).totals.attempted, 0);
  });

  it('bad --shard and --start-at: one line, exit 2', () => {
    const f = file('bad.json', USERS);
    const cases: Array<[string[], RegExp]> = [
      [['--shard', '3/2'], /^portstorm: --shard: the index is 0-based and below the count/],
      [['--shard', '0/0'], /^portstorm: --shard: the shard count must be a positive integer/],
      [['--shard', '1/0'], /^portstorm: --shard: the shard count must be a positive integer/],
      [['--shard', '1.5/3'], /^portstorm: --shard: expected I\/N with integers/],
      [['--start-at', '2026-12-08T10:00:00'], /^portstorm: --start-at: expected an ISO time with a zone/],
    ];
    for (const [args, want] of cases) {
      const r = spawnSync(process.execPath, [MAIN, 'run', f, ...args, '--out', path.join(tmp, 'bad')], { encoding: 'utf8', cwd: tmp, timeout: 30_000 });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, want);
    }
  });
});
