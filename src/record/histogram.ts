/** HDR histogram helpers. Values are recorded in microseconds and reported in milliseconds. */
import hdr from 'hdr-histogram-js';
import type { LatencySummary } from './types.js';

export type Histogram = hdr.Histogram;

/** A new auto-resizing packed histogram (3 significant digits). */
export function newHistogram(): Histogram {
  return hdr.build({ bitBucketSize: 'packed', numberOfSignificantValueDigits: 3, autoResize: true });
}

/** Records a duration given in milliseconds. */
export function recordMs(h: Histogram, ms: number): void {
  h.recordValue(Math.max(1, Math.round(ms * 1000)));
}

/** Encodes a histogram to compressed base64 (the HdrHistogram interchange format). */
export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/** Decodes a histogram written by `encodeHistogram`. */
export function decodeHistogram(encoded: string): Histogram {
  return hdr.decodeFromCompressedBase64(encoded, 'packed');
}

const round3 = (us: number): number => Math.round(us) / 1000;

/** Percentiles and mean of a histogram, in milliseconds. */
export function summarize(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0, count: 0 };
  return {
    p50: round3(h.getValueAtPercentile(50)),
    p90: round3(h.getValueAtPercentile(90)),
    p99: round3(h.getValueAtPercentile(99)),
    p999: round3(h.getValueAtPercentile(99.9)),
    max: round3(h.maxValue),
    mean: round3(h.mean),
    count: h.totalCount,
  };
}
