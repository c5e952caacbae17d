/**
 * The lab's private network namespace. The outer `portstorm lab` process re-executes the lab's
 * inner script (cli/lab-inner.ts) inside
 *   setpriv --pdeathsig SIGKILL -- unshare --user --map-root-user --net --kill-child=SIGKILL -- node lab-inner.js <config>
 * (or `unshare --net` when user namespaces are refused and we are root). A SIGKILL of the outer
 * process kills setpriv's exec'd unshare (pdeathsig), whose --kill-child kills the inner node; the
 * namespace has no name and disappears with its last process. Inside, setupInside() brings lo up,
 * puts the lab addresses on it and writes the namespace's own sysctls; the host's are never touched.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExitCode, RuntimeFailure } from '../errors.js';
import type { LabInnerConfig, LabNamespace } from './types.js';

/** The client's source address (RFC 2544 benchmarking range: not loopback to the kernel). */
export const LAB_CLIENT = '198.18.0.1';
/** The built-in target's address in the lab. */
export const LAB_TARGET = '198.18.0.2';
/** The client's address in an IPv6 lab (unique local, fd00::/8: not loopback to the kernel). */
export const LAB_CLIENT6 = 'fd00::1';
/** The target's address in an IPv6 lab. */
export const LAB_TARGET6 = 'fd00::2';
/** The built-in target's port in the lab. */
export const LAB_TARGET_PORT = 8080;

/** The lab's client and target addresses: IPv4 (198.18.0.1 → 198.18.0.2) or IPv6 (fd00::1 → fd00::2). */
export function labAddresses(ipv6: boolean): { client: string; target: string } {
  return ipv6 ? { client: LAB_CLIENT6, target: LAB_TARGET6 } : { client: LAB_CLIENT, target: LAB_TARGET };
}

/** The compiled inner script (build/src/cli/lab-inner.js). */
export const INNER_SCRIPT = fileURLToPath(new URL('../cli/lab-inner.js', import.meta.url));

// ---- making the namespace -------------------------------------------------------------------

const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** The absolute path of an executable on PATH (or the usual system directories), or null. */
export function findExecutable(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...SYSTEM_DIRS];
  for (const dir of dirs) {
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // next
    }
  }
  return null;
}

/** The unshare flags for a namespace kind. */
function unshareFlags(ns: LabNamespace): string[] {
  return ns === 'user' ? ['--user', '--map-root-user', '--net'] : ['--net'];
}

/**
 * Finds out how a namespace can be made here: a user+network namespace, else (as root) a plain
 * network namespace. Throws a one-line RuntimeFailure (exit 3) saying why not and what to do.
 */
export function detectNamespace(): LabNamespace {
  if (process.platform !== 'linux') {
    throw new RuntimeFailure(
      `lab: needs Linux network namespaces and this is ${process.platform}; run portstorm lab on a Linux machine or VM (portstorm run works here, on loopback)`,
    );
  }
  const unshare = findExecutable('unshare');
  if (!unshare) {
    throw new RuntimeFailure('lab: the unshare command (util-linux) is not installed; install util-linux (e.g. apt-get install util-linux) and retry');
  }
  const probe = (ns: LabNamespace) =>
    spawnSync(unshare, [...unshareFlags(ns), '--', process.execPath, '-e', ''], { encoding: 'utf8', timeout: 10_000 });
  const user = probe('user');
  if (user.status === 0) return 'user';
  const isRoot = process.getuid?.() === 0;
  if (isRoot) {
    const root = probe('root');
    if (root.status === 0) return 'root';
  }
  const why = (user.stderr || user.error?.message || `exit ${user.status}`).trim().split('\n').pop();
  throw new RuntimeFailure(
    `lab: cannot create a network namespace here (${why}); ` +
      (isRoot
        ? 'this container does not allow it: run it with --privileged or CAP_SYS_ADMIN, or on a Linux host'
        : 'enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 / kernel.apparmor_restrict_unprivileged_userns=0) or run portstorm lab as root'),
  );
}

/** A lab child process running. */
export interface LabChild {
  /** Resolves with the inner process's exit code (a signal death becomes RUNTIME). */
  done: Promise<{ code: number; signal: NodeJS.Signals | null }>;
  /** Forwards a signal to the inner process (or, before it is known, kills the whole lab). */
  signal(sig: NodeJS.Signals): void;
  /** Kills the lab outright: unshare's --kill-child then kills the inner process. */
  kill(): void;
}

