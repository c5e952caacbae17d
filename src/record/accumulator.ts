/**
 * The main thread's view of a run: merges bucket deltas from every worker per second, keeps live
 * totals for progress, and turns it all into the record's totals, summaries and timeline.
 */
import { mergeWire, newBucket, toWire, type Bucket, type WireBucket } from './bucket.js';
import { encodeHistogram, summarize } from './histogram.js';
import type { RunRecord, TimelineEntry, Totals } from './types.js';

/** A failure kept with its detail (the first of each code and syscall). */
export interface ErrorSampleRecord {
  code: string;
  phase: RunRecord['errorSamples'][number]['phase'];
  message: string;
  t: number;
  localPort: number | null;
  /** The failing syscall where the transport knew it. */
  syscall?: string | null;
}

/**
 * A bucket delta as a load worker ships it: the bucket, plus its failures by `syscall:CODE` and
 * the source strategy of the worker's transport (both absent where unknown).
 */
export interface LoadWireBucket extends WireBucket {
  errorsBySyscall?: Record<string, number>;
  sourceStrategy?: RunRecord['sourceStrategy'];
}

/** Strategies from the most to the least port budget: workers that disagree record the least. */
const STRATEGY_ORDER: ReadonlyArray<NonNullable<RunRecord['sourceStrategy']>> = ['kernel', 'bind-no-port', 'bind'];

/** Live figures for a progress line. */
export interface LiveStats {
  totals: Totals;
  errors: Record<string, number>;
  /** Completed per second in the last complete second. */
  rate: number;
  /** p99 latency (ms) of the last complete second. */
  p99Ms: number;
  /** Host TIME_WAIT and the port utilization toward the run's own destinations, when the monitor runs. */
  sockets?: { timeWait: number; utilization: number | null } | null;
  /** HTTPS runs: TLS handshakes completed, and their p99 (ms), in the last complete second. */
  tls?: { rate: number; p99Ms: number };
  /** Watched hosts (`--watch`), in the order given: whether their agent streams now, their busiest destination's port utilization, their TIME_WAIT. */
  hosts?: Array<{ name: string; up: boolean; utilization: number | null; timeWait: number | null }>;
}

/** The parts of the run record that come from the load's observations. */
export type LoadResults = Pick<
  RunRecord,
  | 'totals'
  | 'errors'
  | 'errorsByPhase'
  | 'errorsBySyscall'
  | 'sourceStrategy'
  | 'latencyMs'
  | 'latencyUncorrectedMs'
  | 'connectMs'
  | 'ttfbMs'
  | 'tlsMs'
  | 'dnsMs'
  | 'histograms'
  | 'timeline'
  | 'errorSamples'
>;

/**
 * Which optional phases a run has: `tls` (HTTPS: handshake figures), `dns` (`dns: per-connection`:
 * lookup figures). Their fields are in the record only when the run has the phase.
 */
export interface RunPhases {
  tls?: boolean;
  dns?: boolean;
}

const MAX_SAMPLES = 50;
/** How many seconds behind the newest one a second's bucket stays live (flat histograms). */
const LIVE_SECONDS = 3;

/**
 * Accumulates a run's buckets. Cheap to read repeatedly (a checkpoint reads it every few seconds):
 * the run-wide figures are merged as deltas arrive, and a second's timeline entry is computed
 * again only after a delta for that second arrived.
 */
export class RunAccumulator {
  /** Recent seconds, which still get deltas and are read at every checkpoint. */
  private readonly seconds = new Map<number, Bucket>();
  /**
   * Older seconds, encoded: a live bucket holds ~10 kB of histograms, its encoding a few hundred
   * bytes, so a long run's memory grows by its timeline entries only. A late delta revives one.
   */
  private readonly cold = new Map<number, WireBucket>();
  private newest = 0;
  private readonly samples: ErrorSampleRecord[] = [];
  /** Every delta of every second. */
  private readonly all = newBucket(0, 'flat');
  /** Timeline entries of seconds that got no delta since they were computed. */
  private readonly entries = new Map<number, TimelineEntry>();
  private readonly bySyscall: Record<string, number> = {};
  private strategy: RunRecord['sourceStrategy'];

  constructor(private readonly phases: RunPhases = {}) {}

  /** Adds bucket deltas from a worker. */
  add(deltas: LoadWireBucket[]): void {
    for (const w of deltas) {
      mergeWire([this.bucket(w.t), this.all], w);
      for (const [key, n] of Object.entries(w.errorsBySyscall ?? {})) this.bySyscall[key] = (this.bySyscall[key] ?? 0) + n;
      if (w.sourceStrategy && (this.strategy === undefined || STRATEGY_ORDER.indexOf(w.sourceStrategy) > STRATEGY_ORDER.indexOf(this.strategy))) {
        this.strategy = w.sourceStrategy;
      }
      this.entries.delete(w.t);
      this.newest = Math.max(this.newest, w.t);
    }
    for (const [t, b] of this.seconds) {
      if (t >= this.newest - LIVE_SECONDS) continue;
      this.entry(t);
      this.cold.set(t, toWire(b));
      this.seconds.delete(t);
    }
  }

