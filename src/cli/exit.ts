/** Leaving the process without losing output. */

/** Longest wait for a reader of stdout/stderr before exiting anyway. */
const FLUSH_LIMIT_MS = 60_000;

function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    // The callback of an empty write runs once everything written before it has been handed over.
    if (!stream.write('', () => resolve())) stream.once('drain', () => resolve());
  });
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
