/**
 * The sampler: fast totals and kernel counters every `intervalMs`, a per-socket scan every
 * `scanIntervalMs`, on a fixed schedule (tick k is due at start + k·interval; a late tick is
 * taken late, missed ones are skipped, never bunched). Run it in its own thread (see
 * sampler-worker.ts) so a saturated load generator does not delay it.
 */
import { performance } from 'node:perf_hooks';
import type { PortBudget } from './aggregate.js';
import type { ConntrackCounterValues } from './conntrack-stat.js';
import { counterDeltas, joinCounters, LinuxProc, type CounterValues } from './linux.js';
import { Scanner } from './scan.js';
import { MAX_SCAN_CPU_SHARE, type CpuReading, type HostCpuTimes, type MonitorSample, type SocketScan } from './types.js';

/** How the sampler runs. */
export interface SamplerOptions {
  intervalMs: number;
  scanIntervalMs: number;
  budget: PortBudget;
  /** The run's own destinations (ip:port): every scan keeps them, however busy other traffic is. */
  ownDestinations?: string[];
  /** /proc root (tests point it at fixtures). */
  procRoot?: string;
  /** Force one scan source (tests, benchmarks). */
  prefer?: 'auto' | SocketScan['source'];
  /** Most of one core the scans may use (default 0.02); a costlier scan delays the next one. */
  maxCpuShare?: number;
  /**
   * `fast`: totals and counters every interval, no scans; `scan`: only scans, every scanInterval;
   * `all` (default): both in one loop. Run `fast` and `scan` in two threads so a long scan never
   * delays the fast samples.
   */
  role?: 'all' | 'fast' | 'scan';
}

/** What the sampler could and could not read. */
export interface SamplerStatus {
  source: SocketScan['source'] | null;
  unavailable: Record<string, string>;
  /** The longest gap between scans the CPU budget imposed (ms). */
  effectiveScanIntervalMs: number;
}

const epoch = (): number => performance.timeOrigin + performance.now();

const FAST_FILES = ['stat', 'net/sockstat', 'net/sockstat6', 'net/netstat', 'net/snmp', 'self/limits', 'sys/net/netfilter/nf_conntrack_count', 'sys/net/netfilter/nf_conntrack_max', 'net/stat/nf_conntrack'];
const SCAN_FILES = ['net/tcp', 'net/tcp6'];

/** What each source reads, for the reasons in `unavailable`. */
const SOURCE_FILES: Record<string, string> = {
  sockstat: '/proc/net/sockstat',
  counters: '/proc/net/netstat and /proc/net/snmp',
  conntrack: '/proc/sys/net/netfilter/nf_conntrack_count',
  conntrackCounters: '/proc/net/stat/nf_conntrack',
  fds: '/proc/self/fd',
  cpu: "/proc/stat (the host's CPU; the process's own is still measured)",
};

/** The host's CPU (/proc/stat, ~10 µs to read) is read once a second at most: the fold needs no more. */
const HOST_CPU_EVERY_MS = 950;

function reasonFor(what: string, code: string): string {
  if (process.platform !== 'linux') return `not available on ${process.platform}${what === 'cpu' ? " (the host's CPU; the process's own is still measured)" : ''}`;
  if (what === 'conntrack' && code === 'ENOENT') return 'no nf_conntrack (connection tracking not loaded)';
  if (what === 'conntrackCounters' && code === 'ENOENT') return 'no /proc/net/stat/nf_conntrack (kernel without CONFIG_NF_CONNTRACK_PROCFS): no Conntrack* counters';
  return `cannot read ${SOURCE_FILES[what] ?? what} (${code})`;
}

/** Samples the host at a fixed cadence and hands every sample to `onSample`. */
export class Sampler {
  private readonly proc: LinuxProc;
  private readonly scanner: Scanner;
  private readonly unavailable: Record<string, string> = {};
  private prevCounters: CounterValues | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  private effectiveScanIntervalMs: number;
  private readonly maxCpuShare: number;
  private lastHostCpuAt = -Infinity;

  constructor(
    private readonly opts: SamplerOptions,
    private readonly onSample: (s: MonitorSample) => void,
  ) {
    this.proc = new LinuxProc(opts.procRoot);
    const role = opts.role ?? 'all';
    // Held open from the start: read through these when the load has taken every descriptor.
    if (role !== 'scan') this.proc.hold(FAST_FILES);
    if (role !== 'fast') this.proc.hold(SCAN_FILES);
    this.scanner = new Scanner(opts.budget, this.proc, opts.prefer, opts.ownDestinations ?? []);
    this.effectiveScanIntervalMs = opts.scanIntervalMs;
    this.maxCpuShare = opts.maxCpuShare ?? MAX_SCAN_CPU_SHARE;
  }

