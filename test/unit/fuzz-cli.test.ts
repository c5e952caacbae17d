/**
 * Property-based tests of the command line: argument lists for run, report, compare, lab, monitor,
 * doctor and serve that must be refused before anything starts, each with a fault that no other
 * argument in the list can repair (a scenario or run file that is missing or wrong, a bad value, an
 * unknown option, a missing or repeated one) among arguments that are otherwise fine. A thousand go
 * through the CLI in this process (`runCli`, the same parser and handlers `main` uses); a sample
 * of them is run as real processes. Every one must end with exit 2 and one line on stderr starting
 * `portstorm:`, with no stack trace. No list can start a load: run and lab always name a scenario
 * that cannot load.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { runCli, type CliOutcome } from '../../src/cli/main.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const FIX = fileURLToPath(new URL('../../../test/fixtures/records/', import.meta.url));

/**
 * A fixed seed and 1000 runs, so a run is repeatable; a failure prints its seed and path. FUZZ_SEED
 * and FUZZ_RUNS explore beyond them.
 */
function settings(seed: number): fc.Parameters<unknown> {
  return { seed: Number(process.env.FUZZ_SEED ?? seed), numRuns: Math.max(1000, Number(process.env.FUZZ_RUNS ?? 0)), includeErrorInReport: true };
}

const dir = mkdtempSync(path.join(tmpdir(), 'portstorm-fuzz-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  writeFileSync(path.join(dir, name), text);
  return path.join(dir, name);
};
mkdirSync(path.join(dir, 'a-directory.yaml'));

/** Scenario files that cannot load, whatever `--set` says (no override touches `load`). */
const BAD_SCENARIOS = [
  path.join(dir, 'missing.yaml'),
  path.join(dir, 'a-directory.yaml'),
  file('empty.yaml', ''),
  file('list.yaml', '- load\n'),
  file('broken.yaml', 'load: [\n'),
  file('load-5.yaml', 'load: 5\n'),
  file('unknown-key.yaml', 'load: [{ model: arrival-rate, rate: 1, duration: 1s }]\nzz: 1\n'),
];
const healthy = readFileSync(`${FIX}healthy.json`, 'utf8');
/** Run records that cannot be read. */
const BAD_RECORDS = [
  path.join(dir, 'no-such-run'),
  path.join(dir, 'missing.json'),
  file('truncated.json', healthy.slice(0, 300)),
  file('list.json', '[]'),
  file('schema-3.json', healthy.replace('"schema": 1', '"schema": 3')),
  file('wrong-type.json', healthy.replace('"workers": 1', '"workers": "one"')),
];
const GOOD_RECORDS = [`${FIX}healthy.json`, `${FIX}exhaustion.json`];

/** Any character, with control characters, quotes and option syntax likelier than chance. */
const char = fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), fc.constantFrom('\n', '\r', '\t', '\u0000', '\u001b', '-', '=', '.', ':', ' ', '"'));
const text = fc.string({ unit: char, maxLength: 16 });

/** One argument list, and what its refusal must mention. */
interface Case {
  argv: string[];
  fault: string;
  mentions?: RegExp;
  /** A scenario with `--set` overrides may have more than one thing wrong: one line each. */
  severalLines?: boolean;
}

type Noise = fc.Arbitrary<string[]>;
const flag = (name: string): Noise => fc.constant([`--${name}`]);
const value = (name: string, values: fc.Arbitrary<string>): Noise => values.map((v) => [`--${name}`, v]);

