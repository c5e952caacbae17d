/**
 * One non-client host of a multi-host lab, run as
 *   setpriv --pdeathsig SIGKILL -- unshare --net --pid --fork --kill-child=SIGKILL -- node host-main.js <json>
 * from inside the lab's (the client's) namespace: its own network namespace, and PID 1 of its own PID
 * namespace, so everything it starts dies with it. Lines on stdout tell the lab where it is
 * (`started`, then `ready` or `error`, and `stopped`); stdin says `go` (its veth ends are in place),
 * then `stop` (or closes). Every sysctl and nft rule it writes is its own namespace's.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { findExecutable, sysctlFile } from './netns.js';
import { isListening, startServe, type RunningServe } from './serve.js';
import { startTargetThread, type TargetThread } from '../target/thread.js';
import type { HostPlan } from './topology.js';

/** What the lab hands a host process. */
export interface HostMainConfig {
  plan: HostPlan;
  /** The agent's bearer token (also in PORTSTORM_TOKEN of the agent only). */
  token: string;
}

/** A line a host process writes on stdout. */
export type HostLine =
  | { type: 'started' }
  | { type: 'ready'; conntrack: { set: Record<string, number>; notSettable: Record<string, string> } }
  | { type: 'error'; message: string; exitCode: number }
  | { type: 'stopped'; stats: unknown; ended: string | null };

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const READY_MS = 15_000;

class HostFailure extends Error {
  constructor(
    message: string,
    readonly exitCode = 3,
  ) {
    super(message);
  }
}

function say(line: HostLine): void {
  process.stdout.write(JSON.stringify(line) + '\n');
}

function run(bin: string, args: string[], input?: string): void {
  const file = findExecutable(bin);
  if (!file) throw new HostFailure(`the ${bin} command is not installed`);
  try {
    execFileSync(file, args, { stdio: ['pipe', 'ignore', 'pipe'], timeout: 10_000, ...(input !== undefined ? { input } : {}) });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
    throw new HostFailure(`${bin} ${args.join(' ')} failed: ${stderr.split('\n')[0] || (err as Error).message}`);
  }
}

