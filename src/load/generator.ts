/**
 * One shard of a scenario's load, run in one thread: open-model groups fire on their arrival
 * schedule and never wait for responses; closed-model groups loop their users. Every outcome lands
 * in a one-second bucket; finished seconds are shipped to the sink as deltas.
 */
import type { LoadWireBucket } from '../record/accumulator.js';
import { newBucket, countCompletion, countFailure, toWire, type Bucket } from '../record/bucket.js';
import { recordMs } from '../record/histogram.js';
import { RequestLog } from '../record/request-log.js';
import type { Phase } from '../record/types.js';
import type { ArrivalRateGroup, Scenario, UsersGroup } from '../scenario/schema.js';
import { syscallKey } from '../vocab/failure.js';
import { runClock, sleep, type RunClock } from './clock.js';
import { arrivalSchedule, userStartOffset } from './pacer.js';
import { shareOf, type Shard } from './shard.js';
import { createTransport } from './transport/index.js';
import type { TlsClientOptions, Transport } from './transport/types.js';


/** The first failure of each code and syscall, kept with its detail. */
export interface ErrorSample {
  code: string;
  phase: Phase;
  message: string;
  t: number;
  localPort: number | null;
  /** The failing syscall where the transport knew it. */
  syscall?: string;
}

/** Where a generator ships its observations. */
export interface GeneratorSink {
  buckets(buckets: LoadWireBucket[]): void;
  sample(sample: ErrorSample): void;
}

/** What a generator needs: the resolved scenario, the resolved target address, its shard. */
export interface GeneratorConfig {
  scenario: Scenario;
  host: string;
  port: number;
  /** host:port as the target URL names it (the HTTP Host header). */
  authority: string;
  /** TLS client settings (HTTPS), or null. */
  tls: TlsClientOptions | null;
  /** `dns: per-connection`: the name every new connection looks up; else null. */
  lookupName: string | null;
  /** The stripe this thread runs: the process's shard composed with its worker's (see composeShard). */
  shard: Shard;
  /** Where to write this shard's per-request NDJSON log, if at all. */
  requestLogFile: string | null;
}

/** How often buckets are shipped; the main thread's view lags by at most this. */
export const FLUSH_MS = 500;
const round3 = (x: number): number => Math.round(x * 1000) / 1000;
const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;
const BATCH_BEFORE_YIELD = 256;
/** Requests users may start in one turn of the event loop before they yield it. */
const SPIN_LIMIT = 256;
/** Past limits.maxDuration, in-flight requests get this long to finish before they are aborted. */
export const CAP_GRACE_MS = 2000;
/** setTimeout's longest delay; a cap further away needs no timer. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/**
 * How far ahead arrivals are handed to a transport that starts them at their time itself (the
 * native engine), and how often this thread wakes to hand them over: its timers and GC pauses
 * shorter than the difference do not delay a start.
 */
export const SCHEDULE_AHEAD_MS = 50;
const SCHEDULE_PERIOD_MS = 10;

/** Generates one shard of load. */
export class LoadGenerator {
  private clock: RunClock = runClock(0);
  private readonly transport: Transport;
  private readonly buckets = new Map<number, Bucket>();
  /** Failures by `syscall:CODE` of each bucket's second, shipped with it. */
  private readonly bySyscall = new Map<number, Record<string, number>>();
  private readonly sampled = new Set<string>();
  private startsThisTurn = 0;
  private turnMark: NodeJS.Immediate | null = null;
  private readonly requestCap: number;
  private readonly log: RequestLog | null;
  private readonly endS: number;
  private attempted = 0;
  private inFlight = 0;
  private stopped = false;
  private drained: (() => void) | null = null;

  /** `transport` replaces the scenario's (tests drive the pacing with a fake one). */
  constructor(
    private readonly cfg: GeneratorConfig,
    private readonly sink: GeneratorSink,
    transport?: Transport,
  ) {
    const s = cfg.scenario;
    this.requestCap = shareOf(s.limits.maxRequests, cfg.shard);
    this.endS = s.limits.maxDuration;
    this.log = cfg.requestLogFile ? new RequestLog(cfg.requestLogFile) : null;
    this.transport = transport ?? createTransport(s.protocol, s.connection.reuse, {
      host: cfg.host,
      port: cfg.port,
      localAddresses: s.connection.localAddresses,
      close: s.connection.close,
      poolSize: Math.max(1, Math.ceil(s.connection.poolSize / cfg.shard.count)),
      connectTimeoutMs: s.timeouts.connect * 1000,
      requestTimeoutMs: s.timeouts.request * 1000,
      http: { ...s.request, path: s.request.path ?? '/', authority: cfg.authority },
      tcp: { payload: s.payload, expectBytes: s.expectBytes },
      scheduled: s.load.some((g) => g.model === 'arrival-rate'),
      tls: cfg.tls,
      lookupName: cfg.lookupName,
      onConnect: (connectMs) => {
        const b = this.bucketAt(this.clock.nowS());
        b.connectionsOpened++;
        recordMs(b.connect, connectMs);
      },
      onHandshake: (tlsMs, resumed) => {
        const b = this.bucketAt(this.clock.nowS());
        b.tlsHandshakes++;
        if (resumed) b.tlsResumed++;
        recordMs(b.tls, tlsMs);
      },
      onLookup: (dnsMs) => {
        const b = this.bucketAt(this.clock.nowS());
        b.dnsLookups++;
        recordMs(b.dns, dnsMs);
      },
    });
  }

