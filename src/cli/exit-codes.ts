/**
 * The exit codes each command can return, and the `--help` epilogue that lists them. One table, so
 * `portstorm <command> --help` and the process agree; the codes themselves live in errors.ts.
 */
import { ExitCode } from '../errors.js';

/** What each exit code means, as `--help` says it. */
const MEANING: Record<ExitCode, string> = {
  [ExitCode.OK]: 'completed (request errors are data, not a failure)',
  [ExitCode.THRESHOLD_FAILED]: 'a threshold failed',
  [ExitCode.USAGE]: 'usage error or bad input (a flag, a scenario, a file), told in one line',
  [ExitCode.RUNTIME]: 'runtime failure (a target could not start, a worker died, a file could not be written)',
  [ExitCode.INTERRUPTED]: 'interrupted by SIGINT/SIGTERM; partial results were written',
};

const LOAD: readonly ExitCode[] = [ExitCode.OK, ExitCode.THRESHOLD_FAILED, ExitCode.USAGE, ExitCode.RUNTIME, ExitCode.INTERRUPTED];

/** The exit codes of every command, by its verb. */
export const COMMAND_EXIT_CODES: Readonly<Record<string, readonly ExitCode[]>> = {
  run: LOAD,
  lab: LOAD,
  demo: LOAD,
  report: [ExitCode.OK, ExitCode.USAGE, ExitCode.RUNTIME],
  analyze: [ExitCode.OK, ExitCode.USAGE, ExitCode.RUNTIME],
  compare: [ExitCode.OK, ExitCode.THRESHOLD_FAILED, ExitCode.USAGE, ExitCode.RUNTIME],
  serve: [ExitCode.OK, ExitCode.USAGE, ExitCode.RUNTIME],
  monitor: [ExitCode.OK, ExitCode.USAGE, ExitCode.RUNTIME],
  doctor: [ExitCode.OK, ExitCode.USAGE, ExitCode.RUNTIME],
  import: [ExitCode.OK, ExitCode.USAGE, ExitCode.RUNTIME],
  merge: [ExitCode.OK, ExitCode.THRESHOLD_FAILED, ExitCode.USAGE, ExitCode.RUNTIME],
  k8s: [ExitCode.OK, ExitCode.USAGE, ExitCode.RUNTIME],
};

/** Command-specific wording where a code means something narrower than in general. */
const SPECIFIC: Readonly<Record<string, Partial<Record<ExitCode, string>>>> = {
  compare: { [ExitCode.OK]: 'compared; no --fail-if rule holds', [ExitCode.THRESHOLD_FAILED]: 'a --fail-if rule holds' },
  report: {
    [ExitCode.USAGE]: 'not a readable run record (a scenario, a missing or invalid file), or a bad --attach',
    [ExitCode.RUNTIME]: 'the --out file (with --attach: the revised record) could not be written',
  },
  import: {
    [ExitCode.USAGE]: 'not a JMeter plan (or not XML), no HTTP sampler to import, a bad --prop, or with --strict anything not imported',
    [ExitCode.RUNTIME]: 'the --out file could not be written',
  },
  analyze: {
    [ExitCode.OK]: 'analyzed; run.json and report.html written (request errors are data, not a failure)',
    [ExitCode.USAGE]: 'not a JTL, a header without timeStamp/elapsed/success, a truncated last row, timestamps out of order, an empty file, or a bad --monitor/--attach, told in one line (file:line)',
    [ExitCode.RUNTIME]: 'the record could not be written',
  },
  merge: {
    [ExitCode.OK]: 'merged; run.json and report.html written (a missing or failed shard is named in the record, not a failure)',
    [ExitCode.THRESHOLD_FAILED]: "a scenario threshold failed, judged on the merged record",
    [ExitCode.USAGE]: 'an unreadable input, a record that is not a shard, or shards of different scenarios, portstorm versions or counts, an index twice, or none completed, told in one line',
    [ExitCode.RUNTIME]: 'the merged record could not be written',
  },
  k8s: {
    [ExitCode.OK]: 'manifests written (to stdout or --out DIR); how to apply and collect them told on stderr',
    [ExitCode.USAGE]: 'a bad scenario or flag (--shards, --image, --start-at in the past, ...), told in one line',
    [ExitCode.RUNTIME]: 'the --out directory or file could not be written',
  },
  lab: { [ExitCode.THRESHOLD_FAILED]: 'a threshold failed (in any variant)' },
  run: {
    [ExitCode.USAGE]: 'bad input, told in one line (a flag, a scenario, a file, a refused --watch token)',
    [ExitCode.RUNTIME]: 'runtime failure (target or --watch agent down at the start, a worker died, a write failed)',
  },
};

/**
 * The `--help` epilogue listing `codes`, one per line: `Exit codes:` then `  0    completed ...`.
 * `verb` picks command-specific wording where there is some.
 */
export function exitCodesEpilogue(codes: readonly ExitCode[], verb?: string): string {
  const specific = verb === undefined ? {} : (SPECIFIC[verb] ?? {});
  return ['Exit codes:', ...codes.map((c) => `  ${String(c).padEnd(4)} ${specific[c] ?? MEANING[c]}`)].join('\n');
}

/** Every exit code there is, for the top-level `--help`. */
export const ALL_EXIT_CODES: readonly ExitCode[] = LOAD;
