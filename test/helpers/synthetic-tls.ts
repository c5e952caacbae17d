/**
 * HTTPS and per-connection DNS on synthetic run records: handshakes (and lookups) per new
 * connection drawn into real HDR histograms from a seeded generator, per-second figures taken from
 * them, the CPU per second, the TLS settings and the target's resolution. For rule and renderer
 * tests; no TLS server involved.
 */
import { encodeHistogram, newHistogram, recordMs, summarize } from '../../src/record/histogram.js';
import type { LatencySummary, RunRecord, TargetTls } from '../../src/record/types.js';

/** A seeded standard normal draw (mulberry32 + Box–Muller). */
export function normal(seed: number): () => number {
  let a = seed >>> 0;
  const u = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

/** What {@link withTls} adds. */
export interface TlsRun {
  /** Median handshake time (ms) in second t; each handshake is drawn log-normal around it. */
  handshakeMs?: (t: number) => number;
  /** Spread of the log-normal draw (σ of ln). */
  spread?: number;
  /** Share of handshakes that resumed a session. */
  resumed?: number;
  /** Cores the process used in second t (null: unreadable); undefined leaves cpu out. */
  processCores?: ((t: number) => number | null) | number | null;
  hostCores?: ((t: number) => number | null) | number | null;
  settings?: Partial<TargetTls>;
  /** The URL's host (default: an address, 198.18.0.2). */
  host?: string;
  seed?: number;
}

const shift = (l: LatencySummary, ms: number): LatencySummary => ({ ...l, p50: l.p50 + ms, p90: l.p90 + ms, p99: l.p99 + ms, p999: l.p999 + ms, max: l.max + ms, mean: l.mean + ms });
const at = <T>(v: ((t: number) => T) | T, t: number): T => (typeof v === 'function' ? (v as (t: number) => T)(t) : v);

/**
 * Makes `r` an HTTPS run: every opened connection completed a handshake; each request's latency
 * grows by its second's handshake p50 (the handshake is part of the exchange).
 */
export function withTls(r: RunRecord, o: TlsRun = {}): RunRecord {
  const g = normal(o.seed ?? 7);
  const handshakeMs = o.handshakeMs ?? (() => 4);
  const all = newHistogram();
  let handshakes = 0;
  let resumed = 0;
  const host = o.host ?? '198.18.0.2';
  const url = `https://${host}:8443/`;
  for (const e of r.timeline) {
    const h = newHistogram();
    const n = e.connectionsOpened;
    for (let i = 0; i < n; i++) {
      const v = handshakeMs(e.t) * Math.exp((o.spread ?? 0.3) * g());
      recordMs(h, v);
      recordMs(all, v);
    }
    const s = summarize(h);
    e.tlsHandshakes = n;
    e.tlsMs = { p50: s.p50, p99: s.p99 };
    if (n > 0) e.latencyMs = { p50: e.latencyMs.p50 + s.p50, p90: e.latencyMs.p90 + s.p50, p99: e.latencyMs.p99 + s.p99, max: e.latencyMs.max + s.max };
    handshakes += n;
    resumed += Math.round(n * (o.resumed ?? 0));
    if (o.processCores !== undefined || o.hostCores !== undefined) {
      e.cpu = { process: o.processCores === undefined ? null : at(o.processCores, e.t), host: o.hostCores === undefined ? null : at(o.hostCores, e.t) };
    }
  }
  const tls = summarize(all);
  const resumption = o.settings?.sessionResumption ?? true;
  r.scenario.target = url;
  r.scenario.tls = { insecure: o.settings?.insecure ?? false, sessionResumption: resumption, alpn: ['http/1.1'] };
  r.target.url = url;
  r.target.tls = {
    servername: /^[\d.]+$/.test(host) ? null : host,
    insecure: false,
    sessionResumption: resumption,
    alpn: ['http/1.1'],
    trust: 'system',
    clientCertificate: null,
    ...o.settings,
  };
  r.totals.tlsHandshakes = handshakes;
  r.totals.tlsResumed = resumed;
  r.tlsMs = tls;
  r.histograms = { ...r.histograms, tls: encodeHistogram(all) };
  r.latencyMs = shift(r.latencyMs, tls.p50);
  r.latencyUncorrectedMs = shift(r.latencyUncorrectedMs, tls.p50);
  return r;
}

/** What {@link withDns} adds. */
export interface DnsRun {
  name?: string;
  addresses?: string[];
  lookupMs?: number;
  seed?: number;
}

/**
 * Makes `r` a `dns: per-connection` run against a host name: every opened connection was preceded
 * by a successful lookup (failed lookups are the timeline's errors in phase `dns`, which the test
 * sets through `errorsByPhase`).
 */
export function withDns(r: RunRecord, o: DnsRun = {}): RunRecord {
  const g = normal(o.seed ?? 11);
  const name = o.name ?? 'staging-api.internal';
  const all = newHistogram();
  let lookups = 0;
  for (const e of r.timeline) {
    const h = newHistogram();
    for (let i = 0; i < e.connectionsOpened; i++) {
      const v = (o.lookupMs ?? 0.4) * Math.exp(0.4 * g());
      recordMs(h, v);
      recordMs(all, v);
    }
    const s = summarize(h);
    e.dnsLookups = e.connectionsOpened;
    e.dnsMs = { p50: s.p50, p99: s.p99 };
    lookups += e.connectionsOpened;
  }
  const url = new URL(r.target.url);
  url.hostname = name;
  r.target.url = url.href;
  r.scenario.target = url.href;
  r.scenario.dns = 'per-connection';
  r.target.resolved = { name, dns: 'per-connection', addresses: o.addresses ?? ['198.18.0.2'], used: null };
  r.totals.dnsLookups = lookups;
  r.dnsMs = summarize(all);
  r.histograms = { ...r.histograms, dns: encodeHistogram(all) };
  return r;
}
