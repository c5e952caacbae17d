/** One input of `merge`: a run directory, a run.json, or a pod's log whose last PORTSTORM-RECORD line holds the record. */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { parseRunRecord } from '../record/run-file.js';
import type { RunRecord } from '../record/types.js';
import { displayArg } from '../scenario/load.js';
import { decodeRecordLine, lastRecordLine } from './record-line.js';

/**
 * Reads one shard's record. A directory means its run.json; a file is a run record when its text
 * starts with `{`, else a log whose last PORTSTORM-RECORD line is decoded. Bad input is a one-line
 * `UsageError` naming the file.
 */
export async function readShardInput(where: string): Promise<RunRecord> {
  const isDir = await stat(where).then(
    (st) => st.isDirectory(),
    () => false,
  );
  const file = isDir ? path.join(where, 'run.json') : where;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${displayArg(file)}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (/^\s*\{/.test(text)) return parseRunRecord(text, displayArg(file));
  const line = lastRecordLine(text);
  if (line === null) throw new UsageError(`${displayArg(file)}: neither a run record (JSON) nor a log with a PORTSTORM-RECORD line`);
  return decodeRecordLine(line, `${displayArg(file)} (last PORTSTORM-RECORD line)`);
}
