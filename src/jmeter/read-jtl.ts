/**
 * Reading a JTL file end to end: its form told from its first bytes (`<` XML, else CSV), streamed
 * in chunks through the matching parser into a JtlFold, in constant memory.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { UsageError } from '../errors.js';
import { JtlCsvParser, type CsvHeader } from './jtl-csv.js';
import { JtlFold, type JtlFigures } from './jtl-fold.js';
import type { JtlSink } from './jtl-sample.js';
import { JtlXmlParser } from './jtl-xml.js';

/** How a JTL was read. */
export interface JtlRead {
  form: 'csv' | 'xml';
  /** The CSV's first line as read (null for XML). */
  header: CsvHeader | null;
  figures: JtlFigures;
  /** Rows skipped as unreadable, and the first of them (`line`, why). */
  skipped: number;
  firstSkipped: { line: number; why: string } | null;
  bytes: number;
}

/** Options of readJtl. */
export interface ReadJtlOptions {
  /** Names the file in messages (default: the path). */
  label?: string;
  /** False for files saved with sampleresult.timestamp.start=false (timeStamp is the end). */
  timestampIsStart?: boolean;
  /** Called after each chunk with the bytes read so far and the file's size. */
  onProgress?: (bytesRead: number, totalBytes: number) => void;
}

const CHUNK = 1 << 20;

/** Reads a JTL file; not a JTL, a truncated last row, out-of-order times or no sample at all is a one-line UsageError naming file:line. */
export async function readJtl(file: string, opts: ReadJtlOptions = {}): Promise<JtlRead> {
  const label = opts.label ?? file;
  let size: number;
  try {
    const st = await stat(file);
    if (st.isDirectory()) throw new UsageError(`${label}: a directory, not a JTL file`);
    size = st.size;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${label}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const fold = new JtlFold(label, opts.timestampIsStart ?? true);
  let skipped = 0;
  let firstSkipped: JtlRead['firstSkipped'] = null;
  const sink: JtlSink = {
    sample: (s) => fold.add(s),
    bad: (line, why) => {
      skipped++;
      firstSkipped ??= { line, why };
    },
  };
  const decoder = new StringDecoder('utf8');
  let parser: JtlCsvParser | JtlXmlParser | null = null;
  let form: JtlRead['form'] = 'csv';
  let read = 0;
  let started = false;
  const stream = createReadStream(file, { highWaterMark: CHUNK });
  try {
    for await (const buf of stream as AsyncIterable<Buffer>) {
      read += buf.length;
      let text = decoder.write(buf);
      if (!started) {
        text = text.replace(/^\uFEFF/, '');
        const lead = text.trimStart();
        if (lead === '') continue;
        started = true;
        form = lead.startsWith('<') ? 'xml' : 'csv';
        parser = form === 'xml' ? new JtlXmlParser(label, sink) : new JtlCsvParser(label, sink);
      }
      parser!.push(text);
      opts.onProgress?.(read, size);
    }
  } catch (err) {
    stream.destroy();
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${label}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!parser) throw new UsageError(`${label}:1: empty file, not a JTL (no header, no sample)`);
  parser.push(decoder.end());
  parser.end();
  const figures = fold.result();
  if (!figures) {
    const why = firstSkipped ? `: every row was unreadable, the first at line ${(firstSkipped as { line: number }).line}: ${(firstSkipped as { why: string }).why}` : ' (a header and nothing after it)';
    const line = firstSkipped ? (firstSkipped as { line: number }).line : 1;
    throw new UsageError(`${label}:${line}: no sample in it${why}`);
  }
  return { form, header: parser instanceof JtlCsvParser ? parser.header : null, figures, skipped, firstSkipped, bytes: read };
}
