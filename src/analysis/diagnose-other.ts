/**
 * Verdicts about limits other than client ports: file descriptors, the server's listen queue,
 * a target that refuses connections, and the conntrack table. Pure.
 */
import type { NofileAdjustment, Verdict } from '../record/types.js';
import { codeCount, codeCountBeyondDns, counterFirst, counterSum, type Facts, peakSockets } from './diagnose-facts.js';
import { num, pct, sec } from '../vocab/format.js';
import { firstFailureAt } from './exhaustion.js';

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

/** `listen-backlog-overflow`: listen-queue overflows with the timeouts or resets they cause. */
export function listenBacklogOverflow(f: Facts): Verdict | null {
  const overflows = counterSum(f, 'ListenOverflows') ?? 0;
  const drops = counterSum(f, 'ListenDrops') ?? 0;
  if (overflows + drops <= 0) return null;
  const { r } = f;
  const symptoms = BACKLOG_SYMPTOMS.map((c) => [c, codeCount(r, c)] as const).filter(([, n]) => n > 0);
  const symptomTotal = symptoms.reduce((a, [, n]) => a + n, 0);
  const synSent = peakSockets(f, (s) => s.synSent) ?? 0;
  if (symptomTotal === 0 && synSent < 100) return null;
  const atS = counterFirst(f, 'ListenOverflows') ?? counterFirst(f, 'ListenDrops');
  const evidence = [`The kernel counted ${num(overflows)} listen-queue overflows (ListenOverflows) and ${num(drops)} drops (ListenDrops), first at t = ${atS} s.`];
  if (symptomTotal > 0) {
    const codes = symptoms.length === 1 ? symptoms[0]![0] : symptoms.map(([c, n]) => `${c} ${num(n)}`).join(', ');
    evidence.push(`${num(symptomTotal)} requests (${share(f, symptomTotal)}) failed with ${codes}: what a full accept queue looks like from the client.`);
  }
  if (synSent >= 100) evidence.push(`Up to ${num(synSent)} connections waited in SYN_SENT.`);
  if (r.host.somaxconn !== null) evidence.push(`net.core.somaxconn is ${num(r.host.somaxconn)}.`);
  let confidence = 0.85;
  if (!r.target.builtin && !f.loopback) {
    evidence.push('Evidence is mixed: the counters are this host\'s; if the target runs on another machine they belong to a different server here, and the failures have another cause.');
    confidence = 0.55;
  }
  const severity = symptomTotal / Math.max(1, f.finished) >= 0.01 ? 'critical' : 'warning';
  const advice = [
    `Raise net.core.somaxconn${r.host.somaxconn === null ? '' : ` (now ${num(r.host.somaxconn)})`} and the server's listen() backlog (Node: server.listen({ backlog }), 511 by default).`,
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

/** `conntrack-full`: the connection-tracking table reached its limit. */
export function conntrackFull(f: Facts): Verdict | null {
  const { r } = f;
  const peak = r.monitor.peakConntrack;
  if (!peak) return null;
  const max = peak.max > 0 ? peak.max : r.host.conntrackMax;
  if (max === null || max <= 0 || peak.count < 0.95 * max) return null;
  const evidence = [`The conntrack table peaked at ${num(peak.count)} of ${num(max)} entries (${pct(peak.count / max)}): new connections' packets are dropped when it is full.`];
  const rate = f.ex.peakConnectionRate;
  if (rate) evidence.push(`Conntrack keeps TIME_WAIT entries ${CONNTRACK_TIME_WAIT_S} s: at ${num(rate)} new connections/s it holds ≈ ${num(rate * CONNTRACK_TIME_WAIT_S)} entries.`);
  const timeouts = ['CONNECT_TIMEOUT', 'ETIMEDOUT'].reduce((a, c) => a + codeCount(r, c), 0);
  let severity: Verdict['severity'] = 'critical';
  let confidence = 0.9;
  if (timeouts > 0) evidence.push(`${num(timeouts)} requests timed out connecting: dropped SYNs look like that.`);
  if (f.failed === 0) {
    evidence.push('No request failed, so the full table did not hurt this run (or its drops were retried in time).');
    severity = 'warning';
    confidence = 0.7;
  }
  const advice = [
    `Raise net.netfilter.nf_conntrack_max (now ${num(max)}); it cannot be raised from inside a child network namespace.`,
    'Shorten net.netfilter.nf_conntrack_tcp_timeout_time_wait, or exempt the test traffic from tracking (NOTRACK / raw table).',
    'Reuse connections (keep-alive) so far fewer connections are tracked.',
  ];
  return { verdict: 'conntrack-full', severity, confidence, atS: null, evidence, advice };
}
