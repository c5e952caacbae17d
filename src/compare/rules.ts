/**
 * `--fail-if` rules of `compare`: `<metric> <op> <value>`, evaluated on each candidate against the
 * baseline. The value is a number (absolute: `latency.p99 > 250`) or a signed percentage (relative
 * to the baseline: `latency.p99 > +10%` holds when candidate > baseline × 1.10, `rate < -5%` when
 * candidate < baseline × 0.95).
 *
 * A latency rule (`latency.<stat>`, `connect.<stat>`, `tls.<stat>`, `dns.<stat>`) is not applied when the two runs' figures
 * describe very different shares of their attempts (e.g. p99 of the 28 % that succeeded before ports
 * ran out, against p99 of all): it then never holds, and says why. Ending the rule in `any-coverage`
 * (`latency.p99 > +10% any-coverage`) applies it anyway.
 */
import { COMPARE, NUMBER_RE, TOTALS, type ThresholdOp } from '../vocab/threshold-grammar.js';
import { UsageError } from '../errors.js';
import { COVERAGE_TOLERANCE, COVERAGE_WHAT } from './compare.js';
import { pct } from '../vocab/format.js';
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
  /** True when the rule ends in `any-coverage`: a latency rule applies even when the runs' latency
   * figures cover very different shares of their attempts. */
  anyCoverage: boolean;
}

/** The suffix that applies a latency rule whatever the runs' coverage. */
export const ANY_COVERAGE = 'any-coverage';
const ANY_COVERAGE_RE = /\s+any-coverage\s*$/;

const STATS = ['p50', 'p90', 'p99', 'p999', 'max', 'mean'] as const;
const PORTS = ['peakUtilization', 'peakTimeWait', 'peakInUse'] as const;
const EXHAUSTION = ['firstAtS', 'earlyWarningAtS'] as const;
const PERCENT_RE = /^([-+])\s*(\d+(\.\d*)?|\.\d+)\s*%$/;

/** Latency families a rule can name: the request, the TCP connect, the TLS handshake, the lookup. */
const LATENCY_FAMILIES = ['latency', 'connect', 'tls', 'dns'] as const;
type LatencyFamily = (typeof LATENCY_FAMILIES)[number];

/** Every metric a rule can name. */
export const RULE_METRICS =
  `rate, errorRate, connectionRate, handshakeRate, tlsResumedRate, errors.<CODE>, errors.total, ` +
  `${LATENCY_FAMILIES.map((f) => `${f}.<stat>`).join(', ')} (<stat>: ${STATS.join(', ')}), ` +
  `totals.<${TOTALS.join('|')}>, ports.<${PORTS.join('|')}>, exhaustion.<${EXHAUSTION.join('|')}>`;

type Reader = (f: RunFigures) => number | null;