  /** Starts ticking; the first sample is taken at once. */
  start(): void {
    const role = this.opts.role ?? 'all';
    const t0 = epoch();
    const interval = role === 'scan' ? this.opts.scanIntervalMs : this.opts.intervalMs;
    let k = 0;
    let nextScanK = role === 'fast' ? Infinity : 0;
    const tick = (): void => {
      if (this.stopped) return;
      const withScan = k >= nextScanK;
      const due = t0 + k * interval;
      const taken = role === 'scan' && !withScan ? Promise.resolve(null) : this.sample(withScan, role === 'scan', due);
      this.running = taken.then((s) => {
        if (this.stopped) return;
        if (withScan && s) {
          // Scans may use at most maxCpuShare of one core: a costly scan stretches the gap to the next.
          const gapMs = Math.max(this.opts.scanIntervalMs, (s.scan?.costMs ?? 0) / this.maxCpuShare);
          this.effectiveScanIntervalMs = Math.max(this.effectiveScanIntervalMs, gapMs);
          nextScanK = k + Math.max(1, Math.round(gapMs / interval));
        }
        // Next due tick after now: a tick that could not be taken in time is skipped.
        k = Math.max(k + 1, Math.ceil((epoch() - t0) / interval));
        this.timer = setTimeout(tick, Math.max(0, t0 + k * interval - epoch()));
      });
    };
    tick();
  }

  /** Stops after the sample in progress, if any. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Closes the files held open for reading under descriptor exhaustion; no sample after this. */
  dispose(): void {
    this.proc.close();
  }

  /** What is being read, and why anything is not. */
  status(): SamplerStatus {
    return {
      source: this.scanner.source,
      unavailable: { ...this.unavailable, ...this.scanReasons() },
      effectiveScanIntervalMs: this.effectiveScanIntervalMs,
    };
  }

  /** The last sample of a run: the same kind this sampler's role takes. */
  finalSample(): Promise<MonitorSample> {
    const role = this.opts.role ?? 'all';
    this.lastHostCpuAt = -Infinity;
    return this.sample(role !== 'fast', role === 'scan');
  }

  /**
   * Takes one sample now; `scanOnly` leaves out totals and counters (another thread takes them);
   * `due` is when the schedule wanted it, for the lateness figure.
   */
  async sample(withScan: boolean, scanOnly = false, due: number | null = null): Promise<MonitorSample> {
    const at = epoch();
    const lateMs = due === null || scanOnly ? null : Math.round((at - due) * 1000) / 1000;
    const missing: Record<string, string> = {};
    if (scanOnly) {
      const scan = await this.tryScan(missing);
      const s: MonitorSample = { at, lateMs, sockstat: null, scan, counters: null, conntrack: null, fds: null };
      return this.emit(s, missing);
    }
    const sockstat = this.note('sockstat', this.proc.sockstat(at), missing);
    const tcp = this.note('counters', this.proc.counters(), missing);
    const conntrack = this.note('conntrack', this.proc.conntrack(), missing);
    const ct = this.conntrackCounters(missing);
    const values = joinCounters(tcp, ct);
    // A delta needs two readings in a row: after a gap the first one has no delta (null, not 0).
    const counters = values && this.prevCounters ? counterDeltas(this.prevCounters, values) : null;
    this.prevCounters = values;
    const fds = this.note('fds', this.proc.fds(), missing);
    const cpu = this.cpu(at, missing);
    const scan = withScan ? await this.tryScan(missing) : null;
    return this.emit({ at, lateMs, sockstat, scan, counters, conntrack, fds, cpu }, missing);
  }

  /**
   * The Conntrack* counters. Where the table count is unreadable for the same reason (nf_conntrack
   * not loaded), that reason already covers them: nothing more is noted.
   */
  private conntrackCounters(missing: Record<string, string>): ConntrackCounterValues | null {
    const values = this.proc.conntrackCounters();
    if (values !== null) return values;
    const code = this.proc.failure('conntrackCounters') ?? 'unreadable';
    if (missing.conntrack === code) return null;
    missing.conntrackCounters = code;
    const why = reasonFor('conntrackCounters', code);
    const known = this.unavailable.conntrack;
    if (!known?.includes(why)) this.unavailable.conntrack = known ? `${known}; ${why}` : why;
    return null;
  }

  /** This process's CPU time (every sample, ~2 µs) and the host's (about once a second). */
  private cpu(at: number, missing: Record<string, string>): CpuReading {
    const u = process.cpuUsage();
    let host: HostCpuTimes | null = null;
    if (at - this.lastHostCpuAt >= HOST_CPU_EVERY_MS) {
      this.lastHostCpuAt = at;
      host = this.note('cpu', this.proc.cpuTimes(), missing);
    }
    return { processUs: u.user + u.system, host };
  }

  private emit(s: MonitorSample, missing: Record<string, string>): MonitorSample {
    if (Object.keys(missing).length > 0) s.missing = missing;
    this.onSample(s);
    return s;
  }

  private async tryScan(missing: Record<string, string>): Promise<SocketScan | null> {
    const scan = await this.scanner.scan();
    if (scan === null) {
      missing.scan = this.scanner.lastFailure ?? 'error';
      this.unavailable.scan ??= `no socket source could scan (${missing.scan})`;
    }
    return scan;
  }

  private note<T>(what: string, value: T | null, missing: Record<string, string>): T | null {
    if (value !== null) return value;
    const code = this.proc.failure(what) ?? 'unreadable';
    missing[what] = code;
    this.unavailable[what] ??= reasonFor(what, code);
    return null;
  }

  private scanReasons(): Record<string, string> {
    return Object.fromEntries(Object.entries(this.scanner.reasons).map(([k, v]) => [`scan.${k}`, v]));
  }
}
