/** Create options for the native engine's ping/pong exchanges in tests (4 bytes each way, loopback). */
import { monotonicOriginNs, type EngineCreateOptions } from '../../src/load/transport/native-engine.js';

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
