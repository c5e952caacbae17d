/**
 * Verdicts about limits other than client ports: file descriptors, the server's listen queue,
 * a target that refuses connections, and the conntrack table. Pure.
 */
import type { NofileAdjustment, Verdict } from '../record/types.js';
import { codeCount, codeCountBeyondDns, type Facts, firstCounter, peakSockets, sumCounter } from './diagnose-facts.js';
import { num, pct, sec } from '../vocab/format.js';
import { firstFailureAt } from './exhaustion.js';
import { capitalized, coverageCaveat, hostWords, secondsOf, weighedByCoverage } from './host-evidence.js';
import type { HostView } from './hosts.js';
import type { ConntrackCounterName } from '../monitor/types.js';

/** Conntrack keeps TIME_WAIT entries this long (DOMAIN.md). */
const CONNTRACK_TIME_WAIT_S = 120;

const share = (f: Facts, n: number): string => pct(n / Math.max(1, f.finished));

/** `fd-exhaustion`: EMFILE / ENFILE failures. */
export function fdExhaustion(f: Facts): Verdict | null {
  if (f.fdCount === 0) return null;
  const { r } = f;
  const emfile = codeCount(r, 'EMFILE');
  const enfile = codeCount(r, 'ENFILE');
  const firsts = [firstFailureAt(r, 'EMFILE'), firstFailureAt(r, 'ENFILE')].filter((t): t is number => t !== null && (t >= 0));
  const atS = firsts.length > 0 ? Math.min(...firsts) : null;
  const evidence: string[] = [];
  if (emfile > 0) evidence.push(`${num(emfile)} of ${num(f.finished)} requests (${share(f, emfile)}) failed with EMFILE: the process hit its open-file limit.`);
  if (enfile > 0) evidence.push(`${num(enfile)} requests (${share(f, enfile)}) failed with ENFILE: the system-wide file table was full.`);
  if (atS !== null) evidence.push(`The first came at ${sec(atS)}.`);
  const fds = r.monitor.peakFds;
  let confidence = 0.85;
  if (fds) {
    const soft = fds.soft ?? r.host.nofileSoft;
    evidence.push(`The load generator had up to ${num(fds.open)} descriptors open${soft === null ? '' : ` against a soft limit of ${num(soft)}`}.`);
    if (soft !== null && fds.open >= 0.9 * soft) confidence = 0.95;
  }
  if (r.host.nofileSoft !== null || r.host.nofileHard !== null) {
    evidence.push(`Open-file limits: soft ${r.host.nofileSoft === null ? 'unknown' : num(r.host.nofileSoft)}, hard ${r.host.nofileHard === null ? 'unknown' : num(r.host.nofileHard)}.`);
  }
  const raise = raiseSentence(r.host.nofile ?? null);
  if (raise) evidence.push(raise);
  const shed = shedByBuiltin(f);
  if (shed) evidence.push(shed);
  if (f.signalTotal > 0) {
    const n = f.signals['EADDRNOTAVAIL'] ?? f.signalTotal;
    const at = f.ex.firstAtS === null ? '' : `, from ${sec(f.ex.firstAtS)}`;
    evidence.push(`EADDRNOTAVAIL also occurred (${num(n)}${at}): client ports ran out too (see client-port-exhaustion); more descriptors will not fix that.`);
  }
  const advice: string[] = [];
  const { nofileSoft: soft, nofileHard: hard } = r.host;
  if (soft !== null && hard !== null && soft < hard) advice.push(`Raise the open-file soft limit to the hard limit: ulimit -n ${hard} (now ${num(soft)}).`);
  else advice.push('Raise the open-file limit: the hard limit too (LimitNOFILE= in a systemd unit, nofile in /etc/security/limits.conf), then ulimit -n.');
  if (enfile > 0) advice.push('Raise the system-wide limit fs.file-max (fs.nr_open caps a single process).');
  advice.push(`Open fewer connections at once (lower users, rate or maxInFlight): every open socket is a descriptor${fds ? ` (peak ${num(fds.open)})` : ''}.`);
  return { verdict: 'fd-exhaustion', severity: 'critical', confidence, atS, evidence, advice };
}

