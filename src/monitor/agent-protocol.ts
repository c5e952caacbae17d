/**
 * What a monitor agent (`portstorm monitor --serve`) serves and what `monitor --out` writes: one
 * NDJSON shape for a live stream and a file, so a host reads the same whether it was watched during
 * the run (`run --watch`) or attached after it (`report --attach`).
 *
 * HTTP API (read-only; every request needs `Authorization: Bearer <token>` when the agent has one):
 * - `GET /stream`: a long-lived HTTP/1.1 response (chunked, `application/x-ndjson`): a `hello` line,
 *   then a `sample` line per sample as it is taken, `status` lines now and then, and a `heartbeat`
 *   line when nothing else was sent for HEARTBEAT_MS. One connection per reader, for the whole run.
 * - `GET /sample`: the latest full sample (`{time, sample}`), or 503 before the first one.
 * - `GET /health`: `AgentHealth` (the agent's clock: readers use it to estimate the clock offset).
 * - `GET /metrics`: Prometheus text format.
 * Every time is epoch milliseconds on the agent's clock.
 */
import type { HostInfo } from '../record/types.js';
import type { SamplerStatus } from './sampler.js';
import type { MonitorSample } from './types.js';

/** The agent's paths. */
export const AGENT_PATHS = { stream: '/stream', sample: '/sample', health: '/health', metrics: '/metrics' } as const;

/** The stream sends a heartbeat when it sent nothing else for this long. */
export const HEARTBEAT_MS = 1000;

/** The first line of a stream or a `monitor --out` file: who the host is and how it samples. */
export interface HelloLine {
  type: 'hello';
  /** The agent's clock when it wrote the line. */
  time: number;
  agent: { version: string; pid: number };
  /** The host's settings (port range, sysctls, limits). */
  host: HostInfo;
  intervalMs: number;
  scanIntervalMs: number;
}

/** One monitor sample (its `at` and its scan's on the agent's clock). */
export interface SampleLine {
  type: 'sample';
  sample: MonitorSample;
}

/** The sampler's view of its sources now and then (what it could not read, which source scans). */
export interface StatusLine {
  type: 'status';
  time: number;
  status: SamplerStatus;
}

/** Nothing else to say: the agent is alive and its clock reads `time`. */
export interface HeartbeatLine {
  type: 'heartbeat';
  time: number;
}

/** One NDJSON line of a stream or file. */
export type AgentLine = HelloLine | SampleLine | StatusLine | HeartbeatLine;

/** `GET /health`. */
export interface AgentHealth {
  ok: boolean;
  /** The agent's clock at the moment it answered. */
  time: number;
  version: string;
  /** Readers of /stream connected now, and the most it accepts. */
  readers: number;
  maxReaders: number;
  /** When the newest sample was taken (agent clock), or null before the first. */
  lastSampleAt: number | null;
}

/** One line of NDJSON, newline included. */
export function agentLine(line: AgentLine): string {
  return JSON.stringify(line) + '\n';
}
