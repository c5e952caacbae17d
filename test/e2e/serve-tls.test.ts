/**
 * `portstorm serve --tls` as a user runs it: the CLI spawned, an HTTPS client (node:tls, since curl
 * may be missing) that trusts the `--tls-cert-out` file or the `--tls-cert` given, the fingerprint
 * line, the counters on exit, and bad flag combinations told in one line with exit 2.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type ConnectionOptions } from 'node:tls';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { makeCertificate } from '../../src/target/certificate.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-serve-tls-'));

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 30_000, cwd: tmp });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A `serve` process and the lines it printed up to and including the certificate lines. */
interface Serving {
  child: ChildProcessWithoutNullStreams;
  port: number;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts `serve` and waits (bounded) until it has said where it listens and what it serves. */
async function serve(args: string[], untilLine: RegExp): Promise<Serving> {
  const child = spawn(process.execPath, [MAIN, 'serve', '--port', '0', '--duration', '60s', ...args], { cwd: tmp });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const deadline = Date.now() + 20_000;
  while (!untilLine.test(err)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`serve did not print ${untilLine} (exit ${child.exitCode}); stderr: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const port = Number(/https listening on 127\.0\.0\.1:(\d+) /.exec(err)?.[1]);
  assert.ok(port > 0, err);
  return { child, port, stderr: () => err, exited };
}

/** One HTTPS GET over node:tls; resolves with the status line and the server's certificate. */
function httpsGet(port: number, o: ConnectionOptions): Promise<{ statusLine: string; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, ...o }, () => s.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'));
    let text = '';
    s.setTimeout(10_000, () => s.destroy(new Error('HTTPS GET timed out')));
    s.on('data', (d: Buffer) => (text += d.toString('latin1')));
    s.once('error', reject);
    s.once('end', () => resolve({ statusLine: text.split('\r\n')[0]!, fingerprint: s.getPeerX509Certificate()?.fingerprint256 ?? '' }));
  });
}

describe('portstorm serve --tls', () => {
  it('serves HTTPS with a certificate made at start: fingerprint printed, --tls-cert-out trusted by a client, TLS counters on exit', async () => {
    const certOut = path.join(tmp, 'served.pem');
    const s = await serve(['--tls', '--tls-cert-out', certOut], /certificate written to/);
    try {
      const pem = readFileSync(certOut, 'utf8');
      assert.doesNotMatch(pem, /PRIVATE KEY/);
      const fingerprint = new X509Certificate(pem).fingerprint256;
      assert.match(s.stderr(), new RegExp(`^portstorm serve: self-signed certificate made at start for localhost, 127\\.0\\.0\\.1, ::1, 198\\.18\\.0\\.2; SHA-256 fingerprint ${fingerprint}$`, 'm'));
      assert.match(s.stderr(), new RegExp(`curl --cacert ${certOut} https://127\\.0\\.0\\.1:${s.port}/`));
      const ok = await httpsGet(s.port, { ca: pem });
      assert.equal(ok.statusLine, 'HTTP/1.1 200 OK');
      assert.equal(ok.fingerprint, fingerprint);
      // Without trusting it, a client refuses it; the server counts a failed handshake and goes on.
      await assert.rejects(httpsGet(s.port, {}), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
      assert.equal((await httpsGet(s.port, { ca: pem })).statusLine, 'HTTP/1.1 200 OK');
    } finally {
      s.child.kill('SIGTERM');
    }
    assert.equal(await s.exited, 0, s.stderr());
    const last = s.stderr().trim().split('\n').pop()!;
    assert.match(last, /^portstorm serve: stopped \(SIGTERM\) after .*: 3 connections accepted, 2 requests, .*TLS handshakes \d \(resumed 0\), TLS handshake errors \d$/);
    const [, done, failed] = /TLS handshakes (\d) \(resumed 0\), TLS handshake errors (\d)/.exec(last)!;
    assert.equal(Number(done) + Number(failed), 3);
    assert.ok(Number(failed) >= 1, last);
    assert.doesNotMatch(s.stderr(), /\n\s+at /);
  });