/** Valid options of each command, in any order and number, each at most once. */
const NOISE: Record<string, Record<string, Noise>> = {
  run: {
    out: value('out', fc.constant(path.join(dir, 'out'))),
    label: value('label', text),
    set: fc.array(text.filter((s) => !/load/i.test(s)), { minLength: 1, maxLength: 3 }).map((sets) => sets.flatMap((s) => ['--set', s])),
    json: flag('json'),
    quiet: flag('quiet'),
    'log-requests': flag('log-requests'),
    'allow-remote': flag('allow-remote'),
  },
  lab: {
    out: value('out', fc.constant(path.join(dir, 'out'))),
    label: value('label', text),
    set: fc.array(text.filter((s) => !/load/i.test(s)), { minLength: 1, maxLength: 2 }).map((sets) => sets.flatMap((s) => ['--set', s])),
    'port-range': value('port-range', fc.constantFrom('40000-40999', '32768 60999')),
    sysctl: value('sysctl', fc.constantFrom('net.ipv4.tcp_tw_reuse=1', 'net.ipv4.tcp_fin_timeout=30')),
    variant: fc.array(fc.constantFrom('base', 'reuse:sysctl.net.ipv4.tcp_tw_reuse=1', 'rst:connection.close=reset'), { minLength: 1, maxLength: 3 }).map((vs) => [...new Set(vs)].flatMap((v) => ['--variant', v])),
    json: flag('json'),
    quiet: flag('quiet'),
  },
  report: {
    format: value('format', fc.constantFrom('text', 'json', 'md', 'html')),
    out: value('out', fc.constant(path.join(dir, 'report.out'))),
  },
  compare: {
    format: value('format', fc.constantFrom('text', 'json', 'md', 'html')),
    out: value('out', fc.constant(path.join(dir, 'compare.out'))),
    'fail-if': value('fail-if', fc.constantFrom('latency.p99 > +10%', 'errors.EADDRNOTAVAIL > 0')),
  },
  serve: {
    host: value('host', fc.constantFrom('127.0.0.1', '::1')),
    port: value('port', fc.constantFrom('0', '8080')),
    protocol: value('protocol', fc.constantFrom('http', 'tcp')),
    'delay-ms': value('delay-ms', fc.constantFrom('0', '5')),
    'body-bytes': value('body-bytes', fc.constantFrom('0', '2')),
    close: value('close', fc.constantFrom('never', 'after-response')),
    duration: value('duration', fc.constantFrom('1s', '500ms')),
  },
  monitor: {
    interval: value('interval', fc.constantFrom('250ms', '1s')),
    'scan-interval': value('scan-interval', fc.constantFrom('1s')),
    duration: value('duration', fc.constantFrom('1s', '2m')),
    dest: value('dest', fc.constantFrom('127.0.0.1:80', '[::1]:443')),
    out: value('out', fc.constant(path.join(dir, 'monitor.ndjson'))),
    json: flag('json'),
    once: flag('once'),
    prometheus: value('prometheus', fc.constantFrom('127.0.0.1:0')),
  },
  doctor: {
    json: flag('json'),
    dest: value('dest', fc.constantFrom('127.0.0.1:80', '10.0.0.5:443')),
    rate: value('rate', fc.constantFrom('1000', '0.5')),
  },
};
const COMMANDS = Object.keys(NOISE);

/** Some of a command's valid options, never `except` (the one the fault is in), shuffled. */
function noise(command: string, except: readonly string[] = []): fc.Arbitrary<string[]> {
  const options = Object.entries(NOISE[command]!).filter(([k]) => !except.includes(k));
  return fc
    .shuffledSubarray(options.map(([, arb]) => arb))
    .chain((arbs) => (arbs.length === 0 ? fc.constant([] as string[][]) : fc.tuple(...arbs)))
    .map((groups) => groups.flat());
}

const NO_POSITIONALS = fc.constant([] as string[]);
/** Positionals that cannot be read, so a run, lab, report or compare never gets going. */
const POSITIONALS: Record<string, fc.Arbitrary<string[]>> = {
  run: fc.oneof(fc.constantFrom(...BAD_SCENARIOS), text.map((t) => path.join(dir, `nope-${t}`))).map((s) => [s]),
  lab: fc.constantFrom(...BAD_SCENARIOS).map((s) => [s]),
  report: fc.oneof(fc.constantFrom(...BAD_RECORDS), text.map((t) => path.join(dir, `nope-${t}`))).map((s) => [s]),
  compare: fc
    .tuple(fc.constantFrom(...BAD_RECORDS), fc.array(fc.constantFrom(...GOOD_RECORDS), { minLength: 1, maxLength: 2 }), fc.nat())
    .map(([bad, good, i]) => {
      const all = [...good];
      all.splice(i % (all.length + 1), 0, bad);
      return all;
    }),
  serve: NO_POSITIONALS,
  monitor: NO_POSITIONALS,
  doctor: NO_POSITIONALS,
};
/** How many positionals a command takes at most (compare: any number). */
const MAX_POSITIONALS: Record<string, number> = { run: 1, lab: 1, report: 1, compare: Infinity, serve: 0, monitor: 0, doctor: 0 };

