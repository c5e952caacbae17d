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
  if (isV4Mapped(buf, at)) return `::ffff:${ipv4At(buf, at + 12)}`;
  const w: number[] = [];
  for (let i = 0; i < 16; i += 2) w.push((buf[at + i]! << 8) | buf[at + i + 1]!);
  // The longest run (>= 2) of zero words, the first one on a tie, becomes '::'.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number, b: number): string => w.slice(a, b).map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(0, 8);
  return `${hex(0, best)}::${hex(best + bestLen, 8)}`;
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

/**
 * 'ip:port' of the record's remote end ('[v6]:port' for IPv6, like the aggregator's keys). IPv4 and
 * v4-mapped destinations are looked up by a number (address * 65536 + port), so the string is
 * built once per distinct destination; other IPv6 destinations are formatted each time.
 */
export function destinationKey(buf: Buffer, offset: number, cache: DestinationCache): string {
  const port = (buf[offset + 6]! << 8) | buf[offset + 7]!;
  let at = offset + 24;
  let tag = 0;
  if (buf[offset] === 6) {
    if (!isV4Mapped(buf, at)) return `[${ipv6At(buf, at)}]:${port}`;
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
