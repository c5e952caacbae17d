/**
 * The agents a run watches (`watch:` in the scenario, `--watch` on the command line), owned in one
 * place: connected before the load (an agent that cannot be used stops the run there, unless it is
 * optional), read for the whole run, and folded into `record.hosts` at each checkpoint and at the end.
 */
import { RuntimeFailure, UsageError, type PortstormError } from '../errors.js';
import type { HostRecord } from '../record/types.js';
import type { WatchBlock } from '../scenario/watch.js';
import { AgentFailure, failureReason, type AgentAccess } from './agent-http.js';
import { AgentWatch, type AgentLive } from './agent-watch.js';
import { foldWatchedHost, type WatchedRunSpan } from './fold-watched.js';

export type { AgentAccess } from './agent-http.js';
export type { AgentLive } from './agent-watch.js';

/** The agents of a run, once connected. */
export interface WatchedHosts {
  /** Waits (briefly) for every agent's first scan: the pre-load baseline. */
  baseline(): Promise<void>;
  /** The load started at `localMs` (this machine's clock). */
  loadStarted(localMs: number): void;
  /** Every watched host's record as of now, in the order given. */
  hosts(span: WatchedRunSpan): Record<string, HostRecord>;
  /** Where each host is now, for the progress line. */
  live(): AgentLive[];
  /** Stops reading every agent (after a last sample at or past `endLocalMs`, briefly awaited). */
  stop(endLocalMs: number): Promise<void>;
}

/** The sampling settings a host is folded with until its agent said its own. */
export interface WatchDefaults {
  intervalMs: number;
  scanIntervalMs: number;
}

/** The one line of an agent that stops the run: `agent service (http://…): cannot connect (ECONNREFUSED)`. */
function agentError(name: string, url: string, err: unknown): PortstormError {
  const reason = failureReason(err);
  const message = `agent ${name} (${url}): ${reason}`;
  // A refused token is a setting to correct (exit 2); an agent that cannot be reached or used is a runtime failure (exit 3).
  return err instanceof AgentFailure && err.kind === 'auth' ? new UsageError(message) : new RuntimeFailure(message);
}

/**
 * Connects to every agent of `block` at once: each estimates its clock and opens its stream. The
 * first agent (in the order given) that cannot be used, and is not optional, fails the start with
 * one line naming it, after every agent was closed again.
 */
export async function startWatching(block: WatchBlock, access: AgentAccess, defaults: WatchDefaults): Promise<WatchedHosts> {
  const agents = Object.entries(block).map(([name, spec]) => new AgentWatch(name, spec, access, defaults));
  const started = await Promise.allSettled(agents.map((a) => a.start()));
  const failed = started.findIndex((r) => r.status === 'rejected');
  if (failed >= 0) {
    await Promise.all(agents.map((a) => a.stop(-Infinity)));
    const agent = agents[failed]!;
    throw agentError(agent.name, agent.spec.url, (started[failed] as PromiseRejectedResult).reason);
  }
  return {
    baseline: async () => {
      await Promise.all(agents.map((a) => a.baseline()));
    },
    loadStarted: (localMs) => agents.forEach((a) => a.loadStarted(localMs)),
    hosts: (span) => Object.fromEntries(agents.map((a) => [a.name, foldWatchedHost(a.snapshot(), span)])),
    live: () => agents.map((a) => a.live()),
    stop: async (endLocalMs) => {
      await Promise.all(agents.map((a) => a.stop(endLocalMs)));
    },
  };
}
