/**
 * `portstorm lab --variant a --variant b` runs every variant in a namespace of its own, so a later
 * variant never starts on an earlier one's TIME_WAIT: the second variant's baseline shows no
 * TIME_WAIT toward the target (nor anywhere), though the first left hundreds for 60 s.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { LAB_TARGET, LAB_TARGET_PORT } from '../../src/lab/netns.js';
import type { RunRecord } from '../../src/record/types.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const TARGET = `${LAB_TARGET}:${LAB_TARGET_PORT}`;

describe('lab variants start clean', () => {
  it('the second variant\'s baseline has 0 TIME_WAIT toward the target after the first left ~400', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-lab-clean-'));
    const file = path.join(dir, 'scenario.yaml');
    writeFileSync(
      file,
      ['name: lab-clean', 'connection: { reuse: false, close: client }', 'load: [{ model: arrival-rate, rate: 200, duration: 2s }]', 'workers: 1', ''].join('\n'),
    );
    // The bound only guards against a hang.
    const r = spawnSync(process.execPath, [CLI, 'lab', file, '--port-range', '40000-40999', '--quiet', '--json', '--out', dir, '--variant', 'a', '--variant', 'b'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const records = readdirSync(dir)
      .filter((f) => existsSync(path.join(dir, f, 'run.json')))
      .map((f) => JSON.parse(readFileSync(path.join(dir, f, 'run.json'), 'utf8')) as RunRecord);
    const by = new Map(records.map((x) => [x.label, x]));
    const a = by.get('a')!;
    const b = by.get('b')!;
    assert.ok(a && b, `records: ${[...by.keys()]}`);
    // The first variant leaves its connections in TIME_WAIT toward the target (60 s).
    const aEnd = a.timeline.at(-1)!.sockets!;
    assert.ok(aEnd.ownTimeWait! >= 380, `variant a TIME_WAIT toward the target ${aEnd.ownTimeWait}`);
    assert.deepEqual(b.ownDestinations, [TARGET]);
    const base = b.monitor.baseline!;
    assert.equal(base.timeWait, 0, `variant b started on ${base.timeWait} TIME_WAIT`);
    const own = base.byDestination!.find((d) => d.own)!;
    assert.deepEqual(own, { dest: TARGET, own: true, inUse: 0, timeWait: 0, timeWaitExpiry: [] });
    assert.equal(base.byDestination!.length, 1, JSON.stringify(base.byDestination));
    assert.equal(b.otherTraffic, null);
  });
});
