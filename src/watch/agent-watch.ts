/**
 * One watched agent for the length of a run: its clock estimated before the load, its stream read
 * line by line into samples (on the agent's clock), a dropped or stalled stream reconnected a few
 * times, and every stretch without lines kept as an outage (those seconds stay null in the record).
 */
import type { Readable } from 'node:stream';
import type { Client } from 'undici';
import { epochMs, sleep } from '../load/clock.js';
import { MAX_LINE_BYTES, parseAgentLine } from '../monitor/agent-lines.js';
import { HEARTBEAT_MS, type HelloLine } from '../monitor/agent-protocol.js';
import type { HostIdentity } from '../monitor/host-fold.js';
import type { SamplerStatus } from '../monitor/sampler.js';
import { MAX_DESTINATIONS, type MonitorSample } from '../monitor/types.js';
import type { HostClock } from '../record/types.js';
import type { WatchedHostSpec } from '../scenario/watch.js';
import { agentClient, AgentFailure, failureReason, openStream, probeClock, type AgentAccess } from './agent-http.js';
import { LineSplitter } from './ndjson-lines.js';

/** Waits before each reconnect attempt of a lost stream (so at most this many attempts per loss). */
export const RECONNECT_DELAYS_MS: readonly number[] = [1000, 2000, 4000];
/**
 * Most samples kept per agent: 3.5 h at 4 samples a second; later ones are counted, not kept. Each
 * keeps at most MAX_DESTINATIONS destinations (the busiest), as a local scan does.
 */
export const MAX_AGENT_SAMPLES = 50_000;
/** How long the start waits for an agent's first scan (its pre-load baseline), as for the local monitor. */
const BASELINE_WAIT_MS = 2000;

/**
 * A stretch of the run without lines from the agent (local clock, epoch ms): `fromMs` null when it
 * was never reached at the start; `toMs` the first line after it, null when none came.
 */
export interface AgentOutage {
  fromMs: number | null;
  toMs: number | null;
  /** What happened: `unreachable at the start (cannot connect (ECONNREFUSED))`, `stalled (no line for 3 s)`, ... */
  cause: string;
  /** Reconnect attempts made, and why the last failed one did. */
  attempts: number;
  lastFailure: string | null;
  /** Every attempt failed. */
  gaveUp: boolean;
}

/** Everything kept about one agent as of now: what a checkpoint or the final record folds. */
export interface AgentSnapshot {
  name: string;
  identity: HostIdentity;
  /** On the agent's clock, in arrival order. */
  samples: MonitorSample[];
  status: SamplerStatus;
  /** The agent's sampling settings (its hello), else the run's. */
  intervalMs: number;
  scanIntervalMs: number;
  outages: AgentOutage[];
  /** Lines dropped (did not parse, or too long) and the first one's problem; samples past MAX_AGENT_SAMPLES. */
  droppedLines: number;
  firstDropped: string | null;
  samplesPastCap: number;
  /** Other things worth telling (the agent restarted mid-run). */
  notes: string[];
}

/** What the progress line shows of a host: its busiest destination's port utilization, its TIME_WAIT, or that it is down. */
export interface AgentLive {
  name: string;
  up: boolean;
  utilization: number | null;
  timeWait: number | null;
}

/** Resolves after `ms`, or as soon as `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** An estimate not made (the agent was never reached): no offset, uncertainty unknown. */
const NO_CLOCK: HostClock = { method: 'round-trip', offsetMs: 0, uncertaintyMs: null, probes: 0 };

/** One agent being watched. */
export class AgentWatch {
  private readonly client: Client;
  private clock: HostClock | null = null;
  private hello: HelloLine | null = null;
  private status: SamplerStatus | null = null;
  private readonly samples: MonitorSample[] = [];
  private latest: MonitorSample | null = null;
  private latestScan: MonitorSample | null = null;
  private scanTried = false;
  private readonly outages: AgentOutage[] = [];
  private open: AgentOutage | null = null;
  private streaming = false;
  private lastLineMs: number | null = null;
  private droppedLines = 0;
  private firstDropped: string | null = null;
  private samplesPastCap = 0;
  private readonly notes: string[] = [];
  private loadStartMs = Infinity;
  private stopped = false;
  private readonly stopping = new AbortController();
  private reconnecting: Promise<void> | null = null;

