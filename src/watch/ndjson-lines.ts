/**
 * NDJSON framing of a byte stream that comes from another host: whole lines out, each at most
 * `maxBytes` long. A longer line is skipped to its end and counted, so a peer that never sends a
 * newline cannot make the reader hold more than `maxBytes`.
 */

/** Splits chunks into lines (without their `\n` or `\r\n`); blank lines are left out. */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private skipping = false;
  /** Lines skipped for being longer than `maxBytes`. */
  oversized = 0;

  constructor(private readonly maxBytes: number) {}

  /** The lines `chunk` completes. */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, nl);
      if (this.skipping) this.skipping = false;
      else if (this.size + piece.length > this.maxBytes) this.oversized++;
      else {
        const text = (this.parts.length === 0 ? piece : Buffer.concat([...this.parts, piece])).toString('utf8').replace(/\r$/, '');
        if (text.trim() !== '') lines.push(text);
      }
      this.parts = [];
      this.size = 0;
      start = nl + 1;
    }
    const rest = chunk.subarray(start);
    if (rest.length > 0 && !this.skipping) {
      if (this.size + rest.length > this.maxBytes) {
        this.oversized++;
        this.skipping = true;
        this.parts = [];
        this.size = 0;
      } else {
        // A copy: the rest must not pin the whole chunk it came in.
        this.parts.push(Buffer.from(rest));
        this.size += rest.length;
      }
    }
    return lines;
  }
}
