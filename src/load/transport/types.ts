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
