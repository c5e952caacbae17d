/**
 * The package as users get it: `npm pack` (prepack builds the prebuilt addons, prepare compiles the
 * TypeScript), then `npm install ./portstorm-*.tgz` in an empty directory, and the three ways the
 * native addons come to be there, in turn on that one install:
 *
 *   prebuilt  installed with no C compiler, make or Python on PATH: the addons load from
 *             native/<addon>/prebuilds/, and `npx portstorm run` / `npx portstorm demo` work;
 *   compiled  prebuilds removed, `npm rebuild portstorm` with the compiler: build/Release/;
 *   none      neither, `npm rebuild portstorm` without a compiler: one line per addon at install,
 *             the JS fallbacks (node:net, /proc), and `npx portstorm run` still works.
 *
 * The install pulls the dependencies from the registry (or npm's cache: --prefer-offline).
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ADDONS = ['sockdiag', 'connengine'] as const;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-package-'));
const app = path.join(tmp, 'app');
const pkg = path.join(app, 'node_modules', 'portstorm');

/** The environment without the npm_* variables of the `npm test` that runs this file. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'PORTSTORM_SKIP_NATIVE' && k !== 'INIT_CWD') env[k] = v;
  return { ...env, ...extra };
}

/** A PATH with node, npm, npx and sh (npm runs scripts with it) and nothing else: no cc, gcc, make or python. */
function bareBin(): string {
  const bin = path.join(tmp, 'bare-bin');
  mkdirSync(bin);
  const nodeDir = path.dirname(process.execPath);
  symlinkSync(process.execPath, path.join(bin, 'node'));
  symlinkSync('/bin/sh', path.join(bin, 'sh'));
  for (const tool of ['npm', 'npx']) {
    const beside = path.join(nodeDir, tool);
    const cli = path.resolve(nodeDir, '..', 'lib', 'node_modules', 'npm', 'bin', `${tool}-cli.js`);
    symlinkSync(existsSync(beside) ? beside : cli, path.join(bin, tool));
  }
  return bin;
}

let bare = '';
const withCompiler = (): NodeJS.ProcessEnv => cleanEnv();
const noCompiler = (): NodeJS.ProcessEnv => cleanEnv({ PATH: bare });

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd = app, timeout = 180_000): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return r;
}

