/**
 * Socket tables and port ranges on macOS and Windows, read from `netstat`, `sysctl` and `netsh`
 * output. Rows are recognised by their shape, never by header text: Windows translates headers and
 * state names, and the parsers must not count a line they do not understand.
 */
import { isIP } from 'node:net';
import { STATE_NUMBER_BY_NAME, type ParsedRow } from './aggregate.js';

const lines = (text: string): string[] => text.split(/\r?\n/);

/** A port field: digits in 0..65535, or `*` (unbound, 0). */
function portOf(s: string): number | null {
  if (s === '*') return 0;
  if (!/^\d{1,5}$/.test(s)) return null;
  const n = Number(s);
  return n <= 65535 ? n : null;
}

/** A numeric host with any `%scope` removed; `*` becomes `wildcard`. Names and cut-off addresses give null. */
function hostOf(host: string, wildcard: string | null): string | null {
  if (host === '*') return wildcard;
  const bare = host.replace(/%[^%]*$/, '');
  return isIP(bare) ? bare : null;
}

/** The wildcard address of each macOS protocol column (tcp46 is an IPv6 socket that accepts IPv4). */
const MAC_WILDCARD: Readonly<Record<string, string>> = { tcp4: '0.0.0.0', tcp6: '::', tcp46: '::' };

/** BSD spellings that `STATE_NUMBER_BY_NAME` knows under another name. */
const BSD_STATE_ALIASES: Readonly<Record<string, string>> = { SYN_RCVD: 'SYN_RECEIVED' };

/** `a.b.c.d.port`, `v6addr%scope.port`, `*.port`, `*.*`: the port is after the last dot. */
function macEndpoint(field: string, wildcard: string): [string, number] | null {
  const dot = field.lastIndexOf('.');
  if (dot <= 0) return null;
  const port = portOf(field.slice(dot + 1));
  const host = hostOf(field.slice(0, dot), wildcard);
  return host !== null && port !== null ? [host, port] : null;
}

/**
 * Parses macOS `netstat -an -p tcp` (also `-anl`, `-anv`, `-anb`): one row per tcp4/tcp6/tcp46
 * line; headers, other protocols and columns after the state are ignored.
 *
 * Without `-l`, macOS cuts IPv6 addresses to 16 characters (`fe80::aede:48ff:.49154`); a cut
 * address that is no longer valid is skipped, so run netstat as {@link netstatCommand} says.
 * `SYN_RCVD` is reported as `SYN_RECEIVED`; other states keep their printed name.
 */
export function parseNetstatMac(text: string): ParsedRow[] {
  const rows: ParsedRow[] = [];
  for (const line of lines(text)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6) continue;
    const wildcard = MAC_WILDCARD[f[0]!.toLowerCase()];
    if (!wildcard || !/^\d+$/.test(f[1]!) || !/^\d+$/.test(f[2]!)) continue;
    const local = macEndpoint(f[3]!, wildcard);
    const remote = macEndpoint(f[4]!, wildcard);
    if (!local || !remote) continue;
    const printed = f[5]!.toUpperCase();
    const state = BSD_STATE_ALIASES[printed] ?? printed;
    rows.push({ localAddress: local[0], localPort: local[1], remoteAddress: remote[0], remotePort: remote[1], state });
  }
  return rows;
}

/** `a.b.c.d:port` or `[v6addr%scope]:port`. */
function windowsEndpoint(field: string): [string, number] | null {
  const bracketed = field.startsWith('[');
  const sep = bracketed ? field.lastIndexOf(']:') : field.lastIndexOf(':');
  if (sep <= 0) return null;
  const rawHost = bracketed ? field.slice(1, sep) : field.slice(0, sep);
  if (!bracketed && rawHost.includes(':')) return null;
  const port = portOf(field.slice(sep + (bracketed ? 2 : 1)));
  const host = hostOf(rawHost, null);
  return host !== null && port !== null ? [host, port] : null;
}

/**
 * German state names as netstat.exe prints them on a German Windows. The listening state
 * (`ABHÖREN`, often mangled by the OEM code page) needs no entry: it is told by its wildcard
 * remote endpoint.
 */
const GERMAN_STATES: Readonly<Record<string, string>> = {
  HERGESTELLT: 'ESTABLISHED',
  WARTEND: 'TIME_WAIT',
  SCHLIESSEN_WARTEN: 'CLOSE_WAIT',
  FIN_WARTEN_1: 'FIN_WAIT_1',
  FIN_WARTEN_2: 'FIN_WAIT_2',
  SYN_GESENDET: 'SYN_SENT',
  SCHLIESSEND: 'CLOSING',
};

