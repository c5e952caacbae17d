/**
 * Verdicts about ports and TIME_WAIT: client port exhaustion (or its approach), TIME_WAIT on the
 * server, and TIME_WAIT bucket overflow. Pure.
 */
import type { TimelineSockets, Verdict } from '../record/types.js';
import { type Facts, firstCounter, peakOver, peakSockets, sumCounter } from './diagnose-facts.js';
import { coverageCaveat, hostWords, secondsOf, weighedByCoverage } from './host-evidence.js';
import type { HostView } from './hosts.js';
import { ms, num, pct, sec } from '../vocab/format.js';
import { earlyWarning } from './exhaustion.js';
import { baselineHeld, secondsToExhaustion } from './capacity.js';

/** The widest Linux range, 1024–65535. */
const WIDEST_RANGE = 64_512;

/** `client-port-exhaustion`: critical on exhaustion-signal errors; a warning when no port ran out
 * but more than half of a destination's ports were in use. */
export function clientPortExhaustion(f: Facts): Verdict | null {
  if (f.signalTotal === 0) return approachingExhaustion(f);
  const { r, ex } = f;
  const first = ex.firstAtS;
  const evidence: string[] = [];
  const mixed: string[] = [];
  for (const [code, n] of Object.entries(f.signals).sort((a, b) => b[1] - a[1])) {
    const what = code === 'EADDRNOTAVAIL' ? 'EADDRNOTAVAIL (no free local port)' : `${code} on connect (no free local port)`;
    evidence.push(`${num(n)} of ${num(f.finished)} requests (${pct(n / Math.max(1, f.finished))}) failed with ${what}.`);
  }
  if (first !== null) {
    const after = ex.errorRateAfter === null ? '' : `; from then on ${pct(ex.errorRateAfter)} of requests failed`;
    evidence.push(`The first came at ${sec(first)}${after}.`);
  }
  if (ex.utilizationAtFirst !== null) {
    const tw = ex.timeWaitAtFirst === null ? '' : `, with ${num(ex.timeWaitAtFirst)} sockets in TIME_WAIT`;
    evidence.push(`At the onset the busiest destination used ${pct(ex.utilizationAtFirst)} of its ${num(f.usable ?? 0)} usable ports${tw}.`);
  } else if (ex.timeWaitAtFirst !== null) {
    evidence.push(`At the onset ${num(ex.timeWaitAtFirst)} sockets were in TIME_WAIT.`);
  }
  if (r.ports && r.ports.peakUtilization !== null) {
    evidence.push(`Peak: ${num(r.ports.peakInUse)} ports in use toward ${r.ports.busiestDestination ?? 'one destination'} (${pct(r.ports.peakUtilization)}), ${num(r.ports.peakTimeWait)} in TIME_WAIT.`);
  }
  evidence.push(...modelSentences(f));
  if ((r.totals.tlsHandshakes ?? 0) > 0) {
    evidence.push('The connections spoke TLS, which does not change where TIME_WAIT lands: the side that closes the TCP connection first holds it, after the TLS close_notify as after any other last byte.');
  }
  const warn = warningSentence(f);
  if (warn) evidence.push(warn);
  evidence.push(...sourceAddressSentences(f));
  evidence.push(...destinationSentences(f));
  if (f.fdCount > 0) evidence.push(`EMFILE/ENFILE failures also occurred (${num(f.fdCount)}): the process ran out of file descriptors too (see fd-exhaustion); that needs a different fix.`);

  const near = utilizationNear(f, first);
  const predicted = ex.predictedAtS;
  const matches = first !== null && predicted !== null && Math.abs(first - predicted) <= Math.max(0.3 * predicted, 0.5);
  let confidence = near !== null && near >= 0.9 ? (matches ? 0.97 : 0.92) : matches ? 0.9 : 0.8;
  if (!f.socketsSeen) {
    mixed.push(`the monitor saw no sockets (${r.monitor.enabled ? 'no socket source worked' : 'it was off'}), so port use at the onset is unknown; this rests on the error codes${matches ? ' and the capacity model' : ' alone'}.`);
    confidence = matches ? 0.75 : 0.6;
  } else if (near !== null && near < 0.5) {
    let other = 'either ports ran out where the monitor does not look (another network namespace, a NAT gateway\'s SNAT ports, a per-socket range), or the error has another cause';
    if (first !== null && first < 1 && r.scenario.connection.localAddresses.length > 0) {
      other += ': EADDRNOTAVAIL from the first second also means a source address in connection.localAddresses is not configured on this host';
    }
    const whose = f.capacity.budgetScope === 'source' && r.scenario.connection.localAddresses.length > 0 ? 'of the bound source addresses\' ports' : 'of the ports toward the busiest destination';
    mixed.push(`only ${pct(near)} ${whose} were in use at the onset; ${other}.`);
    confidence = 0.6;
  } else if (near === null) {
    mixed.push('the monitor had no socket picture around the onset.');
    if (!matches) confidence = Math.min(confidence, 0.75);
  }
  if (!f.clientTimeWait && (near === null || near < 0.9)) {
    const established = peakSockets(f, (s) => s.established);
    mixed.push(`${noClientTimeWait(f)}, so the ports were held by open connections${established === null ? '' : ` (up to ${num(established)} established)`} or by other processes.`);
    confidence = Math.min(confidence, 0.75);
  } else if (f.clientTimeWait && predicted === null && f.usable !== null && (near === null || (near >= 0.5 && near < 0.9))) {
    mixed.push('the capacity model did not expect exhaustion at this rate within the run: other sockets (other processes, other runs) must have held ports too.');
    confidence = Math.min(confidence, 0.75);
  }
  for (const m of mixed) evidence.push(`Evidence is mixed: ${m}`);
  return { verdict: 'client-port-exhaustion', severity: 'critical', confidence, atS: first, evidence, advice: portAdvice(f) };
}

