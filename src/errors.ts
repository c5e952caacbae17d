/**
 * Exit codes and the operational error type. Per-request failures are data (see load/outcome.ts);
 * these are for the run as a whole: bad input, missing permission, a target that cannot start.
 */

/** Every process exit code portstorm uses, in one place. */
export const ExitCode = {
  /** The run completed (even with request errors). */
  OK: 0,
  /** A threshold failed. */
  THRESHOLD_FAILED: 1,
  /** Usage or scenario error. */
  USAGE: 2,
  /** Runtime failure (the target could not start, a worker died, a file could not be written). */
  RUNTIME: 3,
  /** Interrupted by SIGINT/SIGTERM; partial results were written. */
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error meant for the user: one line, no stack trace, a fixed exit code. */
export class PortstormError extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode) {
    super(message);
    this.name = 'PortstormError';
    this.exitCode = exitCode;
  }
}

/** Bad usage or an invalid scenario (exit 2). */
export class UsageError extends PortstormError {
  constructor(message: string) {
    super(message, ExitCode.USAGE);
    this.name = 'UsageError';
  }
}

/** Something failed while running (exit 3). */
export class RuntimeFailure extends PortstormError {
  constructor(message: string) {
    super(message, ExitCode.RUNTIME);
    this.name = 'RuntimeFailure';
  }
}