  /**
   * Runs every group of the shard from `startEpochMs` (shared by all shards) to its end, drains
   * in-flight requests and ships the last buckets.
   */
  async run(startEpochMs: number): Promise<void> {
    this.clock = runClock(startEpochMs);
    const flusher = setInterval(() => this.flush(), FLUSH_MS);
    const capMs = (this.endS - this.clock.nowS()) * 1000 + CAP_GRACE_MS;
    const hardStop = capMs < MAX_TIMER_MS ? setTimeout(() => void this.abort(), Math.max(0, capMs)) : undefined;
    try {
      await Promise.all(
        this.cfg.scenario.load.map((g) => (g.model === 'arrival-rate' ? this.runArrivals(g) : this.runUsers(g))),
      );
      if (this.inFlight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
      await this.transport.close(false);
    } finally {
      clearTimeout(hardStop);
      clearInterval(flusher);
      this.flush();
      await this.log?.close();
    }
  }

  /**
   * Stops starting requests, including arrivals handed to the transport ahead of their time;
   * in-flight ones may still finish.
   */
  stop(): void {
    this.stopped = true;
    this.transport.cancelScheduled?.();
  }

  /** Aborts in-flight requests (they are recorded as ABORTED). */
  async abort(): Promise<void> {
    this.stopped = true;
    await this.transport.close(true);
  }

  private bucketAt(t: number): Bucket {
    const sec = Math.max(0, Math.floor(t));
    let b = this.buckets.get(sec);
    if (!b) {
      // Flat: recording is an array increment; a bucket lives at most FLUSH_MS before it is shipped.
      b = newBucket(sec, 'flat');
      this.buckets.set(sec, b);
    }
    return b;
  }

  /** Ships every bucket, the current second's too (deltas merge additively downstream). */
  private flush(): void {
    this.log?.flush();
    if (this.buckets.size === 0) return;
    const sourceStrategy = this.transport.sourceStrategy;
    this.sink.buckets(
      [...this.buckets.values()].map((b): LoadWireBucket => {
        const errorsBySyscall = this.bySyscall.get(b.t);
        return { ...toWire(b), ...(errorsBySyscall ? { errorsBySyscall } : {}), ...(sourceStrategy ? { sourceStrategy } : {}) };
      }),
    );
    this.buckets.clear();
    this.bySyscall.clear();
  }

  private canStart(): boolean {
    return !this.stopped && this.attempted < this.requestCap && this.clock.nowS() < this.endS;
  }

  /** Waits until run second `t`. */
  private async until(t: number): Promise<void> {
    for (;;) {
      const ms = (t - this.clock.nowS()) * 1000;
      if (ms <= 0 || this.stopped) return;
      await sleep(ms > 2 ? ms - 1 : 0);
    }
  }

  /** One request, intended at run second `intendedS`; with `notBefore`, the transport starts it then. */
  private async exchange(intendedS: number, notBefore?: number): Promise<void> {
    this.attempted++;
    this.inFlight++;
    this.bucketAt(intendedS).attempted++;
    const r = await this.transport.exchange(notBefore);
    this.inFlight--;
    if (r.notStarted) {
      // Handed over ahead of its time and cancelled by a stop: it never was an attempt.
      this.attempted--;
      this.bucketAt(intendedS).attempted--;
      if (this.inFlight === 0 && this.drained) this.drained();
      return;
    }
    const endS = this.clock.toS(r.endedAt);
    const b = this.bucketAt(endS);
    this.log?.add({
      t: round6(intendedS),
      start: round6(this.clock.toS(r.startedAt)),
      connectMs: r.connectMs === null ? null : round3(r.connectMs),
      ttfbMs: r.firstByteAt === null ? null : round3(r.firstByteAt - r.startedAt),
      ms: round3((endS - intendedS) * 1000),
      code: r.failure?.code ?? null,
      phase: r.failure?.phase ?? null,
      port: r.localPort,
    });
    if (r.failure) {
      countFailure(b, r.failure.code, r.failure.phase);
      const key = syscallKey(r.failure);
      if (key !== null) {
        let counts = this.bySyscall.get(b.t);
        if (!counts) this.bySyscall.set(b.t, (counts = {}));
        counts[key] = (counts[key] ?? 0) + 1;
      }
      const sampleKey = key ?? r.failure.code;
      if (!this.sampled.has(sampleKey)) {
        this.sampled.add(sampleKey);
        this.sink.sample({ ...r.failure, t: endS, localPort: r.localPort });
      }
    } else {
      const uncorrected = r.endedAt - r.startedAt;
      countCompletion(b, Math.max(uncorrected, (endS - intendedS) * 1000), uncorrected, (r.firstByteAt ?? r.endedAt) - r.startedAt);
    }
    if (this.inFlight === 0 && this.drained) this.drained();
  }

  /**
   * Walks the group's arrivals. On a transport that `schedules`, each is handed over up to
   * SCHEDULE_AHEAD_MS before it is due, with its time, and counts as in flight from then on;
   * otherwise it is started when due. Only an arrival that is due decides a drop: at maxInFlight,
   * the next one is not handed over early but waited for, and dropped if the group is still at the
   * limit then. Arrivals go in order, so every earlier one is due by then too, and the decision is
   * the one a start at the due time would make.
   */
  private async runArrivals(g: ArrivalRateGroup): Promise<void> {
    const schedule = arrivalSchedule(g);
    const { index, count } = this.cfg.shard;
    const maxInFlight = shareOf(g.maxInFlight, this.cfg.shard);
    const aheadS = this.transport.schedules ? SCHEDULE_AHEAD_MS / 1000 : 0;
    let groupInFlight = 0;
    let n = index;
    let burst = 0;
    while (this.canStart()) {
      const offset = schedule.at(n);
      if (offset === null) return;
      const due = g.startAfter + offset;
      const now = this.clock.nowS();
      const atLimit = groupInFlight >= maxInFlight;
      if (due >= this.endS || due - aheadS > now || (atLimit && due > now)) {
        burst = 0;
        if (aheadS > 0 && due < this.endS && !atLimit) {
          await sleep(Math.max(due - aheadS - now, SCHEDULE_PERIOD_MS / 1000) * 1000);
        } else await this.until(Math.min(due, this.endS));
        continue;
      }
      n += count;
      if (groupInFlight >= maxInFlight) {
        this.bucketAt(due).dropped++;
        continue;
      }
      groupInFlight++;
      void this.exchange(due, aheadS > 0 ? this.clock.toPerf(due) : undefined).finally(() => groupInFlight--);
      if (++burst >= BATCH_BEFORE_YIELD) {
        burst = 0;
        await sleep(0);
      }
    }
  }

  private async runUsers(g: UsersGroup): Promise<void> {
    const { index, count } = this.cfg.shard;
    const groupEnd = g.startAfter + (g.duration ?? this.endS);
    const users: Promise<void>[] = [];
    for (let i = index; i < g.users; i += count) {
      users.push(this.runUser(g, g.startAfter + userStartOffset(i, g.users, g.rampUp, g.rampSteps), groupEnd));
    }
    await Promise.all(users);
  }

  private async runUser(g: UsersGroup, startS: number, endS: number): Promise<void> {
    await this.until(Math.min(startS, this.endS));
    for (let it = 0; g.iterations === undefined || it < g.iterations; it++) {
      if (!this.canStart() || this.clock.nowS() >= endS) return;
      await this.exchange(this.clock.nowS());
      const think = g.thinkTime + (g.thinkTimeRandom ? Math.random() * g.thinkTimeRandom : 0);
      if (think > 0) await this.until(Math.min(this.clock.nowS() + think, this.endS));
      else await this.yieldIfSpinning();
    }
  }

  /**
   * Lets the event loop turn when users keep starting requests without it: a request that fails at
   * once (EMFILE, EADDRNOTAVAIL) settles in a microtask, and a user loop of those would otherwise
   * starve the flush timer, the stop signal and the hard cap.
   */
  private async yieldIfSpinning(): Promise<void> {
    if (++this.startsThisTurn < SPIN_LIMIT) {
      this.turnMark ??= setImmediate(() => {
        this.startsThisTurn = 0;
        this.turnMark = null;
      });
      return;
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
