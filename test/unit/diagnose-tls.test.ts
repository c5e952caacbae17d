/** The TLS and DNS verdicts on synthetic run records (test/helpers/synthetic-tls.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectionAttempts } from '../../src/analysis/capacity.js';
import { diagnose } from '../../src/analysis/diagnose.js';
import { explainTlsCode } from '../../src/analysis/diagnose-tls.js';
import { analyzeExhaustion, isExhaustionSignal } from '../../src/analysis/exhaustion.js';
import type { RunRecord, TimelineEntry, Verdict, VerdictId } from '../../src/record/types.js';
import { clientCloseTimeline, entry, sockets, syntheticRecord, type SyntheticOptions } from '../helpers/synthetic-record.js';
import { withDns, withTls, type TlsRun } from '../helpers/synthetic-tls.js';

const ids = (r: RunRecord) => diagnose(r).map((v) => v.verdict);
function verdict(r: RunRecord, id: VerdictId): Verdict {
  const v = diagnose(r).find((x) => x.verdict === id);
  assert.ok(v, `expected ${id} in ${JSON.stringify(ids(r))}`);
  return v;
}
const says = (v: Verdict, ...parts: string[]) => {
  const text = v.evidence.join(' ');
  for (const p of parts) assert.ok(text.includes(p), `evidence lacks ${JSON.stringify(p)}: ${text}`);
};
const advises = (v: Verdict, part: string) => assert.ok(v.advice.some((a) => a.includes(part)), `advice lacks ${JSON.stringify(part)}: ${v.advice.join(' | ')}`);
const advisesNot = (v: Verdict, part: string) => assert.ok(!v.advice.some((a) => a.includes(part)), `advice has ${JSON.stringify(part)}: ${v.advice.join(' | ')}`);

/** 300 new TLS connections/s for 20 s, client closing: ports stay under a quarter of the budget. */
function tlsBound(tls: TlsRun = {}, o: SyntheticOptions = {}): RunRecord {
  const r = syntheticRecord({ timeline: clientCloseTimeline({ rate: () => 300, seconds: 20, usable: 28_232 }), ...o });
  return withTls(r, { handshakeMs: () => 4, processCores: 0.92, hostCores: 1.3, ...tls });
}

/** 1 000 new TLS connections/s, client closing, 28 232 ports: EADDRNOTAVAIL from 28.2 s. */
function tlsExhausted(tls: TlsRun = {}): RunRecord {
  const r = syntheticRecord({
    timeline: clientCloseTimeline({ rate: () => 1000, seconds: 40, usable: 28_232 }),
    errorSamples: [{ code: 'EADDRNOTAVAIL', phase: 'connect', message: 'connect EADDRNOTAVAIL', t: 28.239, localPort: null }],
  });
  return withTls(r, { handshakeMs: () => 4, processCores: 0.95, ...tls });
}

/** Ten seconds at 100/s; from `from` on, `n` a second fail with `code` in `phase`. */
function failingIn(phase: string, code: string, from: number, n: number, o: SyntheticOptions = {}): RunRecord {
  const timeline: TimelineEntry[] = Array.from({ length: 10 }, (_, t) => {
    const failed = t >= from ? n : 0;
    // A lookup that failed opened no connection; a handshake that failed did.
    const opened = phase === 'dns' ? 100 - failed : 100;
    return entry(t, { completed: 100 - failed, failed, errors: failed ? { [code]: failed } : {}, connectionsOpened: opened, sockets: sockets({ utilization: 0.01, timeWait: 100 }) });
  });
  const total = timeline.reduce((a, e) => a + e.failed, 0);
  return syntheticRecord({
    timeline,
    errorsByPhase: { [`${phase}:${code}`]: total },
    errorSamples: [{ code, phase: phase as 'dns', message: `${code} sample`, t: from + 0.2, localPort: null }],
    ...o,
  });
}

