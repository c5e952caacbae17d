/**
 * Talking to one `portstorm monitor --serve` agent over HTTP(S), on one undici Client: exactly one
 * connection at a time, kept alive, so the clock probes and the stream that follows them share it
 * and the reader spends one port per agent, not one per poll.
 */
import type { Readable } from 'node:stream';
import { Client } from 'undici';
import { epochMs } from '../load/clock.js';
import { AGENT_PATHS, HEARTBEAT_MS } from '../monitor/agent-protocol.js';
import type { HostClock } from '../record/types.js';
import { clockFromProbes, type ClockProbe } from './clock-offset.js';

/** What every request to an agent carries. */
export interface AgentAccess {
  /** Sent as `Authorization: Bearer <token>`; null sends none. */
  token: string | null;
  /** PEM CA certificates trusted for `https://` agents instead of Node's root store; null: the root store. */
  ca: string | null;
}

/** How long connecting (TCP and TLS), and then the answer's headers, may take. */
export const CONNECT_TIMEOUT_MS = 5000;
/** A stream silent this long (no line, not even a heartbeat) has stalled. */
export const STALL_MS = 3 * HEARTBEAT_MS;
/** Round trips the clock estimate takes the best of. */
export const CLOCK_PROBES = 8;
/** Longest `GET /health` answer read. */
const MAX_HEALTH_BYTES = 64 * 1024;

/**
 * An agent that cannot be used: `unreachable` (no connection, no answer, not an agent), `auth` (the
 * token was refused), `busy` (it serves its most readers). `reason` says why in a few words.
 */
export class AgentFailure extends Error {
  constructor(
    readonly reason: string,
    readonly kind: 'unreachable' | 'auth' | 'busy',
  ) {
    super(reason);
    this.name = 'AgentFailure';
  }
}

/** The one connection to the agent at `url`. */
export function agentClient(url: string, access: AgentAccess): Client {
  return new Client(url, {
    connect: { timeout: CONNECT_TIMEOUT_MS, ...(access.ca ? { ca: access.ca } : {}) },
    headersTimeout: CONNECT_TIMEOUT_MS,
    // undici times the gap between body chunks: a stream that sends nothing for STALL_MS fails with
    // UND_ERR_BODY_TIMEOUT, which is the stall.
    bodyTimeout: STALL_MS,
    keepAliveTimeout: 30_000,
    pipelining: 1,
  });
}

function headers(access: AgentAccess, accept: string): Record<string, string> {
  return { accept, ...(access.token !== null ? { authorization: `Bearer ${access.token}` } : {}) };
}

/** A refused answer as an AgentFailure (the body is drained first, so the connection stays usable). */
async function refusal(status: number, body: Readable, path: string): Promise<AgentFailure> {
  body.resume();
  if (status === 401 || status === 403) return new AgentFailure(`the token was refused (HTTP ${status}); give the agent's token with --watch-token or PORTSTORM_TOKEN`, 'auth');
  if (status === 503 || status === 429) return new AgentFailure(`it serves its most readers already (HTTP ${status} to GET ${path})`, 'busy');
  return new AgentFailure(`answered HTTP ${status} to GET ${path}: is it a portstorm monitor --serve agent?`, 'unreachable');
}

async function readBounded(body: Readable, max: number): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) {
      body.destroy();
      throw new AgentFailure(`GET ${AGENT_PATHS.health}: an answer of more than ${max} bytes: is it a portstorm agent?`, 'unreachable');
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts).toString('utf8');
}

/**
 * Estimates the agent's clock offset from CLOCK_PROBES `GET /health` round trips on `client` (see
 * clock-offset.ts). Throws AgentFailure when the agent cannot be reached or refuses.
 */
export async function probeClock(client: Client, access: AgentAccess, probes = CLOCK_PROBES): Promise<HostClock> {
  const taken: ClockProbe[] = [];
  for (let i = 0; i < probes; i++) {
    const sentMs = epochMs();
    const res = await client.request({ path: AGENT_PATHS.health, method: 'GET', headers: headers(access, 'application/json') }).catch((err: unknown) => {
      throw new AgentFailure(failureReason(err), 'unreachable');
    });
    const receivedMs = epochMs();
    if (res.statusCode !== 200) throw await refusal(res.statusCode, res.body, AGENT_PATHS.health);
    const text = await readBounded(res.body, MAX_HEALTH_BYTES).catch((err: unknown) => {
      throw err instanceof AgentFailure ? err : new AgentFailure(failureReason(err), 'unreachable');
    });
    let time: unknown;
    try {
      time = (JSON.parse(text) as { time?: unknown }).time;
    } catch {
      time = undefined;
    }
    if (typeof time !== 'number' || !Number.isFinite(time)) {
      throw new AgentFailure(`GET ${AGENT_PATHS.health} answered without its clock (time): is it a portstorm monitor --serve agent?`, 'unreachable');
    }
    taken.push({ sentMs, receivedMs, agentMs: time });
  }
  return clockFromProbes(taken)!;
}

/** Opens `GET /stream` on `client`: the response body, once the agent said 200. */
export async function openStream(client: Client, access: AgentAccess): Promise<Readable> {
  const res = await client.request({ path: AGENT_PATHS.stream, method: 'GET', headers: headers(access, 'application/x-ndjson') }).catch((err: unknown) => {
    throw new AgentFailure(failureReason(err), 'unreachable');
  });
  if (res.statusCode !== 200) throw await refusal(res.statusCode, res.body, AGENT_PATHS.stream);
  return res.body;
}

interface ErrLike {
  code?: unknown;
  message?: unknown;
  cause?: { code?: unknown } | undefined;
}

/** Why talking to an agent failed, in a few words: `cannot connect (ECONNREFUSED)`, `stalled (no line for 3 s)`. */
export function failureReason(err: unknown): string {
  if (err instanceof AgentFailure) return err.reason;
  const e = (typeof err === 'object' && err !== null ? err : {}) as ErrLike;
  const code = typeof e.code === 'string' ? e.code : '';
  const cause = typeof e.cause?.code === 'string' ? e.cause.code : null;
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `cannot connect (no answer within ${CONNECT_TIMEOUT_MS / 1000} s)`;
    case 'UND_ERR_HEADERS_TIMEOUT':
      return `no answer within ${CONNECT_TIMEOUT_MS / 1000} s`;
    case 'UND_ERR_BODY_TIMEOUT':
      return `stalled (no line for ${STALL_MS / 1000} s)`;
    case 'UND_ERR_SOCKET':
      return `connection lost (${cause ?? (typeof e.message === 'string' ? e.message : 'closed')})`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve its host name (${code})`;
  }
  if (/^E[A-Z0-9]+$/.test(code)) return code === 'ECONNRESET' || code === 'EPIPE' ? `connection lost (${code})` : `cannot connect (${code})`;
  if (/CERT|SELF_SIGNED|ALTNAME|UNABLE_TO/.test(code)) return `its certificate is not accepted (${code}); trust its CA with --watch-ca`;
  if (/^ERR_SSL|^ERR_TLS/.test(code)) return `TLS failed (${code})`;
  const message = typeof e.message === 'string' ? e.message.split('\n')[0]! : String(err);
  return code ? `${message} (${code})` : message;
}
