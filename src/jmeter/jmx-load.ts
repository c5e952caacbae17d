/**
 * JMeter thread groups as portstorm load groups (scenario input form): ThreadGroup and the bzm
 * Concurrency Thread Group as `users`; the bzm Arrivals and Free-Form Arrivals Thread Groups as
 * `arrival-rate` (with `stages` when stepped or piecewise).
 */
import type { NoteBook } from './jmx-notes.js';
import { prop, text, type JmxElement } from './jmx-tree.js';

/** A load group as written in a scenario file. */
export type ImportedGroup = Record<string, unknown> & { model: 'users' | 'arrival-rate' };

/** What a ThreadGroup that loops forever without a scheduler is given instead of running until stopped. */
export const FOREVER_DURATION = '5m';

const BZM = 'com.blazemeter.jmeter.threads.';
/** Thread group classes the import maps, by tag. */
export const THREAD_GROUPS = {
  ThreadGroup: 'users',
  [`${BZM}concurrency.ConcurrencyThreadGroup`]: 'users',
  [`${BZM}arrivals.ArrivalsThreadGroup`]: 'arrival-rate',
  [`${BZM}arrivals.FreeFormArrivalsThreadGroup`]: 'arrival-rate',
} as const satisfies Record<string, 'users' | 'arrival-rate'>;

/** True for an element that is a thread group of any kind (mapped or not). */
export function isThreadGroup(el: JmxElement): boolean {
  return el.tag in THREAD_GROUPS || /ThreadGroup$/.test(el.tag) || el.tag === 'SetupThreadGroup' || el.tag === 'PostThreadGroup';
}

const seconds = (s: number): string => `${Number(s.toFixed(3))}s`;
const ms = (n: number): string => `${Number(n.toFixed(3))}ms`;
const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;

/** Think time from the timers in a sampler's scope, as group fields. */
export interface ThinkTime {
  constantMs: number;
  randomMs: number;
}

function users(el: JmxElement, book: NoteBook, think: ThinkTime): ImportedGroup | null {
  const n = Math.round(book.number(el, 'ThreadGroup.num_threads', text(el, 'ThreadGroup.num_threads'), 1));
  if (n < 1) {
    book.add(el, `${n} threads: the thread group starts nobody`);
    return null;
  }
  const rampUp = Math.max(0, book.number(el, 'ThreadGroup.ramp_time', text(el, 'ThreadGroup.ramp_time'), 0));
  const loop = prop(el, 'ThreadGroup.main_controller') ?? { items: [] };
  const loops = Math.round(book.number(el, 'LoopController.loops', text(loop, 'LoopController.loops'), 1));
  const forever = loops < 0 || (text(loop, 'LoopController.continue_forever') === 'true' && text(loop, 'LoopController.loops') === undefined);
  const scheduler = text(el, 'ThreadGroup.scheduler') === 'true';
  const duration = scheduler ? book.number(el, 'ThreadGroup.duration', text(el, 'ThreadGroup.duration'), 0) : 0;
  const delay = scheduler ? Math.max(0, book.number(el, 'ThreadGroup.delay', text(el, 'ThreadGroup.delay'), 0)) : 0;
  const onError = text(el, 'ThreadGroup.on_sample_error') ?? 'continue';
  if (onError !== 'continue') book.add(el, `ThreadGroup.on_sample_error=${onError}: users carry on after an error`);
  const g: ImportedGroup = { model: 'users', users: n };
  if (rampUp > 0) g.rampUp = seconds(rampUp);
  if (duration > 0) g.duration = seconds(duration);
  if (!forever) g.iterations = Math.max(1, loops);
  if (forever && duration <= 0) {
    book.add(el, `loops forever without a scheduler duration: written as duration ${FOREVER_DURATION}`);
    g.duration = FOREVER_DURATION;
  }
  addThink(g, think);
  if (delay > 0) g.startAfter = seconds(delay);
  return g;
}

function addThink(g: ImportedGroup, think: ThinkTime): void {
  if (think.constantMs > 0) g.thinkTime = ms(think.constantMs);
  if (think.randomMs > 0) g.thinkTimeRandom = ms(think.randomMs);
}

/** The bzm groups' time unit in seconds (`Unit` S or M). */
const unitOf = (el: JmxElement): number => ((text(el, 'Unit') ?? 'S').trim().toUpperCase() === 'M' ? 60 : 1);

