/**
 * The run record (`run.json`, schema 1): the one typed document every stage reads and writes.
 * Times are seconds since the run started; latencies are milliseconds.
 */
import type { Scenario } from '../scenario/schema.js';

/** Current run-record schema version. */
export const RUN_SCHEMA = 1;

/** Where a request failed. */
export type Phase = 'connect' | 'send' | 'response';

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
  count: number;
}

/** One second of the run. `attempted` counts by start time, the rest by completion time. */
export interface TimelineEntry {
  t: number;
  attempted: number;
  completed: number;
  failed: number;
  dropped: number;
  errors: Record<string, number>;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  connectMs: { p50: number; p99: number };
  connectionsOpened: number;
}

/** Facts about the machine the run was made on. */
export interface HostInfo {
  platform: string;
  kernel: string;
  node: string;
  cpus: number;
  portRange: [number, number] | null;
}

/**
 * Connection counters. Every closed connection is counted once in exactly one of closedByServer,
 * closedByClient and resetByClient, so `connectionsAccepted = open + closedByServer + closedByClient
 * + resetByClient`.
 */
export interface TargetStats {
  connectionsAccepted: number;
  /** HTTP requests received, or TCP chunks received (each is echoed). */
  requests: number;
  /** The server ended the connection (end() or destroy()) before the client's FIN arrived. */
  closedByServer: number;
  /** The client's FIN arrived while the server had not ended its side. */
  closedByClient: number;
  /** The socket errored with ECONNRESET (the client sent RST, e.g. resetAndDestroy()). */
  resetByClient: number;
  /** Connections currently open. */
  open: number;
}

/** Totals over the whole run. */
export interface Totals {
  attempted: number;
  completed: number;
  failed: number;
  dropped: number;
  connectionsOpened: number;
}

/** Result of one threshold expression evaluated on the record. */
export interface ThresholdResult {
  expr: string;
  actual: number | null;
  passed: boolean;
}

/** The whole run record. */
export interface RunRecord {
  schema: typeof RUN_SCHEMA;
  portstormVersion: string;
  runId: string;
  label: string | null;
  scenario: Scenario;
  /** The target; `stats` are the built-in target's own counters (null for other targets). */
  target: { url: string; builtin: boolean; stats: TargetStats | null };
  startedAt: string;
  durationS: number;
  /** `completed`, or why it ended early. */
  status: 'completed' | 'interrupted' | 'failed';
  host: HostInfo;
  workers: number;
  totals: Totals;
  errors: Record<string, number>;
  /** Failures by `phase:CODE`, e.g. `connect:EADDRNOTAVAIL`. */
  errorsByPhase: Record<string, number>;
  latencyMs: LatencySummary;
  latencyUncorrectedMs: LatencySummary;
  connectMs: LatencySummary;
  ttfbMs: LatencySummary;
  histograms: { latency: string; latencyUncorrected: string; connect: string; ttfb: string };
  timeline: TimelineEntry[];
  thresholds: ThresholdResult[];
  /** Per-request NDJSON logs next to run.json (`--log-requests`), or null. */
  requestLogs: string[] | null;
  /** A few sample failures (first of each code) with detail, for debugging. */
  errorSamples: Array<{ code: string; phase: Phase; message: string; t: number; localPort: number | null }>;
}