function raiseSentence(n: NofileAdjustment | null): string | null {
  if (!n) return null;
  const v = (x: number | null): string => (x === null ? 'unknown' : num(x));
  if (n.outcome === 'raised') return `portstorm raised the soft limit from ${v(n.before.soft)} to the hard limit ${v(n.after.soft)} at startup.`;
  if (n.outcome === 'at-hard') return `The soft limit already equalled the hard limit (${v(n.after.hard)}) at startup: only a higher hard limit gives more.`;
  if (n.outcome === 'failed') return `portstorm could not raise the soft limit (${v(n.before.soft)}) to the hard limit (${v(n.before.hard)}): ${n.reason ?? 'unknown reason'}.`;
  return null;
}

/**
 * The built-in target runs in portstorm's process and shares its descriptors: a connection it
 * cannot accept for want of one is closed unanswered (libuv accepts and closes it), which the client
 * sees as PREMATURE_CLOSE or ECONNRESET. Those failures are this exhaustion too.
 */
function shedByBuiltin(f: Facts): string | null {
  const { r } = f;
  const accepted = r.target.stats?.connectionsAccepted;
  if (!r.target.builtin || accepted === undefined) return null;
  const shed = r.totals.connectionsOpened - accepted;
  if (shed <= 0) return null;
  const seen = ['PREMATURE_CLOSE', 'ECONNRESET'].map((c) => [c, codeCount(r, c)] as const).filter(([, n]) => n > 0);
  const as = seen.length > 0 ? `; the client saw them fail with ${seen.map(([c, n]) => `${c} ${num(n)}`).join(' and ')}` : '';
  return `The built-in target runs in this process and shares its limit: of ${num(r.totals.connectionsOpened)} connections opened it could accept ${num(accepted)}, and closed the other ${num(shed)} unanswered for want of a descriptor${as}.`;
}

const BACKLOG_SYMPTOMS = ['CONNECT_TIMEOUT', 'ECONNRESET', 'ETIMEDOUT'];

/**
 * `listen-backlog-overflow`: listen-queue overflows with the timeouts or resets they cause on the
 * client. `on` a watched host, from that host's own counters (the server's queue, measured); else
 * from the client's, which are the target's only when it runs on the client's host.
 */
export function listenBacklogOverflow(f: Facts, on: HostView | null = null): Verdict | null {
  const seconds = on ? secondsOf(on) : f.timeline;
  const overflows = sumCounter(seconds, 'ListenOverflows') ?? 0;
  const drops = sumCounter(seconds, 'ListenDrops') ?? 0;
  if (overflows + drops <= 0) return null;
  const { r } = f;
  const symptoms = BACKLOG_SYMPTOMS.map((c) => [c, codeCount(r, c)] as const).filter(([, n]) => n > 0);
  const symptomTotal = symptoms.reduce((a, [, n]) => a + n, 0);
  const synSent = peakSockets(f, (s) => s.synSent) ?? 0;
  if (symptomTotal === 0 && synSent < 100) return null;
  const atS = firstCounter(seconds, 'ListenOverflows') ?? firstCounter(seconds, 'ListenDrops');
  const who = on ? capitalized(hostWords(on)) : 'The kernel';
  const evidence = [`${who} counted ${num(overflows)} listen-queue overflows (ListenOverflows) and ${num(drops)} drops (ListenDrops), first at t = ${atS} s.`];
  if (symptomTotal > 0) {
    const codes = symptoms.length === 1 ? symptoms[0]![0] : symptoms.map(([c, n]) => `${c} ${num(n)}`).join(', ');
    const firsts = symptoms.map(([c]) => firstFailureAt(r, c)).filter((t): t is number => t !== null);
    const began = on && firsts.length > 0 ? `, the first at ${sec(Math.min(...firsts))}` : '';
    evidence.push(`${num(symptomTotal)} requests (${share(f, symptomTotal)}) failed with ${codes}${began}: what a full accept queue looks like from the client.`);
  }
  if (synSent >= 100) evidence.push(`Up to ${num(synSent)} connections waited in SYN_SENT${on ? ' on the client' : ''}.`);
  const somaxconn = on ? (on.host?.somaxconn ?? null) : r.host.somaxconn;
  if (somaxconn !== null) evidence.push(`net.core.somaxconn is ${num(somaxconn)}${on ? ` on ${on.name}` : ''}.`);
  let confidence = 0.85;
  if (on) {
    confidence = 0.9;
    const caveat = coverageCaveat(on);
    if (caveat) evidence.push(caveat);
    confidence = weighedByCoverage(on, confidence);
  } else if (!r.target.builtin && !f.loopback) {
    evidence.push('Evidence is mixed: the counters are this host\'s; if the target runs on another machine they belong to a different server here, and the failures have another cause.');
    confidence = 0.55;
  }
  const severity = symptomTotal / Math.max(1, f.finished) >= 0.01 ? 'critical' : 'warning';
  const now = somaxconn === null ? '' : ` (now ${num(somaxconn)})`;
  const advice = on
    ? [
        `On ${hostWords(on)}: raise net.core.somaxconn${now} and the listening server's own backlog (nginx: listen … backlog=N; Node: server.listen({ backlog }), 511 by default; Java: the acceptCount or backlog setting).`,
        `Raise net.ipv4.tcp_max_syn_backlog on ${on.name}.`,
        `Accept faster on ${on.name} (more workers or accept threads), open fewer connections at once (a lower rate or fewer users), or reuse connections so fewer handshakes hit the queue.`,
      ]
    : [
        `Raise net.core.somaxconn${now} and the server's listen() backlog (Node: server.listen({ backlog }), 511 by default).`,
        'Raise net.ipv4.tcp_max_syn_backlog.',
        'Open fewer connections at once (a lower rate or fewer users), or reuse connections so fewer handshakes hit the queue.',
      ];
  return { verdict: 'listen-backlog-overflow', severity, confidence, atS, evidence, advice };
}

