/**
 * The native connection engine (native/connengine): an epoll loop on its own thread that performs
 * whole exchanges (socket, optional bind, connect, write, read until the response is complete,
 * close per policy), or, in keep-alive mode, exchanges over a pool of persistent connections. See
 * native-oneshot.ts and native-keepalive.ts for the transports built on it.
 *
 * HTTPS runs on the engine too (the `tls` create option), with the OpenSSL of this Node process
 * (Node's own, or the shared libssl a distribution's node loads): the addon links no TLS library of
 * its own and says whether it found one (`addon.tls`); without one, HTTPS runs on node:tls.
 *
 * The addon is optional: the package ships it prebuilt for linux-x64, and `npm install` compiles it
 * (scripts/build-native.mjs) where no prebuilt binary fits and a compiler is available;
 * `loadNativeEngine()` says why it is not there otherwise, and the transport falls back to node:net
 * (oneshot.ts). PORTSTORM_SKIP_NATIVE (src/native-skip.ts) forces the fallback at run time too.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { loadAddon } from '../../native-addon.js';
import type { ReadState, ResponseReader } from './readers.js';
import type { TlsClientOptions } from './types.js';

/** An engine instance, owned by the addon. */
export type EngineHandle = { readonly __brand: 'connengine' };
/** A framer instance (the framing test hook), owned by the addon. */
export type FramerHandle = { readonly __brand: 'connengine-framer' };

/**
 * The TLS client side of an engine (`create()`'s `tls`): TlsClientOptions with the trust store
 * resolved, so `ca` is null only with `insecure` (engineTlsOptions passes Node's roots when the
 * scenario names none).
 */
export type EngineTlsOptions = TlsClientOptions;

/** What `create()` takes. Numbers are enums shared with connengine.c. */
export interface EngineCreateOptions {
  family: 4 | 6;
  host: string;
  port: number;
  localAddresses: string[];
  /** 0 client, 1 server, 2 reset. */
  close: 0 | 1 | 2;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  request: Buffer;
  /** 0 byte count, 1 HTTP. */
  reader: 0 | 1;
  isHead: boolean;
  expectBytes: number;
  /** CLOCK_MONOTONIC nanoseconds at which this thread's performance.now() was 0. */
  originNs: bigint;
  /**
   * Run the engine thread as SCHED_BATCH (default true): fewer preemptions, more events per wake-up,
   * but ~1 ms later wake-ups, so scheduled (open-model) load turns it off to start on time.
   */
  batch?: boolean;
  /**
   * Keep-alive (HTTP `reuse: true`) with at most this many connections; 0 or absent: a new
   * connection per exchange (`reuse: false`).
   */
  poolSize?: number;
  /**
   * With localAddresses: set IP_BIND_ADDRESS_NO_PORT before each bind() (default true), so the
   * port is picked at connect(), per destination. create() says whether it is in effect.
   */
  bindNoPort?: boolean;
  /** HTTPS: a TLS handshake on every connection before the request (throws when `addon.tls` is unavailable). */
  tls?: EngineTlsOptions | null;
  /** Called (on this thread) when records are waiting; it calls take(). */
  onReady: () => void;
}

/** The addon's exports (native/connengine/connengine.c documents each). */
export interface ConnEngineAddon {
  version: number;
  recordBytes: number;
  recordCapacity: number;
  submitCapacity: number;
  /** Whether this process has an OpenSSL (3.x) the engine can use, its version, and why not. */
  tls: { available: boolean; version: string | null; reason: string | null };
  /**
   * -> [handle, submissions (Int32 slot ids), records, not-before times (Float64 performance.now() ms; 0: at once),
   * whether IP_BIND_ADDRESS_NO_PORT is set before every bind() (false without localAddresses, when
   * not asked for, or when the kernel refuses it; absent from builds before the option, which never set it)]
   */
  create(o: EngineCreateOptions): [EngineHandle, ArrayBuffer, ArrayBuffer, ArrayBuffer, boolean?];
  /** Hands over the first `n` submissions; each starts once its not-before time has come. */
  submit(h: EngineHandle, n: number): boolean;
  take(h: EngineHandle): number;
  open(h: EngineHandle): number;
  abort(h: EngineHandle): void;
  /** Submissions with a not-before time after now never start: they end NOT_STARTED. */
  cancel(h: EngineHandle): void;
  destroy(h: EngineHandle): void;
  stop(h: EngineHandle): void;
  /** [engine wake-ups by submit, JS wake-ups, engine loop iterations, exchanges started] so far. */
  stats(h: EngineHandle): [number, number, number, number];
  errname(errno: number): string;
  /** Message `i` of the engine's TLS context (a record's `detail` with TLS codes), or null. */
  text(h: EngineHandle, i: number): string | null;
  /** OpenSSL's text for certificate verification result `n` (node:tls's err.message). TLS only. */
  tlsVerifyText(n: number): string;
  /** An OpenSSL error code's reason (node:tls's err.reason) and ERR_error_string_n text. TLS only. */
  tlsErrorText(code: number): [string, string];
  /**
   * Test hook: engine-thread allocations fail on purpose (1 records, 2 the queue to JS, 4 connections;
   * 8 submit() throws ENOMEM; 16 each socket's IP_BIND_ADDRESS_NO_PORT fails with ENOPROTOOPT; 0 none).
   */
  fault(h: EngineHandle, mask: number): void;
  framer(kind: 0 | 1, arg: number): FramerHandle;
  feed(f: FramerHandle, chunk: Buffer): number;
  end(f: FramerHandle): number;
}

