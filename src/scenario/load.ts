/**
 * Reading a scenario file: YAML (or JSON) → `--set` overrides → schema validation → threshold
 * checks. Every problem becomes one line `<file>: <path>: <message>` of a single `UsageError`.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { UsageError } from '../errors.js';
import { parseThreshold } from '../vocab/threshold-grammar.js';
import { scenarioSchema, type Scenario } from './schema.js';
import { checkTlsFiles, readFailure } from './tls-files.js';

type PathKey = PropertyKey;
type Issue = z.core.$ZodIssue;

/** Errors only: yaml's warnings (an unknown tag, a list as a key) would reach stderr as Node warnings
 * of several lines; what they warn about fails validation anyway, on one line naming the field. */
const YAML_OPTIONS = { logLevel: 'error' } as const;

/**
 * One scenario override: `path=value` as given to `--set`, or with the flag to blame when it is
 * wrong (`from`, e.g. `--variant rst:connection.close=reset`; default `--set <path=value>`).
 */
export type Override = string | { set: string; from: string };

/** Where a problem in the scenario came from: the override that set the value at `steps`, named by `from` (its flag). */
export interface Blame {
  steps: Array<string | number>;
  from: string;
}

const overrideText = (o: Override): string => (typeof o === 'string' ? o : o.set);
const overrideFrom = (o: Override): string => (typeof o === 'string' ? `--set ${displayArg(o)}` : o.from);

/**
 * Reads, overrides and validates a scenario file; every failure is a `UsageError` naming the file,
 * or, for a value an override put there, naming the override (`--set load[0].rate=abc: load[0].rate: ...`).
 */
export async function loadScenario(file: string, overrides: readonly Override[] = []): Promise<Scenario> {
  const label = displayArg(file);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read scenario ${label}: ${printable(readFailure(err))}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, YAML_OPTIONS);
  } catch (err) {
    throw new UsageError(yamlFailure(label, err));
  }
  assertMapping(doc, label);
  // An unnamed scenario takes its file's name, so run ids and reports say which file ran.
  const named = 'name' in doc ? doc : { name: path.basename(file).replace(/\.(ya?ml|json)$/i, ''), ...doc };
  const blames = overrides.flatMap((o): Blame[] => {
    const text = overrideText(o);
    const steps = parseOverridePath(text.slice(0, Math.max(0, text.indexOf('='))).trim());
    return steps ? [{ steps, from: overrideFrom(o) }] : [];
  });
  return parseScenario(applyOverrides(named, overrides), label, blames, path.dirname(path.resolve(file)));
}

/** The override that put the value at `at` there (the last one covering it), if any. */
function blameFor(blames: readonly Blame[], at: readonly PathKey[], issue?: Issue): string | undefined {
  const covers = (b: Blame) =>
    (b.steps.length <= at.length && b.steps.every((k, i) => String(k) === String(at[i]))) ||
    // A discriminator set to something unknown is reported at the mapping that holds it.
    (issue?.code === 'invalid_union' &&
      'discriminator' in issue &&
      b.steps.length === at.length + 1 &&
      String(b.steps.at(-1)) === String(issue.discriminator) &&
      at.every((k, i) => String(k) === String(b.steps[i])));
  return [...blames].reverse().find(covers)?.from;
}

/**
 * Validates an already-parsed scenario document; `source` names it in error messages. A problem in
 * a value one of `blames` set is told with that override's flag instead of the source. The `tls:`
 * files are read relative to `baseDir` (the scenario file's directory) and come back absolute.
 */
