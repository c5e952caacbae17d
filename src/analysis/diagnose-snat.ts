/**
 * `snat-port-exhaustion`: a NAT router (source NAT, masquerade) ran out of translated ports toward
 * one destination. Linux then fails the conntrack insertion and drops the SYN: the client sees
 * connect timeouts (no EADDRNOTAVAIL anywhere), the router counts insert_failed and drop, and its
 * conntrack table is nowhere near full. Pure.
 */
import type { HostSecond, LabNatInfo, Verdict } from '../record/types.js';
import { codeCount, type Facts, firstCounter, peakSockets, sumCounter } from './diagnose-facts.js';
import { CONNTRACK_COUNTERS } from './diagnose-other.js';
import { firstFailureAt } from './exhaustion.js';
import { capitalized, coverageCaveat, hostWords, secondsOf, weighedByCoverage } from './host-evidence.js';
import type { HostView } from './hosts.js';
import { num, pct, sec } from '../vocab/format.js';

/** The client failures a dropped SYN gives: the connect did not finish in time. */
const TIMEOUT_CODES = ['CONNECT_TIMEOUT', 'ETIMEDOUT'] as const;
/** A table at this share of nf_conntrack_max is full (`conntrack-full` speaks for it). */
const FULL = 0.95;
/** Client port utilization below which the client's own ports are not the cause. */
const CLIENT_LOW = 0.5;
/** AWS NAT Gateway: connections per destination (ip, port, protocol) per address. */
const AWS_PER_ADDRESS = 55_000;

/** The NAT the record's lab set up on `h`, when it did. */
export function natOf(f: Facts, h: HostView): LabNatInfo | null {
  const nat = f.r.lab?.topology?.nat ?? null;
  return nat && nat.router === h.name ? nat : null;
}

/** The fullest conntrack reading of a host over its seconds, else its monitor's peak. */
function conntrackPeak(h: HostView): { count: number; max: number } | null {
  let peak = h.monitor.peakConntrack;
  for (const e of h.timeline) if (e.conntrack && (peak === null || e.conntrack.count > peak.count)) peak = e.conntrack;
  return peak;
}

/** Whether the host's conntrack table was seen full (then `conntrack-full` holds, not this). */
export function conntrackTableFull(h: HostView): boolean {
  const peak = conntrackPeak(h);
  const max = peak && peak.max > 0 ? peak.max : (h.host?.conntrackMax ?? null);
  return peak !== null && max !== null && max > 0 && peak.count >= FULL * max;
}

/** The client's connect timeouts: total and first. */
function clientTimeouts(f: Facts): { n: number; firstAtS: number | null; codes: string } {
  const counts = TIMEOUT_CODES.map((c) => [c, codeCount(f.r, c)] as const).filter(([, n]) => n > 0);
  const firsts = TIMEOUT_CODES.map((c) => firstFailureAt(f.r, c, c === 'ETIMEDOUT' ? 'connect' : undefined)).filter((t): t is number => t !== null);
  return {
    n: counts.reduce((a, [, n]) => a + n, 0),
    firstAtS: firsts.length > 0 ? Math.min(...firsts) : null,
    codes: counts.map(([c, n]) => `${c} ${num(n)}`).join(', '),
  };
}

/**
 * `snat-port-exhaustion` on host `h`: a router (by role, or named by the lab's NAT), or any host whose
 * conntrack counters show failed insertions while the client timed out connecting, with insert_failed
 * or drop rising and its table short of full. Critical when the client's connections failed; a
 * warning when the drops were retried in time.
 */
