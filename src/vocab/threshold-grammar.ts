/**
 * The threshold grammar (`latency.p99 < 250`, `errors.EADDRNOTAVAIL == 0`, `tls.p99 < 20`,
 * `tlsResumedRate > 0.9`): operators, numbers and metric names, shared by scenario thresholds and compare's --fail-if rules. Parsing only; the
 * analysis evaluates parsed thresholds against a run record.
 */
import { UsageError } from '../errors.js';

/** A comparison operator of a threshold. */
export type ThresholdOp = '<' | '<=' | '>' | '>=' | '==' | '!=';

/** What a metric name reads. */
export type MetricRef =
  | { kind: 'errorRate' }
  | { kind: 'rate' }
  | { kind: 'tlsResumedRate' }
  | { kind: 'errors'; code: string | 'total' }
  | { kind: 'totals'; field: (typeof TOTALS)[number] }
  | { kind: 'summary'; family: (typeof SUMMARY_FAMILIES)[number]; stat: (typeof STATS)[number] };

/** A threshold split into its parts. */
export interface ParsedThreshold {
  expr: string;
  metric: string;
  ref: MetricRef;
  op: ThresholdOp;
  value: number;
}

/** Statistics of a latency summary. */
export const STATS = ['p50', 'p90', 'p99', 'p999', 'max', 'mean'] as const;
/** Fields of the run's totals. */
export const TOTALS = ['attempted', 'completed', 'failed', 'dropped', 'connectionsOpened', 'tlsHandshakes', 'tlsResumed', 'dnsLookups'] as const;
/**
 * Latency summaries by the family name thresholds use: `tls` is the handshake time of HTTPS runs,
 * `dns` the lookup time of `dns: per-connection` runs (no data in other runs: the threshold fails).
 */
export const SUMMARY_FAMILIES = ['latency', 'latencyUncorrected', 'connect', 'ttfb', 'tls', 'dns'] as const;

const METRIC_FAMILIES =
  `errors.<CODE>, errors.total, errorRate, rate, tlsResumedRate, ${SUMMARY_FAMILIES.map((f) => `${f}.<stat>`).join(', ')}, ` +
  `totals.<${TOTALS.join('|')}>; <stat> is one of ${STATS.join(', ')}`;

/** The comparison each operator stands for (thresholds and compare's --fail-if rules). */
export const COMPARE: Record<ThresholdOp, (a: number, b: number) => boolean> = {
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
};

/** A plain decimal number, optionally signed, with an exponent. */
export const NUMBER_RE = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;
const METRIC_RE = /^[A-Za-z][\w.-]*$/;

/** Parses `<metric> <op> <number>`; throws `UsageError('threshold "<expr>": ...')` when malformed. */
export function parseThreshold(expr: string): ParsedThreshold {
  const fail = (why: string) => new UsageError(`threshold ${JSON.stringify(expr)}: ${why}`);
  const m = /^(.*?)(<=|>=|==|!=|<|>)(.*)$/s.exec(expr);
  if (!m) throw fail('expected <metric> <op> <number> with <op> one of < <= > >= == !=, e.g. latency.p99 < 250');
  const metric = m[1]!.trim();
  const op = m[2] as ThresholdOp;
  const number = m[3]!.trim();
  if (metric === '') throw fail(`expected a metric before ${op}`);
  if (!METRIC_RE.test(metric)) throw fail(`expected a metric name before ${op}, got ${JSON.stringify(metric)}`);
  if (!NUMBER_RE.test(number)) {
    throw fail(number === '' ? `expected a number after ${op}` : `expected a number after ${op}, got ${JSON.stringify(number)}`);
  }
  const ref = resolveMetric(metric);
  if (typeof ref === 'string') throw fail(ref);
  return { expr, metric, ref, op, value: Number(number) };
}

/** What a metric name reads, or what is wrong with it. */
export function resolveMetric(metric: string): MetricRef | string {
  if (metric === 'errorRate') return { kind: 'errorRate' };
  if (metric === 'rate') return { kind: 'rate' };
  if (metric === 'tlsResumedRate') return { kind: 'tlsResumedRate' };
  const dot = metric.indexOf('.');
  const family = dot < 0 ? metric : metric.slice(0, dot);
  const field = dot < 0 ? '' : metric.slice(dot + 1);
  if (family === 'errors' && field !== '') {
    if (field === 'total') return { kind: 'errors', code: 'total' };
    if (!/^[\w-]+$/.test(field)) return `expected an error code after errors., got ${JSON.stringify(field)}`;
    return { kind: 'errors', code: field };
  }
  if (family === 'totals' && field !== '') {
    if (!(TOTALS as readonly string[]).includes(field)) {
      return `unknown field ${JSON.stringify(field)} for totals (expected one of ${TOTALS.join(', ')})`;
    }
    return { kind: 'totals', field: field as (typeof TOTALS)[number] };
  }
  if ((SUMMARY_FAMILIES as readonly string[]).includes(family) && field !== '') {
    if (!(STATS as readonly string[]).includes(field)) {
      return `unknown statistic ${JSON.stringify(field)} for ${family} (expected one of ${STATS.join(', ')})`;
    }
    return { kind: 'summary', family: family as (typeof SUMMARY_FAMILIES)[number], stat: field as (typeof STATS)[number] };
  }
  return `unknown metric ${JSON.stringify(metric)} (expected ${METRIC_FAMILIES})`;
}
