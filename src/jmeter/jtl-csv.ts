/**
 * JMeter's CSV results, streamed: a header naming the columns (jmeter.save.saveservice.print_field_names,
 * on by default), or none and JMeter's default column order. Rows without a quote (nearly all) are
 * split by hand, which keeps ≥ 1 M rows/s; a row with a quoted field (a delimiter, quote or line
 * break inside a label or message) goes to csv-parse, which reads CSV as JMeter writes it (RFC 4180
 * quoting). csv-parse streams at ~0.2 M rows/s here (BENCHMARKS.md), too slow for every row.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import { UsageError } from '../errors.js';
import type { JtlSample, JtlSink } from './jtl-sample.js';

/**
 * Every column JMeter's CSVSaveService writes, in its order. Without a header a file is read in
 * this order with the columns jmeter.properties saves by default (below).
 */
export const JMETER_COLUMNS = [
  'timeStamp', 'elapsed', 'label', 'responseCode', 'responseMessage', 'threadName', 'dataType', 'success', 'failureMessage',
  'bytes', 'sentBytes', 'grpThreads', 'allThreads', 'URL', 'Filename', 'Latency', 'Encoding', 'SampleCount', 'ErrorCount',
  'Hostname', 'IdleTime', 'Connect',
] as const;

/** The columns a header-less file has: JMeter's defaults (with `URL`, as JMeter 5 saves it, or without). */
export const DEFAULT_COLUMNS = ['timeStamp', 'elapsed', 'label', 'responseCode', 'responseMessage', 'threadName', 'dataType', 'success', 'failureMessage', 'bytes', 'sentBytes', 'grpThreads', 'allThreads', 'URL', 'Latency', 'IdleTime', 'Connect'] as const;
const DEFAULT_WITHOUT_URL = DEFAULT_COLUMNS.filter((c) => c !== 'URL');

/** Columns a JTL must have for portstorm to read it. */
export const REQUIRED_COLUMNS = ['timeStamp', 'elapsed', 'success'] as const;

/** Where each column portstorm reads is (-1: not saved). */
interface Layout {
  delimiter: string;
  count: number;
  ts: number;
  elapsed: number;
  success: number;
  responseCode: number;
  responseMessage: number;
  failureMessage: number;
  url: number;
  latency: number;
  connect: number;
  allThreads: number;
}

/** What the first line said. */
export interface CsvHeader {
  header: boolean;
  columns: string[];
  /** Header columns that are none of JMeter's (sample variables, or another tool's): ignored. */
  unknown: string[];
}

const lowerKnown = new Map<string, string>(JMETER_COLUMNS.map((c) => [c.toLowerCase(), c]));
// Older and hand-written headers: `idle` for IdleTime, `latency` in lower case (matched case-insensitively anyway).
lowerKnown.set('idle', 'IdleTime');

function layoutOf(columns: readonly string[], delimiter: string): Layout {
  const at = (name: string): number => columns.indexOf(name);
  return {
    delimiter,
    count: columns.length,
    ts: at('timeStamp'),
    elapsed: at('elapsed'),
    success: at('success'),
    responseCode: at('responseCode'),
    responseMessage: at('responseMessage'),
    failureMessage: at('failureMessage'),
    url: at('URL'),
    latency: at('Latency'),
    connect: at('Connect'),
    allThreads: at('allThreads'),
  };
}

const DIGITS = /^\d+$/;

/** The header (or the default order) from the file's first line; not a JTL is a UsageError naming line 1. */
export function readFirstLine(first: string, label: string): { header: CsvHeader; layout: Layout } {
  const line = first.endsWith('\r') ? first.slice(0, -1) : first;
  const known = (d: string): number => line.split(d).filter((f) => lowerKnown.has(f.replace(/^"|"$/g, '').trim().toLowerCase())).length;
  // A header: at least two of JMeter's column names, split by the delimiter JMeter was told to use.
  const delimiter = [',', '\t', ';', '|'].find((d) => known(d) >= 2) ?? null;
  if (delimiter !== null) {
    const columns = line.split(delimiter).map((c) => {
      const bare = c.replace(/^"|"$/g, '').trim();
      return lowerKnown.get(bare.toLowerCase()) ?? bare;
    });
    const missing = REQUIRED_COLUMNS.filter((c) => !columns.includes(c));
    if (missing.length > 0) throw new UsageError(`${label}:1: the header lacks ${missing.join(', ')}, which portstorm needs (it has: ${columns.join(', ')})`);
    const unknown = columns.filter((c) => !(JMETER_COLUMNS as readonly string[]).includes(c));
    return { header: { header: true, columns, unknown }, layout: layoutOf(columns, delimiter) };
  }
  const fields = line.split(',');
  const looksLikeRow = DIGITS.test(fields[0] ?? '') && DIGITS.test(fields[1] ?? '');
  if (looksLikeRow && (fields.length === DEFAULT_COLUMNS.length || fields.length === DEFAULT_WITHOUT_URL.length) && /^(true|false)$/.test(fields[7] ?? '')) {
    const columns = fields.length === DEFAULT_COLUMNS.length ? [...DEFAULT_COLUMNS] : DEFAULT_WITHOUT_URL;
    return { header: { header: false, columns, unknown: [] }, layout: layoutOf(columns, ',') };
  }
  if (looksLikeRow) {
    throw new UsageError(
      `${label}:1: a CSV without a header whose row has ${fields.length} fields; portstorm reads header-less files only in JMeter's default columns (${DEFAULT_COLUMNS.length}: ${DEFAULT_COLUMNS.join(',')}); save with jmeter.save.saveservice.print_field_names=true`,
    );
  }
  throw new UsageError(`${label}:1: not a JMeter results file: expected a CSV JTL (a header naming timeStamp, elapsed, success…, or JMeter's default columns) or <testResults> XML`);
}

