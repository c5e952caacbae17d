/**
 * Property-based tests of reading run records: the shipped fixtures (test/fixtures/records) mutated
 * field by field, truncated, replaced by random bytes. Whatever the file holds, `report` and
 * `compare` either refuse it with one `UsageError` line naming the file (and the field, where one
 * field is wrong) or accept it and render it in every format without throwing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { readAnalysedRun } from '../../src/analysis/analysed-run.js';
import { compareRuns } from '../../src/compare/compare.js';
import { UsageError } from '../../src/errors.js';
import { READABLE_SCHEMAS, type RunRecord } from '../../src/record/types.js';
import { renderCompareHtml } from '../../src/report/compare-html.js';
import { renderCompareMarkdown } from '../../src/report/compare-markdown.js';
import { renderCompareText } from '../../src/report/compare-text.js';
import { renderHtml } from '../../src/report/html.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderTextSummary } from '../../src/report/text.js';
import { formatPath } from '../../src/scenario/load.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/records/', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/**
 * `https`: an HTTPS run with per-connection lookups, CPU per second, TLS and DNS failures. `hosts`:
 * a schema 2 record with watched hosts (a service out of ports toward its backend, a backend seen in
 * part of the run, a router with its conntrack table), analysed on read. `hosts-report`: schema 2,
 * the client and a service seen by an agent that missed two seconds.
 */
const NAMES = ['healthy', 'exhaustion', 'https', 'hosts', 'hosts-report', 'lab-chain', 'lab-nat'] as const;
type Name = (typeof NAMES)[number];
const TEXT = Object.fromEntries(NAMES.map((n) => [n, readFileSync(`${FIX}${n}.json`, 'utf8')])) as Record<Name, string>;

/**
 * A fixed seed and 1000 runs, so a run is repeatable; a failure prints its seed and path. FUZZ_SEED
 * and FUZZ_RUNS explore beyond them.
 */
function settings(seed: number): fc.Parameters<unknown> {
  return { seed: Number(process.env.FUZZ_SEED ?? seed), numRuns: Math.max(1000, Number(process.env.FUZZ_RUNS ?? 0)), includeErrorInReport: true };
}

const dir = mkdtempSync(path.join(tmpdir(), 'portstorm-fuzz-record-'));
after(() => rmSync(dir, { recursive: true, force: true }));

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Key = string | number;

/** Every value in `doc` with its path, the root excluded. */
function paths(doc: Json, at: Key[] = []): Array<{ path: Key[]; value: Json }> {
  if (doc === null || typeof doc !== 'object') return [];
  const entries: Array<[Key, Json]> = Array.isArray(doc) ? doc.map((v, i) => [i, v]) : Object.entries(doc);
  return entries.flatMap(([k, v]) => [{ path: [...at, k], value: v }, ...paths(v, [...at, k])]);
}

const PATHS = Object.fromEntries(NAMES.map((n) => [n, paths(JSON.parse(TEXT[n]) as Json)])) as Record<Name, Array<{ path: Key[]; value: Json }>>;

function jsonType(v: Json): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** A value of every JSON type; strings are never numbers or durations (`5s`), so never valid as one. */
const VALUE_OF_TYPE: Record<string, fc.Arbitrary<Json>> = {
  number: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
  string: fc.string().map((s) => `~${s}`),
  boolean: fc.boolean(),
  array: fc.array(fc.jsonValue() as fc.Arbitrary<Json>, { maxLength: 3 }),
  object: fc.dictionary(fc.string().map((s) => `x${s}`), fc.jsonValue() as fc.Arbitrary<Json>, { maxKeys: 3 }),
};

/** Fields a record may lack: the analysis (filled on read), the lab's settings, the watched hosts. */
const OPTIONAL_ROOT = new Set(['lab', 'exhaustion', 'diagnosis', 'hosts']);
/** Fields newer records have and older ones lack (TLS, DNS, CPU): a record may lack them too. */
const OPTIONAL_FIELD =
  /^(tlsMs|dnsMs|histograms\.(tls|dns)|totals\.(tlsHandshakes|tlsResumed|dnsLookups)|target\.(tls|resolved)|monitor\.peakCpu|timeline\[\d+\]\.(tlsHandshakes|tlsMs|dnsLookups|dnsMs|cpu)|errorSamples\[\d+\]\.syscall|hosts\.\w+\.(clock\.probes|monitor\.peakCpu|timeline\[\d+\]\.(cpu|conntrack)|timeline\[\d+\]\.sockets\.own\w+)|timeline\[\d+\]\.sockets\.own\w+|diagnosis\[\d+\]\.host)$/;
