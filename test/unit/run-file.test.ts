/** Where run records go: the --out check before a load, and the fallback when a write fails after it. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { RuntimeFailure, UsageError } from '../../src/errors.js';
import { checkOutputDir, fallbackDir, pseudoFilesystem, writeBeside } from '../../src/record/run-file.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-run-file-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    assert.doesNotMatch(err.message, /\n/);
    return err.message;
  }
  assert.fail('expected a UsageError');
}

/** Runs `fn` with stderr captured. */
async function capturingStderr<T>(fn: () => Promise<T>): Promise<{ value: T; stderr: string }> {
  const original = process.stderr.write.bind(process.stderr);
  let stderr = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    return { value: await fn(), stderr };
  } finally {
    process.stderr.write = original;
  }
}

describe('checkOutputDir', () => {
  it('creates a missing directory, leaves no probe behind and returns the absolute path', async () => {
    const dir = path.join(tmp, 'new', 'deeper');
    assert.equal(await checkOutputDir(dir), dir);
    assert.deepEqual(readdirSync(dir), []);
    assert.equal(await checkOutputDir(path.relative(process.cwd(), dir)), dir, 'relative paths resolve');
  });

  it('refuses kernel pseudo-filesystems without touching them', async () => {
    assert.equal(pseudoFilesystem('/proc/foo/bar'), '/proc');
    assert.equal(pseudoFilesystem('/sys'), '/sys');
    assert.equal(pseudoFilesystem(tmp), null);
    assert.equal(await refusal(checkOutputDir('/proc/foo')), '--out /proc/foo: /proc is a kernel pseudo-filesystem, not a place for results; choose a directory on a disk');
    // A symlink into /proc is the same place.
    const link = path.join(tmp, 'to-proc');
    symlinkSync('/proc/self', link);
    assert.match(await refusal(checkOutputDir(path.join(link, 'x'), '--results')), /^--results .*to-proc\/x: \/proc is a kernel pseudo-filesystem/);
  });

  it('refuses a file and a path through a file', async () => {
    const file = path.join(tmp, 'a-file');
    writeFileSync(file, '');
    assert.equal(await refusal(checkOutputDir(file)), `--out ${file}: it is a file, not a directory`);
    assert.equal(await refusal(checkOutputDir(path.join(file, 'x'))), `--out ${path.join(file, 'x')}: ${file} is a file, not a directory`);
  });
});

describe('writeBeside fallback', () => {
  it('writes where asked when it can, without a word', async () => {
    const dir = path.join(tmp, 'ok', 'run-1');
    const { value, stderr } = await capturingStderr(() => writeBeside(dir, 'run.json', '{}\n'));
    assert.equal(value, path.join(dir, 'run.json'));
    assert.equal(stderr, '');
  });

  it('a directory that cannot be written: the file goes to <tmpdir>/portstorm-<runId>, stderr says so once', async () => {
    const blocker = path.join(tmp, 'blocker');
    writeFileSync(blocker, 'not a directory');
    const runId = `20261204-000000-unit-${process.pid}`;
    const dir = path.join(blocker, runId);
    const fallback = fallbackDir(dir);
    assert.equal(fallback, path.join(os.tmpdir(), `portstorm-${runId}`));
    try {
      const { value, stderr } = await capturingStderr(async () => [await writeBeside(dir, 'run.json', '{"a":1}\n'), await writeBeside(dir, 'report.html', '<!doctype html>')]);
      assert.deepEqual(value, [path.join(fallback, 'run.json'), path.join(fallback, 'report.html')]);
      assert.equal(readFileSync(path.join(fallback, 'run.json'), 'utf8'), '{"a":1}\n');
      assert.equal(stderr, `portstorm: cannot write ${path.join(dir, 'run.json')} (ENOTDIR: not a directory); writing to ${fallback} instead\n`);
    } finally {
      rmSync(fallback, { recursive: true, force: true });
    }
  });

  it('never loops on /proc: a run directory there falls back at once', async () => {
    const runId = `20261204-000001-proc-${process.pid}`;
    const fallback = fallbackDir(runId);
    try {
      const { value, stderr } = await capturingStderr(() => writeBeside(path.join('/proc/nonexistent', runId), 'run.json', '{}\n'));
      assert.equal(value, path.join(fallback, 'run.json'));
      assert.match(stderr, /\(EPSEUDOFS: a kernel pseudo-filesystem\); writing to /);
    } finally {
      rmSync(fallback, { recursive: true, force: true });
    }
  });

  it('when the fallback fails too: a RuntimeFailure naming both places', async () => {
    const blocker = path.join(tmp, 'blocker2');
    writeFileSync(blocker, '');
    const name = `blocked-${process.pid}`;
    // The fallback directory's name is taken by a file, so it cannot be made either.
    const fallback = fallbackDir(name);
    writeFileSync(fallback, '');
    try {
      await assert.rejects(
        capturingStderr(() => writeBeside(path.join(blocker, name), 'run.json', '{}\n')),
        (err: unknown) => err instanceof RuntimeFailure && err.exitCode === 3 && err.message.includes(path.join(blocker, name, 'run.json')) && err.message.includes(`nor ${path.join(fallback, 'run.json')}`),
      );
    } finally {
      rmSync(fallback, { force: true });
    }
    assert.ok(!existsSync(path.join(fallback, 'run.json')));
  });
});
