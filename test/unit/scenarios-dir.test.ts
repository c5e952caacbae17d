/** Every scenario shipped in scenarios/ is valid and says what it reproduces. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadScenario } from '../../src/scenario/load.js';

const DIR = fileURLToPath(new URL('../../../scenarios/', import.meta.url));
const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f));

describe('shipped scenarios', () => {
  it('there are the demo and the lab scenarios', () => {
    for (const f of ['demo.yaml', 'lab-exhaustion.yaml', 'burst.yaml', 'server-time-wait.yaml', 'keep-alive-fix.yaml', 'rst-close.yaml', 'source-addresses.yaml', 'tcp-service.yaml', 'lab-fixes.yaml', 'lab-serve.yaml', 'https-handshakes.yaml']) {
      assert.ok(files.includes(f), f);
    }
  });
  for (const f of files) {
    it(`${f} loads and opens with a comment`, async () => {
      const s = await loadScenario(path.join(DIR, f));
      assert.equal(s.target, 'builtin');
      assert.match(readFileSync(path.join(DIR, f), 'utf8'), /^# \S/);
    });
  }
});
