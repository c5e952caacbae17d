/** The built CLI as a child process, run to its end without blocking the test's event loop. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** build/src/cli/main.js. */
export const CLI_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** How a CLI process ended. */
export interface Ended {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** This environment without PORTSTORM_TOKEN (a test says when an agent's token is given), plus `env`. */
export function cliEnvironment(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { PORTSTORM_TOKEN: _inherited, ...base } = process.env;
  return { ...base, ...env };
}

/**
 * Runs `portstorm ARGS` in `cwd` to its end (SIGKILL after `timeoutMs`); `track` sees the child
 * while it runs (a test's after() kills what is left).
 */
export function runCli(args: string[], o: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number; track?: Set<ChildProcess> }): Promise<Ended> {
  const child = spawn(process.execPath, [CLI_MAIN, ...args], { cwd: o.cwd, env: cliEnvironment(o.env) });
  o.track?.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs);
  return new Promise((resolve) =>
    child.on('close', (status) => {
      clearTimeout(timer);
      o.track?.delete(child);
      resolve({ status, stdout, stderr });
    }),
  );
}
