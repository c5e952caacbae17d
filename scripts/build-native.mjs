#!/usr/bin/env node
/**
 * Sets up the optional native addons: the socket reader (native/sockdiag, NETLINK_SOCK_DIAG) and
 * the connection engine (native/connengine, the `reuse: false` and keep-alive HTTP transports).
 * Run by the package's `install` script, following node-gyp-build's convention, for each addon:
 *
 *   1. the prebuilt binary shipped in the package (native/<addon>/prebuilds/linux-x64/, made by
 *      scripts/prebuild.mjs at `npm pack`), when one fits this platform and it loads and works here:
 *      nothing is compiled, no compiler is needed;
 *   2. else a compile from source with node-gyp (native/<addon>/build/Release/);
 *   3. else one line on stderr (plus the tail of the build output when the build itself failed):
 *      the monitor then reads /proc/net/tcp, and the load uses node:net sockets.
 *
 * It never fails the install.
 *
 *   PORTSTORM_SKIP_NATIVE=1           compile nothing and remove earlier builds (see src/native-skip.ts;
 *                                     the loaders then load no addon, prebuilt or compiled)
 *   npm_config_build_from_source=true (`npm install --build-from-source`) skip step 1 and compile
 *
 * node-gyp is npm's bundled copy: `npm_config_node_gyp` (set in npm lifecycle scripts), else found
 * next to npm (`npm_execpath`, or <prefix>/lib/node_modules/npm). Run by hand:
 *   node scripts/build-native.mjs
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TIMEOUT_MS = 5 * 60_000;

/**
 * PORTSTORM_SKIP_NATIVE, the same rule as nativeSkipped() in src/native-skip.ts (this script runs
 * before TypeScript is compiled; test/unit/native-skip.test.ts checks that the two agree).
 */
export function nativeSkipped(env = process.env) {
  const v = env.PORTSTORM_SKIP_NATIVE;
  return v !== undefined && !['', '0', 'false', 'no', 'off'].includes(v.trim().toLowerCase());
}

/** npm's --build-from-source (node-gyp-build's convention: true, or this package's name). */
function buildFromSource(env = process.env) {
  const v = env.npm_config_build_from_source;
  return v === 'true' || v === 'portstorm';
}

/** The addons: where they live, what they are called in messages, and a check that they work here. */
export const ADDONS = [
  {
    name: 'sockdiag',
    what: 'native socket reader',
    fallback: 'the monitor will read /proc instead',
    // A sandbox may forbid netlink sockets.
    check: (mod) => {
      if (mod.version !== 2) throw new Error(`unexpected addon version ${mod.version}`);
      mod.dump(4, 1 << 10);
    },
  },
  {
    name: 'connengine',
    what: 'native connection engine',
    fallback: 'reuse: false will use node:net sockets',
    check: (mod) => {
      if (mod.version !== 4) throw new Error(`unexpected addon version ${mod.version}`);
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

export function findNodeGyp() {
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
export function localNodedir() {
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
  if (nativeSkipped()) {
    // Leave no earlier build behind, so that the fallback is what runs.
    rmSync(path.join(dir, 'build'), { recursive: true, force: true });
    notBuilt(addon, `skipped: PORTSTORM_SKIP_NATIVE=${process.env.PORTSTORM_SKIP_NATIVE}`);
  }
  let prebuiltProblem = '';
  if (!buildFromSource()) {
    const prebuilt = prebuiltFor(dir);
    if (prebuilt) {
      try {
        addon.check(createRequire(import.meta.url)(prebuilt));
        // The loaders prefer build/Release: leave none of an earlier compile in front of it.
        rmSync(path.join(dir, 'build'), { recursive: true, force: true });
        return;
      } catch (e) {
        prebuiltProblem = `; prebuilt ${path.basename(prebuilt)} unusable: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
      }
    }
  }
  const notCompiled = (reason, log) => notBuilt(addon, reason + prebuiltProblem, log);
  if (!existsSync(path.join(dir, 'binding.gyp'))) notCompiled(`native/${addon.name} sources missing`);
  if (!gyp) notCompiled('node-gyp not found (run from npm, or set npm_config_node_gyp)');
  const args = [gyp, 'rebuild', '--directory', dir, ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
  const r = spawnSync(process.execPath, args, {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024,
  });
  const log = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.error) notCompiled(`could not run node-gyp: ${r.error.message}`, log);
  if (r.status !== 0) notCompiled(shortReason(log, r.status, r.signal), log);
  if (!existsSync(file)) notCompiled(`node-gyp succeeded but build/Release/${addon.name}.node is missing`, log);
  try {
    addon.check(createRequire(import.meta.url)(file));
  } catch (e) {
    rmSync(path.join(dir, 'build'), { recursive: true, force: true });
    notCompiled(`built but unusable: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * The prebuilt binary in `dir`/prebuilds that fits this platform, chosen as node-gyp-build chooses
 * (its prebuilds-only mode: an earlier build/Release is not a prebuilt), or null.
 */
function prebuiltFor(dir) {
  if (!existsSync(path.join(dir, 'prebuilds'))) return null;
  let gypBuild;
  try {
    gypBuild = createRequire(import.meta.url)('node-gyp-build');
  } catch {
    return null;
  }
  try {
    return gypBuild.path(dir);
  } catch {
    return null;
  }
}

function main() {
  if (process.platform !== 'linux') return;
  // node-gyp-build reads this when it is first required (by prebuiltFor).
  process.env.PREBUILDS_ONLY = '1';
  const gyp = nativeSkipped() ? null : findNodeGyp();
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
}

// Run as a script (the install script), not when imported (scripts/prebuild.mjs).
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main();
  process.exit(0);
}
