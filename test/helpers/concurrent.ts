/**
 * Calls `exchange` `n` times, `concurrency` calls at a time (each lane awaiting `between` after each
 * of its calls); the results in the order they completed.
 */
export async function runConcurrently<T>(n: number, concurrency: number, exchange: () => Promise<T>, between?: () => Promise<void>): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        results.push(await exchange());
        await between?.();
      }
    }),
  );
  return results;
}
