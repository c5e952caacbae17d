/** Runs a compiled script inside a fresh private network namespace (`unshare -rn`) with lo up. */
import { spawnSync } from 'node:child_process';
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
