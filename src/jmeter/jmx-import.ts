/**
 * A JMeter test plan as a portstorm scenario (input form), keeping JMeter's scoping: config
 * elements and timers apply to the samplers at their level and below. Each thread group sends its
 * first HTTP sampler; what has no portstorm equivalent is noted, one note per element.
 */
import { UsageError } from '../errors.js';
import { importHttpSampler, type ImportedRequest } from './jmx-http.js';
import { importThreadGroup, isThreadGroup, THREAD_GROUPS, type ImportedGroup, type ThinkTime } from './jmx-load.js';
import { NoteBook, type ImportNote } from './jmx-notes.js';
import { prop, text, type JmxElement, type JmxPlan, type JmxProp } from './jmx-tree.js';
import { resolveValue } from './jmx-values.js';

/** What an import yields. */
export interface ImportResult {
  /** The scenario as a scenario file holds it (validate with parseScenario). */
  scenario: Record<string, unknown>;
  notes: ImportNote[];
  /** Names of the thread groups imported, in order. */
  imported: string[];
}

const LISTENERS = /^(ResultCollector|Summariser|BackendListener|ResultSaver|JSR223Listener|BeanShellListener|MailerResultCollector|kg\.apc\.jmeter\.listener\..*|kg\.apc\.jmeter\.vizualizers\..*)$/;
const TIMERS: Record<string, string> = {
  GaussianRandomTimer: 'a Gaussian random timer is not imported (portstorm adds a uniform random part only)',
  PoissonRandomTimer: 'a Poisson random timer is not imported (portstorm adds a uniform random part only)',
  ConstantThroughputTimer: 'throughput timers are not imported: pace with an arrival-rate group instead',
  'kg.apc.jmeter.timers.VariableThroughputTimer': 'throughput timers are not imported: pace with an arrival-rate group instead',
  PreciseThroughputTimer: 'throughput timers are not imported: pace with an arrival-rate group instead',
  SyncTimer: 'a synchronizing timer is not imported',
};

/** Why an element of no use to the import is not imported. */
function whyNot(el: JmxElement): [string, ImportNote['kind']] {
  const t = el.tag;
  if (LISTENERS.test(t)) return ['not needed: portstorm records every request itself', 'not-needed'];
  if (t === 'WorkBench') return ['not needed', 'not-needed'];
  if (/Controller$|^InterleaveControl$|^RunTime$|^IncludeController$/.test(t)) return ['controllers are not imported: the request runs in the thread group\'s own loop, once per iteration', 'unmapped'];
  if (/Extractor$|PostProcessor$|^RegexExtractor$/.test(t) && !/^JSR223|^BeanShell/.test(t)) return ['responses are not inspected (no extractors)', 'unmapped'];
  if (/Assertion$/.test(t)) return ['responses are not checked (status codes and transport errors are counted)', 'unmapped'];
  if (t === 'CSVDataSet') return ['no data sets: every request is the same', 'unmapped'];
  if (/^JSR223|^BeanShell/.test(t)) return ['scripts are not run', 'unmapped'];
  if (t === 'CookieManager') return ['cookies are not kept between requests', 'unmapped'];
  if (t === 'CacheManager') return ['no HTTP cache: every request goes to the server', 'unmapped'];
  if (t === 'AuthManager') return ['authorization is not imported (set an Authorization header)', 'unmapped'];
  if (t === 'DNSCacheManager') return ['DNS settings are not imported (see the scenario\'s dns:)', 'unmapped'];
  if (TIMERS[t]) return [TIMERS[t], 'unmapped'];
  if (/Sampler|TestAction/.test(t)) return ['not an HTTP sampler', 'unmapped'];
  return ['portstorm has no equivalent', 'unmapped'];
}

