/**
 * Threshold expressions (`latency.p99 < 250`, `errors.EADDRNOTAVAIL == 0`): parsing, and
 * evaluation against a run record.
 */
import { UsageError } from '../errors.js';
import type { LatencySummary, RunRecord, ThresholdResult, Totals } from '../record/types.js';

/** A comparison operator of a threshold. */
export type ThresholdOp = '<' | '<=' | '>' | '>=' | '==' | '!=';

/** A threshold split into its parts. */
export interface ParsedThreshold {
  expr: string;
  metric: string;
  op: ThresholdOp;
  value: number;
}

/** The parts of a run record thresholds read. */
export type ThresholdRecord = Pick<
  RunRecord,
  'durationS' | 'totals' | 'errors' | 'latencyMs' | 'latencyUncorrectedMs' | 'connectMs' | 'ttfbMs'
>;

type Metric = (r: ThresholdRecord) => number | null;

const STATS = ['p50', 'p90', 'p99', 'p999', 'max', 'mean'] as const;
const TOTALS = ['attempted', 'completed', 'failed', 'dropped', 'connectionsOpened'] as const;
const SUMMARIES: Record<string, keyof ThresholdRecord> = {
  latency: 'latencyMs',
  latencyUncorrected: 'latencyUncorrectedMs',
  connect: 'connectMs',
  ttfb: 'ttfbMs',
};
const METRIC_FAMILIES =
  `errors.<CODE>, errors.total, errorRate, rate, ${Object.keys(SUMMARIES).map((f) => `${f}.<stat>`).join(', ')}, ` +
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
  const problem = resolveMetric(metric);
  if (typeof problem === 'string') throw fail(problem);
  return { expr, metric, op, value: Number(number) };
}

/**
 * Evaluates each expression on the record. A metric with no data (a latency summary with count 0,
 * `rate` over a zero-length run) has `actual: null` and fails.
 */
export function evaluateThresholds(record: ThresholdRecord, exprs: string[]): ThresholdResult[] {
  return exprs.map((expr) => {
    const t = parseThreshold(expr);
    const actual = (resolveMetric(t.metric) as Metric)(record);
    return { expr, actual, passed: actual !== null && COMPARE[t.op](actual, t.value) };
  });
}

/** The metric's reader, or what is wrong with its name. */
function resolveMetric(metric: string): Metric | string {
  if (metric === 'errorRate') {
    return (r) => {
      const done = r.totals.completed + r.totals.failed;
      return done === 0 ? 0 : r.totals.failed / done;
    };
  }
  if (metric === 'rate') return (r) => (r.durationS > 0 ? r.totals.completed / r.durationS : null);
  const dot = metric.indexOf('.');
  const family = dot < 0 ? metric : metric.slice(0, dot);
  const field = dot < 0 ? '' : metric.slice(dot + 1);
  if (family === 'errors' && field !== '') {
    if (field === 'total') return (r) => Object.values(r.errors).reduce((a, b) => a + b, 0);
    if (!/^[\w-]+$/.test(field)) return `expected an error code after errors., got ${JSON.stringify(field)}`;
    return (r) => r.errors[field] ?? 0;
  }
  if (family === 'totals' && field !== '') {
    if (!(TOTALS as readonly string[]).includes(field)) {
      return `unknown field ${JSON.stringify(field)} for totals (expected one of ${TOTALS.join(', ')})`;
    }
    return (r) => r.totals[field as keyof Totals];
  }
  const summary = SUMMARIES[family];
  if (summary && field !== '') {
    if (!(STATS as readonly string[]).includes(field)) {
      return `unknown statistic ${JSON.stringify(field)} for ${family} (expected one of ${STATS.join(', ')})`;
    }
    return (r) => {
      const s = r[summary] as LatencySummary;
      return s.count > 0 ? s[field as (typeof STATS)[number]] : null;
    };
  }
  return `unknown metric ${JSON.stringify(metric)} (expected ${METRIC_FAMILIES})`;
}
