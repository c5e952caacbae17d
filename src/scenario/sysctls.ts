/**
 * The namespace sysctls the lab may write, with their value checks. Pure (no processes, no files),
 * so the scenario schema validates a `lab:` block with the same rules as `--sysctl`.
 */
import { UsageError } from '../errors.js';

/** The lab's default ip_local_port_range: 1 000 ports, so a demo rate exhausts it in seconds. */
export const LAB_DEFAULT_PORT_RANGE = '40000 40999';

type Check = (v: string) => string | null; // normalised value, or null when invalid

const intIn = (lo: number, hi: number): Check => (v) => {
  const t = v.trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return n >= lo && n <= hi ? String(n) : null;
};

const portRange: Check = (v) => {
  const m = /^\s*(\d+)\s*(?:-|\s)\s*(\d+)\s*$/.exec(v);
  if (!m) return null;
  const lo = Number(m[1]);
  const hi = Number(m[2]);
  return lo >= 1 && hi <= 65535 && lo <= hi ? `${lo} ${hi}` : null;
};

const portList: Check = (v) => {
  const t = v.trim();
  if (t === '') return '';
  const parts: string[] = [];
  for (const part of t.split(',')) {
    const m = /^\s*(\d+)(?:\s*-\s*(\d+))?\s*$/.exec(part);
    if (!m) return null;
    const lo = Number(m[1]);
    const hi = Number(m[2] ?? m[1]);
    if (lo < 1 || hi > 65535 || lo > hi) return null;
    parts.push(lo === hi ? String(lo) : `${lo}-${hi}`);
  }
  return parts.join(',');
};

/** The namespace sysctls the lab may write (DOMAIN.md: per-namespace), each with its value check. */
export const LAB_SYSCTLS: Record<string, { check: Check; expect: string }> = {
  'net.ipv4.ip_local_port_range': { check: portRange, expect: 'a port range like 40000-40999 or "40000 40999"' },
  'net.ipv4.ip_local_reserved_ports': { check: portList, expect: 'a list of ports and ranges like 8080,9000-9010 (or empty)' },
  'net.ipv4.tcp_tw_reuse': { check: intIn(0, 2), expect: '0, 1 or 2' },
  'net.ipv4.tcp_tw_reuse_delay': { check: intIn(1, 3_600_000), expect: 'milliseconds, 1 or more' },
  'net.ipv4.tcp_max_tw_buckets': { check: intIn(0, 2 ** 31 - 1), expect: 'a whole number' },
  'net.ipv4.tcp_fin_timeout': { check: intIn(1, 3600), expect: 'seconds, 1 to 3600' },
  'net.ipv4.tcp_timestamps': { check: intIn(0, 2), expect: '0, 1 or 2' },
  'net.ipv4.tcp_rfc1337': { check: intIn(0, 1), expect: '0 or 1' },
  'net.ipv4.tcp_max_syn_backlog': { check: intIn(1, 2 ** 31 - 1), expect: 'a whole number, 1 or more' },
  'net.core.somaxconn': { check: intIn(1, 2 ** 31 - 1), expect: 'a whole number, 1 or more' },
};

/** Resolves a key (full, or the unique last part like `tcp_tw_reuse`) against the allow-list. */
export function sysctlKey(key: string): string | null {
  const k = key.trim().replace(/\//g, '.');
  if (Object.hasOwn(LAB_SYSCTLS, k)) return k;
  const matches = Object.keys(LAB_SYSCTLS).filter((full) => full.endsWith(`.${k}`));
  return matches.length === 1 ? matches[0]! : null;
}

/** Checks one sysctl: `[full key, normalised value]`, or a message saying what is wrong. */
export function sysctlProblem(key: string, value: string): [string, string] | string {
  const full = sysctlKey(key);
  if (!full) return `${key} is not a sysctl the lab sets (expected one of ${Object.keys(LAB_SYSCTLS).join(', ')})`;
  const normal = LAB_SYSCTLS[full]!.check(value);
  return normal === null ? `${full} expects ${LAB_SYSCTLS[full]!.expect}, got ${JSON.stringify(value)}` : [full, normal];
}

/** Validates one sysctl; returns [full key, normalised value] or throws a UsageError naming `what`. */
export function checkSysctl(key: string, value: string, what: string): [string, string] {
  const checked = sysctlProblem(key, value);
  if (typeof checked === 'string') throw new UsageError(`${what}: ${checked}`);
  return checked;
}

/** Parses `--sysctl key=value`. */
export function parseSysctlFlag(arg: string): [string, string] {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw new UsageError(`--sysctl ${arg}: expected key=value, e.g. net.ipv4.tcp_tw_reuse=1`);
  return checkSysctl(arg.slice(0, eq), arg.slice(eq + 1), `--sysctl ${arg}`);
}

/** The lab settings a run starts from before command-line flags: the scenario's `lab:` block. */
export interface LabDefaults {
  portRange?: string | undefined;
  sysctls?: Record<string, string> | undefined;
}

/**
 * The sysctls a lab run writes, later ones winning: the default port range, the scenario's
 * `lab.portRange` and `lab.sysctls` (already validated by the schema), `--port-range`, each `--sysctl`.
 */
export function labSysctls(portRangeFlag: string | undefined, sysctlFlags: readonly string[], fromScenario: LabDefaults = {}): Record<string, string> {
  const out: Record<string, string> = { 'net.ipv4.ip_local_port_range': LAB_DEFAULT_PORT_RANGE, ...fromScenario.sysctls };
  if (fromScenario.portRange !== undefined) out['net.ipv4.ip_local_port_range'] = fromScenario.portRange;
  if (portRangeFlag !== undefined) {
    const [k, v] = checkSysctl('net.ipv4.ip_local_port_range', portRangeFlag, `--port-range ${portRangeFlag}`);
    out[k] = v;
  }
  for (const flag of sysctlFlags) {
    const [k, v] = parseSysctlFlag(flag);
    out[k] = v;
  }
  return out;
}
