/**
 * The flags of `portstorm serve --proxy-to URL`: the built-in proxy instead of the built-in target.
 * Validation only; serve.ts starts it.
 */
import { isIP } from 'node:net';
import { UsageError } from '../errors.js';
import { parseUpstream, type ProxyOptions } from '../target/proxy.js';

/** `--upstream-close` choices. */
export const UPSTREAM_CLOSE = ['client', 'server', 'reset'] as const;

/** The proxy's own flags as yargs gives them (undefined when not given). */
export interface ProxyArgs {
  'proxy-to'?: string;
  'upstream-reuse'?: boolean;
  'upstream-pool-size'?: number;
  'upstream-close'?: (typeof UPSTREAM_CLOSE)[number];
  'failure-status'?: number;
}

/** The target's flags that mean nothing to the proxy, with their defaults. */
export interface TargetOnlyArgs {
  protocol: string;
  'delay-ms': number;
  'body-bytes': number;
  close: string;
  tls?: boolean;
  'tls-cert'?: string;
  'tls-key'?: string;
  'tls-cert-out'?: string;
}

const PROXY_ONLY = ['upstream-reuse', 'upstream-pool-size', 'upstream-close', 'failure-status'] as const;

/**
 * The proxy's options without host/port, or null when --proxy-to is absent; throws UsageError
 * naming the flag for a bad URL or value, a proxy flag without --proxy-to, or a target flag with it.
 */
export function proxyFlags(argv: ProxyArgs & TargetOnlyArgs): Omit<ProxyOptions, 'host' | 'port'> | null {
  const to = argv['proxy-to'];
  if (to === undefined) {
    const stray = PROXY_ONLY.find((f) => argv[f] !== undefined);
    if (stray) throw new UsageError(`--${stray}: only with --proxy-to URL (it configures the built-in proxy)`);
    return null;
  }
  if (argv.tls || argv['tls-cert'] !== undefined || argv['tls-key'] !== undefined || argv['tls-cert-out'] !== undefined) {
    throw new UsageError('--proxy-to: the built-in proxy speaks plain HTTP only; leave out --tls, --tls-cert, --tls-key and --tls-cert-out');
  }
  if (argv.protocol !== 'http') throw new UsageError('--proxy-to: the built-in proxy speaks HTTP only; leave out --protocol tcp');
  if (argv['delay-ms'] !== 0) throw new UsageError('--delay-ms: applies to the built-in target, not to --proxy-to');
  if (argv['body-bytes'] !== 2) throw new UsageError('--body-bytes: applies to the built-in target, not to --proxy-to (the backend answers)');
  if (argv.close !== 'never') throw new UsageError('--close: applies to the built-in target; with --proxy-to see --upstream-close');
  if (typeof to !== 'string' || to.trim() === '') throw new UsageError('--proxy-to: expected a URL like http://10.0.0.2:8080');
  let upstream: { host: string; port: number; origin: string };
  try {
    upstream = parseUpstream(to.trim());
  } catch (err) {
    throw new UsageError(`--proxy-to: ${(err as Error).message}`);
  }
  if (isIP(upstream.host) === 0) throw new UsageError(`--proxy-to: expected an IP address (the proxy resolves no names), got ${JSON.stringify(upstream.host)}`);
  if (upstream.port < 1) throw new UsageError(`--proxy-to: expected a port from 1 to 65535, got ${upstream.port}`);
  const reuse = argv['upstream-reuse'] ?? false;
  const poolSize = argv['upstream-pool-size'];
  if (poolSize !== undefined) {
    if (!reuse) throw new UsageError('--upstream-pool-size: only with --upstream-reuse (without it every request opens its own connection)');
    if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 10_000) {
      throw new UsageError(`--upstream-pool-size: expected an integer from 1 to 10000, got ${String(poolSize)}`);
    }
  }
  const close = argv['upstream-close'];
  if (close !== undefined && reuse) throw new UsageError('--upstream-close: only without --upstream-reuse (a pooled connection stays open)');
  const failureStatus = argv['failure-status'] ?? 502;
  if (!Number.isInteger(failureStatus) || failureStatus < 500 || failureStatus > 599) {
    throw new UsageError(`--failure-status: expected an HTTP status from 500 to 599, got ${String(failureStatus)}`);
  }
  return { upstream: upstream.origin, reuse, poolSize: poolSize ?? 32, close: close ?? 'client', failureStatus };
}