/** The reader of a metric, or what is wrong with its name. */
function resolve(metric: string): Reader | string {
  if (metric === 'rate') return (f) => f.rate;
  if (metric === 'errorRate') return (f) => f.errorRate;
  if (metric === 'connectionRate') return (f) => f.connectionRate;
  if (metric === 'handshakeRate') return (f) => f.handshakeRate ?? null;
  if (metric === 'tlsResumedRate') return (f) => f.tlsResumedRate ?? null;
  const dot = metric.indexOf('.');
  const family = dot < 0 ? metric : metric.slice(0, dot);
  const field = dot < 0 ? '' : metric.slice(dot + 1);
  const oneOf = (list: readonly string[]) => `unknown field ${JSON.stringify(field)} for ${family} (expected one of ${list.join(', ')})`;
  if (family === 'errors' && field !== '') {
    if (field === 'total') return (f) => Object.values(f.errors).reduce((a, b) => a + b, 0);
    if (!/^[\w-]+$/.test(field)) return `expected an error code after errors., got ${JSON.stringify(field)}`;
    return (f) => f.errors[field] ?? 0;
  }
  if ((LATENCY_FAMILIES as readonly string[]).includes(family) && field !== '') {
    if (!(STATS as readonly string[]).includes(field)) return oneOf(STATS);
    return (f) => f[family as LatencyFamily]?.[field as keyof LatencyFigures] ?? null;
  }
  if (family === 'totals' && field !== '') {
    if (!(TOTALS as readonly string[]).includes(field)) return oneOf(TOTALS);
    return (f) => f.totals[field as (typeof TOTALS)[number]] ?? null;
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
  const anyCoverage = ANY_COVERAGE_RE.test(rule);
  const body = anyCoverage ? rule.replace(ANY_COVERAGE_RE, '') : rule;
  const m = /^(.*?)(<=|>=|==|!=|<|>)(.*)$/s.exec(body);
  if (!m) throw fail('expected <metric> <op> <value> with <op> one of < <= > >= == !=, e.g. latency.p99 > +10% or errors.EADDRNOTAVAIL > 0');
  const metric = m[1]!.trim();
  const op = m[2] as RuleOp;
  const text = m[3]!.trim();
  if (metric === '') throw fail(`expected a metric before ${op}`);
  if (!/^[A-Za-z][\w.-]*$/.test(metric)) throw fail(`expected a metric name before ${op}, got ${JSON.stringify(metric)}`);
  const problem = resolve(metric);
  if (typeof problem === 'string') throw fail(problem);
  if (anyCoverage && !coverageOf(metric)) throw fail(`${ANY_COVERAGE} applies to latency.<stat>, connect.<stat>, tls.<stat> and dns.<stat> rules only`);
  const pctMatch = PERCENT_RE.exec(text);
  if (pctMatch) return { rule, metric, op, value: Number(pctMatch[1]! + pctMatch[2]!), relative: true, anyCoverage };
  if (/^\d*\.?\d+\s*%$/.test(text)) throw fail(`a percentage needs a sign: +${text.replace(/\s/g, '')} or -${text.replace(/\s/g, '')}`);
  if (!NUMBER_RE.test(text)) {
    const hint = 'a number or a signed percentage (e.g. 250, +10%, -5%)';
    throw fail(text === '' ? `expected ${hint} after ${op}` : `expected ${hint} after ${op}, got ${JSON.stringify(text)}`);
  }
  return { rule, metric, op, value: Number(text), relative: false, anyCoverage };
}

/** Which coverage a metric's figure has (latency rules), or null. */
function coverageOf(metric: string): LatencyFamily | null {
  return LATENCY_FAMILIES.find((f) => metric.startsWith(`${f}.`)) ?? null;
}

/**
 * Why a latency rule is not applied to this pair: its figures cover shares of the attempts more than
 * COVERAGE_TOLERANCE apart. Null when the rule applies (other metrics, `any-coverage`, unknown
 * coverage).
 */
export function coverageSkip(r: FailIfRule, baseline: RunFigures, candidate: RunFigures): string | null {
  const which = coverageOf(r.metric);
  if (!which || r.anyCoverage) return null;
  const b = baseline.coverage?.[which] ?? null;
  const c = candidate.coverage?.[which] ?? null;
  if (b === null || c === null || Math.abs(b - c) <= COVERAGE_TOLERANCE) return null;
  const stat = r.metric.slice(r.metric.indexOf('.') + 1).replace('p999', 'p99.9');
  const what = COVERAGE_WHAT[which] ?? 'attempts';
  return `not applied: ${stat} of ${pct(b)} of ${what} → of ${pct(c)}, different populations (end the rule in ${ANY_COVERAGE} to apply it anyway)`;
}

/** The value of a rule's metric in a run's figures (null: no data). */
export function ruleMetric(f: RunFigures, metric: string): number | null {
  const reader = resolve(metric);
  if (typeof reader === 'string') throw new UsageError(`--fail-if: ${reader}`);
  return reader(f);
}

/** Evaluates one parsed rule for one candidate against the baseline's figures. */
export function evaluateRule(
  r: FailIfRule,
  baseline: RunFigures,
  candidate: RunFigures,
): Pick<FailIfResult, 'actual' | 'baseline' | 'limit' | 'holds' | 'skipped'> {
  const actual = ruleMetric(candidate, r.metric);
  const base = ruleMetric(baseline, r.metric);
  const limit = r.relative ? (base === null ? null : base * (1 + r.value / 100)) : r.value;
  const skipped = coverageSkip(r, baseline, candidate);
  const holds = skipped === null && actual !== null && limit !== null && COMPARE[r.op](actual, limit);
  return { actual, baseline: base, limit, holds, skipped };
}

/**
 * Evaluates every rule on every candidate of `result`: one entry per (rule, candidate). All rules
 * are parsed first, so a malformed one throws before any is evaluated. A missing value (e.g. no
 * exhaustion, no port data) never makes a rule hold, nor does a latency rule over different
 * populations without `any-coverage` (its `skipped` says why).
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
