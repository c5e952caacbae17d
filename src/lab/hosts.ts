/**
 * Starting a multi-host lab from inside the lab's (the client's) namespace: one host process per
 * non-client host (host-main.ts, each in a child network namespace, tied to this process by
 * pdeathsig), the veth pairs between them, the client's own addresses and routes. A SIGKILL of the
 * lab kills setpriv's unshare, whose --kill-child kills the host's PID 1 and with it its PID
 * namespace; the namespaces have no names and go with their last process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ExitCode, PortstormError, RuntimeFailure } from '../errors.js';
import { findExecutable, ip } from './netns.js';
import type { HostLine, HostMainConfig } from './host-main.js';
import type { HostPlan, TopologyPlan } from './topology.js';

const HOST_SCRIPT = fileURLToPath(new URL('./host-main.js', import.meta.url));
const START_MS = 20_000;

/** A host process, started. */
interface HostProc {
  plan: HostPlan;
  child: ChildProcess;
  next(): Promise<HostLine | null>;
}

/** The lab's hosts, up and ready. */
export interface RunningTopology {
  /** The agents' bearer token. */
  token: string;
  /** Conntrack timeouts each host set or could not (the router's, in nat). */
  conntrack: Record<string, { set: Record<string, number>; notSettable: Record<string, string> }>;
  /** Stops every host; resolves with each host's built-in target stats and how its server ended. */
  stop(): Promise<Record<string, { stats: unknown; ended: string | null }>>;
}

function startHost(plan: HostPlan, token: string): HostProc {
  const setpriv = findExecutable('setpriv');
  const unshare = findExecutable('unshare');
  if (!setpriv || !unshare) throw new RuntimeFailure('lab: a multi-host lab needs setpriv and unshare (util-linux); install util-linux and retry');
  const config: HostMainConfig = { plan, token };
  const child = spawn(
    setpriv,
    ['--pdeathsig', 'SIGKILL', '--', unshare, '--net', '--pid', '--fork', '--kill-child=SIGKILL', '--', process.execPath, HOST_SCRIPT, JSON.stringify(config)],
    // Its own process group: a terminal's Ctrl-C reaches the lab, which stops the hosts after the partial record.
    { stdio: ['pipe', 'pipe', 'inherit'], detached: true },
  );
  const queue: Array<HostLine | null> = [];
  const waiters: Array<(l: HostLine | null) => void> = [];
  const push = (l: HostLine | null): void => {
    const w = waiters.shift();
    if (w) w(l);
    else queue.push(l);
  };
  const rl = createInterface({ input: child.stdout! });
  rl.on('line', (text) => {
    try {
      push(JSON.parse(text) as HostLine);
    } catch {
      process.stderr.write(`portstorm: lab: host ${plan.name}: ${text}\n`);
    }
  });
  rl.on('close', () => push(null));
  child.stdin!.on('error', () => undefined);
  return {
    plan,
    child,
    next: () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiters.push(resolve))),
  };
}

async function expect<T extends 'started' | 'ready'>(h: HostProc, type: T): Promise<Extract<HostLine, { type: T }>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), START_MS)));
  const line = await Promise.race([h.next(), timeout]);
  clearTimeout(timer);
  if (line === 'timeout') throw new RuntimeFailure(`lab: host ${h.plan.name} was not ${type} within ${START_MS / 1000} s`);
  if (line === null) throw new RuntimeFailure(`lab: host ${h.plan.name} ended before it was ${type}`);
  if (line.type === 'error') throw new PortstormError(`lab: ${line.message}`, line.exitCode as ExitCode);
  if (line.type !== type) throw new RuntimeFailure(`lab: host ${h.plan.name} said ${line.type}, expected ${type}`);
  return line as Extract<HostLine, { type: T }>;
}

function kill(procs: HostProc[]): void {
  for (const p of procs) p.child.kill('SIGKILL');
}

/**
 * Starts every host of `plan`, links them, configures the client's end (this namespace), and
 * resolves once each host's server and monitor agent listen. On failure every host is killed.
 */
export async function startTopology(plan: TopologyPlan): Promise<RunningTopology> {
  const token = randomBytes(18).toString('base64url');
  const procs: HostProc[] = [];
  try {
    for (const h of plan.hosts) procs.push(startHost(h, token));
    for (const p of procs) await expect(p, 'started');
    // The unshare process (setpriv exec'd it) is in the host's network namespace once it said `started`.
    const pid = new Map(procs.map((p) => [p.plan.name, String(p.child.pid)]));
    for (const l of plan.links) {
      const [ia, ib] = [l.ifaces[l.a]!, l.ifaces[l.b]!];
      const aNs = l.a === 'client' ? [] : ['netns', pid.get(l.a)!];
      ip(['link', 'add', ia, ...aNs, 'type', 'veth', 'peer', 'name', ib, 'netns', pid.get(l.b)!]);
    }
    ip(['link', 'set', 'lo', 'up']);
    for (const i of plan.client.ifaces) {
      for (const a of i.addresses) ip(['addr', 'add', a, 'dev', i.name]);
      ip(['link', 'set', i.name, 'up']);
    }
    for (const r of plan.client.routes) ip(['route', ...r]);
    for (const p of procs) p.child.stdin!.write('go\n');
    const conntrack: RunningTopology['conntrack'] = {};
    for (const p of procs) conntrack[p.plan.name] = (await expect(p, 'ready')).conntrack;
    return {
      token,
      conntrack,
      async stop() {
        const out: Record<string, { stats: unknown; ended: string | null }> = {};
        for (const p of procs) p.child.stdin!.end('stop\n');
        for (const p of procs) {
          let timer: NodeJS.Timeout | undefined;
          const line = await Promise.race([p.next(), new Promise<null>((r) => (timer = setTimeout(() => r(null), 10_000)))]);
          clearTimeout(timer);
          if (line?.type === 'stopped') out[p.plan.name] = { stats: line.stats, ended: line.ended };
        }
        kill(procs);
        return out;
      },
    };
  } catch (err) {
    kill(procs);
    throw err;
  }
}
