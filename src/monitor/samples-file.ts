/**
 * Reading a `portstorm monitor --out` file (or a saved `/stream`) for `report --attach`: every line
 * checked with `parseAgentLine`; a bad line is a problem naming its line number and is skipped, the
 * rest is read on. Only the samples inside a time window are kept, so a file of a day's samples
 * costs the memory of the run's stretch alone.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { UsageError } from '../errors.js';
import { parseAgentLine } from './agent-lines.js';
import type { HelloLine } from './agent-protocol.js';
import type { SamplerStatus } from './sampler.js';
import type { MonitorSample } from './types.js';

/** Problems kept word for word; the rest are counted. */
export const MAX_PROBLEMS = 5;

/** Epoch milliseconds, both ends included. */
export interface TimeWindow {
  fromMs: number;
  toMs: number;
}

/** What a samples file holds for the window asked for. */
export interface SamplesFile {
  /** The hello line that applies to the window (the last written before its end, else the first), or null (older files have none). */
  hello: HelloLine | null;
  /** The last status line written before the window's end, or null. */
  status: SamplerStatus | null;
  /** The samples inside the window, in file order. */
  samples: MonitorSample[];
  /** Sample lines read, inside the window or not. */
  sampleLines: number;
  /** The first and last sample time of the whole file (epoch ms), or null without samples. */
  range: { firstMs: number; lastMs: number } | null;
  /** Lines that could not be used (not JSON, not an agent line), and the first few of them as `<label> line N: ...`. */
  badLines: number;
  problems: string[];
}

/** Reads the lines of a samples file one by one (`line`), then tells what it holds (`result`). */
export class SamplesReader {
  private lineNo = 0;
  private readonly out: SamplesFile = { hello: null, status: null, samples: [], sampleLines: 0, range: null, badLines: 0, problems: [] };
  private firstHello: HelloLine | null = null;

  /** `label` names the file in problems; samples outside `window` are counted but not kept (all are kept without one). */
  constructor(
    private readonly label: string,
    private readonly window: TimeWindow | null = null,
  ) {}

  /** Takes the next line of the file (without its newline). Blank lines are skipped. */
  line(text: string): void {
    this.lineNo++;
    if (text.trim() === '') return;
    const parsed = parseAgentLine(text.endsWith('\r') ? text.slice(0, -1) : text, `${this.label} line ${this.lineNo}`);
    if (!parsed.ok) {
      this.out.badLines++;
      if (this.out.problems.length < MAX_PROBLEMS) this.out.problems.push(parsed.problem);
      return;
    }
    const l = parsed.line;
    const endMs = this.window?.toMs ?? Infinity;
    if (l.type === 'sample') {
      const at = l.sample.at;
      this.out.sampleLines++;
      const r = this.out.range;
      this.out.range = r ? { firstMs: Math.min(r.firstMs, at), lastMs: Math.max(r.lastMs, at) } : { firstMs: at, lastMs: at };
      if (!this.window || (at >= this.window.fromMs && at <= this.window.toMs)) this.out.samples.push(l.sample);
    } else if (l.type === 'hello') {
      this.firstHello ??= l;
      if (l.time <= endMs) this.out.hello = l;
    } else if (l.type === 'status' && l.time <= endMs) {
      this.out.status = l.status;
    }
  }

  /** What the lines read so far hold. */
  result(): SamplesFile {
    return { ...this.out, hello: this.out.hello ?? this.firstHello };
  }
}

/**
 * Reads a samples file, streaming it line by line. A file that cannot be opened or read is a
 * one-line `UsageError` naming `label`; bad lines are not errors (see `SamplesFile.problems`).
 */
export async function readSamplesFile(file: string, label: string, window: TimeWindow | null = null): Promise<SamplesFile> {
  const reader = new SamplesReader(label, window);
  const stream = createReadStream(file, { encoding: 'utf8' });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  // readline does not pass the stream's errors on: without this an unreadable file reads as empty.
  let failure: NodeJS.ErrnoException | null = null;
  stream.on('error', (err) => {
    failure = err;
    lines.close();
  });
  try {
    for await (const text of lines) reader.line(text);
  } catch (err) {
    failure ??= err as NodeJS.ErrnoException;
  }
  if (failure) throw new UsageError(`${label}: cannot read it (${errnoText(failure)})`);
  return reader.result();
}

function errnoText(err: NodeJS.ErrnoException): string {
  const why: Record<string, string> = {
    ENOENT: 'no such file',
    EACCES: 'permission denied',
    EISDIR: 'a directory, not a file',
    ENOTDIR: 'a path through a file',
  };
  return err.code ? (why[err.code] ? `${err.code}: ${why[err.code]}` : err.code) : String(err.message).split('\n')[0]!;
}