describe('tls-handshake-bound', () => {
  it('a client CPU-bound on handshakes with ports well within the budget: the figures, and advice that is not about ports', () => {
    const r = tlsBound({ settings: { sessionResumption: false } });
    assert.deepEqual(ids(r), ['tls-handshake-bound']);
    const v = verdict(r, 'tls-handshake-bound');
    assert.equal(v.severity, 'warning');
    assert.ok(v.confidence >= 0.8);
    assert.equal(v.atS, null);
    says(v, '300/s TLS handshakes (median second)', 'handshake p50 3.9 ms, p99 7.9 ms against connect p50 0.01 ms', "the handshake is 89 % of a request's p50 latency", 'the process used 0.9 of the 1 core the load had (1 worker; the host has 2 CPUs)');
    says(v, '0 of 6 000 handshakes resumed a session (0 %): session resumption was off');
    says(v, 'Ports stayed well within the budget: peak utilization 21 %, no exhaustion error; up to 300/s new connections against a sustainable ≈ 471/s');
    advises(v, 'Turn session resumption on (tls.sessionResumption: true, the default): resumed 0 of 6 000');
    advises(v, 'connection.reuse: true');
    advises(v, 'ECDSA');
    advises(v, 'workers (now 1) up to the host\'s 2 CPUs');
    advises(v, 'The port budget is not the limit');
  });

  it('reads a saturated host when the process figure is missing, and counts the built-in target\'s thread', () => {
    const host = verdict(tlsBound({ processCores: null, hostCores: 1.9 }), 'tls-handshake-bound');
    says(host, "the host's CPUs were 95 % busy (1.9 of 2 cores)");
    // Built-in target: 1 worker + its thread = 2 cores; 0.92 of them is not busy.
    assert.ok(!ids(tlsBound({ hostCores: 0.9 }, { builtin: true })).includes('tls-handshake-bound'));
    const both = verdict(tlsBound({ processCores: 1.8, hostCores: 1.9 }, { builtin: true }), 'tls-handshake-bound');
    says(both, 'of the 2 cores the load had (1 worker + the built-in target');
    advises(both, 'run the target elsewhere');
  });

  it('resumption on and working: no advice to turn it on', () => {
    const v = verdict(tlsBound({ resumed: 0.9 }), 'tls-handshake-bound');
    says(v, '5 400 of 6 000 handshakes resumed a session (90 %).');
    advisesNot(v, 'Turn session resumption on');
    advisesNot(v, 'yet only');
    const none = verdict(tlsBound({ resumed: 0 }), 'tls-handshake-bound');
    advises(none, 'Session resumption was on, yet only 0 of 6 000 handshakes resumed');
  });

  it('not without the evidence: an idle CPU, no CPU figures, cheap handshakes, ports past half', () => {
    const idle = tlsBound({ processCores: 0.2, hostCores: 0.3 });
    assert.deepEqual(ids(idle), ['healthy']);
    const h = verdict(idle, 'healthy');
    assert.ok(h.evidence.some((e) => /^TLS: 6 000 handshakes, 300\/s, p50 4(\.\d)? ms, p99 \d+(\.\d)? ms; 0 % resumed a session\.$/.test(e)), h.evidence.join(' | '));
    assert.deepEqual(ids(tlsBound({ processCores: undefined, hostCores: undefined })), ['healthy']);
    assert.deepEqual(ids(tlsBound({ handshakeMs: () => 0.3 })), ['healthy']);
    // 300/s for 60 s holds 64 % of the ports: approaching exhaustion, not handshake-bound.
    const r = withTls(syntheticRecord({ timeline: clientCloseTimeline({ rate: () => 300, seconds: 60, usable: 28_232 }) }), { handshakeMs: () => 4, processCores: 0.95 });
    assert.ok(!ids(r).includes('tls-handshake-bound'), JSON.stringify(ids(r)));
    // Above the sustainable rate (ports would run out later): not said to be free of the port limit.
    const fast = withTls(syntheticRecord({ timeline: clientCloseTimeline({ rate: () => 600, seconds: 10, usable: 28_232 }) }), { handshakeMs: () => 4, processCores: 0.95 });
    assert.ok(!ids(fast).includes('tls-handshake-bound'), JSON.stringify(ids(fast)));
  });

  it('when ports run out under TLS, client-port-exhaustion stays the verdict; handshake-bound is info from the seconds before', () => {
    const r = tlsExhausted();
    const all = diagnose(r);
    assert.equal(all[0]!.verdict, 'client-port-exhaustion');
    assert.equal(all[0]!.severity, 'critical');
    says(all[0]!, 'TLS, which does not change where TIME_WAIT lands');
    const v = verdict(r, 'tls-handshake-bound');
    assert.equal(v.severity, 'info');
    says(v, 'Before ports ran low (the first 14.0 s, under 50 % of them in use)', '1 000/s TLS handshakes (median second, up to 14.0 s)', 'Ports ran out later all the same (see client-port-exhaustion)');
    advisesNot(v, 'The port budget is not the limit');
    // The exhaustion figures are those of the plain run: the handshakes change nothing there.
    const plain = analyzeExhaustion(syntheticRecord({ timeline: clientCloseTimeline({ rate: () => 1000, seconds: 40, usable: 28_232 }) }));
    const ex = analyzeExhaustion(r);
    assert.deepEqual([ex.predictedAtS, ex.sustainableRate, ex.peakConnectionRate], [plain.predictedAtS, plain.sustainableRate, plain.peakConnectionRate]);
    // With an idle CPU the handshakes were not what held the rate back.
    assert.deepEqual(ids(tlsExhausted({ processCores: 0.1 })), ['client-port-exhaustion']);
  });
});