/** Why the client holds no TIME_WAIT per connection, from what told (monitor, target, scenario). */
export function noClientTimeWait(f: Facts): string {
  const side = f.capacity.timeWaitSide;
  const held = side.side === 'server' ? 'the server holds TIME_WAIT' : 'no side holds TIME_WAIT per connection';
  return `${held}, not the client (${side.source === 'scenario' ? 'assumed from' : 'seen in'} ${side.reason})`;
}

/** No port ran out, but a destination's range was more than half used. */
function approachingExhaustion(f: Facts): Verdict | null {
  const p = f.r.ports;
  if (!p || p.peakUtilization === null || p.peakUtilization < 0.5 || f.recycledWithinBudget) return null;
  const evidence = [
    `No request failed for lack of a port, but up to ${num(p.peakInUse)} of the ${num(f.usable ?? p.usable ?? 0)} ports toward ${p.busiestDestination ?? 'one destination'} were in use (${pct(p.peakUtilization)}), ${num(p.peakTimeWait)} in TIME_WAIT.`,
    ...(f.r.host.platform === 'linux' ? ['Past 50 % Linux connect() scans the used even ports first and slows down (~70× measured) before it fails.'] : []),
    ...modelSentences(f),
    ...destinationSentences(f),
  ];
  const warn = warningSentence(f);
  if (warn) evidence.push(warn);
  const atS = f.timeline.find((e) => (e.sockets?.utilization ?? 0) >= 0.5)?.t ?? null;
  return { verdict: 'client-port-exhaustion', severity: 'warning', confidence: 0.7, atS, evidence, advice: portAdvice(f) };
}

/** What one pool of the budget is, in words. */
function poolWords(f: Facts): string {
  const c = f.capacity;
  if (c.budgetScope === 'source') return c.pools > 1 ? ` over ${c.pools} source addresses (each across all destinations)` : ' per source address, across all destinations';
  if (c.pools > 1) {
    const parts = [c.sources > 1 ? `${c.sources} source addresses` : '', c.destinations > 1 ? `${c.destinations} destinations` : ''].filter(Boolean).join(' × ');
    return ` over ${c.pools} (source, destination) pairs (${parts})`;
  }
  return ' per destination';
}

