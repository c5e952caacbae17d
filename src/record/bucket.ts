/**
 * One second of observations. Load workers fill buckets and ship them as deltas; the main thread
 * merges deltas for the same second additively, so a late observation for a second already
 * shipped is simply another delta.
 */
import type { Phase } from './types.js';
import { decodeHistogram, encodeHistogram, newFlatHistogram, newHistogram as newPackedHistogram, recordMs, type Histogram } from './histogram.js';

/** Live counts and histograms of one second. */
export interface Bucket {
  t: number;
  attempted: number;
  completed: number;
  failed: number;
  dropped: number;
  connectionsOpened: number;
  /** TLS handshakes completed, and how many of them resumed a session. */
  tlsHandshakes: number;
  tlsResumed: number;
  /** Successful lookups of the target's name (`dns: per-connection`). */
  dnsLookups: number;
  errors: Record<string, number>;
  errorsByPhase: Record<string, number>;
  latency: Histogram;
  latencyUncorrected: Histogram;
  connect: Histogram;
  ttfb: Histogram;
  /** Handshake time of each completed TLS handshake. */
  tls: Histogram;
  /** Lookup time of each successful lookup. */
  dns: Histogram;
}

/** A bucket as sent between threads: histograms encoded. */
export interface WireBucket extends Omit<Bucket, HistogramName> {
  latency: string | null;
  latencyUncorrected: string | null;
  connect: string | null;
  ttfb: string | null;
  tls: string | null;
  dns: string | null;
}

/** The histograms every bucket holds. */
export const HISTOGRAMS = ['latency', 'latencyUncorrected', 'connect', 'ttfb', 'tls', 'dns'] as const;
/** The name of one of a bucket's histograms. */
export type HistogramName = (typeof HISTOGRAMS)[number];

/** An empty bucket for second t; `flat` for one that is read often (see newFlatHistogram). */
export function newBucket(t: number, kind: 'packed' | 'flat' = 'packed'): Bucket {
  const newHistogram = kind === 'flat' ? newFlatHistogram : newPackedHistogram;
  return {
    t,
    attempted: 0,
    completed: 0,
    failed: 0,
    dropped: 0,
    connectionsOpened: 0,
    tlsHandshakes: 0,
    tlsResumed: 0,
    dnsLookups: 0,
    errors: {},
    errorsByPhase: {},
    latency: newHistogram(),
    latencyUncorrected: newHistogram(),
    connect: newHistogram(),
    ttfb: newHistogram(),
    tls: newHistogram(),
    dns: newHistogram(),
  };
}

/** Counts a failure in a bucket. */
export function countFailure(b: Bucket, code: string, phase: Phase): void {
  b.failed++;
  b.errors[code] = (b.errors[code] ?? 0) + 1;
  const key = `${phase}:${code}`;
  b.errorsByPhase[key] = (b.errorsByPhase[key] ?? 0) + 1;
}

/** Records a completed request's timings (milliseconds). */
export function countCompletion(b: Bucket, latencyMs: number, uncorrectedMs: number, ttfbMs: number): void {
  b.completed++;
  recordMs(b.latency, latencyMs);
  recordMs(b.latencyUncorrected, uncorrectedMs);
  recordMs(b.ttfb, ttfbMs);
}

/** Serializes a bucket for postMessage; empty histograms travel as null. */
export function toWire(b: Bucket): WireBucket {
  const enc = (h: Histogram): string | null => (h.totalCount === 0 ? null : encodeHistogram(h));
  return {
    ...b,
    latency: enc(b.latency),
    latencyUncorrected: enc(b.latencyUncorrected),
    connect: enc(b.connect),
    ttfb: enc(b.ttfb),
    tls: enc(b.tls),
    dns: enc(b.dns),
  };
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

type Counts = Pick<Bucket, 'attempted' | 'completed' | 'failed' | 'dropped' | 'connectionsOpened' | 'tlsHandshakes' | 'tlsResumed' | 'dnsLookups' | 'errors' | 'errorsByPhase'>;

function mergeCounts(into: Counts, from: Partial<Counts>): void {
  into.attempted += from.attempted ?? 0;
  into.completed += from.completed ?? 0;
  into.failed += from.failed ?? 0;
  into.dropped += from.dropped ?? 0;
  into.connectionsOpened += from.connectionsOpened ?? 0;
  into.tlsHandshakes += from.tlsHandshakes ?? 0;
  into.tlsResumed += from.tlsResumed ?? 0;
  into.dnsLookups += from.dnsLookups ?? 0;
  addCounts(into.errors, from.errors ?? {});
  addCounts(into.errorsByPhase, from.errorsByPhase ?? {});
}

/** Adds a wire delta into each of `into` (e.g. its second's bucket and the run's), decoding it once. */
export function mergeWire(into: Bucket[], w: WireBucket): void {
  for (const b of into) mergeCounts(b, w);
  for (const name of HISTOGRAMS) {
    const enc = w[name];
    if (enc === null || enc === undefined) continue;
    const delta = decodeHistogram(enc, 'flat');
    for (const b of into) b[name].add(delta);
  }
}

/** Adds one bucket into another (used for run totals). */
export function mergeBucket(into: Bucket, from: Bucket): void {
  mergeCounts(into, from);
  for (const name of HISTOGRAMS) if (from[name].totalCount > 0) into[name].add(from[name]);
}
