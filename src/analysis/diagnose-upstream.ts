/**
 * `upstream-port-exhaustion`: a watched host (a service, a proxy) ran out of ports toward its own
 * destination (the backend ip:port) while the client saw the failures a proxy or an application
 * answers with when its own connect() fails; the lag between the two is the evidence that ties them.
 * Pure.
 */
import type { HostSecond, RunRecord, Verdict } from '../record/types.js';
import { ms, num, pct, sec } from '../vocab/format.js';
import { isLoopbackHost, portHold, sustainableRate, type Hold } from './capacity.js';
import type { Facts } from './diagnose-facts.js';
import { firstFailureAt, pearson } from './exhaustion.js';
import { capitalized, coverageCaveat, hostWords, rangeWords, secondsOf, usableOf, weighedByCoverage } from './host-evidence.js';
import type { HostView } from './hosts.js';

/** Roles whose outbound connections can run out of ports (a NAT router's are the conntrack table's; the client's are its own verdict). */
const ORIGINATING_ROLES = new Set(['service', 'proxy', 'backend', 'other']);
/** Utilization of a destination's ports that counts as run out. */
const RAN_OUT = 0.95;
/** The widest Linux range, 1024–65535. */
const WIDEST_RANGE = 64_512;

/** Socket-level failures a proxy or application gives its client when its upstream fails (HTTP 5xx count in any phase). */
const UPSTREAM_SOCKET_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'SOCKET_CLOSED', 'PREMATURE_CLOSE', 'REQUEST_TIMEOUT']);
/** Phases in which a reset says nothing of the service's upstream (its listen queue, the handshake, the lookup). */
const BEFORE_REQUEST: ReadonlySet<string> = new Set(['dns', 'connect', 'tls']);

/** Whether a client failure is of the kind a service returns when its own upstream connect() fails: 502/500/503/504, a reset or closed connection after the request was sent, no answer in time. */
export function isUpstreamFailure(code: string, phase: string | null): boolean {
  if (code.startsWith('HTTP_5')) return true;
  return UPSTREAM_SOCKET_CODES.has(code) && (phase === null || !BEFORE_REQUEST.has(phase));
}

/** The client's failures of the upstream kind: by code (most first) with when each began. */
export interface UpstreamFailures {
  byCode: Array<{ code: string; n: number; firstAtS: number | null }>;
  total: number;
  firstAtS: number | null;
}

/** The client's upstream-kind failures, from `errorsByPhase`; codes it lacks (older records) from `errors`. */
export function upstreamFailures(r: RunRecord): UpstreamFailures {
  const counts = new Map<string, number>();
  const phased = new Set<string>();
  for (const [key, n] of Object.entries(r.errorsByPhase)) {
    const i = key.indexOf(':');
    const code = key.slice(i + 1);
    phased.add(code);
    if (n > 0 && isUpstreamFailure(code, key.slice(0, i))) counts.set(code, (counts.get(code) ?? 0) + n);
  }
  for (const [code, n] of Object.entries(r.errors)) if (n > 0 && !phased.has(code) && isUpstreamFailure(code, null)) counts.set(code, n);
  const byCode = [...counts]
    .map(([code, n]) => ({ code, n, firstAtS: firstFailureAt(r, code, code.startsWith('HTTP_') ? undefined : (p) => !BEFORE_REQUEST.has(p)) }))
    .sort((a, b) => b.n - a.n || a.code.localeCompare(b.code));
  const firsts = byCode.flatMap((c) => (c.firstAtS === null ? [] : [c.firstAtS]));
  return { byCode, total: byCode.reduce((a, c) => a + c.n, 0), firstAtS: firsts.length > 0 ? Math.min(...firsts) : null };
}

/** A host's ports toward its busiest destination over the run. */
interface Depletion {
  dest: string | null;
  usable: number | null;
  peakUtil: number;
  peakInUse: number | null;
  peakTimeWait: number | null;
  ranOut: boolean;
}