/** The capacity model against the run: hold and why, sustainable rate, peak rate run, predicted vs observed onset. */
export function modelSentences(f: Facts): string[] {
  const { ex } = f;
  const c = f.capacity;
  const out: string[] = [];
  if (ex.sustainableRate === null || ex.peakConnectionRate === null || f.usable === null) return out;
  const times = ex.sustainableRate > 0 ? ` (${(ex.peakConnectionRate / ex.sustainableRate).toFixed(1)}× that)` : '';
  const hold = c.holdS >= 10 ? sec(c.holdS).replace('.0 s', ' s') : sec(c.holdS);
  out.push(`Capacity model: ${num(c.budget ?? f.usable)} ports held ≈ ${hold} each after close sustain ≈ ${num(ex.sustainableRate)} new connections/s${poolWords(f)}; the run opened up to ${num(ex.peakConnectionRate)}/s${times}.`);
  out.push(`Why ${hold}: ${c.holdReason}. ${c.budgetReason[0]!.toUpperCase()}${c.budgetReason.slice(1)}.`);
  const seenBy = c.timeWaitSide.serverHost ? `seen by the monitors, the server side on host ${c.timeWaitSide.serverHost}` : 'seen by the monitor';
  out.push(`TIME_WAIT side: ${c.timeWaitSide.side} (${c.timeWaitSide.source === 'monitor' ? seenBy : c.timeWaitSide.source === 'target' ? 'from the built-in target\'s counters' : 'assumed from the scenario'}: ${c.timeWaitSide.reason}).`);
  if (ex.predictedAtS !== null && ex.firstAtS !== null) {
    const d = ex.onsetVsPredictionS ?? 0;
    const how = Math.abs(d) < 0.05 ? 'as predicted' : `${sec(Math.abs(d))} ${d > 0 ? 'later' : 'earlier'}`;
    out.push(`The model put the first failure at ${sec(ex.predictedAtS)}; it came at ${sec(ex.firstAtS)} (${how}).`);
  } else if (ex.predictedAtS !== null) {
    out.push(`The model put the first failure at ${sec(ex.predictedAtS)}.`);
  }
  return out;
}

/** The run's own destinations, and other traffic on the host and whether it shares the budget. */
export function destinationSentences(f: Facts): string[] {
  const { r } = f;
  const out: string[] = [];
  const own = r.ownDestinations;
  if (own && own.length > 0) out.push(`This run's destination${own.length > 1 ? 's' : ''}: ${own.slice(0, 4).join(', ')}${own.length > 4 ? ` and ${num(own.length - 4)} more` : ''}; the port figures are about ${own.length > 1 ? 'them' : 'it'} alone.`);
  const other = r.otherTraffic;
  if (other && other.peakInUse > 0) {
    const where = other.busiestDestination ? ` toward ${other.busiestDestination}` : '';
    const shares = f.capacity.budgetScope === 'source' ? 'it draws on the same per-source budget, so it counts here' : 'it uses other (source, destination) pairs, so it does not eat this run\'s budget';
    out.push(`Other traffic on this host: ${num(other.peakInUse)} ports${where}; ${shares}.`);
  }
  return out;
}

/** The early-warning sentence (connect p50 rise), or null when there was none. */
function warningSentence(f: Facts): string | null {
  const w = earlyWarning(f.timeline, f.ex.firstAtS);
  if (!w) return null;
  const util = w.entry.sockets?.utilization;
  const at = util == null ? '' : ` (${pct(util)} of the ports in use)`;
  const first = f.ex.firstAtS;
  const rel = first === null ? '' : w.entry.t <= first ? `, ${sec(first - w.entry.t)} before the first failure` : ', after the first failure';
  return `Early warning: connect p50 rose from ${ms(w.baselineMs)} to ${ms(w.entry.connectMs.p50)} at t = ${w.entry.t} s${at}${rel}.`;
}

/** What the source-address strategy does to the port budget (DOMAIN.md), one sentence true for each. */
function sourceAddressSentences(f: Facts): string[] {
  const n = f.r.scenario.connection.localAddresses.length;
  if (n === 0) return [];
  const set = `${n} source address${n > 1 ? 'es' : ''} set (connection.localAddresses)`;
  const strategy = f.capacity.sourceStrategy;
  const platform = f.r.host.platform;
  let why: string;
  if (platform !== 'linux') why = `on ${platform} a port is held per source address across all destinations whatever the bind strategy`;
  else if (strategy === 'bind-no-port') why = 'the engine sets IP_BIND_ADDRESS_NO_PORT, so the port is picked at connect() and each source address has its own ports per destination';
  else why = 'the source address is bound before connect() without IP_BIND_ADDRESS_NO_PORT, which makes each port exclusive to that source across all destinations (IP_BIND_ADDRESS_NO_PORT avoids that; node:net cannot set it)';
  if ((f.signals['EADDRINUSE'] ?? 0) > 0 && strategy !== 'bind-no-port') {
    return [`The failures are EADDRINUSE on connect with ${set}: ${why}. Node reports that implicit bind's failure as EADDRINUSE.`];
  }
  return [`With ${set}: ${why}.`];
}

