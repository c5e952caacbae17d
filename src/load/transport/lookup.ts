/**
 * The `dns` phase of `dns: per-connection`: every new connection looks the target's name up first,
 * with getaddrinfo (`dns.lookup`), as node:net and most HTTP clients do, and connects to the first
 * address.
 */
import { lookup } from 'node:dns';
import { performance } from 'node:perf_hooks';
import { normalizeError, type Failure } from '../../vocab/failure.js';
import type { OnLookup } from './types.js';

/**
 * Looks `name` up; `done` gets the first address, or the failure in phase `dns` (ENOTFOUND,
 * EAI_AGAIN, ...; ETIMEOUT past `timeoutMs`: getaddrinfo runs on libuv's thread pool and cannot be
 * cancelled, so the exchange stops waiting for it). A success is reported to `onLookup` with its time.
 */
export function lookupFirst(name: string, timeoutMs: number, onLookup: OnLookup | undefined, done: (result: string | Failure) => void): void {
  const started = performance.now();
  let settled = false;
  const timer = setTimeout(() => {
    settled = true;
    done({ code: 'ETIMEOUT', phase: 'dns', message: `no answer to the lookup of ${name} within ${timeoutMs} ms` });
  }, timeoutMs);
  lookup(name, (err, address) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    if (err) return done(normalizeError(err, 'dns'));
    onLookup?.(performance.now() - started);
    done(address);
  });
}

/** {@link lookupFirst} as a promise. */
export function lookupFirstAsync(name: string, timeoutMs: number, onLookup?: OnLookup): Promise<string | Failure> {
  return new Promise((resolve) => lookupFirst(name, timeoutMs, onLookup, resolve));
}

/** True for a failure rather than an address. */
export function isFailure<T>(x: T | Failure): x is Failure {
  return typeof x === 'object' && x !== null && 'code' in x && 'phase' in x;
}
