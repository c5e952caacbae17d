/**
 * Property-based tests of reading scenario files: the shipped scenarios (scenarios/*.yaml) and one
 * that sets every field, mutated field by field and as text, plus random text. Whatever the file
 * holds, `loadScenario` resolves or throws a `UsageError` whose every line is `<file>: ...`; where a
 * mutation makes the scenario wrong by construction it is refused, on one line naming the field.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { UsageError } from '../../src/errors.js';
import { applyOverrides, formatPath, loadScenario } from '../../src/scenario/load.js';

const SCENARIOS = fileURLToPath(new URL('../../../scenarios/', import.meta.url));
/**
 * A fixed seed and 1000 runs, so a run is repeatable; a failure prints its seed and path. FUZZ_SEED
 * and FUZZ_RUNS explore beyond them.
 */
function settings(seed: number): fc.Parameters<unknown> {
  return { seed: Number(process.env.FUZZ_SEED ?? seed), numRuns: Math.max(1000, Number(process.env.FUZZ_RUNS ?? 0)), includeErrorInReport: true };
}

const dir = mkdtempSync(path.join(tmpdir(), 'portstorm-fuzz-scenario-'));
after(() => rmSync(dir, { recursive: true, force: true }));

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Key = string | number;

/** Every field a scenario can set, with a users group beside an arrival-rate one. */
const FULL = `name: full
target: http://127.0.0.1:8080/x?y=1
protocol: http
request: { method: POST, path: /p, headers: { X-A: b }, body: hi }
payload: "PING\\n"
expectBytes: 5
connection: { reuse: true, poolSize: 4, close: server, localAddresses: [127.0.0.1, "::1"] }
load:
  - { model: arrival-rate, rate: 10, startRate: 1, rampUp: 1s, duration: 2s, startAfter: 0, maxInFlight: 5 }
  - { model: users, users: 2, rampUp: 500ms, duration: 1m, iterations: 3, thinkTime: 10ms, startAfter: 1 }
timeouts: { connect: 1s, request: 2s }
workers: 2
thresholds: ["latency.p99 < 250", "errors.EADDRNOTAVAIL == 0"]
builtin: { delayMs: 1, bodyBytes: 3, keepAlive: false }
allowRemote: false
monitor: { enabled: true, interval: 250ms, scanInterval: 1s }
limits: { maxDuration: 1h, maxRequests: 1000 }
`;

const BASES: Record<string, string> = { 'full.yaml': FULL };
for (const f of readdirSync(SCENARIOS).filter((f) => f.endsWith('.yaml')).sort()) BASES[f] = readFileSync(path.join(SCENARIOS, f), 'utf8');
const BASE_NAMES = Object.keys(BASES);
const DOCS = Object.fromEntries(BASE_NAMES.map((n) => [n, parseYaml(BASES[n]!) as Json]));

/** Every value in `doc` with its path, the root excluded. */
function paths(doc: Json, at: Key[] = []): Array<{ path: Key[]; value: Json }> {
  if (doc === null || typeof doc !== 'object') return [];
  const entries: Array<[Key, Json]> = Array.isArray(doc) ? doc.map((v, i) => [i, v]) : Object.entries(doc);
  return entries.flatMap(([k, v]) => [{ path: [...at, k], value: v }, ...paths(v, [...at, k])]);
}
const isMapping = (v: Json | undefined): v is { [k: string]: Json } => v !== null && typeof v === 'object' && !Array.isArray(v);
const PATHS = Object.fromEntries(BASE_NAMES.map((n) => [n, paths(DOCS[n]!)]));
const MAPPINGS = Object.fromEntries(BASE_NAMES.map((n) => [n, [{ path: [] as Key[], value: DOCS[n]! }, ...PATHS[n]!.filter((e) => isMapping(e.value))]]));

function valueAt(doc: Json, p: Key[]): Json | undefined {
  let v: Json | undefined = doc;
  for (const k of p) v = v !== null && typeof v === 'object' ? (v as Record<Key, Json>)[k] : undefined;
  return v;
}

function at(doc: Json, p: Key[]): { parent: Record<Key, Json>; key: Key } {
  return { parent: valueAt(doc, p.slice(0, -1)) as Record<Key, Json>, key: p[p.length - 1]! };
}

