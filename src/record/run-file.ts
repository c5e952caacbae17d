/**
 * Reading and writing run records. Writes are atomic and durable: a temp file, fsynced, renamed
 * over the target, so a reader (or a crash) sees the old file or the new one, never a torn one.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
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

/** Reads a run record from a run directory or a run.json path. */
export async function readRunRecord(where: string): Promise<RunRecord> {
  const file = where.endsWith('.json') ? where : path.join(where, 'run.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read run record ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const rec = doc as Partial<RunRecord>;
  if (typeof rec !== 'object' || rec === null || rec.schema !== RUN_SCHEMA) {
    throw new UsageError(`${file}: not a portstorm run record of schema ${RUN_SCHEMA}`);
  }
  return rec as RunRecord;
}

/** A run id: UTC time, the scenario name as a slug, and a short random suffix. */
export function newRunId(name: string, at = new Date()): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'run';
  return `${stamp}-${slug}-${Math.random().toString(16).slice(2, 6)}`;
}
