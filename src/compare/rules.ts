/**
 * `--fail-if` rules of `compare`: `<metric> <op> <value>`, evaluated on each candidate against the
 * baseline. The value is a number (absolute: `latency.p99 > 250`) or a signed percentage (relative
 * to the baseline: `latency.p99 > +10%` holds when candidate > baseline × 1.10, `rate < -5%` when
 * candidate < baseline × 0.95).
 */
import { COMPARE, NUMBER_RE, type ThresholdOp } from '../vocab/threshold-grammar.js';
import { UsageError } from '../errors.js';
import type { CompareResult, FailIfResult, LatencyFigures, RunFigures } from './types.js';

/** A comparison operator. */
export type RuleOp = ThresholdOp;

/** A parsed rule. */
export interface FailIfRule {
  rule: string;
  metric: string;
  op: RuleOp;
  /** The number, or the signed percentage N of `+N%` / `-N%`. */
  value: number;
  /** True for a percentage relative to the baseline. */
  relative: boolean;
}

const STATS = ['p50', 'p90', 'p99', 'p999', 'max', 'mean'] as const;
const PORTS = ['peakUtilization', 'peakTimeWait', 'peakInUse'] as const;
const EXHAUSTION = ['firstAtS', 'earlyWarningAtS'] as const;
const PERCENT_RE = /^([-+])\s*(\d+(\.\d*)?|\.\d+)\s*%$/;

/** Every metric a rule can name. */
export const RULE_METRICS =
  `rate, errorRate, connectionRate, errors.<CODE>, errors.total, latency.<stat>, connect.<stat> (<stat>: ${STATS.join(', ')}), ` +
  `ports.<${PORTS.join('|')}>, exhaustion.<${EXHAUSTION.join('|')}>`;

type Reader = (f: RunFigures) => number | null;

/** The reader of a metric, or what is wrong with its name. */
function resolve(metric: string): Reader | string {
  if (metric === 'rate') return (f) => f.rate;
  if (metric === 'errorRate') return (f) => f.errorRate;
  if (metric === 'connectionRate') return (f) => f.connectionRate;
  const dot = metric.indexOf('.');
  const family = dot < 0 ? metric : metric.slice(0, dot);
  const field = dot < 0 ? '' : metric.slice(dot + 1);
  const oneOf = (list: readonly string[]) => `unknown field ${JSON.stringify(field)} for ${family} (expected one of ${list.join(', ')})`;
  if (family === 'errors' && field !== '') {
    if (field === 'total') return (f) => Object.values(f.errors).reduce((a, b) => a + b, 0);
    if (!/^[\w-]+$/.test(field)) return `expected an error code after errors., got ${JSON.stringify(field)}`;
    return (f) => f.errors[field] ?? 0;
  }
  if ((family === 'latency' || family === 'connect') && field !== '') {
    if (!(STATS as readonly string[]).includes(field)) return oneOf(STATS);
    return (f) => f[family]?.[field as keyof LatencyFigures] ?? null;
  }
  if (family === 'ports' && field !== '') {
    if (!(PORTS as readonly string[]).includes(field)) return oneOf(PORTS);
    return (f) => f.ports[field as (typeof PORTS)[number]];
  }
  if (family === 'exhaustion' && field !== '') {
    if (!(EXHAUSTION as readonly string[]).includes(field)) return oneOf(EXHAUSTION);
    return (f) => f.exhaustion[field as (typeof EXHAUSTION)[number]];
  }
  return `unknown metric ${JSON.stringify(metric)} (expected ${RULE_METRICS})`;
}

/** Parses a rule; throws `UsageError('--fail-if "<rule>": ...')` naming what is wrong. */
export function parseFailIf(rule: string): FailIfRule {
  const fail = (why: string) => new UsageError(`--fail-if ${JSON.stringify(rule)}: ${why}`);
  const m = /^(.*?)(<=|>=|==|!=|<|>)(.*)$/s.exec(rule);
  if (!m) throw fail('expected <metric> <op> <value> with <op> one of < <= > >= == !=, e.g. latency.p99 > +10% or errors.EADDRNOTAVAIL > 0');
  const metric = m[1]!.trim();
  const op = m[2] as RuleOp;
  const text = m[3]!.trim();
  if (metric === '') throw fail(`expected a metric before ${op}`);
  if (!/^[A-Za-z][\w.-]*$/.test(metric)) throw fail(`expected a metric name before ${op}, got ${JSON.stringify(metric)}`);
  const problem = resolve(metric);
  if (typeof problem === 'string') throw fail(problem);
  const pct = PERCENT_RE.exec(text);
  if (pct) return { rule, metric, op, value: Number(pct[1]! + pct[2]!), relative: true };
  if (/^\d*\.?\d+\s*%$/.test(text)) throw fail(`a percentage needs a sign: +${text.replace(/\s/g, '')} or -${text.replace(/\s/g, '')}`);
  if (!NUMBER_RE.test(text)) {
    const hint = 'a number or a signed percentage (e.g. 250, +10%, -5%)';
    throw fail(text === '' ? `expected ${hint} after ${op}` : `expected ${hint} after ${op}, got ${JSON.stringify(text)}`);
  }
  return { rule, metric, op, value: Number(text), relative: false };
}

/** The value of a rule's metric in a run's figures (null: no data). */
export function ruleMetric(f: RunFigures, metric: string): number | null {
  const reader = resolve(metric);
  if (typeof reader === 'string') throw new UsageError(`--fail-if: ${reader}`);
  return reader(f);
}

/** Evaluates one parsed rule for one candidate against the baseline's figures. */
export function evaluateRule(r: FailIfRule, baseline: RunFigures, candidate: RunFigures): Pick<FailIfResult, 'actual' | 'baseline' | 'limit' | 'holds'> {
  const actual = ruleMetric(candidate, r.metric);
  const base = ruleMetric(baseline, r.metric);
  const limit = r.relative ? (base === null ? null : base * (1 + r.value / 100)) : r.value;
  const holds = actual !== null && limit !== null && COMPARE[r.op](actual, limit);
  return { actual, baseline: base, limit, holds };
}

/**
 * Evaluates every rule on every candidate of `result`: one entry per (rule, candidate). All rules
 * are parsed first, so a malformed one throws before any is evaluated. A missing value (e.g. no
 * exhaustion, no port data) never makes a rule hold.
 */
export function evaluateFailIf(result: Pick<CompareResult, 'runs'>, rules: string[]): FailIfResult[] {
  const parsed = rules.map(parseFailIf);
  const [base, ...cands] = result.runs;
  if (!base) return [];
  return parsed.flatMap((r) =>
    cands.map((c) => ({
      rule: r.rule,
      metric: r.metric,
      candidate: { index: c.index, name: c.name, runId: c.runId, label: c.label },
      ...evaluateRule(r, base.figures, c.figures),
    })),
  );
}
