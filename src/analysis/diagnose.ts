/**
 * What happened in a run and why: verdicts with evidence quoted from the run record and concrete
 * advice. Pure: a run record in, verdicts out.
 */
import type { Exhaustion, LabPrediction, RunRecord, Verdict } from '../record/types.js';
import { counterSum, type Facts, factsOf, peakOver } from './diagnose-facts.js';
import { ms, num, pct, rate, sec } from '../vocab/format.js';
import { conntrackFull, fdExhaustion, listenBacklogOverflow, targetUnreachable } from './diagnose-other.js';
import { clientPortExhaustion, destinationSentences, noClientTimeWait, secondsLeftAtPeak, serverTimeWait, timeWaitBucketOverflow } from './diagnose-ports.js';
import { sourceAddressUnavailable } from './diagnose-sources.js';
import { dnsFailures } from './diagnose-dns.js';
import { tlsFailures, tlsHandshakeBound } from './diagnose-tls.js';
import { resumedShare, tlsSummaryOf } from './tls-facts.js';
import { analyzeExhaustion } from './exhaustion.js';
import { upstreamPortExhaustion } from './diagnose-upstream.js';
import { capitalized, coverageCaveat, hostWords, usableOf } from './host-evidence.js';
import { CLIENT_HOST, type HostView } from './hosts.js';
import { snatPortExhaustion } from './diagnose-snat.js';
import { labPrediction } from './lab-prediction.js';

const SEVERITY_RANK: Record<Verdict['severity'], number> = { critical: 0, warning: 1, info: 2 };

/** The evidence line of a verdict on the JMeter machine when no socket was seen there (`portstorm analyze` without --monitor). */
export const JMETER_NO_SOCKETS = 'No socket samples: run portstorm monitor --out on the JMeter machine during the test.';

/** Failures below this share of finished requests are of no consequence. */
const HEALTHY_ERROR_RATE = 0.001;

/** The rules, in the order verdicts of equal severity are listed. */
const RULES: Array<(f: Facts) => Verdict | null> = [
  sourceAddressUnavailable,
  clientPortExhaustion,
  fdExhaustion,
  conntrackFull,
  targetUnreachable,
  dnsFailures,
  tlsFailures,
  listenBacklogOverflow,
  timeWaitBucketOverflow,
  serverTimeWait,
  tlsHandshakeBound,
];

/** The rules run on each watched host other than the client, from that host's own figures. */
const HOST_RULES: Array<(f: Facts, h: HostView) => Verdict | null> = [
  upstreamPortExhaustion,
  snatPortExhaustion,
  conntrackFull,
  listenBacklogOverflow,
  timeWaitBucketOverflow,
  serverTimeWait,
];

/** The verdict with its host named (second among its fields, as records show it). */
function named(v: Verdict | null, host: string): Verdict | null {
  if (!v) return null;
  const { verdict, host: _ignored, ...rest } = v;
  return { verdict, host, ...rest };
}

/**
 * Diagnoses a run: every verdict whose rule applies, on the client and on every watched host, each
 * naming its host, most severe first (critical, warning, info; then the client's rules in order,
 * then each other host's). `healthy` appears only when no other verdict applies on any host, fewer
 * than 0.1 % of requests failed and no destination used half of its ports; otherwise, failures
 * that none of the known causes explains (e.g. HTTP 5xx) get `other-failures`. Never empty.
 *
 * A lab record with a topology gets its model's onset (`lab.topology.prediction`, {@link labPrediction})
 * written here, the one field this sets on the record, and the verdict on that host quotes it.
 */
export function diagnose(r: RunRecord, ex: Exhaustion = analyzeExhaustion(r)): Verdict[] {
  const f = factsOf(r, ex);
  const found = [
    ...RULES.map((rule) => named(rule(f), CLIENT_HOST)),
    ...f.others.flatMap((h) => HOST_RULES.map((rule) => named(rule(f, h), h.name))),
  ].filter((v): v is Verdict => v !== null);
  const verdicts = withoutSnatDuplicates(found);
  if (r.lab?.topology) {
    const prediction = labPrediction(r);
    r.lab.topology.prediction = prediction;
    if (prediction) quotePrediction(verdicts, prediction);
  }
  if (verdicts.length === 0) verdicts.push(named(healthy(f) ?? otherFailures(f), CLIENT_HOST)!);
  // A JMeter results file alone has no host figures: each verdict on the JMeter machine says so.
  if (r.source === 'jmeter' && !f.socketsSeen) {
    for (const v of verdicts) if (v.host === CLIENT_HOST) v.evidence.push(JMETER_NO_SOCKETS);
  }
  return verdicts
    .map((v, i) => ({ v, i }))
    .sort((a, b) => SEVERITY_RANK[a.v.severity] - SEVERITY_RANK[b.v.severity] || a.i - b.i)
    .map(({ v }) => v);
}

