/**
 * The per-socket scan, from the fastest source that works here: netlink sock_diag through the
 * native addon, else /proc/net/tcp(6), else `netstat` (macOS, Windows). A source that fails
 * mid-run is dropped for the next one; the failure is reported, never turned into zeros.
 */
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { aggregateScan, rowsCursor, type PortBudget, type RowCursor } from './aggregate.js';
import { errnoOf, LinuxProc, TRANSIENT_CODES } from './linux.js';
import { netstatCommand, parseNetstatMac, parseNetstatWindows } from './netstat.js';
import { parseProcNetTcp } from './proc-net-tcp.js';
import { addressAt, destinationKey, forEachRow, loadSockDiag, timeWaitLeftMsAt, type DestinationCache } from './sockdiag.js';
import type { SocketScan } from './types.js';

const run = promisify(execFile);

/** One way of listing sockets. */
interface ScanSource {
  name: SocketScan['source'];
  rows(): Promise<RowCursor>;
}

function sockdiagSource(): ScanSource | string {
  const lib = loadSockDiag();
  if (!lib.available) return lib.reason;
  return {
    name: 'sockdiag',
    async rows() {
      const buf = Buffer.concat([lib.dump(4), lib.dump(6)]);
      const destinations: DestinationCache = new Map();
      const sources = new Map<number, string>();
      return {
        forEach(fn) {
          forEachRow(buf, (state, _family, localPort, _remotePort, offset) => fn(state, localPort, offset));
        },
        destination: (offset) => destinationKey(buf, offset, destinations),
        timeWaitLeftMs: (offset) => timeWaitLeftMsAt(buf, offset),
        source(offset) {
          if (buf[offset] !== 4) return addressAt(buf, offset, 'local');
          const key = buf.readUInt32BE(offset + 8);
          let s = sources.get(key);
          if (s === undefined) sources.set(key, (s = addressAt(buf, offset, 'local')));
          return s;
        },
      };
    },
  };
}

function procSource(proc: LinuxProc): ScanSource | string {
  if (proc.tcpTables().tcp === null) return `no /proc/net/tcp (${proc.failure('tcp') ?? 'unreadable'})`;
  return {
    name: 'proc',
    async rows() {
      const { tcp, tcp6 } = proc.tcpTables();
      if (tcp === null) {
        const code = proc.failure('tcp') ?? 'EIO';
        throw Object.assign(new Error(`cannot read /proc/net/tcp (${code})`), { code });
      }
      return rowsCursor([...parseProcNetTcp(tcp), ...(tcp6 ? parseProcNetTcp(tcp6) : [])]);
    },
  };
}

function netstatSource(): ScanSource | string {
  const command = netstatCommand(process.platform);
  if (!command) return `no netstat source on ${process.platform}`;
  const parse = process.platform === 'win32' ? parseNetstatWindows : parseNetstatMac;
  return {
    name: 'netstat',
    async rows() {
      const { stdout } = await run(command.cmd, command.args, { maxBuffer: 256 * 1024 * 1024, timeout: 30_000 });
      return rowsCursor(parse(stdout));
    },
  };
}

/** Scans sockets with the best available source; `reasons` says why better ones were skipped. */
export class Scanner {
  private sources: ScanSource[] = [];
  /** Why each skipped or dropped source is not used. */
  readonly reasons: Record<string, string> = {};
  /** The errno (or `no socket source`) of the last scan that returned null; null after a scan worked. */
  lastFailure: string | null = null;
  /** The errno that dropped the last source: what every scan fails for once none is left. */
  private droppedFor: string | null = null;

  /**
   * `own`: the run's own destinations (ip:port), kept in every scan however busy other traffic is.
   */
  constructor(
    private readonly budget: PortBudget,
    proc = new LinuxProc(),
    prefer: 'auto' | SocketScan['source'] = 'auto',
    private readonly own: readonly string[] = [],
  ) {
    const candidates: Array<[SocketScan['source'], () => ScanSource | string]> = [
      ['sockdiag', sockdiagSource],
      ['proc', () => procSource(proc)],
      ['netstat', netstatSource],
    ];
    for (const [name, make] of candidates) {
      if (prefer !== 'auto' && prefer !== name) continue;
      const s = make();
      // A missing fallback behind a working source is not worth reporting.
      if (typeof s === 'string') {
        if (this.sources.length === 0) this.reasons[name] = s;
      } else this.sources.push(s);
    }
  }

  /** The source the next scan will use, or null when none is left. */
  get source(): SocketScan['source'] | null {
    return this.sources[0]?.name ?? null;
  }

  /**
   * One scan; null when no source worked this time (`lastFailure` says why). A source failing for
   * want of descriptors or memory (TRANSIENT_CODES) is kept and the next one tried for this scan;
   * a source failing otherwise is dropped for good.
   */
  async scan(): Promise<SocketScan | null> {
    this.lastFailure = this.sources.length === 0 ? (this.droppedFor ?? 'no socket source') : null;
    for (let i = 0; i < this.sources.length; ) {
      const src = this.sources[i]!;
      const started = performance.now();
      try {
        const rows = await src.rows();
        const at = performance.timeOrigin + started;
        const scan = aggregateScan(rows, this.budget, at, 0, src.name, this.own);
        scan.costMs = Math.round((performance.now() - started) * 1000) / 1000;
        this.lastFailure = null;
        return scan;
      } catch (err) {
        const code = errnoOf(err);
        this.lastFailure ??= code ?? 'error';
        if (code !== null && TRANSIENT_CODES.has(code)) {
          this.reasons[src.name] = `some scans failed with ${code} and used the next source (${(err as Error).message})`;
          i++;
        } else {
          this.reasons[src.name] = `failed mid-run: ${(err as Error).message}`;
          this.droppedFor = code ?? 'error';
          this.sources.splice(i, 1);
        }
      }
    }
    return null;
  }
}
