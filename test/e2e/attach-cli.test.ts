/**
 * `portstorm report RUN --attach NAME=FILE` as a user runs it: a real short run, and samples files
 * made from real `portstorm monitor` samples moved into the run's seconds (or taken beside the run).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { diagnose } from '../../src/analysis/diagnose.js';
import { analyzeExhaustion } from '../../src/analysis/exhaustion.js';
import { agentLine, type AgentLine } from '../../src/monitor/agent-protocol.js';
import type { MonitorSample } from '../../src/monitor/types.js';
import type { HostInfo, RunRecord } from '../../src/record/types.js';
import { BACKEND, shiftTo, withBackendUse } from '../helpers/service-samples.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const FIX = fileURLToPath(new URL('../../../test/fixtures/records/', import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-attach-'));

function cli(args: string[], timeout = 60_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout, cwd: tmp });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const SCENARIO = `name: attach
target: builtin
load:
  - model: arrival-rate
    rate: 20
    duration: 3s
`;

/** The run every test attaches to (each to its own copy), and real samples and host settings of this machine. */
let runDir = '';
let real: MonitorSample[] = [];
let host: HostInfo;

/** A fresh copy of the run's directory. */
let copies = 0;
function copyOfRun(): string {
  const dir = path.join(tmp, `run-${++copies}`);
  cpSync(runDir, dir, { recursive: true });
  return dir;
}

const recordIn = (dir: string, name = 'run.json'): RunRecord => JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as RunRecord;

/**
 * Sample lines for run seconds [fromS, toS) of a run whose load started at `startMs`: the real
 * samples moved there, four per second (the real sockstat samples at 20, 270, 520, 770 ms, a real
 * scan at 20 ms), with 100 × (second + 1) ports toward the backend in TIME_WAIT.
 */
function sampleLines(startMs: number, fromS: number, toS: number): string[] {
  const fast = real.filter((s) => s.sockstat !== null);
  const scans = real.filter((s) => s.scan !== null);
  const lines: string[] = [];
  for (let t = fromS; t < toS; t++) {
    const use = 100 * (t + 1);
    lines.push(agentLine({ type: 'sample', sample: withBackendUse(shiftTo(scans[t % scans.length]!, startMs + t * 1000 + 20), use) }));
    for (let q = 0; q < 4; q++) lines.push(agentLine({ type: 'sample', sample: withBackendUse(shiftTo(fast[(4 * t + q) % fast.length]!, startMs + t * 1000 + q * 250 + 20), use) }));
  }
  return lines;
}

function helloLine(time: number): string {
  return agentLine({ type: 'hello', time, agent: { version: '0.1.0', pid: 4242 }, host, intervalMs: 250, scanIntervalMs: 1000 });
}

function samplesFile(name: string, lines: readonly string[]): string {
  const file = path.join(tmp, name);
  writeFileSync(file, lines.map((l) => (l.endsWith('\n') ? l : `${l}\n`)).join(''));
  return file;
}

const loadStart = (r: RunRecord): number => Date.parse(r.loadStartedAt!);
const seconds = (r: RunRecord): number => Math.floor(r.durationS);

