import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { builtinCertificateNames, makeCertificate, type CertificatePair } from '../../src/target/certificate.js';

/** The outcome of a node:tls handshake against a server with `pair`: 'ok' or the error code. */
async function handshake(pair: CertificatePair, opts: tls.ConnectionOptions): Promise<string> {
  const server = tls.createServer({ cert: pair.cert, key: pair.key }, (s) => s.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  try {
    return await new Promise<string>((resolve) => {
      const c = tls.connect({ host: '127.0.0.1', port, ...opts }, () => {
        resolve('ok');
        c.destroy();
      });
      c.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'no code'));
    });
  } finally {
    server.close();
  }
}

describe('makeCertificate', () => {
  it('puts DNS names and IP addresses in subjectAltName', async () => {
    const pair = await makeCertificate({ names: ['localhost', '127.0.0.1', '::1'] });
    const cert = new X509Certificate(pair.cert);
    assert.equal(cert.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    assert.equal(cert.subject, 'CN=localhost');
    assert.equal(cert.publicKey.asymmetricKeyType, 'ec');
  });

  it('makes certificates that verify, and ones that fail each way a staging certificate can', async () => {
    const ca = await makeCertificate({ ca: true, commonName: 'portstorm test CA' });
    const leaf = await makeCertificate({ names: ['localhost', '127.0.0.1'], issuer: ca });
    assert.equal(new X509Certificate(leaf.cert).verify(new X509Certificate(ca.cert).publicKey), true);
    assert.equal(await handshake(leaf, { ca: ca.cert }), 'ok');
    assert.equal(await handshake(leaf, { ca: ca.cert, servername: 'other.example' }), 'ERR_TLS_CERT_ALTNAME_INVALID');
    const self = await makeCertificate({ names: ['127.0.0.1'] });
    assert.equal(await handshake(self, {}), 'DEPTH_ZERO_SELF_SIGNED_CERT');
    assert.equal(await handshake(self, { ca: self.cert }), 'ok');
    const day = 86_400_000;
    const expired = await makeCertificate({ names: ['127.0.0.1'], issuer: ca, notBefore: new Date(Date.now() - 10 * day), notAfter: new Date(Date.now() - day) });
    assert.equal(await handshake(expired, { ca: ca.cert }), 'CERT_HAS_EXPIRED');
  });

  it("the built-in target's names cover loopback, the lab's target and the listening address", () => {
    assert.deepEqual(builtinCertificateNames(['198.18.0.2', 'fd00::2']), ['localhost', '127.0.0.1', '::1', '198.18.0.2', 'fd00::2']);
  });
});
