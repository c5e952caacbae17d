/**
 * The errno taxonomy: every request failure becomes a normalized code plus the phase it failed in.
 * Failures are data; nothing here throws.
 */
/** Where a request failed. */
export type Phase = 'connect' | 'send' | 'response';

/** A request failure as recorded. */
export interface Failure {
  code: string;
  phase: Phase;
  message: string;
  /**
   * The system call that failed, where the transport can tell (Node's `err.syscall`; the native
   * engine's own). `bind` with EADDRNOTAVAIL means a source address this host lacks; exhaustion
   * fails in `connect` (EADDRNOTAVAIL, or EADDRINUSE from the implicit bind of a bound socket).
   */
  syscall?: string;
}

/** `syscall:CODE` of a failure (the key of a record's `errorsBySyscall`), or null when the syscall is unknown. */
export function syscallKey(f: Failure): string | null {
  return f.syscall ? `${f.syscall}:${f.code}` : null;
}

/** Codes that mean "no local port was free" (DOMAIN.md: Linux, macOS and Windows spellings). */
export const EXHAUSTION_CODES: ReadonlySet<string> = new Set(['EADDRNOTAVAIL', 'EADDRINUSE', 'ENOBUFS', 'EAGAIN']);

/** Codes that mean the process ran out of file descriptors. */
export const FD_CODES: ReadonlySet<string> = new Set(['EMFILE', 'ENFILE']);

const PASS_THROUGH = new Set([
  ...EXHAUSTION_CODES,
  ...FD_CODES,
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EACCES',
  'EPERM',
  'EINVAL',
  'ABORTED',
]);

const UNDICI_CODES: Record<string, string> = {
  UND_ERR_CONNECT_TIMEOUT: 'CONNECT_TIMEOUT',
  UND_ERR_HEADERS_TIMEOUT: 'REQUEST_TIMEOUT',
  UND_ERR_BODY_TIMEOUT: 'REQUEST_TIMEOUT',
  UND_ERR_ABORTED: 'ABORTED',
  UND_ERR_SOCKET: 'SOCKET_CLOSED',
  UND_ERR_CLOSED: 'SOCKET_CLOSED',
  // Only portstorm destroys its pool, and only to abort a run (a stop or limits.maxDuration).
  UND_ERR_DESTROYED: 'ABORTED',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'PROTOCOL',
  UND_ERR_REQ_CONTENT_LENGTH_MISMATCH: 'PROTOCOL',
  HPE_INVALID_CONSTANT: 'PROTOCOL',
};

/**
 * Phases a mapped code always has. A request timeout means the response did not arrive in time:
 * undici reports a headers timeout before any byte came back, which its caller would call `send`.
 */
const MAPPED_PHASE: Record<string, Phase> = { CONNECT_TIMEOUT: 'connect', REQUEST_TIMEOUT: 'response' };

function describe(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

interface ErrnoLike {
  name?: unknown;
  code?: unknown;
  syscall?: unknown;
  message?: unknown;
  cause?: unknown;
}

/**
 * Maps any thrown value to a normalized failure. `phase` is what the caller knows about where the
 * exchange was; a `syscall: 'connect'` error is always phase `connect`.
 */
export function normalizeError(err: unknown, phase: Phase): Failure {
  const e = (typeof err === 'object' && err !== null ? err : {}) as ErrnoLike;
  const message = typeof e.message === 'string' ? e.message : describe(err);
  const raw = typeof e.code === 'string' ? e.code : '';
  const effectivePhase: Phase = e.syscall === 'connect' || e.syscall === 'bind' ? 'connect' : phase;
  const withSyscall = (f: Failure, from: ErrnoLike): Failure => (typeof from.syscall === 'string' && from.syscall !== '' ? { ...f, syscall: from.syscall } : f);
  if (PASS_THROUGH.has(raw)) return withSyscall({ code: raw, phase: effectivePhase, message }, e);
  const mapped = UNDICI_CODES[raw];
  if (mapped) {
    // undici wraps the socket's own errno in `cause`; prefer it when it is one we know.
    const cause = e.cause as ErrnoLike | undefined;
    if (cause && typeof cause.code === 'string' && PASS_THROUGH.has(cause.code)) {
      const phaseOfCause: Phase = cause.syscall === 'connect' || cause.syscall === 'bind' ? 'connect' : effectivePhase;
      return withSyscall({ code: cause.code, phase: phaseOfCause, message }, cause);
    }
    return { code: mapped, phase: MAPPED_PHASE[mapped] ?? effectivePhase, message };
  }
  // undici's parser errors carry no code (it looks the llhttp error number up by name): the name says it.
  if (raw.startsWith('HPE_') || e.name === 'HTTPParserError') return { code: 'PROTOCOL', phase: effectivePhase, message };
  if (raw.startsWith('E') && /^E[A-Z0-9]+$/.test(raw)) return withSyscall({ code: raw, phase: effectivePhase, message }, e);
  return { code: 'OTHER', phase: effectivePhase, message };
}

/** The failure code for an HTTP status that counts as failed (>= 400), or null for success. */
export function httpStatusFailure(status: number): string | null {
  if (status >= 500) return 'HTTP_5XX';
  if (status >= 400) return 'HTTP_4XX';
  return null;
}