const isHttpSampler = (el: JmxElement): boolean => el.tag === 'HTTPSamplerProxy' || el.tag === 'HTTPSampler' || el.tag === 'HTTPSampler2';
const isHttpDefaults = (el: JmxElement): boolean => el.tag === 'ConfigTestElement' && (el.props.some((p) => p.name.startsWith('HTTPSampler.')) || /HttpDefaults/.test(el.testclass + el.testname));
const isTimer = (el: JmxElement): boolean => el.tag === 'ConstantTimer' || el.tag === 'UniformRandomTimer';

/** The elements in scope at one level: siblings of the path to the sampler (and the sampler's children). */
interface Scope {
  defaults: JmxElement[];
  headers: JmxElement[];
  timers: JmxElement[];
}

const scopeOf = (level: JmxElement[]): Scope => ({
  defaults: level.filter((e) => e.enabled && isHttpDefaults(e)),
  headers: level.filter((e) => e.enabled && e.tag === 'HeaderManager'),
  timers: level.filter((e) => e.enabled && isTimer(e)),
});

/** The path (ancestors, outermost first) to the first enabled HTTP sampler under `level`, depth first. */
function firstSampler(level: JmxElement[], path: JmxElement[][] = []): { sampler: JmxElement; levels: JmxElement[][] } | null {
  for (const el of level) {
    if (!el.enabled) continue;
    if (isHttpSampler(el)) return { sampler: el, levels: [...path, level] };
    const inner = firstSampler(el.children, [...path, level]);
    if (inner) return inner;
  }
  return null;
}

function thinkTime(timers: JmxElement[], book: NoteBook): ThinkTime {
  let constantMs = 0;
  let randomMs = 0;
  for (const t of timers) {
    constantMs += Math.max(0, book.number(t, 'ConstantTimer.delay', text(t, 'ConstantTimer.delay'), 0));
    if (t.tag === 'UniformRandomTimer') randomMs += Math.max(0, book.number(t, 'RandomTimer.range', text(t, 'RandomTimer.range'), 0));
  }
  return { constantMs, randomMs };
}

/** User Defined Variables: the TestPlan's own and every enabled Arguments element, in document order. */
function collectVariables(plan: JmxElement[], book: NoteBook, vars: Map<string, string>): void {
  const addArgs = (owner: JmxElement, args: JmxProp | undefined): void => {
    for (const a of args?.items ?? []) {
      const name = text(a, 'Argument.name') ?? a.name;
      const raw = text(a, 'Argument.value') ?? '';
      const r = resolveValue(raw, book.ctx);
      if (r.unresolved.length === 0) vars.set(name, r.value);
      else book.add(owner, `variable ${name} = ${raw} is not constant: left unresolved where used`);
    }
  };
  const walk = (level: JmxElement[]): void => {
    for (const el of level) {
      if (!el.enabled) continue;
      if (el.tag === 'TestPlan') addArgs(el, prop(prop(el, 'TestPlan.user_defined_variables') ?? {}, 'Arguments.arguments'));
      if (el.tag === 'Arguments') addArgs(el, prop(el, 'Arguments.arguments'));
      walk(el.children);
    }
  };
  walk(plan);
}

/** Notes every element under `level` the import did not use (`used`), listeners and disabled ones as not needed. */
function noteRest(level: JmxElement[], used: Set<JmxElement>, book: NoteBook): void {
  for (const el of level) {
    if (used.has(el) || el.tag === 'Arguments') {
      noteRest(el.children, used, book);
      continue;
    }
    if (!el.enabled) {
      book.add(el, 'disabled', 'not-needed');
      continue;
    }
    if (isHttpSampler(el)) book.add(el, 'only the first HTTP sampler of a thread group is imported (a scenario sends one request)');
    else if (isTimer(el) || isHttpDefaults(el) || el.tag === 'HeaderManager') book.add(el, 'applies to samplers that are not imported');
    else {
      const [reason, kind] = whyNot(el);
      book.add(el, reason, kind);
    }
    noteRest(el.children, used, book);
  }
}