/**
 * Highest utilization within a second of the onset; null when unknown. Where the budget is per
 * source address (bind() without IP_BIND_ADDRESS_NO_PORT, macOS, Windows) a port is exclusive to its
 * source across all destinations, so the budget is sources × usable ports over every destination
 * (ephemeralInUse), not the busiest destination's share.
 */
function utilizationNear(f: Facts, first: number | null): number | null {
  if (first === null) return f.ex.utilizationAtFirst;
  const s = Math.floor(first);
  const sources = f.capacity.budgetScope === 'source' ? f.capacity.sources : 0;
  let best: number | null = null;
  for (const e of f.timeline) {
    if (Math.abs(e.t - s) > 1 || !e.sockets) continue;
    const all = sources > 0 && f.usable && e.sockets.ephemeralInUse !== null ? e.sockets.ephemeralInUse / (sources * f.usable) : null;
    for (const u of [e.sockets.utilization, all]) if (u !== null && (best === null || u > best)) best = u;
  }
  return best;
}

/** Concrete fixes, with the record's figures, for this platform and budget shape. */
function portAdvice(f: Facts): string[] {
  const { r, ex } = f;
  const c = f.capacity;
  const platform = r.host.platform;
  const advice: string[] = [];
  const hold = f.timeWaitS;
  const perPool = f.usable !== null && hold ? f.usable / hold : null;
  const rmax = ex.sustainableRate;
  if (r.scenario.connection.reuse) {
    advice.push(`Connections are already reused, yet up to ${num(ex.peakConnectionRate ?? 0)} were opened in one second: keep them open longer (idle timeouts, a larger pool) so fewer new ones are needed.`);
  } else if (rmax !== null && rmax > 0 && f.peakRequestRate > rmax) {
    const needed = Math.max(2, Math.ceil(f.peakRequestRate / rmax));
    advice.push(`Reuse connections (connection.reuse: true, HTTP keep-alive): at ${num(f.peakRequestRate)} requests/s, ${needed} or more requests per connection keep new connections under the sustainable ≈ ${num(rmax)}/s.`);
  } else {
    advice.push('Reuse connections (connection.reuse: true, HTTP keep-alive): new connections per second = requests per second ÷ requests per connection, and each holds a port after it closes.');
  }
  if (f.usable !== null && f.usable < WIDEST_RANGE && hold) {
    const per = c.budgetScope === 'source' ? 'per source address' : 'per destination';
    const how =
      platform === 'darwin'
        ? 'Widen the range with sysctl net.inet.ip.portrange.first=1024 (and hifirst)'
        : platform === 'win32'
          ? 'Widen the dynamic range (netsh int ipv4 set dynamicport tcp start=1025 num=64511)'
          : 'Widen net.ipv4.ip_local_port_range to "1024 65535"';
    const reserve = platform === 'linux' ? '; list servers\' ports in ip_local_reserved_ports' : '; keep servers\' listening ports out of it';
    advice.push(`${how}: ${num(WIDEST_RANGE)} ports sustain ≈ ${num(WIDEST_RANGE / hold)}/s ${per} (now ${num(f.usable)} ports, ≈ ${num(f.usable / hold)}/s)${reserve}.`);
  }
  if (f.clientTimeWait && platform === 'linux' && c.holdS > 1.5) {
    const delay = r.host.tcpTwReuseDelayMs ?? 1000;
    const ts = r.host.tcpTimestamps === 0 ? ' and tcp_timestamps=1 (it is 0 here)' : '';
    advice.push(`Set net.ipv4.tcp_tw_reuse=1 (now ${r.host.tcpTwReuse ?? 'unknown'})${ts}: new connections may take a TIME_WAIT port after ${num(delay)} ms; both ends need TCP timestamps.`);
  } else if (f.clientTimeWait && platform === 'darwin') {
    advice.push('Lower net.inet.tcp.msl (TIME_WAIT is 2 × MSL) only on a test network: it shortens the protection against delayed segments.');
  } else if (f.clientTimeWait && platform === 'win32') {
    advice.push('Lower TcpTimedWaitDelay (HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters, 30–300 s) to shorten TIME_WAIT.');
  }
  if (perPool !== null && perPool > 0) {
    const rate = ex.peakConnectionRate ?? 0;
    if (c.budgetScope === 'source-destination') {
      const carry = rate > perPool ? `, so ${Math.ceil(rate / perPool)} pairs carry ${num(rate)}/s` : '';
      advice.push(`Spread connections over more destination IPs or ports, or more source IPs: each (source, destination) pair has its own ${num(f.usable!)} ports${carry}.`);
    } else {
      const carry = rate > perPool ? `, so ${Math.ceil(rate / perPool)} source addresses carry ${num(rate)}/s` : '';
      const why =
        platform === 'linux'
          ? ' (more destinations do not help while bind() makes a port exclusive to its source; binding with IP_BIND_ADDRESS_NO_PORT makes the budget per destination again)'
          : ` (on ${platform} a port is held per source address across all destinations, so more destinations do not help)`;
      advice.push(`Add source IP addresses (connection.localAddresses): each has its own ${num(f.usable!)} ports${carry}${why}.`);
    }
  }
  if (f.clientTimeWait) {
    advice.push('Or close with RST (connection.close: reset): no TIME_WAIT at all, but unacknowledged data is lost, the peer sees ECONNRESET and delayed segments lose TIME_WAIT\'s protection.');
  } else {
    advice.push('Open fewer connections at once (lower users or maxInFlight): open connections hold their ports for as long as they stay open.');
  }
  return advice;
}