export function parseScenario(doc: unknown, source: string, blames: readonly Blame[] = [], baseDir = process.cwd()): Scenario {
  assertMapping(doc, source);
  const result = scenarioSchema.safeParse(doc);
  const lines = result.success ? [] : formatIssues(source, result.error.issues, doc, scenarioSchema, (at, issue) => blameFor(blames, at, issue));
  let scenario = result.data;
  if (scenario) {
    const checked = checkTlsFiles(scenario, baseDir);
    scenario = checked.scenario;
    for (const p of checked.problems) lines.push(`${blameFor(blames, ['tls', p.field]) ?? source}: tls.${p.field}: ${printable(p.message)}`);
  }
  const thresholds = (doc as Record<string, unknown>).thresholds;
  if (Array.isArray(thresholds)) {
    thresholds.forEach((expr, i) => {
      if (typeof expr !== 'string') return;
      try {
        parseThreshold(expr);
      } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        lines.push(`${blameFor(blames, ['thresholds', i]) ?? source}: ${formatPath(['thresholds', i])}: ${printable(err.message)}`);
      }
    });
  }
  if (lines.length > 0 || !scenario) throw new UsageError(lines.join('\n'));
  return scenario;
}

/**
 * Turns zod issues into one line each, `<source>: <path>: <message>`; `doc` is the validated input
 * and `schema` the schema it was validated against (for the known keys an unknown key is told).
 * `sourceFor` may name another source for a path (the `--set` that put the value there).
 */
export function formatIssues(
  source: string,
  issues: readonly Issue[],
  doc: unknown,
  schema: z.core.$ZodType = scenarioSchema,
  sourceFor: (path: readonly PathKey[], issue: Issue) => string | undefined = () => undefined,
): string[] {
  // One problem per field: zod goes on checking a value of the wrong type (a list for a name is
  // also "too short"), and only the first says what is wrong.
  const told = new Set<string>();
  return issues.flatMap((issue) =>
    describeIssue(issue, doc, schema).flatMap(({ path, message }) => {
      const where = formatPath(path);
      if (told.has(where)) return [];
      told.add(where);
      return [`${sourceFor(path, issue) ?? source}: ${where}: ${printable(message)}`];
    }),
  );
}

/**
 * Formats a path as `load[1].rate`, `connection.close`, or `(root)` when empty. A key that is not a
 * plain name (a header or error code with dots, spaces, quotes or line breaks) is quoted,
 * `request.headers["a b"]`, so the path stays on one line and reads back unambiguously.
 */
