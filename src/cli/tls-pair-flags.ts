/** `--tls-cert FILE --tls-key FILE`: the certificate and key a server of portstorm's serves (`serve`, `monitor --serve`). */
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { displayArg } from '../scenario/load.js';
import { readFailure } from '../scenario/tls-files.js';
import { certificatePairProblem, type CertificatePair } from '../target/certificate.js';

function readPem(flag: string, file: string): string {
  if (file.trim() === '') throw new UsageError(`${flag}: expected a file path`);
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${flag} ${displayArg(file)}: cannot read it (${readFailure(err)})`);
  }
}

/**
 * Reads and checks the pair: null when neither flag is given; a UsageError naming the flag when only
 * one is, when a file cannot be read, or when the key does not match the certificate.
 */
export function tlsPairFlags(cert: string | undefined, key: string | undefined): { pair: CertificatePair; certFile: string } | null {
  if (cert === undefined && key === undefined) return null;
  if (cert === undefined || key === undefined) {
    throw new UsageError(`--tls-cert and --tls-key go together (a certificate and its private key); got only ${cert === undefined ? '--tls-key' : '--tls-cert'}`);
  }
  const pair = { cert: readPem('--tls-cert', cert), key: readPem('--tls-key', key) };
  const problem = certificatePairProblem(pair);
  if (problem) {
    const [flag, file] = problem.part === 'cert' ? ['--tls-cert', cert] : ['--tls-key', key];
    throw new UsageError(`${flag} ${displayArg(file)}: ${problem.reason}`);
  }
  return { pair, certFile: cert };
}
