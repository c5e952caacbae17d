/**
 * `portstorm import` end to end: stdout or --out, the not-imported lines on stderr, --strict, -J,
 * bad input (one line, exit 2), and an imported plan run for about a second against the built-in
 * target on loopback.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/jmeter/', import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'portstorm-import-'));

function cli(args: string[], timeout = 60_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout, cwd: tmp });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('portstorm import', () => {
  it('prints the scenario on stdout and one line per element not imported on stderr', () => {
    const r = cli(['import', path.join(FIXTURES, 'forever.jmx')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^# Imported by portstorm .* from .*forever\.jmx on \d{4}-/);
    assert.equal(parseYaml(r.stdout).target, 'builtin');
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 4, r.stderr);
    assert.ok(lines.every((l) => /^portstorm: import: .*forever\.jmx: .+ \(.+\): not imported: .+$/.test(l)), r.stderr);
  });

  it('--strict: the same lines, then the refusal, exit 2, nothing written', () => {
    const out = path.join(tmp, 'strict.yaml');
    const r = cli(['import', path.join(FIXTURES, 'forever.jmx'), '--strict', '--out', out]);
    assert.equal(r.status, 2);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 5);
    assert.match(lines[4]!, /^portstorm: .*forever\.jmx: 4 elements not imported \(--strict\): no scenario written$/);
    assert.equal(existsSync(out), false);
  });

  it('-Jname=value and --prop resolve ${__P}; --verbose adds the listeners', () => {
    const out = path.join(tmp, 'users.yaml');
    const r = cli(['import', path.join(FIXTURES, 'users-scheduler.jmx'), '-Jthreads=3', '--prop', 'port=9091', '--out', out, '--verbose']);
    assert.equal(r.status, 0, r.stderr);
    const s = parseYaml(readFileSync(out, 'utf8'));
    assert.equal(s.load[0].users, 3);
    assert.equal(s.target, 'http://127.0.0.1:9091');
    assert.match(r.stderr, /View Results Tree \(ResultCollector\): not imported: not needed/);
    assert.match(r.stderr, /portstorm: wrote .*users\.yaml\n$/);
  });

  it('bad input: not XML, not a plan, no HTTP sampler, a bad --prop: one line, exit 2', () => {
    writeFileSync(path.join(tmp, 'broken.jmx'), '<jmeterTestPlan>\n<hashTree>\n</jmeterTestPlan>\n');
    const cases: [string[], RegExp][] = [
      [['import', 'broken.jmx'], /^portstorm: broken\.jmx:3: not a JMeter test plan: not well-formed XML/],
      [['import', path.join(FIXTURES, 'SOURCES.md')], /^portstorm: .*SOURCES\.md:1: not a JMeter test plan/],
      [['import', path.join(FIXTURES, 'forever.jmx'), '--prop', 'nothing'], /^portstorm: --prop nothing: expected name=value/],
      [['import', 'missing.jmx'], /^portstorm: missing\.jmx: cannot read the plan \(ENOENT\)\n$/],
    ];
    for (const [args, re] of cases) {
      const r = cli(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, re);
    }
    const r = cli(['import', path.join(FIXTURES, 'CSVSample.jmx')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr.trimEnd().split('\n').at(-1)!, /^portstorm: .*CSVSample\.jmx: no HTTP sampler to import$/);
  });

  it('an imported plan runs against the built-in target on loopback', () => {
    const out = path.join(tmp, 'run.yaml');
    assert.equal(cli(['import', path.join(FIXTURES, 'forever.jmx'), '--out', out]).status, 0);
    const r = cli(['run', out, '--quiet', '--out', path.join(tmp, 'results'), '--set', 'load[0].duration=1s']);
    assert.equal(r.status, 0, r.stderr);
    const [runId] = readdirSync(path.join(tmp, 'results'));
    const record = JSON.parse(readFileSync(path.join(tmp, 'results', runId!, 'run.json'), 'utf8'));
    assert.equal(record.scenario.name, 'storm');
    assert.ok(record.totals.completed > 0, JSON.stringify(record.totals));
  });
});
