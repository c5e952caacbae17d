/**
 * `portstorm run --watch` as a user runs it: the CLI spawned (asynchronously: the agent double
 * answers from this process), judged by exit code, stderr and run.json. Agents are doubles on
 * 127.0.0.1 (test/helpers/agent-double.ts); runs are against the built-in target, 1 s at 40/s.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { RunRecord } from '../../src/record/types.js';
import { runCli, type Ended } from '../helpers/cli-process.js';
import { deadAgentUrl, startAgentDouble, type AgentDouble } from '../helpers/agent-double.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-watch-cli-'));
const doubles: AgentDouble[] = [];
after(async () => {
  await Promise.all(doubles.map((d) => d.close()));
});

/** Runs the CLI to its end (at most 60 s), without blocking this process's event loop. */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ended> {
  return runCli(args, { cwd: tmp, env, timeoutMs: 60_000 });
}

function scenarioFile(name: string, extra = ''): string {
  const file = path.join(tmp, `${name}.yaml`);
  writeFileSync(file, `name: ${name}\ntarget: builtin\nworkers: 1\nload:\n  - model: arrival-rate\n    rate: 40\n    duration: 1s\n${extra}`);
  return file;
}

/** The run.json under `out`, or null when no run directory was made. */
function record(out: string): RunRecord | null {
  const dirs = existsSync(out) ? readdirSync(out) : [];
  if (dirs.length === 0) return null;
  assert.equal(dirs.length, 1, `run directories: ${dirs.join(', ')}`);
  return JSON.parse(readFileSync(path.join(out, dirs[0]!, 'run.json'), 'utf8')) as RunRecord;
}

const oneLine = (stderr: string): string => {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  return lines[0]!;
};

async function double(o: Parameters<typeof startAgentDouble>[0] = {}): Promise<AgentDouble> {
  const d = await startAgentDouble(o);
  doubles.push(d);
  return d;
}

describe('portstorm run --watch', () => {
  it('an agent down at the start: one line naming it, exit 3, no load and no record', async () => {
    const url = await deadAgentUrl();
    const out = path.join(tmp, 'down');
    const r = await cli(['run', scenarioFile('down'), '--quiet', '--out', out, '--watch', `service=${url}`]);
    assert.equal(r.status, 3, r.stderr);
    assert.equal(oneLine(r.stderr), `portstorm: agent service (${url}): cannot connect (ECONNREFUSED)`);
    assert.equal(record(out), null);
  });

  it('--watch-optional: the run goes on without it, and records the host with its gap', async () => {
    const url = await deadAgentUrl();
    const out = path.join(tmp, 'optional');
    const r = await cli(['run', scenarioFile('optional'), '--quiet', '--out', out, '--watch', `service=${url}`, '--watch-optional']);
    assert.equal(r.status, 0, r.stderr);
    const rec = record(out)!;
    assert.deepEqual(Object.keys(rec.hosts ?? {}), ['client', 'service']);
    assert.match(rec.hosts!.service!.gaps[0]!, /^unreachable at the start \(cannot connect \(ECONNREFUSED\)\)/);
    assert.equal(rec.scenario.watch?.service?.optional, true);
  });

  it('a wrong token: one line naming the agent, exit 2; the right one from PORTSTORM_TOKEN watches it', async () => {
    const d = await double({ token: 'right-token' });
    const out = path.join(tmp, 'token');
    const wrong = await cli(['run', scenarioFile('token'), '--quiet', '--out', out, '--watch', `proxy=${d.url}`, '--watch-token', 'wrong-token']);
    assert.equal(wrong.status, 2, wrong.stderr);
    assert.equal(oneLine(wrong.stderr), `portstorm: agent proxy (${d.url}): the token was refused (HTTP 401); give the agent's token with --watch-token or PORTSTORM_TOKEN`);
    assert.equal(record(out), null);
    const right = await cli(['run', scenarioFile('token'), '--quiet', '--out', out, '--watch', `proxy=${d.url}`], { PORTSTORM_TOKEN: 'right-token' });
    assert.equal(right.status, 0, right.stderr);
    const rec = record(out)!;
    assert.deepEqual(Object.keys(rec.hosts ?? {}), ['client', 'proxy']);
    assert.ok(rec.hosts!.proxy!.timeline.some((e) => e.sockets !== null));
    assert.doesNotMatch(readFileSync(path.join(out, readdirSync(out)[0]!, 'run.json'), 'utf8'), /right-token/, 'the token is not in the record');
  });

  it("flags add to the scenario's watch: block and override it by name, in the order given", async () => {
    const a = await double();
    const b = await double();
    const out = path.join(tmp, 'merge');
    const file = scenarioFile('merge', `watch:\n  backend: { url: "http://127.0.0.1:1", role: backend }\n`);
    const r = await cli(['run', file, '--quiet', '--out', out, '--watch', `backend=${a.url}`, '--watch', `edge=${b.url}`]);
    assert.equal(r.status, 0, r.stderr);
    const rec = record(out)!;
    assert.deepEqual(Object.keys(rec.hosts ?? {}), ['client', 'backend', 'edge']);
    assert.equal(rec.hosts!.backend!.role, 'backend');
    assert.equal(rec.hosts!.backend!.address, a.url);
    assert.equal(rec.hosts!.edge!.role, 'service');
  });

  for (const [what, extra, flag, expected] of [
    ['client as a name', 'watch:\n  client: http://127.0.0.1:9464\n', null, /^portstorm: .*bad-watch\.yaml: watch\.client: expected a host name other than client/],
    ['a bad name', 'watch:\n  "my host": http://127.0.0.1:9464\n', null, /^portstorm: .*bad-watch\.yaml: watch\["my host"\]: expected a host name: a letter, then letters, digits/],
    ['a bad URL', 'watch:\n  service: ftp://127.0.0.1:9464\n', null, /^portstorm: .*bad-watch\.yaml: watch\.service: expected an agent URL http:\/\/host:port/],
    ['a URL with a path', 'watch:\n  service: { url: "http://127.0.0.1:9464/metrics" }\n', null, /^portstorm: .*bad-watch\.yaml: watch\.service\.url: expected an agent URL without a path/],
    ['a bad role', 'watch:\n  service: { url: "http://127.0.0.1:9464", role: client }\n', null, /^portstorm: .*bad-watch\.yaml: watch\.service\.role: expected one of service, proxy, backend, router, other/],
    ['--watch client=', '', 'client=http://127.0.0.1:9464', /^portstorm: --watch client=http:\/\/127\.0\.0\.1:9464: expected a host name other than client/],
    ['--watch without =', '', 'http://127.0.0.1:9464', /^portstorm: --watch http:\/\/127\.0\.0\.1:9464: expected NAME=URL/],
  ] as const) {
    it(`${what}: one line, exit 2, before any load`, async () => {
      const out = path.join(tmp, `bad-${what.replace(/\W+/g, '-')}`);
      const r = await cli(['run', scenarioFile('bad-watch', extra), '--quiet', '--out', out, ...(flag ? ['--watch', flag] : [])]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(oneLine(r.stderr), expected);
      assert.equal(record(out), null);
    });
  }
});
