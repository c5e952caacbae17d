/**
 * Sharding (`run --shard I/N`): the stripes of N shards, each striped again over its workers, hold
 * every arrival of the one-machine schedule exactly once at its one-machine time (constant rate, a
 * ramp, stages); users and limits.maxRequests split so the parts add up; the flags' parsing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { arrivalSchedule, userStartOffset } from '../../src/load/pacer.js';
import { composeShard, parseShard, parseStartAt, shardLabel, shardPart, shareOf, stripe, type Shard } from '../../src/load/shard.js';
import { parseScenario } from '../../src/scenario/load.js';
import type { ArrivalRateGroup, Scenario } from '../../src/scenario/schema.js';
import { UsageError } from '../../src/errors.js';

function scenario(load: Record<string, unknown>[], limits: Record<string, unknown> = {}): Scenario {
  return parseScenario({ name: 'shards', target: 'http://127.0.0.1:9/', load, limits }, 'test');
}

/** Every (process shard × worker) stripe of `shards` processes with `workers` threads each. */
function allStripes(shards: number, workers: number): Shard[][] {
  return Array.from({ length: shards }, (_, i) => Array.from({ length: workers }, (_, w) => composeShard({ index: i, count: shards }, { index: w, count: workers })));
}

const GROUPS: Record<string, Record<string, unknown>> = {
  constant: { model: 'arrival-rate', rate: 97, duration: 3 },
  ramp: { model: 'arrival-rate', startRate: 5, rate: 200, rampUp: 2, duration: 4 },
  stages: { model: 'arrival-rate', stages: [{ duration: 1, rate: 30 }, { duration: 2, startRate: 30, rate: 120 }, { duration: 1, rate: 0 }, { duration: 1.5, rate: 41 }] },
};

describe('arrival striping', () => {
  for (const [name, group] of Object.entries(GROUPS)) {
    for (const [shards, workers] of [[1, 1], [3, 1], [3, 2], [4, 3], [7, 5]] as const) {
      it(`${name}: ${shards} shards × ${workers} workers hold the one-machine schedule exactly`, () => {
        const g = scenario([group]).load[0] as ArrivalRateGroup;
        const schedule = arrivalSchedule(g);
        assert.ok(schedule.total > 100);
        const seen: number[] = [];
        const perShard: number[] = [];
        for (const stripes of allStripes(shards, workers)) {
          let mine = 0;
          for (const st of stripes) {
            for (const k of stripe(schedule.total, st)) {
              seen.push(k);
              mine++;
            }
          }
          perShard.push(mine);
        }
        // Each arrival once: the union is the schedule (same count, same times: the index is global).
        assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: schedule.total }, (_, k) => k));
        const times = seen.map((k) => schedule.at(k)!).sort((a, b) => a - b);
        assert.deepEqual(times, Array.from({ length: schedule.total }, (_, k) => schedule.at(k)!));
        // Shard i holds the arrivals k ≡ i (mod N): the stripe split of the whole.
        assert.deepEqual(perShard, Array.from({ length: shards }, (_, i) => shareOf(schedule.total, { index: i, count: shards })));
      });
    }
  }

  it('a worker of shard I runs the global arrivals k ≡ I (mod N) only', () => {
    for (const st of allStripes(3, 2)[1]!) for (const k of stripe(100, st)) assert.equal(k % 3, 1);
  });
});

