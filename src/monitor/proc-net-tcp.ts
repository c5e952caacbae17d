/**
 * Parser of /proc/net/tcp and /proc/net/tcp6. Fields are whitespace-separated (the `sl` column
 * widens past 9999, so never by column offsets); addresses are hex in host byte order.
 */

import { formatIpv6 } from '../vocab/address.js';
import type { ParsedRow } from './aggregate.js';

/** TCP states by their /proc hex code. */
const TCP_STATES: Readonly<Record<string, string>> = {
  '01': 'ESTABLISHED',
  '02': 'SYN_SENT',
  '03': 'SYN_RECV',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0A': 'LISTEN',
  '0B': 'CLOSING',
};

function ipv4(hex: string): string {
  // Little-endian on the hosts Linux runs portstorm on: 0100007F is 127.0.0.1.
  const n = parseInt(hex, 16);
  return `${n & 0xff}.${(n >>> 8) & 0xff}.${(n >>> 16) & 0xff}.${n >>> 24}`;
}

function ipv6(hex: string): string {
  const groups = new Array<number>(8);
  for (let i = 0; i < 4; i++) {
    // Each 32-bit word is in host (little-endian) order: its bytes reversed give two groups.
    const w = parseInt(hex.slice(i * 8, i * 8 + 8), 16);
    const be = (((w & 0xff) << 24) | ((w & 0xff00) << 8) | ((w >>> 8) & 0xff00) | (w >>> 24)) >>> 0;
    groups[i * 2] = be >>> 16;
    groups[i * 2 + 1] = be & 0xffff;
  }
  return formatIpv6(groups);
}

function endpoint(field: string): [string, number] | null {
  const colon = field.indexOf(':');
  if (colon < 0) return null;
  const hex = field.slice(0, colon);
  const port = parseInt(field.slice(colon + 1), 16);
  if (hex.length === 8) return [ipv4(hex), port];
  if (hex.length === 32) return [ipv6(hex), port];
  return null;
}

/**
 * Clock ticks per second of the `tm->when` field: the kernel prints TIME_WAIT's time left with
 * jiffies_delta_to_clock_t(), in USER_HZ, which is 100 on every architecture Node runs on (a fresh
 * TIME_WAIT socket shows 00001770 = 6000 ticks = 60 s).
 */
export const USER_HZ = 100;

/** The `tr:tm->when` field of a TIME_WAIT row (timer 3) as ms left; null when absent or another timer. */
function timeWaitLeft(field: string | undefined): number | null {
  const m = field === undefined ? null : /^([0-9A-Fa-f]{2}):([0-9A-Fa-f]+)$/.exec(field);
  if (!m || parseInt(m[1]!, 16) !== 3) return null;
  return (parseInt(m[2]!, 16) * 1000) / USER_HZ;
}

/** Parses one data line; returns null for the header or a malformed line. */
export function parseTcpLine(line: string): ParsedRow | null {
  const f = line.trim().split(/\s+/);
  if (f.length < 4 || !f[0]!.endsWith(':')) return null;
  const local = endpoint(f[1]!);
  const remote = endpoint(f[2]!);
  const state = TCP_STATES[f[3]!.toUpperCase()];
  if (!local || !remote || !state) return null;
  const row: ParsedRow = { localAddress: local[0], localPort: local[1], remoteAddress: remote[0], remotePort: remote[1], state };
  if (state === 'TIME_WAIT') row.timeWaitLeftMs = timeWaitLeft(f[5]);
  return row;
}

/** Parses a whole /proc/net/tcp(6) text. */
export function parseProcNetTcp(text: string): ParsedRow[] {
  const rows: ParsedRow[] = [];
  for (const line of text.split('\n')) {
    const row = parseTcpLine(line);
    if (row) rows.push(row);
  }
  return rows;
}