export function snatPortExhaustion(f: Facts, h: HostView): Verdict | null {
  const nat = natOf(f, h);
  const seconds = secondsOf(h);
  const insertFailed = sumCounter(seconds, CONNTRACK_COUNTERS.insertFailed) ?? 0;
  const dropped = sumCounter(seconds, CONNTRACK_COUNTERS.drop) ?? 0;
  if (insertFailed + dropped <= 0 || conntrackTableFull(h)) return null;
  const timeouts = clientTimeouts(f);
  const router = nat !== null || h.role === 'router';
  if (!router && (insertFailed <= 0 || timeouts.n <= 0)) return null;
  const firstDrop = firstOf(seconds);
  const evidence = [capacitySentence(h, nat, seconds)];
  evidence.push(`${capitalized(hostWords(h))} failed ${num(insertFailed)} conntrack insertions (insert_failed) and dropped ${num(dropped)} packets (drop), first in the second from t = ${firstDrop} s: a NAT that finds no free source port for a new connection fails its insertion and drops the SYN.`);
  let confidence = 0.9;
  if (timeouts.n > 0) {
    evidence.push(`The client saw ${num(timeouts.n)} of ${num(f.finished)} requests (${pct(timeouts.n / Math.max(1, f.finished))}) time out connecting (${timeouts.codes})${timeouts.firstAtS === null ? '' : `, the first at ${sec(timeouts.firstAtS)}`}: a dropped SYN is retransmitted and dropped again until the connect timeout.`);
    const lag = lagSentence(f, h, firstDrop, timeouts.firstAtS);
    evidence.push(lag.sentence);
    confidence = lag.linesUp ? 0.95 : 0.75;
  } else {
    evidence.push('The client saw no connect timeout: the dropped SYNs were retransmitted in time (each retransmit waits 1 s, then 2 s, …), so connections were slower, not failed; at more connections at once they fail.');
    confidence = 0.7;
  }
  const synSent = peakSockets(f, (s) => s.synSent);
  if (synSent !== null && synSent > 0) evidence.push(`Up to ${num(synSent)} of the client's connections waited in SYN_SENT (the monitor does not count SYN retransmits).`);
  const own = clientSentence(f);
  evidence.push(own.sentence);
  if (own.mixed) confidence = Math.min(confidence, 0.6);
  const caveat = coverageCaveat(h);
  if (caveat) evidence.push(caveat);
  const severity = timeouts.n > 0 || f.failed > 0 ? 'critical' : 'warning';
  return { verdict: 'snat-port-exhaustion', severity, confidence: weighedByCoverage(h, confidence), atS: firstDrop, evidence, advice: snatAdvice(h, nat) };
}

/** The first second in which insert_failed or drop rose. */
function firstOf(seconds: readonly HostSecond[]): number | null {
  const a = firstCounter(seconds, CONNTRACK_COUNTERS.insertFailed);
  const b = firstCounter(seconds, CONNTRACK_COUNTERS.drop);
  return a === null ? b : b === null ? a : Math.min(a, b);
}

/** The router's tracked connections against the NAT's capacity per destination (ports × addresses), or the range unknown. */
function capacitySentence(h: HostView, nat: LabNatInfo | null, seconds: readonly HostSecond[]): string {
  const peak = conntrackPeak(h);
  const tracked = peak ? `tracked up to ${num(peak.count)} connections (its table holds ${num(peak.max)}, ${pct(peak.count / Math.max(1, peak.max))} full)` : 'tracked an unknown number of connections';
  const seen = seconds.some((e) => e.conntrack) ? '' : ' (no per-second table reading)';
  if (!nat) {
    return `${capitalized(hostWords(h))} ${tracked}${seen}; its NAT's port range and addresses are unknown (not a portstorm lab NAT), so its capacity per destination is unknown: a masquerade without a range draws from 1024–65535 per address and destination.`;
  }
  const ports = nat.ports[1] - nat.ports[0] + 1;
  const capacity = ports * Math.max(1, nat.addresses.length);
  const share = peak ? ` (every destination's entries counted, and TIME_WAIT ones the NAT reuses)` : '';
  return `${capitalized(hostWords(h))} ${tracked}${seen}, against a NAT capacity of ${num(ports)} ports (${nat.ports[0]}–${nat.ports[1]}) × ${num(nat.addresses.length)} address${nat.addresses.length === 1 ? '' : 'es'} (${nat.addresses.join(', ')}) = ${num(capacity)} connections per destination${share}.`;
}