/** The engine, or why it is not available here. */
export type NativeEngine =
  | { available: true; addon: ConnEngineAddon; /** the binary loaded */ file: string; /** shipped prebuilt (else compiled at install) */ prebuilt: boolean }
  | { available: false; reason: string };

/** Record layout version this wrapper reads. */
const ENGINE_VERSION = 4;

let cached: NativeEngine | undefined;

/** Loads the addon once (per thread) and checks its version. */
export function loadNativeEngine(): NativeEngine {
  cached ??= load();
  return cached;
}

function load(): NativeEngine {
  if (process.platform !== 'linux') return { available: false, reason: 'the native connection engine is Linux-only' };
  const found = loadAddon<ConnEngineAddon>('connengine', ENGINE_VERSION, 'create');
  if (found.addon === null) return { available: false, reason: found.reason };
  return { available: true, addon: found.addon, file: found.file, prebuilt: found.prebuilt };
}

/** Why HTTPS cannot run on the loaded engine (it found no usable OpenSSL in this process), or null when it can. */
export function engineTlsUnavailable(addon: ConnEngineAddon): string | null {
  return addon.tls?.available === true ? null : `the native engine has no OpenSSL here (${addon.tls?.reason ?? 'unknown'})`;
}

/**
 * What node:tls trusts by default, as PEM text: tls.getCACertificates('default') where Node has it
 * (its bundled roots, or the system's with --use-openssl-ca / --use-system-ca, plus
 * NODE_EXTRA_CA_CERTS), else the bundled roots plus NODE_EXTRA_CA_CERTS.
 */
export function defaultTrustPem(): string {
  const get = (tls as unknown as { getCACertificates?: (type: string) => string[] }).getCACertificates;
  if (typeof get === 'function') return get('default').join('\n');
  const pem = [...tls.rootCertificates];
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (extra) {
    try {
      pem.push(readFileSync(extra, 'utf8'));
    } catch {
      // Node warns about an unreadable file and goes on without it.
    }
  }
  return pem.join('\n');
}

/** The engine's TLS options for a transport's: the trust store resolved (Node's default when `ca` is null). */
export function engineTlsOptions(o: TlsClientOptions): EngineTlsOptions {
  return {
    servername: o.servername,
    insecure: o.insecure,
    ca: o.insecure ? null : (o.ca ?? defaultTrustPem()),
    cert: o.cert,
    key: o.key,
    sessionResumption: o.sessionResumption,
    alpn: o.alpn,
    handshakeTimeoutMs: o.handshakeTimeoutMs,
  };
}

/**
 * The CLOCK_MONOTONIC reading (ns) at which this thread's `performance.now()` was 0. Node's
 * performance.now() and process.hrtime both read uv_hrtime(), i.e. CLOCK_MONOTONIC, so the two
 * differ by a constant (this thread's time origin). It is taken between two hrtime readings; the
 * tightest of a few brackets bounds the error to a fraction of a microsecond.
 */
export function monotonicOriginNs(): bigint {
  let best = Infinity;
  let origin = 0n;
  for (let i = 0; i < 8; i++) {
    const a = process.hrtime.bigint();
    const p = performance.now();
    const b = process.hrtime.bigint();
    const span = Number(b - a);
    if (span < best) {
      best = span;
      origin = a + (b - a) / 2n - BigInt(Math.round(p * 1e6));
    }
  }
  return origin;
}

const FRAME_FAILURES = [null, 'HTTP_4XX', 'HTTP_5XX', 'PROTOCOL'] as const;
const MORE: ReadState = { done: false };

function decodeFrame(v: number): ReadState | null {
  if (v < 0) return null;
  if (v === 0) return MORE;
  return { done: true, failure: FRAME_FAILURES[(v >> 1) & 3] ?? null, keepAlive: ((v >> 3) & 1) === 1 };
}

function framerReader(addon: ConnEngineAddon, f: FramerHandle): ResponseReader {
  return {
    feed: (chunk) => decodeFrame(addon.feed(f, chunk)) ?? MORE,
    end: () => decodeFrame(addon.end(f)),
  };
}

/** Test hook: the engine's C framing of HTTP responses behind the ResponseReader interface. */
export function nativeHttpResponseReader(addon: ConnEngineAddon, isHead: boolean): ResponseReader {
  return framerReader(addon, addon.framer(1, isHead ? 1 : 0));
}

/** Test hook: the engine's C byte counting behind the ResponseReader interface. */
export function nativeByteCountReader(addon: ConnEngineAddon, expected: number): ResponseReader {
  return framerReader(addon, addon.framer(0, expected));
}
