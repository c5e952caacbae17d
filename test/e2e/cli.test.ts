/** The CLI as a user runs it: spawned as a process, judged by exit code, stdout, stderr and files. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/**
 * Runs `script` (sh) where `eval "$LOCK"` makes `dir` read-only from then on: a read-only bind
 * mount in a private mount namespace (`unshare -rm`, so it works as root, whom mode bits do not
 * stop, and as a user with user namespaces), else `chattr +i` (root on ext4/xfs). Either way writes
 * there fail (EROFS, EPERM) as they would on a full or remounted disk.
 */
function withReadOnly(dir: string, script: string, timeout = 60_000): { status: number | null; stdout: string; stderr: string; how: string } {
  const env = { ...process.env, NODE: process.execPath, MAIN, DIR: dir };
  const remount = 'mount -o remount,ro,bind "$DIR"';
  const probe = spawnSync('unshare', ['-rm', 'sh', '-c', `mount --bind "$DIR" "$DIR" && ${remount} && ! touch "$DIR/.w" 2>/dev/null`], { env, encoding: 'utf8' });
  if (probe.status === 0) {
    const r = spawnSync('unshare', ['-rm', 'sh', '-c', `mount --bind "$DIR" "$DIR" && ${script}`], { env: { ...env, LOCK: remount }, encoding: 'utf8', timeout, cwd: tmp });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, how: 'unshare' };
  }
  try {
    const r = spawnSync('sh', ['-c', script], { env: { ...env, LOCK: 'chattr +i "$DIR"' }, encoding: 'utf8', timeout, cwd: tmp });
    assert.ok(!/chattr:/.test(r.stderr), `cannot make ${dir} read-only: neither unshare -rm (${probe.stderr.trim()}) nor chattr +i works here: ${r.stderr}`);
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, how: 'chattr' };
  } finally {
    spawnSync('chattr', ['-i', dir]);
  }
}

const noStack = (text: string): void => assert.doesNotMatch(text, /\n\s+at .+:\d+:\d+/, `stack trace in: ${text}`);

