/** The CLI as a user runs it: spawned as a process, judged by exit code, stdout, stderr and files. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-cli-'));

function cli(args: string[], timeout = 60_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout, cwd: tmp });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function scenarioFile(name: string, body: string): string {
  const file = path.join(tmp, name);
  writeFileSync(file, body);
  return file;
}

const SMALL = `name: small
target: builtin
load:
  - model: arrival-rate
    rate: 100
    duration: 1s
`;

const noStack = (text: string): void => assert.doesNotMatch(text, /\n\s+at .+:\d+:\d+/, `stack trace in: ${text}`);

describe('portstorm CLI', () => {
  it('run --json prints the run record and writes run.json', () => {
    const file = scenarioFile('small.yaml', SMALL);
    const out = path.join(tmp, 'results-json');
    const r = cli(['run', file, '--json', '--out', out, '--label', 'baseline']);
    assert.equal(r.status, 0, r.stderr);
    const rec = JSON.parse(r.stdout);
    assert.equal(rec.schema, 1);
    assert.equal(rec.label, 'baseline');
    assert.equal(rec.totals.attempted, 100);
    assert.equal(rec.totals.completed, 100);
    assert.ok(rec.timeline.length >= 1);
    assert.equal(typeof rec.histograms.latency, 'string');
    assert.ok(rec.host.portRange === null || rec.host.portRange.length === 2);
    const saved = path.join(out, rec.runId, 'run.json');
    assert.deepEqual(JSON.parse(readFileSync(saved, 'utf8')), rec);
    assert.match(r.stderr, /results in /);
  });

  it('run prints a summary with the results path', () => {
    const r = cli(['run', scenarioFile('small2.yaml', SMALL), '--out', path.join(tmp, 'r2'), '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /100 attempted, 100 completed, 0 failed/);
    assert.match(r.stdout, /results\s+.*run\.json/);
    assert.equal(r.stderr, '');
  });

  it('--log-requests writes one NDJSON line per request with its timings and local port', () => {
    const out = path.join(tmp, 'r-log');
    const r = cli(['run', scenarioFile('log.yaml', SMALL + 'workers: 1\n'), '--json', '--quiet', '--out', out, '--log-requests']);
    assert.equal(r.status, 0, r.stderr);
    const rec = JSON.parse(r.stdout);
    assert.deepEqual(rec.requestLogs, ['requests-0.ndjson']);
    const lines = readFileSync(path.join(out, rec.runId, 'requests-0.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, rec.totals.attempted);
    for (const e of lines) {
      assert.equal(e.code, null);
      assert.ok(e.start >= e.t - 0.001 && e.ms >= 0 && e.connectMs > 0 && e.ttfbMs > 0, JSON.stringify(e));
      assert.ok(Number.isInteger(e.port) && e.port > 0);
    }
    assert.equal(new Set(lines.map((e) => e.port)).size, lines.length, 'reuse: false uses a new local port per request');
  });

  it('run writes report.html; report re-renders a saved run in every format', () => {
    const out = path.join(tmp, 'r-report');
    const r = cli(['run', scenarioFile('report.yaml', SMALL), '--quiet', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    const html = /report\s+(\S+report\.html)/.exec(r.stdout)?.[1];
    assert.ok(html && existsSync(html), r.stdout);
    assert.match(r.stdout, /verdict\s+healthy/);
    const dir = path.dirname(html);
    const md = cli(['report', dir, '--format', 'md']);
    assert.equal(md.status, 0, md.stderr);
    assert.match(md.stdout, /^# portstorm: small/m);
    assert.match(md.stdout, /## Latency/);
    const js = JSON.parse(cli(['report', path.join(dir, 'run.json'), '--format', 'json']).stdout);
    assert.equal(js.diagnosis[0].verdict, 'healthy');
    assert.match(cli(['report', dir]).stdout, /100 attempted, 100 completed/);
    const file = path.join(tmp, 'again.html');
    assert.equal(cli(['report', dir, '--format', 'html', '--out', file]).status, 0);
    assert.match(readFileSync(file, 'utf8'), /^<!doctype html>/i);
  });

  it('report: a missing or malformed run record is exit 2 naming the file', () => {
    const a = cli(['report', path.join(tmp, 'nothing-here')]);
    assert.equal(a.status, 2);
    assert.match(a.stderr, /cannot read run record .*nothing-here/);
    const bad = scenarioFile('bad-run.json', '{"schema": 99}');
    const b = cli(['report', bad]);
    assert.equal(b.status, 2);
    assert.match(b.stderr, /bad-run\.json: not a portstorm run record/);
    noStack(b.stderr);
  });

  it('--set overrides fields', () => {
    const r = cli(['run', scenarioFile('small3.yaml', SMALL), '--json', '--quiet', '--out', path.join(tmp, 'r3'), '--set', 'load[0].rate=30', '--set', 'name=overridden']);
    assert.equal(r.status, 0, r.stderr);
    const rec = JSON.parse(r.stdout);
    assert.equal(rec.totals.attempted, 30);
    assert.equal(rec.scenario.name, 'overridden');
  });

  it('an invalid scenario: exit 2, one line per problem naming file and field, no stack', () => {
    const file = scenarioFile('bad.yaml', `target: builtin
connection: { reus: true }
load:
  - { model: arrival-rate, rate: 10, duration: 1s }
  - { model: arrival-rate, rate: -5, duration: 1s }
`);
    const r = cli(['run', file]);
    assert.equal(r.status, 2);
    const lines = r.stderr.trim().split('\n');
    assert.ok(lines.some((l) => l.includes(`${file}: connection.reus: unknown key`)), r.stderr);
    assert.ok(lines.some((l) => l.includes(`${file}: load[1].rate:`)), r.stderr);
    noStack(r.stderr);
  });

  it('a missing scenario file: exit 2', () => {
    const r = cli(['run', path.join(tmp, 'nope.yaml')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /cannot read scenario/);
    noStack(r.stderr);
  });

  it('a failed threshold: exit 1, and the summary says which', () => {
    const file = scenarioFile('threshold.yaml', SMALL + 'thresholds: ["latency.p50 < 0.001", "errors.EADDRNOTAVAIL == 0"]\n');
    const r = cli(['run', file, '--quiet', '--out', path.join(tmp, 'r4')]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /threshold FAIL\s+latency\.p50 < 0\.001/);
    assert.match(r.stdout, /threshold ok\s+errors\.EADDRNOTAVAIL == 0/);
  });

  it('a remote target is refused before any traffic: exit 2', () => {
    // 203.0.113.0/24 is TEST-NET-3; the guard refuses it before connecting.
    const file = scenarioFile('remote.yaml', 'target: http://203.0.113.7:8080/\nload: [{ model: users, users: 1, iterations: 1 }]\n');
    const r = cli(['run', file]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /not a loopback or private address/);
    assert.match(r.stderr, /--allow-remote/);
    noStack(r.stderr);
  });

  it('request failures are data: a refused target still exits 0 with the errors counted', () => {
    const file = scenarioFile('refused.yaml', 'target: http://127.0.0.1:1/\nload: [{ model: users, users: 1, iterations: 3 }]\n');
    const r = cli(['run', file, '--json', '--quiet', '--out', path.join(tmp, 'r5')]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).errors, { ECONNREFUSED: 3 });
  });

  it('SIGINT: stops, writes a partial record, exits 130', async () => {
    const file = scenarioFile('long.yaml', 'target: builtin\nload: [{ model: arrival-rate, rate: 50, duration: 60s }]\n');
    const out = path.join(tmp, 'r6');
    const child = spawn(process.execPath, [MAIN, 'run', file, '--out', out, '--json'], { cwd: tmp });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    let signalled = false;
    child.stderr.on('data', (c: Buffer) => {
      stderr += c;
      // One SIGINT only: a second one means "exit at once" and would leave no final record.
      if (signalled || !(stderr.includes('with 1 worker') || stderr.includes('workers'))) return;
      signalled = true;
      setTimeout(() => child.kill('SIGINT'), 1500);
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearTimeout(killer);
    assert.equal(code, 130, stderr);
    const rec = JSON.parse(stdout);
    assert.equal(rec.status, 'interrupted');
    assert.ok(rec.totals.attempted > 0 && rec.totals.attempted < 3000);
    assert.ok(existsSync(path.join(out, rec.runId, 'run.json')));
  });

  it('usage errors: unknown command and missing argument exit 2', () => {
    const a = cli(['explode']);
    assert.equal(a.status, 2);
    noStack(a.stderr);
    const b = cli(['run']);
    assert.equal(b.status, 2);
    assert.match(b.stderr, /see portstorm run --help/);
  });

  it('--help lists the commands and the exit codes', () => {
    const r = cli(['--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /portstorm run <scenario>/);
    assert.match(r.stdout, /portstorm serve/);
    assert.match(r.stdout, /130\s+interrupted/);
  });

  it('serve runs the built-in target until --duration', () => {
    const r = cli(['serve', '--port', '0', '--duration', '1s']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /http listening on 127\.0\.0\.1:\d+/);
  });
});
