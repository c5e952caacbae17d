/**
 * The native socket reader (native/sockdiag): lists the TCP sockets of the current network
 * namespace through NETLINK_SOCK_DIAG, as `ss` does, into a Buffer of packed 40-byte records:
 *
 *   [0] family (4 | 6)  [1] TCP state number
 *   [2..3] TIME_WAIT sockets: ms until the TIME_WAIT timer fires (big-endian, saturating at
 *          65535); other states 0
 *   [4..5] local port (big-endian)  [6..7] remote port (big-endian)
 *   [8..23] local address  [24..39] remote address (IPv4: first 4 bytes, rest 0)
 *
 * The addon is optional: the package ships it prebuilt for linux-x64, and `npm install` compiles it
 * (scripts/build-native.mjs) where no prebuilt binary fits and a compiler is available;
 * `loadSockDiag()` says why it is not there otherwise, and callers read /proc/net/tcp instead.
 * PORTSTORM_SKIP_NATIVE (src/native-skip.ts) forces the fallback at run time too.
 *
 * `dump()` is synchronous: it blocks the event loop for the length of the kernel dump.
 */
import { loadAddon } from '../native-addon.js';
import { formatIpv6 } from '../vocab/address.js';

/** Bytes per record in a dump Buffer. */
export const RECORD_BYTES = 40;

/** Linux TCP state numbers (include/net/tcp_states.h). */
export const TCP_STATE = {
  ESTABLISHED: 1,
  SYN_SENT: 2,
  SYN_RECV: 3,
  FIN_WAIT1: 4,
  FIN_WAIT2: 5,
  TIME_WAIT: 6,
  CLOSE: 7,
  CLOSE_WAIT: 8,
  LAST_ACK: 9,
  LISTEN: 10,
  CLOSING: 11,
} as const;

/** `statesMask` selecting every state. */
export const ALL_STATES = 0xfff;

/** A `statesMask` selecting the given state numbers. */
export function statesMask(...states: number[]): number {
  let m = 0;
  for (const s of states) m |= 1 << s;
  return m >>> 0;
}

