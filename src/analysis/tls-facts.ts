/**
 * What a run record says about its TLS handshakes and name lookups, read the same way by the
 * diagnosis, every report and compare. Older records (and plain HTTP runs) have none of it. Pure.
 */
import { decodeHistogram, summarize } from '../record/histogram.js';
import type { LatencySummary, RunRecord, TargetTls } from '../record/types.js';
import { usesTls } from '../scenario/schema.js';

/** Whether the run spoke TLS: handshake figures or TLS settings in the record, or an HTTPS scenario. */
export function isTlsRun(r: RunRecord): boolean {
  if (r.tlsMs !== undefined || r.totals.tlsHandshakes !== undefined || (r.target.tls ?? null) !== null) return true;
  const s = r.scenario as Partial<RunRecord['scenario']>;
  return typeof s.target === 'string' && s.builtin !== undefined && usesTls({ target: s.target, builtin: s.builtin }) === true;
}

/** Whether the run looked the target's name up for every new connection. */
export function isPerConnectionDns(r: RunRecord): boolean {
  return r.target.resolved?.dns === 'per-connection' || r.scenario.dns === 'per-connection' || r.dnsMs !== undefined || r.totals.dnsLookups !== undefined;
}

/**
 * The TLS settings of an HTTPS run: the record's `target.tls`, else what the scenario asked for
 * (trust then from `tls.ca`, `tls.insecure` or the built-in target). Null for a plain run.
 */
export function tlsSettingsOf(r: RunRecord): TargetTls | null {
  if (r.target.tls) return r.target.tls;
  if (!isTlsRun(r)) return null;
  const t = r.scenario.tls ?? { insecure: false, sessionResumption: true, alpn: ['http/1.1'] };
  let host: string | null = null;
  try {
    host = new URL(r.target.url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    // keep null
  }
  const isAddress = host !== null && (/^\d+\.\d+\.\d+\.\d+$/.test(host) || host.includes(':'));
  return {
    servername: t.servername ?? (isAddress ? null : host),
    insecure: t.insecure,
    sessionResumption: t.sessionResumption,
    alpn: t.alpn,
    trust: t.insecure ? 'none' : t.ca ? 'ca' : r.target.builtin ? 'builtin' : 'system',
    clientCertificate: t.cert ?? null,
  };
}

/** A whole-run summary: the stored one, else decoded from the stored histogram; null without data. */
function summaryOf(stored: LatencySummary | undefined, encoded: string | undefined): LatencySummary | null {
  if (stored && stored.count > 0) return stored;
  if (encoded) {
    try {
      const s = summarize(decodeHistogram(encoded));
      if (s.count > 0) return s;
    } catch {
      // an unreadable histogram is no data
    }
  }
  return null;
}

/** Handshake time over the run (ms), or null when no handshake completed. */
export function tlsSummaryOf(r: RunRecord): LatencySummary | null {
  return summaryOf(r.tlsMs, r.histograms?.tls);
}

/** Lookup time over the run (ms), or null when no lookup succeeded. */
export function dnsSummaryOf(r: RunRecord): LatencySummary | null {
  return summaryOf(r.dnsMs, r.histograms?.dns);
}

/** Resumed handshakes / handshakes; null without handshakes. */
export function resumedShare(r: Pick<RunRecord, 'totals'>): number | null {
  const n = r.totals.tlsHandshakes ?? 0;
  return n > 0 ? (r.totals.tlsResumed ?? 0) / n : null;
}

/** `staging-api.internal → 198.18.0.2 (once)` or `(per-connection, 2 addresses)`; null when the target is an address. */
export function resolutionLine(r: RunRecord): string | null {
  const res = r.target.resolved;
  if (!res || res.name === null) return null;
  const addresses = res.addresses.length > 0 ? res.addresses.join(', ') : 'no address';
  if (res.dns === 'once') {
    const used = res.used ?? res.addresses[0] ?? null;
    const more = res.addresses.length > 1 ? `, the first of ${res.addresses.length}: ${addresses}` : '';
    return `${res.name} → ${used ?? addresses} (once${more})`;
  }
  return `${res.name} → ${addresses} (per-connection, ${res.addresses.length} address${res.addresses.length === 1 ? '' : 'es'})`;
}
