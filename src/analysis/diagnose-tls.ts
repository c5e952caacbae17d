/**
 * Verdicts about TLS: a client that is CPU-bound on handshakes rather than port-bound
 * (`tls-handshake-bound`), and handshakes that failed (`tls-failures`, each code explained). Pure.
 */
import type { TimelineEntry, Verdict } from '../record/types.js';
import { X509_VERIFY_CODES } from '../vocab/failure.js';
import { dec, ms, num, pct, rate, sec } from '../vocab/format.js';
import { connectionAttempts } from './capacity.js';
import { type Facts, phaseFailures } from './diagnose-facts.js';
import { resumedShare, tlsSettingsOf, tlsSummaryOf } from './tls-facts.js';

/** The handshake's median is at least this many times connect()'s, and at least HANDSHAKE_FLOOR_MS. */
const HANDSHAKE_OVER_CONNECT = 5;
const HANDSHAKE_FLOOR_MS = 0.5;
/** The handshake's share of a request's median latency above which handshakes dominate the exchange. */
const HANDSHAKE_SHARE = 0.4;
/** The process is busy at this share of the cores the load had; the host at this share of its CPUs. */
const PROCESS_BUSY = 0.75;
const HOST_BUSY = 0.9;
/** Fewest seconds with handshakes the rule reads. */
const MIN_SECONDS = 3;