/** Bad values, by command and option; each is refused by the command before it starts. */
const BAD_VALUES: Record<string, Record<string, string[]>> = {
  serve: {
    port: ['-1', '65536', '1.5', 'abc', '1e400', '', 'NaN'],
    'delay-ms': ['-1', 'abc', 'Infinity', ''],
    'body-bytes': ['-1', '1.5', '1e12', 'x', ''],
    duration: ['0', '-1s', 'abc', '', '1e12', '0s', '30 days'],
    host: ['', '   '],
    protocol: ['udp', 'HTTP', ''],
    close: ['maybe', ''],
    // Alone, or without its key, or unreadable: refused before a certificate is made or a port taken.
    'tls-cert': ['', '/nonexistent/cert.pem'],
    'tls-key': ['', '/nonexistent/key.pem'],
    'tls-cert-out': [''],
  },
  monitor: {
    interval: ['0', '0ms', '-1s', 'abc', '', '1x'],
    'scan-interval': ['0s', 'soon', ''],
    duration: ['0', '-5m', 'forever', ''],
    dest: ['x', '1.2.3.4', '1.2.3.4:99999', ':80', '[::1]', 'a:b', ''],
    prometheus: ['localhost', '127.0.0.1:65536', '127.0.0.1:', ''],
  },
  doctor: {
    rate: ['0', '-1', 'abc', '', 'NaN', '-Infinity'],
    dest: ['x', '1.2.3.4', '1.2.3.4:123456', ''],
  },
  report: { format: ['pdf', 'TEXT', ''] },
  compare: { format: ['csv', ''], 'fail-if': ['latency.p99 >', '~nope > 1', 'latency.p99 ~ 5', '', '> 5', 'latency.p99 > 10 ms'] },
  lab: {
    'port-range': ['', '5', '40000-', '70000-70001', '40999-40000', 'a-b'],
    variant: ['', ':x', 'bad name', 'v:novalue', 'v:sysctl.=1', 'v:sysctl.net.ipv4.tcp_tw_reuse'],
    sysctl: ['', 'noequals', '=1', 'net.ipv4.tcp_tw_reuse'],
  },
};

/** A bad value for an option that takes one, as `--opt=value` or `--opt value`. */
const badValue = fc.constantFrom(...Object.keys(BAD_VALUES)).chain((command) =>
  fc.constantFrom(...Object.keys(BAD_VALUES[command]!)).chain((option) =>
    fc
      .tuple(fc.constantFrom(...BAD_VALUES[command]![option]!), fc.boolean(), POSITIONALS[command]!, noise(command, [option]), fc.nat())
      .map(([v, joined, pos, rest, at]): Case => {
        // A value that looks like an option cannot follow as a separate word; it goes with `=`.
        const bad = joined || v === '' || v.startsWith('-') ? [`--${option}=${v}`] : [`--${option}`, v];
        const argv = [...rest];
        argv.splice(at % (argv.length + 1), 0, ...bad);
        // lab reads the scenario first, and overrides can add problems of their own to it.
        return { argv: [command, ...pos, ...argv], fault: `--${option}=${JSON.stringify(v)}`, severalLines: rest.includes('--set') };
      }),
  ),
);