/**
 * `target-unreachable`: ECONNREFUSED. Critical and for the whole run when nothing completed before
 * the refusals began; a warning from the second they began when requests had completed before (the
 * target went away mid-run).
 */
export function targetUnreachable(f: Facts): Verdict | null {
  const { r } = f;
  const refused = codeCountBeyondDns(r, 'ECONNREFUSED');
  if (refused === 0 || refused < 0.9 * f.failed) return null;
  const began = firstFailureAt(r, 'ECONNREFUSED', (p) => p !== 'dns') ?? 0;
  const completedBefore = f.timeline.filter((e) => e.t < Math.floor(began)).reduce((a, e) => a + e.completed, 0);
  const completedAfter = f.timeline.filter((e) => e.t > Math.floor(began)).reduce((a, e) => a + e.completed, 0);
  const where = targetAddress(r.target.url);
  const head = `${num(refused)} of ${num(f.finished)} requests (${share(f, refused)}) failed with ECONNREFUSED`;
  if (completedBefore === 0) {
    const evidence = [`${head}, the first at ${sec(began)}, and no request completed before: nothing accepted connections at ${where}.`];
    let confidence = 0.95;
    if (completedAfter > 0) {
      evidence.push(`Evidence is mixed: ${num(completedAfter)} requests completed later, so the target came up (or came back) during the run.`);
      confidence = 0.7;
    }
    const advice = [
      `Check that the target is running and listening on ${where}.`,
      'Check the target URL and port in the scenario; a firewall REJECT rule also answers ECONNREFUSED.',
    ];
    return { verdict: 'target-unreachable', severity: 'critical', confidence, atS: null, evidence, advice };
  }
  const evidence = [
    `The target stopped accepting connections at ${sec(began)} after ${num(completedBefore)} completed requests (the target went away mid-run).`,
    `${head}.`,
  ];
  let confidence = 0.8;
  if (completedAfter > 0) {
    evidence.push(`Evidence is mixed: ${num(completedAfter)} requests still completed after that: the target refused intermittently (restarts, or a stack that refuses when its listen queue is full, as Windows does).`);
    confidence = 0.6;
  }
  const advice = [
    `Check the target's logs and health around ${sec(began)}: it crashed, restarted or was stopped.`,
    'If it falls over under this load, lower the rate or give it more capacity, and rerun.',
  ];
  return { verdict: 'target-unreachable', severity: 'warning', confidence, atS: began, evidence, advice };
}

function targetAddress(url: string): string {
  try {
    return new URL(url).host || url;
  } catch {
    return url;
  }
}

/**
 * Counters of /proc/net/stat/nf_conntrack, as a host's per-second counters name them (the
 * monitor's `CONNTRACK_COUNTER_NAMES`): insertions that failed (a clash, or NAT found no free
 * source port) and packets dropped for want of an entry.
 */
export const CONNTRACK_COUNTERS = { insertFailed: 'ConntrackInsertFailed', drop: 'ConntrackDrop' } as const satisfies Record<string, ConntrackCounterName>;