/** Server-side TIME_WAIT of one second: on the client's host the own destinations' where known; on a watched host every listening port's. */
const serverSide = (on: HostView | null) => (s: TimelineSockets): number | null => (on ? s.serverTimeWait : (s.ownServerTimeWait ?? s.serverTimeWait));

/**
 * `server-time-wait`: TIME_WAIT piles up on the server side (sockets on a listening port). `on` a
 * watched host, measured there (for the host serving the target whatever the client's ports did);
 * else read from the client's host, where it is the target's only when the target runs there, and
 * only while the client's ports are safe. The client's reading gives way to the serving host's
 * where that host's scans saw its server side.
 */
export function serverTimeWait(f: Facts, on: HostView | null = null): Verdict | null {
  if (!on && f.serving && peakOver(f.serving.timeline, (s) => s.serverTimeWait) !== null) return null;
  const seconds = on ? secondsOf(on) : f.timeline;
  const pick = serverSide(on);
  const peak = peakOver(seconds, pick);
  const buckets = on ? (on.host?.tcpMaxTwBuckets ?? null) : f.r.host.tcpMaxTwBuckets;
  if (peak === null || !(peak >= 1000 || (buckets !== null && peak >= 0.2 * buckets))) return null;
  const util = f.r.ports?.peakUtilization ?? null;
  const clientSafe = !(f.signalTotal > 0 || (util !== null && util >= 0.5));
  if (!on && !clientSafe) return null;
  const at = seconds.find((e) => (e.sockets ? (pick(e.sockets) ?? 0) : 0) >= Math.min(1000, peak))?.t ?? null;
  const share = buckets ? `, ${pct(peak / buckets)} of tcp_max_tw_buckets (${num(buckets)})` : '';
  const where = on ? ` on ${hostWords(on)}, measured there` : '';
  const evidence = [`Up to ${num(peak)} TIME_WAIT sockets were on the server side (on a listening port)${where}${share}.`];
  const serving = !on || on.name === f.serving?.name;
  if (clientSafe) evidence.push(`Client ports stayed safe: ${util === null ? 'utilization unknown' : `peak utilization ${pct(util)}`}, no EADDRNOTAVAIL.`);
  else evidence.push('The client\'s own ports ran out too (see client-port-exhaustion on host client): that is the client\'s TIME_WAIT, apart from this.');
  const c = f.r.scenario.connection;
  const side = f.capacity.timeWaitSide;
  if (serving && side.source !== 'scenario' && side.side === 'server' && c.close === 'client') {
    evidence.push(`The scenario has close: client, but the server closed first (${side.reason}): TIME_WAIT lands on the server, not on client ports (e.g. HTTP/1.0 or Connection: close in its responses).`);
  } else if (serving && c.close === 'server') {
    evidence.push('The scenario has close: server: the server closes first, so TIME_WAIT lands on the server, not on client ports.');
  }
  const st = f.r.target.stats;
  if (!on && st && st.connectionsAccepted > 0) evidence.push(`The built-in target closed ${num(st.closedByServer)} of ${num(st.connectionsAccepted)} connections first.`);
  let confidence = 0.85;
  if (on) {
    confidence = 0.9;
    const caveat = coverageCaveat(on);
    if (caveat) evidence.push(caveat);
    confidence = weighedByCoverage(on, confidence);
  }
  const limit = buckets ? ` (${num(buckets)}${on ? ` on ${on.name}` : ''})` : '';
  const advice = [
    `Nothing to fix on the client: server TIME_WAIT costs ${on ? on.name : 'the server'} memory and TIME_WAIT buckets, which is fine up to tcp_max_tw_buckets${limit}.`,
    serving ? 'Reuse connections (keep-alive) to stop opening and closing one per request.' : `Reuse the connections ${on!.name} accepts (keep-alive in the clients that call it, e.g. upstream keepalive in a proxy in front of it) to stop opening and closing one per request.`,
  ];
  if (serving && c.close === 'server') advice.push('To test client port exhaustion, run with close: client.');
  return { verdict: 'server-time-wait', severity: 'warning', confidence, atS: at, evidence, advice };
}

