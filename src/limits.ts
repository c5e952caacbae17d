/**
 * The process's open-file limit: raised to the hard limit at startup, with a few descriptors held
 * in reserve on the null device while the load runs. The load may take every descriptor the limit
 * allows (that is what an fd-exhaustion run reproduces); the reserve is freed once the load has
 * ended, so the tool is sure of descriptors for its results however the load left the table.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { parseNofile } from './monitor/linux.js';
import type { NofileAdjustment, NofileLimits, RunRecord } from './record/types.js';

/** Descriptors held in reserve while the load runs. */
export const FD_RESERVE = 16;

let adjusted: NofileAdjustment | null = null;
const reserve: number[] = [];

/** Reads `Max open files` from a /proc limits file; null fields (and a reason) when it cannot. */
export function readNofile(limitsFile = '/proc/self/limits'): NofileLimits & { reason: string | null } {
  let text: string;
  try {
    text = readFileSync(limitsFile, 'utf8');
  } catch (err) {
    return { soft: null, hard: null, reason: `cannot read ${limitsFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  const n = parseNofile(text);
  return { ...n, reason: n.soft === null || n.hard === null ? `no finite open-file limit in ${limitsFile}` : null };
}

/** How {@link raiseNofile} is pointed at a process (tests aim it at a child). */
export interface RaiseOptions {
  /** Process whose limit is raised (default: this one). */
  pid?: number;
  /** The prlimit command (default `prlimit`, from util-linux). */
  prlimit?: string;
}

/**
 * Raises the soft RLIMIT_NOFILE of `pid` to its hard limit with `prlimit --pid <pid>
 * --nofile=<hard>:<hard>` (Node has no setrlimit; raising the soft limit up to the hard one needs
 * no privilege), reading /proc/<pid>/limits before and after. Never throws: a missing or failing
 * prlimit is the outcome `failed` with its reason. Node itself raises the soft limit to the hard
 * one when it starts, so for portstorm's own process the usual outcome is `at-hard`.
 */
export function raiseNofile(o: RaiseOptions = {}): Omit<NofileAdjustment, 'reserve'> {
  const pid = o.pid ?? process.pid;
  const limitsFile = `/proc/${pid}/limits`;
  const before = readNofile(limitsFile);
  const limits = (n: NofileLimits): NofileLimits => ({ soft: n.soft, hard: n.hard });
  if (before.soft === null || before.hard === null) {
    return { before: limits(before), after: limits(before), outcome: 'unknown', reason: before.reason };
  }
  if (before.soft >= before.hard) return { before: limits(before), after: limits(before), outcome: 'at-hard', reason: null };
  let reason: string | null = null;
  try {
    execFileSync(o.prlimit ?? 'prlimit', ['--pid', String(pid), `--nofile=${before.hard}:${before.hard}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 5000,
      encoding: 'utf8',
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string; status?: number | null };
    if (e.code === 'ENOENT') reason = `${o.prlimit ?? 'prlimit'} not found (it comes with util-linux)`;
    else reason = `prlimit failed: ${(e.stderr ?? '').trim().split('\n')[0] || e.message.split('\n')[0]}`;
  }
  const after = readNofile(limitsFile);
  if (reason === null && after.soft !== before.hard) reason = `prlimit ran, but the soft limit is ${after.soft ?? 'unknown'}`;
  return { before: limits(before), after: limits(after), outcome: reason === null ? 'raised' : 'failed', reason };
}

/**
 * What `portstorm run` and the lab's inner process do first: raise this process's open-file soft
 * limit to the hard limit and take the descriptor reserve. The result is kept for the run
 * record's host facts (see {@link nofileAdjustment}). Safe to call more than once.
 */
export function prepareFdLimits(): NofileAdjustment {
  const raised = raiseNofile();
  holdFdReserve(FD_RESERVE);
  adjusted = { ...raised, reserve: reserve.length };
  return adjusted;
}

/** The adjustment {@link prepareFdLimits} made in this process, or null when it was not called. */
export function nofileAdjustment(): NofileAdjustment | null {
  return adjusted;
}

/** Holds descriptors on the null device until there are `n` in reserve; returns how many are held. */
export function holdFdReserve(n: number): number {
  while (reserve.length < n) {
    try {
      reserve.push(openSync(os.devNull, 'r'));
    } catch {
      break;
    }
  }
  return reserve.length;
}

/** Closes the reserve, freeing its descriptors for the tool's own files; returns how many. */
export function releaseFdReserve(): number {
  const n = reserve.length;
  for (const fd of reserve.splice(0)) {
    try {
      closeSync(fd);
    } catch {
      // already closed: nothing is lost
    }
  }
  return n;
}

/** A scenario safety limit that can end a run's load early. */
export type SafetyLimit = 'maxRequests' | 'maxDuration';

/**
 * The safety limits (`limits.maxRequests`, `limits.maxDuration`) that cut a run's load short, read
 * from its record: `maxRequests` when as many requests were attempted; `maxDuration` when the run
 * lasted that long and a load group was planned to go on past it.
 */
export function limitsReached(r: Pick<RunRecord, 'scenario' | 'totals' | 'durationS'>): SafetyLimit[] {
  const { limits, load } = r.scenario;
  const out: SafetyLimit[] = [];
  if (r.totals.attempted >= limits.maxRequests) out.push('maxRequests');
  const plannedEnd = Math.max(...load.map((g) => g.startAfter + (g.duration ?? Infinity)));
  if (plannedEnd > limits.maxDuration && r.durationS >= limits.maxDuration) out.push('maxDuration');
  return out;
}
