/**
 * The optional per-request log (`--log-requests`): one NDJSON file per load worker, written in
 * batches so the hot path only appends to an array.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Phase } from './types.js';

/** One request. Times `t` and `start` are run seconds; durations are milliseconds. */
export interface RequestLogEntry {
  /** Intended start (the schedule). */
  t: number;
  /** Actual dispatch. */
  start: number;
  /** Connect time of the connection this request opened, or null on a reused connection. */
  connectMs: number | null;
  /** Time to first byte from dispatch, or null. */
  ttfbMs: number | null;
  /** Total from the intended start (corrected). */
  ms: number;
  /** Failure code, or null on success. */
  code: string | null;
  phase: Phase | null;
  /** Local (ephemeral) port, when known. */
  port: number | null;
}

const BATCH = 512;

/** An append-only NDJSON writer of request entries. */
export class RequestLog {
  private readonly stream: WriteStream;
  private lines: string[] = [];

  constructor(file: string) {
    this.stream = createWriteStream(file, { flags: 'a' });
    // A full disk must not stop the run; the log is best effort.
    this.stream.on('error', () => undefined);
  }

  /** Appends one entry. */
  add(e: RequestLogEntry): void {
    this.lines.push(JSON.stringify(e));
    if (this.lines.length >= BATCH) this.flush();
  }

  /** Hands buffered entries to the file stream. */
  flush(): void {
    if (this.lines.length === 0) return;
    this.stream.write(this.lines.join('\n') + '\n');
    this.lines = [];
  }

  /** Flushes and closes the file. */
  close(): Promise<void> {
    this.flush();
    return new Promise((resolve) => this.stream.end(resolve));
  }
}