function median(xs: number[]): number | null {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The figures of the seconds the handshake rule reads. */
interface HandshakeWindow {
  seconds: TimelineEntry[];
  handshakesPerS: number;
  tlsP50: number;
  tlsP99: number;
  connectP50: number;
  latencyP50: number;
  /** Median cores of the process and of the host over the seconds; null where unknown. */
  processCores: number | null;
  hostCores: number | null;
  /** Highest port utilization over the seconds; null when unknown. */
  peakUtilization: number | null;
  /** Most new connections started in one of the seconds. */
  peakConnectionRate: number;
}

function windowOf(f: Facts, seconds: TimelineEntry[], wholeRun: boolean): HandshakeWindow | null {
  if (seconds.length < MIN_SECONDS) return null;
  const tls = tlsSummaryOf(f.r);
  const tlsP50 = median(seconds.map((e) => e.tlsMs?.p50 ?? NaN)) ?? (wholeRun ? tls?.p50 : undefined);
  const tlsP99 = median(seconds.map((e) => e.tlsMs?.p99 ?? NaN)) ?? (wholeRun ? tls?.p99 : undefined);
  const connectP50 = median(seconds.filter((e) => e.connectionsOpened > 0).map((e) => e.connectMs.p50));
  let latencyP50 = median(seconds.filter((e) => e.completed > 0).map((e) => e.latencyMs.p50));
  // Corrected latency includes the wait for a late start; the uncorrected whole-run figure does not.
  const uncorrected = f.r.latencyUncorrectedMs;
  if (wholeRun && uncorrected.count > 0 && (latencyP50 === null || uncorrected.p50 < latencyP50)) latencyP50 = uncorrected.p50;
  if (tlsP50 == null || tlsP99 == null || connectP50 === null || latencyP50 === null) return null;
  const utils = seconds.map((e) => e.sockets?.utilization).filter((u): u is number => typeof u === 'number');
  return {
    seconds,
    handshakesPerS: median(seconds.map((e) => e.tlsHandshakes ?? 0))!,
    tlsP50,
    tlsP99: wholeRun && tls ? tls.p99 : tlsP99,
    connectP50,
    latencyP50,
    processCores: median(seconds.map((e) => e.cpu?.process ?? NaN)),
    hostCores: median(seconds.map((e) => e.cpu?.host ?? NaN)),
    peakUtilization: utils.length > 0 ? Math.max(...utils) : null,
    peakConnectionRate: Math.max(0, ...seconds.map((e) => connectionAttempts(f.r, e))),
  };
}

/** The cores the load had: its workers (and the built-in target's thread, which shares the process), at most the host's CPUs. */
function loadCores(f: Facts): { cores: number; what: string } {
  const { r } = f;
  const cpus = r.host.cpus > 0 ? r.host.cpus : Infinity;
  const threads = r.workers + (r.target.builtin ? 1 : 0);
  const cores = Math.max(1, Math.min(cpus, threads));
  const parts = `${r.workers} worker${r.workers === 1 ? '' : 's'}${r.target.builtin ? ' + the built-in target' : ''}`;
  return { cores, what: `${parts}; the host has ${r.host.cpus > 0 ? num(r.host.cpus) : 'unknown'} CPUs` };
}

/** Whether the window's seconds show handshakes dominating and the CPU saturated. */
function handshakeBound(f: Facts, w: HandshakeWindow): boolean {
  const dominates = w.tlsP50 >= Math.max(HANDSHAKE_OVER_CONNECT * w.connectP50, HANDSHAKE_FLOOR_MS) && w.latencyP50 > 0 && w.tlsP50 / w.latencyP50 >= HANDSHAKE_SHARE;
  if (!dominates) return false;
  const { cores } = loadCores(f);
  const processBusy = w.processCores !== null && w.processCores >= PROCESS_BUSY * cores;
  const hostBusy = w.hostCores !== null && f.r.host.cpus > 0 && w.hostCores >= HOST_BUSY * f.r.host.cpus;
  return processBusy || hostBusy;
}

function handshakeSentences(f: Facts, w: HandshakeWindow, scope: string): string[] {
  const { r } = f;
  const share = w.tlsP50 / w.latencyP50;
  const out = [
    `${rate(w.handshakesPerS)} TLS handshakes (median second${scope}): handshake p50 ${ms(w.tlsP50)}, p99 ${ms(w.tlsP99)} against connect p50 ${ms(w.connectP50)}; the handshake is ${pct(Math.min(1, share))} of a request's p50 latency (${ms(w.latencyP50)}).`,
  ];
  const { cores, what } = loadCores(f);
  const cpu: string[] = [];
  if (w.processCores !== null) cpu.push(`the process used ${dec(w.processCores, 1)} of the ${num(cores)} core${cores === 1 ? '' : 's'} the load had (${what})`);
  if (w.hostCores !== null && r.host.cpus > 0) cpu.push(`the host's CPUs were ${pct(Math.min(1, w.hostCores / r.host.cpus))} busy (${dec(w.hostCores, 1)} of ${num(r.host.cpus)} cores)`);
  if (cpu.length > 0) out.push(`CPU per second (median): ${cpu.join('; ')}: the client is CPU-bound on handshakes.`);
  const handshakes = r.totals.tlsHandshakes ?? 0;
  const resumed = r.totals.tlsResumed ?? 0;
  const settings = tlsSettingsOf(r);
  const off = settings && !settings.sessionResumption ? ': session resumption was off (tls.sessionResumption: false)' : '';
  out.push(`${num(resumed)} of ${num(handshakes)} handshakes resumed a session (${pct(resumedShare(r) ?? 0)})${off}.`);
  return out;
}

function handshakeAdvice(f: Facts, w: HandshakeWindow, portsAreLimit: boolean): string[] {
  const { r } = f;
  const settings = tlsSettingsOf(r);
  const handshakes = r.totals.tlsHandshakes ?? 0;
  const resumed = r.totals.tlsResumed ?? 0;
  const share = resumedShare(r) ?? 0;
  const advice: string[] = [];
  if (settings && !settings.sessionResumption) {
    advice.push(`Turn session resumption on (tls.sessionResumption: true, the default): resumed ${num(resumed)} of ${num(handshakes)}; a resumed handshake skips the certificate and its signature, a fraction of a full handshake's CPU.`);
  } else if (share < 0.5) {
    advice.push(`Session resumption was on, yet only ${num(resumed)} of ${num(handshakes)} handshakes resumed: the target does not resume sessions (no session cache or tickets, or they expire); turn on session tickets or a session cache there.`);
  }
  if (!r.scenario.connection.reuse) advice.push('Reuse connections (connection.reuse: true, HTTP keep-alive): one handshake then serves many requests.');
  advice.push("Serve an ECDSA (P-256) certificate rather than RSA: the handshake's signature costs a fraction of an RSA-2048 one on both sides.");
  const { cores } = loadCores(f);
  const more = r.host.cpus > r.workers ? ` up to the host's ${num(r.host.cpus)} CPUs` : '';
  const builtin = r.target.builtin ? '; run the target elsewhere, as the built-in one shares this process and its cores' : '';
  advice.push(`Give the client more cores: workers (now ${num(r.workers)})${more}${builtin}, or spread the load over several machines (${num(cores)} core${cores === 1 ? '' : 's'} carried ${rate(w.handshakesPerS)} handshakes here).`);
  if (!portsAreLimit) advice.push('The port budget is not the limit: a wider port range, tcp_tw_reuse or more source addresses will not raise this rate.');
  return advice;
}

/**
 * `tls-handshake-bound`: handshakes take most of each exchange (p50 ≥ 5 × connect's and ≥ 40 % of
 * the request's p50 latency) while the CPU is saturated (the process at ≥ 75 % of the cores the
 * load had, or the host at ≥ 90 % of its CPUs) and ports stay well within their budget (utilization
 * under 50 %, no exhaustion error, new connections/s within the sustainable rate). With exhaustion
 * signals the rule reads only the seconds before ports ran low (under 50 % in use, before the
 * onset), and is then info beside `client-port-exhaustion`. Needs per-second CPU figures.
 */
export function tlsHandshakeBound(f: Facts): Verdict | null {
  const { r, ex } = f;
  if ((r.totals.tlsHandshakes ?? 0) === 0) return null;
  const withHandshakes = f.timeline.filter((e) => (e.tlsHandshakes ?? 0) > 0);
  if (f.signalTotal === 0) {
    const w = windowOf(f, withHandshakes, true);
    if (!w || !handshakeBound(f, w)) return null;
    if (w.peakUtilization !== null && w.peakUtilization >= 0.5) return null;
    const sustainable = f.capacity.sustainableRate;
    if (f.clientTimeWait && sustainable !== null && w.peakConnectionRate > sustainable) return null;
    const evidence = handshakeSentences(f, w, '');
    const util = w.peakUtilization === null ? 'port use unknown (the monitor saw no sockets)' : `peak utilization ${pct(w.peakUtilization)}`;
    const model =
      sustainable === null
        ? ''
        : f.clientTimeWait
          ? `; up to ${rate(w.peakConnectionRate)} new connections against a sustainable ≈ ${rate(sustainable)}`
          : `; the client keeps no TIME_WAIT, so the ${rate(sustainable)} budget does not bind`;
    evidence.push(`Ports stayed well within the budget: ${util}, no exhaustion error${model}.`);
    if (r.totals.dropped > 0) evidence.push(`${num(r.totals.dropped)} requests were dropped: the client could not start them on schedule.`);
    const confidence = w.peakUtilization === null ? 0.7 : 0.85;
    return { verdict: 'tls-handshake-bound', severity: 'warning', confidence, atS: null, evidence, advice: handshakeAdvice(f, w, false) };
  }
  // Ports ran out: only the seconds before they ran low can show what else held the rate back.
  const onset = ex.firstAtS;
  const early = withHandshakes.filter((e) => (onset === null || e.t + 1 <= onset) && (e.sockets?.utilization ?? 0) < 0.5);
  const w = windowOf(f, early, false);
  if (!w || !handshakeBound(f, w)) return null;
  const last = early[early.length - 1]!.t + 1;
  const evidence = [
    `Before ports ran low (the first ${sec(last)}, under 50 % of them in use), the client was also CPU-bound on TLS handshakes:`,
    ...handshakeSentences(f, w, `, up to ${sec(last)}`),
    'Ports ran out later all the same (see client-port-exhaustion): TLS does not change where TIME_WAIT lands, and more cores would only bring the onset sooner.',
  ];
  return { verdict: 'tls-handshake-bound', severity: 'info', confidence: 0.6, atS: null, evidence, advice: handshakeAdvice(f, w, true) };
}

const VERIFY_CODES = new Set(Object.values(X509_VERIFY_CODES));

/** What a TLS failure code means, and what fixes it. */
export function explainTlsCode(code: string): { why: string; fix: string | null } {
  switch (code) {
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return { why: "the target's certificate is self-signed", fix: 'trust it with tls.ca (its PEM file) or accept it with tls.insecure: true (staging only: nothing is verified then)' };
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return { why: "the target's chain ends in a self-signed CA this client does not trust", fix: 'give that CA as tls.ca' };
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return { why: "the certificate's issuer is not trusted here, or the target does not send its intermediate certificates", fix: 'give the issuing CA as tls.ca, or have the target send its full chain' };
    case 'CERT_HAS_EXPIRED':
      return { why: "the target's certificate has expired (its notAfter is past)", fix: 'renew the certificate on the target (tls.insecure accepts it meanwhile, verifying nothing)' };
    case 'CERT_NOT_YET_VALID':
      return { why: "the target's certificate is not valid yet (its notBefore is ahead)", fix: "check the clocks of this host and of the certificate's issuer" };
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return { why: 'the certificate does not cover the name checked (the URL\'s host, or tls.servername)', fix: 'set tls.servername to a name the certificate covers, or reissue it with the name in its subjectAltName' };
    case 'TLS_HANDSHAKE_TIMEOUT':
      return { why: 'handshakes did not finish within timeouts.tls', fix: 'the target (or this client\'s CPU) is slow at handshakes: see its CPU, lower the rate, or raise timeouts.tls' };
    case 'ECONNRESET':
      return {
        why: 'the target reset the connection during the handshake: it refused it (a protocol version, cipher or client certificate it does not accept) or shed it under load; that alone does not mean the target went away',
        fix: "read the target's TLS log for these connections",
      };
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return { why: 'the target did not answer in TLS: it speaks plain HTTP on that port', fix: 'use an http:// target, or the port the target serves TLS on' };
    case 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA':
    case 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE':
    case 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED':
      return { why: 'the target rejected (or wanted) a client certificate', fix: 'give a client certificate the target trusts as tls.cert and tls.key' };
    case 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE':
    case 'ERR_SSL_NO_PROTOCOLS_AVAILABLE':
    case 'ERR_SSL_UNSUPPORTED_PROTOCOL':
      return { why: 'client and target share no protocol version or cipher', fix: "compare the target's TLS versions and ciphers with Node's defaults" };
  }
  if (VERIFY_CODES.has(code)) return { why: `the target's certificate failed verification (${code})`, fix: 'fix the certificate or its chain, or trust its CA with tls.ca' };
  if (/^ERR_SSL_/.test(code)) return { why: `OpenSSL refused the handshake (${code.slice(8).toLowerCase().replace(/_/g, ' ')})`, fix: null };
  if (/^ERR_TLS_/.test(code)) return { why: `Node's TLS layer refused the handshake (${code})`, fix: null };
  return { why: 'the connection ended during the handshake', fix: null };
}

/** `tls-failures`: handshakes that failed (phase `tls`), each code explained. */
export function tlsFailures(f: Facts): Verdict | null {
  const { r } = f;
  const codes = phaseFailures(r, 'tls');
  const total = codes.reduce((a, [, n]) => a + n, 0);
  if (total === 0) return null;
  const share = total / Math.max(1, f.finished);
  const samples = r.errorSamples.filter((s) => s.phase === 'tls');
  const first = samples.length > 0 ? Math.min(...samples.map((s) => s.t)) : null;
  const list = codes.slice(0, 5).map(([c, n]) => `${c} ${num(n)}`).join(', ');
  const evidence = [`${num(total)} of ${num(f.finished)} requests (${pct(share)}) failed in the TLS handshake: ${list}${first === null ? '' : `; the first at ${sec(first)}`}.`];
  const advice: string[] = [];
  for (const [code] of codes.slice(0, 5)) {
    const { why, fix } = explainTlsCode(code);
    evidence.push(`${code}: ${why}.`);
    if (fix) advice.push(`${code}: ${fix}.`);
  }
  const handshakes = r.totals.tlsHandshakes ?? 0;
  if (handshakes > 0) evidence.push(`${num(handshakes)} handshakes succeeded.`);
  else evidence.push('No handshake succeeded.');
  const settings = tlsSettingsOf(r);
  if (settings?.insecure) evidence.push('tls.insecure was on: the certificate was not verified, so these are not verification failures.');
  const certificate = codes.some(([c]) => VERIFY_CODES.has(c));
  const severity: Verdict['severity'] = share >= 0.05 ? 'critical' : 'warning';
  return { verdict: 'tls-failures', severity, confidence: certificate ? 0.95 : 0.8, atS: first, evidence, advice: advice.length > 0 ? advice : ["Read the target's TLS log for the failing handshakes."] };
}