/** Starts the inner script in a fresh namespace with `config`; stdio is the outer process's. */
export function spawnLab(ns: LabNamespace, config: LabInnerConfig): LabChild {
  const unshare = findExecutable('unshare');
  if (!unshare) throw new RuntimeFailure('lab: the unshare command (util-linux) is not installed');
  const setpriv = findExecutable('setpriv');
  const inner = [unshare, ...unshareFlags(ns), '--kill-child=SIGKILL', '--', process.execPath, INNER_SCRIPT, JSON.stringify(config)];
  // Without setpriv a SIGKILL of portstorm would leave unshare (and the lab) running; with it, the
  // kernel kills unshare when we die and unshare's --kill-child takes the inner process with it.
  const [cmd, ...args] = setpriv ? [setpriv, '--pdeathsig', 'SIGKILL', '--', ...inner] : inner;
  if (!setpriv) process.stderr.write('portstorm: lab: setpriv (util-linux) not found; a SIGKILL of portstorm may leave the lab running\n');
  const child = spawn(cmd!, args, { stdio: 'inherit' });
  const done = new Promise<{ code: number; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', (err) => {
      process.stderr.write(`portstorm: lab: cannot start ${cmd}: ${err.message}\n`);
      resolve({ code: ExitCode.RUNTIME, signal: null });
    });
    child.on('exit', (code, signal) => resolve({ code: code ?? ExitCode.RUNTIME, signal }));
  });
  const innerPid = (): number | null => {
    try {
      const pid = Number(readFileSync(config.pidFile, 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    } catch {
      return null;
    }
  };
  const kill = (): void => {
    child.kill('SIGKILL');
  };
  return {
    done,
    kill,
    signal(sig) {
      const pid = innerPid();
      if (pid === null) return kill();
      try {
        process.kill(pid, sig);
      } catch {
        kill();
      }
    },
  };
}

// ---- inside the namespace ---------------------------------------------------------------------

/** Runs `ip ARGS` in this namespace; a RuntimeFailure (exit 3) with ip's own words when it fails. */
export function ip(args: string[]): void {
  const bin = findExecutable('ip');
  if (!bin) throw new RuntimeFailure('lab: the ip command (iproute2) is not installed; install iproute2 and retry');
  try {
    execFileSync(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
    throw new RuntimeFailure(`lab: ip ${args.join(' ')} failed: ${stderr || (err as Error).message}`);
  }
}

/** The /proc/sys file of a dotted sysctl key. */
export function sysctlFile(key: string): string {
  return `/proc/sys/${key.replace(/\./g, '/')}`;
}

/** Reads a sysctl of the current network namespace, or null. */
export function readSysctl(key: string): string | null {
  try {
    return readFileSync(sysctlFile(key), 'utf8').trim();
  } catch {
    return null;
  }
}

/** Makes sure lo has IPv6 in this (the lab's own) namespace; a RuntimeFailure where the kernel has none. */
function enableIpv6(): void {
  const key = 'net.ipv6.conf.lo.disable_ipv6';
  const disabled = readSysctl(key);
  if (disabled === null) throw new RuntimeFailure('lab: this kernel has no IPv6 (no /proc/sys/net/ipv6; booted with ipv6.disable=1?); run the lab without --ipv6 / lab.ipv6');
  if (disabled === '0') return;
  try {
    writeFileSync(sysctlFile(key), '0\n');
  } catch (err) {
    throw new RuntimeFailure(`lab: IPv6 is disabled on the lab's lo and cannot be enabled (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/**
 * Sets up the namespace this process runs in: lo up, the lab addresses of the family (and the
 * extra source addresses) on lo, a route so that connections to the target leave from the client
 * address without binding, and the sysctls. Must only be called inside a namespace the lab created.
 *
 * The port sysctls are the net.ipv4 ones for both families: ip_local_port_range, tcp_tw_reuse,
 * tcp_timestamps and the other net.ipv4.tcp_* keys apply to IPv6 connections too (one per-namespace
 * setting; checked in a namespace: 50 ports gave 50 IPv6 connections, then EADDRNOTAVAIL).
 */
export function setupInside(sysctls: Record<string, string>, extraSources: readonly string[], ipv6 = false): void {
  ip(['link', 'set', 'lo', 'up']);
  if (ipv6) enableIpv6();
  const { client, target } = labAddresses(ipv6);
  const added = new Set<string>();
  for (const a of [client, target, ...extraSources]) {
    if (added.has(a)) continue;
    if (net.isIPv4(a) && !a.startsWith('127.')) ip(['addr', 'add', `${a}/32`, 'dev', 'lo']);
    // nodad: usable at once, never `tentative` (Linux skips duplicate address detection on lo; say so anyway).
    else if (net.isIPv6(a) && a !== '::1') ip(['-6', 'addr', 'add', `${a}/128`, 'dev', 'lo', 'nodad']);
    added.add(a);
  }
  if (ipv6) {
    // Both addresses are local, so source address selection would pick the target's own address
    // (RFC 6724 rule 1). A local route's preferred source wins over it, but `route replace` adds a
    // second route (metric 1024) that the kernel's own (metric 0) hides: the kernel's is deleted and
    // added again with `src fd00::1` (checked: connect() to fd00::2 without bind() leaves from fd00::1).
    ip(['-6', 'route', 'del', 'local', target, 'dev', 'lo', 'table', 'local']);
    ip(['-6', 'route', 'add', 'local', target, 'dev', 'lo', 'table', 'local', 'proto', 'kernel', 'src', client]);
  } else {
    // Both addresses are local, so the kernel would use the target's own address as the source; this
    // makes it pick the client address (checked: local 198.18.0.1 -> 198.18.0.2 without bind()).
    ip(['route', 'replace', 'local', target, 'dev', 'lo', 'table', 'local', 'proto', 'kernel', 'scope', 'host', 'src', client]);
  }
  writeLabSysctls(sysctls);
}

/** Writes sysctls of the namespace this process runs in (the lab's own); a RuntimeFailure naming the first that fails. */
export function writeLabSysctls(sysctls: Record<string, string>): void {
  for (const [key, value] of Object.entries(sysctls)) {
    try {
      writeFileSync(sysctlFile(key), `${value}\n`);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'this kernel does not have it' : code ?? String(err);
      throw new RuntimeFailure(`lab: cannot set ${key}=${value} in the lab namespace (${why})`);
    }
  }
}
