/** Runs a compiled script inside a fresh private network namespace (`unshare -rn`) with lo up. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Path of a compiled fixture script under build/test/fixtures. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
}

/** Runs `node <script> ...args` in a new user+network namespace; returns parsed JSON from stdout. */
export function runInNetns<T>(script: string, args: string[], setup: string[] = [], timeoutMs = 60_000): T {
  const shell = ['ip link set lo up', ...setup, 'exec "$0" "$@"'].join(' && ');
  const r = spawnSync('unshare', ['-rn', 'sh', '-c', shell, process.execPath, script, ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  if (r.status !== 0) {
    throw new Error(`netns run failed (status ${r.status}, signal ${r.signal}): ${r.stderr || r.error?.message}`);
  }
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as T;
}

/**
 * Like {@link runInNetns}, in a new mount namespace too (`unshare -rnm`), with `files` (path →
 * content, e.g. /etc/hosts) bind-mounted over the machine's: written to a temporary directory that
 * the script may rewrite through the mounted path.
 */
export function runInNetnsWithFiles<T>(script: string, args: string[], files: Record<string, string>, setup: string[] = [], timeoutMs = 60_000): T {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-netns-files-'));
  try {
    const mounts = Object.entries(files).map(([target, content], i) => {
      const source = path.join(dir, `file-${i}`);
      writeFileSync(source, content);
      return `mount --bind ${source} ${target}`;
    });
    const shell = ['ip link set lo up', ...mounts, ...setup, 'exec "$0" "$@"'].join(' && ');
    const r = spawnSync('unshare', ['-rnm', 'sh', '-c', shell, process.execPath, script, ...args], { encoding: 'utf8', timeout: timeoutMs });
    if (r.status !== 0) throw new Error(`netns run failed (status ${r.status}, signal ${r.signal}): ${r.stderr || r.error?.message}`);
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as T;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
