/** How a run's status reads in every report, and what a partial (checkpoint) record says of itself. */
import type { RunRecord, RunStatus } from '../record/types.js';
import { sec } from '../vocab/format.js';

/** The badge class of a status: ok, warn (stopped early, or a checkpoint) or bad (failed). */
export function statusClass(status: RunStatus): 'ok' | 'warn' | 'bad' {
  return status === 'completed' ? 'ok' : status === 'failed' ? 'bad' : 'warn';
}

/** The status as a reader sees it: `checkpoint` reads `partial (checkpoint)`. */
export function statusLabel(status: RunStatus): string {
  return status === 'checkpoint' ? 'partial (checkpoint)' : status;
}

/** One sentence on what a checkpoint record covers; null for a record the run finished writing. */
export function partialNote(r: Pick<RunRecord, 'status' | 'durationS'>): string | null {
  if (r.status !== 'checkpoint') return null;
  return `partial record: a checkpoint taken ${sec(r.durationS)} into the load; the run never wrote its final record (it was killed, or is still running), so every figure covers only that part`;
}
