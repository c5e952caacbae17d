/**
 * Differential test of the two HTTP framers: native/connengine/framer.c (through the plain driver
 * native/connengine/fuzz/framer_driver.c, built here with `cc`) and httpResponseReader in
 * src/load/transport/readers.ts get the same reads and must reach the same outcome: the read that
 * completes the response (so, fed one byte per read, the response's length), complete or cut short
 * at EOF, the failure (null, HTTP_4XX, HTTP_5XX: the status class; PROTOCOL) and keep-alive.
 * readers.ts does not expose the status itself; the driver's status is checked against the class.
 *
 * Inputs: every file of the fuzzer's seed corpus (native/connengine/fuzz/corpus: a mode byte, bit 0
 * HEAD, then the response) fed whole, one byte per read and split in two at every byte; and
 * fast-check-generated responses and corpus mutations split at random points (fixed seed). Set
 * PORTSTORM_FRAMER_CORPUS=<dir> to add a directory of inputs in the same format, e.g. the corpus a
 * long fuzzing run left in build/fuzz/framer-corpus. native/connengine/fuzz/framer_regress.c holds
 * the framer's regression checks too big to pipe (a 4 GiB trailer line). Both programs must build:
 * this test fails without a C compiler, it is not skipped.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { httpResponseReader } from '../../src/load/transport/readers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FRAMER = path.join(ROOT, 'native/connengine');
const CORPUS = path.join(FRAMER, 'fuzz/corpus');

type Case = { label: string; isHead: boolean; pieces: Buffer[] };
type Outcome = { at: number; done: boolean; failure: string | null; keepAlive: boolean };
type NativeOutcome = Outcome & { status: number };

let driver = '';
let regress = '';

before(() => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-framer-driver-'));
  const cc = process.env.CC ?? 'cc';
  const build = (name: string): string => {
    const exe = path.join(dir, name);
    const args = ['-std=gnu11', '-O1', '-Wall', '-Wextra', '-Wno-unused-parameter', '-o', exe, path.join(FRAMER, `fuzz/${name}.c`), path.join(FRAMER, 'framer.c'), '-lm'];
    const r = spawnSync(cc, args, { encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`cannot build ${name} with ${cc}: ${r.error?.message ?? ''}${r.stderr}`);
    return exe;
  };
  driver = build('framer_driver');
  regress = build('framer_regress');
});

/** The C framer's outcomes, one per case, from one run of the driver. */
function native(cases: Case[]): NativeOutcome[] {
  const parts: Buffer[] = [];
  for (const c of cases) {
    const h = Buffer.alloc(5);
    h[0] = c.isHead ? 1 : 0;
    h.writeUInt32LE(c.pieces.length, 1);
    parts.push(h);
    for (const p of c.pieces) {
      const l = Buffer.alloc(4);
      l.writeUInt32LE(p.length);
      parts.push(l, p);
    }
  }
  const r = spawnSync(driver, [], { input: Buffer.concat(parts), maxBuffer: 1 << 30, timeout: 300_000, encoding: 'utf8' });
  assert.equal(r.status, 0, `framer driver: ${r.error?.message ?? ''}${r.stderr}`);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines.length, cases.length, 'one outcome per case');
  return lines.map((l) => JSON.parse(l) as NativeOutcome);
}

/** readers.ts's outcome for the same reads, as the JS engine feeds them. */
function js(c: Case): Outcome {
  const reader = httpResponseReader(c.isHead);
  for (const [i, p] of c.pieces.entries()) {
    const s = reader.feed(p);
    if (s.done) return { at: i, done: true, failure: s.failure, keepAlive: s.keepAlive };
  }
  const s = reader.end();
  return s === null || !s.done ? { at: -1, done: false, failure: null, keepAlive: false } : { at: -1, done: true, failure: s.failure, keepAlive: s.keepAlive };
}

const show = (b: Buffer): string => JSON.stringify(b.toString('latin1').slice(0, 160));

