/**
 * `lab.serve`: the user's own server, run inside the lab namespace instead of the built-in target.
 * It runs as
 *   setpriv --pdeathsig SIGKILL -- unshare --pid --fork --kill-child=SIGKILL -- sh -c '{ <command> } & wait $!'
 * in its own process group: a graceful stop signals the group (the server gets SIGTERM; sh, PID 1 of
 * the PID namespace, would ignore it, so the server is not exec'd as PID 1), and if the lab process
 * dies the PID namespace dies with it, taking every process the command started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { RuntimeFailure } from '../errors.js';
import { parseProcNetTcp } from '../monitor/proc-net-tcp.js';
import { hostPort } from '../vocab/address.js';
import { findExecutable } from './netns.js';

/** The resolved `lab.serve` block. */
export interface ServeSpec {
  /** A shell command; it gets HOST and PORT (and, over HTTPS, TLS_CERT and TLS_KEY) in its environment and must listen there. */
  command: string;
  port: number;
  /** Seconds to wait for it to listen. */
  ready: number;
}

/** A started server. */
export interface RunningServe {
  /** Stops it: SIGTERM to its process group, SIGKILL after `graceMs`; resolves with its exit code or signal. */
  stop(graceMs?: number): Promise<string>;
}

const POLL_MS = 50;

/** Whether a socket of this namespace listens on `port` (read from /proc, so no port is spent probing). */
export function isListening(port: number): boolean {
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    if (parseProcNetTcp(text).some((r) => r.state === 'LISTEN' && r.localPort === port)) return true;
  }
  return false;
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `killed by ${signal}` : `exit ${code}`;
}

function logTail(logFile: string): string {
  try {
    const lines = readFileSync(logFile, 'utf8').trim().split('\n').filter(Boolean);
    return lines.length ? `; its last output: ${lines.slice(-2).join(' | ').slice(0, 300)} (all of it in ${logFile})` : '';
  } catch {
    return '';
  }
}

/**
 * Starts `spec.command` with HOST/PORT (and `env`, e.g. TLS_CERT/TLS_KEY) set, output appended to
 * `logFile`, and resolves once it listens on `spec.port`. Throws a RuntimeFailure (exit 3) when it
 * exits first or does not listen in time.
 */
export async function startServe(spec: ServeSpec, host: string, logFile: string, env: Record<string, string> = {}): Promise<RunningServe> {
  const unshare = findExecutable('unshare');
  const setpriv = findExecutable('setpriv');
  if (!unshare || !setpriv) throw new RuntimeFailure('lab: lab.serve needs unshare and setpriv (util-linux); install util-linux and retry');
  const log = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(
      setpriv,
      ['--pdeathsig', 'SIGKILL', '--', unshare, '--pid', '--fork', '--kill-child=SIGKILL', '--', 'sh', '-c', `{\n${spec.command}\n} & wait $!`],
      { detached: true, stdio: ['ignore', log, log], env: { ...process.env, ...env, HOST: host, PORT: String(spec.port) } },
    );
  } finally {
    closeSync(log);
  }
  let exited: string | null = null;
  const exit = new Promise<string>((resolve) => {
    child.on('error', (err) => resolve((exited = `could not start: ${err.message}`)));
    child.on('exit', (code, signal) => resolve((exited = describeExit(code, signal))));
  });
  const killGroup = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // already gone
    }
  };
  const serve: RunningServe = {
    async stop(graceMs = 5000) {
      if (exited !== null) return exited;
      killGroup('SIGTERM');
      const timer = setTimeout(() => killGroup('SIGKILL'), graceMs);
      try {
        return await exit;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  const deadline = Date.now() + spec.ready * 1000;
  while (!isListening(spec.port)) {
    if (exited !== null) {
      throw new RuntimeFailure(`lab: lab.serve command ended (${exited}) before listening on ${hostPort(host, spec.port)}${logTail(logFile)}`);
    }
    if (Date.now() >= deadline) {
      await serve.stop(1000);
      throw new RuntimeFailure(`lab: lab.serve command did not listen on ${hostPort(host, spec.port)} within ${spec.ready} s (it gets HOST and PORT in its environment)${logTail(logFile)}`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return serve;
}
