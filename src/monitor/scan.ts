/**
 * The per-socket scan, from the fastest source that works here: netlink sock_diag through the
 * native addon, else /proc/net/tcp(6), else `netstat` (macOS, Windows). A source that fails
 * mid-run is dropped for the next one; the failure is reported, never turned into zeros.
 */
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { aggregateScan, rowsCursor, type PortBudget, type RowCursor } from './aggregate.js';
import { LinuxProc } from './linux.js';
import { netstatCommand, parseNetstatMac, parseNetstatWindows } from './netstat.js';
import { parseProcNetTcp } from './proc-net-tcp.js';
import { addressAt, destinationKey, forEachRow, loadSockDiag, type DestinationCache } from './sockdiag.js';
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
  if (proc.tcpTables().tcp === null) return 'no /proc/net/tcp';
  return {
    name: 'proc',
    async rows() {
      const { tcp, tcp6 } = proc.tcpTables();
      if (tcp === null) throw new Error('/proc/net/tcp vanished');
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

  constructor(
    private readonly budget: PortBudget,
    proc = new LinuxProc(),
    prefer: 'auto' | SocketScan['source'] = 'auto',
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

  /** One scan; null when every source has failed. */
  async scan(): Promise<SocketScan | null> {
    while (this.sources.length > 0) {
      const src = this.sources[0]!;
      const started = performance.now();
      try {
        const rows = await src.rows();
        const at = performance.timeOrigin + started;
        const scan = aggregateScan(rows, this.budget, at, 0, src.name);
        scan.costMs = Math.round((performance.now() - started) * 1000) / 1000;
        return scan;
      } catch (err) {
        this.reasons[src.name] = `failed mid-run: ${(err as Error).message}`;
        this.sources.shift();
      }
    }
    return null;
  }
}
