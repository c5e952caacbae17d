/**
 * The capacity model's onset for a lab topology's constrained host: the service of a `chain` (its
 * ports toward the backend, spent at the client's request rate and held in TIME_WAIT) or the router
 * of a `nat` (its translated ports, spent by the connections held open through it at once). Pure.
 */
import type { HostInfo, LabPrediction, LabTopologyInfo, RunRecord } from '../record/types.js';
import type { LoadGroup } from '../scenario/schema.js';
import { num, sec } from '../vocab/format.js';
import { portHold, predictOnset } from './capacity.js';
import { firstFailureAt } from './exhaustion.js';
import { plannedRate } from '../load/pacer.js';
import { upstreamFailures } from './diagnose-upstream.js';

/** Host facts when the service's own were not reported: Linux defaults (tcp_tw_reuse unknown). */
const UNKNOWN_LINUX: Pick<HostInfo, 'platform' | 'timeWaitS' | 'tcpTwReuse' | 'tcpTwReuseDelayMs' | 'tcpTimestamps'> = {
  platform: 'linux',
  timeWaitS: null,
  tcpTwReuse: null,
  tcpTwReuseDelayMs: null,
  tcpTimestamps: null,
};

/** Step of the concurrency scan, seconds. */
const STEP_S = 0.01;

/**
 * The lab's prediction: `chain` → the service, `nat` → the router; null for `single` (the client's
 * own model is `exhaustion.predictedAtS`) and for records without a topology.
 */
export function labPrediction(r: RunRecord): LabPrediction | null {
  const topo = r.lab?.topology;
  if (!topo) return null;
  if (topo.kind === 'chain') return chainPrediction(r, topo);
  if (topo.kind === 'nat') return natPrediction(r, topo);
  return null;
}

const round = (x: number | null): number | null => (x === null ? null : Math.round(x * 1000) / 1000);

/** The service: usable ports ÷ the client's request rate, each request one upstream connection held `holdS` after close. */
function chainPrediction(r: RunRecord, topo: LabTopologyInfo): LabPrediction | null {
  const lab = topo.hosts.find((h) => h.role === 'service' || h.role === 'proxy');
  if (!lab) return null;
  const watched = r.hosts?.[lab.name] ?? null;
  const range = lab.portRange ?? watched?.host?.portRange ?? null;
  const budget = watched?.host?.usablePorts ?? (range ? range[1] - range[0] + 1 : null);
  const hold = portHold(watched?.host ?? UNKNOWN_LINUX, false);
  const service = r.scenario.lab?.service;
  const first5xx = upstreamFailures(r).firstAtS;
  const base = { host: lab.name, holdS: hold.holdS, basis: 'rate' as const, observedAtS: round(first5xx) };
  if (budget === null) return { ...base, budget: 0, predictedAtS: null, reason: `the port range of ${lab.name} is unknown, so its budget and onset are unknown` };
  if (service?.upstreamReuse) {
    return {
      ...base,
      budget,
      predictedAtS: null,
      reason: `the built-in proxy reuses its upstream connections (upstreamReuse, a pool of ${num(service.upstreamPoolSize)}): a few ports stay open, so ${num(budget)} ports never run out`,
    };
  }
  if (service && service.upstreamClose !== 'client') {
    const why = service.upstreamClose === 'server' ? 'the backend closes first, so TIME_WAIT lands on the backend' : 'the proxy resets its upstream connections, so no TIME_WAIT is left';
    return { ...base, budget, holdS: 0, predictedAtS: null, reason: `upstreamClose: ${service.upstreamClose}: ${why} and a closed port of ${lab.name} is free at once` };
  }
  const perSecond: Array<[number, number]> = [...r.timeline].sort((a, b) => a.t - b.t).map((e) => [e.t, e.attempted]);
  const baseline = watched?.monitor.baseline?.ephemeralInUse ?? 0;
  const predicted = predictOnset(perSecond, budget, hold.holdS, baseline);
  const peak = Math.max(0, ...perSecond.map(([, n]) => n));
  const sustain = hold.holdS > 0 ? budget / hold.holdS : Infinity;
  const reason =
    `each client request opens one upstream connection from ${lab.name} (no upstream reuse); ${num(budget)} usable ports` +
    `${range ? ` (${range[0]}–${range[1]})` : ''}, each held ≈ ${sec(hold.holdS)} after close (${hold.reason}), sustain ≈ ${num(sustain)} connections/s` +
    `; the client sent up to ${num(peak)} requests/s`;
  return { ...base, budget, predictedAtS: round(predicted), reason };
}

