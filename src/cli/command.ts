/**
 * The shape of one CLI command module: a yargs builder plus a handler that returns the exit code.
 * main.ts is the only place that turns that code into a process exit.
 */
import type { Argv } from 'yargs';

/** One `portstorm <verb>` command. */
export interface Command<A = Record<string, unknown>> {
  command: string;
  describe: string;
  builder: (y: Argv) => Argv<A>;
  run: (argv: A) => Promise<number>;
}

/** Identity helper that keeps the argv type of a command module. */
export function defineCommand<A>(c: Command<A>): Command<A> {
  return c;
}