async function waitListening(port: number, what: string, child: ChildProcess | null): Promise<void> {
  const deadline = Date.now() + READY_MS;
  while (!isListening(port)) {
    if (child && child.exitCode !== null) throw new HostFailure(`${what} ended (exit ${child.exitCode}) before listening on port ${port}`);
    if (Date.now() > deadline) throw new HostFailure(`${what} did not listen on port ${port} within ${READY_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stopChild(child: ChildProcess | null, graceMs = 3000): Promise<string | null> {
  if (!child) return Promise.resolve(null);
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.signalCode ?? `exit ${child.exitCode}`);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(signal ?? `exit ${code}`);
    });
    child.kill('SIGTERM');
  });
}

async function main(cfg: HostMainConfig): Promise<void> {
  const plan = cfg.plan;
  say({ type: 'started' });
  const lines = createInterface({ input: process.stdin });
  const next = (): Promise<string | null> => new Promise((resolve) => {
    const onLine = (l: string) => { lines.off('close', onClose); resolve(l.trim()); };
    const onClose = () => { lines.off('line', onLine); resolve(null); };
    lines.once('line', onLine);
    lines.once('close', onClose);
  });
  if ((await next()) !== 'go') return;

  run('ip', ['link', 'set', 'lo', 'up']);
  for (const i of plan.ifaces) {
    for (const a of i.addresses) run('ip', ['addr', 'add', a, 'dev', i.name]);
    run('ip', ['link', 'set', i.name, 'up']);
  }
  for (const r of plan.routes) run('ip', ['route', ...r]);
  for (const [key, value] of Object.entries(plan.sysctls)) {
    try {
      writeFileSync(sysctlFile(key), `${value}\n`);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new HostFailure(`cannot set ${key}=${value} in host ${plan.name}'s namespace (${code === 'ENOENT' ? 'this kernel does not have it' : code ?? String(err)})`);
    }
  }
  const conntrack = { set: {} as Record<string, number>, notSettable: {} as Record<string, string> };
  if (plan.nft !== null) {
    if (!findExecutable('nft')) throw new HostFailure(`topology nat needs nft (Debian package nftables)`);
    try {
      run('nft', ['-f', '-'], plan.nft);
    } catch (err) {
      throw new HostFailure(`this kernel cannot NAT in a namespace (nft: ${(err as Error).message.replace(/^nft [^:]*: /, '')})`);
    }
  }
  // Conntrack timeouts are per network namespace (the module's sysctls exist once nf_conntrack is in use).
  for (const [key, value] of Object.entries(plan.conntrack)) {
    try {
      writeFileSync(sysctlFile(key), `${value}\n`);
      conntrack.set[key] = value;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      conntrack.notSettable[key] = code === 'ENOENT' ? 'not in this namespace (no nf_conntrack here)' : code === 'EACCES' || code === 'EPERM' ? 'read-only in a child namespace' : code ?? String(err);
    }
  }

  let thread: TargetThread | null = null;
  let serve: RunningServe | null = null;
  let proxy: ChildProcess | null = null;
  const r = plan.run;
  if (r.kind === 'builtin') {
    thread = await startTargetThread({ protocol: r.protocol, host: r.host, port: r.port, delayMs: r.delayMs, bodyBytes: r.bodyBytes, close: r.close }).catch((err: Error) => {
      throw new HostFailure(`the built-in target cannot listen on ${r.host}:${r.port}: ${err.message}`);
    });
  } else if (r.kind === 'serve') {
    serve = await startServe({ command: r.command, port: r.port, ready: r.ready }, r.host, r.logFile, r.env);
  } else if (r.kind === 'proxy') {
    // Its lines (listening; its requests, upstream connections and failures when stopped) go to a
    // log the lab keeps in the run's directory, not to the lab's stderr.
    const log = openSync(r.logFile, 'a');
    try {
      proxy = spawn(process.execPath, [CLI, ...r.args], { stdio: ['ignore', 'ignore', log] });
    } finally {
      closeSync(log);
    }
    await waitListening(r.port, `the built-in proxy (portstorm ${r.args.join(' ')})`, proxy);
  }
  const a = plan.agent;
  const agent = spawn(
    process.execPath,
    [CLI, 'monitor', '--serve', `${a.host}:${a.port}`, '--interval', `${a.intervalS}s`, '--scan-interval', `${a.scanIntervalS}s`, '--json'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PORTSTORM_TOKEN: cfg.token } },
  );
  let agentErr = '';
  agent.stderr!.on('data', (d: Buffer) => (agentErr = (agentErr + d.toString()).slice(-500)));
  await waitListening(a.port, `host ${plan.name}'s monitor agent${agentErr ? ` (${agentErr.trim().split('\n').pop()})` : ''}`, agent);
  say({ type: 'ready', conntrack });

  await next(); // `stop`, or the lab closed our stdin
  const stats = thread ? await thread.stats().catch(() => null) : null;
  await thread?.close().catch(() => undefined);
  const ended = (await serve?.stop()) ?? (await stopChild(proxy));
  await stopChild(agent);
  say({ type: 'stopped', stats, ended });
}

let cfg: HostMainConfig;
try {
  cfg = JSON.parse(process.argv[2] ?? '') as HostMainConfig;
} catch {
  process.stderr.write('portstorm: lab host: expected its configuration as JSON in argv[2]\n');
  process.exit(2);
}
main(cfg).then(
  () => process.exit(0),
  (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    say({ type: 'error', message: `host ${cfg.plan.name}: ${message}`, exitCode: err instanceof HostFailure ? err.exitCode : 3 });
    process.exit(err instanceof HostFailure ? err.exitCode : 3);
  },
);
