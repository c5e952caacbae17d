/** Where a rendering goes: a file (`--out`) or stdout. */
import { writeFile } from 'node:fs/promises';
import { RuntimeFailure } from '../errors.js';

/** Writes `text` to `out` (saying so on stderr), or to stdout when no file is given. */
export async function emit(text: string, out: string | undefined): Promise<void> {
  if (!out) {
    process.stdout.write(text);
    return;
  }
  await writeFile(out, text).catch((err: NodeJS.ErrnoException) => {
    throw new RuntimeFailure(`cannot write ${out}: ${err.code ?? err.message}`);
  });
  process.stderr.write(`portstorm: wrote ${out}\n`);
}
