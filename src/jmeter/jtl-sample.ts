/** One JTL sample as the parsers hand it on (CSV and XML alike). */

/** A sample's fields portstorm reads. Times are milliseconds; `ts` is epoch ms. */
export interface JtlSample {
  /** The line it starts on (1-based), for messages. */
  line: number;
  /** JMeter's `timeStamp` / `ts`: the start (sampleresult.timestamp.start=true, as jmeter.properties ships it) or the end. */
  ts: number;
  elapsed: number;
  success: boolean;
  /** Read only for failures (empty strings otherwise). */
  responseCode: string;
  responseMessage: string;
  failureMessage: string;
  /** `URL` / `<java.net.URL>`, or null when not saved. */
  url: string | null;
  /** `Latency` (time to first byte), 0 when not saved. */
  latency: number;
  /** `Connect`, 0 when not saved or the connection was reused. */
  connect: number;
  /** `allThreads` / `na`, 0 when not saved. */
  allThreads: number;
}

/** Where parsers put what they read. The sample object may be reused after `sample` returns. */
export interface JtlSink {
  sample(s: JtlSample): void;
  /** A row that could not be read; `why` in a few words. */
  bad(line: number, why: string): void;
}
