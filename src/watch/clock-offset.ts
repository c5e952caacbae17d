/**
 * The clock offset of a watched host, estimated NTP-style from round trips: for one request sent
 * at `sentMs` and answered at `receivedMs` (this machine's clock) with the agent's clock reading
 * `agentMs` taken in between, the agent's clock is `agentMs − (sentMs + receivedMs)/2` ahead, within
 * half the round trip. The round trip with the smallest RTT bounds it best. Pure.
 */
import type { HostClock } from '../record/types.js';

/** One `GET /health` round trip. */
export interface ClockProbe {
  /** This machine's clock (epoch ms) when the request was sent, and when the answer arrived. */
  sentMs: number;
  receivedMs: number;
  /** The agent's clock (epoch ms) in its answer. */
  agentMs: number;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * The offset (agent time − local time) and its uncertainty from the probe with the smallest round
 * trip; null without a usable probe (none, or only ones whose answer came before the request left).
 */
export function clockFromProbes(probes: readonly ClockProbe[]): HostClock | null {
  let best: ClockProbe | null = null;
  for (const p of probes) {
    if (!Number.isFinite(p.sentMs) || !Number.isFinite(p.receivedMs) || !Number.isFinite(p.agentMs) || p.receivedMs < p.sentMs) continue;
    if (best === null || p.receivedMs - p.sentMs < best.receivedMs - best.sentMs) best = p;
  }
  if (best === null) return null;
  const rtt = best.receivedMs - best.sentMs;
  return { method: 'round-trip', offsetMs: round3(best.agentMs - (best.sentMs + best.receivedMs) / 2), uncertaintyMs: round3(rtt / 2), probes: probes.length };
}