/** Mappings whose keys are data (error codes, counter names, sysctls, host names): any key may be missing. */
const FREE_KEYS = /(^|\.)(errors|errorsByPhase|counters|unavailable|sysctls|hosts)$/;
/** Integer counts that cannot be negative: a negative one is wrong, whatever the record says. */
const COUNT = /^(totals\.\w+|latencyMs\.count|workers|timeline\[\d+\]\.(attempted|completed|failed|dropped|connectionsOpened))$/;

/** One mutated run.json: its text, and what must happen when it is read. */
interface Case {
  kind: string;
  base: Name;
  text: string;
  /** `true`: must be refused; `false`: may be accepted or refused. */
  invalid: boolean;
  /** Text the refusal must contain (the field path, or why the file is not a record). */
  mentions?: string;
  /** What was changed, for the counterexample fast-check prints. */
  what?: string;
  /** The path of the one field changed, if one was. */
  path?: string;
}

/** Prints a case as what was done to which fixture, not as the whole 20 kB text. */
function shown(c: Case): Case {
  const head = c.what ?? JSON.stringify(c.text.length > 120 ? `${c.text.slice(0, 120)}...` : c.text);
  return Object.assign(c, { [fc.toStringMethod]: () => `${c.kind} of ${c.base}: ${head}` });
}

function at(doc: Json, p: Key[]): { parent: Record<Key, Json>; key: Key } {
  let v = doc as Record<Key, Json>;
  for (const k of p.slice(0, -1)) v = v[k] as Record<Key, Json>;
  return { parent: v, key: p[p.length - 1]! };
}

function valueAtPath(doc: Json, p: Key[]): Json | undefined {
  let v: Json | undefined = doc;
  for (const k of p) v = v !== null && typeof v === 'object' ? (v as Record<Key, Json>)[k] : undefined;
  return v;
}

