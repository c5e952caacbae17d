/** What every transport offers the generator: one exchange at a time, never a rejected promise. */
import type { RunRecord } from '../../record/types.js';
import type { Failure } from '../../vocab/failure.js';

/** How a transport's connections get their source address and port (the record's `sourceStrategy`). */
export type SourceStrategy = NonNullable<RunRecord['sourceStrategy']>;

/** Result of one request/response exchange. Times are `performance.now()` milliseconds. */
export interface ExchangeResult {
  /** When the request was actually dispatched (after any wait for a pooled connection). */
  startedAt: number;
  /** When the first response byte arrived, or null. */
  firstByteAt: number | null;
  endedAt: number;
  localPort: number | null;
  /** Connect time (ms) of the connection this exchange opened, or null when it used an open one. */
  connectMs: number | null;
  /** Null on success. */
  failure: Failure | null;
  /**
   * True when an exchange given a start time was cancelled before it (cancelScheduled(), or
   * close(true)): nothing was sent, and it is no attempt. `failure` then says ABORTED.
   */
  notStarted?: boolean;
}

/** Called whenever a transport opens a TCP connection. */
export type OnConnect = (connectMs: number, localPort: number | null) => void;

/** Called whenever a TLS handshake completes: its time (from the TCP connect to its end) and whether it resumed a session. */
export type OnHandshake = (tlsMs: number, resumed: boolean) => void;

/** Called whenever a lookup of the target's name succeeds (`dns: per-connection`), with its time. */
export type OnLookup = (dnsMs: number) => void;

/**
 * The TLS client side of an HTTPS scenario, read once on the main thread (PEM text, never paths):
 * what both engines need to make the same handshake.
 */
export interface TlsClientOptions {
  /** SNI and the name the certificate must cover; null: no SNI (an IP address target), the certificate is checked against `host`. */
  servername: string | null;
  /** Verify nothing (tls.insecure). */
  insecure: boolean;
  /** PEM CA certificates to trust; null: Node's root store (tls.rootCertificates). */
  ca: string | null;
  /** PEM client certificate chain and key, or null. */
  cert: string | null;
  key: string | null;
  /** Offer the last session on every new connection (false: a full handshake each time). */
  sessionResumption: boolean;
  /** ALPN protocols offered, e.g. ['http/1.1']. */
  alpn: string[];
  /** Most time the handshake may take, from the TCP connect (TLS_HANDSHAKE_TIMEOUT past it), ms. */
  handshakeTimeoutMs: number;
}

/** Everything a transport needs to know; built once per run from the scenario. */
export interface TransportOptions {
  host: string;
  port: number;
  localAddresses: string[];
  close: 'client' | 'server' | 'reset';
  poolSize: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  /** `authority` is the Host header: the target URL's host:port, not the resolved address. */
  http: { method: string; path: string; headers: Record<string, string>; body: string; authority: string };
  tcp: { payload: string; expectBytes: number };
  onConnect: OnConnect;
  /** True when requests start on a schedule (arrival-rate groups): start promptly rather than in batches. */
  scheduled?: boolean;
  /** TLS on every connection (HTTPS), or null for plain TCP. */
  tls?: TlsClientOptions | null;
  /**
   * `dns: per-connection`: the host name every new connection looks up first (a failed lookup fails
   * the exchange in phase `dns`); `host` is then only the address the run resolved at its start.
   * Null or absent: connect to `host`.
   */
  lookupName?: string | null;
  /** TLS handshakes, as they complete (with `tls`). */
  onHandshake?: OnHandshake;
  /** Successful lookups (with `lookupName`). */
  onLookup?: OnLookup;
}

/** A way of carrying exchanges to the target. */
export interface Transport {
  /**
   * Starts an exchange. With `notBefore` (a performance.now() time) on a transport that
   * `schedules`, the exchange is handed over now and starts at that time, not before.
   */
  exchange(notBefore?: number): Promise<ExchangeResult>;
  /** True when exchange(notBefore) holds the start until then; other transports start at once. */
  readonly schedules?: boolean;
  /** Scheduled exchanges not due yet never start: they resolve with `notStarted`. */
  cancelScheduled?(): void;
  /**
   * How this transport's connections get their source port: `kernel` without localAddresses,
   * `bind` when bind() picks it (node:net), `bind-no-port` when connect() does (the native engine
   * with IP_BIND_ADDRESS_NO_PORT). Absent on test doubles.
   */
  readonly sourceStrategy?: SourceStrategy;
  /** Closes idle connections per the close policy; with `force`, aborts in-flight ones too. */
  close(force: boolean): Promise<void>;
}