function jsonType(v: Json): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** One scenario file: its text, and what loading it must do. */
interface Case {
  kind: string;
  base: string;
  /** `.yaml` or `.json`: both go through the YAML parser. */
  ext: string;
  text: string;
  /** Must be refused (`false`: may load or be refused). */
  invalid: boolean;
  /** The field path one line of the refusal must name, `<file>: <path>: ...`. */
  field?: string;
  /** Text the refusal must contain otherwise. */
  mentions?: string;
  /** A mapping where a mapping is one of the forms can be wrong in several ways: one line each. */
  severalLines?: boolean;
  what: string;
}

function shown(c: Case): Case {
  return Object.assign(c, { [fc.toStringMethod]: () => `${c.kind} of ${c.base} (${c.ext}): ${c.what}` });
}

/** Writes the mutated document as YAML or JSON. Non-finite numbers only survive as YAML. */
function serialize(doc: Json, json: boolean): { ext: string; text: string } {
  return json ? { ext: '.json', text: JSON.stringify(doc, null, 1) } : { ext: '.yaml', text: stringifyYaml(doc) };
}

const base = fc.constantFrom(...BASE_NAMES);
/** Any character, with control characters, quotes and path syntax likelier than chance. */
const char = fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), fc.constantFrom('\n', '\r', '\t', '\u0000', '\u2028', '"', '\\', '.', '[', ']', '=', ':', '#'));
const text = fc.string({ unit: char, maxLength: 12 });
const asJson = fc.boolean();

/** Strings that are never a valid value of any scenario field but free text (name, body, payload). */
const garbage = text.map((s) => `~${s}`);
const VALUE_OF_TYPE: Record<string, fc.Arbitrary<Json>> = {
  null: fc.constant(null),
  number: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
  string: garbage,
  boolean: fc.boolean(),
  array: fc.array(fc.jsonValue() as fc.Arbitrary<Json>, { maxLength: 3 }),
  object: fc.dictionary(text.map((s) => `zz${s}`), fc.jsonValue() as fc.Arbitrary<Json>, { maxKeys: 3 }),
};
/**
 * Fields that may take a string where the shipped file has another type: free text, the lab's
 * sysctl values (checked per sysctl), and the lab's serve command and variants (a string is their
 * short form, checked when used).
 */
const FREE_TEXT = /^(name|payload|request\.body|request\.headers\..+|thresholds\[\d+\]|lab\.(variants\[\d+\]\.)?sysctls\..+|lab\.serve|lab\.variants\[\d+\])$/;

/**
 * A field replaced by a value of another JSON type. Wrong by construction, except where a string
 * becomes a number (a duration or workers may be either), and except an empty mapping or list
 * becoming the other (YAML writes both as an empty flow collection only when typed, so both stay).
 */
const wrongType = fc
  .tuple(base, fc.nat(), fc.constantFrom(...Object.keys(VALUE_OF_TYPE)), asJson)
  .chain(([b, i, type, json]) => VALUE_OF_TYPE[type]!.map((v) => ({ b, i, type, v, json })))
  .map(({ b, i, type, v, json }): Case => {
    const doc = structuredClone(DOCS[b]!);
    const { path: p, value: old } = PATHS[b]![i % PATHS[b]!.length]!;
    const { parent, key } = at(doc, p);
    parent[key] = v;
    const field = formatPath(p);
    const invalid = jsonType(old) !== type && !(typeof old === 'string' && type === 'number') && !(type === 'string' && FREE_TEXT.test(field));
    const severalLines = type === 'object' && /^lab\.(serve|variants\[\d+\])$/.test(field);
    return { kind: 'wrong type', base: b, ...serialize(doc, json), invalid, field: invalid ? field : undefined, severalLines, what: `${field}: ${JSON.stringify(old)} -> ${JSON.stringify(v)}` };
  });

/** Fields a group or scenario cannot do without. */
function required(doc: Json, p: Key[]): boolean {
  const f = formatPath(p);
  if (f === 'load') return true;
  const m = /^load\[\d+\]\.(\w+)$/.exec(f);
  if (!m) return false;
  const group = valueAt(doc, p.slice(0, -1)) as Record<string, Json>;
  if (m[1] === 'model') return true;
  if (group.model === 'arrival-rate') return m[1] === 'rate' || m[1] === 'duration';
  if (group.model === 'users') return m[1] === 'users';
  return false;
}

/** A field (or list item) deleted: wrong when the field is required. */
const deleted = fc.tuple(base, fc.nat(), asJson).map(([b, i, json]): Case => {
  const doc = structuredClone(DOCS[b]!);
  const { path: p } = PATHS[b]![i % PATHS[b]!.length]!;
  const invalid = required(doc, p);
  const { parent, key } = at(doc, p);
  if (Array.isArray(parent)) parent.splice(key as number, 1);
  else delete parent[key];
  const field = formatPath(p);
  return { kind: 'deleted', base: b, ...serialize(doc, json), invalid, field: invalid ? field : undefined, what: field };
});