/** A command with valid options and one fault yargs must catch: unknown option, extra or missing positional, repeated option, option without a value. */
const parseFault = fc.constantFrom(...COMMANDS).chain((command) => {
  const options = Object.keys(NOISE[command]!);
  const singles = options.filter((o) => !['set', 'sysctl', 'variant', 'fail-if'].includes(o));
  const valued = singles.filter((o) => !['json', 'quiet', 'once', 'log-requests', 'allow-remote', 'label'].includes(o));
  const faults: Array<fc.Arbitrary<{ fault: string; edit: (pos: string[], rest: string[]) => string[]; mentions?: RegExp; except?: string[] }>> = [
    fc.oneof(text.map((t) => `--zz${t}`), fc.constantFrom('-Q', '-zq', '--zz')).map((o) => ({
      fault: `unknown option ${JSON.stringify(o)}`,
      edit: (pos: string[], rest: string[]) => [...pos, ...rest, o],
      mentions: /Unknown argument/,
    })),
    // A repeated flag (--json --json) is no fault: yargs keeps one true.
    fc.constantFrom(...valued).chain((o) =>
      NOISE[command]![o]!.map((given) => ({
        fault: `--${o} twice`,
        edit: (pos: string[], rest: string[]) => [...pos, ...given, ...rest, ...given],
        mentions: new RegExp(`--${o} given 2 times`),
        except: [o],
      })),
    ),
  ];
  if (valued.length > 0) {
    faults.push(
      fc.constantFrom(...valued).map((o) => ({
        fault: `--${o} without a value`,
        edit: (pos: string[], rest: string[]) => [...pos, ...rest, `--${o}`],
        mentions: new RegExp(`Not enough arguments following: ${o}`),
        except: [o],
      })),
    );
  }
  if (MAX_POSITIONALS[command]! < Infinity) {
    faults.push(
      fc.constantFrom('extra', '5', 'x.yaml').map((p) => ({
        fault: `extra positional ${p}`,
        edit: (pos: string[], rest: string[]) => [...pos, p, ...rest],
        mentions: /Unknown argument/,
      })),
    );
  }
  if (['run', 'lab', 'report', 'compare'].includes(command)) {
    faults.push(
      fc.constant({
        fault: 'missing positional',
        edit: (pos: string[], rest: string[]) => [...pos.slice(0, command === 'compare' ? 1 : 0), ...rest],
        mentions: /Not enough non-option arguments/,
      }),
    );
  }
  // Free text (labels, overrides) stays out: a word starting with - would be a fault of its own.
  return fc
    .tuple(fc.oneof(...faults), POSITIONALS[command]!)
    .chain(([f, pos]) => noise(command, ['label', 'set', ...(f.except ?? [])]).map((rest): Case => ({ argv: [command, ...f.edit(pos, rest)], fault: f.fault, mentions: f.mentions })));
});

/** A scenario or run record that cannot be read, among valid options only. */
const badFile = fc
  .constantFrom('run', 'lab', 'report', 'compare')
  .chain((command) =>
    fc.tuple(POSITIONALS[command]!, noise(command)).map(([pos, rest]): Case => ({ argv: [command, ...pos, ...rest], fault: 'unreadable file', severalLines: rest.includes('--set') })),
  );

/** No command, an unknown one, or only options. */
const noCommand = fc
  .oneof(
    fc.constant([] as string[]),
    fc.tuple(text.filter((t) => t !== '' && !t.startsWith('-') && !COMMANDS.includes(t) && t !== 'demo'), fc.array(text, { maxLength: 3 })).map(([c, rest]) => [c, ...rest]),
    fc.array(fc.constantFrom('--json', '--quiet', '--zz', '-x'), { minLength: 1, maxLength: 3 }),
  )
  .map((argv): Case => ({ argv, fault: 'no command' }));

const cases = fc
  .oneof({ arbitrary: badValue, weight: 5 }, { arbitrary: parseFault, weight: 4 }, { arbitrary: badFile, weight: 2 }, { arbitrary: noCommand, weight: 1 })
  // `--help` and `--version` succeed; they are not bad input (a random word is never one).
  .filter((c) => !c.argv.some((a) => /^--(help|version)(=|$)/.test(a)))
  .map((c) => Object.assign(c, { [fc.toStringMethod]: () => `${c.fault}: ${JSON.stringify(c.argv)}` }));

/** Line breaks and other control characters (terminal escapes): the message has none. */
const CONTROL = /[\u0000-\u001f\u007f\u2028\u2029]/;

/**
 * Runs the CLI in this process, failing if it writes to stderr itself (a refusal is only the outcome
 * main prints) or has not settled within `ms` (then it started something; SIGINT stops it). Stdout
 * carries the test runner's own reports, so the processes below check that one.
 */