type Kind = 'any' | 'number' | 'mapping';
const OF_KIND: Record<Kind, (v: Json) => boolean> = {
  any: () => true,
  number: (v) => typeof v === 'number',
  mapping: (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
};
const PICKS = Object.fromEntries(
  NAMES.map((n) => [n, Object.fromEntries((Object.keys(OF_KIND) as Kind[]).map((k) => [k, PATHS[n].filter((e) => OF_KIND[k](e.value))]))]),
) as Record<Name, Record<Kind, Array<{ path: Key[]; value: Json }>>>;

/** Applies `edit` to a fresh copy of fixture `base` at the `pick`th path of a value of kind `kind`. */
function mutate(base: Name, pick: number, kind: Kind, edit: (doc: Json, p: Key[], value: Json) => Omit<Case, 'base' | 'text'>): Case {
  const doc = JSON.parse(TEXT[base]) as Json;
  const { path: p, value } = PICKS[base][kind][pick % PICKS[base][kind].length]!;
  const c = edit(doc, p, value);
  const now = valueAtPath(doc, p);
  return { path: formatPath(p), what: `${formatPath(p)}: ${JSON.stringify(value)?.slice(0, 60)} -> ${now === undefined ? '(deleted)' : JSON.stringify(now)?.slice(0, 60)}`, ...c, base, text: JSON.stringify(doc, null, 1) };
}

const inScenario = (p: Key[]) => p[0] === 'scenario';
const name = fc.constantFrom(...NAMES);
const pick = fc.nat();

/** A field replaced by a value of another JSON type (never null: many fields are nullable). */
const wrongType = fc
  .tuple(name, pick, fc.constantFrom('number', 'string', 'boolean', 'array', 'object'))
  .chain(([base, i, type]) => VALUE_OF_TYPE[type]!.map((v) => ({ base, i, type, v })))
  .map(({ base, i, type, v }) =>
    mutate(base, i, 'any', (doc, p, old) => {
      const { parent, key } = at(doc, p);
      parent[key] = v;
      const other = old !== null && jsonType(old) !== type;
      // The only field of two non-null types: workers is auto or a number.
      const invalid = other && formatPath(p) !== 'scenario.workers';
      return { kind: 'wrong type', invalid, mentions: invalid ? formatPath(p) : undefined };
    }),
  );

/** A field deleted: wrong unless the record may lack it (scenario fields have defaults). */
const deleted = fc.tuple(name, pick).map(([base, i]) =>
  mutate(base, i, 'any', (doc, p) => {
    const { parent, key } = at(doc, p);
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
    const invalid =
      typeof key === 'string' &&
      !inScenario(p) &&
      !(p.length === 1 && OPTIONAL_ROOT.has(key)) &&
      !FREE_KEYS.test(formatPath(p.slice(0, -1))) &&
      !OPTIONAL_FIELD.test(formatPath(p));
    return { kind: 'deleted', invalid, mentions: invalid ? formatPath(p) : undefined };
  }),
);

/** A number made negative, fractional or huge. */
const outOfRange = fc
  .tuple(name, pick, fc.oneof(fc.integer({ min: -1e9, max: -1 }), fc.constant(0.5), fc.constant(1e300), fc.constant(-1e300)))
  .map(([base, i, n]) =>
    mutate(base, i, 'number', (doc, p) => {
      const { parent, key } = at(doc, p);
      parent[key] = n;
      const invalid = COUNT.test(formatPath(p)) && (n < 0 || !Number.isInteger(n));
      return { kind: 'out of range', invalid, mentions: invalid ? formatPath(p) : undefined };
    }),
  );

/** Any field replaced by any JSON value: refused or rendered. */
const anyValue = fc.tuple(name, pick, fc.jsonValue() as fc.Arbitrary<Json>).map(([base, i, v]) =>
  mutate(base, i, 'any', (doc, p) => {
    const { parent, key } = at(doc, p);
    parent[key] = v;
    return { kind: 'any value', invalid: false };
  }),
);

/** A value changed within its type (numbers, strings, markup in strings): refused or rendered. */
const sameType = fc
  .tuple(name, pick, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.oneof(fc.string(), fc.constantFrom('</script><b>', '|`*_[x](y)\n#', '', 'a'.repeat(500))))
  .map(([base, i, n, s]) =>
    mutate(base, i, 'any', (doc, p, old) => {
      const { parent, key } = at(doc, p);
      if (typeof old === 'number') parent[key] = n;
      else if (typeof old === 'string') parent[key] = s;
      return { kind: 'same type', invalid: false };
    }),
  );

/** A key no reader knows, added to a mapping: accepted, except among the scenario's settings (a strict format). */
const unknownKey = fc
  .tuple(name, pick, fc.string({ minLength: 1 }).map((s) => `zz${s}`), fc.jsonValue() as fc.Arbitrary<Json>)
  .map(([base, i, k, v]) =>
    mutate(base, i, 'mapping', (doc, p) => {
      (valueAtPath(doc, p) as Record<string, Json>)[k] = v;
      // Mappings of free keys (error codes, counters, sysctls, headers) take any name.
      const invalid = inScenario(p) && formatPath(p) !== 'scenario.request.headers';
      return { kind: 'unknown key', invalid, mentions: invalid ? formatPath([...p, k]) : undefined, what: `${formatPath(p)} + ${JSON.stringify(k)}` };
    }),
  );

/** The schema number changed to one no reader knows. */
const schemaNumber = fc
  .tuple(name, fc.oneof(fc.integer().filter((n) => !(READABLE_SCHEMAS as readonly number[]).includes(n)), fc.constantFrom<Json>('1', null, true, [1], { v: 1 })), fc.boolean())
  .map(([base, v, drop]): Case => {
    const doc = JSON.parse(TEXT[base]) as Record<string, Json>;
    if (drop) delete doc.schema;
    else doc.schema = v;
    return { kind: 'schema', base, text: JSON.stringify(doc), invalid: true, mentions: 'schema' };
  });

/** The file cut short before its closing brace. */
const truncated = fc.tuple(name, fc.nat()).map(([base, n]): Case => {
  const end = TEXT[base].lastIndexOf('}');
  return { kind: 'truncated', base, text: TEXT[base].slice(0, n % end), invalid: true, mentions: 'not valid JSON' };
});

/** A root that is not a mapping. */
const notAMapping = fc
  .oneof(fc.array(fc.jsonValue()), fc.string(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null))
  .map((v): Case => ({ kind: 'not a mapping', base: 'healthy', text: JSON.stringify(v), invalid: true, mentions: 'not a portstorm run record' }));

/** A value nested thousands deep, in a field no reader knows or in place of a known one. */
const deep = fc.tuple(name, fc.nat(), fc.integer({ min: 65, max: 20_000 }), fc.boolean()).map(([base, i, depth, known]) => {
  // JSON.stringify recurses, so the nesting goes into the text after it is written.
  const c = mutate(base, i, known ? 'any' : 'mapping', (doc, p) => {
    if (known) at(doc, p).parent[at(doc, p).key] = '@@DEEP@@';
    else (valueAtPath(doc, p) as Record<string, Json>).zzDeep = '@@DEEP@@';
    return { kind: 'deep', invalid: !known, mentions: known ? undefined : 'nested more than', what: `${formatPath(p)}${known ? '' : '.zzDeep'}: depth ${depth}` };
  });
  return { ...c, text: c.text.replace('"@@DEEP@@"', '['.repeat(depth) + ']'.repeat(depth)) };
});

const bytes = fc.uint8Array({ maxLength: 300 }).map((b): Case => ({ kind: 'random bytes', base: 'healthy', text: Buffer.from(b).toString('latin1'), invalid: true }));

/** Several values changed within their types at once (numbers stay >= 0 half the time): refused or rendered. */
const several = fc
  .tuple(name, fc.array(fc.tuple(fc.nat(), fc.oneof(fc.nat(), fc.double({ noNaN: true, noDefaultInfinity: true })), fc.string()), { minLength: 2, maxLength: 6 }))
  .map(([base, edits]): Case => {
    const doc = JSON.parse(TEXT[base]) as Json;
    const all = PICKS[base].any;
    const what: string[] = [];
    for (const [i, n, str] of edits) {
      const { path: p, value } = all[i % all.length]!;
      const { parent, key } = at(doc, p);
      if (typeof value === 'number') parent[key] = n;
      else if (typeof value === 'string') parent[key] = str;
      else if (typeof value === 'boolean') parent[key] = !value;
      else continue;
      what.push(`${formatPath(p)} = ${JSON.stringify(parent[key])}`);
    }
    return { kind: 'several', base, text: JSON.stringify(doc), invalid: false, what: what.join(', ') };
  });

const cases = fc.oneof(
  { arbitrary: wrongType, weight: 4 },
  { arbitrary: deleted, weight: 3 },
  { arbitrary: outOfRange, weight: 2 },
  { arbitrary: anyValue, weight: 3 },
  { arbitrary: sameType, weight: 3 },
  { arbitrary: unknownKey, weight: 1 },
  { arbitrary: schemaNumber, weight: 1 },
  { arbitrary: truncated, weight: 1 },
  { arbitrary: notAMapping, weight: 1 },
  { arbitrary: bytes, weight: 1 },
  { arbitrary: several, weight: 2 },
  { arbitrary: deep, weight: 1 },
).map(shown);

const fixtures = new Map<Name, RunRecord>();
/** A fresh copy of a fixture as `readAnalysedRun` returns it. */
async function fixture(n: Name): Promise<RunRecord> {
  if (!fixtures.has(n)) fixtures.set(n, await readAnalysedRun(`${FIX}${n}.json`));
  return structuredClone(fixtures.get(n)!);
}

/**
 * Decoding a record's HDR histograms takes ~70 ms (compare recomputes latency from them), too slow
 * for a thousand cases; a blank histogram is valid (compare falls back to the stored summary), so
 * compare sees blank ones unless the case changed the histograms themselves.
 */
function blankHistograms(r: RunRecord): RunRecord {
  return { ...r, histograms: { latency: '', latencyUncorrected: '', connect: '', ttfb: '' } };
}

/** Every rendering `report` and `compare` can make of an accepted record. */
async function renderAll(rec: RunRecord, other: Name, keepHistograms = false): Promise<void> {
  renderTextSummary(rec, null);
  renderMarkdown(rec);
  renderHtml(rec);
  JSON.stringify(rec);
  const cand = keepHistograms ? rec : blankHistograms(rec);
  const base = keepHistograms ? await fixture(other) : blankHistograms(await fixture(other));
  for (const runs of [[base, cand], [cand, structuredClone(cand)]]) {
    const result = compareRuns(runs);
    renderCompareText(result);
    renderCompareMarkdown(result);
    renderCompareHtml(runs, result);
  }
}

/** Line breaks and other control characters (terminal escapes): a message has none. */
const CONTROL = /[\u0000-\u001f\u007f\u2028\u2029]/;

const stats = new Map<string, { accepted: number; refused: number }>();

describe('run records, mutated (fast-check)', () => {
  it('are refused with one line naming the file and the field, or accepted and rendered in every format', async (t) => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        const file = path.join(dir, `case-${n++ % 8}.json`);
        writeFileSync(file, c.kind === 'random bytes' ? Buffer.from(c.text, 'latin1') : c.text);
        let rec: RunRecord | null = null;
        try {
          rec = await readAnalysedRun(file);
        } catch (err) {
          if (!(err instanceof UsageError)) throw new Error(`${c.kind}: not a UsageError: ${(err as Error)?.stack ?? String(err)}`);
          assert.equal(err.exitCode, 2);
          assert.doesNotMatch(err.message, CONTROL, `${c.kind}: not one printable line`);
          assert.ok(err.message.startsWith(`${file}: `), `${c.kind}: does not start with the file: ${err.message}`);
          if (c.mentions) assert.ok(err.message.includes(c.mentions), `${c.kind}: does not mention ${c.mentions}: ${err.message}`);
        }
        const s = stats.get(c.kind) ?? { accepted: 0, refused: 0 };
        if (rec) s.accepted++;
        else s.refused++;
        stats.set(c.kind, s);
        if (rec === null) return;
        assert.ok(!c.invalid, `${c.kind}: accepted, but the record is wrong by construction`);
        await renderAll(rec, c.base === 'healthy' ? 'exhaustion' : 'healthy', c.path?.startsWith('histograms') ?? false);
      }),
      settings(0x5eed_0003),
    );
    t.diagnostic(`accepted/refused by kind: ${JSON.stringify(Object.fromEntries(stats))}`);
    // Each kind of mutation ran, and the mixes both refused and accepted records.
    const total = [...stats.values()].reduce((a, s) => a + s.accepted + s.refused, 0);
    assert.ok(total >= 1000, `ran ${total} cases`);
    for (const kind of ['wrong type', 'deleted', 'out of range', 'any value', 'same type', 'unknown key', 'schema', 'truncated', 'not a mapping', 'random bytes', 'several', 'deep']) {
      assert.ok(stats.has(kind), `no ${kind} case ran`);
    }
    assert.ok(stats.get('wrong type')!.refused > 0 && stats.get('same type')!.accepted > 0);
  });

  it('the shipped fixtures are accepted as they are', async () => {
    for (const n of NAMES) await renderAll(await fixture(n), n === 'healthy' ? 'exhaustion' : 'healthy', true);
  });
});

