import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLoopbackUrl } from '../../src/analysis/diagnose-facts.js';
import { diagnose } from '../../src/analysis/diagnose.js';
import { analyzeExhaustion } from '../../src/analysis/exhaustion.js';
import type { RunRecord, TimelineEntry, Verdict, VerdictId } from '../../src/record/types.js';
import { clientCloseTimeline, entry, sockets, syntheticRecord, type SyntheticOptions } from '../helpers/synthetic-record.js';

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
const mixed = (v: Verdict) => v.evidence.some((e) => e.startsWith('Evidence is mixed'));

/** 1 000 new connections/s, client closes first, 28 232 ports: EADDRNOTAVAIL from 28.2 s. */
function exhausted(o: SyntheticOptions = {}, map: (e: TimelineEntry) => TimelineEntry = (e) => e): RunRecord {
  return syntheticRecord({
    timeline: clientCloseTimeline({ rate: () => 1000, seconds: 40, usable: 28_232 }).map(map),
    errorSamples: [{ code: 'EADDRNOTAVAIL', phase: 'connect', message: 'connect EADDRNOTAVAIL', t: 28.239, localPort: null }],
    ...o,
  });
}

/** Ten seconds at 100/s; seconds from `from` on fail with `code` (`share` of them). */
function failing(code: string, from: number, share = 1, o: SyntheticOptions = {}): RunRecord {
  const timeline = Array.from({ length: 10 }, (_, t) => {
    const failed = t >= from ? Math.round(100 * share) : 0;
    return entry(t, { completed: 100 - failed, failed, errors: failed ? { [code]: failed } : {}, sockets: sockets({ utilization: 0.01, timeWait: 100 }) });
  });
  return syntheticRecord({ timeline, ...o });
}

describe('client-port-exhaustion', () => {
  it('critical, high confidence, with the figures, the model, the early warning and concrete advice', () => {
    const r = exhausted();
    assert.deepEqual(ids(r), ['client-port-exhaustion']);
    const v = verdict(r, 'client-port-exhaustion');
    assert.equal(v.severity, 'critical');
    assert.ok(v.confidence >= 0.9);
    assert.equal(v.atS, 28.239);
    says(v, '11 768 of 40 000 requests (29 %) failed with EADDRNOTAVAIL', 'at 28.2 s', '100 % of its 28 232 usable ports', '≈ 471 new connections/s', 'up to 1 000/s', 'The model put the first failure at 28.2 s', 'connect p50 rose from 0.01 ms to 0.7 ms at t = 15 s');
    says(v, 'Why 60 s: tcp_tw_reuse=2 recycles TIME_WAIT ports toward loopback only', 'per (source, destination ip:port)', 'TIME_WAIT side: client (seen by the monitor');
    assert.ok(!mixed(v));
    advises(v, '3 or more requests per connection');
    advises(v, 'tcp_tw_reuse=1 (now 2)');
    advises(v, '1 075/s');
    advises(v, 'connection.close: reset');
    advises(v, 'more destination IPs or ports');
    assert.ok(!verdict(exhausted({ host: { tcpTwReuse: 1 } }), 'client-port-exhaustion').advice.some((a) => a.includes('tcp_tw_reuse')));
  });

  it('lowers confidence when the monitor saw no sockets', () => {
    const v = verdict(exhausted({ ports: null, monitor: { enabled: false } }, (e) => ({ ...e, sockets: null })), 'client-port-exhaustion');
    assert.ok(v.confidence <= 0.75, String(v.confidence));
    assert.ok(mixed(v));
    says(v, 'the monitor saw no sockets (it was off)', 'capacity model');
  });

  it('lowers confidence when few ports were in use at the onset, and gives both readings', () => {
    const v = verdict(failing('EADDRNOTAVAIL', 5, 0.5), 'client-port-exhaustion');
    assert.equal(v.confidence, 0.6);
    says(v, 'Evidence is mixed: only 1 % of the ports', 'NAT gateway', 'another cause');
  });

  it('explains EADDRINUSE on connect with source addresses (implicit bind)', () => {
    const r = failing('EADDRINUSE', 4, 0.5, { connection: { localAddresses: ['198.18.0.1'] } });
    const v = verdict(r, 'client-port-exhaustion');
    says(v, 'EADDRINUSE on connect', 'bound before connect() without IP_BIND_ADDRESS_NO_PORT', 'exclusive to that source across all destinations');
    assert.ok(!v.advice.some((a) => a.includes('more destination IPs')), 'bind(): more destinations do not help');
    advises(v, 'Add source IP addresses');
    // EADDRINUSE outside connect is no exhaustion signal: the failures stay unexplained.
    assert.deepEqual(ids(failing('EADDRINUSE', 4, 0.5, { errorsByPhase: { 'send:EADDRINUSE': 300 } })), ['other-failures']);
  });

  it('with a bound source address, judges use over all destinations (DOMAIN.md: 500 ports, two destinations)', () => {
    const timeline = Array.from({ length: 4 }, (_, t) =>
      entry(t, {
        attempted: 500,
        completed: t === 0 ? 500 : 0,
        failed: t === 0 ? 0 : 500,
        errors: t === 0 ? {} : { EADDRINUSE: 500 },
        sockets: sockets({ timeWait: 500, ephemeralInUse: 500, utilization: 0.5 }),
      }),
    );
    const r = syntheticRecord({
      timeline,
      host: { usablePorts: 500 },
      connection: { localAddresses: ['198.18.0.1'] },
      errorSamples: [{ code: 'EADDRINUSE', phase: 'connect', message: 'connect EADDRINUSE', t: 1.004, localPort: null }],
    });
    const v = verdict(r, 'client-port-exhaustion');
    assert.ok(v.confidence >= 0.9, String(v.confidence));
    assert.ok(!mixed(v));
    says(v, '1 500 of 2 000 requests (75 %) failed with EADDRINUSE on connect', 'The model put the first failure at 1.0 s; it came at 1.0 s');
  });

  it('a warning, not critical, when more than half of the ports were used but none ran out', () => {
    const timeline = Array.from({ length: 10 }, (_, t) => entry(t, { sockets: sockets({ utilization: 0.07 * t, timeWait: 2000 * t }) }));
    const v = verdict(syntheticRecord({ timeline }), 'client-port-exhaustion');
    assert.equal(v.severity, 'warning');
    assert.equal(v.atS, 8);
    says(v, '63 %');
  });
});