function concurrency(el: JmxElement, book: NoteBook, think: ThinkTime): ImportedGroup | null {
  const unit = unitOf(el);
  const target = Math.round(book.number(el, 'TargetLevel', text(el, 'TargetLevel'), 1));
  const rampUp = Math.max(0, book.number(el, 'RampUp', text(el, 'RampUp'), 0)) * unit;
  const hold = Math.max(0, book.number(el, 'Hold', text(el, 'Hold'), 1)) * unit;
  const steps = Math.round(book.number(el, 'Steps', text(el, 'Steps'), 0));
  const iterations = Math.round(book.number(el, 'Iterations', text(el, 'Iterations'), 0));
  if (target < 1) {
    book.add(el, `target concurrency ${target}: the thread group starts nobody`);
    return null;
  }
  if (rampUp + hold <= 0) {
    book.add(el, 'ramp-up and hold are both 0: the thread group runs for no time');
    return null;
  }
  const g: ImportedGroup = { model: 'users', users: target };
  if (rampUp > 0) g.rampUp = seconds(rampUp);
  if (rampUp > 0 && steps > 0) g.rampSteps = steps;
  g.duration = seconds(rampUp + hold);
  if (iterations > 0) g.iterations = iterations;
  addThink(g, think);
  return g;
}

function maxInFlight(el: JmxElement, book: NoteBook, g: ImportedGroup): void {
  const limit = Math.round(book.number(el, 'ConcurrencyLimit', text(el, 'ConcurrencyLimit'), 0));
  if (limit > 0) g.maxInFlight = limit;
  const arrivals = Math.round(book.number(el, 'ArrivalsLimit', text(el, 'ArrivalsLimit'), 0));
  if (arrivals > 0) book.add(el, `ArrivalsLimit ${arrivals}: no limit on the number of arrivals (the schedule ends the group)`);
}

function arrivals(el: JmxElement, book: NoteBook): ImportedGroup | null {
  const unit = unitOf(el);
  const rate = round6(book.number(el, 'TargetLevel', text(el, 'TargetLevel'), 0) / unit);
  const rampUp = Math.max(0, book.number(el, 'RampUp', text(el, 'RampUp'), 0)) * unit;
  const hold = Math.max(0, book.number(el, 'Hold', text(el, 'Hold'), 1)) * unit;
  const steps = Math.round(book.number(el, 'Steps', text(el, 'Steps'), 0));
  if (!(rate > 0) || rampUp + hold <= 0) {
    book.add(el, `target rate ${rate}/s for ${rampUp + hold} s: the thread group sends nothing`);
    return null;
  }
  let g: ImportedGroup;
  if (rampUp > 0 && steps > 0) {
    // As bzm does it: step k of the ramp holds (k+1)/steps of the target rate.
    const stages: Record<string, unknown>[] = Array.from({ length: steps }, (_, k) => ({ duration: seconds(rampUp / steps), rate: round6((rate * (k + 1)) / steps) }));
    if (hold > 0) stages.push({ duration: seconds(hold), rate });
    g = { model: 'arrival-rate', stages };
  } else if (rampUp > 0) {
    g = { model: 'arrival-rate', rate, startRate: 0, rampUp: seconds(rampUp), duration: seconds(rampUp + hold) };
  } else g = { model: 'arrival-rate', rate, duration: seconds(hold) };
  maxInFlight(el, book, g);
  return g;
}

function freeForm(el: JmxElement, book: NoteBook): ImportedGroup | null {
  const unit = unitOf(el);
  const rows = prop(el, 'Schedule')?.items ?? [];
  const stages = rows.map((row) => {
    const [start, end, duration] = row.items.map((c, i) => book.number(el, `Schedule row ${['start', 'end', 'duration'][i]}`, c.text, 0));
    const st: Record<string, unknown> = { duration: seconds(Math.max(0, duration ?? 0) * unit), rate: round6(Math.max(0, end ?? 0) / unit) };
    if ((start ?? 0) !== (end ?? 0)) st.startRate = round6(Math.max(0, start ?? 0) / unit);
    return st;
  }).filter((st) => st.duration !== '0s');
  const peak = Math.max(0, ...stages.map((st) => Math.max(st.rate as number, (st.startRate as number | undefined) ?? 0)));
  if (stages.length === 0 || !(peak > 0)) {
    book.add(el, 'an empty schedule (no row with a rate and a duration): the thread group sends nothing');
    return null;
  }
  const g: ImportedGroup = { model: 'arrival-rate', stages };
  maxInFlight(el, book, g);
  return g;
}

/** The load group of a thread group (null when it runs nothing, noted), given its sampler's think time. */
export function importThreadGroup(el: JmxElement, book: NoteBook, think: ThinkTime): ImportedGroup | null {
  switch (el.tag) {
    case 'ThreadGroup':
      return users(el, book, think);
    case `${BZM}concurrency.ConcurrencyThreadGroup`:
      return concurrency(el, book, think);
    case `${BZM}arrivals.ArrivalsThreadGroup`:
      return arrivals(el, book);
    case `${BZM}arrivals.FreeFormArrivalsThreadGroup`:
      return freeForm(el, book);
    default:
      return null;
  }
}
