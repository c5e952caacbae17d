/** Threshold evaluation: parsed threshold expressions (vocab/threshold-grammar) read against a run record. */
import type { LatencySummary, RunRecord, ThresholdResult } from '../record/types.js';
import { COMPARE, type MetricRef, parseThreshold } from '../vocab/threshold-grammar.js';

/** The parts of a run record thresholds read. */
export type ThresholdRecord = Pick<
  RunRecord,
  'durationS' | 'totals' | 'errors' | 'latencyMs' | 'latencyUncorrectedMs' | 'connectMs' | 'ttfbMs' | 'tlsMs' | 'dnsMs'
>;

const SUMMARIES = {
  latency: 'latencyMs',
  latencyUncorrected: 'latencyUncorrectedMs',
  connect: 'connectMs',
  ttfb: 'ttfbMs',
  tls: 'tlsMs',
  dns: 'dnsMs',
} as const;

/** The metric's value on the record; null when it has no data. */
export function readMetric(r: ThresholdRecord, ref: MetricRef): number | null {
  switch (ref.kind) {
    case 'errorRate': {
      const done = r.totals.completed + r.totals.failed;
      return done === 0 ? 0 : r.totals.failed / done;
    }
    case 'rate':
      return r.durationS > 0 ? r.totals.completed / r.durationS : null;
    case 'errors':
      return ref.code === 'total' ? Object.values(r.errors).reduce((a, b) => a + b, 0) : (r.errors[ref.code] ?? 0);
    case 'totals':
      return r.totals[ref.field] ?? null;
    case 'tlsResumedRate': {
      const n = r.totals.tlsHandshakes ?? 0;
      return n > 0 ? (r.totals.tlsResumed ?? 0) / n : null;
    }
    case 'summary': {
      const s = r[SUMMARIES[ref.family]] as LatencySummary | undefined;
      return s && s.count > 0 ? s[ref.stat] : null;
    }
  }
}

/**
 * Evaluates each expression on the record. A metric with no data (a latency summary with count 0
 * or absent, as `tls.*` in a plain HTTP run; `rate` over a zero-length run; `totals.tlsHandshakes`
 * or `tlsResumedRate` without handshakes) has `actual: null` and fails.
 */
export function evaluateThresholds(record: ThresholdRecord, exprs: string[]): ThresholdResult[] {
  return exprs.map((expr) => {
    const t = parseThreshold(expr);
    const actual = readMetric(record, t.ref);
    return { expr, actual, passed: actual !== null && COMPARE[t.op](actual, t.value) };
  });
}