describe('server TIME_WAIT vs client exhaustion', () => {
  it('close: server with a pile of server TIME_WAIT and safe client ports: server-time-wait only', () => {
    const timeline = Array.from({ length: 20 }, (_, t) => entry(t, { attempted: 1000, sockets: sockets({ serverTimeWait: 1000 * (t + 1), timeWait: 1000 * (t + 1), utilization: 0.002 }) }));
    const r = syntheticRecord({ timeline, connection: { close: 'server' }, builtin: true, targetStats: { connectionsAccepted: 20_000, requests: 20_000, closedByServer: 20_000, closedByClient: 0, resetByClient: 0, open: 0 } });
    assert.deepEqual(ids(r), ['server-time-wait']);
    const v = verdict(r, 'server-time-wait');
    assert.equal(v.severity, 'warning');
    says(v, 'Up to 20 000 TIME_WAIT sockets were on the server side', '15 % of tcp_max_tw_buckets', 'close: server', 'closed 20 000 of 20 000');
    advises(v, 'keep-alive');
  });

  it('client TIME_WAIT with EADDRNOTAVAIL: client-port-exhaustion, not server-time-wait', () => {
    const r = exhausted({}, (e) => ({ ...e, sockets: e.sockets && { ...e.sockets, serverTimeWait: 5000 } }));
    assert.deepEqual(ids(r), ['client-port-exhaustion']);
  });
});

