/**
 * A run record as one log line, for a pod whose files are gone when it ends: `PORTSTORM-RECORD `
 * then the base64 of the gzipped run.json (what `run --print-record-line` prints). `portstorm merge`
 * reads such lines from a log; anything before the marker on a line (a `kubectl logs --timestamps`
 * time) is ignored.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { UsageError } from '../errors.js';
import { parseRunRecord } from '../record/run-file.js';
import type { RunRecord } from '../record/types.js';

/** The marker a record line starts with (after any prefix the log adds). */
export const RECORD_LINE_MARKER = 'PORTSTORM-RECORD ';

/** The record as one line, without a line break: `PORTSTORM-RECORD <base64 of gzip of JSON>`. */
export function encodeRecordLine(record: RunRecord): string {
  return encodeRecordText(JSON.stringify(record));
}

/** A run.json's text (or bytes, as written) as one record line, without a line break. */
export function encodeRecordText(runJson: string | Buffer): string {
  return RECORD_LINE_MARKER + gzipSync(runJson).toString('base64');
}

/**
 * The record of a line written by {@link encodeRecordLine} (a prefix before the marker is allowed),
 * checked as a run.json is; `file` names where the line came from in errors. A line that is not
 * one, or does not decode, is a one-line `UsageError`.
 */
export function decodeRecordLine(line: string, file = 'the record line'): RunRecord {
  return parseRunRecord(recordLineText(line, file), file);
}

/** The run.json text a record line holds (not yet checked); bad input as {@link decodeRecordLine} tells it. */
export function recordLineText(line: string, file = 'the record line'): string {
  const at = line.indexOf(RECORD_LINE_MARKER);
  if (at < 0) throw new UsageError(`${file}: not a PORTSTORM-RECORD line`);
  const payload = line.slice(at + RECORD_LINE_MARKER.length).trim();
  if (payload === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(payload)) throw new UsageError(`${file}: the PORTSTORM-RECORD line is not base64`);
  try {
    return gunzipSync(Buffer.from(payload, 'base64')).toString('utf8');
  } catch (err) {
    throw new UsageError(`${file}: the PORTSTORM-RECORD line does not gunzip (${(err as NodeJS.ErrnoException).code ?? 'corrupt'}): is the log cut short?`);
  }
}
