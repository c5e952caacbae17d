/** Round-robin over the scenario's source addresses (undefined: let the kernel choose). */
export function localAddressPicker(addresses: string[]): () => string | undefined {
  let i = 0;
  return () => (addresses.length === 0 ? undefined : addresses[i++ % addresses.length]);
}