export function formatPath(path: readonly PathKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$-]*$/.test(key)) out += (out === '' ? '' : '.') + key;
    else out += `[${quote(String(key))}]`;
  }
  return out === '' ? '(root)' : out;
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** `s` with every control character (line breaks, terminal escapes) written as `\uXXXX`. */
function printable(s: string): string {
  return s.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** JSON string syntax, with the control characters JSON leaves raw escaped too. */
function quote(s: string): string {
  return printable(JSON.stringify(s));
}

/** A command-line argument (a file name, an override) as typed when it is printable, else quoted so a message stays on one line. */
export function displayArg(s: string): string {
  return new RegExp(CONTROL.source).test(s) ? quote(s) : s;
}

/**
 * Applies `--set path=value` overrides to a copy of `doc`. Paths use dots between keys and `[n]`
 * for list items (`load[0].rate`); missing mappings are created; values are parsed as YAML.
 */
export function applyOverrides(doc: unknown, overrides: readonly Override[]): unknown {
  if (overrides.length === 0) return doc;
  const root: unknown = doc == null ? {} : structuredClone(doc);
  for (const o of overrides) {
    const override = overrideText(o);
    const from = overrideFrom(o);
    const eq = override.indexOf('=');
    const steps = eq < 0 ? null : parseOverridePath(override.slice(0, eq).trim());
    if (!steps) throw new UsageError(`${from}: expected path=value, e.g. load[0].rate=1200`);
    setAt(root, steps, parseOverrideValue(from, override.slice(eq + 1)), from);
  }
  return root;
}

function assertMapping(doc: unknown, source: string): asserts doc is Record<string, unknown> {
  if (doc == null) throw new UsageError(`${source}: the scenario is empty (expected a mapping with at least load)`);
  if (!isMapping(doc)) throw new UsageError(`${source}: expected a mapping of scenario settings at the top level, got ${show(doc)}`);
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function yamlFailure(file: string, err: unknown): string {
  const e = err as { message?: string; linePos?: Array<{ line: number; col: number }> };
  const reason = String(e.message ?? err).replace(/ at line \d+, column \d+:[\s\S]*$/, '').split('\n')[0];
  const pos = e.linePos?.[0];
  return `${file}: ${pos ? `line ${pos.line}, column ${pos.col}: ` : ''}invalid YAML: ${printable(reason ?? '')}`;
}

// ---- issue messages -------------------------------------------------------------------------

const TYPE_NAMES: Record<string, string> = {
  number: 'a number',
  int: 'an integer',
  string: 'a string',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return quote(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  return String(v);
}

function valueAt(doc: unknown, path: readonly PathKey[]): unknown {
  let v = doc;
  for (const key of path) {
    if (typeof v !== 'object' || v === null || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<PathKey, unknown>)[key];
  }
  return v;
}

/** `expected X, got Y`, or `missing, expected X` when nothing was given. */
function expectedGot(expected: string, value: unknown): string {
  return value === undefined ? `missing, ${expected}` : `${expected}, got ${show(value)}`;
}

function isZodDefault(message: string): boolean {
  return !message.startsWith('expected');
}

function describeIssue(issue: Issue, doc: unknown, schema: z.core.$ZodType): Array<{ path: PathKey[]; message: string }> {
  const path = [...issue.path];
  const value = valueAt(doc, path);
  const custom = !isZodDefault(issue.message);
  const one = (message: string) => [{ path, message }];
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = objectKeysAt(schema, doc, path);
      const hint = known ? ` (expected one of ${known.join(', ')})` : '';
      return issue.keys.map((key) => ({ path: [...path, key], message: `unknown key${hint}` }));
    }
    case 'invalid_type':
      return one(custom ? withGot(issue.message, value) : expectedGot(`expected ${TYPE_NAMES[issue.expected] ?? issue.expected}`, value));
    case 'too_small':
    case 'too_big':
      return one(custom ? withGot(issue.message, value) : sizeMessage(issue, value));
    case 'invalid_value': {
      const values = issue.values.map((v) => String(v));
      return one(expectedGot(`expected ${values.length === 1 ? values[0] : `one of ${values.join(', ')}`}`, value));
    }
    case 'invalid_union': {
      if ('discriminator' in issue && 'options' in issue && Array.isArray(issue.options)) {
        return one(expectedGot(`expected ${issue.options.map(String).join(' or ')}`, value));
      }
      return one(withGot(issue.message, value));
    }
    default:
      return one(withGot(issue.message, value));
  }
}

/** Appends `, got <value>` to a custom `expected ...` message when the value is a scalar not already shown. */
function withGot(message: string, value: unknown): string {
  if (isZodDefault(message) || message.includes(', got ') || (typeof value === 'object' && value !== null)) return message;
  return expectedGot(message, value);
}

function sizeMessage(issue: Extract<Issue, { code: 'too_small' | 'too_big' }>, value: unknown): string {
  const small = issue.code === 'too_small';
  const bound = Number(small ? (issue as { minimum: unknown }).minimum : (issue as { maximum: unknown }).maximum);
  const inclusive = issue.inclusive !== false;
  if (issue.origin === 'number' || issue.origin === 'int' || issue.origin === 'bigint') {
    const rel = small ? (inclusive ? 'at least' : 'greater than') : inclusive ? 'at most' : 'less than';
    return expectedGot(`expected a number ${rel} ${bound}`, value);
  }
  if (issue.origin === 'string' && small && bound === 1) return expectedGot('expected a non-empty string', value);
  const unit = issue.origin === 'string' ? 'characters' : 'items';
  const size = typeof value === 'string' || Array.isArray(value) ? `, got ${value.length}` : '';
  return `expected ${small ? 'at least' : 'at most'} ${bound} ${unit}${size}`;
}

// ---- schema walking (for the list of known keys) --------------------------------------------

interface LooseDef {
  type: string;
  in?: z.core.$ZodType;
  innerType?: z.core.$ZodType;
  shape?: Record<string, z.core.$ZodType>;
  element?: z.core.$ZodType;
  valueType?: z.core.$ZodType;
  options?: z.core.$ZodType[];
  discriminator?: string;
}

const WRAPPERS = new Set(['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch', 'nonoptional']);

/** The keys `root` allows for the object at `path`, following the document through unions. */
function objectKeysAt(root: z.core.$ZodType, doc: unknown, path: readonly PathKey[]): string[] | null {
  let schema = root;
  let value = doc;
  let i = 0;
  for (let guard = 0; guard < 100; guard++) {
    const def = schema._zod.def as unknown as LooseDef;
    if (def.type === 'pipe' && def.in) {
      schema = def.in;
      continue;
    }
    if (WRAPPERS.has(def.type) && def.innerType) {
      schema = def.innerType;
      continue;
    }
    if (def.type === 'union' && def.options) {
      const disc = def.discriminator;
      const wanted = disc && isMapping(value) ? value[disc] : undefined;
      const match = def.options.find((o) => disc && o._zod.propValues?.[disc]?.has(wanted as never));
      if (!match) return null;
      schema = match;
      continue;
    }
    if (i === path.length) return def.type === 'object' && def.shape ? Object.keys(def.shape) : null;
    const key = path[i++]!;
    value = valueAt(value, [key]);
    const next = def.type === 'object' ? def.shape?.[String(key)] : def.type === 'array' ? def.element : def.type === 'record' ? def.valueType : undefined;
    if (!next) return null;
    schema = next;
  }
  return null;
}

// ---- --set ----------------------------------------------------------------------------------

function parseOverridePath(path: string): Array<string | number> | null {
  const steps: Array<string | number> = [];
  for (const segment of path.split('.')) {
    const m = /^([^[\]=]+)((?:\[\d+\])*)$/.exec(segment);
    if (!m || m[1] === '__proto__') return null;
    steps.push(m[1]!);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) steps.push(Number(idx[1]));
  }
  return steps;
}