describe('report and compare on bad records (real processes)', () => {
  const noStack = (text: string) => assert.doesNotMatch(text, /^\s+at /m, `stack trace in: ${text}`);
  function cli(args: string[]): { status: number | null; stderr: string } {
    const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 30_000, cwd: dir });
    return { status: r.status, stderr: r.stderr };
  }
  const good = `${FIX}healthy.json`;
  const healthy = JSON.parse(TEXT.healthy) as Record<string, Json>;
  const bad: Array<[string, string, RegExp]> = [
    ['truncated.json', TEXT.healthy.slice(0, 400), /truncated\.json: not valid JSON/],
    ['bytes.json', '\u0000\u00ff\u0001garbage', /bytes\.json: not valid JSON/],
    ['list.json', '[1, 2, 3]', /list\.json: not a portstorm run record of schema 1 or 2 \(the file holds a list/],
    ['schema3.json', JSON.stringify({ ...healthy, schema: 3 }), /schema3\.json: not a portstorm run record of schema 1 or 2 \(its schema is 3\)/],
    ['totals.json', JSON.stringify({ ...healthy, totals: { ...(healthy.totals as object), completed: 'many' } }), /totals\.json: totals\.completed: expected a number, got "many"/],
    ['timeline.json', JSON.stringify({ ...healthy, timeline: [{ t: 0 }] }), /timeline\.json: timeline\[0\]\.attempted: missing/],
  ];
  for (const [name, text] of bad) writeFileSync(path.join(dir, name), text);

  for (const [name, , expected] of bad) {
    for (const args of [['report', name], ['compare', good, name]]) {
      it(`${args[0]} ${name}: exit 2, one line naming the file and the field, no stack trace`, () => {
        const r = cli(args);
        assert.equal(r.status, 2, r.stderr);
        assert.match(r.stderr, expected);
        assert.match(r.stderr, /^portstorm: [^\n]*\n$/);
        noStack(r.stderr);
      });
    }
  }
});