  /** Second t's live bucket, made or revived from its encoding. */
  private bucket(t: number): Bucket {
    let b = this.seconds.get(t);
    if (!b) {
      b = newBucket(t, 'flat');
      const w = this.cold.get(t);
      if (w) mergeWire([b], w);
      this.cold.delete(t);
      this.seconds.set(t, b);
    }
    return b;
  }

  /**
   * Keeps an error sample: the first one of each code and syscall across all workers (capped), so
   * a bind() failure and a connect() failure with the same code both keep theirs.
   */
  addSample(s: ErrorSampleRecord): void {
    const syscall = s.syscall ?? null;
    if (this.samples.length >= MAX_SAMPLES || this.samples.some((x) => x.code === s.code && (x.syscall ?? null) === syscall)) return;
    this.samples.push({ ...s, syscall });
  }

  /**
   * Totals so far, and the figures of the last second that is complete here: workers ship every
   * `shipLagS` seconds, so that is the second before `nowS - shipLagS`.
   */
  live(nowS: number, shipLagS = 0.55): LiveStats {
    const last = this.seconds.get(Math.floor(nowS - shipLagS) - 1);
    return {
      totals: this.totals(),
      errors: { ...this.all.errors },
      rate: last?.completed ?? 0,
      p99Ms: last ? summarize(last.latency).p99 : 0,
      ...(this.phases.tls ? { tls: { rate: last?.tlsHandshakes ?? 0, p99Ms: last ? summarize(last.tls).p99 : 0 } } : {}),
    };
  }

  /** The record's load fields for a run that lasted `durationS` seconds. */
  results(durationS: number): LoadResults {
    const all = this.all;
    const timeline: TimelineEntry[] = [];
    const lastSecond = Math.max(Math.ceil(durationS) - 1, this.newest);
    for (let t = 0; t <= lastSecond; t++) {
      const e = this.entry(t);
      const entry: TimelineEntry = { ...e, errors: { ...e.errors }, latencyMs: { ...e.latencyMs }, connectMs: { ...e.connectMs } };
      if (e.tlsMs) entry.tlsMs = { ...e.tlsMs };
      if (e.dnsMs) entry.dnsMs = { ...e.dnsMs };
      timeline.push(entry);
    }
    const { tls, dns } = this.phases;
    return {
      totals: this.totals(),
      errors: { ...all.errors },
      errorsByPhase: { ...all.errorsByPhase },
      errorsBySyscall: { ...this.bySyscall },
      ...(this.strategy ? { sourceStrategy: this.strategy } : {}),
      latencyMs: summarize(all.latency),
      latencyUncorrectedMs: summarize(all.latencyUncorrected),
      connectMs: summarize(all.connect),
      ttfbMs: summarize(all.ttfb),
      ...(tls ? { tlsMs: summarize(all.tls) } : {}),
      ...(dns ? { dnsMs: summarize(all.dns) } : {}),
      histograms: {
        latency: encodeHistogram(all.latency),
        latencyUncorrected: encodeHistogram(all.latencyUncorrected),
        connect: encodeHistogram(all.connect),
        ttfb: encodeHistogram(all.ttfb),
        ...(tls ? { tls: encodeHistogram(all.tls) } : {}),
        ...(dns ? { dns: encodeHistogram(all.dns) } : {}),
      },
      timeline,
      errorSamples: [...this.samples].sort((a, b) => a.t - b.t),
    };
  }

  private totals(): Totals {
    const a = this.all;
    const totals: Totals = { attempted: a.attempted, completed: a.completed, failed: a.failed, dropped: a.dropped, connectionsOpened: a.connectionsOpened };
    if (this.phases.tls) Object.assign(totals, { tlsHandshakes: a.tlsHandshakes, tlsResumed: a.tlsResumed });
    if (this.phases.dns) totals.dnsLookups = a.dnsLookups;
    return totals;
  }

  /** Second t's timeline entry (socket fields null: the monitor fills them). */
  private entry(t: number): TimelineEntry {
    let e = this.entries.get(t);
    if (e) return e;
    const b = this.seconds.has(t) || this.cold.has(t) ? this.bucket(t) : newBucket(t);
    const lat = summarize(b.latency);
    const con = summarize(b.connect);
    e = {
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
    };
    if (this.phases.tls) {
      const tls = summarize(b.tls);
      Object.assign(e, { tlsHandshakes: b.tlsHandshakes, tlsMs: { p50: tls.p50, p99: tls.p99 } });
    }
    if (this.phases.dns) {
      const dns = summarize(b.dns);
      Object.assign(e, { dnsLookups: b.dnsLookups, dnsMs: { p50: dns.p50, p99: dns.p99 } });
    }
    this.entries.set(t, e);
    return e;
  }
}