before(() => {
  writeFileSync(path.join(tmp, 'attach.yaml'), SCENARIO);
  const run = cli(['run', 'attach.yaml', '--quiet', '--out', 'results']);
  assert.equal(run.status, 0, run.stderr);
  runDir = path.dirname(/results\s+(\S+run\.json)/.exec(run.stdout)?.[1] ?? assert.fail(`no run.json in ${run.stdout}`));
  runDir = path.resolve(tmp, runDir);
  const mon = cli(['monitor', '--out', 'real.ndjson', '--duration', '1s', '--interval', '250ms', '--scan-interval', '500ms']);
  assert.equal(mon.status, 0, mon.stderr);
  const written = readFileSync(path.join(tmp, 'real.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as AgentLine);
  // monitor --out writes the agent's lines: a hello first, then a line per sample, a status last.
  assert.equal(written[0]?.type, 'hello');
  assert.equal(written.at(-1)?.type, 'status');
  real = written.flatMap((l) => (l.type === 'sample' ? [l.sample] : []));
  assert.ok(real.some((s) => s.scan) && real.some((s) => s.sockstat), `portstorm monitor took no scan or no sockstat sample here: ${JSON.stringify(real).slice(0, 400)}`);
  const once = cli(['monitor', '--once', '--json']);
  assert.equal(once.status, 0, once.stderr);
  host = (JSON.parse(once.stdout) as { host: HostInfo }).host;
});

after(() => rmSync(tmp, { recursive: true, force: true }));

describe('portstorm report --attach', () => {
  it('the run records when its load started: run second 0 on the wall clock', () => {
    const r = recordIn(runDir);
    assert.ok(r.loadStartedAt, 'loadStartedAt');
    assert.ok(loadStart(r) >= Date.parse(r.startedAt));
  });

  it("attaches a service's samples: hosts.service per second, coverage, the diagnosis made again, run.json rewritten with the original kept, report.html regenerated", () => {
    const dir = copyOfRun();
    const original = recordIn(dir);
    // A stale diagnosis, to see it made again.
    const stale = { ...original, diagnosis: [{ verdict: 'dns-failures', severity: 'critical', confidence: 1, atS: null, evidence: ['stale'], advice: [] }] };
    writeFileSync(path.join(dir, 'run.json'), JSON.stringify(stale, null, 1) + '\n');
    const before = readFileSync(path.join(dir, 'run.json'), 'utf8');
    const htmlBefore = readFileSync(path.join(dir, 'report.html'), 'utf8');
    const n = seconds(original);
    const file = samplesFile('service.ndjson', [helloLine(loadStart(original) - 3000), ...sampleLines(loadStart(original), 0, n)]);

    const r = cli(['report', dir, '--attach', `service=${file}`, '--format', 'json']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stderr.trimEnd().split('\n');
    assert.match(lines[0]!, new RegExp(`^portstorm: attach service: ${file.replace(/[.]/g, '\\.')} covers [\\d.]+ s of the run's ${original.durationS.toFixed(1)} s \\(t = 0\\.0–${(n - 1).toFixed(0)}\\.8 s\\)`));
    assert.match(lines.at(-1)!, /^portstorm: wrote \S+run\.json with service \(the original kept as \S+run\.orig\.json\) and \S+report\.html$/);
    assert.equal(readFileSync(path.join(dir, 'run.orig.json'), 'utf8'), before, 'the original is kept byte for byte');

    const rec = recordIn(dir);
    assert.deepEqual(JSON.parse(r.stdout), rec, 'stdout is the revised record');
    assert.equal(rec.schema, 2);
    assert.deepEqual(Object.keys(rec.hosts!), ['client', 'service']);
    const svc = rec.hosts!.service!;
    assert.equal(svc.source, 'file');
    assert.equal(svc.address, file);
    assert.deepEqual(svc.clock, { method: 'wall-clock', offsetMs: 0, uncertaintyMs: null });
    assert.deepEqual(svc.host, host);
    assert.equal(svc.timeline.length, rec.timeline.length);
    for (let t = 0; t < n; t++) assert.equal(svc.timeline[t]!.sockets?.timeWait, 100 * (t + 1), `second ${t}: ${JSON.stringify(svc.timeline[t])}`);
    assert.equal(svc.ports?.busiestDestination, BACKEND);
    assert.equal(svc.ports?.peakInUse, 100 * n);
    assert.equal(svc.coverage.fromS, 0);
    assert.equal(svc.coverage.toS, n - 1);
    // The analysis is the one of the revised record, not the stale one.
    assert.ok(!rec.diagnosis!.some((v) => v.evidence.includes('stale')));
    const { exhaustion: _e, diagnosis: _d, ...bare } = rec;
    assert.deepEqual(rec.exhaustion, analyzeExhaustion(bare as RunRecord));
    assert.deepEqual(rec.diagnosis, diagnose(rec, rec.exhaustion));
    // The client's own figures are untouched.
    assert.deepEqual(rec.hosts!.client, original.hosts!.client);
    assert.deepEqual(rec.timeline, original.timeline);
    const html = readFileSync(path.join(dir, 'report.html'), 'utf8');
    assert.notEqual(html, htmlBefore);
    const embedded = JSON.parse(/<script type="application\/json" id="portstorm-data">([\s\S]*?)<\/script>/.exec(html)![1]!) as RunRecord;
    assert.deepEqual(embedded.hosts!.service, svc);
  });

  it('the revised record reads back in every format and compares with the original; attaching the name again replaces the host and keeps the first original', () => {
    const dir = copyOfRun();
    const original = recordIn(dir);
    const start = loadStart(original);
    const first = samplesFile('svc-a.ndjson', [helloLine(start), ...sampleLines(start, 0, seconds(original))]);
    assert.equal(cli(['report', dir, '--attach', `service=${first}`]).status, 0);
    const kept = readFileSync(path.join(dir, 'run.orig.json'), 'utf8');
    for (const format of ['text', 'md', 'html', 'json']) {
      const r = cli(['report', dir, '--format', format]);
      assert.equal(r.status, 0, `${format}: ${r.stderr}`);
      assert.ok(r.stdout.length > 200, format);
      if (format === 'json') assert.equal((JSON.parse(r.stdout) as RunRecord).hosts!.service!.address, first);
    }
    const cmp = cli(['compare', path.join(dir, 'run.orig.json'), path.join(dir, 'run.json')]);
    assert.equal(cmp.status, 0, cmp.stderr);

    const second = samplesFile('svc-b.ndjson', [helloLine(start), ...sampleLines(start, 1, 2)]);
    const again = cli(['report', dir, '--attach', `service:proxy=${second}`]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, new RegExp(`^portstorm: attach service: replaces the host service the record held \\(file ${first.replace(/[.]/g, '\\.')}\\)$`, 'm'));
    assert.match(again.stderr, /\(the original still in \S+run\.orig\.json\)/);
    assert.equal(readFileSync(path.join(dir, 'run.orig.json'), 'utf8'), kept, 'the first original stays');
    const rec = recordIn(dir);
    assert.deepEqual(Object.keys(rec.hosts!), ['client', 'service']);
    assert.equal(rec.hosts!.service!.role, 'proxy');
    assert.equal(rec.hosts!.service!.address, second);
  });

  it('a file over part of the run: how much it covers, on stderr and in the host (coverage, gaps)', () => {
    const dir = copyOfRun();
    const original = recordIn(dir);
    const start = loadStart(original);
    const file = samplesFile('partial.ndjson', [helloLine(start - 60_000), ...sampleLines(start, 1, 2)]);
    const r = cli(['report', dir, '--attach', `service=${file}`]);
    assert.equal(r.status, 0, r.stderr);
    const runS = original.durationS;
    const missing = (Math.round((runS - 0.8) * 10) / 10).toFixed(1);
    assert.match(r.stderr, new RegExp(`^portstorm: attach service: \\S+partial\\.ndjson covers 0\\.8 s of the run's ${runS.toFixed(1)} s \\(t = 1\\.0–1\\.8 s\\); ${missing} s without samples$`, 'm'));
    const svc = recordIn(dir).hosts!.service!;
    assert.equal(svc.timeline[0]!.sockets, null, 'no sample in second 0: null, never zeros');
    assert.equal(svc.timeline[1]!.sockets?.timeWait, 200);
    assert.equal(svc.coverage.fromS, 1);
    assert.equal(svc.coverage.toS, 1);
    assert.equal(svc.gaps[0], 'no samples before t = 1.0 s: the file starts 1.0 s into the run');
    assert.match(svc.gaps[1]!, /^no samples after t = 1\.8 s: the file ends [\d.]+ s before the run$/);
  });

  it('refuses a file that does not overlap the run (exit 2, one line), leaving the run as it was', () => {
    const dir = copyOfRun();
    const before = readFileSync(path.join(dir, 'run.json'), 'utf8');
    const start = loadStart(recordIn(dir));
    const file = samplesFile('yesterday.ndjson', [helloLine(start - 86_400_000), ...sampleLines(start - 86_400_000, 0, 3)]);
    const r = cli(['report', dir, '--attach', `service=${file}`]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^portstorm: attach service: \S+yesterday\.ndjson: does not overlap the run: its samples are from \S+ to \S+, the run's load from \S+ to \S+\n$/);
    assert.equal(readFileSync(path.join(dir, 'run.json'), 'utf8'), before);
    assert.ok(!existsSync(path.join(dir, 'run.orig.json')));
  });

  it('skips bad lines, naming each with its line number, and attaches the rest', () => {
    const dir = copyOfRun();
    const start = loadStart(recordIn(dir));
    const lines = [helloLine(start), ...sampleLines(start, 0, 2)];
    lines.splice(1, 0, '{"type":"sample","sample":');
    lines.splice(4, 0, JSON.stringify({ type: 'sample', sample: { at: 'noon' } }));
    const file = samplesFile('torn.ndjson', lines);
    const r = cli(['report', dir, '--attach', `service=${file}`]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^portstorm: attach service: \S+torn\.ndjson line 2: not JSON \([^\n]*\); skipped$/m);
    assert.match(r.stderr, /^portstorm: attach service: \S+torn\.ndjson line 5: sample\.at: [^\n]*; skipped$/m);
    assert.equal(recordIn(dir).hosts!.service!.timeline[1]!.sockets?.timeWait, 200);
  });

  it('reads a file of bare samples (monitor --out before the hello line): the host settings are then unknown', () => {
    const dir = copyOfRun();
    const start = loadStart(recordIn(dir));
    const bare = sampleLines(start, 0, 2).map((l) => JSON.stringify((JSON.parse(l) as { sample: MonitorSample }).sample));
    const r = cli(['report', dir, '--attach', `backend:backend=${samplesFile('bare.ndjson', bare)}`]);
    assert.equal(r.status, 0, r.stderr);
    const h = recordIn(dir).hosts!.backend!;
    assert.equal(h.role, 'backend');
    assert.equal(h.host, null);
    assert.equal(h.monitor.intervalS, 0.25);
    assert.equal(h.timeline[0]!.sockets?.timeWait, 100);
  });

  it('takes a schema 1 record: the result is schema 2, aligned to startedAt and saying so', () => {
    const dir = path.join(tmp, 'schema1');
    cpSync(path.join(FIX, 'healthy.json'), path.join(dir, 'run.json'));
    const old = recordIn(dir);
    assert.equal(old.schema, 1);
    const start = Date.parse(old.startedAt);
    const r = cli(['report', dir, '--attach', `service=${samplesFile('old.ndjson', [helloLine(start), ...sampleLines(start, 0, 8)])}`]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^portstorm: \S+run\.json has no loadStartedAt \(written before portstorm recorded it\): the attached samples are aligned to its startedAt, so only to within the run's start-up \(a second or two\)$/m);
    const rec = recordIn(dir);
    assert.equal(rec.schema, 2);
    assert.deepEqual(Object.keys(rec.hosts!), ['client', 'service']);
    assert.equal(rec.hosts!.service!.timeline[7]!.sockets?.timeWait, 800);
    assert.equal(recordIn(dir, 'run.orig.json').schema, 1);
    assert.equal(cli(['report', dir, '--format', 'md']).status, 0);
  });

  it('bad --attach values are one line each, exit 2, and change nothing', () => {
    const dir = copyOfRun();
    const before = readFileSync(path.join(dir, 'run.json'), 'utf8');
    const start = loadStart(recordIn(dir));
    const good = samplesFile('good.ndjson', [helloLine(start), ...sampleLines(start, 0, 2)]);
    const cases: Array<[string[], RegExp]> = [
      [['--attach', `service=${path.join(tmp, 'missing.ndjson')}`], /^portstorm: attach service: \S+missing\.ndjson: cannot read it \(ENOENT: no such file\)$/],
      [['--attach', `service=${tmp}`], /^portstorm: attach service: \S+: cannot read it \(EISDIR: a directory, not a file\)$/],
      [['--attach', `client=${good}`], /^portstorm: --attach client=\S+: client is the load generator's own host/],
      [['--attach', `my host=${good}`], /^portstorm: --attach my host=\S+: the name my host: expected letters, digits, - _ \./],
      [['--attach', good], /^portstorm: --attach \S+good\.ndjson: expected NAME=FILE or NAME:ROLE=FILE/],
      [['--attach', `service=${good}`, '--attach', `service=${good}`], /^portstorm: --attach service=\S+: service is attached twice/],
      [['--attach', `service=${samplesFile('junk.ndjson', ['hello', 'world'])}`], /^portstorm: attach service: \S+junk\.ndjson: no usable sample in it \(2 lines could not be read, the first: line 1: not JSON/],
      [['--attach'], /^portstorm: Not enough arguments following: attach/],
    ];
    for (const [args, message] of cases) {
      const r = cli(['report', dir, ...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr.trimEnd(), message);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    }
    assert.equal(readFileSync(path.join(dir, 'run.json'), 'utf8'), before);
    assert.ok(!existsSync(path.join(dir, 'run.orig.json')));
  });

  it('a run directory that cannot be written is left as it was: the revised record and its report go to the fallback directory', () => {
    const dir = copyOfRun();
    const before = readFileSync(path.join(dir, 'run.json'), 'utf8');
    const start = loadStart(recordIn(dir));
    const file = samplesFile('ro.ndjson', [helloLine(start), ...sampleLines(start, 0, 2)]);
    const fallback = path.join(os.tmpdir(), `portstorm-${path.basename(dir)}`);
    // A read-only bind mount of the run directory in a private mount namespace (works as root too, whom mode bits do not stop).
    const script = 'mount --bind "$DIR" "$DIR" && mount -o remount,ro,bind "$DIR" && exec "$NODE" "$MAIN" report "$DIR" --attach "service=$FILE"';
    const r = spawnSync('unshare', ['-rm', 'sh', '-c', script], { env: { ...process.env, DIR: dir, NODE: process.execPath, MAIN, FILE: file }, encoding: 'utf8', cwd: tmp, timeout: 60_000 });
    try {
      assert.ok(!/unshare: /.test(r.stderr), `cannot make ${dir} read-only here (unshare -rm refused): ${r.stderr}`);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /^portstorm: cannot keep the original as \S+run\.orig\.json \(EROFS: read-only file system\); wrote the revised record to \S+ instead$/m);
      assert.match(r.stderr, /\(the original left as it was\)/);
      assert.equal(readFileSync(path.join(dir, 'run.json'), 'utf8'), before);
      assert.ok(!existsSync(path.join(dir, 'run.orig.json')));
      assert.deepEqual(Object.keys(recordIn(fallback).hosts!), ['client', 'service']);
      assert.ok(existsSync(path.join(fallback, 'report.html')));
    } finally {
      rmSync(fallback, { recursive: true, force: true });
    }
  });

  it('a monitor --out file taken beside a real run lines up with it by wall-clock time', async () => {
    const out = path.join(tmp, 'beside.ndjson');
    const monitor = spawn(process.execPath, [MAIN, 'monitor', '--out', out, '--duration', '60s'], { cwd: tmp, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => monitor.once('exit', resolve));
    try {
      for (let waited = 0; !(existsSync(out) && readFileSync(out, 'utf8').includes('"scan":{')); waited += 100) {
        assert.ok(waited < 20_000, 'portstorm monitor wrote no scan within 20 s');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const run = cli(['run', 'attach.yaml', '--quiet', '--out', 'beside-results']);
      assert.equal(run.status, 0, run.stderr);
      const dir = path.resolve(tmp, path.dirname(/results\s+(\S+run\.json)/.exec(run.stdout)![1]!));
      monitor.kill('SIGINT');
      assert.equal(await exited, 0);
      const r = cli(['report', dir, '--attach', `service=${out}`]);
      assert.equal(r.status, 0, r.stderr);
      const rec = recordIn(dir);
      assert.match(r.stderr, new RegExp(`covers [\\d.]+ s of the run's ${rec.durationS.toFixed(1)} s \\(t = 0\\.\\d–`));
      // The monitor beside the run saw the run's own connections (to the built-in target) in the same seconds.
      const own = rec.ownDestinations![0]!;
      const dest = rec.hosts!.service!.destinations.find((d) => d.dest === own);
      assert.ok(dest && dest.peakInUse > 0, `${own} in ${JSON.stringify(rec.hosts!.service!.destinations)}`);
      assert.ok(rec.hosts!.service!.timeline.slice(0, Math.floor(rec.durationS)).every((e) => e.sockets !== null));
    } finally {
      monitor.kill('SIGKILL');
    }
  });
});
