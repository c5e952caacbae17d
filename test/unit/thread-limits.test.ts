import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { threadResourceLimits } from '../../src/thread-limits.js';

const LIMITS = fileURLToPath(new URL('../../src/thread-limits.js', import.meta.url));

/**
 * Runs a child that keeps a sliding window of objects alive (so they survive scavenges, which is what
 * makes V8 grow a young generation) and prints the size of its new space in MB.
 */
function newSpaceMbAfterChurn(cap: boolean, env: NodeJS.ProcessEnv = {}): number {
  const script = `
    import v8 from 'node:v8';
    import { capMainYoungGeneration } from ${JSON.stringify(LIMITS)};
    if (${cap}) capMainYoungGeneration();
    const keep = [];
    for (let i = 0; i < 3e6; i++) {
      const o = { a: i, b: [i, i + 1] };
      if (i % 20 === 0) keep.push(o);
      if (keep.length > 50000) keep.splice(0, 25000);
    }
    const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    console.log(space.space_size / 1048576);
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, PORTSTORM_MAX_YOUNG_GEN_MB: undefined, ...env },
  });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout.trim());
}

describe('thread heap limits', () => {
  it('caps the young generation of every kind of worker, the load and target threads most generously', () => {
    const load = threadResourceLimits('load', {}).maxYoungGenerationSizeMb!;
    const target = threadResourceLimits('target', {}).maxYoungGenerationSizeMb!;
    const monitor = threadResourceLimits('monitor', {}).maxYoungGenerationSizeMb!;
    for (const mb of [load, target, monitor]) assert.ok(mb > 0 && mb < 48, `${mb} MB is not below V8's 48 MB default`);
    assert.ok(monitor <= load && monitor <= target);
  });

  it('PORTSTORM_MAX_YOUNG_GEN_MB sets one cap for all, 0 leaves V8 its own sizing, junk is ignored', () => {
    assert.deepEqual(threadResourceLimits('monitor', { PORTSTORM_MAX_YOUNG_GEN_MB: '32' }), { maxYoungGenerationSizeMb: 32 });
    assert.deepEqual(threadResourceLimits('load', { PORTSTORM_MAX_YOUNG_GEN_MB: '0' }), {});
    assert.deepEqual(threadResourceLimits('load', { PORTSTORM_MAX_YOUNG_GEN_MB: 'lots' }), threadResourceLimits('load', {}));
  });

  it("keeps the main thread's young generation from growing under surviving allocations", () => {
    const free = newSpaceMbAfterChurn(false);
    const capped = newSpaceMbAfterChurn(true);
    const optedOut = newSpaceMbAfterChurn(true, { PORTSTORM_MAX_YOUNG_GEN_MB: '0' });
    assert.ok(free >= 16, `without the cap V8 grows the new space (got ${free} MB); the test's churn no longer shows the effect`);
    assert.ok(capped <= 4, `capped new space is ${capped} MB`);
    assert.ok(optedOut >= 16, `PORTSTORM_MAX_YOUNG_GEN_MB=0 should leave V8's sizing (got ${optedOut} MB)`);
  });
});
