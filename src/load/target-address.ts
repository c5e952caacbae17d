/**
 * Resolves a scenario's target URL to one address and applies the remote-target guard: only
 * loopback and private-network addresses are load-tested unless the user says otherwise.
 */
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { UsageError } from '../errors.js';

const LOCAL = new net.BlockList();
LOCAL.addSubnet('127.0.0.0', 8, 'ipv4');
LOCAL.addSubnet('10.0.0.0', 8, 'ipv4');
LOCAL.addSubnet('172.16.0.0', 12, 'ipv4');
LOCAL.addSubnet('192.168.0.0', 16, 'ipv4');
LOCAL.addSubnet('198.18.0.0', 15, 'ipv4');
LOCAL.addAddress('::1', 'ipv6');
LOCAL.addSubnet('fc00::', 7, 'ipv6');

/** True for loopback, RFC 1918, RFC 2544 (198.18.0.0/15) and IPv6 loopback/ULA addresses. */
export function isLocalAddress(ip: string): boolean {
  const family = net.isIP(ip);
  if (family === 0) return false;
  return LOCAL.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

/** A resolved target. */
export interface TargetAddress {
  host: string;
  port: number;
}

/** Resolves host:port of a target URL and refuses non-local addresses unless `allowRemote`. */
export async function resolveTarget(url: string, allowRemote: boolean): Promise<TargetAddress> {
  const u = new URL(url);
  const hostname = u.hostname.replace(/^\[|\]$/g, '');
  const port = u.port === '' ? 80 : Number(u.port);
  let host = hostname;
  if (net.isIP(hostname) === 0) {
    try {
      host = (await lookup(hostname)).address;
    } catch (err) {
      throw new UsageError(`target ${url}: cannot resolve ${hostname} (${(err as NodeJS.ErrnoException).code ?? 'lookup failed'})`);
    }
  }
  if (!allowRemote && !isLocalAddress(host)) {
    throw new UsageError(
      `target ${url} resolves to ${host}, which is not a loopback or private address; portstorm only loads hosts you run ` +
        'unless the scenario sets allowRemote: true or you pass --allow-remote',
    );
  }
  return { host, port };
}
