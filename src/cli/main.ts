#!/usr/bin/env node
/** The portstorm CLI: parses arguments, runs one command, maps errors to exit codes. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ExitCode, PortstormError } from '../errors.js';
import type { Command } from './command.js';
import { runCommand } from './commands/run.js';
import { serveCommand } from './commands/serve.js';
import { monitorCommand } from './commands/monitor.js';
import { doctorCommand } from './commands/doctor.js';
import { reportCommand } from './commands/report.js';
import { demoCommand } from './commands/demo.js';
import { compareCommand } from './commands/compare.js';
import { labCommand } from './commands/lab.js';

const commands: Command<any>[] = [runCommand, reportCommand, compareCommand, serveCommand, monitorCommand, doctorCommand, labCommand, demoCommand];

function fail(message: string, code: number): never {
  process.stderr.write(`portstorm: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  let exitCode: number = ExitCode.OK;
  let cli = yargs(hideBin(process.argv))
    .scriptName('portstorm')
    .strict()
    .demandCommand(1, 'name a command: portstorm <command> --help')
    .recommendCommands()
    .help()
    .version()
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .epilogue('Exit codes: 0 completed, 1 a threshold failed, 2 usage or scenario error, 3 runtime failure, 130 interrupted.')
    .fail((msg, err) => {
      if (err instanceof PortstormError) fail(err.message, err.exitCode);
      if (err) fail(err.message, ExitCode.RUNTIME);
      const verb = commands.find((c) => c.command.split(' ')[0] === process.argv[2]);
      fail(`${msg} (see portstorm ${verb ? `${process.argv[2]} ` : ''}--help)`, ExitCode.USAGE);
    });
  for (const c of commands) {
    cli = cli.command(c.command, c.describe, c.builder, async (argv) => {
      exitCode = await c.run(argv);
    });
  }
  try {
    await cli.parseAsync();
  } catch (err) {
    if (err instanceof PortstormError) fail(err.message, err.exitCode);
    fail(err instanceof Error ? err.message : String(err), ExitCode.RUNTIME);
  }
  process.exit(exitCode);
}

void main();