  it('serves a given --tls-cert/--tls-key pair and prints its fingerprint', async () => {
    const pair = await makeCertificate({ names: ['127.0.0.1'], commonName: 'given' });
    const cert = path.join(tmp, 'given.pem');
    const key = path.join(tmp, 'given.key');
    writeFileSync(cert, pair.cert);
    writeFileSync(key, pair.key, { mode: 0o600 });
    const s = await serve(['--tls-cert', cert, '--tls-key', key, '--close', 'after-response'], /SHA-256 fingerprint/);
    try {
      const fingerprint = new X509Certificate(pair.cert).fingerprint256;
      assert.match(s.stderr(), new RegExp(`^portstorm serve: certificate ${cert}, SHA-256 fingerprint ${fingerprint}$`, 'm'));
      assert.match(s.stderr(), /close after-response/);
      const ok = await httpsGet(s.port, { ca: pair.cert });
      assert.equal(ok.statusLine, 'HTTP/1.1 200 OK');
      assert.equal(ok.fingerprint, fingerprint);
    } finally {
      s.child.kill('SIGTERM');
    }
    assert.equal(await s.exited, 0, s.stderr());
    // Which side closed is the integration tests' (SIGTERM may come before the client's FIN is read).
    assert.match(s.stderr(), /: 1 connections accepted, 1 requests, .*TLS handshakes 1 \(resumed 0\), TLS handshake errors 0\n$/);
  });

  it('bad TLS flags: one line naming the flag, exit 2, before listening; an unwritable --tls-cert-out is exit 3', async () => {
    const pair = await makeCertificate({ names: ['127.0.0.1'] });
    const other = await makeCertificate({ names: ['127.0.0.1'] });
    const file = (name: string, text: string): string => {
      const f = path.join(tmp, name);
      writeFileSync(f, text);
      return f;
    };
    const cert = file('c.pem', pair.cert);
    const key = file('k.pem', pair.key);
    const otherKey = file('other.key', other.key);
    const junk = file('junk.pem', 'not a certificate\n');
    const cases: Array<[string[], RegExp]> = [
      [['--tls-cert', cert], /^portstorm: --tls-cert and --tls-key go together \(a certificate and its private key\); got only --tls-cert\n$/],
      [['--tls', '--tls-key', key], /^portstorm: --tls-cert and --tls-key go together .*; got only --tls-key\n$/],
      [['--tls-cert', path.join(tmp, 'missing.pem'), '--tls-key', key], /^portstorm: --tls-cert \S+missing\.pem: cannot read it \(no such file\)\n$/],
      [['--tls-cert', junk, '--tls-key', key], /^portstorm: --tls-cert \S+junk\.pem: expected a PEM certificate \(-----BEGIN CERTIFICATE-----\)\n$/],
      [['--tls-cert', cert, '--tls-key', junk], /^portstorm: --tls-key \S+junk\.pem: expected an unencrypted PEM private key .*\n$/],
      [['--tls-cert', cert, '--tls-key', otherKey], /^portstorm: --tls-key \S+other\.key: not the private key of the certificate\n$/],
      [['--tls-cert', cert, '--tls-key', key, '--tls-cert-out', path.join(tmp, 'x.pem')], /^portstorm: --tls-cert-out writes the certificate made at start; .*\n$/],
      [['--tls', '--protocol', 'tcp'], /^portstorm: --tls: the built-in target serves TLS over HTTP only; leave out --protocol tcp\n$/],
    ];
    for (const [args, message] of cases) {
      const r = cli(['serve', '--port', '0', '--duration', '1s', ...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    }
    const unwritable = cli(['serve', '--tls', '--port', '0', '--duration', '1s', '--tls-cert-out', path.join(tmp, 'no-such-dir', 'c.pem')]);
    assert.equal(unwritable.status, 3, unwritable.stderr);
    assert.match(unwritable.stderr, /^portstorm: serve: --tls-cert-out \S+c\.pem: cannot write it \(no such file or directory\)\n$/);
  });

  it('--help documents the TLS flags', () => {
    const r = cli(['serve', '--help']);
    assert.equal(r.status, 0);
    for (const flag of ['--tls ', '--tls-cert ', '--tls-key ', '--tls-cert-out ']) assert.ok(r.stdout.includes(flag), flag);
    assert.match(r.stdout, /curl --cacert/);
  });
});