function windowsState(printed: string, remote: [string, number]): string {
  const upper = printed.toUpperCase();
  if (STATE_NUMBER_BY_NAME[upper] !== undefined) return upper;
  const german = GERMAN_STATES[upper];
  if (german) return german;
  if (remote[1] === 0 && (remote[0] === '0.0.0.0' || remote[0] === '::')) return 'LISTENING';
  return printed;
}

/**
 * Parses Windows `netstat -an` / `-ano` (any language): one row per `TCP` line, IPv4
 * `a.b.c.d:port` or IPv6 `[addr%scope]:port`, with or without the PID column. UDP and header
 * lines are skipped. English and German state names are normalised to the English ones
 * (`LISTENING`, `TIME_WAIT`, ...); a row in an unknown language whose remote end is `0.0.0.0:0` or
 * `[::]:0` is `LISTENING`; any other unknown state is kept as printed (see {@link countUnknownStates}).
 */
export function parseNetstatWindows(text: string): ParsedRow[] {
  const rows: ParsedRow[] = [];
  for (const line of lines(text)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[0]!.toUpperCase() !== 'TCP') continue;
    const local = windowsEndpoint(f[1]!);
    const remote = windowsEndpoint(f[2]!);
    if (!local || !remote) continue;
    const state = windowsState(f[3]!, remote);
    rows.push({ localAddress: local[0], localPort: local[1], remoteAddress: remote[0], remotePort: remote[1], state });
  }
  return rows;
}

/**
 * Rows whose state `aggregateScan` cannot count (netstat printed it in a language these parsers
 * do not know). When non-zero, the scan's state figures are incomplete and must be reported so.
 */
export function countUnknownStates(rows: readonly ParsedRow[]): number {
  return rows.filter((r) => STATE_NUMBER_BY_NAME[r.state.toUpperCase()] === undefined).length;
}

/** The sysctl names {@link parseMacPortRange} reads, in the order value-only (`-n`) output must follow. */
export const MAC_SYSCTL_NAMES = ['net.inet.ip.portrange.first', 'net.inet.ip.portrange.last', 'net.inet.tcp.msl'] as const;

/**
 * Reads macOS `sysctl net.inet.ip.portrange.first net.inet.ip.portrange.last net.inet.tcp.msl`,
 * either as `name: value` lines (any order, any subset) or, with `-n`, as bare values in the order
 * of {@link MAC_SYSCTL_NAMES}. `mslMs` is the MSL in milliseconds (macOS default 15000);
 * TIME_WAIT lasts 2 × MSL. What is missing or invalid is null.
 */
export function parseMacPortRange(sysctlText: string): { range: [number, number] | null; mslMs: number | null } {
  const named = new Map<string, number>();
  const bare: number[] = [];
  for (const line of lines(sysctlText)) {
    const m = /^\s*([\w.]+)\s*[:=]\s*(\d+)\s*$/.exec(line);
    if (m) named.set(m[1]!, Number(m[2]));
    else if (/^\s*\d+\s*$/.test(line)) bare.push(Number(line));
  }
  const [first, last, msl] = named.size > 0 ? MAC_SYSCTL_NAMES.map((n) => named.get(n)) : bare;
  const range: [number, number] | null =
    first !== undefined && last !== undefined && first >= 1 && first <= last && last <= 65535 ? [first, last] : null;
  return { range, mslMs: msl !== undefined && msl > 0 ? msl : null };
}

/**
 * Reads Windows `netsh int ipv4 show dynamicport tcp`: the first two consecutive `label : number`
 * lines are the start port and the number of ports (labels are translated, so they are not read).
 * Returns `[start, start + count - 1]`, or null when absent or out of 1..65535.
 */
export function parseWindowsDynamicPort(text: string): [number, number] | null {
  const values = lines(text).map((l) => /^\s*[^:\s][^:]*:\s*(\d+)\s*$/.exec(l)?.[1]);
  for (let i = 0; i + 1 < values.length; i++) {
    if (values[i] === undefined || values[i + 1] === undefined) continue;
    const start = Number(values[i]);
    const end = start + Number(values[i + 1]) - 1;
    return start >= 1 && end >= start && end <= 65535 ? [start, end] : null;
  }
  return null;
}

/**
 * The netstat invocation whose output the parsers above read, or null where netstat is not the
 * source. macOS: `-l` prints IPv6 addresses whole (they are cut to 16 characters otherwise).
 * Windows: no `-p` filter, because `-p tcp` lists IPv4 only (IPv6 is `-p tcpv6`); UDP rows are
 * skipped by the parser.
 */
export function netstatCommand(platform: NodeJS.Platform): { cmd: string; args: string[] } | null {
  if (platform === 'darwin') return { cmd: 'netstat', args: ['-a', '-n', '-l', '-p', 'tcp'] };
  if (platform === 'win32') return { cmd: 'netstat', args: ['-a', '-n'] };
  return null;
}
