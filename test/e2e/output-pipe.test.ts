/**
 * Output larger than a pipe's buffer reaches a reader that is slower than portstorm: the CLI waits
 * for stdout to drain before it exits (a Node parent reads through a socket pair, written
 * asynchronously; exiting at once cut a 1.4 MB `--json` record at 214 KiB).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { entry, syntheticRecord } from '../helpers/synthetic-record.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

describe('CLI output to a slow reader', () => {
  it('report --format json of a 1-hour record arrives whole', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-pipe-'));
    const file = path.join(dir, 'run.json');
    const record = syntheticRecord({ timeline: Array.from({ length: 3600 }, (_, t) => entry(t)) });
    writeFileSync(file, JSON.stringify(record));
    const child = spawn(process.execPath, [CLI, 'report', file, '--format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Read slowly: stop reading for a second once output starts, so the child's writes outrun us.
    child.stdout.once('data', () => {
      child.stdout.pause();
      setTimeout(() => child.stdout.resume(), 1000);
    });
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    assert.equal(code, 0, stderr);
    const out = Buffer.concat(chunks).toString();
    assert.ok(out.length > 1_000_000, `only ${out.length} bytes`);
    const back = JSON.parse(out) as { timeline: unknown[] };
    assert.equal(back.timeline.length, 3600);
  });
});

describe('CLI output to a reader that goes away', () => {
  it('report --format json into a closed pipe ends without a stack trace', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-pipe-'));
    const file = path.join(dir, 'run.json');
    writeFileSync(file, JSON.stringify(syntheticRecord({ timeline: Array.from({ length: 3600 }, (_, t) => entry(t)) })));
    const child = spawn(process.execPath, [CLI, 'report', file, '--format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Like `portstorm report … | head -c 100`: the reader takes the first chunk and closes its end.
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stderr, /\n\s+at |EPIPE|node:events/, 'no stack trace or raw EPIPE');
  });
});
