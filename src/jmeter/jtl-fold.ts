/**
 * JTL samples folded into the record's load figures, the way a run's buckets are: one bucket per
 * second (src/record/bucket.ts), merged by RunAccumulator into totals, histograms and the timeline.
 * `attempted` and new connections count in the second a sample started, completions and failures
 * in the second it ended. Memory stays flat: seconds far behind the newest are kept encoded.
 */
import { countFailure, mergeWire, newBucket, toWire, type Bucket, type WireBucket } from '../record/bucket.js';
import { RunAccumulator, type LoadResults } from '../record/accumulator.js';
import { recordMs, type Histogram } from '../record/histogram.js';
import { UsageError } from '../errors.js';
import { normaliseJmeterFailure } from './jtl-errors.js';
import type { JtlSample } from './jtl-sample.js';

/**
 * How far a sample may lag the newest ones. JMeter writes a sample when it ends, so start times
 * are out of order by up to the longest sample; a file sorted by start has its end times out of
 * order as much. A sample behind the newest by more than this in both is out of order.
 */
export const DISORDER_MS = 60_000;
/** Seconds behind the newest kept live (decoded). */
const LIVE_S = Math.ceil(DISORDER_MS / 1000) + 2;
/** Error samples kept: the first of each code, and of OTHER the first of each message, up to this many in all. */
const MAX_ERROR_SAMPLES = 50;
const MAX_OTHER_MESSAGES = 10;
/** Distinct URLs counted (a URL with a unique query string per request must not grow memory). */
const MAX_URLS = 1000;

/**
 * JMeter's times are whole milliseconds: below this many, a second counts them in arrays (one
 * increment a sample) and hands the counts to its histograms when it is encoded.
 */
const COUNTED_MS = 4096;

/** One second: its bucket, and the millisecond counts not yet in the bucket's histograms. */
interface Second {
  b: Bucket;
  elapsed: Uint32Array;
  ttfb: Uint32Array;
  connect: Uint32Array;
}

function newSecond(t: number): Second {
  return { b: newBucket(t, 'flat'), elapsed: new Uint32Array(COUNTED_MS), ttfb: new Uint32Array(COUNTED_MS), connect: new Uint32Array(COUNTED_MS) };
}

/** Records `ms` (whole, ≥ 0) as recordMs does: in the counts when small, else in `into` at once. */
function countMs(counts: Uint32Array, into: Histogram, ms: number): void {
  if (ms < COUNTED_MS) counts[ms]!++;
  else recordMs(into, ms);
}

function drain(counts: Uint32Array, into: Histogram[]): void {
  for (let ms = 0; ms < COUNTED_MS; ms++) {
    const n = counts[ms]!;
    if (n === 0) continue;
    for (const h of into) h.recordValueWithCount(Math.max(1, ms * 1000), n);
  }
}

/** The second as a wire bucket, its counts in its histograms. */
function sealed(s: Second): WireBucket {
  drain(s.elapsed, [s.b.latency, s.b.latencyUncorrected]);
  drain(s.ttfb, [s.b.ttfb]);
  drain(s.connect, [s.b.connect]);
  return toWire(s.b);
}

/** What a JTL holds, in record terms. */
export interface JtlFigures {
  results: LoadResults;
  /** Epoch ms of run second 0 (the earliest sample's start, to the whole second from the first row's). */
  startEpochMs: number;
  durationS: number;
  /** URLs by samples, busiest first (the query string left off). */
  urls: Array<{ url: string; samples: number }>;
  maxThreads: number;
  samples: number;
}

/** Folds samples as they come (`add`), then gives the figures (`result`). */
export class JtlFold {
  private origin: number | null = null;
  private readonly live = new Map<number, Second>();
  private readonly cold = new Map<number, WireBucket>();
  private maxStart = -Infinity;
  private maxEnd = -Infinity;
  private flushedBelow = -Infinity;
  private readonly urls = new Map<string, number>();
  private maxThreads = 0;
  private count = 0;
  private readonly errorSamples: Array<{ code: string; phase: LoadResults['errorSamples'][number]['phase']; message: string; atMs: number }> = [];

  /** `label` names the file in messages; `timestampIsStart` false for files saved with sampleresult.timestamp.start=false. */
  constructor(
    private readonly label: string,
    private readonly timestampIsStart = true,
  ) {}