function depletionOf(h: HostView, seconds: readonly HostSecond[]): Depletion | null {
  const busiest = h.destinations[0] ?? null;
  const usable = usableOf(h);
  const utils = [...seconds.map((e) => e.sockets?.utilization ?? null), busiest?.peakUtilization ?? null, h.ports?.peakUtilization ?? null];
  const known = utils.filter((u): u is number => u !== null);
  const peakTimeWait = busiest?.peakTimeWait ?? null;
  const twAtBudget = usable !== null && usable > 0 && peakTimeWait !== null && peakTimeWait >= RAN_OUT * usable;
  if (known.length === 0 && !twAtBudget) return null;
  const peakUtil = Math.max(0, ...known);
  return {
    dest: busiest?.dest ?? h.ports?.busiestDestination ?? null,
    usable,
    peakUtil,
    peakInUse: busiest?.peakInUse ?? h.ports?.peakInUse ?? null,
    peakTimeWait,
    ranOut: peakUtil >= RAN_OUT || twAtBudget,
  };
}

/** When the host's ports reached their peak band: the first such second, and a time within it. */
interface Onset {
  second: number;
  /** Interpolated from the rise before it; `second` itself when the rise is unknown. */
  atS: number;
  /** The second before was not seen (or the onset is the first second): the ports may have run out earlier. */
  unseenBefore: boolean;
}

/**
 * The first second whose utilization reached the peak band (within 5 points of the peak), and when
 * within it: a second's figure is its last scan, so the ports ran out after the previous second's
 * figure; at the rise of that second (its utilization less the one before, else the host's
 * ActiveOpens ÷ usable ports) they reached this second's figure `(u − u₋₁) / rise` later.
 */
function onsetOf(h: HostView, seconds: readonly HostSecond[], d: Depletion): Onset | null {
  const util = (t: number): number | null => seconds.find((e) => e.t === t)?.sockets?.utilization ?? baselineUtil(h, d, t);
  const hit = seconds.find((e) => e.sockets?.utilization != null && e.sockets.utilization >= d.peakUtil - 0.05);
  if (!hit) return null;
  const t = hit.t;
  const prev = util(t - 1);
  if (prev === null || t === 0) return { second: t, atS: t, unseenBefore: true };
  const before = util(t - 2);
  const opens = seconds.find((e) => e.t === t - 1)?.counters?.['ActiveOpens'];
  const slope = before === null ? null : prev - before;
  const rise = slope !== null && slope > 0 ? slope : typeof opens === 'number' && opens > 0 && d.usable ? opens / d.usable : null;
  const within = rise === null ? 0 : Math.min(1, Math.max(0, (hit.sockets!.utilization! - prev) / rise));
  return { second: t, atS: Math.round((t + within) * 100) / 100, unseenBefore: false };
}

/** Utilization before the run (t = −1) from the host's baseline scan; null otherwise or when unknown. */
function baselineUtil(h: HostView, d: Depletion, t: number): number | null {
  const by = h.monitor.baseline?.byDestination;
  if (t !== -1 || !by || !d.usable) return null;
  return (by.find((b) => b.dest === d.dest)?.inUse ?? 0) / d.usable;
}

/** The port hold on the host toward `dest`, from its settings; null when they are unknown. */
function holdOf(h: HostView, dest: string | null): Hold | null {
  return h.host ? portHold(h.host, dest !== null && isLoopbackHost(dest)) : null;
}

/**
 * `upstream-port-exhaustion` on host `h`: critical when its busiest destination's ports ran out (≥ 95 %
 * in use, or TIME_WAIT toward it at the budget) and the client saw upstream-kind failures; a
 * warning when they ran out unseen by the client, or more than half were in use (unless TIME_WAIT
 * ports come back sooner there: tcp_tw_reuse).
 */
