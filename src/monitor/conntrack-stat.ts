/**
 * /proc/net/stat/nf_conntrack: connection tracking's per-CPU statistics of the reader's network
 * namespace. A header line names the columns, then one line per possible CPU of 8-digit hex
 * fields. The column set changed across kernels (`searched` became `clashres`, `delete_list`
 * became `chainlength`, `search_restart` was added), so columns are found by their header name.
 */
import { CONNTRACK_COUNTER_NAMES, type ConntrackCounterName } from './types.js';

/** Absolute conntrack counter values (null for a column this kernel does not print). */
export type ConntrackCounterValues = Record<ConntrackCounterName, number | null>;

/** The header column each counter sums. */
const COLUMN: Record<ConntrackCounterName, string> = {
  ConntrackInsertFailed: 'insert_failed',
  ConntrackDrop: 'drop',
  ConntrackEarlyDrop: 'early_drop',
};

/**
 * Sums portstorm's conntrack counters over the CPU lines. The first column (`entries`) is the
 * namespace's table size repeated on every line, not a per-CPU figure, and is not used. Null when
 * the text has no `entries` header or a CPU line is not all hex.
 */
export function parseConntrackStat(text: string): ConntrackCounterValues | null {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const head = lines[0]?.trim().split(/\s+/) ?? [];
  if (head[0] !== 'entries') return null;
  const out = Object.fromEntries(CONNTRACK_COUNTER_NAMES.map((n) => [n, null])) as ConntrackCounterValues;
  const at = CONNTRACK_COUNTER_NAMES.map((n) => [n, head.indexOf(COLUMN[n])] as const);
  for (const [n, i] of at) if (i >= 0) out[n] = 0;
  for (const line of lines.slice(1)) {
    const vals = line.trim().split(/\s+/);
    if (vals.length < head.length || !vals.every((v) => /^[0-9a-f]+$/i.test(v))) return null;
    for (const [n, i] of at) if (i >= 0) out[n]! += Number.parseInt(vals[i]!, 16);
  }
  return out;
}

/**
 * The rise of one conntrack counter between two readings. Each CPU's count is a 32-bit integer
 * that wraps, so a sum that went down rose by less than 2^32 (a rise of 2^32 within one sample
 * interval is out of reach).
 */
export function conntrackDelta(prev: number, next: number): number {
  let d = next - prev;
  while (d < 0) d += 2 ** 32;
  return d;
}
