/** The shards' HDR histograms added exactly: decoded, summed count by count, encoded again. */
import { decodeHistogram, encodeHistogram, newFlatHistogram, summarize, type Histogram } from '../record/histogram.js';
import type { LatencySummary, RunRecord } from '../record/types.js';

const NAMES = ['latency', 'latencyUncorrected', 'connect', 'ttfb', 'tls', 'dns'] as const;
type Name = (typeof NAMES)[number];

/** The merged histograms and the summaries recomputed from them. */
export interface MergedHistograms {
  histograms: RunRecord['histograms'];
  latencyMs: LatencySummary;
  latencyUncorrectedMs: LatencySummary;
  connectMs: LatencySummary;
  ttfbMs: LatencySummary;
  tlsMs?: LatencySummary;
  dnsMs?: LatencySummary;
}

/** Adds the histograms of one shard after another; `tls` and `dns` only when some shard has them. */
export class HistogramFold {
  private readonly sums = new Map<Name, Histogram>();

  /** Adds `r`'s histograms (an empty string is an empty histogram). */
  add(r: RunRecord): void {
    for (const name of NAMES) {
      const enc = r.histograms[name];
      if (enc === undefined) continue;
      let sum = this.sums.get(name);
      if (!sum) this.sums.set(name, (sum = newFlatHistogram()));
      if (enc !== '') sum.add(decodeHistogram(enc, 'flat'));
    }
  }

  /** The sums, encoded, and their summaries. */
  result(): MergedHistograms {
    const h = (name: Name) => this.sums.get(name) ?? newFlatHistogram();
    const out: MergedHistograms = {
      histograms: { latency: encodeHistogram(h('latency')), latencyUncorrected: encodeHistogram(h('latencyUncorrected')), connect: encodeHistogram(h('connect')), ttfb: encodeHistogram(h('ttfb')) },
      latencyMs: summarize(h('latency')),
      latencyUncorrectedMs: summarize(h('latencyUncorrected')),
      connectMs: summarize(h('connect')),
      ttfbMs: summarize(h('ttfb')),
    };
    for (const name of ['tls', 'dns'] as const) {
      const sum = this.sums.get(name);
      if (!sum) continue;
      out.histograms[name] = encodeHistogram(sum);
      out[name === 'tls' ? 'tlsMs' : 'dnsMs'] = summarize(sum);
    }
    return out;
  }
}
