/**
 * Reading and writing run records. Writes are atomic and durable: a temp file, fsynced, renamed
 * over the target, so a reader (or a crash) sees the old file or the new one, never a torn one.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { displayArg, formatIssues, formatPath } from '../scenario/load.js';
import { runRecordSchema } from './schema.js';
import { RUN_SCHEMA, type RunRecord } from './types.js';

/**
 * Writes `record` as `dir/run.json` atomically; returns the file path. The record is serialized
 * before the first await, so the caller's synchronous cost ends when this returns its promise.
 */
export async function writeRunRecord(dir: string, record: RunRecord): Promise<string> {
  return writeBeside(dir, 'run.json', JSON.stringify(record, null, 1) + '\n');
}

/** Writes a text file next to run.json atomically and durably; returns its path. */
export async function writeBeside(dir: string, name: string, text: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, name);
  const tmp = `${file}.${process.pid}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  return file;
}

/**
 * Reads a run record from a run directory or a run.json path. Anything that is not a whole record of
 * the current schema is a one-line `UsageError`: `<file>: <path>: <what is wrong>`.
 */
export async function readRunRecord(where: string): Promise<RunRecord> {
  const target = where.endsWith('.json') ? where : path.join(where, 'run.json');
  const file = displayArg(target);
  let text: string;
  try {
    text = await readFile(target, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read run record ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${oneLine((err as Error).message)})`);
  }
  const deep = tooDeep(doc);
  if (deep) throw new UsageError(`${file}: ${formatPath(deep.slice(0, 4))}${deep.length > 4 ? '...' : ''}: nested more than ${MAX_DEPTH} levels deep`);
  const rec = doc as Partial<RunRecord>;
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec) || rec.schema !== RUN_SCHEMA) {
    throw new UsageError(`${file}: not a portstorm run record of schema ${RUN_SCHEMA} (${notARecord(doc)})`);
  }
  const result = runRecordSchema.safeParse(doc);
  if (!result.success) {
    const lines = formatIssues(file, result.error.issues, doc, runRecordSchema);
    const more = lines.length > 1 ? ` (and ${lines.length - 1} more problem${lines.length === 2 ? '' : 's'})` : '';
    throw new UsageError(`${lines[0] ?? `${file}: not a valid run record`}${more}`);
  }
  // The stored scenario is resolved again, so readers see every default even where the file omits one.
  return { ...(rec as RunRecord), scenario: result.data.scenario };
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