/** Out-of-range numbers, bad durations and bad enum values, each wrong wherever it is set. */
const BAD: Array<[string, Json[]]> = [
  ['workers', [0, -2, 1.5, 'many', 'AUTO']],
  ['expectBytes', [-1, 0.5]],
  ['connection.poolSize', [0, -1, 2.5]],
  ['connection.close', ['sometimes', 'CLIENT', '']],
  ['connection.localAddresses', [['not-an-ip'], ['256.1.1.1'], [7]]],
  ['connection.reuse', ['yes please', 1]],
  ['protocol', ['udp', 'HTTP']],
  ['target', ['ftp://127.0.0.1:1', 'http://', 'tcp://127.0.0.1', 'builtin2', '', 'http//x']],
  ['request.method', ['get', 'G E T', '']],
  ['request.path', ['no-slash', '']],
  ['request.headers', [{ 'X-N': 1 }, ['a']]],
  ['timeouts.connect', [0, '0s', -1, '-1s', 'soon', '1x', '', 'NaN', 'Infinity', Infinity, -Infinity, NaN]],
  ['timeouts.request', ['1 parsec', '1.s', 's']],
  ['monitor.interval', ['0ms', 0]],
  ['monitor.scanInterval', ['2 weeks']],
  ['limits.maxDuration', [-1, '0s']],
  ['limits.maxRequests', [0, 0.5]],
  ['builtin.delayMs', [-1, Infinity]],
  ['builtin.bodyBytes', [-1, 0.5]],
  ['thresholds', [['latency.p99 <'], ['no.such.metric > 1'], ['latency.p99 < 10ms'], [5], 'latency.p99 < 1']],
];
/** The same for a load group's fields, by model. */
const BAD_GROUP: Record<string, Array<[string, Json[]]>> = {
  'arrival-rate': [
    ['rate', [0, -5, 'fast', Infinity]],
    ['startRate', [-1]],
    ['duration', [0, '0s', '-3s', 'forever']],
    ['rampUp', ['-1s', 'later']],
    ['startAfter', ['x']],
    ['maxInFlight', [0, 1.5]],
    ['model', ['poisson', '', 7]],
  ],
  users: [
    ['users', [0, 1.5, -3]],
    ['iterations', [0, -1]],
    ['thinkTime', ['a while']],
    ['duration', ['0ms']],
    ['model', ['user']],
  ],
};

const outOfRange = fc.tuple(base, fc.nat(), fc.nat(), fc.nat(), asJson).map(([b, i, j, g, json]): Case => {
  const doc = structuredClone(DOCS[b]!) as Record<string, Json>;
  const groups = doc.load as Array<Record<string, Json>>;
  const useGroup = i % 2 === 1;
  let p: Key[];
  let v: Json;
  if (useGroup) {
    const gi = g % groups.length;
    const table = BAD_GROUP[groups[gi]!.model as string]!;
    const [field, values] = table[j % table.length]!;
    p = ['load', gi, field];
    v = values[Math.floor(j / table.length) % values.length]!;
  } else {
    const [field, values] = BAD[j % BAD.length]!;
    p = field.split('.');
    v = values[Math.floor(j / BAD.length) % values.length]!;
  }
  let holder = doc as Record<string, Json>;
  for (const k of p.slice(0, -1)) {
    if (!isMapping(holder[k as string]) && !Array.isArray(holder[k as string])) holder[k as string] = {};
    holder = holder[k as string] as Record<string, Json>;
  }
  holder[p[p.length - 1] as string] = v;
  // A protocol that contradicts the target's scheme is wrong too; one that matches is not.
  const s = serialize(doc, json);
  const nonFinite = typeof v === 'number' && !Number.isFinite(v);
  const field = formatPath(p);
  // JSON writes Infinity and NaN as null, which is as wrong as the number, at the same field.
  // A bad list's first item is the field at fault (the headers mapping itself when given a list).
  const at0 = Array.isArray(v) && field !== 'request.headers' ? `${field}[0]` : isMapping(v) ? formatPath([...p, Object.keys(v)[0]!]) : field;
  return { kind: 'out of range', base: b, ...s, invalid: true, field: at0, what: `${field}: ${nonFinite ? String(v) : JSON.stringify(v)}` };
});

