/**
 * Linux sources of the monitor: /proc/net/sockstat(6), the TCP counters of /proc/net/netstat and
 * /proc/net/snmp, conntrack, and this process's file descriptors. Parsers take text; readers take
 * a /proc root so tests can point them at fixtures. Everything here is a file read: none of it
 * needs a free port, so it keeps working while the machine is out of ports.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { COUNTER_NAMES, type Conntrack, type CounterDeltas, type CounterName, type FdUsage, type SockstatTotals } from './types.js';

/** Parses sockstat (and optionally sockstat6) text into fast totals. */
export function parseSockstat(text: string, text6: string | null, at: number): SockstatTotals | null {
  const tcp = /^TCP:\s+(.*)$/m.exec(text);
  if (!tcp) return null;
  const f = fields(tcp[1]!);
  const tcp6 = text6 ? /^TCP6:\s+(.*)$/m.exec(text6) : null;
  return {
    at,
    timeWait: f.tw ?? 0,
    inUse: f.inuse ?? 0,
    orphan: f.orphan ?? 0,
    alloc: f.alloc ?? 0,
    inUse6: tcp6 ? (fields(tcp6[1]!).inuse ?? null) : null,
  };
}

function fields(s: string): Record<string, number> {
  const out: Record<string, number> = {};
  const parts = s.trim().split(/\s+/);
  for (let i = 0; i + 1 < parts.length; i += 2) out[parts[i]!] = Number(parts[i + 1]);
  return out;
}

/** Where each counter lives: the section prefix in /proc/net/netstat or /proc/net/snmp. */
const COUNTER_SECTION: Record<CounterName, { section: 'TcpExt' | 'Tcp'; field: string }> = {
  TW: { section: 'TcpExt', field: 'TW' },
  TWRecycled: { section: 'TcpExt', field: 'TWRecycled' },
  TWKilled: { section: 'TcpExt', field: 'TWKilled' },
  TCPTimeWaitOverflow: { section: 'TcpExt', field: 'TCPTimeWaitOverflow' },
  TCPAbortOnData: { section: 'TcpExt', field: 'TCPAbortOnData' },
  ListenOverflows: { section: 'TcpExt', field: 'ListenOverflows' },
  ListenDrops: { section: 'TcpExt', field: 'ListenDrops' },
  ActiveOpens: { section: 'Tcp', field: 'ActiveOpens' },
  AttemptFails: { section: 'Tcp', field: 'AttemptFails' },
  OutRsts: { section: 'Tcp', field: 'OutRsts' },
  EstabResets: { section: 'Tcp', field: 'EstabResets' },
};

/** Parses the header/value line pairs of /proc/net/netstat or /proc/net/snmp. */
export function parseCounterTable(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    const head = lines[i]!.trim().split(/\s+/);
    const vals = lines[i + 1]!.trim().split(/\s+/);
    if (head.length < 2 || head[0] !== vals[0] || !head[0]!.endsWith(':') || !/^-?\d/.test(vals[1] ?? '')) continue;
    const section = head[0]!.slice(0, -1);
    for (let k = 1; k < head.length && k < vals.length; k++) out.set(`${section}.${head[k]}`, Number(vals[k]));
    i++;
  }
  return out;
}

/** Absolute counter values (null for a counter this kernel does not have). */
export type CounterValues = Record<CounterName, number | null>;

/** Picks portstorm's counters out of the netstat and snmp tables. */
export function pickCounters(netstat: Map<string, number>, snmp: Map<string, number>): CounterValues {
  const out = {} as CounterValues;
  for (const name of COUNTER_NAMES) {
    const { section, field } = COUNTER_SECTION[name];
    out[name] = (section === 'Tcp' ? snmp : netstat).get(`${section}.${field}`) ?? null;
  }
  return out;
}

/** Deltas between two readings (null where either is missing). */
export function counterDeltas(prev: CounterValues, next: CounterValues): CounterDeltas {
  const out = {} as CounterDeltas;
  for (const name of COUNTER_NAMES) {
    const a = prev[name];
    const b = next[name];
    out[name] = a === null || b === null ? null : b - a;
  }
  return out;
}

/** Parses `Max open files` of /proc/<pid>/limits. */
export function parseNofile(limits: string): { soft: number | null; hard: number | null } {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  const num = (s: string | undefined): number | null => (s === undefined || s === 'unlimited' ? null : Number(s));
  return m ? { soft: num(m[1]), hard: num(m[2]) } : { soft: null, hard: null };
}

const read = (file: string): string | null => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
};

/** Reads the Linux sources under a /proc root. Each method returns null when its file is missing. */
export class LinuxProc {
  constructor(private readonly root = '/proc') {}

  sockstat(at: number): SockstatTotals | null {
    const text = read(`${this.root}/net/sockstat`);
    return text === null ? null : parseSockstat(text, read(`${this.root}/net/sockstat6`), at);
  }

  counters(): CounterValues | null {
    const netstat = read(`${this.root}/net/netstat`);
    const snmp = read(`${this.root}/net/snmp`);
    if (netstat === null || snmp === null) return null;
    return pickCounters(parseCounterTable(netstat), parseCounterTable(snmp));
  }

  conntrack(): Conntrack | null {
    const count = read(`${this.root}/sys/net/netfilter/nf_conntrack_count`);
    const max = read(`${this.root}/sys/net/netfilter/nf_conntrack_max`);
    return count === null || max === null ? null : { count: Number(count), max: Number(max) };
  }

  fds(): FdUsage | null {
    try {
      const open = readdirSync(`${this.root}/self/fd`).length;
      const limits = read(`${this.root}/self/limits`);
      return { open, ...(limits ? parseNofile(limits) : { soft: null, hard: null }) };
    } catch {
      return null;
    }
  }

  /** /proc/net/tcp and tcp6 text, for the fallback scan. */
  tcpTables(): { tcp: string | null; tcp6: string | null } {
    return { tcp: read(`${this.root}/net/tcp`), tcp6: read(`${this.root}/net/tcp6`) };
  }
}
