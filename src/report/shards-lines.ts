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

/** The shard host whose ports a merged record's top-level `ports` are (the busiest), or null. */
export function busiestShard(r: RunRecord): string | null {
  if (!r.shards || !r.ports) return null;
  const want = JSON.stringify(r.ports);
  return Object.entries(r.hosts ?? {}).find(([name, h]) => !name.includes('@') && JSON.stringify(h.ports) === want)?.[0] ?? null;
}
