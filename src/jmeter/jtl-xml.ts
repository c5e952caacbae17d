/**
 * JMeter's XML results (`<testResults>` of `<httpSample>` / `<sample>` elements), streamed through
 * saxes. Only the top-level samples count, as in CSV: a transaction's or a redirect's sub-samples
 * are inside their parent. A file that stops after whole samples but before `</testResults>` (JMeter
 * killed mid-test) is read; one that stops inside a sample is truncated.
 */
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { UsageError } from '../errors.js';
import type { JtlSample, JtlSink } from './jtl-sample.js';

const SAMPLE_TAGS = new Set(['httpSample', 'sample']);
const DIGITS = /^\d+$/;

/** Reads JTL XML text chunk by chunk (`push`), handing samples to the sink; `end` at the end of the file. */
export class JtlXmlParser {
  private readonly parser = new SaxesParser({ position: true });
  private depth = 0;
  private current: JtlSample | null = null;
  /** Inside the current sample: the element whose text is wanted (`java.net.URL`, `failureMessage`). */
  private textOf: 'url' | 'failure' | null = null;
  private text = '';
  private error: string | null = null;
  private errorLine = 0;
  /** True once `</testResults>` was read. */
  closed = false;

  constructor(
    private readonly label: string,
    private readonly sink: JtlSink,
  ) {
    const p = this.parser;
    p.on('error', (err) => {
      if (this.error === null) {
        this.error = err.message.replace(/^[^:]*:\d+:\d+: /, '');
        this.errorLine = p.line;
      }
    });
    p.on('opentag', (tag) => this.open(tag as SaxesTagPlain));
    p.on('closetag', (tag) => this.close(tag.name));
    p.on('text', (t) => {
      if (this.textOf) this.text += t;
    });
  }

  private open(tag: SaxesTagPlain): void {
    this.depth++;
    if (this.depth === 1) {
      if (tag.name !== 'testResults') throw new UsageError(`${this.label}:${this.parser.line}: not a JMeter results file: the XML's root is <${tag.name}>, expected <testResults>`);
      return;
    }
    if (this.depth === 2) {
      if (!SAMPLE_TAGS.has(tag.name)) return;
      const a = tag.attributes;
      const line = this.parser.line;
      const ts = a.ts ?? '';
      const t = a.t ?? '';
      const s = a.s ?? '';
      if (!DIGITS.test(ts) || !DIGITS.test(t) || (s !== 'true' && s !== 'false')) {
        const what = !DIGITS.test(ts) ? `ts="${ts.slice(0, 40)}"` : !DIGITS.test(t) ? `t="${t.slice(0, 40)}"` : `s="${s.slice(0, 40)}"`;
        this.sink.bad(line, `<${tag.name}> without a usable ${what}`);
        return;
      }
      this.current = {
        line,
        ts: +ts,
        elapsed: +t,
        success: s === 'true',
        responseCode: a.rc ?? '',
        responseMessage: a.rm ?? '',
        failureMessage: '',
        url: null,
        latency: +(a.lt ?? 0) || 0,
        connect: +(a.ct ?? 0) || 0,
        allThreads: +(a.na ?? 0) || 0,
      };
      return;
    }
    if (!this.current) return;
    if (this.depth === 3 && tag.name === 'java.net.URL') this.want('url');
    else if (tag.name === 'failureMessage' && this.current.failureMessage === '') this.want('failure');
  }

  private want(what: 'url' | 'failure'): void {
    this.textOf = what;
    this.text = '';
  }

  private close(name: string): void {
    if (this.textOf && this.current) {
      if (this.textOf === 'url') this.current.url = this.text.trim();
      else this.current.failureMessage = this.text.trim();
      this.textOf = null;
    }
    if (this.depth === 2 && this.current && SAMPLE_TAGS.has(name)) {
      this.sink.sample(this.current);
      this.current = null;
    }
    if (this.depth === 1) this.closed = true;
    this.depth--;
  }

  /** Takes the next chunk of the file's text. */
  push(chunk: string): void {
    this.parser.write(chunk);
    this.check();
  }

  /** The end of the file: one that stops inside a sample is truncated (UsageError naming the sample's line). */
  end(): void {
    if (this.depth >= 2) {
      const line = this.current?.line ?? this.parser.line;
      throw new UsageError(`${this.label}:${line}: truncated last sample: the file ends inside it`);
    }
    if (this.depth === 0 && !this.closed) throw new UsageError(`${this.label}:1: not a JMeter results file: no <testResults> element`);
    if (this.closed) this.parser.close();
    this.check();
  }

  private check(): void {
    if (this.error !== null) throw new UsageError(`${this.label}:${this.errorLine}: not well-formed XML: ${this.error}`);
  }
}
