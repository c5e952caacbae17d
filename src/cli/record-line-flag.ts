/**
 * `run --print-record-line`: after the run, the record as one last stdout line,
 * `PORTSTORM-RECORD <base64 of the gzip of run.json>`, so a pod's log carries its shard's record
 * out of the pod (`portstorm k8s`; `portstorm merge` reads such lines).
 */
import { readFile } from 'node:fs/promises';
import type { Argv } from 'yargs';
import { encodeRecordText, RECORD_LINE_MARKER } from '../merge/record-line.js';

/** Adds `--print-record-line` to `run`'s options. */
export function recordLineOption<T>(y: Argv<T>): Argv<T> {
  return y.option('print-record-line', {
    type: 'boolean',
    default: false,
    describe: `print the record last on stdout as one line, ${RECORD_LINE_MARKER}<base64 of the gzip of run.json> (for pods' logs; portstorm merge reads it)`,
  }) as unknown as Argv<T>;
}

/** Writes the record line of the run.json at `file` when `argv` asks for it. */
export async function printRecordLine(argv: object, file: string): Promise<void> {
  if ((argv as Record<string, unknown>)['print-record-line'] !== true) return;
  process.stdout.write(`${encodeRecordText(await readFile(file))}\n`);
}
