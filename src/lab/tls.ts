/**
 * HTTPS in the lab: the certificate made for the lab's target address, and the files `lab.serve`
 * gets it in. The run trusts exactly that certificate (RunOptions.targetCertificate), so nothing
 * outside the lab is asked to trust anything.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Scenario } from '../scenario/schema.js';
import { builtinCertificateNames, makeCertificate, type CertificatePair } from '../target/certificate.js';

/**
 * Whether a lab run speaks HTTPS: `builtin.tls`, or (with `lab.serve`) an `https://` target. With
 * `lab.serve`, `builtin.tls: true` asks for HTTPS as well, the target URL keeping only its path.
 */
export function labUsesTls(s: Pick<Scenario, 'target' | 'builtin'>): boolean {
  return s.builtin.tls || s.target.startsWith('https:');
}

/**
 * The names the lab's certificate covers: the lab's target address (and the usual local names), the
 * scenario's `tls.servername`, and the host name of its `https://` URL, so that SNI set to either
 * still verifies.
 */
export function labCertificateNames(s: Pick<Scenario, 'target' | 'tls'>, targetAddress: string): string[] {
  const extra = [targetAddress];
  if (s.tls.servername) extra.push(s.tls.servername);
  if (s.target.startsWith('https:')) {
    const host = new URL(s.target).hostname.replace(/^\[|\]$/g, '');
    if (host !== '') extra.push(host);
  }
  return builtinCertificateNames(extra);
}

/** Makes the lab's certificate: self-signed, for {@link labCertificateNames}. */
export function makeLabCertificate(s: Pick<Scenario, 'target' | 'tls'>, targetAddress: string): Promise<CertificatePair> {
  return makeCertificate({ names: labCertificateNames(s, targetAddress) });
}

/** Where `lab.serve`'s certificate and key were written. */
export interface ServeCertificateFiles {
  cert: string;
  key: string;
}

/** A private directory (mode 0700) for `lab.serve`'s certificate and key; remove it with {@link removeTlsDir}. */
export function makeTlsDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'portstorm-lab-tls-'));
}

/** Removes a directory made by {@link makeTlsDir}, and the key in it; quiet when it is gone already. */
export function removeTlsDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Writes the pair into `dir` as cert.pem and key.pem (the key readable by its owner only). */
export function writeServeCertificate(dir: string, pair: CertificatePair): ServeCertificateFiles {
  const files = { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') };
  writeFileSync(files.key, pair.key, { mode: 0o600, flag: 'wx' });
  writeFileSync(files.cert, pair.cert, { mode: 0o644, flag: 'wx' });
  return files;
}
