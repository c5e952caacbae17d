/** Picks the transport for a scenario's protocol and connection policy. */
import { oneShotTransport } from './oneshot.js';
import { httpPoolTransport } from './http-pool.js';
import { httpRequestBytes } from './http-request.js';
import { byteCountReader, httpResponseReader } from './readers.js';
import { tcpPoolTransport } from './tcp-pool.js';
import type { Transport, TransportOptions } from './types.js';

/** The transport for `protocol` with `reuse` on or off. */
export function createTransport(protocol: 'http' | 'tcp', reuse: boolean, opts: TransportOptions): Transport {
  if (protocol === 'http') {
    if (reuse) return httpPoolTransport(opts);
    const isHead = opts.http.method === 'HEAD';
    return oneShotTransport(opts, httpRequestBytes(opts), () => httpResponseReader(isHead));
  }
  if (reuse) return tcpPoolTransport(opts);
  return oneShotTransport(opts, Buffer.from(opts.tcp.payload), () => byteCountReader(opts.tcp.expectBytes));
}