describe('fd-exhaustion vs client-port-exhaustion', () => {
  const fds = { monitor: { peakFds: { open: 1020, soft: 1024 } } };
  it('EMFILE alone: fd-exhaustion with the descriptor figures', () => {
    const r = failing('EMFILE', 3, 0.4, fds);
    assert.deepEqual(ids(r), ['fd-exhaustion']);
    const v = verdict(r, 'fd-exhaustion');
    assert.equal(v.atS, 3);
    assert.ok(v.confidence >= 0.9);
    says(v, '280 of 1 000 requests (28 %) failed with EMFILE', 'had up to 1 020 descriptors open against a soft limit of 1 024', 'soft 1 024, hard 4 096');
    advises(v, 'ulimit -n 4096');
  });

  it('EADDRNOTAVAIL alone: no fd verdict', () => {
    assert.deepEqual(ids(exhausted()), ['client-port-exhaustion']);
  });

  it('both: two verdicts, each pointing at the other', () => {
    const r = exhausted(fds, (e) => (e.t === 10 ? { ...e, completed: e.completed - 50, failed: 50, errors: { EMFILE: 50 } } : e));
    assert.deepEqual(ids(r), ['client-port-exhaustion', 'fd-exhaustion']);
    says(verdict(r, 'fd-exhaustion'), 'EADDRNOTAVAIL also occurred (11 768, from 28.2 s)');
    says(verdict(r, 'client-port-exhaustion'), 'EMFILE/ENFILE failures also occurred (50)');
  });
});

describe('target-unreachable: refused from the start vs after a while', () => {
  it('from the start: critical, for the whole run', () => {
    const v = verdict(failing('ECONNREFUSED', 0), 'target-unreachable');
    assert.equal(v.severity, 'critical');
    assert.equal(v.atS, null);
    assert.ok(v.confidence >= 0.9);
    says(v, '1 000 of 1 000 requests (100 %) failed with ECONNREFUSED', 'no request completed before', '198.18.0.2:8080');
  });

  it('after a while: a warning from the second refusals began', () => {
    const r = failing('ECONNREFUSED', 5, 1, { errorSamples: [{ code: 'ECONNREFUSED', phase: 'connect', message: '', t: 5.3, localPort: null }] });
    const v = verdict(r, 'target-unreachable');
    assert.equal(v.severity, 'warning');
    assert.equal(v.atS, 5.3);
    says(v, 'The target stopped accepting connections at 5.3 s after 500 completed requests');
    assert.ok(!mixed(v));
  });

  it('refusals that are a minority of failures are not this verdict', () => {
    const timeline = [entry(0), entry(1, { completed: 0, failed: 100, errors: { ECONNREFUSED: 20, HTTP_5XX: 80 } })];
    assert.ok(!ids(syntheticRecord({ timeline })).includes('target-unreachable'));
  });
});

describe('listen-backlog-overflow, conntrack-full, time-wait-bucket-overflow', () => {
  it('listen overflows with connect timeouts', () => {
    const r = failing('CONNECT_TIMEOUT', 2, 0.2, { targetUrl: 'http://127.0.0.1:8080/', builtin: true });
    r.timeline[2]!.counters = { ListenOverflows: 40, ListenDrops: 40 };
    const v = verdict(r, 'listen-backlog-overflow');
    assert.equal(v.severity, 'critical');
    assert.equal(v.atS, 2);
    says(v, '40 listen-queue overflows', '160 requests (16 %) failed with CONNECT_TIMEOUT', 'somaxconn is 4 096');
    advises(v, 'somaxconn');
    const quiet = syntheticRecord();
    quiet.timeline[2]!.counters = { ListenOverflows: 40 };
    assert.deepEqual(ids(quiet), ['healthy']);
  });

  it('a full conntrack table', () => {
    const r = failing('CONNECT_TIMEOUT', 5, 0.1, { monitor: { peakConntrack: { count: 262_000, max: 262_144 } } });
    const v = verdict(r, 'conntrack-full');
    assert.equal(v.severity, 'critical');
    says(v, '262 000 of 262 144 entries', '120 s');
    advises(v, 'nf_conntrack_max');
    assert.equal(verdict(syntheticRecord({ monitor: { peakConntrack: { count: 262_000, max: 262_144 } } }), 'conntrack-full').severity, 'warning');
  });

  it('TIME_WAIT bucket overflow', () => {
    const r = syntheticRecord();
    r.timeline[4]!.counters = { TCPTimeWaitOverflow: 300 };
    assert.deepEqual(ids(r), ['time-wait-bucket-overflow']);
    const v = verdict(r, 'time-wait-bucket-overflow');
    assert.equal(v.atS, 4);
    says(v, '300 sockets skip TIME_WAIT', 'tcp_max_tw_buckets is 131 072');
  });
});

