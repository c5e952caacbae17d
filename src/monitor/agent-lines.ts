/**
 * Reading the agent's NDJSON (a `/stream` response or a `monitor --out` file): every line is
 * checked before it is used, since it comes from another host or a file a user handed over. A line
 * that does not parse or does not match is a problem naming where it was, never an exception on the
 * way. Files written before the hello line existed hold bare samples, one per line: those read as
 * sample lines.
 */
import { z } from 'zod';
import { hostInfoSchema } from '../record/schema.js';
import type { AgentLine } from './agent-protocol.js';

const count = z.number().int().nonnegative();
const nonneg = z.number().nonnegative();
const nullable = <T extends z.ZodType>(t: T) => t.nullable();

const states = z.object({
  established: count,
  synSent: count,
  synRecv: count,
  finWait1: count,
  finWait2: count,
  timeWait: count,
  close: count,
  closeWait: count,
  lastAck: count,
  listen: count,
  closing: count,
});

const destination = z.object({
  dest: z.string().max(64),
  inUse: count,
  timeWait: count,
  established: count,
  bySource: nullable(z.record(z.string(), count)),
  utilization: nullable(nonneg),
  own: z.boolean().optional(),
  timeWaitLeft: nullable(z.array(count).max(10_000)).optional(),
});

const scan = z.object({
  at: z.number(),
  costMs: nonneg,
  source: z.enum(['sockdiag', 'proc', 'netstat']),
  total: count,
  states,
  client: states,
  server: states,
  ephemeralInUse: count,
  destinations: z.array(destination).max(1000),
  ownServerTimeWait: count.optional(),
  sources: z.record(z.string(), count),
});

const sample = z.object({
  at: z.number(),
  lateMs: nullable(z.number()),
  sockstat: nullable(z.object({ at: z.number(), timeWait: count, inUse: count, orphan: count, alloc: count, inUse6: nullable(count) })),
  scan: nullable(scan),
  counters: nullable(z.record(z.string(), nullable(z.number()))),
  conntrack: nullable(z.object({ count, max: count })),
  fds: nullable(z.object({ open: count, soft: nullable(count), hard: nullable(count), atLimit: z.boolean().optional() })),
  cpu: nullable(
    z.object({
      processUs: nullable(nonneg),
      host: nullable(z.object({ busy: nonneg, total: nonneg, cpus: count })),
    }),
  ).optional(),
  missing: z.record(z.string(), z.string()).optional(),
});

const status = z.object({
  source: nullable(z.enum(['sockdiag', 'proc', 'netstat'])),
  unavailable: z.record(z.string(), z.string()),
  effectiveScanIntervalMs: nonneg,
});

const line = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hello'),
    time: z.number(),
    agent: z.object({ version: z.string(), pid: count }),
    host: hostInfoSchema,
    intervalMs: nonneg,
    scanIntervalMs: nonneg,
  }),
  z.object({ type: z.literal('sample'), sample }),
  z.object({ type: z.literal('status'), time: z.number(), status }),
  z.object({ type: z.literal('heartbeat'), time: z.number() }),
]);

/** A line read, or why it could not be. */
export type ParsedLine = { ok: true; line: AgentLine } | { ok: false; problem: string };

/** Longest line accepted (a scan of 1 000 destinations with their TIME_WAIT detail fits well below). */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

/**
 * Parses one NDJSON line. `where` names it in a problem (`samples.ndjson line 12`, `agent service`).
 * A bare sample (older `monitor --out` files) reads as a sample line.
 */
export function parseAgentLine(text: string, where: string): ParsedLine {
  if (text.length > MAX_LINE_BYTES) return { ok: false, problem: `${where}: a line of ${text.length} bytes (at most ${MAX_LINE_BYTES})` };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { ok: false, problem: `${where}: not JSON (${(err as Error).message.split('\n')[0]})` };
  }
  const typed = typeof doc === 'object' && doc !== null && !Array.isArray(doc) && !('type' in doc) && 'at' in doc ? { type: 'sample', sample: doc } : doc;
  const r = line.safeParse(typed);
  if (r.success) return { ok: true, line: r.data as AgentLine };
  const issue = r.error.issues[0]!;
  const path = issue.path.map(String).join('.');
  return { ok: false, problem: `${where}: ${path ? `${path}: ` : ''}${issue.message}` };
}
