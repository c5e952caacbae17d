/**
 * `portstorm run` over HTTPS and host names, spawned as a user runs it: against HTTPS servers in
 * this test (certificates made at start, `tls.ca` beside the scenario), the one-line warning of
 * `tls.insecure`, the built-in target with `builtin.tls`, and bad input (a `tls:` file, a name that
 * does not resolve) refused on one line with exit 2 before any load.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RunRecord } from '../../src/record/types.js';
import { makeCertificate, type CertificatePair } from '../../src/target/certificate.js';
import { httpsServer, type HttpsTestServer } from '../helpers/tls-servers.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-https-cli-'));
const ENV = { ...process.env, PORTSTORM_ENGINE: 'js' };

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI spawned without blocking this process (its HTTPS servers must answer meanwhile). */
function cli(args: string[], timeoutMs = 60_000): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: tmp, env: ENV });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

function file(name: string, body: string): string {
  const f = path.join(tmp, name);
  writeFileSync(f, body);
  return f;
}

const LOAD = 'load: [{ model: users, users: 2, iterations: 10 }]\n';

describe('portstorm run over HTTPS', () => {
  let ca: CertificatePair;
  let server: HttpsTestServer;
  let selfSigned: HttpsTestServer;
  before(async () => {
    ca = await makeCertificate({ ca: true });
    server = await httpsServer({ pair: await makeCertificate({ names: ['127.0.0.1'], issuer: ca }) });
    selfSigned = await httpsServer({ pair: await makeCertificate({ names: ['127.0.0.1'] }) });
    file('ca.pem', ca.cert);
  });
  after(async () => {
    await server.close();
    await selfSigned.close();
  });

  it('tls.ca (relative to the scenario): every request over a verified handshake, the TLS settings and resolution in the record', async () => {
    const scenario = file('https.yaml', `target: ${server.url}\ntls: { ca: ca.pem, sessionResumption: false }\n${LOAD}`);
    const r = await cli(['run', scenario, '--json', '--quiet', '--out', path.join(tmp, 'r1')]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const record = JSON.parse(r.stdout) as RunRecord;
    assert.equal(record.totals.completed, 20, JSON.stringify(record.errorsByPhase));
    assert.equal(record.totals.tlsHandshakes, 20);
    assert.equal(record.totals.tlsResumed, 0);
    assert.equal(record.tlsMs?.count, 20);
    assert.deepEqual(record.target.tls, { servername: null, insecure: false, sessionResumption: false, alpn: ['http/1.1'], trust: 'ca', clientCertificate: null });
    assert.deepEqual(record.target.resolved, { name: null, dns: 'once', addresses: ['127.0.0.1'], used: '127.0.0.1' });
    assert.equal(record.scenario.tls.ca, path.join(tmp, 'ca.pem'), 'the record holds the absolute path');
    assert.equal(server.tls().handshakes >= 20, true);
  });

  it('a self-signed certificate: refused without trust (request failures, exit 0), accepted with tls.insecure and one warning line', async () => {
    const refused = file('self.yaml', `target: ${selfSigned.url}\n${LOAD}`);
    const a = await cli(['run', refused, '--json', '--quiet', '--out', path.join(tmp, 'r2')]);
    assert.equal(a.status, 0, a.stderr);
    const ra = JSON.parse(a.stdout) as RunRecord;
    assert.deepEqual(ra.errorsByPhase, { 'tls:DEPTH_ZERO_SELF_SIGNED_CERT': 20 });
    assert.equal(ra.target.tls?.trust, 'system');
    const insecure = file('insecure.yaml', `target: ${selfSigned.url}\ntls: { insecure: true }\n${LOAD}`);
    const b = await cli(['run', insecure, '--json', '--quiet', '--out', path.join(tmp, 'r3')]);
    assert.equal(b.status, 0, b.stderr);
    assert.equal(b.stderr, "portstorm: warning: tls.insecure: the target's certificate is not verified\n");
    const rb = JSON.parse(b.stdout) as RunRecord;
    assert.equal(rb.totals.completed, 20);
    assert.equal(rb.target.tls?.trust, 'none');
  });

  it('the built-in target with builtin.tls: HTTPS on 127.0.0.1 with a certificate made at start, trusted by the run alone', async () => {
    const scenario = file('builtin-tls.yaml', `target: builtin\nbuiltin: { tls: true }\n${LOAD}`);
    const r = await cli(['run', scenario, '--json', '--quiet', '--out', path.join(tmp, 'r4')]);
    assert.equal(r.status, 0, r.stderr);
    const record = JSON.parse(r.stdout) as RunRecord;
    assert.match(record.target.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal(record.target.tls?.trust, 'builtin');
    assert.equal(
      record.totals.completed,
      20,
      `every request completes once the built-in target serves TargetOptions.tls (src/target, another branch): ${JSON.stringify(record.errorsByPhase)}`,
    );
    assert.equal(record.totals.tlsHandshakes, 20);
  });
});

describe('portstorm run: bad TLS and name input, exit 2 before any load', () => {
  const run = (scenario: string): Ran => {
    const r = spawnSync(process.execPath, [MAIN, 'run', scenario, '--quiet', '--out', path.join(tmp, 'bad')], { cwd: tmp, env: ENV, encoding: 'utf8' });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('a tls.ca that does not exist', () => {
    const scenario = file('noca.yaml', `target: https://127.0.0.1:8443/\ntls: { ca: certs/missing.pem }\n${LOAD}`);
    const r = run(scenario);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, `portstorm: ${scenario}: tls.ca: cannot read ${path.join(tmp, 'certs/missing.pem')}: no such file\n`);
  });

  it('a client key that does not match its certificate', async () => {
    const a = await makeCertificate({ names: ['a'] });
    const b = await makeCertificate({ names: ['b'] });
    file('a.pem', a.cert);
    file('b.key', b.key);
    const scenario = file('mismatch.yaml', `target: https://127.0.0.1:8443/\ntls: { cert: a.pem, key: b.key }\n${LOAD}`);
    const r = run(scenario);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, `portstorm: ${scenario}: tls.key: ${path.join(tmp, 'b.key')}: the key does not match the certificate in tls.cert (${path.join(tmp, 'a.pem')})\n`);
  });

  it('a target name that does not resolve (inside a namespace whose /etc/hosts lacks it: no query leaves the machine)', () => {
    const scenario = file('unresolved.yaml', `target: http://staging-api.internal:8080/\n${LOAD}`);
    const hosts = file('hosts', '127.0.0.1 localhost\n');
    const nss = file('nsswitch.conf', 'hosts: files\n');
    const shell = `ip link set lo up && mount --bind ${hosts} /etc/hosts && mount --bind ${nss} /etc/nsswitch.conf && exec "$0" "$@"`;
    const r = spawnSync('unshare', ['-rnm', 'sh', '-c', shell, process.execPath, MAIN, 'run', scenario, '--quiet', '--out', path.join(tmp, 'bad')], {
      cwd: tmp,
      env: ENV,
      encoding: 'utf8',
    });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr, `portstorm: ${scenario}: target: cannot resolve staging-api.internal (ENOTFOUND)\n`);
  });
});