/** A key no scenario has, added to any mapping (request headers take any name). */
const unknownKey = fc
  .tuple(
    base,
    fc.nat(),
    fc.oneof(
      text.map((k) => `zz${k}`),
      fc.constantFrom('zza.b', 'zza\nb', 'zz"q"', 'zz x', 'zz[0]', 'é', '__proto__', 'constructor', 'toString', 'hasOwnProperty', ''),
    ),
    fc.jsonValue() as fc.Arbitrary<Json>,
    asJson,
  )
  .map(([b, i, key, v, json]): Case => {
    const doc = structuredClone(DOCS[b]!);
    const { path: p } = MAPPINGS[b]![i % MAPPINGS[b]!.length]!;
    Object.defineProperty(valueAt(doc, p), key, { value: v, enumerable: true, writable: true, configurable: true });
    const free = formatPath(p) === 'request.headers';
    // zod's record drops a `__proto__` key whatever its value (no header has that name).
    const invalid = !free || (typeof v !== 'string' && key !== '__proto__');
    return { kind: 'unknown key', base: b, ...serialize(doc, json), invalid, field: free ? undefined : formatPath([...p, key]), what: `${formatPath(p)} + ${JSON.stringify(key)}` };
  });

/** A root that is not a mapping (a scalar of the base, a list of it, or nothing at all). */
const notAMapping = fc
  .tuple(base, fc.oneof(fc.jsonValue().filter((v) => !isMapping(v as Json)), fc.constant('')), asJson)
  .map(([b, v, json]): Case => {
    const s = v === '' ? { ext: '.yaml', text: '# nothing\n' } : serialize(v as Json, json);
    return { kind: 'not a mapping', base: b, ...s, invalid: true, mentions: v === null || v === '' ? 'the scenario is empty' : 'expected a mapping of scenario settings at the top level', what: JSON.stringify(v) };
  });

/** The file's text cut short, a line dropped, or characters overwritten: may still be valid. */
const textEdit = fc.tuple(base, fc.nat(), fc.nat(), fc.string({ maxLength: 4 }), fc.constantFrom('cut', 'line', 'chars')).map(([b, i, j, s, how]): Case => {
  const text = BASES[b]!;
  let out: string;
  if (how === 'cut') out = text.slice(0, i % text.length);
  else if (how === 'line') {
    const lines = text.split('\n');
    lines.splice(i % lines.length, 1);
    out = lines.join('\n');
  } else {
    const at = i % text.length;
    out = text.slice(0, at) + s + text.slice(at + (j % 5));
  }
  return { kind: 'text edit', base: b, ext: '.yaml', text: out, invalid: false, what: `${how} at ${i % text.length}: ${JSON.stringify(s)}` };
});

/** YAML-looking noise, arbitrary Unicode, or bytes. */
const YAML_TOKENS = ['load:', '- ', 'model: ', 'arrival-rate', 'rate: ', '1', '-1', '{', '}', '[', ']', ':', '&a ', '*a', '!!str ', '!!binary ', '!!set ', '!!map ', '!!omap ', '? ', '|', '>', '"', "'", '#', '%YAML 1.1\n', '---\n', '...\n', '\n', '  ', '\t', '<<: *a', 'duration: 1s', '.inf', '.nan', '~', 'null', '0x1F', '1e400', '__proto__: ', 'connection:'];
const randomText = fc
  .oneof(
    fc.array(fc.constantFrom(...YAML_TOKENS), { maxLength: 40 }).map((t) => t.join('')),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
  )
  .map((text): Case => ({ kind: 'random text', base: '-', ext: '.yaml', text, invalid: false, what: JSON.stringify(text.slice(0, 200)) }));

/** Lists or mappings nested thousands deep. */
const deepText = fc.tuple(fc.integer({ min: 50, max: 20_000 }), fc.boolean()).map(([n, list]): Case => ({
  kind: 'deep',
  base: '-',
  ext: '.yaml',
  text: list ? `load: ${'['.repeat(n)}${']'.repeat(n)}\n` : `load: ${'{a: '.repeat(n)}1${'}'.repeat(n)}\n`,
  invalid: true,
  what: `${list ? 'lists' : 'mappings'} ${n} deep`,
}));

