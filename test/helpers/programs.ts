/** The programs the interop tests run, and the Debian packages that hold them. */
import assert from 'node:assert/strict';
import { findExecutable } from '../../src/lab/netns.js';

/** The Debian package of each program an interop test runs. */
export const DEBIAN_PACKAGES: Readonly<Record<string, string>> = {
  ab: 'apache2-utils',
  conntrack: 'conntrack',
  dnsmasq: 'dnsmasq-base',
  ip: 'iproute2',
  mount: 'mount',
  nft: 'nftables',
  nginx: 'nginx-light',
  nstat: 'iproute2',
  promtool: 'prometheus',
  python3: 'python3',
  setpriv: 'util-linux',
  ss: 'iproute2',
  unshare: 'util-linux',
};

/** Fails (never skips) when a program the test runs is missing, naming the packages to install. */
export function needPrograms(...programs: string[]): void {
  const missing = programs.filter((p) => findExecutable(p) === null);
  const packages = [...new Set(missing.map((p) => DEBIAN_PACKAGES[p] ?? p))];
  assert.deepEqual(missing, [], `missing ${missing.join(', ')}: the interop tests need them (apt-get install -y ${packages.join(' ')})`);
}
