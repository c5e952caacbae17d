#!/usr/bin/env node
/**
 * Builds the optional native addons with node-gyp: the socket reader (native/sockdiag,
 * NETLINK_SOCK_DIAG) and the connection engine (native/connengine, the `reuse: false` and keep-alive HTTP transports).
 * Run by the package's `install` script. It never fails the install: for each addon that cannot be
 * built it prints one line to stderr (plus the tail of the build output when the build itself
 * failed) and goes on; the monitor then reads /proc/net/tcp, and the load uses node:net sockets.
 *
 *   PORTSTORM_SKIP_NATIVE=1   skip the builds (to exercise the fallbacks)
 *
 * node-gyp is npm's bundled copy: `npm_config_node_gyp` (set in npm lifecycle scripts), else found
 * next to npm (`npm_execpath`, or <prefix>/lib/node_modules/npm). Run by hand:
 *   node scripts/build-native.mjs
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TIMEOUT_MS = 5 * 60_000;

/** The addons: where they live, what they are called in messages, and a check that they work here. */
const ADDONS = [
  {
    name: 'sockdiag',
    what: 'native socket reader',
    fallback: 'the monitor will read /proc instead',
    // A sandbox may forbid netlink sockets.
    check: (mod) => {
      if (mod.version !== 1) throw new Error(`unexpected addon version ${mod.version}`);
      mod.dump(4, 1 << 10);
    },
  },
  {
    name: 'connengine',
    what: 'native connection engine',
    fallback: 'reuse: false will use node:net sockets',
    check: (mod) => {
      if (mod.version !== 3) throw new Error(`unexpected addon version ${mod.version}`);
      if (mod.errname(111) !== 'ECONNREFUSED') throw new Error('uv_err_name is not usable');
    },
  },
];

/** Thrown by notBuilt() to end one addon's build. */
class NotBuilt extends Error {}

/** Prints the one line (and optionally the tail of the build log) for `addon` and ends its build. */
function notBuilt(addon, reason, log = '') {
  process.stderr.write(`portstorm: ${addon.what} not built (${reason}); ${addon.fallback}\n`);
  const tail = log
    .trimEnd()
    .split('\n')
    .filter((l) => !/^gyp (info|http)|^gyp ERR! (stack\s+at |System |cwd |node -v|node-gyp -v|not ok)/.test(l))
    .slice(-10)
    .join('\n');
  if (tail) process.stderr.write(tail + '\n');
  throw new NotBuilt(reason);
}

function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  if (process.env.npm_execpath) {
    // .../npm/bin/npm-cli.js -> .../npm/node_modules/node-gyp/bin/node-gyp.js
    candidates.push(path.resolve(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  candidates.push(path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(path.join(path.dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((c) => c.endsWith('.js') && existsSync(c)) ?? null;
}

/** A short reason from node-gyp's output. */
function shortReason(log, status, signal) {
  if (signal) return `node-gyp killed by ${signal}`;
  const lines = log.split('\n');
  const pick = (re) => {
    for (const l of lines) {
      const m = re.exec(l);
      if (m) return m[1].trim();
    }
    return null;
  };
  if (/find Python/.test(log) && /gyp ERR! find Python/.test(log)) return 'Python not found';
  if (/network connectivity|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT/.test(log)) {
    return 'node headers unavailable: download failed, set npm_config_nodedir';
  }
  if (/not found: make|spawn make ENOENT/i.test(log)) return 'make not installed';
  if (/(cc|gcc|g\+\+|clang): (command )?not found|spawn (cc|gcc) ENOENT/.test(log)) return 'C compiler not found';
  const first = (re) => (pick(re) ?? '').slice(0, 100);
  if (/`make` failed/.test(log)) {
    const err = first(/: (?:fatal )?error: (.*)$/);
    return err ? `compile failed: ${err}` : 'compile failed';
  }
  if (/`gyp` failed/.test(log)) {
    const err = first(/^gyp: (.*)$/);
    return err ? `gyp configure failed: ${err}` : 'gyp configure failed';
  }
  const err = first(/gyp ERR! stack Error: (.*)$/);
  const why = err ? `: ${err}` : '';
  return `node-gyp exited with code ${status}${why}`;
}

/**
 * Outside npm (run by hand), node-gyp does not see a `nodedir` from .npmrc and would download the
 * headers: use the ones installed with this node when they are of the same version.
 */
function localNodedir() {
  if (process.env.npm_config_nodedir) return null;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  try {
    const h = readFileSync(path.join(prefix, 'include', 'node', 'node_version.h'), 'utf8');
    const v = ['MAJOR', 'MINOR', 'PATCH'].map((k) => new RegExp(`#define NODE_${k}_VERSION (\\d+)`).exec(h)?.[1]).join('.');
    if (`v${v}` === process.version && existsSync(path.join(prefix, 'include', 'node', 'common.gypi'))) return prefix;
  } catch {
    // no local headers
  }
  return null;
}

/** Builds one addon and checks that it loads and works here; throws NotBuilt otherwise. */
function build(addon, gyp, nodedir) {
  const dir = path.join(root, 'native', addon.name);
  const file = path.join(dir, 'build', 'Release', `${addon.name}.node`);
  if (process.env.PORTSTORM_SKIP_NATIVE === '1') {
    // Leave no earlier build behind, so that the fallback is what runs.
    rmSync(path.join(dir, 'build'), { recursive: true, force: true });
    notBuilt(addon, 'skipped: PORTSTORM_SKIP_NATIVE=1');
  }
  if (!existsSync(path.join(dir, 'binding.gyp'))) notBuilt(addon, `native/${addon.name} sources missing`);
  if (!gyp) notBuilt(addon, 'node-gyp not found (run from npm, or set npm_config_node_gyp)');
  const args = [gyp, 'rebuild', '--directory', dir, ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
  const r = spawnSync(process.execPath, args, {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024,
  });
  const log = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.error) notBuilt(addon, `could not run node-gyp: ${r.error.message}`, log);
  if (r.status !== 0) notBuilt(addon, shortReason(log, r.status, r.signal), log);
  if (!existsSync(file)) notBuilt(addon, `node-gyp succeeded but build/Release/${addon.name}.node is missing`, log);
  try {
    addon.check(createRequire(import.meta.url)(file));
  } catch (e) {
    notBuilt(addon, `built but unusable: ${e instanceof Error ? e.message : String(e)}`);
  }
}

if (process.platform !== 'linux') process.exit(0);
const gyp = process.env.PORTSTORM_SKIP_NATIVE === '1' ? null : findNodeGyp();
const nodedir = localNodedir();
for (const addon of ADDONS) {
  try {
    build(addon, gyp, nodedir);
  } catch (e) {
    if (!(e instanceof NotBuilt)) {
      process.stderr.write(`portstorm: ${addon.what} not built (${e instanceof Error ? e.message : String(e)}); ${addon.fallback}\n`);
    }
  }
}
process.exit(0);