/** Reads JTL CSV text chunk by chunk (`push`), handing samples to the sink; `end` at the end of the file. */
export class JtlCsvParser {
  private layout: Layout | null = null;
  private carry = '';
  /** Physical lines consumed. */
  private lineNo = 0;
  /** A quoted record that spans lines: its text so far and its first line. */
  private pending: { text: string; line: number } | null = null;
  private readonly s: JtlSample = { line: 0, ts: 0, elapsed: 0, success: true, responseCode: '', responseMessage: '', failureMessage: '', url: null, latency: 0, connect: 0, allThreads: 0 };
  /** The first line's reading, once seen. */
  header: CsvHeader | null = null;

  constructor(
    private readonly label: string,
    private sink: JtlSink,
  ) {}

  /** Takes the next chunk of the file's text. */
  push(chunk: string): void {
    const text = this.carry === '' ? chunk : this.carry + chunk;
    let pos = 0;
    let quote = -2;
    for (;;) {
      const nl = text.indexOf('\n', pos);
      if (nl < 0) break;
      const end = nl > pos && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      if (quote !== -1 && quote < pos) quote = text.indexOf('"', pos);
      // The fast path: a data row without quotes, read in place.
      if (this.layout !== null && this.pending === null && (quote < 0 || quote >= end) && end > pos) {
        this.lineNo++;
        this.plainRow(text, pos, end);
      } else this.physicalLine(text.slice(pos, end));
      pos = nl + 1;
    }
    this.carry = pos === 0 ? text : text.slice(pos);
  }

  /** The end of the file: a last line without its line break that cannot be read is a truncated file (UsageError). */
  end(): void {
    const rest = this.carry.endsWith('\r') ? this.carry.slice(0, -1) : this.carry;
    this.carry = '';
    if (rest !== '') {
      const bad = { why: '' };
      const line = this.lineNo + 1;
      const sink = this.sink;
      this.sink = { sample: (s) => sink.sample(s), bad: (_l, why) => (bad.why = why) };
      this.physicalLine(rest);
      this.sink = sink;
      if (bad.why !== '') throw new UsageError(`${this.label}:${line}: truncated last line (${bad.why}); the file ends inside a row`);
    }
    if (this.pending) throw new UsageError(`${this.label}:${this.pending.line}: truncated last line (a quoted field is never closed); the file ends inside a row`);
  }


  private physicalLine(line: string): void {
    this.lineNo++;
    if (this.pending) {
      this.pending.text += '\n' + line;
      if (quotesBalanced(this.pending.text)) {
        const p = this.pending;
        this.pending = null;
        this.quotedRow(p.text, p.line);
      }
      return;
    }
    if (this.layout === null) {
      if (line.trim() === '') return;
      const first = readFirstLine(line, this.label);
      this.header = first.header;
      this.layout = first.layout;
      if (first.header.header) return;
    }
    if (line === '') return;
    if (line.indexOf('"') >= 0) {
      if (!quotesBalanced(line)) this.pending = { text: line, line: this.lineNo };
      else this.quotedRow(line, this.lineNo);
      return;
    }
    this.row(line.split(this.layout.delimiter), this.lineNo);
  }

  /** Field starts (and one past the end of the last field) of the row being read. */
  private starts = new Int32Array(0);