async function inProcess(argv: string[], ms = 3000): Promise<CliOutcome> {
  const written: string[] = [];
  const err = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: unknown): boolean => {
    written.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  let timer: NodeJS.Timeout | undefined;
  try {
    const outcome = await Promise.race([
      runCli(argv, false),
      new Promise<'pending'>((resolve) => {
        timer = setTimeout(() => resolve('pending'), ms);
      }),
    ]);
    if (outcome === 'pending') {
      process.emit('SIGINT', 'SIGINT');
      throw new Error(`still running after ${ms} ms: the arguments were accepted`);
    }
    assert.deepEqual(written, [], 'the CLI wrote to stderr itself');
    return outcome;
  } finally {
    clearTimeout(timer);
    process.stderr.write = err;
  }
}

/** What main prints for an outcome's message. */
const printed = (message: string): string => message.split('\n').map((line) => `portstorm: ${line}\n`).join('');

function assertRefusal(c: Case, code: number | null, stderr: string): void {
  assert.equal(code, 2, `${c.fault}: exit ${code}: ${stderr}`);
  const lines = stderr.split('\n');
  assert.equal(lines.pop(), '', `${c.fault}: stderr does not end with a line break`);
  if (!c.severalLines) assert.equal(lines.length, 1, `${c.fault}: not one line: ${JSON.stringify(stderr)}`);
  for (const line of lines) {
    assert.match(line, /^portstorm: \S/, `${c.fault}: a line does not start portstorm: ${JSON.stringify(stderr)}`);
    assert.doesNotMatch(line, CONTROL, `${c.fault}: a control character in ${JSON.stringify(stderr)}`);
  }
  assert.doesNotMatch(stderr, /^\s+at /m, `${c.fault}: a stack trace`);
  if (c.mentions) assert.match(stderr, c.mentions, `${c.fault}: ${stderr}`);
}

const counts = new Map<string, number>();

describe('bad command lines (fast-check)', () => {
  it('are refused in-process with exit 2 and one line, before anything starts', async (t) => {
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        const { code, message } = await inProcess(c.argv);
        assertRefusal(c, code, message === null ? '' : printed(message));
        const command = COMMANDS.includes(c.argv[0] ?? '') ? c.argv[0] : '(no command)';
        const kind = /^--[\w-]+=/.test(c.fault) ? 'bad value' : / twice$/.test(c.fault) ? 'repeated' : / without /.test(c.fault) ? 'no value' : c.fault.split(' ')[0]!;
        counts.set(`${command} ${kind}`, (counts.get(`${command} ${kind}`) ?? 0) + 1);
      }),
      settings(0x5eed_0004),
    );
    t.diagnostic(`cases by command and fault: ${JSON.stringify(Object.fromEntries([...counts].sort()))}`);
    for (const command of COMMANDS) {
      const kinds = ['unknown', 'repeated', 'no value', ...(BAD_VALUES[command] ? ['bad value'] : []), ...(POSITIONALS[command] !== NO_POSITIONALS ? ['unreadable'] : [])];
      for (const kind of kinds) assert.ok(counts.has(`${command} ${kind}`), `no ${kind} case for ${command}`);
    }
  });

  it('are refused the same way by the real CLI (a sample as processes)', async () => {
    // A process cannot be given an argument with a NUL byte in it.
    const sample = fc.sample(cases.filter((c) => !c.argv.some((a) => a.includes('\u0000'))), { seed: 0x5eed_0005, numRuns: 16 });
    const spawnOne = (c: Case) =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, [MAIN, ...c.argv], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => child.kill('SIGINT'), 15_000);
        child.on('close', (code) => {
          clearTimeout(timer);
          try {
            assertRefusal(c, code, stderr);
            assert.equal(stdout, '', `${c.fault}: wrote to stdout`);
            resolve();
          } catch (e) {
            reject(e as Error);
          }
        });
      });
    // Two at a time: this machine has two cores.
    for (let i = 0; i < sample.length; i += 2) await Promise.all(sample.slice(i, i + 2).map(spawnOne));
  });
});
