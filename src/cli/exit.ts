/** Leaving the process without losing output. */

/** Longest wait for a reader of stdout/stderr before exiting anyway. */
const FLUSH_LIMIT_MS = 60_000;

function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed) return resolve();
    stream.once('error', () => resolve());
    // The callback of an empty write runs once everything written before it has been handed over.
    if (!stream.write('', () => resolve())) stream.once('drain', () => resolve());
  });
}

/**
 * Lets stdout and stderr lose their reader (`portstorm … | head`, a parent that died): the write
 * fails with EPIPE, which Node raises as an unhandled 'error' event, a crash with a stack trace. What
 * the reader no longer wants is dropped; the run goes on and its files are written.
 */
export function toleratePipeClose(): void {
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => stream.destroy());
}

/**
 * Exits with `code` once stdout and stderr have been handed to the OS. A pipe is written
 * asynchronously, so `process.exit` right after writing a large run record would cut it at the
 * pipe's buffer size (64 KiB): `portstorm run --json | jq` must get all of it.
 */
export async function exitAfterOutput(code: number): Promise<never> {
  const limit = new Promise<void>((resolve) => setTimeout(resolve, FLUSH_LIMIT_MS).unref());
  await Promise.race([Promise.all([flushed(process.stdout), flushed(process.stderr)]), limit]);
  process.exit(code);
}
