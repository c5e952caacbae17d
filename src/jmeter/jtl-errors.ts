/**
 * JMeter's failures in portstorm's words: a JTL row's response code and messages become one of the
 * canonical codes of src/vocab/failure.ts and the phase it failed in. Unknown ones stay `OTHER` with
 * their text. Pure; nothing here throws.
 */
import { httpStatusFailure, type Phase } from '../vocab/failure.js';

/** A JMeter failure as portstorm records it. */
export interface JmeterFailure {
  code: string;
  phase: Phase;
  /** The exception and its message (or the assertion's), as JMeter wrote them. */
  message: string;
}

/** What JMeter writes before an exception's class in `responseCode`, and before its message in `responseMessage`. */
const CODE_PREFIX = 'Non HTTP response code: ';
const MESSAGE_PREFIX = 'Non HTTP response message: ';

/** Messages that mean one errno whatever exception carries them (Linux, macOS and Windows wordings). */
const BY_MESSAGE: ReadonlyArray<[RegExp, string, Phase]> = [
  [/cannot assign requested address|can't assign requested address|address not available/i, 'EADDRNOTAVAIL', 'connect'],
  [/address already in use/i, 'EADDRINUSE', 'connect'],
  [/too many open files/i, 'EMFILE', 'connect'],
  [/connection refused/i, 'ECONNREFUSED', 'connect'],
  [/no route to host/i, 'EHOSTUNREACH', 'connect'],
  [/network is unreachable/i, 'ENETUNREACH', 'connect'],
  [/connection reset/i, 'ECONNRESET', 'response'],
  [/broken pipe/i, 'EPIPE', 'send'],
];

/** TLS failures by message: certificate problems keep the names Node gives them. */
const TLS_BY_MESSAGE: ReadonlyArray<[RegExp, string]> = [
  [/PKIX path building failed|unable to find valid certification path/i, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'],
  [/No subject alternative (DNS )?names?|No name matching/i, 'ERR_TLS_CERT_ALTNAME_INVALID'],
  [/certificate_expired|NotAfter|certificate has expired/i, 'CERT_HAS_EXPIRED'],
];

/** The code of an exception class JMeter named, given its message and whether a connection was made (`Connect` > 0). */
function exceptionCode(cls: string, message: string, connected: boolean): { code: string; phase: Phase } | null {
  const simple = cls.slice(cls.lastIndexOf('.') + 1);
  if (simple === 'UnknownHostException') return { code: 'ENOTFOUND', phase: 'dns' };
  if (simple === 'SocketTimeoutException' || simple === 'ConnectTimeoutException') {
    if (simple === 'ConnectTimeoutException' || /connect timed out/i.test(message)) return { code: 'CONNECT_TIMEOUT', phase: 'connect' };
    if (/read timed out/i.test(message)) return { code: 'REQUEST_TIMEOUT', phase: 'response' };
    return connected ? { code: 'REQUEST_TIMEOUT', phase: 'response' } : { code: 'CONNECT_TIMEOUT', phase: 'connect' };
  }
  if (simple.startsWith('SSL') || cls.startsWith('javax.net.ssl.')) {
    const known = TLS_BY_MESSAGE.find(([re]) => re.test(message));
    return { code: known ? known[1] : 'ERR_SSL_HANDSHAKE_FAILURE', phase: 'tls' };
  }
  for (const [re, code, phase] of BY_MESSAGE) if (re.test(message)) return { code, phase };
  // An exhaustion exception whose message did not say which: BindException is always about the local port.
  if (simple === 'BindException') return { code: 'EADDRINUSE', phase: 'connect' };
  if (simple === 'NoHttpResponseException' || simple === 'ConnectionClosedException' || simple === 'EOFException') return { code: 'SOCKET_CLOSED', phase: 'response' };
  if (simple === 'ConnectException' || simple === 'HttpHostConnectException') {
    if (/timed out/i.test(message)) return { code: 'ETIMEDOUT', phase: 'connect' };
    return null;
  }
  if (simple === 'MalformedChunkCodingException' || simple === 'ProtocolException' || simple === 'ClientProtocolException') return { code: 'PROTOCOL', phase: 'response' };
  return null;
}

/**
 * Normalises a failed JTL row. `responseCode` is JMeter's (`503`, or `Non HTTP response code:
 * java.net.BindException`), `responseMessage` and `failureMessage` as written; `connectMs` is the
 * row's `Connect` (0 also when the connection was reused).
 */
export function normaliseJmeterFailure(responseCode: string, responseMessage: string, failureMessage: string, connectMs: number): JmeterFailure {
  const rc = responseCode.trim();
  const rm = responseMessage.startsWith(MESSAGE_PREFIX) ? responseMessage.slice(MESSAGE_PREFIX.length) : responseMessage;
  if (/^\d{3}$/.test(rc)) {
    const http = httpStatusFailure(Number(rc));
    if (http) return { code: http, phase: 'response', message: `${rc} ${rm}`.trim() };
    // A 2xx/3xx marked failed: an assertion (or a response JMeter found wanting) said so.
    return { code: 'OTHER', phase: 'response', message: failureMessage || `${rc} ${rm}`.trim() };
  }
  const cls = rc.startsWith(CODE_PREFIX) ? rc.slice(CODE_PREFIX.length).trim() : rc;
  if (/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)+$/.test(cls)) {
    const known = exceptionCode(cls, rm, connectMs > 0);
    const message = rm ? `${cls}: ${rm}` : cls;
    if (known) return { ...known, message };
    return { code: 'OTHER', phase: connectMs > 0 ? 'response' : 'connect', message };
  }
  for (const [re, code, phase] of BY_MESSAGE) if (re.test(rm) || re.test(failureMessage)) return { code, phase, message: rm || failureMessage };
  return { code: 'OTHER', phase: 'response', message: failureMessage || [rc, rm].filter(Boolean).join(' ') || 'failed (JMeter gave no reason)' };
}
