/**
 * The host settings that decide the port budget, read once per run. A value that cannot be read is
 * null with the reason in `unavailable`, never a guess.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { HostInfo } from '../record/types.js';
import { usablePorts } from './aggregate.js';
import { parseNofile } from './linux.js';

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
    conntrackMax: sys('conntrackMax', 'net/netfilter/nf_conntrack_max'),
    unavailable,
  };
  if (!linux) unavailable.timeWaitS = `not known on ${process.platform}`;
  if (host.usablePorts === null) unavailable.usablePorts = 'needs the port range and reserved ports';
  return host;
}

function numberOrNull(s: string): number | null {
  const n = Number(s.trim());
  return Number.isFinite(n) ? n : null;
}