/** The router: connections held open through it at once against ports × addresses per destination. */
function natPrediction(r: RunRecord, topo: LabTopologyInfo): LabPrediction | null {
  const nat = topo.nat;
  if (!nat) return null;
  const ports = nat.ports[1] - nat.ports[0] + 1;
  const addresses = Math.max(1, nat.addresses.length);
  const budget = ports * addresses;
  const lifetimeS = Math.max(0, r.latencyMs.p50) / 1000;
  const conn = r.scenario.connection;
  const groups = r.scenario.load;
  const held = (t: number): number => groups.reduce((a, g) => a + groupConcurrency(g, t, lifetimeS, conn.reuse, conn.poolSize), 0);
  const end = Math.max(r.durationS, ...groups.map(groupEnd));
  let predicted: number | null = null;
  for (let i = 0; i * STEP_S <= end; i++) {
    const t = i * STEP_S;
    if (held(t) > budget) {
      predicted = t;
      break;
    }
  }
  const peak = Math.max(0, ...Array.from({ length: Math.floor(end / STEP_S) + 1 }, (_, i) => held(i * STEP_S)));
  const timeouts = [firstFailureAt(r, 'CONNECT_TIMEOUT'), firstFailureAt(r, 'ETIMEDOUT', 'connect')].filter((t): t is number => t !== null);
  const load = groups.map((g) => (g.model === 'users' ? `${num(g.users)} users` : `${num(g.rate)} requests/s × ${sec(lifetimeS)} each`)).join(' + ');
  const reason =
    `${num(ports)} ports (${nat.ports[0]}–${nat.ports[1]}) × ${num(addresses)} address${addresses === 1 ? '' : 'es'} = ${num(budget)} connections per destination through ${nat.router}; ` +
    `a closed connection holds no port: Linux NAT reuses a tuple whose conntrack entry is in TIME_WAIT, so sequential short connections never run out and only connections open at once count; ` +
    `the load (${load}${conn.reuse ? ', kept alive' : ''}) holds up to ≈ ${num(Math.round(peak))} at once`;
  return {
    host: nat.router,
    budget,
    holdS: 0,
    basis: 'concurrency',
    predictedAtS: round(predicted),
    observedAtS: timeouts.length > 0 ? round(Math.min(...timeouts)) : null,
    reason,
  };
}

/** When a load group ends (its start, plus its duration when it has one). */
function groupEnd(g: LoadGroup): number {
  return g.startAfter + (g.duration ?? 0);
}

/**
 * Connections a load group holds open at time `t`: a user holds one while its request is in flight
 * (all the time with keep-alive or no think time); an arrival rate holds rate × lifetime (at most
 * the pool's size with keep-alive, which keeps them open).
 */
function groupConcurrency(g: LoadGroup, t: number, lifetimeS: number, reuse: boolean, poolSize: number): number {
  const since = t - g.startAfter;
  if (since < 0 || (g.duration !== undefined && since > g.duration)) return 0;
  if (g.model === 'users') {
    const active = Math.ceil(g.users * (g.rampUp > 0 ? Math.min(1, since / g.rampUp) : 1));
    const think = g.thinkTime + (g.thinkTimeRandom ?? 0) / 2;
    if (reuse || think <= 0 || lifetimeS <= 0) return active;
    return active * (lifetimeS / (lifetimeS + think));
  }
  const ramp = g.rampUp > 0 ? Math.min(1, since / g.rampUp) : 1;
  const start = g.startRate ?? g.rate;
  const rate = g.stages ? plannedRate(g, Math.min(since, g.duration - 1e-9)) : start + (g.rate - start) * ramp;
  const open = rate * lifetimeS;
  return reuse ? Math.min(poolSize, Math.max(1, Math.ceil(open))) : open;
}
