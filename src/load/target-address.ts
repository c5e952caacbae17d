/**
 * Resolves a scenario's target URL to its addresses and applies the remote-target guard to each:
 * only loopback, private-network and benchmarking addresses are load-tested unless the user says otherwise.
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

/** A resolved target: where connections go. */
export interface TargetAddress {
  host: string;
  port: number;
}

/** A target URL resolved at the start of a run. */
export interface ResolvedTarget extends TargetAddress {
  /** The host name in the URL, or null when it holds an IP address. */
  name: string | null;
  /** Every address the name resolved to, in resolver order (the IP address itself for an IP URL); `host` is the first. */
  addresses: string[];
}

/** The port of a target URL: its own, else the scheme's (http 80, https 443). */
export function targetPort(u: URL): number {
  if (u.port !== '') return Number(u.port);
  return u.protocol === 'https:' ? 443 : 80;
}

/**
 * Resolves host:port of a target URL, once, with getaddrinfo (`dns.lookup`, as node:net and most
 * clients do), and refuses it unless every address it resolves to is local or `allowRemote`.
 * `source` names the scenario in the error (`<file>: target: cannot resolve <name> (ENOTFOUND)`).
 * Addresses come back without brackets (IPv6 in RFC 5952 form), an IPv4-mapped one as its IPv4
 * address: connections to it are IPv4 connections.
 */
export async function resolveTarget(url: string, allowRemote: boolean, source = 'scenario'): Promise<ResolvedTarget> {
  const u = new URL(url);
  const hostname = u.hostname.replace(/^\[|\]$/g, '');
  const port = targetPort(u);
  const name = net.isIP(hostname) === 0 ? hostname : null;
  let addresses = [unmappedIp(hostname)];
  if (name !== null) {
    try {
      addresses = [...new Set((await lookup(name, { all: true })).map((a) => unmappedIp(a.address)))];
    } catch (err) {
      throw new UsageError(`${source}: target: cannot resolve ${name} (${(err as NodeJS.ErrnoException).code ?? 'lookup failed'})`);
    }
    if (addresses.length === 0) throw new UsageError(`${source}: target: cannot resolve ${name} (no address)`);
  }
  const remote = addresses.find((a) => !isLocalAddress(a));
  if (!allowRemote && remote !== undefined) {
    const of = addresses.length > 1 ? ` (one of ${addresses.join(', ')})` : '';
    throw new UsageError(
      `${source}: target: ${url} resolves to ${remote}${of}, which is not a loopback or private address; portstorm only loads hosts you run ` +
        'unless the scenario sets allowRemote: true or you pass --allow-remote',
    );
  }
  return { host: addresses[0]!, port, name, addresses };
}
