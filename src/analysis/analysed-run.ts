/** A saved run record, with the analysis added when it was written without one (older versions). */
import { readRunRecord } from '../record/run-file.js';
import type { RunRecord } from '../record/types.js';
import { diagnose } from './diagnose.js';
import { analyzeExhaustion } from './exhaustion.js';

/** Reads a run directory or run.json and fills `exhaustion` and `diagnosis` if missing. */
export async function readAnalysedRun(where: string): Promise<RunRecord> {
  const record = await readRunRecord(where);
  record.exhaustion ??= analyzeExhaustion(record);
  record.diagnosis ??= diagnose(record, record.exhaustion);
  return record;
}
