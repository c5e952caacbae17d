/** The one line a merged record's summary gives its shards. */
import type { RunRecord } from '../record/types.js';

/** `2 of 3 shards merged; missing: shard 1; failed: shard 2 (why); load starts 412 ms apart`, or null for a record that is not a merge. */
export function shardsLine(r: RunRecord): string | null {
  const s = r.shards;
  if (!s) return null;
  const parts = [`${s.covered.length} of ${s.count} shard${s.count === 1 ? '' : 's'} merged`];
  if (s.missing.length > 0) parts.push(`missing: ${s.missing.map((i) => `shard ${i}`).join(', ')}`);
  if (s.failed.length > 0) parts.push(`failed: ${s.failed.map((f) => `shard ${f.index} (${f.why})`).join(', ')}`);
  parts.push(`load starts ${Math.round(s.startSpreadMs)} ms apart`);
  return parts.join('; ');
}