export function upstreamPortExhaustion(f: Facts, h: HostView): Verdict | null {
  if (!ORIGINATING_ROLES.has(h.role)) return null;
  const seconds = secondsOf(h);
  const d = depletionOf(h, seconds);
  if (!d) return null;
  const hold = holdOf(h, d.dest);
  const recycled = hold !== null && hold.holdS < (h.host?.timeWaitS ?? hold.holdS);
  if (!d.ranOut && (d.peakUtil < 0.5 || recycled)) return null;
  const evidence = [portSentence(h, d)];
  const advice = upstreamAdvice(h, d, hold);
  if (!d.ranOut) {
    evidence.push(...timeWaitSentences(h, d, hold, seconds));
    const caveat = coverageCaveat(h);
    if (caveat) evidence.push(caveat);
    const atS = seconds.find((e) => (e.sockets?.utilization ?? 0) >= 0.5)?.t ?? null;
    return { verdict: 'upstream-port-exhaustion', severity: 'warning', confidence: weighedByCoverage(h, 0.6), atS, evidence, advice };
  }
  const onset = onsetOf(h, seconds, d);
  if (onset) evidence.push(`Its ports reached that level at ≈ ${sec(onset.atS)} (first seen in the second from t = ${onset.second} s).`);
  evidence.push(...timeWaitSentences(h, d, hold, seconds));
  const failures = upstreamFailures(f.r);
  const judged = failures.total > 0 ? correlate(f, h, seconds, onset, failures, evidence) : unseenByClient(evidence);
  evidence.push(clientPortSentence(f));
  let confidence = judged.confidence;
  if (onset?.unseenBefore && onset.second > 0) {
    evidence.push(`Evidence is mixed: ${hostWords(h)} was not seen in the second before t = ${onset.second} s, so its ports may have run out earlier.`);
    confidence -= 0.1;
  }
  const caveat = coverageCaveat(h);
  if (caveat) evidence.push(caveat);
  const share = failures.total / Math.max(1, f.finished);
  const severity = failures.total > 0 && share >= 0.01 ? 'critical' : 'warning';
  const atS = onset?.atS ?? failures.firstAtS;
  return { verdict: 'upstream-port-exhaustion', severity, confidence: weighedByCoverage(h, Math.round(confidence * 100) / 100), atS, evidence, advice };
}

/** "Host service ran out of ports toward 198.18.2.2:8080: up to 500 of its 500 usable ports (100 %; ip_local_port_range …) were in use, …". */
function portSentence(h: HostView, d: Depletion): string {
  const toward = d.dest ? ` toward ${d.dest}` : ' toward its busiest destination';
  const range = rangeWords(h);
  const budget = d.usable === null ? 'its usable ports' : `its ${num(d.usable)} usable ports`;
  const share = `${pct(d.peakUtil)}${range ? `; ip_local_port_range ${range}` : ''}`;
  const used = d.peakInUse === null ? `${pct(d.peakUtil)} of ${budget}${range ? ` (ip_local_port_range ${range})` : ''}` : `up to ${num(d.peakInUse)} of ${budget} (${share})`;
  const tw = d.peakTimeWait === null ? '' : `, ${num(d.peakTimeWait)} in TIME_WAIT`;
  const head = d.ranOut ? `${capitalized(hostWords(h))} ran out of ports${toward}` : `No port ran out on ${hostWords(h)}, but ports${toward} ran low`;
  return `${head}: ${used} were in use${tw} (watched from ${h.address}).`;
}

/** Who held the ports (TIME_WAIT: the host closes first; open connections: a slow backend), and what the budget sustains. */
function timeWaitSentences(h: HostView, d: Depletion, hold: Hold | null, seconds: readonly HostSecond[]): string[] {
  const out: string[] = [];
  if (d.peakTimeWait !== null && d.peakInUse !== null && d.peakInUse > 0) {
    if (d.peakTimeWait >= 0.8 * d.peakInUse) {
      out.push(`Most of them were in TIME_WAIT: ${hostWords(h)} closes its upstream connections first, one per request, as a proxy without upstream keep-alive (nginx proxy_pass without keepalive) or an HTTP client without a connection pool does.`);
    } else {
      out.push(`Only ${num(d.peakTimeWait)} of them were in TIME_WAIT: the rest were open connections (a slow backend, or a pool larger than it serves), so the backend's speed and the pool's size matter more than TIME_WAIT.`);
    }
  }
  const opens = Math.max(0, ...seconds.map((e) => e.counters?.['ActiveOpens'] ?? 0));
  if (hold && d.usable) {
    const opened = opens > 0 ? `; ${h.name} opened up to ${num(opens)} connections/s (ActiveOpens)` : '';
    const held = hold.holdS >= 10 ? `${num(hold.holdS)} s` : sec(hold.holdS);
    out.push(`Held ≈ ${held} each after close (${hold.reason}), ${num(d.usable)} ports sustain ≈ ${num(sustainableRate(d.usable, hold.holdS))} new connections/s toward one backend address${opened}.`);
  }
  return out;
}