/** One decoded socket. */
export interface SocketRow {
  family: 4 | 6;
  state: number;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** TIME_WAIT: ms until it ends (the kernel's idiag_expires); null in other states. */
  timeWaitLeftMs: number | null;
}

export type SockDiag =
  | {
      available: true;
      version: number;
      dump(family: 4 | 6, statesMask?: number): Buffer;
      /** The errno name the addon throws with (native/common/errno-name.h, shared with connengine). */
      errname(errno: number): string;
      /** The binary loaded. */
      file: string;
      /** Shipped prebuilt (else compiled at install). */
      prebuilt: boolean;
    }
  | { available: false; reason: string };

interface Addon {
  version: number;
  dump(family: number, statesMask?: number): Buffer;
  errname(errno: number): string;
}

let cached: SockDiag | undefined;

/** Loads the addon once; checks it with a cheap dump (listening IPv4 sockets only). */
export function loadSockDiag(): SockDiag {
  cached ??= load();
  return cached;
}

function load(): SockDiag {
  if (process.platform !== 'linux') return { available: false, reason: 'netlink sock_diag is Linux-only' };
  const found = loadAddon<Addon>('sockdiag', 2, 'dump');
  if (found.addon === null) return { available: false, reason: found.reason };
  const addon = found.addon;
  try {
    addon.dump(4, statesMask(TCP_STATE.LISTEN));
  } catch (e) {
    return { available: false, reason: `netlink sock_diag unusable here: ${e instanceof Error ? e.message : String(e)}` };
  }
  return {
    available: true,
    version: addon.version,
    file: found.file,
    prebuilt: found.prebuilt,
    dump: (family, mask = ALL_STATES) => addon.dump(family, mask),
    errname: (errno) => addon.errname(errno),
  };
}

/**
 * Calls `fn` for every record, without allocating: `offset` is the record's byte offset, for
 * `addressAt` and `destinationKey`.
 */
export function forEachRow(
  buf: Buffer,
  fn: (state: number, family: number, localPort: number, remotePort: number, offset: number) => void,
): void {
  const end = buf.length - (buf.length % RECORD_BYTES);
  for (let o = 0; o < end; o += RECORD_BYTES) {
    fn(buf[o + 1]!, buf[o]!, (buf[o + 4]! << 8) | buf[o + 5]!, (buf[o + 6]! << 8) | buf[o + 7]!, o);
  }
}

/** The TIME_WAIT time left (ms) of the record at `offset`; meaningful for TIME_WAIT records only. */
export function timeWaitLeftMsAt(buf: Buffer, offset: number): number {
  return (buf[offset + 2]! << 8) | buf[offset + 3]!;
}

/** Number of records in a dump Buffer. */
export function rowCount(buf: Buffer): number {
  return Math.floor(buf.length / RECORD_BYTES);
}

function ipv4At(buf: Buffer, at: number): string {
  return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
}

function isV4Mapped(buf: Buffer, at: number): boolean {
  for (let i = 0; i < 10; i++) if (buf[at + i] !== 0) return false;
  return buf[at + 10] === 0xff && buf[at + 11] === 0xff;
}

/** RFC 5952 text, as Node prints addresses: '::1', 'fe80::1', '::ffff:1.2.3.4'. */
function ipv6At(buf: Buffer, at: number): string {
  const w = new Array<number>(8);
  for (let i = 0; i < 8; i++) w[i] = (buf[at + 2 * i]! << 8) | buf[at + 2 * i + 1]!;
  return formatIpv6(w);
}

/** The local or remote address of the record at `offset`, as text. */
export function addressAt(buf: Buffer, offset: number, which: 'local' | 'remote'): string {
  const at = offset + (which === 'local' ? 8 : 24);
  return buf[offset] === 6 ? ipv6At(buf, at) : ipv4At(buf, at);
}

/** Decodes every record (allocates one object per socket: for tests and slow paths). */
export function decodeRows(buf: Buffer): SocketRow[] {
  const rows: SocketRow[] = [];
  forEachRow(buf, (state, family, localPort, remotePort, o) => {
    rows.push({
      family: family === 6 ? 6 : 4,
      state,
      localAddress: addressAt(buf, o, 'local'),
      localPort,
      remoteAddress: addressAt(buf, o, 'remote'),
      remotePort,
      timeWaitLeftMs: state === TCP_STATE.TIME_WAIT ? timeWaitLeftMsAt(buf, o) : null,
    });
  });
  return rows;
}

/** Cache for `destinationKey`; keep one per scan (or across scans: it holds one string per destination). */
export type DestinationCache = Map<number, string>;

const V4_MAPPED_TAG = 2 ** 48;

/** The last IPv6 destination `destinationKey` formatted: its port and address bytes, and its key. */
const lastV6Bytes = new Uint8Array(18);
let lastV6Key: string | null = null;

/** Whether the port and address at `at` (18 bytes) are the last IPv6 destination's. */
function isLastV6(buf: Buffer, at: number): boolean {
  if (lastV6Key === null) return false;
  for (let i = 17; i >= 0; i--) if (buf[at + (i < 2 ? i : i + 16)] !== lastV6Bytes[i]) return false;
  return true;
}

/**
 * 'ip:port' of the record's remote end ('[v6]:port' for IPv6, like the aggregator's keys). IPv4 and
 * v4-mapped destinations are looked up by a number (address * 65536 + port), so the string is
 * built once per distinct destination; other IPv6 destinations are formatted unless they are the
 * previous one's (most sockets of a load go to one destination).
 */
export function destinationKey(buf: Buffer, offset: number, cache: DestinationCache): string {
  const port = (buf[offset + 6]! << 8) | buf[offset + 7]!;
  let at = offset + 24;
  let tag = 0;
  if (buf[offset] === 6) {
    if (!isV4Mapped(buf, at)) {
      if (isLastV6(buf, offset + 6)) return lastV6Key!;
      for (let i = 0; i < 18; i++) lastV6Bytes[i] = buf[offset + 6 + (i < 2 ? i : i + 16)]!;
      return (lastV6Key = `[${ipv6At(buf, at)}]:${port}`);
    }
    at += 12;
    tag = V4_MAPPED_TAG;
  }
  const addr = ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0;
  const key = tag + addr * 65536 + port;
  let s = cache.get(key);
  if (s === undefined) {
    s = tag ? `[::ffff:${ipv4At(buf, at)}]:${port}` : `${ipv4At(buf, at)}:${port}`;
    cache.set(key, s);
  }
  return s;
}
