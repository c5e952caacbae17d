/** A saved run record, with the analysis added when it was written without one (older versions). */
import { readRunRecord } from '../record/run-file.js';
import type { RunRecord } from '../record/types.js';
import { diagnose } from './diagnose.js';
import { analyzeExhaustion } from './exhaustion.js';

/**
 * Reads a run directory or run.json and fills `exhaustion` and `diagnosis` if missing. A record
 * analysed before the capacity model (no `exhaustion.capacity`) is analysed again: its figures took
 * every hold as 60 s and every budget as per destination.
 */
export async function readAnalysedRun(where: string): Promise<RunRecord> {
  const record = await readRunRecord(where);
  if (record.exhaustion && !record.exhaustion.capacity) {
    delete record.exhaustion;
    delete record.diagnosis;
  }
  record.exhaustion ??= analyzeExhaustion(record);
  record.diagnosis ??= diagnose(record, record.exhaustion);
  return record;
}
