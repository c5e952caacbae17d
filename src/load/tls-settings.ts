/**
 * The TLS client settings of a run, built once on the main thread from the scenario: the PEM text
 * the load workers get (`TlsClientOptions`) and what the record says of them (`target.tls`, never
 * key material).
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { UsageError } from '../errors.js';
import type { TargetTls } from '../record/types.js';
import type { Scenario } from '../scenario/schema.js';
import { readFailure } from '../scenario/tls-files.js';
import type { TlsClientOptions } from './transport/types.js';

/** The TLS of a run: what the workers use and what the record keeps. */
export interface RunTls {
  client: TlsClientOptions;
  record: TargetTls;
}

/**
 * The TLS settings for `s` against `url`. `trusted`: the one certificate to trust (the built-in
 * target's, or one the caller's own target serves), instead of `tls.ca` and Node's roots. SNI and
 * the name checked default to the URL's host name, none for an IP address (the address is checked
 * then); `tls.servername` overrides both. `source` names the scenario in a file that cannot be read.
 */
export function runTls(s: Scenario, url: string, trusted: string | null, source = 'scenario'): RunTls {
  const read = (field: 'ca' | 'cert' | 'key'): string | null => {
    const file = s.tls[field];
    if (file === undefined) return null;
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`${source}: tls.${field}: cannot read ${file}: ${readFailure(err)}`);
    }
  };
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  const servername = s.tls.servername ?? (net.isIP(host) === 0 ? host : null);
  const ca = trusted ?? read('ca');
  const trust: TargetTls['trust'] = s.tls.insecure ? 'none' : trusted !== null ? 'builtin' : ca !== null ? 'ca' : 'system';
  return {
    client: {
      servername,
      insecure: s.tls.insecure,
      ca,
      cert: read('cert'),
      key: read('key'),
      sessionResumption: s.tls.sessionResumption,
      alpn: s.tls.alpn,
      handshakeTimeoutMs: (s.timeouts.tls ?? s.timeouts.connect) * 1000,
    },
    record: {
      servername,
      insecure: s.tls.insecure,
      sessionResumption: s.tls.sessionResumption,
      alpn: s.tls.alpn,
      trust,
      clientCertificate: s.tls.cert ?? null,
    },
  };
}
