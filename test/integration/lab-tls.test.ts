/**
 * `portstorm lab` over HTTPS: the built-in target serves TLS on 198.18.0.2 with a certificate made
 * for it, which the run trusts (and only it); lab.serve gets TLS_CERT/TLS_KEY; variants and the knee
 * search keep working, each run in a fresh namespace with a certificate of its own; `demo --tls`.
 * The compiled CLI makes its own network namespaces; the host's sysctls are never touched.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type { LabInfo } from '../../src/lab/types.js';
import type { RunRecord } from '../../src/record/types.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
type LabRecord = RunRecord & { lab?: LabInfo };

function tmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'ps-lab-tls-'));
}

// Time bounds only guard against a hang (about three times a run beside a CPU hog on two cores).
function cli(args: string[], timeoutMs = 150_000) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: timeoutMs });
}

function records(dir: string): LabRecord[] {
  return readdirSync(dir)
    .filter((f) => existsSync(path.join(dir, f, 'run.json')))
    .map((f) => JSON.parse(readFileSync(path.join(dir, f, 'run.json'), 'utf8')) as LabRecord);
}

/** A scenario file: one-shot HTTPS connections (full handshakes) that the client closes, 250/s. */
function httpsScenario(dir: string, durationS: number, extra: string[] = []): string {
  const file = path.join(dir, 'https.yaml');
  writeFileSync(
    file,
    [
      'name: lab-https',
      'builtin: { tls: true }',
      'tls: { sessionResumption: false }',
      'connection: { reuse: false, close: client }',
      `load: [{ model: arrival-rate, rate: 250, duration: ${durationS}s }]`,
      'timeouts: { connect: 1s, request: 2s }',
      'workers: 1',
      ...extra,
      '',
    ].join('\n'),
  );
  return file;
}

/** The built-in target counted one full handshake per connection it served, and no failed one. */
function assertHandshakes(r: LabRecord): void {
  const st = r.target.stats!;
  assert.ok(st, 'the built-in target reported its counters');
  assert.equal(st.tlsErrors, 0, JSON.stringify(st));
  assert.equal(st.tlsResumed, 0, JSON.stringify(st));
  assert.ok(st.tlsHandshakes! >= r.totals.completed && r.totals.completed > 0, JSON.stringify([st, r.totals]));
  // The run trusted the lab's certificate: no verification failure anywhere.
  assert.deepEqual(Object.keys(r.errorsByPhase).filter((k) => k.startsWith('tls:')), [], JSON.stringify(r.errorsByPhase));
}

describe('portstorm lab over HTTPS (builtin.tls)', () => {
  it('serves https://198.18.0.2:8080/ with a certificate for it; the client ports run out as with HTTP', () => {
    const dir = tmp();
    const r = cli(['lab', httpsScenario(dir, 4), '--port-range', '40000-40499', '--json', '--quiet', '--out', dir]);
    assert.equal(r.status, 0, r.stderr);
    const rec = JSON.parse(r.stdout.trim().split('\n').pop()!) as LabRecord;
    assert.equal(rec.target.url, 'https://198.18.0.2:8080/');
    assert.equal(rec.target.builtin, true);
    assert.equal(rec.scenario.target, 'builtin');
    assert.equal(rec.scenario.builtin.tls, true);
    assertHandshakes(rec);
    assert.ok((rec.errors.EADDRNOTAVAIL ?? 0) > 400, JSON.stringify(rec.errors));
    const ex = rec.exhaustion!;
    assert.ok(ex.firstAtS !== null && ex.predictedAtS !== null, JSON.stringify(ex));
    assert.ok(Math.abs(ex.firstAtS - ex.predictedAtS) <= 0.2 * ex.predictedAtS, `onset ${ex.firstAtS} vs predicted ${ex.predictedAtS}`);
    assert.equal(rec.diagnosis![0]!.verdict, 'client-port-exhaustion');
  });

  it('--variant: each variant in a fresh namespace over HTTPS; tw_reuse=1 removes the errors', () => {
    const dir = tmp();
    const r = cli(
      ['lab', httpsScenario(dir, 4), '--port-range', '40000-40499', '--quiet', '--json', '--out', dir, '--variant', 'baseline', '--variant', 'tw-reuse:sysctl.net.ipv4.tcp_tw_reuse=1'],
      240_000,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as { runs: Array<{ name: string }> }).runs.map((x) => x.name), ['baseline', 'tw-reuse']);
    const by = new Map(records(dir).map((x) => [x.label, x]));
    for (const rec of by.values()) {
      assert.equal(rec.target.url, 'https://198.18.0.2:8080/');
      assertHandshakes(rec);
    }
    assert.ok((by.get('baseline')!.errors.EADDRNOTAVAIL ?? 0) > 400, JSON.stringify(by.get('baseline')!.errors));
    assert.equal(by.get('tw-reuse')!.errors.EADDRNOTAVAIL ?? 0, 0, JSON.stringify(by.get('tw-reuse')!.errors));
    assert.ok(by.get('tw-reuse')!.totals.completed >= 990, `tw-reuse completed ${by.get('tw-reuse')!.totals.completed}`);
  });

  it('--find-knee over HTTPS: every probe a fresh lab with its certificate; the knee within 20 % of the model', () => {
    const dir = tmp();
    const file = path.join(dir, 'knee.yaml');
    writeFileSync(
      file,
      ['builtin: { tls: true }', 'connection: { reuse: false, close: client }', 'load: [{ model: arrival-rate, rate: 100, duration: 2s }]', 'workers: 1', 'lab: { portRange: 40000-40299 }', ''].join('\n'),
    );
    const r = cli(['lab', file, '--find-knee', '--quiet', '--json', '--out', dir], 300_000);
    assert.equal(r.status, 0, r.stderr);
    const k = JSON.parse(r.stdout) as { knee: number; firstFailing: number; predicted: number; probes: Array<{ rate: number; exhaustionErrors: number; file: string }> };
    assert.equal(k.predicted, 150);
    assert.ok(Math.abs(k.knee - 150) <= 30, `knee ${k.knee}/s vs model 150/s`);
    assert.ok(k.firstFailing > k.knee);
    for (const p of k.probes) {
      const rec = JSON.parse(readFileSync(p.file, 'utf8')) as LabRecord;
      assert.equal(rec.target.url, 'https://198.18.0.2:8080/');
      assert.ok(rec.target.stats!.tlsHandshakes! > 0 && rec.target.stats!.tlsErrors === 0, JSON.stringify(rec.target.stats));
    }
  });
});

