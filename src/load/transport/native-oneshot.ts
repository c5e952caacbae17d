/**
 * `reuse: false` on the native connection engine: the semantics of oneshot.ts (a new TCP
 * connection per exchange, the same close policies, failure codes, phases and messages), with the
 * sockets handled by an epoll loop on the engine's own thread.
 *
 * Exchanges cross the thread boundary in batches: exchange() queues a slot id, and one
 * process.nextTick per batch (after the microtasks that resolved the previous completions and
 * started the next requests) submits them all with one call. Completions come back as fixed-size
 * records that one drain per wake-up turns into ExchangeResults.
 *
 * Times are this thread's performance.now() milliseconds, converted in C from CLOCK_MONOTONIC
 * readings (see monotonicOriginNs). `startedAt` is when the engine thread began the exchange (its
 * socket() call); the wait between exchange() and that moment (the batch, a few microseconds) is
 * inside the generator's corrected latency, which counts from the intended start.
 *
 * The same code drives the engine's keep-alive mode (native-keepalive.ts passes a KeepAliveMode):
 * there `startedAt` is when the exchange got a pooled connection, and close() also closes the idle
 * connections the engine keeps.
 *
 * With `connection.localAddresses` the engine sets IP_BIND_ADDRESS_NO_PORT before bind(), so the
 * port is picked at connect(), per (source, destination ip:port), and a port is not held against
 * every destination of its source; `sourceStrategy` says whether it is in effect.
 *
 * HTTPS (`opts.tls`): the engine makes a TLS handshake on each new connection between the connect
 * and the request (phase `tls`), with OpenSSL in this process; onHandshake is called once per
 * completed handshake, and its failures read as node:tls's (certificate verification codes and
 * messages, ERR_SSL_* from OpenSSL's reason, ECONNRESET when the peer closes during it). The request
 * timeout then runs from the handshake's end. close: client sends close_notify before its FIN and
 * waits for the target's FIN (so a target that answers with its own close_notify meets an open
 * socket, and TIME_WAIT stays here).
 *
 * exchange(notBefore) hands the exchange over early: the engine keeps it in its schedule and starts
 * it at that time (its thread wakes for it), so scheduled load does not depend on this thread's
 * timers. cancelScheduled() (a stop) and close(true) resolve the ones not due yet as `notStarted`.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { normalizeError, opensslReasonCode, TLS_HANDSHAKE_TIMEOUT, X509_VERIFY_CODES, type Failure } from '../../vocab/failure.js';
import type { Phase } from '../../record/types.js';
import { engineTlsOptions, monotonicOriginNs, type ConnEngineAddon, type EngineHandle } from './native-engine.js';
import type { ExchangeResult, SourceStrategy, Transport, TransportOptions } from './types.js';

/** How the engine decides that a response is complete. */
export type NativeReader = { kind: 'http'; isHead: boolean } | { kind: 'bytes'; expectBytes: number };

type Resolve = (r: ExchangeResult) => void;

// Record fields (native/connengine/connengine.c): f64 and i32 indexes within one record.
const F_STARTED = 0;
const F_CONNECT_MS = 1;
const F_FIRST_BYTE = 2;
const F_ENDED = 3;
const I_TYPE = 8;
const I_SLOT = 9;
const I_CODE = 10;
const I_PHASE = 11;
const I_ERRNO = 12;
const I_SYSCALL = 13;
const I_LOCAL_PORT = 14;
const I_DETAIL = 15;
const I_LOCAL_INDEX = 16;
const I_STATUS = 17;
const I_RESUMED = 18;
const TEXT_OFFSET = 80;
const TEXT_BYTES = 48;

const REC_CONNECTED = 1;
const REC_HANDSHAKE = 3;

