import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// build/test/unit → the TypeScript sources at the repository's src/.
const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

/** Stages from the bottom up: a module may import only from its own stage or a lower one. */
const LAYERS = ['vocab', 'scenario', 'record', 'load|monitor|target|watch', 'analysis', 'compare', 'report', 'run|jmeter|k8s|merge', 'lab', 'cli'];
const rank = (stage: string): number => LAYERS.findIndex((l) => l.split('|').includes(stage));

/** A file's stage: its directory under src/, `run` for src/run.ts, null for the shared top-level helpers. */
function stageOf(rel: string): string | null {
  const [first, ...rest] = rel.split('/');
  if (rest.length > 0) return first!;
  return first === 'run.ts' ? 'run' : null;
}

function* sources(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) yield* sources(p);
    else if (name.endsWith('.ts')) yield p;
  }
}

describe('module layering', () => {
  it('every import points to the same stage or a lower one (vocab < scenario < record < load/monitor/target/watch/jmeter < analysis < compare < report < run/k8s < lab < cli)', () => {
    const upward: string[] = [];
    let checked = 0;
    for (const file of sources(SRC)) {
      const rel = path.relative(SRC, file).split(path.sep).join('/');
      const from = stageOf(rel);
      if (from === null) continue;
      assert.ok(rank(from) >= 0, `${rel}: its directory ${from}/ is not in the layer list`);
      for (const m of readFileSync(file, 'utf8').matchAll(/(?:from|import\(?)\s*'(\.[^']+)'/g)) {
        const target = path.relative(SRC, path.resolve(path.dirname(file), m[1]!)).split(path.sep).join('/');
        const to = stageOf(target);
        checked++;
        if (to !== null && rank(to) > rank(from)) upward.push(`${rel} imports ${target} (${from} → ${to})`);
      }
    }
    assert.ok(checked > 100, `only ${checked} imports were read: is SRC (${SRC}) right?`);
    assert.deepEqual(upward, []);
  });
});