function assertAgree(cases: Case[]): void {
  const out = native(cases);
  let mismatches = 0;
  const report: string[] = [];
  for (const [i, c] of cases.entries()) {
    const n = out[i]!;
    const { status, ...nOutcome } = n;
    const j = js(c);
    if (n.done && n.failure !== 'PROTOCOL') {
      const cls = status >= 500 ? 'HTTP_5XX' : status >= 400 ? 'HTTP_4XX' : null;
      assert.equal(n.failure, cls, `${c.label}: failure class of status ${status}`);
    }
    try {
      assert.deepEqual(nOutcome, j);
    } catch {
      mismatches++;
      if (report.length < 10) {
        report.push(`${c.label} (${c.isHead ? 'HEAD' : 'GET'}, ${c.pieces.length} reads): C ${JSON.stringify(n)} JS ${JSON.stringify(j)}: ${show(Buffer.concat(c.pieces))}`);
      }
    }
  }
  assert.equal(mismatches, 0, `${mismatches} of ${cases.length} cases disagree:\n${report.join('\n')}`);
}

/** Pieces of `b` cut at `cuts` (positions, any order; empty pieces dropped, as a read never returns 0 bytes). */
function split(b: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (b.length + 1)))].filter((c) => c > 0 && c < b.length).sort((x, y) => x - y);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of [...at, b.length]) {
    if (c > from) out.push(b.subarray(from, c));
    from = c;
  }
  return out;
}

function corpusFiles(dir: string): { name: string; isHead: boolean; data: Buffer }[] {
  return readdirSync(dir)
    .sort()
    .map((name) => {
      const b = readFileSync(path.join(dir, name));
      return { name, isHead: b.length > 0 && (b[0]! & 1) === 1, data: b.subarray(1) };
    });
}

/** Whole, one byte per read, and in two at every byte (at most `twoWay` positions, evenly spread). */
function everySplit(label: string, isHead: boolean, data: Buffer, twoWay = Infinity): Case[] {
  const cases: Case[] = [
    { label: `${label} whole`, isHead, pieces: split(data, []) },
    { label: `${label} bytewise`, isHead, pieces: [...data].map((_, i) => data.subarray(i, i + 1)) },
  ];
  const step = Math.max(1, Math.ceil((data.length - 1) / twoWay));
  for (let k = 1; k < data.length; k += step) cases.push({ label: `${label} split@${k}`, isHead, pieces: split(data, [k]) });
  return cases;
}

