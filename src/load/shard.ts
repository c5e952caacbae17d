/**
 * Sharding a scenario over machines (`run --shard I/N`), like k6's execution segments: every shard
 * keeps the global schedule and takes its stripe of it. Arrival k of a group goes to shard k mod N;
 * user j of a group goes to shard j mod N and keeps its global ramp start; counts (users,
 * `limits.maxRequests`) are split so the parts add up to the whole. Within a process the load is
 * striped again over worker threads: worker w of shard I runs the stripe I + N·w of N·W, so the
 * union over every worker of every shard is exactly the one-machine schedule.
 */
import { UsageError } from '../errors.js';
import type { Scenario } from '../scenario/schema.js';
import { arrivalSchedule } from './pacer.js';

/** A part of the load: arrivals k ≡ index (mod count), users likewise. */
export interface Shard {
  index: number;
  count: number;
}

/** The whole load. */
export const WHOLE: Shard = { index: 0, count: 1 };

/** Shard `index`'s part of a whole split over `count` shards: the parts add up to the whole. */
export function shareOf(total: number, shard: Shard): number {
  return Math.floor(total / shard.count) + (shard.index < total % shard.count ? 1 : 0);
}

/** Worker `worker`'s stripe of process shard `outer`: a stripe of the global schedule itself. */
export function composeShard(outer: Shard, worker: Shard): Shard {
  return { index: outer.index + outer.count * worker.index, count: outer.count * worker.count };
}

/** The global indexes of `total` items that `shard` takes, ascending. */
export function stripe(total: number, shard: Shard): number[] {
  const out: number[] = [];
  for (let k = shard.index; k < total; k += shard.count) out.push(k);
  return out;
}

/** Parses `--shard I/N` (0-based I below N); throws a UsageError naming the flag. */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new UsageError(`--shard: expected I/N with integers, 0 ≤ I < N (e.g. 0/3), got ${JSON.stringify(text)}`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1) {
    throw new UsageError(`--shard: the shard count must be a positive integer, got ${JSON.stringify(text)}`);
  }
  if (index >= count) throw new UsageError(`--shard: the index is 0-based and below the count (0 to ${count - 1}), got ${JSON.stringify(text)}`);
  return { index, count };
}

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** Parses an ISO time with a zone (`--start-at`) to epoch milliseconds; throws a UsageError naming `what`. */
export function parseStartAt(text: string, what = '--start-at'): number {
  const ms = Date.parse(text);
  if (!ISO_WITH_ZONE.test(text) || !Number.isFinite(ms)) {
    throw new UsageError(`${what}: expected an ISO time with a zone, e.g. 2026-12-08T10:00:00Z, got ${JSON.stringify(text)}`);
  }
  return ms;
}

/** A `--start-at` further in the past than this is warned about (the shard starts at once either way). */
export const START_AT_STALE_MS = 5000;

/** The default label of a shard's run: `shard-I-of-N`. */
export function shardLabel(shard: Shard): string {
  return `shard-${shard.index}-of-${shard.count}`;
}

/** What `shard` runs of each group: arrivals and users it starts, and its share of limits.maxRequests. */
export interface ShardPart {
  /** Per group: arrivals (arrival-rate, those due before limits.maxDuration) or users it starts. */
  groups: Array<{ model: 'arrival-rate' | 'users'; mine: number; total: number }>;
  maxRequests: { mine: number; total: number };
  /** True when the shard starts nothing at all. */
  empty: boolean;
  /** The split in words, e.g. `arrivals k ≡ 1 (mod 3): 100 of 300; users j ≡ 1 (mod 3): 4 of 10`. */
  words: string;
}

/** What shard `shard` of `s` runs. */
export function shardPart(s: Scenario, shard: Shard): ShardPart {
  const groups = s.load.map((g) => {
    if (g.model === 'users') return { model: g.model, mine: shareOf(g.users, shard), total: g.users };
    const schedule = arrivalSchedule(g);
    // Arrivals are in time order: those due before maxDuration are a prefix [0, before).
    let lo = 0;
    let hi = schedule.total;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (g.startAfter + schedule.at(mid)! < s.limits.maxDuration) lo = mid + 1;
      else hi = mid;
    }
    const before = lo;
    return { model: g.model, mine: shareOf(before, shard), total: before };
  });
  const maxRequests = { mine: shareOf(s.limits.maxRequests, shard), total: s.limits.maxRequests };
  const congruence = `≡ ${shard.index} (mod ${shard.count})`;
  const words = groups.map((g) => (g.model === 'arrival-rate' ? `arrivals k ${congruence}: ${g.mine} of ${g.total}` : `users j ${congruence}: ${g.mine} of ${g.total}`));
  words.push(`maxRequests ${maxRequests.mine} of ${maxRequests.total}`);
  const empty = maxRequests.mine === 0 || groups.every((g) => g.mine === 0);
  return { groups, maxRequests, empty, words: words.join('; ') };
}