  constructor(
    readonly name: string,
    readonly spec: WatchedHostSpec,
    private readonly access: AgentAccess,
    private readonly fallback: { intervalMs: number; scanIntervalMs: number },
  ) {
    this.client = agentClient(spec.url, access);
  }

  /**
   * Estimates the clock and opens the stream. An agent that cannot be used throws AgentFailure,
   * unless it is optional and merely unreachable: then it is recorded as out from the start and
   * tried again a few times. A refused token always throws.
   */
  async start(): Promise<void> {
    try {
      await this.connect();
    } catch (err) {
      const failure = err instanceof AgentFailure ? err : new AgentFailure(failureReason(err), 'unreachable');
      if (!this.spec.optional || failure.kind === 'auth') throw failure;
      this.open = { fromMs: null, toMs: null, cause: `unreachable at the start (${failure.reason})`, attempts: 0, lastFailure: null, gaveUp: false };
      this.outages.push(this.open);
      this.reconnecting = this.reconnect(this.open);
    }
  }

  /** Resolves once the agent sent its first scan (or said it cannot scan), at most BASELINE_WAIT_MS. */
  async baseline(): Promise<void> {
    for (let waited = 0; this.streaming && !this.scanTried && waited < BASELINE_WAIT_MS && !this.stopped; waited += 10) await sleep(10);
  }

  /** The load starts at `localMs`: scans from then on drop their TIME_WAIT time-left detail (only the baseline needs it). */
  loadStarted(localMs: number): void {
    this.loadStartMs = localMs;
  }

  /** Where the host is now, for the progress line. */
  live(): AgentLive {
    const scan = this.latestScan?.scan ?? null;
    const utilization = scan ? scan.destinations.reduce<number | null>((m, d) => (d.utilization === null ? m : Math.max(m ?? 0, d.utilization)), null) : null;
    return { name: this.name, up: this.streaming && this.open === null, utilization, timeWait: this.latest?.sockstat?.timeWait ?? scan?.states.timeWait ?? null };
  }

  /** Everything kept so far (copies of the lists; the samples themselves are shared, not changed by folding). */
  snapshot(): AgentSnapshot {
    const hello = this.hello;
    const intervalMs = hello?.intervalMs ?? this.fallback.intervalMs;
    const scanIntervalMs = hello?.scanIntervalMs ?? this.fallback.scanIntervalMs;
    return {
      name: this.name,
      identity: { role: this.spec.role, address: this.spec.url, source: 'agent', clock: this.clock ?? NO_CLOCK, host: hello?.host ?? null },
      samples: [...this.samples],
      status: this.status ?? { source: this.latestScan?.scan?.source ?? null, unavailable: {}, effectiveScanIntervalMs: scanIntervalMs },
      intervalMs,
      scanIntervalMs,
      outages: this.outages.map((o) => ({ ...o })),
      droppedLines: this.droppedLines,
      firstDropped: this.firstDropped,
      samplesPastCap: this.samplesPastCap,
      notes: [...this.notes],
    };
  }

  /**
   * Stops watching: first waits (at most one sample interval and a second) for a sample taken at
   * or after `endLocalMs`, so the run's last second has the agent's figures too.
   */
  async stop(endLocalMs: number): Promise<void> {
    const offset = this.clock?.offsetMs ?? 0;
    const limit = (this.hello?.intervalMs ?? this.fallback.intervalMs) + 1000;
    for (let waited = 0; this.streaming && this.open === null && (this.latest?.at ?? -Infinity) - offset < endLocalMs && waited < limit; waited += 10) await sleep(10);
    // A stream silent for longer than two heartbeats when the run ends was stalling: told as such,
    // though STALL_MS had not passed yet.
    const silentMs = this.lastLineMs === null ? 0 : epochMs() - this.lastLineMs;
    if (this.streaming && this.open === null && silentMs > 2 * HEARTBEAT_MS) {
      this.outages.push({ fromMs: this.lastLineMs, toMs: null, cause: `stalled (no line for ${(silentMs / 1000).toFixed(1)} s when the run ended)`, attempts: 0, lastFailure: null, gaveUp: false });
    }
    this.stopped = true;
    this.stopping.abort();
    await this.client.destroy().catch(() => undefined);
    await this.reconnecting;
  }

