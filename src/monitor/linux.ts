/**
 * Linux sources of the monitor: /proc/net/sockstat(6), the TCP counters of /proc/net/netstat and
 * /proc/net/snmp, conntrack (table use and /proc/net/stat/nf_conntrack), and this process's file
 * descriptors. Parsers take text; readers take
 * a /proc root so tests can point them at fixtures. Everything here is a file read: none of it
 * needs a free port, so it keeps working while the machine is out of ports.
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { conntrackDelta, parseConntrackStat, type ConntrackCounterValues } from './conntrack-stat.js';
import { COUNTER_NAMES, CONNTRACK_COUNTER_NAMES, TCP_COUNTER_NAMES, type Conntrack, type CounterDeltas, type CounterName, type FdUsage, type HostCpuTimes, type SockstatTotals, type TcpCounterName } from './types.js';

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
const COUNTER_SECTION: Record<TcpCounterName, { section: 'TcpExt' | 'Tcp'; field: string }> = {
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

/** Absolute counter values (null for a counter this kernel does not have, or could not be read). */
export type CounterValues = Record<CounterName, number | null>;
/** Absolute TCP counter values. */
export type TcpCounterValues = Record<TcpCounterName, number | null>;

const CONNTRACK_NAMES: ReadonlySet<string> = new Set(CONNTRACK_COUNTER_NAMES);

/** Picks portstorm's TCP counters out of the netstat and snmp tables. */
export function pickCounters(netstat: Map<string, number>, snmp: Map<string, number>): TcpCounterValues {
  const out = {} as TcpCounterValues;
  for (const name of TCP_COUNTER_NAMES) {
    const { section, field } = COUNTER_SECTION[name];
    out[name] = (section === 'Tcp' ? snmp : netstat).get(`${section}.${field}`) ?? null;
  }
  return out;
}

/** One reading of every counter from the TCP and the conntrack ones (either may be null); null when both are. */
export function joinCounters(tcp: TcpCounterValues | null, conntrack: ConntrackCounterValues | null): CounterValues | null {
  if (tcp === null && conntrack === null) return null;
  const out = {} as CounterValues;
  for (const name of TCP_COUNTER_NAMES) out[name] = tcp?.[name] ?? null;
  for (const name of CONNTRACK_COUNTER_NAMES) out[name] = conntrack?.[name] ?? null;
  return out;
}

/** Deltas between two readings (null where either is missing). */
export function counterDeltas(prev: CounterValues, next: CounterValues): CounterDeltas {
  const out = {} as CounterDeltas;
  for (const name of COUNTER_NAMES) {
    const a = prev[name];
    const b = next[name];
    out[name] = a === null || b === null ? null : CONNTRACK_NAMES.has(name) ? conntrackDelta(a, b) : b - a;
  }
  return out;
}

/**
 * Parses /proc/stat: the machine's CPU time since boot in clock ticks, from its first (`cpu`) line,
 * and the CPUs online (its `cpuN` lines). Busy is user + nice + system + irq + softirq + steal;
 * idle + iowait is not busy; guest time is already counted in user, so it is left out.
 */
export function parseProcStat(text: string): HostCpuTimes | null {
  const m = /^cpu\s+(.*)$/m.exec(text);
  if (!m) return null;
  const v = m[1]!.trim().split(/\s+/).map(Number);
  if (v.length < 4 || v.slice(0, 4).some((x) => !Number.isFinite(x))) return null;
  const at = (i: number): number => (Number.isFinite(v[i]) ? v[i]! : 0);
  const busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
  const idle = at(3) + at(4);
  const cpus = (text.match(/^cpu\d+\s/gm) ?? []).length;
  return { busy, total: busy + idle, cpus: Math.max(1, cpus) };
}

/** Parses `Max open files` of /proc/<pid>/limits. */
export function parseNofile(limits: string): { soft: number | null; hard: number | null } {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  const num = (s: string | undefined): number | null => (s === undefined || s === 'unlimited' ? null : Number(s));
  return m ? { soft: num(m[1]), hard: num(m[2]) } : { soft: null, hard: null };
}

/**
 * Errors that pass: the process or the system is short of descriptors or memory for a moment (a
 * load at its open-file limit makes every open() fail with EMFILE). A source failing with one of
 * these is tried again next time; any other error (ENOENT, EACCES, ...) means it is gone.
 */
export const TRANSIENT_CODES: ReadonlySet<string> = new Set(['EMFILE', 'ENFILE', 'ENOMEM', 'EAGAIN', 'ENOBUFS', 'EINTR']);

/** The errno code of a thrown value: `code`, else one named in parentheses in the message. */
export function errnoOf(err: unknown): string | null {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (e && typeof e.code === 'string') return e.code;
  const m = e && typeof e.message === 'string' ? /\((E[A-Z0-9]+)\)/.exec(e.message) : null;
  return m ? m[1]! : null;
}

const CHUNK = 64 * 1024;

