/**
 * Shard records for merge tests: synthetic records (synthetic-record.ts) given a `shard`, a load
 * start and histograms made from known latencies, so a merge can be checked against the union.
 */
import { encodeHistogram, newHistogram, recordMs } from '../../src/record/histogram.js';
import type { RunRecord, TimelineEntry } from '../../src/record/types.js';
import { syntheticRecord, type SyntheticOptions } from './synthetic-record.js';

/** What a test sets of one shard. */
export interface ShardOptions extends SyntheticOptions {
  index: number;
  count: number;
  /** The load start, ms after 2026-01-01T00:00:00Z. */
  startOffsetMs?: number;
  /** Latencies (ms) every histogram of the shard is made of. */
  latencies?: number[];
  timeline?: TimelineEntry[];
  version?: string;
}

const EPOCH = Date.parse('2026-01-01T00:00:00.000Z');

/** A shard record, schema 2, of the synthetic scenario. */
export function shardRecord(o: ShardOptions): RunRecord {
  const r = syntheticRecord(o);
  const start = new Date(EPOCH + (o.startOffsetMs ?? 0)).toISOString();
  const h = newHistogram();
  for (const v of o.latencies ?? [1, 2, 3]) recordMs(h, v);
  const enc = encodeHistogram(h);
  return {
    ...r,
    // The one scenario all shards ran, whatever each shard's timeline.
    scenario: { ...r.scenario, load: [{ model: 'arrival-rate', rate: 300, rampUp: 0, duration: 20, startAfter: 0, maxInFlight: 10_000 }] },
    schema: 2,
    portstormVersion: o.version ?? r.portstormVersion,
    runId: `20260101-000000-synthetic-shard${o.index}`,
    shard: { index: o.index, count: o.count, startAt: '2026-01-01T00:00:00Z', lateMs: o.startOffsetMs ?? 0, split: `arrivals k ≡ ${o.index} (mod ${o.count})` },
    startedAt: start,
    loadStartedAt: start,
    histograms: { latency: enc, latencyUncorrected: enc, connect: enc, ttfb: enc },
  };
}
