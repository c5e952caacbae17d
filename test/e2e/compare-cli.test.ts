/** `portstorm compare` as a user runs it: two real runs (reuse false vs true) against the built-in target. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-compare-'));

function cli(args: string[], timeout = 60_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout, cwd: tmp });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const noStack = (text: string): void => assert.doesNotMatch(text, /\n\s+at .+:\d+:\d+/, `stack trace in: ${text}`);

const SCENARIO = `name: compare-e2e
target: builtin
protocol: http
connection: { reuse: false, close: client }
load:
  - model: arrival-rate
    rate: 300
    duration: 3s
    maxInFlight: 500
`;

describe('portstorm compare', () => {
  let baseline = '';
  let candidate = '';

  before(() => {
    const file = path.join(tmp, 'compare.yaml');
    writeFileSync(file, SCENARIO);
    const run = (reuse: boolean, label: string) => {
      const r = cli(['run', file, '--json', '--quiet', '--out', path.join(tmp, 'results'), '--label', label, '--set', `connection.reuse=${reuse}`]);
      assert.equal(r.status, 0, r.stderr);
      return path.join(tmp, 'results', JSON.parse(r.stdout).runId);
    };
    // The candidate first, so the baseline's TIME_WAIT sockets do not linger into its socket picture.
    candidate = run(true, 'reuse-on');
    baseline = run(false, 'reuse-off');
  });

  it('names the change and shows new connections per second dropping', () => {
    const r = cli(['compare', baseline, path.join(candidate, 'run.json')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /connection\.reuse: false → true/);
    assert.match(r.stdout, /reuse-on vs baseline reuse-off/);
    assert.match(r.stdout, /new connections\/s/);
    const json = JSON.parse(cli(['compare', baseline, candidate, '--format', 'json']).stdout);
    assert.deepEqual(json.candidates[0].changes.filter((c: { kind: string }) => c.kind === 'scenario'), [
      { kind: 'scenario', path: 'connection.reuse', baseline: false, candidate: true },
    ]);
    const conn = json.candidates[0].metrics.find((m: { key: string }) => m.key === 'connectionRate');
    assert.ok(conn.candidate < conn.baseline / 2, JSON.stringify(conn));
    assert.ok(conn.delta < 0);
    for (const m of json.candidates[0].metrics) assert.ok(['mann-whitney', 'bootstrap', 'exact', 'none'].includes(m.test), m.key);
  });

  it('--fail-if: a rule that does not hold exits 0; one that holds exits 1 listing it', () => {
    const ok = cli(['compare', baseline, candidate, '--fail-if', 'errors.EADDRNOTAVAIL > 0']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /ok\s+errors\.EADDRNOTAVAIL > 0  reuse-on: actual 0, baseline 0/);
    const bad = cli(['compare', baseline, candidate, '--fail-if', 'errors.EADDRNOTAVAIL > 0', '--fail-if', 'connectionRate < -50%']);
    assert.equal(bad.status, 1, bad.stderr);
    assert.match(bad.stderr, /fail-if holds: connectionRate < -50% {2}reuse-on: actual [\d.]+, baseline [\d.]+, limit [\d.]+/);
    assert.doesNotMatch(bad.stderr, /EADDRNOTAVAIL/);
    assert.match(bad.stdout, /HOLDS {2}connectionRate < -50%/);
  });

  it('a malformed rule is exit 2 naming the rule', () => {
    const r = cli(['compare', baseline, candidate, '--fail-if', 'latency.p99 >> 3']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--fail-if "latency\.p99 >> 3": expected a number or a signed percentage/);
    noStack(r.stderr);
    const u = cli(['compare', baseline, candidate, '--fail-if', 'latency.p98 > 1']);
    assert.equal(u.status, 2);
    assert.match(u.stderr, /unknown field "p98" for latency/);
  });

  it('a missing input file or a single run is exit 2', () => {
    const missing = cli(['compare', baseline, path.join(tmp, 'no-such-run')]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /cannot read run record .*no-such-run/);
    noStack(missing.stderr);
    const one = cli(['compare', baseline]);
    assert.equal(one.status, 2);
    assert.match(one.stderr, /compare --help/);
  });

  it('--format md has the table; --out writes the file', () => {
    const out = path.join(tmp, 'compare.md');
    const r = cli(['compare', baseline, candidate, '--format', 'md', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /wrote .*compare\.md/);
    const md = readFileSync(out, 'utf8');
    assert.match(md, /^# portstorm compare: reuse-off vs reuse-on/);
    assert.match(md, /\| `connection\.reuse` \| `false` \| `true` \|/);
    assert.match(md, /\| metric \| baseline \| candidate \| Δ \| Δ % \| assessment \| test \|\n\| --- \|/);
    assert.match(md, /\| new connections\/s \|/);
    assert.match(md, /## Noise test/);
  });
});