function ok(r: SpawnSyncReturns<string>, what: string): SpawnSyncReturns<string> {
  assert.equal(r.status, 0, `${what} exited ${r.status} (${r.signal ?? ''}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  return r;
}

interface Loaded {
  available: boolean;
  reason?: string;
  file?: string;
  prebuilt?: boolean;
}

/** What the installed package's loaders find, from a process in the app directory. */
function probe(env: NodeJS.ProcessEnv): { sockdiag: Loaded; connengine: Loaded } {
  const code = `
    const { loadSockDiag } = await import('portstorm/build/src/monitor/sockdiag.js');
    const { loadNativeEngine } = await import('portstorm/build/src/load/transport/native-engine.js');
    const pick = ({ available, reason, file, prebuilt }) => ({ available, reason, file, prebuilt });
    console.log(JSON.stringify({ sockdiag: pick(loadSockDiag()), connengine: pick(loadNativeEngine()) }));`;
  const r = ok(run('node', ['--input-type=module', '-e', code], env), 'the loader probe');
  return JSON.parse(r.stdout) as { sockdiag: Loaded; connengine: Loaded };
}

interface RunRecord {
  status: string;
  engine: { engine: string; reason: string | null };
  totals: { attempted: number; completed: number };
  monitor: { source: string | null };
}

/** `npx portstorm run` on the shipped demo scenario, bounded: 1 s at 50 new connections/s on loopback. */
function portstormRun(env: NodeJS.ProcessEnv): { record: RunRecord; stderr: string } {
  const args = ['portstorm', 'run', path.join(pkg, 'scenarios', 'demo.yaml'), '--out', path.join(tmp, 'results'), '--json', '--quiet'];
  for (const s of ['load[0].duration=1s', 'load[0].rate=50', 'load[0].startRate=50', 'load[0].rampUp=0s']) args.push('--set', s);
  const r = ok(run('npx', args, env), 'npx portstorm run');
  return { record: JSON.parse(r.stdout) as RunRecord, stderr: r.stderr };
}

const notices = (stderr: string): string[] => stderr.split('\n').filter((l) => /^portstorm: native .* not built/.test(l));

describe('the packed package', () => {
  let tgz = '';
  let files: string[] = [];
  const timings: Record<string, number> = {};
  const timed = <T>(what: string, fn: () => T): T => {
    const t0 = performance.now();
    try {
      return fn();
    } finally {
      timings[what] = Math.round(performance.now() - t0);
    }
  };

  before(() => {
    bare = bareBin();
    assert.equal(run('/bin/sh', ['-c', 'command -v cc gcc make python3 python || true'], noCompiler(), tmp).stdout.trim(), '', 'the bare PATH has a compiler');
    const dest = path.join(tmp, 'pack');
    mkdirSync(dest);
    timed('npm pack', () => ok(run('npm', ['pack', '--pack-destination', dest], withCompiler(), ROOT), 'npm pack'));
    const packed = readdirSync(dest).filter((f) => f.endsWith('.tgz'));
    assert.equal(packed.length, 1, `npm pack made ${packed.join(', ')}`);
    tgz = path.join(dest, packed[0]!);
    files = ok(run('tar', ['tzf', tgz], withCompiler(), tmp), 'tar').stdout.trim().split('\n');
    mkdirSync(app);
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  });

  after(() => {
    process.stderr.write(`# package.test timings (ms): ${JSON.stringify(timings)}\n`);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('holds the compiled JS, the addon sources and a prebuilt binary for each addon, and no build or test output', () => {
    for (const f of ['package/build/src/cli/main.js', 'package/scenarios/demo.yaml', 'package/schema/scenario.schema.json', 'package/scripts/build-native.mjs']) {
      assert.ok(files.includes(f), `${f} missing from the tarball`);
    }
    for (const a of ADDONS) {
      assert.ok(files.includes(`package/native/${a}/binding.gyp`), `native/${a}/binding.gyp missing`);
      assert.ok(files.includes(`package/native/${a}/${a}.c`), `native/${a}/${a}.c missing`);
      assert.ok(files.includes(`package/native/${a}/prebuilds/linux-x64/${a}.glibc.node`), `the ${a} prebuilt binary is missing: ${files.filter((f) => f.includes('prebuilds')).join(', ')}`);
    }
    assert.deepEqual(files.filter((f) => /^package\/(build\/(test|bench)\/|native\/[^/]+\/build\/|src\/|test\/)/.test(f)), []);
    // The checkout keeps no prebuilt binary (postpack), so it never runs a stale one.
    for (const a of ADDONS) assert.equal(existsSync(path.join(ROOT, 'native', a, 'prebuilds')), false, `native/${a}/prebuilds left in the checkout`);
  });

  it('prebuilt: installs with no compiler on PATH and loads both addons from prebuilds/', () => {
    const r = timed('npm install (prebuilt, no compiler)', () =>
      ok(run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts', tgz], noCompiler()), 'npm install'),
    );
    assert.deepEqual(notices(r.stderr), [], r.stderr);
    for (const a of ADDONS) assert.equal(existsSync(path.join(pkg, 'native', a, 'build')), false, `${a} was compiled`);
    const p = probe(noCompiler());
    for (const a of ADDONS) {
      assert.equal(p[a].available, true, JSON.stringify(p));
      assert.equal(p[a].prebuilt, true, JSON.stringify(p));
      assert.equal(p[a].file, path.join(pkg, 'native', a, 'prebuilds', 'linux-x64', `${a}.glibc.node`));
    }
  });

  it('prebuilt: `npx portstorm run` on a shipped scenario uses the native engine and monitor', () => {
    const { record } = timed('npx portstorm run', () => portstormRun(noCompiler()));
    assert.equal(record.status, 'completed');
    assert.deepEqual(record.engine, { engine: 'native', reason: null });
    assert.equal(record.monitor.source, 'sockdiag');
    assert.ok(record.totals.completed >= 40, JSON.stringify(record.totals));
  });

  it('prebuilt: `npx portstorm demo` runs', () => {
    // The lab needs unshare and ip from PATH (not a compiler).
    const r = timed('npx portstorm demo', () => ok(run('npx', ['portstorm', 'demo'], withCompiler()), 'npx portstorm demo'));
    assert.match(r.stdout + r.stderr, /demo/);
    assert.match(r.stdout, /requests\s+[\d ]+ attempted/);
  });

  it('compiled: without the prebuilds, `npm rebuild` compiles both addons from the shipped sources', () => {
    for (const a of ADDONS) rmSync(path.join(pkg, 'native', a, 'prebuilds'), { recursive: true, force: true });
    const r = timed('npm rebuild (compile)', () => ok(run('npm', ['rebuild', 'portstorm', '--foreground-scripts'], withCompiler()), 'npm rebuild'));
    assert.deepEqual(notices(r.stderr), [], r.stderr);
    const p = probe(withCompiler());
    for (const a of ADDONS) {
      assert.equal(p[a].available, true, JSON.stringify(p));
      assert.equal(p[a].prebuilt, false, JSON.stringify(p));
      assert.equal(p[a].file, path.join(pkg, 'native', a, 'build', 'Release', `${a}.node`));
    }
  });

  it('none: no prebuilt and no compiler: one line per addon, install succeeds, the JS fallbacks run', () => {
    for (const a of ADDONS) rmSync(path.join(pkg, 'native', a, 'build'), { recursive: true, force: true });
    const r = timed('npm rebuild (no compiler)', () => ok(run('npm', ['rebuild', 'portstorm', '--foreground-scripts'], noCompiler()), 'npm rebuild'));
    const lines = notices(r.stderr);
    assert.equal(lines.length, 2, r.stderr);
    assert.match(lines[0]!, /^portstorm: native socket reader not built \(.+\); the monitor will read \/proc instead$/);
    assert.match(lines[1]!, /^portstorm: native connection engine not built \(.+\); reuse: false will use node:net sockets$/);
    const p = probe(noCompiler());
    for (const a of ADDONS) {
      assert.equal(p[a].available, false, JSON.stringify(p));
      assert.match(p[a].reason ?? '', /no prebuilt binary fits/);
    }
    const { record } = portstormRun(noCompiler());
    assert.equal(record.status, 'completed');
    assert.equal(record.engine.engine, 'js');
    assert.match(record.engine.reason ?? '', /native connection engine unavailable/);
    assert.equal(record.monitor.source, 'proc');
    assert.ok(record.totals.completed >= 40, JSON.stringify(record.totals));
  });
});
