/**
 * IP address text, one form per address, shared by the stages that compare addresses (the monitor's
 * destination keys, the run's own destinations, the capacity model's loopback rule, the scenario's
 * source addresses): IPv6 in RFC 5952 form (lower case, the longest run of two or more zero groups
 * as `::`, the first on a tie, IPv4-mapped addresses as `::ffff:a.b.c.d`), as Node and `ss` print
 * them; `ip:port` keys with IPv6 in brackets (`[fd00::2]:8080`).
 */
import net from 'node:net';

/** RFC 5952 text of an IPv6 address given as its eight 16-bit groups. */
export function formatIpv6(groups: ArrayLike<number>): string {
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    const hi = groups[6]!;
    const lo = groups[7]!;
    return `::ffff:${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number, b: number): string => {
    let s = '';
    for (let i = a; i < b; i++) s += (i > a ? ':' : '') + groups[i]!.toString(16);
    return s;
  };
  if (best < 0) return hex(0, 8);
  return `${hex(0, best)}::${hex(best + bestLen, 8)}`;
}

/** The eight groups of an IPv6 address in any textual form (`::`, a dotted IPv4 tail, upper case); null when it is not one (or has a zone). */
export function ipv6Groups(ip: string): number[] | null {
  if (net.isIPv6(ip) === false || ip.includes('%')) return null;
  let host: string;
  try {
    // The WHATWG URL parser turns every IPv6 form into compressed hex with at most one `::`.
    host = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
  const part = (s: string | undefined): number[] => (s ? s.split(':').map((x) => parseInt(x, 16)) : []);
  const [head, tail] = host.split('::');
  const h = part(head);
  if (tail === undefined) return h;
  const t = part(tail);
  return [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}

/** An IP address in its one textual form (IPv6 per RFC 5952); anything else unchanged. */
export function canonicalIp(ip: string): string {
  const groups = ipv6Groups(ip);
  return groups ? formatIpv6(groups) : ip;
}

/** `canonicalIp`, with an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) as the IPv4 address it stands for. */
export function unmappedIp(ip: string): string {
  const c = canonicalIp(ip);
  return c.startsWith('::ffff:') && net.isIPv4(c.slice(7)) ? c.slice(7) : c;
}

/** The address family of an IP address, an IPv4-mapped one counting as IPv4; 0 when it is not an address. */
export function addressFamily(ip: string): 0 | 4 | 6 {
  const f = net.isIP(ip);
  if (f === 6) return net.isIPv4(unmappedIp(ip)) ? 4 : 6;
  return f as 0 | 4;
}

/** `ip:port`, with IPv6 addresses in brackets. */
export const hostPort = (ip: string, port: number): string => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

/** The address and port of an `ip:port` or `[ip]:port` key; null when it is neither. */
export function splitHostPort(key: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(key);
  if (!m) return null;
  const port = Number(m[3]);
  return port <= 65535 ? { host: m[1] ?? m[2]!, port } : null;
}

/**
 * A destination key in its one form: the address canonical and IPv4-mapped addresses as plain
 * IPv4 (`[::FFFF:7f00:1]:80` and `[::ffff:127.0.0.1]:80` both become `127.0.0.1:80`). Keys
 * that are not `ip:port` are returned unchanged.
 */
export function normalDest(key: string): string {
  const hp = splitHostPort(key);
  return hp ? hostPort(unmappedIp(hp.host), hp.port) : key;
}

/** Whether an IP address is on loopback as the kernel's tcp_tw_reuse=2 sees it: 127.0.0.0/8, ::1 and IPv4-mapped 127.0.0.0/8. */
export function isLoopbackIp(ip: string): boolean {
  const a = unmappedIp(ip);
  if (net.isIPv4(a)) return a.startsWith('127.');
  return a === '::1';
}
