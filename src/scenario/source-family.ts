/**
 * A connection's source address and its destination must be of one family: bind() of an IPv6
 * address on an IPv4 socket (or the reverse) fails with EINVAL on every connection. Told before
 * any load, naming the field.
 */
import { addressFamily } from '../vocab/address.js';

/**
 * The first source address in `localAddresses` whose family is not the target's, as one line
 * `connection.localAddresses[i]: ...`; null when they all match (or the target is not an address).
 * `target` is the address connections go to; `what` says what it is (e.g. `the built-in target`).
 */
export function sourceFamilyProblem(localAddresses: readonly string[], target: string, what: string, hint?: string): string | null {
  const family = addressFamily(target);
  if (family === 0) return null;
  const i = localAddresses.findIndex((a) => {
    const f = addressFamily(a);
    return f !== 0 && f !== family;
  });
  if (i < 0) return null;
  const a = localAddresses[i]!;
  const other = family === 4 ? 6 : 4;
  const fix = hint ?? (family === 4 ? 'give IPv4 source addresses, or an IPv6 target (http://[::1]:8080/)' : 'give IPv6 source addresses, or an IPv4 target');
  return `connection.localAddresses[${i}]: ${a} is an IPv${other} address but ${what} (${target}) is IPv${family}; a connection's source and destination must be of one family: ${fix}`;
}