/**
 * Where a host's NAT ran out of ports (`snat-port-exhaustion`, which holds only while its conntrack
 * table is short of full), its insert_failed and drops are that verdict's: `conntrack-full` on the
 * same host would claim them a second time.
 */
function withoutSnatDuplicates(verdicts: Verdict[]): Verdict[] {
  const snat = new Set(verdicts.filter((v) => v.verdict === 'snat-port-exhaustion').map((v) => v.host));
  return verdicts.filter((v) => !(v.verdict === 'conntrack-full' && snat.has(v.host)));
}

/** The lab model's onset against the first failure seen, in the evidence of the verdict on the predicted host. */
function quotePrediction(verdicts: Verdict[], p: LabPrediction): void {
  const v = verdicts.find((x) => x.host === p.host && (x.verdict === 'upstream-port-exhaustion' || x.verdict === 'snat-port-exhaustion'));
  if (!v) return;
  v.evidence.push(predictionSentence(p));
}

/** "Predicted vs observed" for a lab prediction (to the hundredth of a second: the model is that exact). */
export function predictionSentence(p: LabPrediction): string {
  const s = (x: number): string => `${x >= 1000 ? num(x) : String(Math.round(x * 100) / 100)} s`;
  const model = p.basis === 'rate' ? `${num(p.budget)} ports held ≈ ${s(p.holdS)} each` : `${num(p.budget)} ports for the connections open at once`;
  const predicted = p.predictedAtS === null ? 'no exhaustion within the run' : `the first failure at ${s(p.predictedAtS)}`;
  const observed = p.observedAtS === null ? 'none was observed' : `it came at ${s(p.observedAtS)}`;
  const diff = p.predictedAtS !== null && p.observedAtS !== null ? ` (${p.observedAtS >= p.predictedAtS ? '+' : '−'}${s(Math.abs(p.observedAtS - p.predictedAtS))})` : '';
  const late = p.basis === 'concurrency' && p.observedAtS !== null ? '; a connect timeout is reported when it expires, after the SYN was dropped' : '';
  return `Predicted vs observed: the lab's capacity model (${model} on ${p.host}) expected ${predicted}; ${observed}${diff}${late}.`;
}

/** `other-failures`: failures that are none of the resource exhaustions portstorm knows. */
function otherFailures(f: Facts): Verdict {
  const { r } = f;
  const codes = Object.entries(r.errors).sort((a, b) => b[1] - a[1]);
  const share = f.finished > 0 ? f.failed / f.finished : 0;
  const first = r.errorSamples.length > 0 ? Math.min(...r.errorSamples.map((e) => e.t)) : null;
  const where = f.others.length > 0 ? ` on any watched host (${f.hosts.map((h) => h.name).join(', ')})` : '';
  return {
    verdict: 'other-failures',
    severity: share >= 0.05 ? 'critical' : 'warning',
    confidence: 0.8,
    atS: first,
    evidence: [
      `${num(f.failed)} of ${num(f.finished)} requests failed (${pct(share)}): ${codes.slice(0, 5).map(([c, n]) => `${c} ${num(n)}`).join(', ')}.`,
      `No sign of port, file-descriptor, listen-backlog or conntrack exhaustion${where}, and the target was reachable.`,
    ],
    advice: [
      codes.some(([c]) => c.startsWith('HTTP_'))
        ? 'HTTP errors come from the target: read its logs for the failing requests.'
        : 'Look at the target: these failures are not caused by the client running out of resources.',
    ],
  };
}