  /** The clock estimate (when not made yet), then the stream, read until it ends. */
  private async connect(): Promise<void> {
    if (this.clock === null) this.clock = await probeClock(this.client, this.access);
    const body = await openStream(this.client, this.access);
    if (this.stopped) {
      body.destroy();
      return;
    }
    this.streaming = true;
    void this.read(body);
  }

  private async read(body: Readable): Promise<void> {
    const lines = new LineSplitter(MAX_LINE_BYTES);
    let why: string;
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        const before = lines.oversized;
        for (const text of lines.push(chunk)) this.line(text);
        if (lines.oversized > before) this.drop(`agent ${this.name}: a line of more than ${MAX_LINE_BYTES} bytes`, lines.oversized - before);
      }
      why = 'the agent ended its stream';
    } catch (err) {
      why = failureReason(err);
    }
    this.streaming = false;
    if (this.stopped) return;
    if (this.open) {
      // Reconnected, and lost again before a line came: the same outage, its attempts go on.
      this.open.lastFailure = why;
    } else {
      this.open = { fromMs: this.lastLineMs ?? epochMs(), toMs: null, cause: why, attempts: 0, lastFailure: null, gaveUp: false };
      this.outages.push(this.open);
    }
    this.reconnecting = this.reconnect(this.open);
  }

  /**
   * The outage's remaining reconnect attempts (RECONNECT_DELAYS_MS, at most that many per outage);
   * the outage closes with the first line that follows.
   */
  private async reconnect(outage: AgentOutage): Promise<void> {
    for (let i = outage.attempts; i < RECONNECT_DELAYS_MS.length; i++) {
      await pause(RECONNECT_DELAYS_MS[i]!, this.stopping.signal);
      if (this.stopped) return;
      outage.attempts++;
      try {
        await this.connect();
        return;
      } catch (err) {
        // Stopping destroys the client under an attempt: that is no failure of the agent's.
        if (this.stopped) return;
        outage.lastFailure = failureReason(err);
      }
    }
    outage.gaveUp = true;
  }

  private drop(problem: string, n = 1): void {
    this.droppedLines += n;
    this.firstDropped ??= problem;
  }

  private line(text: string): void {
    const now = epochMs();
    this.lastLineMs = now;
    if (this.open) {
      this.open.toMs = now;
      this.open = null;
    }
    const parsed = parseAgentLine(text, `agent ${this.name}`);
    if (!parsed.ok) return this.drop(parsed.problem);
    const line = parsed.line;
    switch (line.type) {
      case 'hello':
        if (this.hello && this.hello.agent.pid !== line.agent.pid) this.notes.push(`the agent restarted (pid ${this.hello.agent.pid} → ${line.agent.pid})`);
        this.hello = line;
        return;
      case 'status':
        this.status = line.status;
        return;
      case 'heartbeat':
        return;
      case 'sample':
        return this.sample(line.sample, now);
    }
  }

  private sample(s: MonitorSample, arrivedMs: number): void {
    if (s.scan !== null || s.missing?.scan !== undefined) this.scanTried = true;
    // The load start on the agent's clock; without an estimate yet, what arrives after the start is of the load.
    const during = this.clock ? (s.scan?.at ?? s.at) - this.clock.offsetMs >= this.loadStartMs : arrivedMs >= this.loadStartMs;
    if (s.scan && s.scan.destinations.length > MAX_DESTINATIONS) s.scan.destinations = s.scan.destinations.sort((a, b) => b.inUse - a.inUse).slice(0, MAX_DESTINATIONS);
    if (s.scan && during) for (const d of s.scan.destinations) d.timeWaitLeft = null;
    if (s.scan) this.latestScan = s;
    this.latest = s;
    if (this.samples.length >= MAX_AGENT_SAMPLES) {
      this.samplesPastCap++;
      return;
    }
    this.samples.push(s);
  }
}