describe('portstorm CLI', () => {
  it('run --json prints the run record and writes run.json', () => {
    const file = scenarioFile('small.yaml', SMALL);
    const out = path.join(tmp, 'results-json');
    const r = cli(['run', file, '--json', '--out', out, '--label', 'baseline']);
    assert.equal(r.status, 0, r.stderr);
    const rec = JSON.parse(r.stdout);
    assert.equal(rec.schema, 2);
    assert.equal(rec.label, 'baseline');
    // Schema 2: the load generator's own monitor is host `client`, in the per-host shape.
    assert.deepEqual(Object.keys(rec.hosts), ['client']);
    assert.equal(rec.hosts.client.role, 'client');
    assert.deepEqual(rec.hosts.client.clock, { method: 'local', offsetMs: 0, uncertaintyMs: 0 });
    assert.equal(rec.hosts.client.timeline.length, rec.timeline.length);
    assert.deepEqual(rec.hosts.client.ports, rec.ports);
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

  it('--out on /proc: refused before any load, quickly, exit 2', () => {
    const file = scenarioFile('proc.yaml', SMALL);
    const began = Date.now();
    const r = cli(['run', file, '--out', '/proc/foo'], 20_000);
    assert.equal(r.status, 2, r.stderr);
    assert.ok(Date.now() - began < 15_000, 'returns at once');
    assert.equal(r.stderr, 'portstorm: --out /proc/foo: /proc is a kernel pseudo-filesystem, not a place for results; choose a directory on a disk\n');
    assert.equal(r.stdout, '');
    const sys = cli(['run', file, '--out', '/sys/kernel/x'], 20_000);
    assert.equal(sys.status, 2);
    assert.match(sys.stderr, /^portstorm: --out \/sys\/kernel\/x: \/sys is a kernel pseudo-filesystem/);
    const lab = cli(['lab', file, '--out', '/proc/foo'], 20_000);
    assert.equal(lab.status, 2, lab.stderr);
    assert.match(lab.stderr, /^portstorm: --out \/proc\/foo: \/proc is a kernel pseudo-filesystem/);
  });

  it('--out on a file, or through one: refused before any load, exit 2', () => {
    const file = scenarioFile('onfile.yaml', SMALL);
    const plain = scenarioFile('plain-file', 'x');
    const a = cli(['run', file, '--out', plain, '--quiet']);
    assert.equal(a.status, 2, a.stderr);
    assert.equal(a.stderr, `portstorm: --out ${plain}: it is a file, not a directory\n`);
    const b = cli(['run', file, '--out', path.join(plain, 'sub', 'dir'), '--quiet']);
    assert.equal(b.status, 2);
    assert.equal(b.stderr, `portstorm: --out ${path.join(plain, 'sub', 'dir')}: ${plain} is a file, not a directory\n`);
    assert.equal(b.stdout, '');
  });

  it('--out on a read-only directory: refused before any load, exit 2', () => {
    const file = scenarioFile('ro.yaml', SMALL);
    const dir = path.join(tmp, 'read-only');
    mkdirSync(dir);
    const r = withReadOnly(dir, `eval "$LOCK" && "$NODE" "$MAIN" run ${JSON.stringify(file)} --out "$DIR/results"; echo "exit $?"`);
    assert.match(r.stdout, /exit 2\n$/, `${r.how}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^portstorm: --out ${dir}/results: cannot write there \\((EROFS: read-only file system|EPERM: operation not permitted)\\); choose a writable directory\n$`), r.how);
    assert.deepEqual(readdirSync(dir), [], 'nothing was written, no load ran');
  });

  it('a results directory that stops taking files during the run: the record goes to the temp directory and stderr says where', () => {
    const file = scenarioFile('fallback.yaml', 'name: fallback\ntarget: builtin\nload: [{ model: arrival-rate, rate: 50, duration: 2s }]\nworkers: 1\n');
    const dir = path.join(tmp, 'goes-read-only');
    mkdirSync(dir);
    // The load starts (the "run <id>" line), then the directory turns read-only before the record is written.
    const script = [
      `"$NODE" "$MAIN" run ${JSON.stringify(file)} --out "$DIR" --checkpoint-interval 0 > "$DIR.out" 2> "$DIR.err" &`,
      'pid=$!',
      'i=0; while ! grep -q "with 1 worker" "$DIR.err" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done',
      'eval "$LOCK"',
      'wait $pid; echo "exit $?"',
    ].join('\n');
    const r = withReadOnly(dir, script);
    const stderr = readFileSync(`${dir}.err`, 'utf8');
    const stdout = readFileSync(`${dir}.out`, 'utf8');
    assert.match(r.stdout, /exit 0\n$/, `${r.how}: ${r.stderr} ${stderr}`);
    const runId = /run (\S+): http/.exec(stderr)?.[1];
    assert.ok(runId, stderr);
    const fallback = path.join(os.tmpdir(), `portstorm-${runId}`);
    try {
      assert.ok(stderr.includes(`portstorm: cannot write ${path.join(dir, runId, 'run.json')} (`), stderr);
      assert.ok(stderr.includes(`); writing to ${fallback} instead\n`), stderr);
      assert.ok(stdout.includes(`results                ${path.join(fallback, 'run.json')}`), stdout);
      const rec = JSON.parse(readFileSync(path.join(fallback, 'run.json'), 'utf8'));
      assert.equal(rec.runId, runId);
      assert.equal(rec.status, 'completed');
      assert.equal(rec.totals.attempted, 100, 'the whole run is in the record');
      assert.ok(existsSync(path.join(fallback, 'report.html')));
      noStack(stderr);
    } finally {
      rmSync(fallback, { recursive: true, force: true });
    }
  });

  it('a disk that fills up: the record goes to the temp directory, no temp file is left behind', () => {
    const file = scenarioFile('full.yaml', 'name: full\ntarget: builtin\nload: [{ model: arrival-rate, rate: 50, duration: 1s }]\nworkers: 1\n');
    const dir = path.join(tmp, 'full-disk');
    mkdirSync(dir);
    // A 4 KiB tmpfs in a private mount namespace: the --out check passes (an empty probe file), the record does not fit.
    const script = `mount -t tmpfs -o size=4k tmpfs "$DIR" && "$NODE" "$MAIN" run ${JSON.stringify(file)} --out "$DIR" --quiet --checkpoint-interval 0; echo "exit $?"; ls -A "$DIR"/*`;
    const env = { ...process.env, NODE: process.execPath, MAIN, DIR: dir };
    let r = spawnSync('unshare', ['-rm', 'sh', '-c', script], { env, encoding: 'utf8', timeout: 60_000, cwd: tmp });
    if (!/exit \d+/.test(r.stdout)) r = spawnSync('unshare', ['-m', 'sh', '-c', script], { env, encoding: 'utf8', timeout: 60_000, cwd: tmp });
    assert.match(r.stdout, /exit 0\n/, r.stderr);
    const runId = /writing to \S+portstorm-(\S+) instead/.exec(r.stderr)?.[1];
    assert.ok(runId, r.stderr);
    const fallback = path.join(os.tmpdir(), `portstorm-${runId}`);
    try {
      assert.match(r.stderr, /^portstorm: cannot write \S+\/run\.json \(ENOSPC: no space left on device\); writing to /);
      assert.equal(r.stdout.split('exit 0\n')[1], '', 'the run directory on the full disk holds no half-written temp file');
      assert.equal(JSON.parse(readFileSync(path.join(fallback, 'run.json'), 'utf8')).totals.attempted, 50);
    } finally {
      rmSync(fallback, { recursive: true, force: true });
    }
  });

  it('report on a scenario says it is a scenario, not a run, and how to run it', () => {
    const demo = fileURLToPath(new URL('../../../scenarios/demo.yaml', import.meta.url));
    const r = cli(['report', demo]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, `portstorm: ${demo} is a scenario, not a run record: run it with \`portstorm run ${demo}\`, then report the run directory it prints\n`);
    const json = scenarioFile('scenario.json', JSON.stringify({ load: [{ model: 'users', users: 1, iterations: 1 }] }));
    assert.match(cli(['report', json]).stderr, /scenario\.json is a scenario, not a run record/);
  });

  it('report on a directory of runs names one of them', () => {
    const out = path.join(tmp, 'r-many');
    assert.equal(cli(['run', scenarioFile('many.yaml', SMALL), '--quiet', '--out', out]).status, 0);
    const r = cli(['report', out]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, new RegExp(`^portstorm: ${out} is a results directory holding one run: name a run directory in it, e\\.g\\. ${out}/\\S+-small-\\w+\\n$`));
    const missing = cli(['report', path.join(tmp, 'no-such-run')]);
    assert.equal(missing.stderr, `portstorm: cannot read run record ${path.join(tmp, 'no-such-run')}: ENOENT\n`);
  });

  it('a run record with several problems lists each of them', () => {
    const fixture = JSON.parse(readFileSync(fileURLToPath(new URL('../../../test/fixtures/records/healthy.json', import.meta.url)), 'utf8'));
    fixture.totals.attempted = 'many';
    fixture.durationS = -1;
    delete fixture.timeline[0].completed;
    const file = scenarioFile('three-problems.json', JSON.stringify(fixture));
    const r = cli(['report', file]);
    assert.equal(r.status, 2);
    const line = r.stderr.trim();
    assert.equal(line.split('\n').length, 1, 'one line');
    assert.ok(line.startsWith(`portstorm: ${file}: `), line);
    for (const p of ['totals.attempted: expected a number, got "many"', 'durationS: ', 'timeline[0].completed: missing']) assert.ok(line.includes(p), `${p} in ${line}`);
    assert.match(line, /\(3 problems\)$/);
    assert.doesNotMatch(line, /more problem/);
  });

  it('a bad --set value names the --set and the path, not the file', () => {
    const file = scenarioFile('set-bad.yaml', SMALL);
    const r = cli(['run', file, '--set', 'load[0].rate=abc', '--out', path.join(tmp, 'never')]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, 'portstorm: --set load[0].rate=abc: load[0].rate: expected a number, got "abc"\n');
    assert.ok(!existsSync(path.join(tmp, 'never')), 'nothing ran');
    // Mixed with problems in the file, each line names its own source.
    const both = cli(['run', scenarioFile('set-bad2.yaml', SMALL + 'connection: { reus: true }\n'), '--set', 'load[0].rate=abc']);
    assert.equal(both.status, 2);
    const lines = both.stderr.trim().split('\n');
    assert.equal(lines.length, 2, both.stderr);
    assert.ok(lines.some((l) => l.startsWith('portstorm: --set load[0].rate=abc: load[0].rate:')), both.stderr);
    assert.ok(lines.some((l) => l.startsWith(`portstorm: ${path.join(tmp, 'set-bad2.yaml')}: connection.reus: unknown key`)), both.stderr);
  });

  it('a bad --variant names the --variant', () => {
    const file = scenarioFile('variant.yaml', SMALL);
    const a = cli(['lab', file, '--variant', 'base', '--variant', 'fast:load[0].rate=abc']);
    assert.equal(a.status, 2);
    assert.equal(a.stderr, 'portstorm: --variant fast:load[0].rate=abc: load[0].rate: expected a number, got "abc"\n');
    const b = cli(['lab', file, '--variant', 'tw:sysctl.net.ipv4.nope=1']);
    assert.equal(b.status, 2);
    assert.match(b.stderr, /^portstorm: --variant tw:sysctl\.net\.ipv4\.nope=1: net\.ipv4\.nope is not a sysctl the lab sets/);
    const c = cli(['lab', file, '--variant', 'x:connection.close=never']);
    assert.match(c.stderr, /^portstorm: --variant x:connection\.close=never: connection\.close: expected one of client, server, reset, got "never"\n$/);
  });

  it('an https:// target with protocol: tcp, or a client certificate without its key: one line naming the field, exit 2', () => {
    const file = scenarioFile('tls.yaml', 'target: https://127.0.0.1:8443/\nprotocol: tcp\nload: [{ model: users, users: 1, iterations: 1 }]\n');
    const a = cli(['run', file]);
    assert.equal(a.status, 2);
    assert.equal(a.stderr, `portstorm: ${file}: protocol: expected http to match the target URL scheme (https://), got "tcp"\n`);
    const b = cli(['run', scenarioFile('tls2.yaml', SMALL), '--set', 'target=https://127.0.0.1:8443/', '--set', 'tls.cert=client.pem']);
    assert.equal(b.status, 2);
    assert.match(b.stderr, /^portstorm: \S+tls2\.yaml: tls\.key: missing, expected tls\.cert and tls\.key together \(a client certificate needs its key\)\n$/);
  });

  it("each command's --help lists the exit codes it can return", () => {
    const expected: Record<string, number[]> = {
      run: [0, 1, 2, 3, 130],
      lab: [0, 1, 2, 3, 130],
      demo: [0, 1, 2, 3, 130],
      report: [0, 2, 3],
      compare: [0, 1, 2, 3],
      serve: [0, 2, 3],
      monitor: [0, 2, 3],
      doctor: [0, 2, 3],
    };
    for (const [verb, codes] of Object.entries(expected)) {
      const r = cli([verb, '--help']);
      assert.equal(r.status, 0, verb);
      const listed = /\nExit codes:\n((?: {2}\d+ +\S.*\n?)+)/.exec(r.stdout)?.[1];
      assert.ok(listed, `${verb} --help has an exit code list:\n${r.stdout}`);
      assert.deepEqual(listed.trim().split('\n').map((l) => Number(l.trim().split(/\s+/)[0])), codes, verb);
    }
    assert.match(cli(['compare', '--help']).stdout, / {2}1 +a --fail-if rule holds/);
  });

  it('serve runs the built-in target until --duration', () => {
    const r = cli(['serve', '--port', '0', '--duration', '1s']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /http listening on 127\.0\.0\.1:\d+/);
  });
});
