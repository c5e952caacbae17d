/**
 * Resolves a scenario's target URL to one address and applies the remote-target guard: only
 * loopback, private-network and benchmarking addresses are load-tested unless the user says otherwise.
 */
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { UsageError } from '../errors.js';
import { unmappedIp } from '../vocab/address.js';

const LOCAL = new net.BlockList();
LOCAL.addSubnet('127.0.0.0', 8, 'ipv4');
LOCAL.addSubnet('10.0.0.0', 8, 'ipv4');
LOCAL.addSubnet('172.16.0.0', 12, 'ipv4');
LOCAL.addSubnet('192.168.0.0', 16, 'ipv4');
LOCAL.addSubnet('198.18.0.0', 15, 'ipv4');
LOCAL.addAddress('::1', 'ipv6');
LOCAL.addSubnet('fc00::', 7, 'ipv6');
LOCAL.addSubnet('2001:2::', 48, 'ipv6');

/**
 * True for loopback (127.0.0.0/8, ::1), RFC 1918, unique local IPv6 (fc00::/7) and the benchmarking
 * ranges (198.18.0.0/15, RFC 2544; 2001:2::/48, RFC 5180). An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) is judged by its IPv4 address.
 */
export function isLocalAddress(ip: string): boolean {
  if (net.isIP(ip) === 0) return false;
  const a = unmappedIp(ip);
  return LOCAL.check(a, net.isIPv4(a) ? 'ipv4' : 'ipv6');
}

/** A resolved target. */
export interface TargetAddress {
  host: string;
  port: number;
}

/**
 * Resolves host:port of a target URL and refuses non-local addresses unless `allowRemote`. The
 * address comes back without brackets (IPv6 in RFC 5952 form), an IPv4-mapped one as its IPv4
 * address: connections to it are IPv4 connections.
 */
export async function resolveTarget(url: string, allowRemote: boolean): Promise<TargetAddress> {
  const u = new URL(url);
  const hostname = u.hostname.replace(/^\[|\]$/g, '');
  const port = u.port === '' ? 80 : Number(u.port);
  let host = net.isIP(hostname) === 0 ? hostname : unmappedIp(hostname);
  if (net.isIP(hostname) === 0) {
    try {
      host = unmappedIp((await lookup(hostname)).address);
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
