/**
 * The host settings that decide the port budget, read once per run. A value that cannot be read is
 * null with the reason in `unavailable`, never a guess.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { nofileAdjustment } from '../limits.js';
import type { HostInfo } from '../record/types.js';
import { usablePorts } from './aggregate.js';
import { parseNofile } from './linux.js';
import { MAC_SYSCTL_NAMES, parseMacPortRange, parseWindowsDynamicPort } from './netstat.js';

/** Linux's TCP_TIMEWAIT_LEN (include/net/tcp.h): a compile-time constant, not a sysctl. */
export const LINUX_TIME_WAIT_S = 60;

type Read = { value: string } | { reason: string };

function readProc(file: string): Read {
  try {
    return { value: readFileSync(file, 'utf8').trim() };
  } catch (err) {
    return { reason: `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  }
}

/** Parses `ip_local_port_range` text ("32768\t60999"). */
export function parsePortRange(text: string): [number, number] | null {
  const [lo, hi] = text.trim().split(/\s+/).map(Number);
  return Number.isInteger(lo) && Number.isInteger(hi) && lo! <= hi! ? [lo!, hi!] : null;
}

/** Parses `ip_local_reserved_ports` text ("8080,9000-9010" or empty). */
export function parseReservedPorts(text: string): [number, number][] | null {
  const t = text.trim();
  if (t === '') return [];
  const out: [number, number][] = [];
  for (const part of t.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return null;
    out.push([Number(m[1]), Number(m[2] ?? m[1])]);
  }
  return out;
}

/** The port range and TIME_WAIT length where there is no /proc: macOS sysctl, Windows netsh. */
export function nonLinuxPortFacts(platform: NodeJS.Platform, exec: (cmd: string, args: string[]) => string = runQuietly): {
  portRange: [number, number] | null;
  timeWaitS: number | null;
  reason: string | null;
} {
  try {
    if (platform === 'darwin') {
      const { range, mslMs } = parseMacPortRange(exec('sysctl', [...MAC_SYSCTL_NAMES]));
      return { portRange: range, timeWaitS: mslMs === null ? null : (2 * mslMs) / 1000, reason: range ? null : 'sysctl printed no port range' };
    }
    if (platform === 'win32') {
      const range = parseWindowsDynamicPort(exec('netsh', ['int', 'ipv4', 'show', 'dynamicport', 'tcp']));
      // TcpTimedWaitDelay is a registry value (default 120 s) that no command here reads.
      return { portRange: range, timeWaitS: null, reason: range ? null : 'netsh printed no dynamic port range' };
    }
    return { portRange: null, timeWaitS: null, reason: `no port range source on ${platform}` };
  } catch (err) {
    return { portRange: null, timeWaitS: null, reason: `could not run the port range command (${(err as Error).message.split('\n')[0]})` };
  }
}

function runQuietly(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
}

/**
 * Every address of every interface of this host (this network namespace on Linux), loopback
 * included, sorted and without duplicates: a source address in `connection.localAddresses` that is
 * not among them fails bind() with EADDRNOTAVAIL. Null (with the reason in `unavailable`) when the
 * interfaces cannot be listed. `interfaces` replaces os.networkInterfaces() (tests).
 */
export function localAddresses(unavailable: Record<string, string>, interfaces: () => NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces): string[] | null {
  let found: NodeJS.Dict<os.NetworkInterfaceInfo[]>;
  try {
    found = interfaces();
  } catch (err) {
    unavailable.localAddresses = `cannot list the network interfaces (${(err as Error).message})`;
    return null;
  }
  const addresses = new Set<string>();
  for (const list of Object.values(found)) for (const a of list ?? []) addresses.add(a.address);
  return [...addresses].sort();
}

/** Reads the host facts; `procRoot` points at /proc (tests use fixtures). */
export function hostInfo(procRoot = '/proc'): HostInfo {
  const unavailable: Record<string, string> = {};
  const sys = (field: string, file: string, parse: (s: string) => number | null = numberOrNull): number | null => {
    const r = readProc(`${procRoot}/sys/${file}`);
    if ('reason' in r) {
      unavailable[field] = process.platform === 'linux' ? r.reason : `not available on ${process.platform}`;
      return null;
    }
    return parse(r.value);
  };
  const linux = process.platform === 'linux';
  const rangeText = readProc(`${procRoot}/sys/net/ipv4/ip_local_port_range`);
  const portRange = 'value' in rangeText ? parsePortRange(rangeText.value) : null;
  if (!portRange) unavailable.portRange = 'reason' in rangeText ? rangeText.reason : 'unparseable ip_local_port_range';
  const reservedText = readProc(`${procRoot}/sys/net/ipv4/ip_local_reserved_ports`);
  const reservedPorts = 'value' in reservedText ? parseReservedPorts(reservedText.value) : null;
  if (!reservedPorts) unavailable.reservedPorts = 'reason' in reservedText ? reservedText.reason : 'unparseable ip_local_reserved_ports';
  const limits = readProc(`${procRoot}/self/limits`);
  const nofile = 'value' in limits ? parseNofile(limits.value) : { soft: null, hard: null };
  if (nofile.soft === null) unavailable.nofileSoft = 'reason' in limits ? limits.reason : 'unlimited or unparseable';
  if (nofile.hard === null) unavailable.nofileHard = 'reason' in limits ? limits.reason : 'unlimited or unparseable';
  const host: HostInfo = {
    platform: process.platform,
    kernel: os.release(),
    node: process.version,
    cpus: os.availableParallelism(),
    portRange,
    reservedPorts,
    usablePorts: portRange && reservedPorts ? usablePorts(portRange, reservedPorts) : null,
    tcpTwReuse: sys('tcpTwReuse', 'net/ipv4/tcp_tw_reuse'),
    tcpTwReuseDelayMs: sys('tcpTwReuseDelayMs', 'net/ipv4/tcp_tw_reuse_delay'),
    timeWaitS: linux ? LINUX_TIME_WAIT_S : null,
    tcpFinTimeoutS: sys('tcpFinTimeoutS', 'net/ipv4/tcp_fin_timeout'),
    tcpMaxTwBuckets: sys('tcpMaxTwBuckets', 'net/ipv4/tcp_max_tw_buckets'),
    tcpTimestamps: sys('tcpTimestamps', 'net/ipv4/tcp_timestamps'),
    somaxconn: sys('somaxconn', 'net/core/somaxconn'),
    nofileSoft: nofile.soft,
    nofileHard: nofile.hard,
    nofile: nofileAdjustment(),
    conntrackMax: sys('conntrackMax', 'net/netfilter/nf_conntrack_max'),
    localAddresses: localAddresses(unavailable),
    unavailable,
  };
  if (!linux) {
    const facts = nonLinuxPortFacts(process.platform);
    host.portRange = facts.portRange;
    host.timeWaitS = facts.timeWaitS;
    if (facts.portRange) {
      host.usablePorts = facts.portRange[1] - facts.portRange[0] + 1;
      delete unavailable.portRange;
      if (process.platform === 'darwin') {
        host.reservedPorts = []; // macOS has no reserved-port list
        delete unavailable.reservedPorts;
      } else {
        unavailable.reservedPorts = 'excluded port ranges (netsh int ipv4 show excludedportrange) are not read';
        unavailable.usablePorts = 'an upper bound: excluded port ranges are not subtracted';
      }
    } else unavailable.portRange = facts.reason ?? 'unknown';
    if (facts.timeWaitS === null) unavailable.timeWaitS = process.platform === 'win32' ? 'TcpTimedWaitDelay is in the registry (default 120 s)' : `not known on ${process.platform}`;
  }
  if (host.usablePorts === null) unavailable.usablePorts ??= 'needs the port range and reserved ports';
  return host;
}

function numberOrNull(s: string): number | null {
  const n = Number(s.trim());
  return Number.isFinite(n) ? n : null;
}