function parseOverrideValue(from: string, raw: string): unknown {
  if (raw.trim() === '') return '';
  let value: unknown;
  try {
    value = parseYaml(raw, YAML_OPTIONS);
  } catch (err) {
    const reason = String((err as Error).message).replace(/ at line \d+, column \d+:[\s\S]*$/, '').split('\n')[0];
    throw new UsageError(`${from}: cannot parse the value: ${printable(reason ?? '')}`);
  }
  return value === null && !/^\s*(null|Null|NULL|~)\s*$/.test(raw) ? raw : value;
}

function setAt(root: unknown, steps: Array<string | number>, value: unknown, from: string): void {
  const fail = (why: string) => new UsageError(`${from}: ${why}`);
  let container = root;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    const where = formatPath(steps.slice(0, i));
    let holder: Record<PathKey, unknown>;
    if (typeof step === 'number') {
      if (!Array.isArray(container)) throw fail(`${where} is not a list`);
      if (step >= container.length) {
        throw fail(`index ${step} is past the end of ${where} (${container.length} item${container.length === 1 ? '' : 's'})`);
      }
      holder = container as unknown as Record<PathKey, unknown>;
    } else {
      if (!isMapping(container)) throw fail(`${where} is not a mapping`);
      holder = container;
    }
    if (i === steps.length - 1) {
      holder[step] = value;
      return;
    }
    const current = Object.hasOwn(holder, step) ? holder[step] : undefined;
    if (current == null) {
      if (typeof steps[i + 1] === 'number') throw fail(`${formatPath(steps.slice(0, i + 1))} does not exist, so it has no items to set`);
      holder[step] = {};
    }
    container = holder[step];
  }
}