/** How the client's failures line up with the host's depletion: codes, lag, correlation; the confidence they earn. */
function correlate(f: Facts, h: HostView, seconds: readonly HostSecond[], onset: Onset | null, failures: UpstreamFailures, evidence: string[]): { confidence: number } {
  const codes = failures.byCode.map((c) => `${c.code} ${num(c.n)}${c.firstAtS === null ? '' : ` (from ${sec(c.firstAtS)})`}`).join(', ');
  evidence.push(`The client saw ${num(failures.total)} of ${num(f.finished)} requests (${pct(failures.total / Math.max(1, f.finished))}) fail as a proxy or an application answers when its own connect() fails: ${codes}.`);
  const tol = timingTolerance(h);
  let confidence = 0.9;
  if (!onset || failures.firstAtS === null) {
    evidence.push(`Evidence is mixed: ${onset ? 'when the client\'s failures began is unknown' : `${hostWords(h)}'s seconds give no onset (no utilization per second)`}, so the lag between them is unknown.`);
    confidence = 0.75;
  } else {
    const lag = Math.round((failures.firstAtS - onset.atS) * 100) / 100;
    const when = lag >= 0 ? `${sec(lag)} after` : `${sec(-lag)} before`;
    evidence.push(`Lag: the client's failures began ${when} ${h.name}'s ports ran out (±${sec(tol.seconds)}: ${tol.why}).`);
    const before = failuresBefore(f, onset.second);
    if (lag < -tol.seconds && before >= 0.2 * failures.total) {
      evidence.push(`Evidence is mixed: ${num(before)} of the client's failures came before ${h.name} ran out of ports: something else failed first (see the other verdicts), or the clocks disagree.`);
      confidence = 0.6;
    } else if (lag < -tol.seconds) {
      const few = before > 0 ? `, ${num(before)} of them in the seconds before,` : '';
      evidence.push(`Evidence is mixed: the client's first failure came ${sec(-lag)} before ${h.name} ran out of ports${few} while most came after.`);
      confidence = 0.8;
    } else if (lag > Math.max(10, 3 * tol.seconds)) {
      evidence.push(`Evidence is mixed: the client's failures began only ${sec(lag)} after the depletion; a service failing at once on its upstream answers sooner.`);
      confidence = 0.7;
    }
  }
  const c = seriesCorrelation(f, seconds);
  if (c) {
    evidence.push(`Over the ${num(c.n)} seconds both were seen, ${h.name}'s utilization and the client's failure rate correlate at ${c.r.toFixed(2)}.`);
    if (c.r >= 0.7 && confidence >= 0.9) confidence = 0.95;
  }
  return { confidence };
}

/** The host ran out, yet no client failure of the upstream kind came. */
function unseenByClient(evidence: string[]): { confidence: number } {
  evidence.push('The client saw no failures of the upstream kind (5xx, resets, timeouts): the host retried, queued or answered otherwise; at more load or for longer it fails.');
  return { confidence: 0.7 };
}

/** The client's upstream-kind failures in the seconds before `second`. */
function failuresBefore(f: Facts, second: number): number {
  let n = 0;
  for (const e of f.timeline) if (e.t < second) for (const [code, k] of Object.entries(e.errors)) if (isUpstreamFailure(code, null)) n += k;
  return n;
}

/** Pearson correlation of the host's utilization with the client's upstream-kind failure rate, over the seconds both were seen (an unseen second is left out, never a zero). */
function seriesCorrelation(f: Facts, seconds: readonly HostSecond[]): { r: number; n: number } | null {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of seconds) {
    const u = s.sockets?.utilization;
    const e = f.timeline.find((x) => x.t === s.t);
    if (u == null || !e || e.completed + e.failed <= 0) continue;
    const failed = Object.entries(e.errors).reduce((a, [code, k]) => a + (isUpstreamFailure(code, null) ? k : 0), 0);
    xs.push(u);
    ys.push(failed / (e.completed + e.failed));
  }
  const r = pearson(xs, ys);
  return r === null ? null : { r, n: xs.length };
}