/** `time-wait-bucket-overflow`: sockets skipped TIME_WAIT because tcp_max_tw_buckets was reached (`on` a watched host: its own counters and limit). */
export function timeWaitBucketOverflow(f: Facts, on: HostView | null = null): Verdict | null {
  const seconds = on ? secondsOf(on) : f.timeline;
  const overflow = sumCounter(seconds, 'TCPTimeWaitOverflow') ?? 0;
  const buckets = on ? (on.host?.tcpMaxTwBuckets ?? null) : f.r.host.tcpMaxTwBuckets;
  const ports = on ? on.ports : f.r.ports;
  const peakTw = Math.max(ports?.peakTimeWait ?? 0, peakOver(seconds, (s) => s.timeWait) ?? 0);
  const full = buckets !== null && buckets > 0 && peakTw >= buckets;
  if (overflow <= 0 && !full) return null;
  const evidence: string[] = [];
  const where = on ? ` on ${hostWords(on)}` : '';
  if (overflow > 0) evidence.push(`The kernel${where} let ${num(overflow)} sockets skip TIME_WAIT (TCPTimeWaitOverflow), first at t = ${firstCounter(seconds, 'TCPTimeWaitOverflow')} s.`);
  const limit = buckets === null ? 'unknown' : num(buckets);
  evidence.push(peakTw > 0 ? `TIME_WAIT peaked at ${num(peakTw)}${where}; tcp_max_tw_buckets is ${limit}.` : `The limit tcp_max_tw_buckets${where} is ${limit}.`);
  evidence.push('Those sockets closed at once: they hold no port, so exhaustion comes later than the capacity model says, and delayed segments of old connections lose their protection.');
  let confidence = 0.9;
  if (overflow <= 0) {
    evidence.push('Evidence is mixed: the TIME_WAIT count reached the limit but no TCPTimeWaitOverflow was counted (the counter may have been unreadable).');
    confidence = 0.6;
  }
  if (on) {
    const caveat = coverageCaveat(on);
    if (caveat) evidence.push(caveat);
    confidence = weighedByCoverage(on, confidence);
  }
  const atS = overflow > 0 ? firstCounter(seconds, 'TCPTimeWaitOverflow') : null;
  const advice = [
    `${on ? `On ${hostWords(on)}: raise` : 'Raise'} net.ipv4.tcp_max_tw_buckets${buckets === null ? '' : ` (now ${num(buckets)})`}${peakTw > 0 ? ` above the TIME_WAIT peak (${num(peakTw)})` : ''}; it is per network namespace.`,
    'Reuse connections (keep-alive) so fewer sockets enter TIME_WAIT.',
  ];
  return { verdict: 'time-wait-bucket-overflow', severity: 'warning', confidence, atS, evidence, advice };
}

/** Seconds until ports run out at the run's peak connection rate (from the baseline, its TIME_WAIT
 * counted as held), or null when that rate is sustainable. */
export function secondsLeftAtPeak(f: Facts): number | null {
  const { ex } = f;
  const c = f.capacity;
  if (!f.clientTimeWait || c.budget === null || !ex.peakConnectionRate) return null;
  const base = baselineHeld(f.r, c.sourceStrategy, c.holdS);
  const held = base.inUse + base.expiry.reduce((a, b) => a + b, 0);
  return secondsToExhaustion(ex.peakConnectionRate, c.budget * c.pools, held, c.holdS);
}
