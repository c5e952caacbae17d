/**
 * The main thread's view of a run: merges bucket deltas from every worker per second, keeps live
 * totals for progress, and turns it all into the record's totals, summaries and timeline.
 */
import { mergeBucket, mergeWire, newBucket, type Bucket, type WireBucket } from './bucket.js';
import { encodeHistogram, summarize } from './histogram.js';
import type { RunRecord, TimelineEntry, Totals } from './types.js';

/** A failure kept with its detail (the first of each code). */
export interface ErrorSampleRecord {
  code: string;
  phase: RunRecord['errorSamples'][number]['phase'];
  message: string;
  t: number;
  localPort: number | null;
}

/** Live figures for a progress line. */
export interface LiveStats {
  totals: Totals;
  errors: Record<string, number>;
  /** Completed per second in the last complete second. */
  rate: number;
  /** p99 latency (ms) of the last complete second. */
  p99Ms: number;
  /** Host TIME_WAIT and the busiest destination's port utilization, when the monitor runs. */
  sockets?: { timeWait: number; utilization: number | null } | null;
}

/** The parts of the run record that come from the load's observations. */
export type LoadResults = Pick<
  RunRecord,
  'totals' | 'errors' | 'errorsByPhase' | 'latencyMs' | 'latencyUncorrectedMs' | 'connectMs' | 'ttfbMs' | 'histograms' | 'timeline' | 'errorSamples'
>;

const MAX_SAMPLES = 50;

/** Accumulates a run's buckets. */
export class RunAccumulator {
  private readonly seconds = new Map<number, Bucket>();
  private readonly samples: ErrorSampleRecord[] = [];
  private readonly totals: Totals = { attempted: 0, completed: 0, failed: 0, dropped: 0, connectionsOpened: 0 };
  private readonly errors: Record<string, number> = {};

  /** Adds bucket deltas from a worker. */
  add(deltas: WireBucket[]): void {
    for (const w of deltas) {
      let b = this.seconds.get(w.t);
      if (!b) {
        b = newBucket(w.t);
        this.seconds.set(w.t, b);
      }
      mergeWire(b, w);
      this.totals.attempted += w.attempted;
      this.totals.completed += w.completed;
      this.totals.failed += w.failed;
      this.totals.dropped += w.dropped;
      this.totals.connectionsOpened += w.connectionsOpened;
      for (const [code, n] of Object.entries(w.errors)) this.errors[code] = (this.errors[code] ?? 0) + n;
    }
  }

  /** Keeps an error sample: the first one of each code across all workers (capped). */
  addSample(s: ErrorSampleRecord): void {
    if (this.samples.length < MAX_SAMPLES && !this.samples.some((x) => x.code === s.code)) this.samples.push(s);
  }

  /**
   * Totals so far, and the figures of the last second that is complete here: workers ship every
   * `shipLagS` seconds, so that is the second before `nowS - shipLagS`.
   */
  live(nowS: number, shipLagS = 0.55): LiveStats {
    const last = this.seconds.get(Math.floor(nowS - shipLagS) - 1);
    return {
      totals: { ...this.totals },
      errors: { ...this.errors },
      rate: last?.completed ?? 0,
      p99Ms: last ? summarize(last.latency).p99 : 0,
    };
  }

  /** The record's load fields for a run that lasted `durationS` seconds. */
  results(durationS: number): LoadResults {
    const all = newBucket(0);
    const timeline: TimelineEntry[] = [];
    const lastSecond = Math.max(Math.ceil(durationS) - 1, ...this.seconds.keys());
    for (let t = 0; t <= lastSecond; t++) {
      const b = this.seconds.get(t) ?? newBucket(t);
      mergeBucket(all, b);
      const lat = summarize(b.latency);
      const con = summarize(b.connect);
      timeline.push({
        t,
        attempted: b.attempted,
        completed: b.completed,
        failed: b.failed,
        dropped: b.dropped,
        errors: { ...b.errors },
        latencyMs: { p50: lat.p50, p90: lat.p90, p99: lat.p99, max: lat.max },
        connectMs: { p50: con.p50, p99: con.p99 },
        connectionsOpened: b.connectionsOpened,
        sockets: null,
        counters: null,
      });
    }
    return {
      totals: {
        attempted: all.attempted,
        completed: all.completed,
        failed: all.failed,
        dropped: all.dropped,
        connectionsOpened: all.connectionsOpened,
      },
      errors: all.errors,
      errorsByPhase: all.errorsByPhase,
      latencyMs: summarize(all.latency),
      latencyUncorrectedMs: summarize(all.latencyUncorrected),
      connectMs: summarize(all.connect),
      ttfbMs: summarize(all.ttfb),
      histograms: {
        latency: encodeHistogram(all.latency),
        latencyUncorrected: encodeHistogram(all.latencyUncorrected),
        connect: encodeHistogram(all.connect),
        ttfb: encodeHistogram(all.ttfb),
      },
      timeline,
      errorSamples: [...this.samples].sort((a, b) => a.t - b.t),
    };
  }
}