/** How far apart the host's and the client's times can be: its scan spacing and its clock's offset error. */
function timingTolerance(h: HostView): { seconds: number; why: string } {
  const scan = h.monitor.effectiveScanIntervalS > 0 ? h.monitor.effectiveScanIntervalS : h.monitor.scanIntervalS > 0 ? h.monitor.scanIntervalS : 1;
  const unc = h.clock.uncertaintyMs;
  const clock =
    h.clock.method === 'local' ? '' : unc === null ? ', and its clock was aligned by wall-clock time with an unknown error' : `, and its clock offset is known to ±${ms(unc)}`;
  return { seconds: scan + (unc ?? 0) / 1000, why: `its scans were ${sec(scan)} apart${clock}` };
}

/** Whether the client's own ports ran out too, or stayed safe. */
function clientPortSentence(f: Facts): string {
  if (f.signalTotal > 0) return 'The client\'s own ports ran out too (see client-port-exhaustion on host client): both verdicts hold, each on its host.';
  const util = f.r.ports?.peakUtilization ?? null;
  return util === null
    ? 'The client\'s own port use is unknown, and no request failed for lack of a client port.'
    : `The client's own ports stayed safe (peak utilization ${pct(util)}): the ports that ran out are the host's, toward its backend.`;
}

/** Advice about the host that ran out (never the load generator's connection reuse: that is the client's verdict). */
function upstreamAdvice(h: HostView, d: Depletion, hold: Hold | null): string[] {
  const backend = d.dest ?? 'the backend';
  const out = [
    `On ${hostWords(h)}, if it is nginx: keep upstream connections open with upstream backend { server ${backend}; keepalive 32; } and, where it proxies, proxy_http_version 1.1; and proxy_set_header Connection ""; (without them nginx opens and closes one upstream connection per request).`,
    `If ${h.name} is an application: give its HTTP client a connection pool with keep-alive (one shared client, not one per request) sized for the requests in flight; new upstream connections/s = requests/s ÷ requests per connection.`,
  ];
  const platform = h.host?.platform ?? 'linux';
  if (platform === 'linux' && (d.usable === null || d.usable < WIDEST_RANGE)) {
    const range = rangeWords(h);
    const now = d.usable === null ? '' : range ? ` (now ${range}, ${num(d.usable)} ports)` : ` (now ${num(d.usable)} ports)`;
    const rate = hold ? `: ${num(WIDEST_RANGE)} ports sustain ≈ ${num(sustainableRate(WIDEST_RANGE, hold.holdS))}/s per backend address` : '';
    out.push(`Widen net.ipv4.ip_local_port_range on ${h.name} to "1024 65535"${now}${rate}.`);
  }
  if (platform === 'linux' && h.host?.tcpTwReuse !== 1 && (hold === null || hold.holdS > 1.5)) {
    const delay = h.host?.tcpTwReuseDelayMs ?? 1000;
    const now = h.host?.tcpTwReuse == null ? '' : ` (now ${h.host.tcpTwReuse})`;
    out.push(`Set net.ipv4.tcp_tw_reuse=1 on ${h.name}${now}: its connect() may then take a TIME_WAIT port after ${num(delay)} ms; both ends need TCP timestamps.`);
  }
  out.push(`Spread the upstream over more backend addresses or ports (more servers in the upstream, or more listening ports): each backend ip:port has its own ${d.usable === null ? '' : `${num(d.usable)} `}ports on ${h.name}.`);
  return out;
}
