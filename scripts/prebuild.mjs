#!/usr/bin/env node
/**
 * Builds the prebuilt binaries shipped in the package (run by `npm pack` / `npm publish` as the
 * `prepack` script): prebuildify --napi --strip --tag-libc for each addon, written to
 * native/<addon>/prebuilds/<platform>-<arch>/<addon>.<libc>.node, where node-gyp-build (the
 * loaders and scripts/build-native.mjs) finds them. `postpack` removes them again
 * (`node scripts/prebuild.mjs --clean`), so that a checkout never runs a stale prebuilt binary.
 *
 * The addons are built from a copy of native/ in a temporary directory, so that the checkout's own
 * native/<addon>/build/Release (from `npm install`) is left as it was. One N-API build serves every
 * Node version with N-API 8 (binding.gyp's NAPI_VERSION), i.e. Node 20, 22 and 24.
 *
 * Fails (non-zero) when an addon does not build: a package is not packed without its prebuilds.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADDONS, findNodeGyp, localNodedir } from './build-native.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const native = path.join(root, 'native');

if (process.argv.includes('--clean')) {
  for (const { name } of ADDONS) rmSync(path.join(native, name, 'prebuilds'), { recursive: true, force: true });
  process.exit(0);
}
if (process.platform !== 'linux') {
  process.stderr.write(`prebuild: the addons are Linux-only; nothing to build on ${process.platform}\n`);
  process.exit(0);
}

const gyp = findNodeGyp();
if (!gyp) {
  process.stderr.write('prebuild: node-gyp not found (run from npm, or set npm_config_node_gyp)\n');
  process.exit(1);
}
const nodedir = process.env.npm_config_nodedir || localNodedir();
const prebuildify = createRequire(import.meta.url).resolve('prebuildify/bin.js');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'portstorm-prebuild-'));
try {
  // Sources only: no build/ or prebuilds/ of the checkout.
  cpSync(native, path.join(tmp, 'native'), { recursive: true, filter: (src) => !/[/\\](build|prebuilds)$/.test(src) });
  for (const addon of ADDONS) {
    const out = path.join(native, addon.name);
    rmSync(path.join(out, 'prebuilds'), { recursive: true, force: true });
    const args = [prebuildify, '--napi', '--strip', '--tag-libc', `--target=${process.versions.node}`, `--name=${addon.name}`, `--cwd=${path.join(tmp, 'native', addon.name)}`, `--out=${out}`, `--node-gyp=${gyp}`];
    const r = spawnSync(process.execPath, args, {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, ...(nodedir ? { npm_config_nodedir: nodedir } : {}) },
    });
    if (r.status !== 0) {
      process.stderr.write(`prebuild: ${addon.name} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})\n`);
      process.exit(1);
    }
    const dir = path.join(out, 'prebuilds', `${process.platform}-${process.arch}`);
    const files = readdirSync(dir);
    // The binary must load and work here, as the install script checks it on the user's machine.
    addon.check(createRequire(import.meta.url)(path.join(dir, files[0])));
    process.stderr.write(`prebuild: ${path.relative(root, path.join(dir, files[0]))}\n`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
