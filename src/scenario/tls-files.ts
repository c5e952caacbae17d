/**
 * The files of a scenario's `tls:` block (CA certificates, client certificate and key): resolved
 * against the scenario file's directory and checked before any load, so the resolved scenario holds
 * absolute paths (valid input again, from anywhere) and a bad file is one line naming its field.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Scenario } from './schema.js';

/** A `tls:` field that names a file. */
export type TlsFileField = 'ca' | 'cert' | 'key';

/** One problem with a `tls:` file. */
export interface TlsFileProblem {
  field: TlsFileField;
  message: string;
}

const READ_REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory',
};

/** Why a file could not be read, in a few words (`no such file`, `permission denied`, ...). */
export function readFailure(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return (code && READ_REASONS[code]) ?? (err instanceof Error ? err.message : String(err));
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The PEM certificates in `text`, parsed; throws with a short reason when there are none or one does not parse. */
function parseCertificates(text: string): X509Certificate[] {
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new Error('expected PEM certificates (-----BEGIN CERTIFICATE-----), found none');
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new Error(`certificate ${i + 1} does not parse (${firstLine(err)})`);
    }
  });
}

function firstLine(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const text = typeof e.message === 'string' ? e.message.split('\n')[0]! : String(err);
  return typeof e.code === 'string' && !text.includes(e.code) ? `${e.code}: ${text}` : text;
}

/**
 * Resolves the `tls.ca`, `tls.cert` and `tls.key` paths of `s` against `baseDir` and checks them:
 * readable, PEM certificates that parse (node:crypto `X509Certificate`), a private key that parses
 * (`createPrivateKey`) and belongs to the first certificate of `tls.cert`.
 */
export function checkTlsFiles(s: Scenario, baseDir: string): { scenario: Scenario; problems: TlsFileProblem[] } {
  const problems: TlsFileProblem[] = [];
  const tls = { ...s.tls };
  const read = (field: TlsFileField): string | null => {
    const given = tls[field];
    if (given === undefined) return null;
    const file = path.resolve(baseDir, given);
    tls[field] = file;
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      problems.push({ field, message: `cannot read ${file}: ${readFailure(err)}` });
      return null;
    }
  };
  const certificates = (field: 'ca' | 'cert'): X509Certificate[] | null => {
    const text = read(field);
    if (text === null) return null;
    try {
      return parseCertificates(text);
    } catch (err) {
      problems.push({ field, message: `${tls[field]}: ${(err as Error).message}` });
      return null;
    }
  };
  certificates('ca');
  const chain = certificates('cert');
  const keyText = read('key');
  let key: KeyObject | null = null;
  if (keyText !== null) {
    try {
      key = createPrivateKey(keyText);
    } catch (err) {
      problems.push({ field: 'key', message: `${tls.key}: expected a PEM private key (unencrypted), it does not parse (${firstLine(err)})` });
    }
  }
  if (chain && key && !chain[0]!.checkPrivateKey(key)) {
    problems.push({ field: 'key', message: `${tls.key}: the key does not match the certificate in tls.cert (${tls.cert})` });
  }
  return { scenario: { ...s, tls }, problems };
}