describe('healthy', () => {
  it('elsewhere: totals, utilization and headroom, no caution', () => {
    const r = syntheticRecord({ timeline: Array.from({ length: 10 }, (_, t) => entry(t, { sockets: sockets({ utilization: 0.03, timeWait: 100 * (t + 1) }) })) });
    assert.deepEqual(ids(r), ['healthy']);
    const v = verdict(r, 'healthy');
    assert.equal(v.severity, 'info');
    assert.equal(v.confidence, 0.9);
    says(v, '1 000 requests in 10.0 s', 'Peak port utilization 3 %', '≈ 471/s: 4.7× headroom');
    assert.ok(!v.evidence.join(' ').includes('Caution'));
  });

  it('on loopback with tcp_tw_reuse=2: the caution, lower confidence', () => {
    const r = syntheticRecord({ targetUrl: 'http://127.0.0.1:34389/', builtin: true, timeline: Array.from({ length: 10 }, (_, t) => entry(t, { sockets: sockets({ timeWait: 120 }) })) });
    r.timeline[3]!.counters = { TWRecycled: 250 };
    const v = verdict(r, 'healthy');
    says(v, 'loopback hides exhaustion', 'TWRecycled rose by 250');
    assert.ok(v.confidence < 0.9);
    advises(v, 'non-loopback');
    assert.ok(!verdict(syntheticRecord({ targetUrl: 'http://127.0.0.1:1/', host: { tcpTwReuse: 0 } }), 'healthy').evidence.join(' ').includes('Caution'));
    for (const url of ['http://localhost:80/', 'http://[::1]:80/', 'tcp://127.0.0.2:9000']) assert.ok(isLoopbackUrl(url), url);
    for (const url of ['http://198.18.0.2:80/', 'http://10.0.0.1/', 'not a url']) assert.ok(!isLoopbackUrl(url), url);
  });

  it('says a rate above the sustainable one was run too briefly to exhaust', () => {
    const r = syntheticRecord({ timeline: Array.from({ length: 8 }, (_, t) => entry(t, { attempted: 500, sockets: sockets({ utilization: 0.1, timeWait: 500 * (t + 1) }) })) });
    says(verdict(r, 'healthy'), '(1.1× it)', 'ports run out after ≈ 56.5 s', 'this run lasted 8.0 s');
  });

  it('not healthy with unexplained failures: other-failures, not healthy', () => {
    assert.deepEqual(ids(failing('HTTP_5XX', 5, 0.1)), ['other-failures']);
  });
});

describe('every verdict', () => {
  it('is ordered most severe first, with evidence, advice and a confidence in 0..1', () => {
    const r = exhausted({ monitor: { peakFds: { open: 1020, soft: 1024 } } }, (e) =>
      e.t === 10 ? { ...e, completed: e.completed - 50, failed: 50, errors: { EMFILE: 50 }, counters: { TCPTimeWaitOverflow: 10 } } : e,
    );
    const all = diagnose(r);
    assert.deepEqual(all.map((v) => v.verdict), ['client-port-exhaustion', 'fd-exhaustion', 'time-wait-bucket-overflow']);
    assert.deepEqual(all, diagnose(r, analyzeExhaustion(r)));
    for (const v of all) {
      assert.ok(v.confidence > 0 && v.confidence <= 1);
      assert.ok(v.evidence.length > 0 && v.advice.length > 0, v.verdict);
      for (const s of [...v.evidence, ...v.advice]) assert.match(s, /^[A-Z0-9].*[.)]$/s, s);
    }
  });
});

describe('other-failures', () => {
  it('failures no known cause explains get their own verdict, never an empty diagnosis', () => {
    const r = syntheticRecord({ timeline: [entry(0, { completed: 90, failed: 10, errors: { HTTP_5XX: 10 } }), entry(1, { completed: 100 })] });
    const v = diagnose(r);
    assert.equal(v.length, 1);
    assert.equal(v[0]!.verdict, 'other-failures');
    assert.equal(v[0]!.severity, 'critical');
    assert.match(v[0]!.evidence[0]!, /HTTP_5XX 10/);
    assert.match(v[0]!.advice[0]!, /from the target/);
  });
});
