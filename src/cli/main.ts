#!/usr/bin/env node
/** The portstorm CLI: parses arguments, runs one command, maps errors to exit codes. */
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ExitCode, PortstormError } from '../errors.js';
import { capMainYoungGeneration } from '../thread-limits.js';
import type { Command } from './command.js';
import { runCommand } from './commands/run.js';
import { serveCommand } from './commands/serve.js';
import { monitorCommand } from './commands/monitor.js';
import { doctorCommand } from './commands/doctor.js';
import { reportCommand } from './commands/report.js';
import { demoCommand } from './commands/demo.js';
import { compareCommand } from './commands/compare.js';
import { labCommand } from './commands/lab.js';
import { analyzeCommand } from './commands/analyze.js';
import { mergeCommand } from './commands/merge.js';
import { importCommand, jmeterStyleArgs } from './commands/import.js';
import { k8sCommand } from './commands/k8s.js';
import { exitAfterOutput, toleratePipeClose } from './exit.js';
import { ALL_EXIT_CODES, COMMAND_EXIT_CODES, exitCodesEpilogue } from './exit-codes.js';

const commands: Command<any>[] = [runCommand, reportCommand, analyzeCommand, mergeCommand, compareCommand, serveCommand, monitorCommand, doctorCommand, labCommand, importCommand, k8sCommand, demoCommand];

/** How a CLI invocation ended: its exit code and, for a failure, the one-line message for stderr. */
export interface CliOutcome {
  code: number;
  message: string | null;
}

/** Carries a failure out of yargs' fail handler to `runCli`. */
class CliFailure {
  constructor(
    readonly message: string,
    readonly code: number,
  ) {}
}

/** Control characters, line breaks included: an argument echoed in a message may hold any. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** A problem line blamed on an override flag rather than on the file: `--set load[0].rate=abc: ...`. */
const FLAG_SOURCE = /^--(set|variant) [^\n]*?: /;

/**
 * The message with control characters written as `\uXXXX`, so it is one line and cannot steer the
 * terminal. Only a list of problems keeps its line breaks: several lines each starting with the
 * same `<file>: ` or with the `--set`/`--variant` that put a bad value there (a scenario or record
 * with more than one thing wrong).
 */
export function printable(message: string): string {
  const escape = (s: string) => s.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const lines = message.split('\n');
  const fileLine = lines.find((l) => !FLAG_SOURCE.test(l));
  const source = fileLine === undefined ? undefined : /^[^\n]+?: /.exec(fileLine)?.[0];
  const listed = (l: string) => FLAG_SOURCE.test(l) || (source !== undefined && l.startsWith(source));
  if (lines.length > 1 && (source !== undefined || fileLine === undefined) && lines.every(listed)) return lines.map(escape).join('\n');
  return escape(message);
}

function failure(err: unknown): CliFailure {
  if (err instanceof CliFailure) return err;
  if (err instanceof PortstormError) return new CliFailure(err.message, err.exitCode);
  return new CliFailure(err instanceof Error ? err.message : String(err), ExitCode.RUNTIME);
}

interface OptionTypes {
  key: Record<string, unknown>;
  boolean: string[];
  number: string[];
  array: string[];
  count: string[];
}

/**
 * Every option but a list takes one value: `--rate` without one is a usage error rather than the
 * default, `--port=` one rather than 0, and `--dest a --dest b` one rather than the list yargs
 * would make of them (which the commands would read as the string "a,b").
 */
function oneValueEach(y: Argv, command: string, args: readonly string[]): Argv {
  const o = (y as unknown as { getOptions(): OptionTypes }).getOptions();
  const positionals = [...command.matchAll(/[<[]([\w-]+)/g)].map((m) => m[1]!);
  const single = Object.keys(o.key).filter((k) => !o.array.includes(k) && k !== 'help' && k !== 'version');
  const valued = single.filter((k) => !o.boolean.includes(k) && !o.count.includes(k) && !positionals.includes(k));
  const numbers = valued.filter((k) => o.number.includes(k));
  const end = args.indexOf('--') < 0 ? args.length : args.indexOf('--');
  const spellings = (k: string): string[] => [k, k.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())];
  const blank = (k: string): boolean =>
    spellings(k).some((name) => args.slice(0, end).some((a, i) => a === `--${name}=` || (a === `--${name}` && args[i + 1] === '')));
  return (valued.length > 0 ? y.requiresArg(valued) : y).check((argv) => {
    const twice = single.find((k) => Array.isArray(argv[k]));
    if (twice !== undefined) return `--${twice} given ${(argv[twice] as unknown[]).length} times; give it once`;
    const empty = numbers.find(blank);
    return empty === undefined || `--${empty}: expected a number, got nothing`;
  });
}

/**
 * Parses `args` (without node and the script) and runs the command they name, in this process.
 * Resolves with the exit code instead of exiting; only yargs' own `--help` and `--version` exit,
 * and only when `exitProcess` is true.
 */
export async function runCli(given: string[], exitProcess = true): Promise<CliOutcome> {
  const args = jmeterStyleArgs(given);
  let exitCode: number = ExitCode.OK;
  let cli = yargs(args)
    .scriptName('portstorm')
    .strict()
    .demandCommand(1, 'name a command: portstorm <command> --help')
    .recommendCommands()
    .help()
    .version()
    .exitProcess(exitProcess)
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .epilogue(exitCodesEpilogue(ALL_EXIT_CODES))
    .fail((msg, err) => {
      // yargs reports some usage errors ("Not enough arguments following: x") as a YError, and
      // passes a check's message as the error too.
      const error: unknown = err;
      if (error instanceof CliFailure) throw error;
      if (error instanceof Error && error.name !== 'YError') throw failure(error);
      const verb = commands.find((c) => c.command.split(' ')[0] === args[0]);
      // Some yargs messages span lines ("Invalid values:\n  Argument: ..."); a usage error is one.
      const why = (msg ?? (error instanceof Error ? error.message : String(error))).replace(/\s*\n\s*/g, ' ');
      throw new CliFailure(`${why} (see portstorm ${verb ? `${args[0]} ` : ''}--help)`, ExitCode.USAGE);
    });
  for (const c of commands) {
    const verb = c.command.split(' ')[0]!;
    const codes = COMMAND_EXIT_CODES[verb] ?? ALL_EXIT_CODES;
    cli = cli.command(c.command, c.describe, (y) => oneValueEach(c.builder(y), c.command, args).epilogue(exitCodesEpilogue(codes, verb)), async (argv) => {
      exitCode = await c.run(argv);
    });
  }
  try {
    await cli.parseAsync();
  } catch (err) {
    const f = failure(err);
    return { code: f.code, message: printable(f.message) };
  }
  return { code: exitCode, message: null };
}

async function main(): Promise<void> {
  capMainYoungGeneration();
  toleratePipeClose();
  const { code, message } = await runCli(hideBin(process.argv));
  if (message !== null) process.stderr.write(message.split('\n').map((line) => `portstorm: ${line}\n`).join(''));
  await exitAfterOutput(code);
}

/** True when node was started on this file (directly, without `.js`, or through the npm bin link). */
function isEntryPoint(): boolean {
  if (process.argv[1] === undefined) return false;
  try {
    const entry = createRequire(import.meta.url).resolve(path.resolve(process.argv[1]));
    return realpathSync(entry) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) void main();
