/**
 * The capacity model of client ports (DOMAIN.md): with the client closing first, every
 * connection holds its port for the TIME_WAIT length, so one (source IP, destination) pair
 * sustains `usable / timeWaitS` new connections per second.
 */

/** Sustainable new connections per second toward one destination from `sources` source IPs. */
export function sustainableRate(usable: number, timeWaitS: number, sources = 1, destinations = 1): number {
  if (timeWaitS <= 0) return Infinity;
  return (usable / timeWaitS) * Math.max(1, sources) * Math.max(1, destinations);
}

/**
 * Seconds until the first connect() fails at a steady `rate` of new connections, starting with
 * `inUse` ports already held; null when the rate is sustainable (ports free up as fast as they are
 * taken). Ports taken in the first TIME_WAIT seconds are not yet free again, so failure comes
 * when `usable - inUse` ports are spent, provided that happens within TIME_WAIT.
 */
export function secondsToExhaustion(rate: number, usable: number, inUse: number, timeWaitS: number): number | null {
  if (rate <= 0) return null;
  const free = Math.max(0, usable - inUse);
  const t = free / rate;
  if (t >= timeWaitS && rate <= usable / timeWaitS) return null;
  return t;
}

/** New connections per second that a request rate needs with keep-alive. */
export function connectionRate(requestRate: number, requestsPerConnection: number): number {
  return requestRate / Math.max(1, requestsPerConnection);
}