/** Outcome codes of the engine's records (connengine.c). */
export const CODE = {
  OK: 0,
  ERRNO: 1,
  CONNECT_TIMEOUT: 2,
  REQUEST_TIMEOUT: 3,
  PREMATURE_END: 4,
  PREMATURE_CLOSED: 5,
  HTTP_4XX: 6,
  HTTP_5XX: 7,
  PROTOCOL: 8,
  ABORTED: 9,
  NOT_STARTED: 10,
  TLS_DISCONNECT: 11,
  TLS_VERIFY: 12,
  TLS_ERROR: 13,
  TLS_TIMEOUT: 14,
} as const;
// Indexed by the engine's phase numbers (tls came last).
const PHASES: readonly Phase[] = ['connect', 'send', 'response', 'tls'];
/** X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH: the engine's message says which names the certificate has. */
const HOST_MISMATCH = new Set([62, 64]);
/**
 * Node 23.10+ (nodejs/node#57362) appends a hint to the message of three verification results:
 * UNABLE_TO_GET_ISSUER_CERT, DEPTH_ZERO_SELF_SIGNED_CERT and UNABLE_TO_VERIFY_LEAF_SIGNATURE.
 */
export const SYSTEM_CA_HINT = '; if the root CA is installed locally, try running Node.js with --use-system-ca';
const HINTED = new Set([2, 18, 21]);

/** Whether this Node appends SYSTEM_CA_HINT (`version`: process.versions.node). */
export function nodeHintsSystemCa(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 10);
}

/** node:tls's message when the peer closes during the handshake. */
const TLS_DISCONNECTED = 'Client network socket disconnected before secure TLS connection was established';
const SYSCALLS = ['connect', 'bind', 'read', 'write', 'setsockopt'] as const;
const DETAIL_LOCAL = 1;
const DETAIL_UNDEFINED = 2;
const POLICY = { client: 0, server: 1, reset: 2 } as const;

/** The engine's keep-alive mode: its pool size, and how its failures read (as the undici transport's). */
export interface KeepAliveMode {
  poolSize: number;
  /** Maps the one-shot reading of a record's failure, given its raw code and response status (0: no head yet). */
  failure(raw: number, oneShot: Failure, status: number): Failure;
}

/** How long close() waits for the engine to report exchanges it was told to end. */
const SETTLE_WAIT_MS = 2000;

interface Engine {
  handle: EngineHandle;
  /** Pending exchanges by slot id (the id the engine reports them under). */
  resolvers: (Resolve | undefined)[];
  freeSlots: number[];
  outstanding: number;
  sub: Int32Array;
  /** Not-before time of each submission (performance.now() ms; 0: at once). */
  due: Float64Array;
  f64: Float64Array;
  i32: Int32Array;
  bytes: Buffer;
  queued: number;
  flushScheduled: boolean;
  /** The close in progress: a second close() waits for it (a stopped handle is stale to the addon). */
  closing: Promise<void> | null;
  stopped: boolean;
}

const NOT_STARTED: Failure = { code: 'ABORTED', phase: 'connect', message: 'not started: the run stopped before its scheduled time' };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Builds the transport. `request` is sent on every connection; `reader` says when the response is
 * complete (HTTP framing or a byte count), as readers.ts does for the node:net transport.
 */
