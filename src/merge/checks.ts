/** What makes records shards of one run: the same scenario, the same portstorm, one count, each index once. */
import { createHash } from 'node:crypto';
import { UsageError } from '../errors.js';
import type { RunRecord } from '../record/types.js';

/** Scenario fields that may differ between the shards of one run. */
const SHARD_SPECIFIC = new Set(['startAt', 'shard']);

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** A stable hash of the scenario less its shard-specific fields (`startAt`): equal for the shards of one run, key order aside. */
export function scenarioHash(scenario: RunRecord['scenario']): string {
  const rest = Object.fromEntries(Object.entries(scenario).filter(([k]) => !SHARD_SPECIFIC.has(k)));
  return createHash('sha256').update(canonical(rest)).digest('hex').slice(0, 16);
}

/** What the first shard fixed, against which each later one is checked. */
interface Reference {
  name: string;
  version: string;
  hash: string;
  count: number;
}

/**
 * Checks each record as it comes against the ones before it; throws a one-line `UsageError` (exit 2)
 * at the first that does not belong: not a shard, another scenario, another portstorm, another
 * shard count, an index given twice. {@link ShardChecker.finish} refuses inputs none of which is a shard.
 */
export class ShardChecker {
  private ref: Reference | null = null;
  private readonly seen = new Map<number, string>();
  private notShard: string | null = null;
  private shards = 0;

  /** Checks `r`, read from `name`. */
  add(name: string, r: RunRecord): void {
    if (!r.shard) {
      if (this.shards > 0) throw new UsageError(`${name}: not a shard record (no shard field): merge takes the records of run --shard I/N`);
      this.notShard ??= name;
      return;
    }
    if (this.notShard !== null) throw new UsageError(`${this.notShard}: not a shard record (no shard field), unlike ${name}: merge takes the records of run --shard I/N`);
    this.shards++;
    const s = r.shard;
    const hash = scenarioHash(r.scenario);
    const ref = (this.ref ??= { name, version: r.portstormVersion, hash, count: s.count });
    if (r.portstormVersion !== ref.version) throw new UsageError(`${name}: made by portstorm ${r.portstormVersion}, ${ref.name} by ${ref.version}: merge shards of one portstorm version`);
    if (hash !== ref.hash) throw new UsageError(`${name}: another scenario than ${ref.name} (scenario hash ${hash} vs ${ref.hash}): merge the shards of one run`);
    if (s.count !== ref.count) throw new UsageError(`${name}: shard ${s.index}/${s.count}, but ${ref.name} is one of ${ref.count} shards`);
    if (s.index >= s.count) throw new UsageError(`${name}: shard index ${s.index} is not below the count ${s.count}`);
    const before = this.seen.get(s.index);
    if (before !== undefined) throw new UsageError(`${name}: shard ${s.index} given twice (also ${before})`);
    this.seen.set(s.index, name);
  }

  /** Refuses when no input was a shard. */
  finish(): void {
    if (this.shards === 0) throw new UsageError(`${this.notShard ?? 'no input'}: not shards: none of the records has a shard field (merge takes the records of run --shard I/N)`);
  }
}
