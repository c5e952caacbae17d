/**
 * Certificates made at start: the built-in target's self-signed certificate (`builtin.tls`,
 * `portstorm serve --tls`), and the CAs, leaves and broken certificates tests and benchmarks need.
 * ECDSA P-256 keys from Node's WebCrypto and X.509 from @peculiar/x509; nothing touches the disk.
 */
import { createPrivateKey, webcrypto, X509Certificate as NodeX509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import type * as X509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

let loading: Promise<typeof X509> | undefined;

/**
 * @peculiar/x509, loaded on first use: importing it costs about 0.2 s, which every command that
 * imports this module (and never makes a certificate) would otherwise pay at start.
 */
function loadX509(): Promise<typeof X509> {
  loading ??= (async () => {
    // @peculiar/x509 resolves its parts with tsyringe, which needs Reflect metadata first.
    await import('@abraham/reflection');
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    return x509;
  })();
  return loading;
}

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A certificate and its private key, both PEM. */
export interface CertificatePair {
  cert: string;
  key: string;
}

/** What a certificate says. */
export interface CertificateOptions {
  /** Subject common name (default: the first name, else "portstorm"). */
  commonName?: string;
  /** DNS names and IP addresses for subjectAltName; each is put where it belongs. */
  names?: string[];
  /** Validity (default: from an hour ago to 30 days ahead). */
  notBefore?: Date;
  notAfter?: Date;
  /** A CA certificate (basicConstraints cA, keyCertSign) rather than a server leaf. */
  ca?: boolean;
  /** The CA that signs it; absent: self-signed. */
  issuer?: CertificatePair;
}

const HOUR_MS = 3_600_000;

/** Makes a certificate (self-signed, or signed by `issuer`) with a new P-256 key. */
export async function makeCertificate(o: CertificateOptions = {}): Promise<CertificatePair> {
  const x509 = await loadX509();
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
  const names = o.names ?? [];
  const subject = `CN=${o.commonName ?? names[0] ?? 'portstorm'}`;
  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(o.ca === true, undefined, true),
    new x509.KeyUsagesExtension(o.ca ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature : x509.KeyUsageFlags.digitalSignature, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (!o.ca) extensions.push(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]));
  if (names.length > 0) {
    extensions.push(new x509.SubjectAlternativeNameExtension(names.map((n) => ({ type: isIP(n) ? ('ip' as const) : ('dns' as const), value: n }))));
  }
  const now = Date.now();
  const validity = { notBefore: o.notBefore ?? new Date(now - HOUR_MS), notAfter: o.notAfter ?? new Date(now + 30 * 24 * HOUR_MS) };
  let cert: X509.X509Certificate;
  if (o.issuer) {
    const issuerCert = new x509.X509Certificate(o.issuer.cert);
    const signingKey = await importKey(x509, o.issuer.key);
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuerCert));
    cert = await x509.X509CertificateGenerator.create({
      subject,
      issuer: issuerCert.subject,
      publicKey: keys.publicKey,
      signingKey,
      signingAlgorithm: ALGORITHM,
      extensions,
      ...validity,
    });
  } else {
    cert = await x509.X509CertificateGenerator.createSelfSigned({ name: subject, keys, signingAlgorithm: ALGORITHM, extensions, ...validity });
  }
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { cert: cert.toString('pem'), key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

async function importKey(x509: typeof X509, pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decode(pem)[0]!;
  return webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, false, ['sign']) as Promise<CryptoKey>;
}

/**
 * The names a built-in target's certificate covers: loopback, the lab's addresses and `extra`
 * (the address it listens on), so a client that verifies it finds its own target's name.
 */
export function builtinCertificateNames(extra: readonly string[] = []): string[] {
  return [...new Set(['localhost', '127.0.0.1', '::1', '198.18.0.2', ...extra])];
}

/** The SHA-256 fingerprint of a PEM certificate, as `openssl x509 -fingerprint -sha256` prints it (AB:CD:...). */
export function certificateFingerprint(pem: string): string {
  return new NodeX509Certificate(pem).fingerprint256;
}

/** Why a certificate/key pair (PEM) cannot be served, naming the half at fault; null when it can. */
export function certificatePairProblem(pair: CertificatePair): { part: 'cert' | 'key'; reason: string } | null {
  const notCert = { part: 'cert' as const, reason: 'expected a PEM certificate (-----BEGIN CERTIFICATE-----)' };
  if (!pair.cert.includes('-----BEGIN CERTIFICATE-----')) return notCert;
  let cert: NodeX509Certificate;
  try {
    cert = new NodeX509Certificate(pair.cert);
  } catch {
    return { part: 'cert', reason: 'its PEM block does not parse as an X.509 certificate' };
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pair.key);
  } catch {
    if (pair.key.includes('ENCRYPTED')) return { part: 'key', reason: 'an encrypted private key (no passphrase can be given; decrypt it first)' };
    return { part: 'key', reason: 'expected an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)' };
  }
  if (!cert.checkPrivateKey(key)) return { part: 'key', reason: 'not the private key of the certificate' };
  return null;
}
