/**
 * The errno taxonomy: every request failure becomes a normalized code plus the phase it failed in.
 * Failures are data; nothing here throws.
 */
/**
 * Where a request failed, in the order an exchange goes through them: `dns` (a per-connection
 * lookup of the target's name), `connect` (TCP), `tls` (the handshake), `send`, `response`.
 */
export type Phase = (typeof PHASES)[number];

/** Every phase, in exchange order. */
export const PHASES = ['dns', 'connect', 'tls', 'send', 'response'] as const;

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
  // A TLS failure keeps its stable name; a certificate can only fail in the handshake.
  if (isTlsCode(raw)) return { code: raw, phase: VERIFY_NAMES.has(raw) || raw === TLS_HANDSHAKE_TIMEOUT ? 'tls' : effectivePhase, message };
  // Errno names, and getaddrinfo's (EAI_AGAIN; Node reports ENOTFOUND for EAI_NONAME).
  if (/^E[A-Z0-9]+(_[A-Z0-9]+)*$/.test(raw) && !raw.startsWith('ERR_')) return withSyscall({ code: raw, phase: effectivePhase, message }, e);
  return { code: 'OTHER', phase: effectivePhase, message };
}

/** The failure code for an HTTP status that counts as failed (>= 400), or null for success. */
export function httpStatusFailure(status: number): string | null {
  if (status >= 500) return 'HTTP_5XX';
  if (status >= 400) return 'HTTP_4XX';
  return null;
}

/** Codes of lookups that failed (`dns` phase): the name does not exist, or no answer came in time. */
export const DNS_CODES: ReadonlySet<string> = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'ENODATA', 'ESERVFAIL', 'ETIMEOUT', 'ECONNREFUSED']);

/** The handshake did not finish within `timeouts.tls`. */
export const TLS_HANDSHAKE_TIMEOUT = 'TLS_HANDSHAKE_TIMEOUT';

/**
 * OpenSSL's X509_V_ERR_* numbers as Node names them (`err.code` of a certificate that fails
 * verification: src/crypto/crypto_common.cc). A host name the certificate does not cover is
 * Node's own check, `ERR_TLS_CERT_ALTNAME_INVALID`; OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH (62) and
 * X509_V_ERR_IP_ADDRESS_MISMATCH (64) read as that, so both engines give one code.
 */
export const X509_VERIFY_CODES: Readonly<Record<number, string>> = {
  2: 'UNABLE_TO_GET_ISSUER_CERT',
  3: 'UNABLE_TO_GET_CRL',
  4: 'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  5: 'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  6: 'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  7: 'CERT_SIGNATURE_FAILURE',
  8: 'CRL_SIGNATURE_FAILURE',
  9: 'CERT_NOT_YET_VALID',
  10: 'CERT_HAS_EXPIRED',
  11: 'CRL_NOT_YET_VALID',
  12: 'CRL_HAS_EXPIRED',
  13: 'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  14: 'ERROR_IN_CERT_NOT_AFTER_FIELD',
  15: 'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  16: 'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  17: 'OUT_OF_MEM',
  18: 'DEPTH_ZERO_SELF_SIGNED_CERT',
  19: 'SELF_SIGNED_CERT_IN_CHAIN',
  20: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  21: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  22: 'CERT_CHAIN_TOO_LONG',
  23: 'CERT_REVOKED',
  24: 'INVALID_CA',
  25: 'PATH_LENGTH_EXCEEDED',
  26: 'INVALID_PURPOSE',
  27: 'CERT_UNTRUSTED',
  28: 'CERT_REJECTED',
  62: 'ERR_TLS_CERT_ALTNAME_INVALID',
  64: 'ERR_TLS_CERT_ALTNAME_INVALID',
};

const VERIFY_NAMES = new Set(Object.values(X509_VERIFY_CODES));

/**
 * True for a stable TLS failure code: a certificate verification code (X509_VERIFY_CODES), Node's
 * `ERR_TLS_*`, an OpenSSL library error as Node names it (`ERR_SSL_<REASON>`, e.g.
 * ERR_SSL_WRONG_VERSION_NUMBER, ERR_SSL_TLSV1_ALERT_UNKNOWN_CA) or TLS_HANDSHAKE_TIMEOUT.
 */
export function isTlsCode(code: string): boolean {
  return VERIFY_NAMES.has(code) || code === TLS_HANDSHAKE_TIMEOUT || /^ERR_(TLS|SSL)_[A-Z0-9_]+$/.test(code);
}

/**
 * Node's name for an OpenSSL library error (`ERR_SSL_` + the reason string in capitals, spaces as
 * underscores: "wrong version number" → ERR_SSL_WRONG_VERSION_NUMBER), as node:tls sets `err.code`.
 * The native engine reports ERR_reason_error_string() and names it with this.
 */
export function opensslReasonCode(reason: string): string {
  return `ERR_SSL_${reason.trim().toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '')}`;
}
