import type { SourceStrategy } from './types.js';

/**
 * The source strategy of a node:net transport: Node's `net` binds a socket with a localAddress
 * before connect() (libuv's uv_tcp_bind) and cannot set IP_BIND_ADDRESS_NO_PORT, so bind() picks
 * the port.
 */
export function nodeNetStrategy(addresses: string[]): SourceStrategy {
  return addresses.length === 0 ? 'kernel' : 'bind';
}

/** Round-robin over the scenario's source addresses (undefined: let the kernel choose). */
export function localAddressPicker(addresses: string[]): () => string | undefined {
  let i = 0;
  return () => (addresses.length === 0 ? undefined : addresses[i++ % addresses.length]);
}