const cases = fc
  .oneof(
    { arbitrary: deepText, weight: 1 },
    { arbitrary: wrongType, weight: 4 },
    { arbitrary: deleted, weight: 2 },
    { arbitrary: outOfRange, weight: 4 },
    { arbitrary: unknownKey, weight: 2 },
    { arbitrary: notAMapping, weight: 1 },
    { arbitrary: textEdit, weight: 3 },
    { arbitrary: randomText, weight: 3 },
  )
  .map(shown);

/** Control characters (a line break inside a problem, terminal escapes): no line has one. */
const CONTROL = /[\u0000-\u001f\u007f\u2028\u2029]/;

function problems(err: unknown, c: Case, file: string): string[] {
  if (!(err instanceof UsageError)) throw new Error(`${c.kind}: not a UsageError: ${(err as Error)?.stack ?? String(err)}`);
  assert.equal(err.exitCode, 2);
  assert.doesNotMatch(err.message, /^\s+at /m, 'no stack trace');
  const lines = err.message.split('\n');
  for (const line of lines) assert.doesNotMatch(line, CONTROL, `${c.kind}: a line has a control character: ${JSON.stringify(line)}`);
  for (const line of lines) assert.ok(line.startsWith(`${file}: `), `${c.kind}: a line does not name the file: ${JSON.stringify(line)}`);
  return lines;
}

const stats = new Map<string, { loaded: number; refused: number }>();

describe('scenario files, mutated (fast-check)', () => {
  it('load or are refused, every line naming the file; wrong ones on one line naming the field', async (t) => {
    let n = 0;
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    t.after(() => process.off('warning', onWarning));
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        const file = path.join(dir, `case-${n++ % 8}${c.ext}`);
        writeFileSync(file, c.kind === 'random text' ? Buffer.from(c.text, 'latin1') : c.text);
        let lines: string[] | null = null;
        try {
          await loadScenario(file);
        } catch (err) {
          lines = problems(err, c, file);
        }
        const s = stats.get(c.kind) ?? { loaded: 0, refused: 0 };
        if (lines) s.refused++;
        else s.loaded++;
        stats.set(c.kind, s);
        if (!c.invalid) return;
        assert.ok(lines, `${c.kind}: loaded, but wrong by construction`);
        if (!c.severalLines) assert.equal(lines.length, 1, `${c.kind}: one mutation, one line: ${lines.join(' | ')}`);
        // The field itself, or a field inside it (a mapping given where the short form was).
        if (c.field !== undefined) {
          const named = [': ', '.', '['].some((next) => lines[0]!.startsWith(`${file}: ${c.field}${next}`));
          assert.ok(named, `${c.kind}: does not name ${c.field}: ${lines[0]}`);
        }
        if (c.mentions !== undefined) assert.ok(lines[0]!.includes(c.mentions), `${c.kind}: does not mention ${c.mentions}: ${lines[0]}`);
      }),
      settings(0x5eed_0001),
    );
    // Node warnings reach stderr as several lines; reading a scenario must not raise any.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings, []);
    t.diagnostic(`loaded/refused by kind: ${JSON.stringify(Object.fromEntries(stats))}`);
    for (const kind of ['wrong type', 'deleted', 'out of range', 'unknown key', 'not a mapping', 'text edit', 'random text', 'deep']) assert.ok(stats.has(kind), `no ${kind} case ran`);
    assert.ok(stats.get('text edit')!.loaded > 0 && stats.get('text edit')!.refused > 0);
  });

  it('the bases themselves load', async () => {
    for (const [name, text] of Object.entries(BASES)) {
      const file = path.join(dir, name);
      writeFileSync(file, text);
      await loadScenario(file);
    }
  });

  it('--set overrides: applied or refused with one line naming the override', () => {
    const override = fc.oneof(
      text,
      fc.tuple(fc.constantFrom('load[0].rate', 'load[9].rate', 'load.rate', 'connection.close', 'a..b', '[0]', 'x[', 'name', '__proto__.x', 'thresholds[0]', ''), fc.constantFrom('=', '', '=='), text).map((p) => p.join('')),
    );
    fc.assert(
      fc.property(fc.constantFrom(...BASE_NAMES), fc.array(override, { minLength: 1, maxLength: 3 }), (b, sets) => {
        try {
          applyOverrides(DOCS[b], sets);
        } catch (err) {
          if (!(err instanceof UsageError)) throw new Error(`not a UsageError: ${(err as Error)?.stack ?? String(err)}`);
          assert.ok(!err.message.includes('\n'), `more than one line: ${err.message}`);
          assert.match(err.message, /^--set /);
        }
      }),
      settings(0x5eed_0002),
    );
  });
});