/** The fullest conntrack reading of a watched host: its monitor's peak, else its seconds'. */
function hostConntrackPeak(h: HostView): { count: number; max: number } | null {
  let peak = h.monitor.peakConntrack;
  for (const e of h.timeline) if (e.conntrack && (peak === null || e.conntrack.count > peak.count)) peak = e.conntrack;
  return peak;
}

/**
 * `conntrack-full`: the connection-tracking table reached its limit (≥ 95 % of nf_conntrack_max),
 * or, where the host's counters have them, insertions failed or packets were dropped. `on` a watched
 * host (a NAT router, the service), from that host's table and counters; else the client's.
 */
export function conntrackFull(f: Facts, on: HostView | null = null): Verdict | null {
  const { r } = f;
  const peak = on ? hostConntrackPeak(on) : r.monitor.peakConntrack;
  const seconds = on ? secondsOf(on) : f.timeline;
  const max = peak && peak.max > 0 ? peak.max : on ? (on.host?.conntrackMax ?? null) : r.host.conntrackMax;
  const full = peak !== null && max !== null && max > 0 && peak.count >= 0.95 * max;
  const insertFailed = sumCounter(seconds, CONNTRACK_COUNTERS.insertFailed) ?? 0;
  const dropped = sumCounter(seconds, CONNTRACK_COUNTERS.drop) ?? 0;
  if (!full && insertFailed + dropped <= 0) return null;
  const where = on ? ` on ${hostWords(on)}` : '';
  const evidence: string[] = [];
  if (peak && max !== null && max > 0) {
    const what = full ? ': new connections\' packets are dropped when it is full' : ', short of full';
    evidence.push(`The conntrack table${where} peaked at ${num(peak.count)} of ${num(max)} entries (${pct(peak.count / max)})${what}.`);
  } else {
    evidence.push(`The conntrack table's fill${where} is unknown.`);
  }
  if (insertFailed + dropped > 0) {
    const first = firstCounter(seconds, CONNTRACK_COUNTERS.drop) ?? firstCounter(seconds, CONNTRACK_COUNTERS.insertFailed);
    evidence.push(`Connection tracking${where} failed ${num(insertFailed)} insertions (insert_failed) and dropped ${num(dropped)} packets (drop), first at t = ${first} s.`);
  }
  const rate = f.ex.peakConnectionRate;
  if (rate) evidence.push(`Conntrack keeps TIME_WAIT entries ${CONNTRACK_TIME_WAIT_S} s: at ${num(rate)} new connections/s it holds ≈ ${num(rate * CONNTRACK_TIME_WAIT_S)} entries.`);
  const timeouts = ['CONNECT_TIMEOUT', 'ETIMEDOUT'].reduce((a, c) => a + codeCount(r, c), 0);
  let severity: Verdict['severity'] = 'critical';
  let confidence = 0.9;
  if (timeouts > 0) evidence.push(`${num(timeouts)} requests timed out connecting: dropped SYNs look like that.`);
  if (!full) {
    evidence.push('Evidence is mixed: the table was not seen full; failed insertions and drops without a full table are what a NAT (masquerade) out of source ports toward one destination looks like, or a table that filled between readings.');
    confidence = 0.6;
  }
  if (f.failed === 0) {
    evidence.push('No request failed, so the full table did not hurt this run (or its drops were retried in time).');
    severity = 'warning';
    confidence = Math.min(confidence, 0.7);
  }
  if (on) {
    const caveat = coverageCaveat(on);
    if (caveat) evidence.push(caveat);
    confidence = weighedByCoverage(on, confidence);
  }
  const there = on ? ` on ${on.name}` : '';
  const advice = [
    `${on ? `On ${hostWords(on)}: raise` : 'Raise'} net.netfilter.nf_conntrack_max${max === null ? '' : ` (now ${num(max)})`}; it cannot be raised from inside a child network namespace.`,
    `Shorten net.netfilter.nf_conntrack_tcp_timeout_time_wait${there}, or exempt the test traffic from tracking (NOTRACK / raw table).`,
  ];
  if (insertFailed + dropped > 0) advice.push(`If ${on ? on.name : 'this host'} does NAT: widen the masquerade (SNAT) port range or add SNAT addresses, since each (address, destination) has its own ports.`);
  advice.push('Reuse connections (keep-alive) so far fewer connections are tracked.');
  const atS = on ? (secondsOf(on).find((e) => e.conntrack && max !== null && e.conntrack.count >= 0.95 * max)?.t ?? null) : null;
  return { verdict: 'conntrack-full', severity, confidence, atS, evidence, advice };
}
