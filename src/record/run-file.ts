/**
 * Reading and writing run records. Writes are atomic and durable: a temp file, fsynced, renamed
 * over the target, so a reader (or a crash) sees the old file or the new one, never a torn one.
 */
import { statfsSync, statSync, realpathSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { RuntimeFailure, UsageError } from '../errors.js';
import { displayArg, formatIssues, formatPath } from '../scenario/load.js';
import { runRecordSchema } from './schema.js';
import { READABLE_SCHEMAS, type RunRecord } from './types.js';

/**
 * Writes `record` as `dir/run.json` atomically; returns the file path. The record is serialized
 * before the first await, so the caller's synchronous cost ends when this returns its promise.
 * When `dir` cannot be written (disk full, permissions changed during the run) the record goes to
 * the fallback directory instead (see {@link writeBeside}): a finished run is never lost.
 */
export async function writeRunRecord(dir: string, record: RunRecord): Promise<string> {
  return writeBeside(dir, 'run.json', JSON.stringify(record, null, 1) + '\n');
}

/**
 * Writes `record` as `dir/run.json` as {@link writeRunRecord} does, the same bytes, but serialized one
 * top-level field (and one host) at a time: for a record too big to hold as one string besides
 * itself (a merge of many shards). The record must not change until the promise settles.
 */
export async function writeRunRecordStreamed(dir: string, record: RunRecord): Promise<string> {
  return writeBeside(dir, 'run.json', () => recordChunks(record));
}

/** `JSON.stringify(record, null, 1) + '\n'` in pieces: each top-level field, and each host of `hosts`. */
export function* recordChunks(record: RunRecord): Generator<string> {
  const fields = Object.entries(record).filter(([, v]) => v !== undefined && typeof v !== 'function');
  yield '{\n';
  for (const [i, [key, value]] of fields.entries()) {
    yield ` ${JSON.stringify(key)}: `;
    const hosts = key === 'hosts' && value !== null && typeof value === 'object' ? Object.entries(value as object).filter(([, h]) => h !== undefined) : null;
    if (hosts && hosts.length > 0) {
      yield '{\n';
      for (const [j, [name, h]] of hosts.entries()) yield `  ${JSON.stringify(name)}: ${JSON.stringify(h, null, 1).replace(/\n/g, '\n  ')}${j < hosts.length - 1 ? ',' : ''}\n`;
      yield ' }';
    } else yield JSON.stringify(value, null, 1).replace(/\n/g, '\n ');
    yield i < fields.length - 1 ? ',\n' : '\n';
  }
  yield '}\n';
}

/** Where a revised record went (see {@link reviseRunRecord}). */
export interface RevisedRecord {
  /** The revised record's file, and its directory (where the report goes beside it). */
  file: string;
  dir: string;
  /** The record as it was before any revision: `<name>.orig.json` beside it, or the file itself when the revision went elsewhere. */
  original: string;
  /** True when an earlier revision had already kept the original (this one left it alone). */
  keptBefore: boolean;
  /** Why the revision went to the fallback directory rather than beside the original, or null. */
  fallback: string | null;
}

/** `run.json` → `run.orig.json` (any name: `<stem>.orig.json`). */
export function originalName(base: string): string {
  return `${base.replace(/\.json$/i, '')}.orig.json`;
}

/**
 * Rewrites the run record `file` as `record` without losing what was there: the first revision
 * keeps the file as it was, byte for byte, as `<stem>.orig.json` beside it (later ones leave that
 * copy alone, so it stays the record as the run wrote it), then `file` is replaced atomically.
 * When the copy cannot be written, the original is left untouched and the revised record goes to
 * the fallback directory (see {@link fallbackDir}); only when that fails too is it a `RuntimeFailure`.
 */
export async function reviseRunRecord(file: string, record: RunRecord): Promise<RevisedRecord> {
  const text = JSON.stringify(record, null, 1) + '\n';
  const dir = path.dirname(file);
  const base = path.basename(file);
  const original = path.join(dir, originalName(base));
  const keptBefore = await stat(original).then(
    () => true,
    () => false,
  );
  let why: string | null = null;
  try {
    if (!keptBefore) await writeAtomic(dir, originalName(base), await readFile(file));
  } catch (err) {
    if (NOT_THE_PLACE.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    why = `cannot keep the original as ${displayArg(original)} (${errnoText(err)})`;
  }
  if (why === null) {
    const written = await writeBeside(dir, base, text);
    return { file: written, dir: path.dirname(written), original, keptBefore, fallback: null };
  }
  const fallback = fallbackDir(dir);
  try {
    return { file: await writeAtomic(fallback, base, text), dir: fallback, original: file, keptBefore: false, fallback: why };
  } catch (err) {
    throw new RuntimeFailure(`${why}, nor write ${path.join(fallback, base)} (${errnoText(err)})`);
  }
}

/** The file a run record is read from: `where` itself, or `where/run.json` for a directory. */
export async function runRecordFile(where: string): Promise<string> {
  const isDir = await stat(where).then(
    (st) => st.isDirectory(),
    () => false,
  );
  return isDir ? path.join(where, 'run.json') : where;
}

/** The directory a write to `dir` falls back to: `<os.tmpdir()>/portstorm-<last part of dir>` (the run id for a run directory). */
export function fallbackDir(dir: string): string {
  return path.join(os.tmpdir(), `portstorm-${path.basename(path.resolve(dir))}`);
}

/** Directories whose fallback has been announced on stderr, so a run says it once, not at every checkpoint. */
const announced = new Set<string>();

/**
 * Writes a text file next to run.json atomically and durably; returns its path. When `dir` cannot
 * be written, writes `fallbackDir(dir)/name` instead, says so on stderr (once per directory) and
 * returns that path; only when both fail does it throw a `RuntimeFailure` naming both.
 */
export async function writeBeside(dir: string, name: string, text: string | (() => Iterable<string>)): Promise<string> {
  try {
    return await writeAtomic(dir, name, text);
  } catch (err) {
    // Out of descriptors is not about the place: another directory would fail the same way.
    if (NOT_THE_PLACE.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    const fallback = fallbackDir(dir);
    const why = errnoText(err);
    try {
      const file = await writeAtomic(fallback, name, text);
      if (!announced.has(dir)) {
        announced.add(dir);
        process.stderr.write(`portstorm: cannot write ${displayArg(path.join(dir, name))} (${why}); writing to ${fallback} instead\n`);
      }
      return file;
    } catch (err2) {
      throw new RuntimeFailure(`cannot write ${displayArg(path.join(dir, name))} (${why}) nor ${path.join(fallback, name)} (${errnoText(err2)})`);
    }
  }
}

/** Write failures a fallback directory cannot help with. */
const NOT_THE_PLACE = new Set(['EMFILE', 'ENFILE']);

async function writeAtomic(dir: string, name: string, text: string | Buffer | (() => Iterable<string>)): Promise<string> {
  // Node's recursive mkdir never returns on /proc: refuse a pseudo-filesystem before trying.
  const pseudo = pseudoFilesystem(dir);
  if (pseudo) throw Object.assign(new Error(`${pseudo} is not for files`), { code: 'EPSEUDOFS' });
  await makeDirs(dir);
  const file = path.join(dir, name);
  const tmp = `${file}.${process.pid}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    try {
      if (typeof text === 'function') for (const chunk of text()) await handle.write(chunk);
      else await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    // A disk that filled up mid-write: no half-written temp file is left behind.
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  return file;
}

/**
 * `mkdir -p`, one level at a time: a recursive mkdir on a read-only filesystem reports ENOENT, not
 * EROFS, and never returns on /proc. A level another process made meanwhile is fine.
 */
async function makeDirs(dir: string): Promise<void> {
  const { at, isDirectory } = nearestExisting(dir);
  if (!isDirectory) throw Object.assign(new Error(`${at} is not a directory`), { code: 'ENOTDIR' });
  const missing = path.relative(at, path.resolve(dir)).split(path.sep).filter(Boolean);
  for (let i = 1; i <= missing.length; i++) {
    await mkdir(path.join(at, ...missing.slice(0, i))).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
}

/** `EACCES: permission denied`, or the message of an error without a code. */
function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const reason = ERRNO_REASONS[e.code ?? ''];
  return e.code ? (reason ? `${e.code}: ${reason}` : e.code) : oneLine(String(e.message ?? err));
}

const ERRNO_REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  ENOTDIR: 'not a directory',
  EEXIST: 'file exists',
  ENOENT: 'no such file or directory',
  EPSEUDOFS: 'a kernel pseudo-filesystem',
};

/** Kernel pseudo-filesystems by statfs magic: they hold no files, and recursive mkdir loops on some. */
const PSEUDO_FS: Record<number, string> = {
  0x9fa0: 'proc',
  0x62656572: 'sysfs',
  0x27e0eb: 'cgroup',
  0x63677270: 'cgroup2',
  0x64626720: 'debugfs',
  0x73636673: 'securityfs',
  0x74726163: 'tracefs',
  0xcafe4a11: 'bpf',
};

/** The nearest part of `p` (itself or an ancestor) that exists, and what it is. */
function nearestExisting(p: string): { at: string; isDirectory: boolean } {
  let at = path.resolve(p);
  for (;;) {
    try {
      return { at, isDirectory: statSync(at).isDirectory() };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const up = path.dirname(at);
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || up === at) throw err;
      at = up;
    }
  }
}

/**
 * `/proc`, `/sys` (or the name of another kernel pseudo-filesystem) when `dir` is on one, else null.
 * Judged by the real path and by the filesystem type of the nearest existing ancestor, so a bind
 * mount or a symlink into /proc is caught too.
 */
export function pseudoFilesystem(dir: string): string | null {
  let at: string;
  try {
    at = realpathSync(nearestExisting(dir).at);
  } catch {
    return null;
  }
  for (const root of ['/proc', '/sys']) if (at === root || at.startsWith(`${root}/`)) return root;
  try {
    const type = PSEUDO_FS[Number(statfsSync(at).type)];
    if (type) return `a ${type} filesystem`;
  } catch {
    // statfs unavailable: the path test above is what there is
  }
  return null;
}

/**
 * Checks, before any load, that `dir` can hold results: refuses /proc, /sys and other kernel
 * pseudo-filesystems, a path through a file, and a directory that cannot be written (it creates
 * `dir` and a probe file in it, then removes the probe). Throws a one-line `UsageError` naming
 * `flag` (exit 2); returns the absolute directory.
 */
export async function checkOutputDir(dir: string, flag = '--out'): Promise<string> {
  const shown = `${flag} ${displayArg(dir)}`;
  const abs = path.resolve(dir);
  const pseudo = pseudoFilesystem(abs);
  if (pseudo) throw new UsageError(`${shown}: ${pseudo} is a kernel pseudo-filesystem, not a place for results; choose a directory on a disk`);
  let existing: { at: string; isDirectory: boolean };
  try {
    existing = nearestExisting(abs);
  } catch (err) {
    throw new UsageError(`${shown}: cannot look at it (${errnoText(err)})`);
  }
  if (!existing.isDirectory) {
    throw new UsageError(`${shown}: ${existing.at === abs ? 'it' : displayArg(existing.at)} is a file, not a directory`);
  }
  const probe = path.join(abs, `.portstorm-probe-${process.pid}`);
  try {
    await makeDirs(abs);
    const handle = await open(probe, 'wx');
    await handle.close();
    await unlink(probe);
  } catch (err) {
    await rm(probe, { force: true }).catch(() => undefined);
    throw new UsageError(`${shown}: cannot write there (${errnoText(err)}); choose a writable directory`);
  }
  return abs;
}

/**
 * Reads a run record from a run directory or a run.json path (any file is read as it is). Anything
 * that is not a whole record of the current schema is a one-line `UsageError`: `<file>: <path>:
 * <what is wrong>`, or `<file>: <path>: ...; <path>: ... (N problems)` listing each; a scenario file
 * is told as a scenario, and a directory of runs names one of them.
 */
export async function readRunRecord(where: string): Promise<RunRecord> {
  const kind = await stat(where).then(
    (st) => (st.isDirectory() ? 'dir' : 'file'),
    () => 'missing',
  );
  // A file is read as it is, whatever its name; a directory means its run.json; a name that does
  // not exist is told as given.
  const target = kind === 'dir' ? path.join(where, 'run.json') : where;
  const file = displayArg(target);
  let text: string;
  try {
    text = await readFile(target, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (kind === 'dir' && code === 'ENOENT') {
      const runs = await runsIn(where);
      if (runs.length > 0) {
        const n = runs.length === 1 ? 'one run' : `${runs.length} runs`;
        throw new UsageError(`${displayArg(where)} is a results directory holding ${n}: name a run directory in it, e.g. ${displayArg(path.join(where, runs.at(-1)!))}`);
      }
    }
    throw new UsageError(`cannot read run record ${file}: ${code ?? String(err)}`);
  }
  return parseRunRecord(text, file);
}

/**
 * A run record from the text of a run.json, checked as {@link readRunRecord} checks a file: anything
 * that is not a whole record of a readable schema is a one-line `UsageError` starting with `file`
 * (the name the text is told by: a path, or `pod.log (last PORTSTORM-RECORD line)`).
 */
export function parseRunRecord(text: string, file: string): RunRecord {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    if (looksLikeScenario(text)) throw new UsageError(scenarioNotRun(file));
    throw new UsageError(`${file}: not valid JSON (${oneLine((err as Error).message)})`);
  }
  return checkRunRecord(doc, file);
}

/** A parsed run.json checked as {@link parseRunRecord} checks one (the same one-line errors), its scenario resolved. */
export function checkRunRecord(doc: unknown, file: string): RunRecord {
  const deep = tooDeep(doc);
  if (deep) throw new UsageError(`${file}: ${formatPath(deep.slice(0, 4))}${deep.length > 4 ? '...' : ''}: nested more than ${MAX_DEPTH} levels deep`);
  const rec = doc as Partial<RunRecord>;
  if (isMapping(doc) && doc.schema === undefined && 'load' in doc) throw new UsageError(scenarioNotRun(file));
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec) || !(READABLE_SCHEMAS as readonly unknown[]).includes(rec.schema)) {
    throw new UsageError(`${file}: not a portstorm run record of schema ${READABLE_SCHEMAS.join(' or ')} (${notARecord(doc)})`);
  }
  const result = runRecordSchema.safeParse(doc);
  if (!result.success) {
    // Every problem, on one line: `<file>: a.b: ...; c: ... (2 problems)`.
    const lines = formatIssues(file, result.error.issues, doc, runRecordSchema);
    if (lines.length <= 1) throw new UsageError(lines[0] ?? `${file}: not a valid run record`);
    const each = lines.map((l) => l.slice(`${file}: `.length));
    throw new UsageError(`${file}: ${each.join('; ')} (${lines.length} problems)`);
  }
  // The stored scenario is resolved again, so readers see every default even where the file omits one.
  return { ...(rec as RunRecord), scenario: result.data.scenario };
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True when `text` is not JSON but a YAML mapping with a `load` key: a scenario file. */
function looksLikeScenario(text: string): boolean {
  try {
    const doc: unknown = parseYaml(text, { logLevel: 'silent' });
    return isMapping(doc) && 'load' in doc;
  } catch {
    return false;
  }
}

function scenarioNotRun(file: string): string {
  return `${file} is a scenario, not a run record: run it with \`portstorm run ${file}\`, then report the run directory it prints`;
}

/** The run directories directly inside `dir` (those holding a run.json), oldest name first. */
async function runsIn(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const runs: string[] = [];
  for (const n of names.sort()) if (await stat(path.join(dir, n, 'run.json')).then((s) => s.isFile(), () => false)) runs.push(n);
  return runs;
}

/** A record nests a few levels; JSON.parse takes any depth, but writing it out again (JSON, HTML) recurses. */
const MAX_DEPTH = 64;

/** The path of the first value nested deeper than MAX_DEPTH, or null. Iterative, so any depth is safe. */
function tooDeep(doc: unknown): Array<string | number> | null {
  const stack: Array<{ value: unknown; path: Array<string | number> }> = [{ value: doc, path: [] }];
  while (stack.length > 0) {
    const { value, path: at } = stack.pop()!;
    if (typeof value !== 'object' || value === null) continue;
    if (at.length >= MAX_DEPTH) return at;
    const entries: Array<[string | number, unknown]> = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    for (const [k, v] of entries) if (typeof v === 'object' && v !== null) stack.push({ value: v, path: [...at, k] });
  }
  return null;
}

function notARecord(doc: unknown): string {
  if (doc === null || typeof doc !== 'object') return `the file holds ${doc === null ? 'null' : `a ${typeof doc}`}, not a mapping`;
  if (Array.isArray(doc)) return 'the file holds a list, not a mapping';
  const schema = (doc as Record<string, unknown>).schema;
  if (schema === undefined) return 'it has no schema field';
  const shown = typeof schema === 'object' && schema !== null ? (Array.isArray(schema) ? 'a list' : 'a mapping') : oneLine(JSON.stringify(schema)).slice(0, 40);
  return `its schema is ${shown}`;
}

/** `text` on one line, with control characters (a parser quotes the input it choked on) escaped. */
function oneLine(text: string): string {
  return text
    .replace(/\s*\n\s*/g, ' ')
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A run id: UTC time, the scenario name as a slug, and a short random suffix. */
export function newRunId(name: string, at = new Date()): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'run';
  return `${stamp}-${slug}-${Math.random().toString(16).slice(2, 6)}`;
}
