/** `portstorm monitor` and `portstorm doctor` as a user runs them. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-mon-cli-'));
const cli = (args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000, cwd: tmp });

describe('portstorm monitor / doctor', () => {
  it('monitor --once --json prints one full sample with host facts', () => {
    const r = cli(['monitor', '--once', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.host.platform, process.platform);
    assert.ok(doc.sample.scan, 'a scan');
    assert.ok(['sockdiag', 'proc'].includes(doc.sample.scan.source));
    assert.equal(typeof doc.sample.sockstat.timeWait, 'number');
    assert.ok(doc.sample.scan.states.listen >= 0);
  });

  it('monitor --duration writes NDJSON samples to --out and says what it read', () => {
    const out = path.join(tmp, 'samples.ndjson');
    const r = cli(['monitor', '--interval', '100ms', '--scan-interval', '200ms', '--duration', '1s', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    // The agent's lines, as /stream sends them: hello, samples, and the sampler's status at the end.
    assert.equal(lines[0].type, 'hello');
    assert.deepEqual(lines[0].host.portRange?.length, 2);
    assert.equal(lines.at(-1).type, 'status');
    const samples = lines.filter((l) => l.type === 'sample').map((l) => l.sample);
    assert.ok(samples.length >= 5, `${samples.length} samples`);
    assert.ok(samples.some((s) => s.scan));
    assert.match(r.stdout, /TIME_WAIT \d+/);
    assert.match(r.stderr, /samples, source (sockdiag|proc)/);
  });

  it('monitor --prometheus serves /metrics', async () => {
    const child = spawn(process.execPath, [MAIN, 'monitor', '--prometheus', '127.0.0.1:0', '--duration', '20s', '--scan-interval', '200ms'], { cwd: tmp });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let err = '';
        child.stderr.on('data', (c: Buffer) => {
          err += c;
          const m = /metrics at (http:\/\/\S+)/.exec(err);
          if (m) resolve(m[1]!);
        });
        child.once('exit', () => reject(new Error(`exited: ${err}`)));
      });
      // Poll until the first scan is in (the sampler thread may start late on a busy machine).
      let text = '';
      for (let i = 0; i < 75 && !/^portstorm_sockets\{/m.test(text); i++) {
        await new Promise((r) => setTimeout(r, 200));
        text = await (await fetch(url)).text();
      }
      assert.match(text, /^portstorm_time_wait_sockets \d+/m);
      assert.match(text, /^portstorm_usable_ports \d+/m);
      assert.match(text, /^portstorm_sockets\{state="listen",side="server"\} \d+/m);
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    }
  });

  it('monitor: bad flags exit 2 with one line', () => {
    const r = cli(['monitor', '--interval', 'soon']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--interval soon: expected a duration/);
    const p = cli(['monitor', '--prometheus', 'nowhere']);
    assert.equal(p.status, 2);
    assert.match(p.stderr, /--prometheus nowhere: expected host:port/);
  });

  it('doctor: the budget, time to exhaustion at a rate, advice with trade-offs', () => {
    const r = cli(['doctor', '--rate', '1000']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /budget\s+≈ \d+ new connections\/s per destination/);
    assert.match(r.stdout, /at 1000\/s\s+(first EADDRNOTAVAIL after ≈ [\d.]+ s|sustainable)/);
    assert.match(r.stdout, /trade-off:/);
    const j = cli(['doctor', '--json', '--rate', '100']);
    const doc = JSON.parse(j.stdout);
    assert.equal(doc.atRate.rate, 100);
    assert.ok(doc.advice.some((a: { id: string }) => a.id === 'keep-alive'));
    assert.equal(cli(['doctor', '--rate', '-3']).status, 2);
  });
});