describe('framer.c = readers.ts (differential)', () => {
  it('agrees on every seed-corpus file, whole, bytewise and split in two at every byte', () => {
    const files = corpusFiles(CORPUS);
    assert.ok(files.length >= 40, `seed corpus in ${CORPUS}`);
    assertAgree(files.flatMap((f) => [...everySplit(f.name, f.isHead, f.data), ...everySplit(`${f.name} (flipped HEAD)`, !f.isHead, f.data, 8)]));
  });

  it('agrees on generated responses and corpus mutations split at random points (fixed seed)', () => {
    const ws = fc.constantFrom('', ' ', '\t', '\xa0', '\x0b');
    const status = fc.oneof(
      fc.tuple(fc.constantFrom('1.1', '1.0'), fc.constantFrom('000', '099', '100', '101', '199', '200', '204', '304', '399', '404', '499', '500', '999'), fc.constantFrom(' OK', '', ' X y')).map(
        ([v, s, r]) => `HTTP/${v} ${s}${r}`,
      ),
      fc.constantFrom('HTTP/2 200 OK', 'HTTP/1.2 200 OK', 'HTTP/1.1 20', 'HTTP/1.1  200', 'HTTP/1.1 2000', ''),
    );
    const header = fc.oneof(
      fc.tuple(ws, fc.constantFrom('Content-Length', 'content-LENGTH'), ws, fc.constantFrom('0', '3', '007', '-1', '1e3', '0x10', '', '18446744073709551616', '9'.repeat(330))).map(
        ([a, n, b, v]) => `${a}${n}${b}:${b}${v}${a}`,
      ),
      fc.tuple(ws, fc.constantFrom('chunked', 'Chunked', 'gzip,chunked', 'chunked , gzip', 'chunked\xa0', 'xchunked', '')).map(([a, v]) => `Transfer-Encoding:${a}${v}`),
      fc.constantFrom('Connection: close', 'Connection: keep-alive', 'Connection: Keep-Alive, close', 'Connection: upgrade', 'X: y', 'no-colon', ':x'),
    );
    const size = fc.tuple(ws, fc.constantFrom('', '+', '-', '0x', '-0x', '0X'), fc.oneof(fc.nat(30), fc.constantFrom(2 ** 53, 2 ** 60)), fc.constantFrom('', ';e=1', 'g', ' ;', ';' + 'e'.repeat(1030))).map(
      ([w, p, n, ext]) => `${w}${p}${n.toString(16)}${ext}`,
    );
    const chunks = fc
      .tuple(fc.array(fc.tuple(size, fc.nat(30), fc.constantFrom('\r\n', '\n', 'xx')), { maxLength: 4 }), fc.constantFrom('0\r\n\r\n', '0\r\nT: 1\r\n\r\n', '0\n\n', '0\r\n\r', '0\r\n\rx\r\n\r\n', ''))
      .map(([cs, last]) => cs.map(([s, n, end]) => `${s}\r\n${'d'.repeat(n)}${end}`).join('') + last);
    const body = fc.oneof(chunks, fc.string({ maxLength: 30 }), fc.constant(''));
    const message = fc.tuple(status, fc.array(header, { maxLength: 5 }), fc.constantFrom('\r\n\r\n', '\n\n', '\r\n'), body).map(([s, h, sep, b]) => [s, ...h].join('\r\n') + sep + b);
    const response = fc.array(message, { minLength: 1, maxLength: 3 }).map((m) => Buffer.from(m.join(''), 'latin1'));

    const files = corpusFiles(CORPUS).filter((f) => f.data.length > 0);
    const mutation = fc
      .tuple(fc.constantFrom(...files), fc.array(fc.tuple(fc.nat(), fc.nat(255), fc.constantFrom('set', 'insert', 'delete')), { minLength: 1, maxLength: 4 }))
      .map(([f, edits]) => {
        const b = [...f.data];
        for (const [at, v, op] of edits) {
          const i = at % (b.length + 1);
          if (op === 'insert') b.splice(i, 0, v);
          else if (op === 'delete') b.splice(i, 1);
          else if (i < b.length) b[i] = v;
        }
        return Buffer.from(b);
      });

    const gen = fc.tuple(fc.oneof(response, mutation), fc.array(fc.nat(), { maxLength: 10 }), fc.boolean());
    const cases = fc.sample(gen, { seed: 13, numRuns: 6000 }).map(([b, cuts, isHead], i) => ({ label: `sample ${i}`, isHead, pieces: split(b, cuts) }));
    assertAgree(cases);
  });

  it('readers.ts keeps no endless trailer line (it threw "Invalid string length" after ~512 MiB)', () => {
    const head = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n', 'latin1');
    const junk = Buffer.alloc(1 << 20, 0x41);
    for (const ending of ['\r\n\r\n', '\n\n', '\r\r\n\r\n']) {
      const reader = httpResponseReader(false);
      assert.deepEqual(reader.feed(head), { done: false });
      for (let i = 0; i < 600; i++) assert.deepEqual(reader.feed(junk), { done: false });
      assert.deepEqual(reader.feed(Buffer.from(ending, 'latin1')), { done: true, failure: null, keepAlive: true });
    }
    const pieces = [head, junk, Buffer.from('\r\n\r\n', 'latin1')];
    assertAgree([{ label: 'endless trailer line', isHead: false, pieces }]);
  });

  it('framer.c: regression checks too big for the driver (native/connengine/fuzz/framer_regress.c)', () => {
    const r = spawnSync(regress, [], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `${r.error?.message ?? ''}${r.stdout}${r.stderr}`);
    assert.equal(r.stdout, 'ok\n');
  });

  const extra = process.env.PORTSTORM_FRAMER_CORPUS;
  if (extra) it(`agrees on the inputs in PORTSTORM_FRAMER_CORPUS (${extra})`, () => {
    const files = corpusFiles(extra);
    const rnd = fc.sample(fc.array(fc.nat(), { maxLength: 12 }), { seed: 5, numRuns: files.length * 2 });
    const cases = files.flatMap((f, i) => [
      ...everySplit(f.name, f.isHead, f.data, 4),
      { label: `${f.name} random`, isHead: f.isHead, pieces: split(f.data, rnd[2 * i]!) },
      { label: `${f.name} random (flipped HEAD)`, isHead: !f.isHead, pieces: split(f.data, rnd[2 * i + 1]!) },
    ]);
    for (let i = 0; i < cases.length; i += 20_000) assertAgree(cases.slice(i, i + 20_000));
  });
});
