/**
 * Where a native addon's binary is, found as node-gyp-build finds it (the convention of N-API
 * modules): native/<name>/build/Release/ when it was compiled at install (scripts/build-native.mjs
 * compiles only when no prebuilt binary fits or `--build-from-source`), else the prebuilt binary
 * for this platform in native/<name>/prebuilds/<platform>-<arch>/ (shipped in the package).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeSkipReason, nativeSkipped } from './native-skip.js';

const require = createRequire(import.meta.url);

/** src/ compiles to build/src/: the package root is two levels up. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface NodeGypBuild {
  path(dir: string): string;
}

/** The addon's binary, whether it is a prebuilt one, or why there is none. */
export type AddonFile = { file: string; prebuilt: boolean } | { file: null; reason: string };

/** Finds native/<name>'s binary. */
export function addonFile(name: string): AddonFile {
  const dir = path.join(ROOT, 'native', name);
  let gypBuild: NodeGypBuild;
  try {
    gypBuild = require('node-gyp-build') as NodeGypBuild;
  } catch (e) {
    return { file: null, reason: `node-gyp-build not installed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}` };
  }
  try {
    const file = gypBuild.path(dir);
    return { file, prebuilt: path.relative(dir, file).split(path.sep)[0] === 'prebuilds' };
  } catch {
    return { file: null, reason: 'not built and no prebuilt binary fits this platform (run npm rebuild portstorm with a C compiler)' };
  }
}

/** A loaded addon with where it came from, or why there is none. */
export type LoadedAddon<T> = { addon: T; file: string; prebuilt: boolean } | { addon: null; reason: string };

/**
 * Loads native/<name>'s binary unless PORTSTORM_SKIP_NATIVE says not to, and checks that it is
 * the `version` this code speaks and has the function `fn` (what every loader needs first).
 */
export function loadAddon<T extends { version: number }>(name: string, version: number, fn: keyof T): LoadedAddon<T> {
  if (nativeSkipped()) return { addon: null, reason: nativeSkipReason() };
  const found = addonFile(name);
  if (found.file === null) return { addon: null, reason: found.reason };
  let addon: T;
  try {
    addon = require(found.file) as T;
  } catch (e) {
    return { addon: null, reason: `failed to load: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (addon.version !== version || typeof addon[fn] !== 'function') {
    return { addon: null, reason: `unexpected addon version ${String(addon.version)} (run npm rebuild)` };
  }
  return { addon, file: found.file, prebuilt: found.prebuilt };
}