describe('users and maxRequests split', () => {
  it('users: the shards\' counts add up to the whole, each user at its one-machine ramp start', () => {
    for (const users of [0, 1, 2, 7, 10, 101]) {
      for (const shards of [1, 2, 3, 5, 8]) {
        const counts = Array.from({ length: shards }, (_, i) => shardPart(scenario([{ model: 'users', users: Math.max(users, 1), rampUp: 5, iterations: 1 }]), { index: i, count: shards }).groups[0]!.mine);
        assert.equal(counts.reduce((a, b) => a + b, 0), Math.max(users, 1));
        counts.forEach((c, i) => assert.equal(c, Math.floor(Math.max(users, 1) / shards) + (i < Math.max(users, 1) % shards ? 1 : 0)));
        // The generator starts user j (global index) at userStartOffset(j, users, …): the union is the one-machine ramp.
        const starts = allStripes(shards, 2).flat().flatMap((st) => stripe(users, st).map((j) => userStartOffset(j, users, 5, 3)));
        assert.deepEqual(starts.sort((a, b) => a - b), Array.from({ length: users }, (_, j) => userStartOffset(j, users, 5, 3)).sort((a, b) => a - b));
      }
    }
  });

  it('maxRequests: shards and their workers add up to the limit exactly', () => {
    for (const limit of [1, 2, 10, 999, 1000, 1001, 123457]) {
      for (const [shards, workers] of [[1, 4], [3, 1], [3, 2], [4, 3], [7, 5]] as const) {
        const perShard = allStripes(shards, workers).map((stripes) => stripes.reduce((sum, st) => sum + shareOf(limit, st), 0));
        assert.equal(perShard.reduce((a, b) => a + b, 0), limit);
        // A shard's workers together hold exactly the shard's own share.
        perShard.forEach((n, i) => assert.equal(n, shareOf(limit, { index: i, count: shards })));
        const words = shardPart(scenario([GROUPS.constant!], { maxRequests: limit }), { index: 0, count: shards });
        assert.equal(words.maxRequests.mine, perShard[0]);
      }
    }
  });

  it('a shard with nothing to run says so; its split is in words', () => {
    const s = scenario([{ model: 'users', users: 1, iterations: 2 }]);
    assert.equal(shardPart(s, { index: 0, count: 3 }).empty, false);
    const p = shardPart(s, { index: 2, count: 3 });
    assert.equal(p.empty, true);
    assert.match(p.words, /^users j ≡ 2 \(mod 3\): 0 of 1; maxRequests /);
    const a = shardPart(scenario([GROUPS.constant!]), { index: 1, count: 3 });
    assert.match(a.words, /^arrivals k ≡ 1 \(mod 3\): 97 of 291;/);
    assert.equal(shardLabel({ index: 1, count: 3 }), 'shard-1-of-3');
  });

  it('arrivals past limits.maxDuration are not counted as the shard\'s', () => {
    const p = shardPart(scenario([GROUPS.constant!], { maxDuration: 1 }), { index: 0, count: 1 });
    assert.equal(p.groups[0]!.total, 97);
  });
});

describe('flags', () => {
  it('--shard I/N', () => {
    assert.deepEqual(parseShard('0/3'), { index: 0, count: 3 });
    assert.deepEqual(parseShard('2/3'), { index: 2, count: 3 });
    assert.deepEqual(parseShard(' 0 / 1 '), { index: 0, count: 1 });
    for (const bad of ['3/2', '2/2', '0/0', '1/0', '1.5/3', '-1/3', 'a/3', '1', '1/3/4', '', '1/three']) {
      assert.throws(() => parseShard(bad), (e: unknown) => e instanceof UsageError && /^--shard: /.test(e.message) && !e.message.includes('\n'), bad);
    }
  });

  it('--start-at: an ISO time with a zone', () => {
    assert.equal(parseStartAt('2026-12-08T10:00:00Z'), Date.UTC(2026, 11, 8, 10));
    assert.equal(parseStartAt('2026-12-08T11:00:00.250+01:00'), Date.UTC(2026, 11, 8, 10, 0, 0, 250));
    for (const bad of ['2026-12-08T10:00:00', '2026-12-08', 'tomorrow', '1765188000000', '2026-13-45T10:00:00Z', '']) {
      assert.throws(() => parseStartAt(bad), (e: unknown) => e instanceof UsageError && /^--start-at: expected an ISO time with a zone/.test(e.message), bad);
    }
  });
});
