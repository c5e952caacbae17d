/**
 * The TLS and DNS sentences every run report prints (text, Markdown, HTML): handshakes and their
 * resumed share, the TLS settings (verification said plainly), lookups and their failures, and how
 * the target's name was resolved. Plain text; each renderer escapes it. A plain HTTP run with its
 * target given as an address gets none of them.
 */
import { isPerConnectionDns, isTlsRun, resolutionLine, resumedShare, tlsSettingsOf } from '../analysis/tls-facts.js';
import type { RunRecord, TargetTls } from '../record/types.js';
import { num, pct } from '../vocab/format.js';

export { resolutionLine } from '../analysis/tls-facts.js';
export { dnsSummaryOf, tlsSummaryOf } from '../analysis/tls-facts.js';

const TRUST: Record<TargetTls['trust'], string> = {
  system: "Node's root certificates",
  ca: 'tls.ca',
  builtin: "the built-in target's generated certificate",
  none: 'nothing',
};

/** `12 000 handshakes, 12 % resumed` (`no handshake completed` without any); null for a plain run. */
export function handshakeCounts(r: RunRecord): string | null {
  if (!isTlsRun(r)) return null;
  const n = r.totals.tlsHandshakes ?? 0;
  if (n === 0) return 'no handshake completed';
  return `${num(n)} handshake${n === 1 ? '' : 's'}, ${pct(resumedShare(r) ?? 0)} resumed`;
}

/**
 * `SNI staging-api.internal, certificate verified against tls.ca, session resumption on, ALPN
 * http/1.1`; with `tls.insecure` it says the certificate was NOT verified. Null for a plain run.
 */
export function tlsSettingsLine(r: RunRecord): string | null {
  const t = tlsSettingsOf(r);
  if (!t) return null;
  const parts = [
    `SNI ${t.servername ?? 'none (an address target)'}`,
    t.insecure ? 'certificate NOT verified (tls.insecure: true)' : `certificate verified against ${TRUST[t.trust]}`,
    `session resumption ${t.sessionResumption ? 'on' : 'off'}`,
    `ALPN ${t.alpn.length > 0 ? t.alpn.join(', ') : 'none'}`,
  ];
  if (t.clientCertificate) parts.push(`client certificate ${t.clientCertificate}`);
  return parts.join(', ');
}

/** Failed lookups by code (`ENOTFOUND 3, EAI_AGAIN 2`), or null when none failed. */
export function dnsFailureCounts(r: RunRecord): string | null {
  const out: Array<[string, number]> = [];
  for (const [key, n] of Object.entries(r.errorsByPhase)) if (key.startsWith('dns:') && n > 0) out.push([key.slice(4), n]);
  if (out.length === 0) return null;
  return out
    .sort((a, b) => b[1] - a[1])
    .map(([c, n]) => `${c} ${num(n)}`)
    .join(', ');
}

/** `1 200 lookups; failed: ENOTFOUND 3` for a `dns: per-connection` run; null otherwise. */
export function lookupCounts(r: RunRecord): string | null {
  if (!isPerConnectionDns(r)) return null;
  const n = r.totals.dnsLookups ?? 0;
  const failed = dnsFailureCounts(r);
  return `${num(n)} lookup${n === 1 ? '' : 's'}${failed ? `; failed: ${failed}` : ', none failed'}`;
}

/** Whether the report has anything to say about TLS or DNS. */
export function hasTlsOrDns(r: RunRecord): boolean {
  return isTlsRun(r) || isPerConnectionDns(r) || resolutionLine(r) !== null;
}
