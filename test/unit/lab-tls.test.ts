/** HTTPS in the lab (src/lab/tls.ts): when a lab run speaks TLS, the names its certificate covers, the files lab.serve gets. */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { labCertificateNames, labUsesTls, makeLabCertificate, makeTlsDir, removeTlsDir, writeServeCertificate } from '../../src/lab/tls.js';
import { parseScenario } from '../../src/scenario/load.js';

const load = [{ model: 'arrival-rate', rate: 10, duration: 1 }];
const scenario = (doc: Record<string, unknown>) => parseScenario({ load, ...doc }, 'test');

describe('lab over HTTPS', () => {
  it('speaks TLS with builtin.tls, or with an https:// target (lab.serve); not otherwise', () => {
    assert.equal(labUsesTls(scenario({})), false);
    assert.equal(labUsesTls(scenario({ builtin: { tls: true } })), true);
    assert.equal(labUsesTls(scenario({ target: 'https://localhost:3000/x', lab: { serve: 'true' } })), true);
    assert.equal(labUsesTls(scenario({ target: 'http://localhost:3000/x', lab: { serve: 'true' }, builtin: { tls: true } })), true);
    assert.equal(labUsesTls(scenario({ target: 'http://localhost:3000/x', lab: { serve: 'true' } })), false);
  });

  it('covers the target address, the URL host and tls.servername', async () => {
    const names = labCertificateNames(scenario({ target: 'https://api.internal:3000/', tls: { servername: 'api.example' } }), '198.18.0.2');
    for (const n of ['198.18.0.2', 'api.internal', 'api.example', 'localhost', '127.0.0.1']) assert.ok(names.includes(n), n);
    assert.deepEqual(labCertificateNames(scenario({ builtin: { tls: true } }), '198.18.0.2'), ['localhost', '127.0.0.1', '::1', '198.18.0.2']);
    const pair = await makeLabCertificate(scenario({ target: 'https://[fd00::2]:3000/' }), '198.18.0.2');
    const cert = new X509Certificate(pair.cert);
    assert.equal(cert.checkIP('198.18.0.2'), '198.18.0.2');
    assert.equal(cert.checkIP('fd00::2'), 'fd00::2');
  });

  it('writes cert and key for lab.serve in a private directory, the key 0600, and removes it', async () => {
    const pair = await makeLabCertificate(scenario({ builtin: { tls: true } }), '198.18.0.2');
    const dir = makeTlsDir();
    try {
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      const files = writeServeCertificate(dir, pair);
      assert.equal(path.dirname(files.key), dir);
      assert.equal(statSync(files.key).mode & 0o777, 0o600);
      assert.equal(readFileSync(files.key, 'utf8'), pair.key);
      assert.equal(readFileSync(files.cert, 'utf8'), pair.cert);
      // Never over a file already there (a link planted in the directory would be followed).
      assert.throws(() => writeServeCertificate(dir, pair), { code: 'EEXIST' });
    } finally {
      removeTlsDir(dir);
    }
    assert.equal(existsSync(dir), false);
    removeTlsDir(dir); // gone already: quiet
  });
});
