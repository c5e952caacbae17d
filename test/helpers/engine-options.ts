/** Options for the transports in tests: the native engine's ping/pong exchanges, and a transport's options. */
import { monotonicOriginNs, type EngineCreateOptions } from '../../src/load/transport/native-engine.js';
import type { TransportOptions } from '../../src/load/transport/types.js';

/** One-shot `ping` → 4-byte reply toward 127.0.0.1:`port`, client closes; `extra` overrides any field. */
export function pingOptions(port: number, extra: Partial<EngineCreateOptions> = {}): EngineCreateOptions {
  return {
    family: 4,
    host: '127.0.0.1',
    port,
    localAddresses: [],
    close: 0,
    connectTimeoutMs: 5000,
    requestTimeoutMs: 5000,
    request: Buffer.from('ping'),
    reader: 0,
    isHead: false,
    expectBytes: 4,
    originNs: monotonicOriginNs(),
    onReady: () => undefined,
    ...extra,
  };
}

/**
 * Transport options toward host:`port` with test-sized timeouts (connect 2 s, request 3 s), the
 * client closing, one pooled connection, an HTTP GET / and a 5-byte TCP ping; `over` overrides any field.
 */
export function transportOptions(host: string, port: number, over: Partial<TransportOptions> = {}): TransportOptions {
  return {
    host,
    port,
    localAddresses: [],
    close: 'client',
    poolSize: 1,
    connectTimeoutMs: 2000,
    requestTimeoutMs: 3000,
    http: { method: 'GET', path: '/', headers: {}, body: '', authority: `${host}:${port}` },
    tcp: { payload: 'PING\n', expectBytes: 5 },
    onConnect: () => undefined,
    ...over,
  };
}