  /** A row without quotes, text[from, to): split in place. */
  private plainRow(text: string, from: number, to: number): void {
    const l = this.layout!;
    if (this.starts.length !== l.count + 1) this.starts = new Int32Array(l.count + 1);
    const at = this.starts;
    let p = from;
    let n = 0;
    for (; n < l.count; n++) {
      at[n] = p;
      const d = text.indexOf(l.delimiter, p);
      if (d < 0 || d >= to) {
        n++;
        break;
      }
      p = d + 1;
    }
    const line = this.lineNo;
    if (n !== l.count || (n === l.count && at[n - 1]! !== p)) {
      // Fewer fields, or a delimiter after the last one: count them as split would.
      return this.row(text.slice(from, to).split(l.delimiter), line);
    }
    at[n] = to + 1;
    const field = (i: number): string => text.slice(at[i]!, at[i + 1]! - 1);
    const ts = digitsAt(text, at[l.ts]!, at[l.ts + 1]! - 1);
    const elapsed = digitsAt(text, at[l.elapsed]!, at[l.elapsed + 1]! - 1);
    const okFrom = at[l.success]!;
    const okLen = at[l.success + 1]! - 1 - okFrom;
    const success = okLen === 4 && text.startsWith('true', okFrom);
    if (ts < 0 || elapsed < 0 || (!success && !(okLen === 5 && text.startsWith('false', okFrom)))) return this.row(text.slice(from, to).split(l.delimiter), line);
    const s = this.s;
    s.line = line;
    s.ts = ts;
    s.elapsed = elapsed;
    s.success = success;
    if (success) s.responseCode = s.responseMessage = s.failureMessage = '';
    else {
      s.responseCode = l.responseCode >= 0 ? field(l.responseCode) : '';
      s.responseMessage = l.responseMessage >= 0 ? field(l.responseMessage) : '';
      s.failureMessage = l.failureMessage >= 0 ? field(l.failureMessage) : '';
    }
    if (l.url < 0) s.url = null;
    else {
      const u0 = at[l.url]!;
      const uLen = at[l.url + 1]! - 1 - u0;
      // Most rows repeat the previous row's URL: no new string for them.
      const last = this.lastUrl;
      s.url = last !== null && last.length === uLen && text.startsWith(last, u0) ? last : (this.lastUrl = text.slice(u0, u0 + uLen));
    }
    s.latency = l.latency >= 0 ? Math.max(0, digitsAt(text, at[l.latency]!, at[l.latency + 1]! - 1)) : 0;
    s.connect = l.connect >= 0 ? Math.max(0, digitsAt(text, at[l.connect]!, at[l.connect + 1]! - 1)) : 0;
    s.allThreads = l.allThreads >= 0 ? Math.max(0, digitsAt(text, at[l.allThreads]!, at[l.allThreads + 1]! - 1)) : 0;
    this.sink.sample(s);
  }

  private lastUrl: string | null = null;

  private quotedRow(text: string, line: number): void {
    let rows: string[][];
    try {
      rows = parseCsv(text, { delimiter: this.layout!.delimiter, relax_column_count: true, relax_quotes: true }) as string[][];
    } catch (err) {
      this.sink.bad(line, `unreadable quoting: ${(err as Error).message.split('\n')[0]}`);
      return;
    }
    if (rows.length !== 1) this.sink.bad(line, `expected one row, read ${rows.length}`);
    else this.row(rows[0]!, line);
  }

  private row(f: string[], line: number): void {
    const l = this.layout!;
    if (f.length !== l.count) {
      this.sink.bad(line, `${f.length} fields, the header has ${l.count}`);
      return;
    }
    const ts = f[l.ts]!;
    const elapsed = f[l.elapsed]!;
    const ok = f[l.success]!;
    if (!DIGITS.test(ts)) return this.sink.bad(line, `timeStamp ${JSON.stringify(ts.slice(0, 40))} is not epoch milliseconds (jmeter.save.saveservice.timestamp_format=ms)`);
    if (!DIGITS.test(elapsed)) return this.sink.bad(line, `elapsed ${JSON.stringify(elapsed.slice(0, 40))} is not a number of milliseconds`);
    if (ok !== 'true' && ok !== 'false') return this.sink.bad(line, `success ${JSON.stringify(ok.slice(0, 40))} is neither true nor false`);
    const s = this.s;
    s.line = line;
    s.ts = +ts;
    s.elapsed = +elapsed;
    s.success = ok === 'true';
    if (s.success) {
      s.responseCode = s.responseMessage = s.failureMessage = '';
    } else {
      s.responseCode = l.responseCode >= 0 ? f[l.responseCode]! : '';
      s.responseMessage = l.responseMessage >= 0 ? f[l.responseMessage]! : '';
      s.failureMessage = l.failureMessage >= 0 ? f[l.failureMessage]! : '';
    }
    s.url = l.url >= 0 ? f[l.url]! : null;
    s.latency = l.latency >= 0 ? +f[l.latency]! || 0 : 0;
    s.connect = l.connect >= 0 ? +f[l.connect]! || 0 : 0;
    s.allThreads = l.allThreads >= 0 ? +f[l.allThreads]! || 0 : 0;
    this.sink.sample(s);
  }
}

/** The non-negative integer written in text[from, to), or -1 when it is not one (empty, a sign, a point, anything else). */
function digitsAt(text: string, from: number, to: number): number {
  if (to <= from || to - from > 15) return -1;
  let v = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/** True when the text's quotes are balanced (every quoted field closed; `""` is an escaped quote). */
function quotesBalanced(text: string): boolean {
  let n = 0;
  for (let i = text.indexOf('"'); i >= 0; i = text.indexOf('"', i + 1)) n++;
  return n % 2 === 0;
}