export function nativeOneShotTransport(addon: ConnEngineAddon, opts: TransportOptions, request: Buffer, reader: NativeReader, keepAlive?: KeepAliveMode): Transport {
  const family = net.isIP(opts.host);
  if (family === 0) throw new Error(`native engine: target ${opts.host} is not an IP address`);
  const recF64 = addon.recordBytes / 8;
  const recI32 = addon.recordBytes / 4;
  const capacity = addon.recordCapacity;
  const errnames = new Map<number, string>();
  const tlsTexts = new Map<string, string>();
  const tlsText = (key: string, make: () => string): string => {
    let text = tlsTexts.get(key);
    if (text === undefined) {
      text = make();
      tlsTexts.set(key, text);
    }
    return text;
  };
  let engine: Engine | null = null;
  // Until the first engine says otherwise: what it asks for (the kernel may refuse the option).
  let sourceStrategy: SourceStrategy = opts.localAddresses.length === 0 ? 'kernel' : 'bind-no-port';

  const errname = (errno: number): string => {
    let name = errnames.get(errno);
    if (name === undefined) {
      name = addon.errname(errno);
      errnames.set(errno, name);
    }
    return name;
  };

  const newEngine = (): Engine => {
    let self: Engine | null = null;
    const [handle, subAb, outAb, dueAb, bindNoPort] = addon.create({
      family: family === 6 ? 6 : 4,
      host: opts.host,
      port: opts.port,
      localAddresses: opts.localAddresses,
      close: POLICY[opts.close],
      connectTimeoutMs: opts.connectTimeoutMs,
      requestTimeoutMs: opts.requestTimeoutMs,
      request,
      reader: reader.kind === 'http' ? 1 : 0,
      isHead: reader.kind === 'http' && reader.isHead,
      expectBytes: reader.kind === 'bytes' ? reader.expectBytes : 0,
      originNs: monotonicOriginNs(),
      batch: opts.scheduled !== true,
      poolSize: keepAlive?.poolSize ?? 0,
      bindNoPort: true,
      tls: opts.tls ? engineTlsOptions(opts.tls) : null,
      onReady: () => {
        if (self) drain(self);
      },
    });
    if (opts.localAddresses.length > 0) sourceStrategy = bindNoPort === true ? 'bind-no-port' : 'bind';
    self = {
      handle,
      resolvers: [],
      freeSlots: [],
      outstanding: 0,
      sub: new Int32Array(subAb),
      due: new Float64Array(dueAb),
      f64: new Float64Array(outAb),
      i32: new Int32Array(outAb),
      bytes: Buffer.from(outAb),
      queued: 0,
      flushScheduled: false,
      closing: null,
      stopped: false,
    };
    return self;
  };

  const flush = (e: Engine): void => {
    e.flushScheduled = false;
    if (e.queued === 0) return;
    const n = e.queued;
    e.queued = 0;
    let failure: Failure | undefined;
    try {
      if (addon.submit(e.handle, n)) return;
    } catch (err) {
      // The engine could not take them (out of memory): they end now, with that error.
      failure = normalizeError(err, 'connect');
    }
    // A stopped engine takes nothing (close() stops it only once idle): end these exchanges here.
    const now = performance.now();
    for (let i = 0; i < n; i++) settleUnstarted(e, e.sub[i]!, now, failure);
  };

  const settleUnstarted = (e: Engine, slot: number, now: number, failure?: Failure): void => {
    const resolve = e.resolvers[slot];
    if (resolve === undefined) return;
    e.resolvers[slot] = undefined;
    e.outstanding--;
    if (failure) e.freeSlots.push(slot); // the engine never saw it
    failure ??= { code: 'PREMATURE_CLOSE', phase: 'connect', message: 'connection closed before a complete response' };
    resolve({ startedAt: now, firstByteAt: null, endedAt: now, localPort: null, connectMs: null, failure });
  };

  const failureOf = (e: Engine, i: number, code: number): Failure => {
    const f = oneShotFailure(e, i, code);
    return keepAlive ? keepAlive.failure(code, f, e.i32[i * recI32 + I_STATUS]!) : f;
  };

  const oneShotFailure = (e: Engine, i: number, code: number): Failure => {
    const io = i * recI32;
    const phase = PHASES[e.i32[io + I_PHASE]!] ?? 'connect';
    switch (code) {
      case CODE.ERRNO: {
        const name = errname(e.i32[io + I_ERRNO]!);
        const syscall = SYSCALLS[e.i32[io + I_SYSCALL]!] ?? 'connect';
        let message: string;
        if (syscall === 'bind') message = `bind ${name} ${opts.localAddresses[e.i32[io + I_LOCAL_INDEX]!] ?? ''}`;
        else if (syscall === 'connect') {
          const detail = e.i32[io + I_DETAIL];
          message = `connect ${name} ${opts.host}:${opts.port}`;
          if (detail === DETAIL_LOCAL) {
            const at = i * addon.recordBytes + TEXT_OFFSET;
            const text = e.bytes.toString('latin1', at, at + TEXT_BYTES);
            message += ` - Local (${text.slice(0, Math.max(0, text.indexOf('\0')))})`;
          } else if (detail === DETAIL_UNDEFINED) message += ' - Local (undefined:undefined)';
        } else message = `${syscall} ${name}`;
        return normalizeError({ code: name, syscall, message }, phase);
      }
      case CODE.CONNECT_TIMEOUT:
        return { code: 'CONNECT_TIMEOUT', phase: 'connect', message: `no connection within ${opts.connectTimeoutMs} ms` };
      case CODE.REQUEST_TIMEOUT:
        return { code: 'REQUEST_TIMEOUT', phase: 'response', message: `no complete response within ${opts.requestTimeoutMs} ms` };
      case CODE.PREMATURE_END:
        return { code: 'PREMATURE_CLOSE', phase, message: 'the target closed the connection before a complete response' };
      case CODE.PREMATURE_CLOSED:
        return { code: 'PREMATURE_CLOSE', phase, message: 'connection closed before a complete response' };
      case CODE.HTTP_4XX:
        return { code: 'HTTP_4XX', phase: 'response', message: 'response HTTP_4XX' };
      case CODE.HTTP_5XX:
        return { code: 'HTTP_5XX', phase: 'response', message: 'response HTTP_5XX' };
      case CODE.PROTOCOL:
        return { code: 'PROTOCOL', phase: 'response', message: 'response PROTOCOL' };
      case CODE.TLS_TIMEOUT:
        return { code: TLS_HANDSHAKE_TIMEOUT, phase: 'tls', message: `no TLS handshake within ${opts.tls?.handshakeTimeoutMs ?? 0} ms` };
      case CODE.TLS_DISCONNECT:
        return normalizeError({ code: 'ECONNRESET', message: TLS_DISCONNECTED }, phase);
      case CODE.TLS_VERIFY: {
        // As node:tls names SSL_get_verify_result() (X509ErrorCode: UNSPECIFIED for numbers it does not name).
        const n = e.i32[io + I_ERRNO]!;
        const text = HOST_MISMATCH.has(n) ? addon.text(e.handle, e.i32[io + I_DETAIL]!) : null;
        const message =
          text ??
          tlsText(`v${n}`, () => {
            if (HOST_MISMATCH.has(n)) return "Hostname/IP does not match certificate's altnames";
            return addon.tlsVerifyText(n) + (HINTED.has(n) && nodeHintsSystemCa() ? SYSTEM_CA_HINT : '');
          });
        return normalizeError({ code: X509_VERIFY_CODES[n] ?? 'UNSPECIFIED', message }, 'tls');
      }
      case CODE.TLS_ERROR: {
        const packed = e.i32[io + I_ERRNO]! >>> 0;
        const [reason, message] = addon.tlsErrorText(packed);
        return normalizeError({ code: reason ? opensslReasonCode(reason) : 'ERR_SSL_UNKNOWN', message }, phase);
      }
      default:
        return { code: 'ABORTED', phase, message: 'aborted by portstorm (run stopped)' };
    }
  };

  /** Turns every waiting record into an onConnect call or a resolved exchange. */
  const drain = (e: Engine): void => {
    const { f64, i32, resolvers } = e;
    for (;;) {
      const n = addon.take(e.handle);
      for (let i = 0; i < n; i++) {
        const fo = i * recF64;
        const io = i * recI32;
        const localPort = i32[io + I_LOCAL_PORT]!;
        const type = i32[io + I_TYPE];
        if (type === REC_CONNECTED) {
          opts.onConnect(f64[fo + F_CONNECT_MS]!, localPort < 0 ? null : localPort);
          continue;
        }
        if (type === REC_HANDSHAKE) {
          opts.onHandshake?.(f64[fo + F_CONNECT_MS]!, i32[io + I_RESUMED] === 1);
          continue;
        }
        const slot = i32[io + I_SLOT]!;
        const resolve = resolvers[slot];
        if (resolve === undefined) continue;
        resolvers[slot] = undefined;
        e.freeSlots.push(slot);
        e.outstanding--;
        const code = i32[io + I_CODE]!;
        const connectMs = f64[fo + F_CONNECT_MS]!;
        const firstByteAt = f64[fo + F_FIRST_BYTE]!;
        if (code === CODE.NOT_STARTED) {
          const at = f64[fo + F_ENDED]!;
          resolve({ startedAt: at, firstByteAt: null, endedAt: at, localPort: null, connectMs: null, failure: NOT_STARTED, notStarted: true });
          continue;
        }
        resolve({
          startedAt: f64[fo + F_STARTED]!,
          firstByteAt: firstByteAt < 0 ? null : firstByteAt,
          endedAt: f64[fo + F_ENDED]!,
          localPort: localPort < 0 ? null : localPort,
          connectMs: connectMs < 0 ? null : connectMs,
          failure: code === CODE.OK ? null : failureOf(e, i, code),
        });
      }
      if (n < capacity) return;
    }
  };

  const exchange = (notBefore?: number): Promise<ExchangeResult> =>
    new Promise<ExchangeResult>((resolve) => {
      let e = engine;
      if (e === null) {
        try {
          e = engine = newEngine();
        } catch (err) {
          const now = performance.now();
          resolve({ startedAt: now, firstByteAt: null, endedAt: now, localPort: null, connectMs: null, failure: normalizeError(err, 'connect') });
          return;
        }
      }
      const slot = e.freeSlots.length > 0 ? e.freeSlots.pop()! : e.resolvers.length;
      e.resolvers[slot] = resolve;
      e.outstanding++;
      if (e.queued === e.sub.length) flush(e);
      e.due[e.queued] = notBefore ?? 0;
      e.sub[e.queued++] = slot;
      if (!e.flushScheduled) {
        e.flushScheduled = true;
        process.nextTick(flush, e);
      }
    });

  const waitUntil = async (done: () => boolean, ms: number): Promise<void> => {
    const deadline = performance.now() + ms;
    while (!done() && performance.now() < deadline) await sleep(10);
  };

  return {
    exchange,
    schedules: true,
    get sourceStrategy() {
      return sourceStrategy;
    },
    cancelScheduled() {
      const e = engine;
      if (e === null) return;
      flush(e);
      addon.cancel(e.handle);
    },
    close(force) {
      const e = engine;
      if (e === null) return Promise.resolve();
      if (force && !e.stopped) addon.abort(e.handle);
      e.closing ??= closeEngine(e);
      return e.closing;
    },
  };

  async function closeEngine(e: Engine): Promise<void> {
    flush(e);
    // Kept-alive connections stay open until destroy(): wait for the exchanges only.
    const idle = (): boolean => e.outstanding === 0 && (keepAlive !== undefined || addon.open(e.handle) === 0);
    // Let connections finish their close handshake (close: server waits for the target's FIN).
    await waitUntil(idle, opts.requestTimeoutMs + 1000);
    if (keepAlive || !idle()) {
      addon.destroy(e.handle);
      await waitUntil(() => e.outstanding === 0 && addon.open(e.handle) === 0, SETTLE_WAIT_MS);
    }
    if (engine === e) engine = null;
    e.stopped = true;
    addon.stop(e.handle);
    // Only if the engine never reported them: no exchange is left without an outcome.
    const now = performance.now();
    e.resolvers.forEach((_resolve, slot) => settleUnstarted(e, slot, now));
  }
}