  /** Adds one sample; one far out of time order is a UsageError naming its line. */
  add(s: JtlSample): void {
    const start = this.timestampIsStart ? s.ts : s.ts - s.elapsed;
    const end = start + s.elapsed;
    if (start < this.maxStart - DISORDER_MS && end < this.maxEnd - DISORDER_MS) {
      const behind = Math.round((this.maxStart - start) / 1000);
      throw new UsageError(`${this.label}:${s.line}: timestamps out of order: this sample starts ${behind} s before one already read, more than JMeter's own disorder (${DISORDER_MS / 1000} s beyond the samples' length); sort the file by timeStamp`);
    }
    const origin = (this.origin ??= start);
    this.count++;
    const startS = Math.floor((start - origin) / 1000);
    const endS = Math.floor((end - origin) / 1000);
    const first = this.second(startS);
    first.b.attempted++;
    if (s.connect > 0) {
      first.b.connectionsOpened++;
      countMs(first.connect, first.b.connect, s.connect);
    }
    const last = endS === startS ? first : this.second(endS);
    if (s.success) {
      last.b.completed++;
      if (s.elapsed < COUNTED_MS) last.elapsed[s.elapsed]!++;
      else {
        recordMs(last.b.latency, s.elapsed);
        recordMs(last.b.latencyUncorrected, s.elapsed);
      }
      countMs(last.ttfb, last.b.ttfb, s.latency > 0 ? s.latency : s.elapsed);
    } else {
      const f = normaliseJmeterFailure(s.responseCode, s.responseMessage, s.failureMessage, s.connect);
      countFailure(last.b, f.code, f.phase);
      this.keepSample(f.code, f.phase, f.message, end);
    }
    if (s.url !== null) this.countUrl(s.url);
    if (s.allThreads > this.maxThreads) this.maxThreads = s.allThreads;
    if (start > this.maxStart || end > this.maxEnd) {
      this.maxStart = Math.max(this.maxStart, start);
      this.maxEnd = Math.max(this.maxEnd, end);
      const below = Math.floor((Math.min(this.maxStart, this.maxEnd) - origin) / 1000) - LIVE_S;
      if (below > this.flushedBelow) this.flush(below);
    }
  }

  private second(t: number): Second {
    let s = this.live.get(t);
    if (s) return s;
    s = newSecond(t);
    const w = this.cold.get(t);
    if (w) {
      mergeWire([s.b], w);
      this.cold.delete(t);
    }
    this.live.set(t, s);
    return s;
  }

  private flush(below: number): void {
    this.flushedBelow = below;
    for (const [t, s] of this.live) {
      if (t >= below) continue;
      this.cold.set(t, sealed(s));
      this.live.delete(t);
    }
  }

  private countUrl(raw: string): void {
    const q = raw.indexOf('?');
    const url = q < 0 ? raw : raw.slice(0, q);
    const n = this.urls.get(url);
    if (n !== undefined) this.urls.set(url, n + 1);
    else if (this.urls.size < MAX_URLS && url !== '' && url !== 'null') this.urls.set(url, 1);
  }

  private keepSample(code: string, phase: LoadResults['errorSamples'][number]['phase'], message: string, atMs: number): void {
    const kept = this.errorSamples;
    if (kept.length >= MAX_ERROR_SAMPLES) return;
    if (code === 'OTHER') {
      if (kept.some((x) => x.code === code && x.message === message) || kept.filter((x) => x.code === code).length >= MAX_OTHER_MESSAGES) return;
    } else if (kept.some((x) => x.code === code)) return;
    kept.push({ code, phase, message, atMs });
  }

  /** Samples added so far. */
  get samples(): number {
    return this.count;
  }

  /** The figures; null when no sample was added. */
  result(): JtlFigures | null {
    if (this.origin === null) return null;
    const wires: WireBucket[] = [...this.cold.values(), ...[...this.live.values()].map(sealed)];
    const minS = Math.min(...wires.map((w) => w.t));
    const startEpochMs = this.origin + minS * 1000;
    for (const w of wires) w.t -= minS;
    wires.sort((a, b) => a.t - b.t);
    const durationS = Math.max(0, (this.maxEnd - startEpochMs) / 1000);
    const acc = new RunAccumulator();
    acc.add(wires);
    const results = acc.results(durationS);
    results.errorSamples = this.errorSamples
      .map((e) => ({ code: e.code, phase: e.phase, message: e.message, t: Math.max(0, Math.round(e.atMs - startEpochMs) / 1000), localPort: null, syscall: null }))
      .sort((a, b) => a.t - b.t);
    const urls = [...this.urls].map(([url, samples]) => ({ url, samples })).sort((a, b) => b.samples - a.samples);
    return { results, startEpochMs, durationS, urls, maxThreads: this.maxThreads, samples: this.count };
  }
}