/** Whether the client's first timeout lines up with the router's first drop: within the connect timeout (when a dropped SYN gives up) and the scan spacing. */
function lagSentence(f: Facts, h: HostView, firstDrop: number | null, firstTimeout: number | null): { sentence: string; linesUp: boolean } {
  if (firstDrop === null || firstTimeout === null) return { sentence: 'Evidence is mixed: when the drops or the timeouts began is unknown.', linesUp: false };
  const connectS = f.r.scenario.timeouts.connect;
  const scan = h.monitor.effectiveScanIntervalS > 0 ? h.monitor.effectiveScanIntervalS : 1;
  const lag = Math.round((firstTimeout - firstDrop) * 100) / 100;
  const linesUp = lag >= -scan - 1 && lag <= connectS + scan + 1;
  const when = lag >= 0 ? `${sec(lag)} after` : `${sec(-lag)} before`;
  return linesUp
    ? { sentence: `The client's first connect timeout came ${when} the router's first drop, as expected of a SYN dropped then timed out after the ${sec(connectS)} connect timeout (±${sec(scan + 1)}: the router's seconds and scans).`, linesUp }
    : { sentence: `Evidence is mixed: the client's first connect timeout came ${when} the router's first drop, farther apart than the ${sec(connectS)} connect timeout explains.`, linesUp };
}

/** That the client's own ports did not run out (low utilization, no EADDRNOTAVAIL), or that they did too. */
function clientSentence(f: Facts): { sentence: string; mixed: boolean } {
  const util = f.r.ports?.peakUtilization ?? null;
  if (f.signalTotal > 0) {
    return { sentence: `Evidence is mixed: the client's own ports ran out too (${num(f.signalTotal)} EADDRNOTAVAIL; see client-port-exhaustion): fix that first, then look at the router again.`, mixed: true };
  }
  if (util !== null && util >= CLIENT_LOW) {
    return { sentence: `Evidence is mixed: the client used ${pct(util)} of its own ports, though none failed for lack of one.`, mixed: true };
  }
  const used = util === null ? 'its port use is unknown' : `its ports peaked at ${pct(util)}`;
  return { sentence: `Not the client's own ports: no request failed with EADDRNOTAVAIL and ${used}; the ports that ran out are the router's translated ones.`, mixed: false };
}

/** More NAT addresses, connection reuse, fewer connections at once per destination, and the cloud knobs by name. */
function snatAdvice(h: HostView, nat: LabNatInfo | null): string[] {
  const ports = nat ? nat.ports[1] - nat.ports[0] + 1 : null;
  const more = nat
    ? ` (now ${num(nat.addresses.length)} × ${num(ports!)} ports${nat.ports[1] - nat.ports[0] + 1 < 64_512 ? `; a wider range, up to 1024–65535, helps too` : ''})`
    : '';
  return [
    `Give ${h.name}'s source NAT more addresses${more}: each address has its own ports per destination. In nftables: snat to A-B (an address pool) or masquerade to :1024-65535; in iptables: -j SNAT --to-source A-B.`,
    'Reuse connections on the clients (HTTP keep-alive, a connection pool): a kept-alive connection holds one NAT port for many requests.',
    'Open fewer connections at once per destination (lower users or pool sizes), or spread the load over more destination addresses or ports: the NAT\'s ports are per (address, destination ip:port).',
    `AWS NAT Gateway: add secondary IPv4 addresses (each gives ${num(AWS_PER_ADDRESS)} connections per destination) and watch its ErrorPortAllocation metric.`,
    'Azure: set outbound rules\' allocatedOutboundPorts on the Load Balancer (or add frontend addresses), or use a NAT Gateway, which allocates SNAT ports on demand.',
    'GCP Cloud NAT: raise minPortsPerVm (default 64) or turn on dynamic port allocation (maxPortsPerVm); OUT_OF_RESOURCES in its logs is this.',
    'Kubernetes: pod traffic leaving a node is SNATed to the node\'s address; exempt in-cluster and VPC destinations with ip-masq-agent (nonMasqueradeCIDRs), or give the node more addresses.',
  ];
}
