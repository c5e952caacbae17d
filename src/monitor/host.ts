/** Facts about the host a run is made on. Unreadable values are null, never guessed. */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { HostInfo } from '../record/types.js';

/** The ephemeral port range from /proc, or null where there is none (non-Linux). */
export function readPortRange(procRoot = '/proc'): [number, number] | null {
  try {
    const [lo, hi] = readFileSync(`${procRoot}/sys/net/ipv4/ip_local_port_range`, 'utf8').trim().split(/\s+/).map(Number);
    return Number.isInteger(lo) && Number.isInteger(hi) ? [lo!, hi!] : null;
  } catch {
    return null;
  }
}

/** The host facts recorded with every run. */
export function hostInfo(): HostInfo {
  return {
    platform: process.platform,
    kernel: os.release(),
    node: process.version,
    cpus: os.availableParallelism(),
    portRange: readPortRange(),
  };
}