/** `healthy`: totals, port headroom, and the loopback caution. */
function healthy(f: Facts): Verdict | null {
  const { r, ex } = f;
  const errorRate = f.finished > 0 ? f.failed / f.finished : 0;
  const util = r.ports?.peakUtilization ?? null;
  if (errorRate >= HEALTHY_ERROR_RATE || (util !== null && util >= 0.5 && !f.recycledWithinBudget)) return null;
  const evidence: string[] = [];
  const advice: string[] = [];
  let confidence = 0.9;
  const ended = r.status === 'completed' ? '' : ` (the run ended early: ${r.status})`;
  evidence.push(`${num(r.totals.attempted)} requests in ${sec(r.durationS)}: ${num(r.totals.completed)} completed, ${num(f.failed)} failed (${pct(errorRate)})${ended}.`);
  if (r.ports && util !== null) {
    const recycled = util >= 0.5 && f.recycledWithinBudget ? `, mostly TIME_WAIT that connect() takes over after ≈ ${sec(f.capacity.holdS)}` : '';
    evidence.push(`Peak port utilization ${pct(util)}: ${num(r.ports.peakInUse)} of ${num(r.ports.usable ?? f.usable ?? 0)} ports toward ${r.ports.busiestDestination ?? 'one destination'}${recycled}.`);
  } else {
    evidence.push('The monitor saw no sockets: port use is unknown.');
    confidence = 0.7;
  }
  evidence.push(...destinationSentences(f));
  for (const h of f.others) {
    evidence.push(hostHealth(h));
    const caveat = coverageCaveat(h);
    if (caveat) {
      evidence.push(caveat);
      confidence = Math.min(confidence, 0.7);
    }
  }
  if (ex.sustainableRate !== null && ex.peakConnectionRate !== null) {
    const ratio = ex.sustainableRate > 0 ? ex.peakConnectionRate / ex.sustainableRate : 0;
    const head = `The run opened up to ${num(ex.peakConnectionRate)} new connections/s against a sustainable ≈ ${num(ex.sustainableRate)}/s`;
    const c = f.capacity;
    const why = `${num(c.budget ?? 0)} ports held ≈ ${sec(c.holdS)} after close (${c.holdReason})${c.pools > 1 ? ` in ${c.pools} pools` : ''}`;
    if (!f.clientTimeWait) {
      evidence.push(`${head}, but ${noClientTimeWait(f)}, so that limit does not bind.`);
    } else if (ratio <= 1) {
      evidence.push(`${head}: ${ex.peakConnectionRate > 0 ? `${(1 / ratio).toFixed(1)}× headroom` : 'no new connections'}; ${why}.`);
    } else {
      const left = secondsLeftAtPeak(f);
      const when = left === null ? '' : `: at that rate ports run out after ≈ ${sec(left)}`;
      evidence.push(`${head} (${ratio.toFixed(1)}× it)${when}; this run lasted ${sec(r.durationS)}; ${why}.`);
      if (left !== null && left > r.durationS && !f.loopback) advice.push(`Run longer than ${sec(left)} to see whether ports run out at this rate.`);
    }
  }
  const tls = tlsSummaryOf(r);
  const handshakes = r.totals.tlsHandshakes ?? 0;
  if (tls && handshakes > 0) {
    const perS = r.durationS > 0 ? `, ${rate(handshakes / r.durationS)}` : '';
    evidence.push(`TLS: ${num(handshakes)} handshakes${perS}, p50 ${ms(tls.p50)}, p99 ${ms(tls.p99)}; ${pct(resumedShare(r) ?? 0)} resumed a session.`);
  }
  if (f.loopback && r.host.tcpTwReuse === 2) {
    const recycled = counterSum(f, 'TWRecycled') ?? 0;
    const seen = recycled > 0 ? ` (TWRecycled rose by ${num(recycled)})` : '';
    const predicted = ex.predictedAtS !== null ? `, and the capacity model expected the first failure at ${sec(ex.predictedAtS)}` : '';
    evidence.push(`Caution: the target is on loopback (${r.target.url}) with tcp_tw_reuse=2, which recycles TIME_WAIT ports there${seen}${predicted}: loopback hides exhaustion.`);
    if (f.clientTimeWait) {
      confidence = Math.min(confidence, 0.7);
      advice.push('Repeat the run in portstorm lab (non-loopback addresses in a private network namespace) or with tcp_tw_reuse=0 before trusting it for production.');
    }
  }
  return { verdict: 'healthy', severity: 'info', confidence, atS: null, evidence, advice };
}

/** One watched host's peaks, for `healthy`: its busiest destination's ports, its TIME_WAIT, its server side. */
function hostHealth(h: HostView): string {
  const head = capitalized(hostWords(h));
  const p = h.ports;
  if (!p || !h.timeline.some((e) => e.sockets !== null)) return `${head}: no socket picture in any second, so its ports are unknown.`;
  const usable = usableOf(h);
  const toward = p.busiestDestination ? ` toward ${p.busiestDestination}` : '';
  const util = p.peakUtilization === null ? `up to ${num(p.peakInUse)} ports${toward}` : `peak utilization ${pct(p.peakUtilization)} (${num(p.peakInUse)}${usable === null ? '' : ` of ${num(usable)}`} ports${toward})`;
  const server = peakOver(h.timeline, (s) => s.serverTimeWait);
  const serverWords = server === null ? '' : `, server-side TIME_WAIT up to ${num(server)}`;
  return `${head}: ${util}, up to ${num(p.peakTimeWait)} in TIME_WAIT${serverWords}.`;
}