describe('tls-failures', () => {
  it('a self-signed certificate: named, explained, with the fix', () => {
    const r = failingIn('tls', 'DEPTH_ZERO_SELF_SIGNED_CERT', 0, 100);
    r.target.tls = { servername: 'staging-api.internal', insecure: false, sessionResumption: true, alpn: ['http/1.1'], trust: 'system', clientCertificate: null };
    r.totals.tlsHandshakes = 0;
    r.totals.tlsResumed = 0;
    assert.deepEqual(ids(r), ['tls-failures']);
    const v = verdict(r, 'tls-failures');
    assert.equal(v.severity, 'critical');
    assert.ok(v.confidence >= 0.9);
    assert.equal(v.atS, 0.2);
    says(v, '1 000 of 1 000 requests (100 %) failed in the TLS handshake: DEPTH_ZERO_SELF_SIGNED_CERT 1 000', "DEPTH_ZERO_SELF_SIGNED_CERT: the target's certificate is self-signed.", 'No handshake succeeded.');
    advises(v, 'trust it with tls.ca');
    advises(v, 'tls.insecure: true');
  });

  it('a reset during the handshake is not read as the target going away', () => {
    const r = withTls(failingIn('tls', 'ECONNRESET', 5, 50), { handshakeMs: () => 2 });
    const got = ids(r);
    assert.ok(got.includes('tls-failures') && !got.includes('target-unreachable'), JSON.stringify(got));
    says(verdict(r, 'tls-failures'), 'that alone does not mean the target went away');
  });

  it('explains every kind of code', () => {
    assert.match(explainTlsCode('ERR_TLS_CERT_ALTNAME_INVALID').fix!, /tls\.servername/);
    assert.match(explainTlsCode('CERT_HAS_EXPIRED').why, /expired/);
    assert.match(explainTlsCode('ERR_SSL_WRONG_VERSION_NUMBER').why, /plain HTTP/);
    assert.match(explainTlsCode('TLS_HANDSHAKE_TIMEOUT').why, /timeouts\.tls/);
    assert.match(explainTlsCode('CERT_REVOKED').why, /failed verification \(CERT_REVOKED\)/);
    assert.match(explainTlsCode('ERR_SSL_DECRYPTION_FAILED').why, /OpenSSL refused the handshake \(decryption failed\)/);
  });
});