/** An HTTPS server for lab.serve: serves TLS_CERT/TLS_KEY on $HOST:$PORT and logs what it was given. */
function httpsApp(dir: string): string {
  const file = path.join(dir, 'app.cjs');
  writeFileSync(
    file,
    [
      "const fs = require('node:fs');",
      "const path = require('node:path');",
      "const https = require('node:https');",
      "process.on('SIGTERM', () => { console.log('app: SIGTERM'); process.exit(0); });",
      'const { TLS_CERT, TLS_KEY } = process.env;',
      "const mode = (f) => (fs.statSync(f).mode & 0o777).toString(8);",
      "console.log('app: dir ' + path.dirname(TLS_KEY) + ' mode ' + mode(path.dirname(TLS_KEY)) + ', key mode ' + mode(TLS_KEY) + ', same dir ' + (path.dirname(TLS_CERT) === path.dirname(TLS_KEY)));",
      "https.createServer({ cert: fs.readFileSync(TLS_CERT), key: fs.readFileSync(TLS_KEY) }, (q, s) => s.end(q.url))",
      "  .listen(Number(process.env.PORT), process.env.HOST, () => console.log('app: listening on ' + process.env.HOST + ':' + process.env.PORT));",
      '',
    ].join('\n'),
  );
  return file;
}

describe('portstorm lab over HTTPS with lab.serve', () => {
  it('gives the command TLS_CERT/TLS_KEY in a private directory (key 0600) that is gone after; the run trusts that certificate', () => {
    const dir = tmp();
    const file = path.join(dir, 'serve.yaml');
    writeFileSync(
      file,
      [
        'name: lab-serve-https',
        'target: https://localhost:3000/hello',
        'connection: { reuse: false, close: client }',
        'load: [{ model: arrival-rate, rate: 100, duration: 2s }]',
        'workers: 1',
        `lab: { portRange: 40000-40999, serve: { command: "node ${httpsApp(dir)}", port: 3000 } }`,
        '',
      ].join('\n'),
    );
    const r = cli(['lab', file, '--json', '--out', dir], 90_000);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /lab: starting lab\.serve \(.*\) with HOST=198\.18\.0\.2 PORT=3000 TLS_CERT=\S+\/cert\.pem TLS_KEY=\S+\/key\.pem/);
    const rec = JSON.parse(r.stdout.trim().split('\n').pop()!) as LabRecord;
    const runDir = readdirSync(dir).find((f) => existsSync(path.join(dir, f, 'run.json')))!;
    const log = readFileSync(path.join(dir, runDir, 'serve.log'), 'utf8');
    const m = /^app: dir (\S+) mode 700, key mode 600, same dir true$/m.exec(log);
    assert.ok(m, log);
    assert.equal(existsSync(m[1]!), false, `${m[1]} is left behind`);
    assert.match(log, /app: listening on 198\.18\.0\.2:3000\napp: SIGTERM/);
    assert.equal(rec.target.url, 'https://198.18.0.2:3000/hello');
    assert.equal(rec.target.builtin, false);
    assert.ok(rec.totals.completed >= 190 && rec.totals.failed === 0, JSON.stringify([rec.totals, rec.errorsByPhase]));
  });
});

describe('portstorm demo --tls', () => {
  it('reproduces client port exhaustion over HTTPS in the lab, diagnosed', () => {
    const out = tmp();
    const r = cli(['demo', '--tls', '--quiet', '--out', out], 180_000);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /scenarios\/demo\.yaml over HTTPS \(builtin\.tls: true\) in a private network namespace/);
    assert.match(r.stdout, /errors\s+EADDRNOTAVAIL [\d ]+ \(connect\)/);
    assert.match(r.stdout, /verdict\s+client-port-exhaustion \(critical/);
    const html = /report\s+(\S+report\.html)/.exec(r.stdout)?.[1];
    assert.ok(html && existsSync(html), r.stdout);
    const rec = JSON.parse(readFileSync(path.join(path.dirname(html), 'run.json'), 'utf8')) as LabRecord;
    assert.equal(rec.target.url, 'https://198.18.0.2:8080/');
    assert.equal(rec.scenario.builtin.tls, true);
    assert.ok(rec.target.stats!.tlsHandshakes! > 0, JSON.stringify(rec.target.stats));
  });
});