/** Reads a whole file through an open descriptor from offset 0 (procfs regenerates it). */
function preadAll(fd: number): string {
  const parts: Buffer[] = [];
  for (let pos = 0; ; ) {
    const b = Buffer.allocUnsafe(CHUNK);
    const n = readSync(fd, b, 0, CHUNK, pos);
    if (n === 0) break;
    parts.push(b.subarray(0, n));
    pos += n;
  }
  return Buffer.concat(parts).toString('utf8');
}

/**
 * Reads the Linux sources under a /proc root. Each method returns null when its file cannot be
 * read, and `failure(what)` then gives the errno. Files named to `hold` are also kept open: when
 * opening a file fails for want of descriptors, it is read through the held one, so the monitor
 * keeps seeing while the load holds every descriptor.
 */
export class LinuxProc {
  private readonly held = new Map<string, number>();
  private readonly failures = new Map<string, string>();
  private lastLimits: { soft: number | null; hard: number | null } = { soft: null, hard: null };

  constructor(private readonly root = '/proc') {}

  /** Opens `files` (paths under the root) and keeps them open until `close()`; missing ones are skipped. */
  hold(files: readonly string[]): void {
    for (const f of files) {
      if (this.held.has(f)) continue;
      try {
        this.held.set(f, openSync(`${this.root}/${f}`, 'r'));
      } catch {
        // not there (yet): plain reads report it
      }
    }
  }

  /** Closes the held files. */
  close(): void {
    for (const fd of this.held.values()) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
    this.held.clear();
  }

  /** Why the last read of `what` (sockstat, counters, conntrack, conntrackCounters, fds, tcp) failed, or null. */
  failure(what: string): string | null {
    return this.failures.get(what) ?? null;
  }

  private read(file: string, what: string): string | null {
    try {
      return readFileSync(`${this.root}/${file}`, 'utf8');
    } catch (err) {
      const code = errnoOf(err) ?? 'EIO';
      const fd = this.held.get(file);
      if (fd !== undefined && TRANSIENT_CODES.has(code)) {
        try {
          return preadAll(fd);
        } catch {
          // the held descriptor failed too: report the open's error
        }
      }
      this.failures.set(what, code);
      return null;
    }
  }

  private ok<T>(what: string, value: T): T {
    if (value !== null) this.failures.delete(what);
    return value;
  }

  sockstat(at: number): SockstatTotals | null {
    const text = this.read('net/sockstat', 'sockstat');
    if (text === null) return null;
    const text6 = this.read('net/sockstat6', 'sockstat6');
    return this.ok('sockstat', parseSockstat(text, text6, at));
  }

  /** The TCP counters (/proc/net/netstat and /proc/net/snmp). */
  counters(): TcpCounterValues | null {
    const netstat = this.read('net/netstat', 'counters');
    const snmp = netstat === null ? null : this.read('net/snmp', 'counters');
    if (netstat === null || snmp === null) return null;
    return this.ok('counters', pickCounters(parseCounterTable(netstat), parseCounterTable(snmp)));
  }

  conntrack(): Conntrack | null {
    const count = this.read('sys/net/netfilter/nf_conntrack_count', 'conntrack');
    const max = count === null ? null : this.read('sys/net/netfilter/nf_conntrack_max', 'conntrack');
    return count === null || max === null ? null : this.ok('conntrack', { count: Number(count), max: Number(max) });
  }

  /** The conntrack counters of this network namespace (/proc/net/stat/nf_conntrack); failure key `conntrackCounters`. */
  conntrackCounters(): ConntrackCounterValues | null {
    const text = this.read('net/stat/nf_conntrack', 'conntrackCounters');
    if (text === null) return null;
    const values = parseConntrackStat(text);
    if (values === null) this.failures.set('conntrackCounters', 'unparseable');
    return this.ok('conntrackCounters', values);
  }

  /**
   * This process's descriptors. When listing them fails because every descriptor is in use
   * (EMFILE), the count is the soft limit, by the meaning of EMFILE, and `atLimit` says so.
   */
  fds(): FdUsage | null {
    const limits = this.read('self/limits', 'fds');
    if (limits !== null) this.lastLimits = parseNofile(limits);
    try {
      const open = readdirSync(`${this.root}/self/fd`).length;
      return this.ok('fds', { open, ...this.lastLimits });
    } catch (err) {
      const code = errnoOf(err) ?? 'EIO';
      if (code === 'EMFILE' && this.lastLimits.soft !== null) return this.ok('fds', { open: this.lastLimits.soft, ...this.lastLimits, atLimit: true });
      this.failures.set('fds', code);
      return null;
    }
  }

  /** The machine's CPU time since boot (/proc/stat). */
  cpuTimes(): HostCpuTimes | null {
    const text = this.read('stat', 'cpu');
    return text === null ? null : this.ok('cpu', parseProcStat(text));
  }

  /** /proc/net/tcp and tcp6 text, for the fallback scan. */
  tcpTables(): { tcp: string | null; tcp6: string | null } {
    const tcp = this.read('net/tcp', 'tcp');
    const tcp6 = tcp === null ? null : this.read('net/tcp6', 'tcp6');
    if (tcp !== null) this.failures.delete('tcp');
    return { tcp, tcp6 };
  }
}