const sameRequest = (a: ImportedRequest, b: ImportedRequest): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * Imports `plan`. `props` are JMeter properties (`-Jname=value`). Throws a UsageError when no thread
 * group has an HTTP sampler to import.
 */
export function importPlan(plan: JmxPlan, file: string, props: ReadonlyMap<string, string>): ImportResult {
  const vars = new Map<string, string>();
  const book = new NoteBook({ props, vars });
  collectVariables(plan.elements, book, vars);
  const testPlan = plan.elements.find((e) => e.tag === 'TestPlan');
  const top = testPlan ? testPlan.children : plan.elements;
  const used = new Set<JmxElement>(testPlan ? [testPlan] : []);
  const planScope = scopeOf(top);

  let request: ImportedRequest | null = null;
  const load: ImportedGroup[] = [];
  const imported: string[] = [];
  for (const tg of top.filter(isThreadGroup)) {
    if (!tg.enabled) continue;
    used.add(tg);
    if (!(tg.tag in THREAD_GROUPS)) {
      book.add(tg, tg.tag === 'SetupThreadGroup' || tg.tag === 'PostThreadGroup' ? 'setUp and tearDown thread groups are not imported' : 'this kind of thread group is not imported');
      continue;
    }
    const found = firstSampler(tg.children);
    if (!found) {
      book.add(tg, 'no HTTP sampler in this thread group');
      continue;
    }
    const scopes = [...found.levels.map(scopeOf), scopeOf(found.sampler.children)].reverse();
    const inScope = (k: keyof Scope): JmxElement[] => [...scopes.flatMap((s) => s[k]), ...planScope[k]];
    const mark = new Set<JmxElement>([found.sampler, ...inScope('defaults'), ...inScope('headers'), ...inScope('timers')]);
    const req = importHttpSampler(found.sampler, inScope('defaults'), inScope('headers'), book);
    const model = THREAD_GROUPS[tg.tag as keyof typeof THREAD_GROUPS];
    let think: ThinkTime = { constantMs: 0, randomMs: 0 };
    if (model === 'users') think = thinkTime(inScope('timers'), book);
    else for (const t of inScope('timers')) book.add(t, 'timers do not apply to an arrival-rate group (arrivals do not wait for each other)');
    if (request !== null && !sameRequest(request, req)) {
      book.add(tg, `its request (${req.request.method} ${req.target === 'builtin' ? '' : req.target}${req.request.path}) differs from the first thread group's: a scenario sends one request`);
      continue;
    }
    const group = importThreadGroup(tg, book, think);
    for (const el of mark) used.add(el);
    noteRest(tg.children, used, book);
    if (group === null) continue;
    request ??= req;
    load.push(group);
    imported.push(tg.testname);
  }
  for (const el of [...planScope.defaults, ...planScope.headers, ...planScope.timers]) used.add(el);
  noteRest(top.filter((e) => !isThreadGroup(e) || !e.enabled), used, book);

  if (request === null || load.length === 0) throw new NoteFailure(`${file}: no HTTP sampler to import`, book.notes);

  const totalUsers = load.reduce((sum, g) => sum + (g.model === 'users' ? (g.users as number) : 0), 0);
  const connection: Record<string, unknown> = { ...request.connection };
  // JMeter keeps one connection per thread.
  if (request.connection.reuse && totalUsers > 0) connection.poolSize = totalUsers;
  const name = (testPlan?.testname ?? '').trim() || 'jmeter-plan';
  const scenario: Record<string, unknown> = {
    name,
    target: request.target,
    request: request.request,
    connection,
    ...(Object.keys(request.timeouts).length > 0 ? { timeouts: request.timeouts } : {}),
    load,
  };
  return { scenario, notes: book.notes, imported };
}

/** A failed import that still has notes to show (why nothing could be imported). */
export class NoteFailure extends UsageError {
  constructor(
    message: string,
    readonly notes: ImportNote[],
  ) {
    super(message);
  }
}
