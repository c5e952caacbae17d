/**
 * Headless Chromium for the browser tests, driven by playwright-core (which downloads no browser).
 *
 * The browser is looked up in this order: env PORTSTORM_CHROMIUM, then a system `chromium`
 * (/usr/bin/chromium, then `chromium` on PATH), else the one shipped inside the npm devDependency
 * @sparticuz/chromium (unpacked into the temp dir on first use). With none of them the tests fail
 * (never skip), naming every place tried.
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { brotliDecompressSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';

/** Where Debian's chromium package puts the browser. */
export const SYSTEM_CHROMIUM = '/usr/bin/chromium';
/** The npm package that ships a Chromium binary inside itself (a devDependency). */
export const NPM_CHROMIUM = '@sparticuz/chromium';
/** Bound on every browser step. */
export const TIMEOUT = 30_000;

/** Offline flags for every browser, whichever the source. */
const OFFLINE_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Where the lookup landed: a browser on disk, the npm package (still to unpack), or nothing usable. */
export type ChromiumPlan =
  | { kind: 'path'; source: 'PORTSTORM_CHROMIUM' | 'system'; path: string; tried: string[] }
  | { kind: 'npm'; tried: string[] }
  | { kind: 'fail'; tried: string[] };

/**
 * The lookup order as a pure function of the environment and a file test: PORTSTORM_CHROMIUM (if
 * set it must be usable: no fallback behind an explicit choice), /usr/bin/chromium, `chromium` in
 * each PATH directory, else the npm package.
 */
export function planChromium(env: NodeJS.ProcessEnv, isExecutable: (p: string) => boolean): ChromiumPlan {
  const tried: string[] = [];
  const chosen = env.PORTSTORM_CHROMIUM;
  if (chosen !== undefined && chosen !== '') {
    if (isExecutable(chosen)) return { kind: 'path', source: 'PORTSTORM_CHROMIUM', path: chosen, tried };
    tried.push(`PORTSTORM_CHROMIUM=${chosen} (not an executable file)`);
    return { kind: 'fail', tried };
  }
  tried.push('PORTSTORM_CHROMIUM (unset)');
  const system = [SYSTEM_CHROMIUM];
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir === '' || !path.isAbsolute(dir)) continue;
    const p = path.join(dir, 'chromium');
    if (!system.includes(p)) system.push(p);
  }
  for (const p of system) {
    if (isExecutable(p)) return { kind: 'path', source: 'system', path: p, tried };
  }
  tried.push(`system chromium (${SYSTEM_CHROMIUM} and PATH: not found)`);
  return { kind: 'npm', tried };
}

function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A browser ready to launch. */
export interface FoundChromium {
  source: 'PORTSTORM_CHROMIUM' | 'system' | 'npm';
  executablePath: string;
  /** Extra environment for the browser process (the npm browser's bundled libraries and fonts). */
  env: Record<string, string>;
}

function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

/**
 * Unpacks the shared libraries @sparticuz/chromium bundles for its binary (NSS, NSPR, expat: what
 * a bare machine may lack) into the temp dir; returns that directory. Plain ustar, regular files only.
 */
function bundledLibs(binDir: string, version: string): string {
  const dir = path.join(os.tmpdir(), `portstorm-chromium-libs-${version}`);
  if (existsSync(path.join(dir, 'libnss3.so'))) return dir;
  const tar = brotliDecompressSync(readFileSync(path.join(binDir, 'al2023.tar.br')));
  const partial = `${dir}.${process.pid}`;
  mkdirSync(partial, { recursive: true });
  for (let off = 0; off + 512 <= tar.length; ) {
    const name = tar.toString('utf8', off, off + 100).replace(/\0.*$/s, '');
    if (name === '') break;
    const size = parseInt(tar.toString('utf8', off + 124, off + 136).replace(/\0.*$/s, '').trim() || '0', 8);
    const type = String.fromCharCode(tar[off + 156]);
    const base = path.basename(name);
    if ((type === '0' || type === '\0') && base !== '' && !base.startsWith('.')) {
      writeFileSync(path.join(partial, base), tar.subarray(off + 512, off + 512 + size), { mode: 0o755 });
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
  try {
    renameSync(partial, dir);
  } catch {
    // another process unpacked it first
  }
  return dir;
}

async function npmChromium(): Promise<FoundChromium> {
  const mod = (await import(NPM_CHROMIUM)) as { default: { executablePath(input?: string): Promise<string> } };
  const entry = fileURLToPath(import.meta.resolve(NPM_CHROMIUM));
  const pkgDir = path.resolve(path.dirname(entry), '..', '..'); // <pkg>/build/esm/index.js
  const version = (JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version;
  const executablePath = await mod.default.executablePath();
  const libs = bundledLibs(path.join(pkgDir, 'bin'), version);
  const ld = process.env.LD_LIBRARY_PATH;
  const env: Record<string, string> = { LD_LIBRARY_PATH: ld ? `${libs}:${ld}` : libs };
  const fonts = path.join(os.tmpdir(), 'fonts');
  if (existsSync(path.join(fonts, 'fonts.conf'))) env.FONTCONFIG_PATH = fonts;
  return { source: 'npm', executablePath, env };
}

/** Finds a browser in the documented order; throws an Error naming every place tried. */
export async function findChromium(env: NodeJS.ProcessEnv = process.env): Promise<FoundChromium> {
  const plan = planChromium(env, isExecutableFile);
  const none = (tried: string[]) =>
    new Error(
      `no Chromium for the browser tests; tried: ${tried.join('; ')}. ` +
        `Set PORTSTORM_CHROMIUM to a Chromium binary, or run npm ci to get the ${NPM_CHROMIUM} devDependency`,
    );
  if (plan.kind === 'fail') throw none(plan.tried);
  if (plan.kind === 'path') return { source: plan.source, executablePath: plan.path, env: {} };
  try {
    return await npmChromium();
  } catch (err) {
    throw none([...plan.tried, `${NPM_CHROMIUM} (${message(err)})`]);
  }
}

/** A fresh offline headless context (a new profile in `profileDir`, no background networking). */
export function launchChromium(found: FoundChromium, profileDir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: found.executablePath,
    headless: true,
    args: OFFLINE_ARGS,
    env: { ...(process.env as Record<string, string>), ...found.env },
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
    // a fixed locale: without one the npm build derives `en-US@posix` from a C/POSIX LANG, which Intl rejects
    locale: 'en-US',
    offline: true,
    timeout: TIMEOUT,
  });
}

/** Finds and launches a browser; on failure gives the reason instead (for a failing, never skipped, test). */
export async function startChromium(
  profileDir: string,
): Promise<{ context: BrowserContext; found: FoundChromium; error: null } | { context: null; found: null; error: string }> {
  let found: FoundChromium;
  try {
    found = await findChromium();
  } catch (err) {
    return { context: null, found: null, error: message(err) };
  }
  try {
    return { context: await launchChromium(found, profileDir), found, error: null };
  } catch (err) {
    return { context: null, found: null, error: `${found.source} Chromium ${found.executablePath} did not start: ${message(err)}` };
  }
}
