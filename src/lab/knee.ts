/**
 * `portstorm lab --find-knee`: the highest new-connection rate that runs a scenario's duration
 * without exhaustion errors, found by doubling then bisecting over fresh lab runs, beside what the
 * capacity model (DOMAIN.md) predicts for the namespace's port budget.
 */
import { LINUX_TIME_WAIT_S, portBudget, portHold } from '../analysis/capacity.js';
import { parsePortRange, parseReservedPorts } from '../monitor/host.js';
import { usablePorts } from '../monitor/aggregate.js';
import type { SourceStrategy } from '../record/types.js';
import type { Scenario } from '../scenario/schema.js';
import { LAB_DEFAULT_PORT_RANGE } from '../scenario/sysctls.js';

/** One probe: a full lab run at `rate`. */
export interface KneeProbe {
  rate: number;
  /** Exhaustion-signal failures (EADDRNOTAVAIL and the connect-time spellings). */
  exhaustionErrors: number;
  /** When the first one came, seconds from the start; null if none. */
  firstAtS: number | null;
  completed: number;
  /** The probe's run.json. */
  file: string;
}

/** How the search goes. */
export interface KneeSearch {
  /** The first rate probed (the scenario's). */
  start: number;
  /** Stop once the failing and passing rates are this close, relative to the failing one. */
  tolerance: number;
  maxProbes: number;
  /** Never probe above this rate. */
  maxRate: number;
}

/** What `--find-knee` found. */
export interface KneeResult {
  /** The highest probed rate without exhaustion errors; null if every probe failed. */
  knee: number | null;
  /** The lowest probed rate with exhaustion errors; null if none failed (the knee is above maxRate). */
  firstFailing: number | null;
  /** The model's highest safe rate for this duration and port budget; null when ports do not bound it. */
  predicted: number | null;
  usablePorts: number;
  durationS: number;
  probes: KneeProbe[];
}

/**
 * Searches for the knee: doubles from `start` until a probe fails (or `maxRate`), then bisects
 * between the highest passing and lowest failing rates. Rates are whole numbers per second.
 */
export async function searchKnee(search: KneeSearch, probe: (rate: number) => Promise<KneeProbe>): Promise<Pick<KneeResult, 'knee' | 'firstFailing' | 'probes'>> {
  const probes: KneeProbe[] = [];
  let pass: number | null = null;
  let fail: number | null = null;
  let rate = Math.max(1, Math.round(Math.min(search.start, search.maxRate)));
  while (probes.length < search.maxProbes) {
    const p = await probe(rate);
    probes.push(p);
    if (p.exhaustionErrors === 0) pass = Math.max(pass ?? 0, rate);
    else fail = Math.min(fail ?? Infinity, rate);
    let next: number;
    if (fail === null) {
      if (rate >= search.maxRate) break;
      next = Math.min(search.maxRate, rate * 2);
    } else {
      const lo = pass ?? 0;
      if (fail - lo <= Math.max(1, search.tolerance * fail)) break;
      next = Math.round((lo + fail) / 2);
    }
    if (next === rate || probes.some((q) => q.rate === next) || next < 1) break;
    rate = next;
  }
  return { knee: pass, firstFailing: fail, probes };
}

/** Usable ports of a lab namespace: its range minus the reserved ports inside it. */
export function labUsablePorts(sysctls: Record<string, string>): number {
  const range = parsePortRange(sysctls['net.ipv4.ip_local_port_range'] ?? LAB_DEFAULT_PORT_RANGE)!;
  return usablePorts(range, parseReservedPorts(sysctls['net.ipv4.ip_local_reserved_ports'] ?? '') ?? []);
}

/** A lab sysctl as a number, or `fallback` when the lab did not set it (the namespace keeps the kernel default). */
function sysctlNumber(sysctls: Record<string, string>, key: string, fallback: number | null): number | null {
  const v = sysctls[key];
  if (v === undefined) return fallback;
  const n = Number(v.trim());
  return Number.isFinite(n) ? n : fallback;
}

/**
 * The model's highest new-connection rate that lasts `durationS` without a failed connect: a port is
 * held for the capacity model's hold (src/analysis/capacity.ts: 60 s, or tcp_tw_reuse_delay with
 * tcp_tw_reuse=1 and timestamps on; the lab's addresses are not loopback, so tcp_tw_reuse=2 does not
 * shorten it), so the budget lasts `budget / rate` seconds, and rates up to `budget / hold` last for
 * ever. Null when the client holds no TIME_WAIT (keep-alive, RST close, server closes first).
 */
export function predictedKnee(scenario: Scenario, sysctls: Record<string, string>, durationS: number, strategy?: SourceStrategy): number | null {
  const c = scenario.connection;
  if (c.reuse || c.close !== 'client') return null;
  const hold = portHold(
    {
      platform: 'linux',
      timeWaitS: LINUX_TIME_WAIT_S,
      tcpTwReuse: sysctlNumber(sysctls, 'net.ipv4.tcp_tw_reuse', 2),
      tcpTwReuseDelayMs: sysctlNumber(sysctls, 'net.ipv4.tcp_tw_reuse_delay', null),
      tcpTimestamps: sysctlNumber(sysctls, 'net.ipv4.tcp_timestamps', 1),
    },
    false,
  );
  const budget = portBudget('linux', labUsablePorts(sysctls), strategy ?? (c.localAddresses.length > 0 ? 'bind' : 'kernel'), c.localAddresses.length, 1);
  return ((budget.ports ?? 0) * budget.pools) / Math.min(durationS, hold.holdS);
}

/** The scenario's single arrival-rate group, which `--find-knee` varies; null if it has another shape. */
export function kneeGroupIndex(scenario: Scenario): number | null {
  return scenario.load.length === 1 && scenario.load[0]!.model === 'arrival-rate' ? 0 : null;
}
