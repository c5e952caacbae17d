/**
 * `portstorm lab` with `lab.topology: nat` where `nft` cannot be run: one line naming the Debian
 * package, exit 3, no stack trace. Where nft is installed it is hidden for the test:
 * inside a private mount namespace /dev/null (not executable) is bound over it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { findExecutable } from '../../src/lab/netns.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-lab-nat-refused-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('lab topology nat without nft', () => {
  it('one line naming nftables, exit 3, before any load', () => {
    const scenario = path.join(dir, 'nat.yaml');
    writeFileSync(scenario, ['name: nat-no-nft', "load: [{ model: arrival-rate, rate: 10, duration: 1s }]", 'lab: { topology: nat }', ''].join('\n'));
    const nft = findExecutable('nft');
    const hide = nft ? `mount --bind /dev/null ${nft} && ` : '';
    const r = spawnSync('unshare', ['-rm', '--propagation', 'private', 'sh', '-c', `${hide}exec "$0" "$@"`, process.execPath, CLI, 'lab', scenario, '--out', path.join(dir, 'results'), '--quiet'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.error, undefined, `unshare could not run: ${r.error?.message}`);
    assert.equal(r.status, 3, `exit ${r.status}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^portstorm: lab: .*topology nat needs nft \(Debian package nftables\)$/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });
});