describe('dns-failures', () => {
  it('lookups failing mid-run: counts by code, when, ports and descriptors, and the UDP truth', () => {
    const r = withDns(failingIn('dns', 'EAI_AGAIN', 5, 30));
    assert.deepEqual(ids(r), ['dns-failures']);
    const v = verdict(r, 'dns-failures');
    assert.equal(v.severity, 'critical');
    assert.equal(v.atS, 5.2);
    says(v, '150 of 1 000 requests (15 %) failed looking up staging-api.internal (dns: per-connection): EAI_AGAIN 150; the first at 5.2 s.');
    says(v, 'EAI_AGAIN: no answer came in time', '850 lookups succeeded', 'At the first failure 1 % of the TCP ports toward the target were in use');
    says(v, 'Descriptors peaked at 40 of a soft limit of 1 024: not the cause.');
    says(v, "TCP's TIME_WAIT sockets do not hold UDP ports", 'not to the TCP port budget');
    advises(v, 'Resolve once (dns: once, the default)');
    advises(v, 'caching resolver');
    advises(v, '/etc/resolv.conf');
  });

  it('a name that never resolves; descriptors at their limit are named', () => {
    const r = withDns(failingIn('dns', 'ENOTFOUND', 0, 100, { monitor: { peakFds: { open: 1020, soft: 1024 } } }));
    const v = verdict(r, 'dns-failures');
    assert.equal(v.confidence, 0.95);
    says(v, 'No lookup succeeded.', 'Descriptors peaked at 1 020 of a soft limit of 1 024: a lookup needs a socket');
    advises(v, 'Check the name staging-api.internal');
    advises(v, 'Raise the open-file limit');
  });

  it('lookups failing while TCP ports run out: the onset is named, and the failed lookups took no port', () => {
    const base = syntheticRecord({
      timeline: clientCloseTimeline({ rate: () => 1000, seconds: 40, usable: 28_232 }).map((e) => (e.t >= 30 ? { ...e, failed: e.failed + 10, completed: e.completed - 10, errors: { ...e.errors, EAI_AGAIN: 10 } } : e)),
      errorSamples: [
        { code: 'EADDRNOTAVAIL', phase: 'connect', message: 'connect EADDRNOTAVAIL', t: 28.239, localPort: null },
        { code: 'EAI_AGAIN', phase: 'dns', message: 'getaddrinfo EAI_AGAIN', t: 30.1, localPort: null },
      ],
    });
    const r = withDns(base);
    r.errorsByPhase = { 'connect:EADDRNOTAVAIL': r.errors['EADDRNOTAVAIL']!, 'dns:EAI_AGAIN': 100 };
    const all = ids(r);
    assert.equal(all[0], 'client-port-exhaustion');
    assert.ok(all.includes('dns-failures'));
    says(verdict(r, 'dns-failures'), 'TCP ports ran out from 28.2 s');
    const e = r.timeline[35]!;
    assert.equal(connectionAttempts(r, e), e.attempted - 10);
    r.scenario.dns = 'once';
    assert.equal(connectionAttempts(r, e), e.attempted);
  });

  it('a resolver that refuses is no refusing target, and a lookup\'s EADDRNOTAVAIL no port exhaustion', () => {
    const refused = withDns(failingIn('dns', 'ECONNREFUSED', 0, 100));
    assert.deepEqual(ids(refused), ['dns-failures']);
    assert.match(verdict(refused, 'dns-failures').evidence.join(' '), /ECONNREFUSED: the resolver refused the query/);
    // The same code on connect is the target refusing.
    assert.ok(ids(failingIn('connect', 'ECONNREFUSED', 0, 100)).includes('target-unreachable'));
    const noPort = withDns(failingIn('dns', 'EADDRNOTAVAIL', 5, 20));
    assert.equal(analyzeExhaustion(noPort).firstAtS, null);
    assert.deepEqual(ids(noPort), ['dns-failures']);
    assert.equal(isExhaustionSignal('EADDRNOTAVAIL', 'dns'), false);
    assert.equal(isExhaustionSignal('EADDRNOTAVAIL', 'connect'), true);
    assert.equal(isExhaustionSignal('EADDRINUSE', 'tls', 'linux'), false);
  });
});

describe('plain HTTP runs', () => {
  it('say nothing of TLS or DNS', () => {
    const r = syntheticRecord();
    assert.deepEqual(ids(r), ['healthy']);
    assert.ok(!diagnose(r)[0]!.evidence.some((e) => /TLS|lookup/.test(e)));
  });
});
