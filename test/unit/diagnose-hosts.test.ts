/** The diagnosis over every host of a run (issue 16): upstream port exhaustion, measured server TIME_WAIT, per-host counters, coverage. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { capacityOf } from '../../src/analysis/capacity.js';
import { diagnose } from '../../src/analysis/diagnose.js';
import { isUpstreamFailure, upstreamFailures } from '../../src/analysis/diagnose-upstream.js';
import { foldHost } from '../../src/monitor/host-fold.js';
import { COUNTER_NAMES, type CounterDeltas, type MonitorSample, zeroStates } from '../../src/monitor/types.js';
import { runRecordSchema } from '../../src/record/schema.js';
import type { HostRecord, HostSecond, RunRecord, TimelineEntry, Verdict, VerdictId } from '../../src/record/types.js';
import { hostSecond, syntheticHost, type SyntheticHostOptions, unseen, withHosts } from '../helpers/synthetic-hosts.js';
import { clientCloseTimeline, entry, LINUX_HOST, sockets, syntheticRecord, type SyntheticOptions } from '../helpers/synthetic-record.js';

const named = (r: RunRecord) => diagnose(r).map((v) => [v.verdict, v.host]);
function verdict(r: RunRecord, id: VerdictId, host: string): Verdict {
  const v = diagnose(r).find((x) => x.verdict === id && x.host === host);
  assert.ok(v, `expected ${id} on ${host} in ${JSON.stringify(named(r))}`);
  return v;
}
const says = (v: Verdict, ...parts: string[]) => {
  const text = v.evidence.join(' ');
  for (const p of parts) assert.ok(text.includes(p), `evidence lacks ${JSON.stringify(p)}: ${text}`);
};
const advises = (v: Verdict, part: string) => assert.ok(v.advice.some((a) => a.includes(part)), `advice lacks ${JSON.stringify(part)}: ${v.advice.join(' | ')}`);
const mixed = (v: Verdict) => v.evidence.some((e) => e.startsWith('Evidence is mixed'));

/** The proxy's ports toward the backend: 300 new connections/s against 500 ports, 60 s TIME_WAIT, so full from the second second. */
const PROXY_UTIL = [0.6, 1, 1, 1, 1];

/** The service as DOMAIN.md measured nginx without upstream keep-alive: 500 ports (40000–40499), 300 upstream connections/s. */
function nginxService(over: Partial<SyntheticHostOptions> = {}, map: (s: HostSecond) => HostSecond = (s) => s): HostRecord {
  return syntheticHost({
    role: 'service',
    host: { portRange: [40000, 40499], usablePorts: 500 },
    seconds: PROXY_UTIL.map((u, t) => map(hostSecond(t, { utilization: u, timeWait: Math.round(500 * u), ephemeralInUse: Math.round(500 * u), established: 4 }, { ActiveOpens: Math.round(500 * u) - (t > 0 ? Math.round(500 * PROXY_UTIL[t - 1]!) : 0), ListenOverflows: 0 }))),
    ...over,
  });
}

/**
 * The client's side of it: 300 requests/s for 5 s over kept-alive connections to the proxy at
 * 198.18.1.2:80; from t = 1.8 s every request answered 502 (1 000 of 1 500).
 */
function nginxClient(o: SyntheticOptions = {}, firstFailureAt = 1.8): RunRecord {
  const failedIn = [0, 100, 300, 300, 300];
  const timeline = failedIn.map((failed, t) =>
    entry(t, { attempted: 300, completed: 300 - failed, failed, errors: failed ? { HTTP_5XX: failed } : {}, connectionsOpened: t === 0 ? 40 : 0, sockets: sockets({ utilization: 0.0014, established: 40 }) }),
  );
  return syntheticRecord({
    timeline,
    targetUrl: 'http://198.18.1.2:80/',
    connection: { reuse: true },
    errorsByPhase: { 'response:HTTP_5XX': 1000 },
    errorSamples: [{ code: 'HTTP_5XX', phase: 'response', message: 'HTTP 502 Bad Gateway', t: firstFailureAt, localPort: null }],
    ...o,
  });
}

describe('upstream-port-exhaustion: nginx without upstream keep-alive (DOMAIN.md)', () => {
  it('names host service, the backend, its ports, the onset, the client 502s and the lag; advice about the service', () => {
    const r = withHosts(nginxClient(), { service: nginxService() });
    assert.deepEqual(named(r), [['upstream-port-exhaustion', 'service']]);
    const v = verdict(r, 'upstream-port-exhaustion', 'service');
    assert.equal(v.severity, 'critical');
    assert.ok(v.confidence >= 0.9, String(v.confidence));
    assert.ok(!mixed(v), v.evidence.join(' '));
    assert.equal(v.atS, 1.67);
    says(v, 'Host service ran out of ports toward 198.18.2.2:8080', 'up to 500 of its 500 usable ports (100 %; ip_local_port_range 40000–40499) were in use', '500 in TIME_WAIT');
    says(v, 'Its ports reached that level at ≈ 1.7 s (first seen in the second from t = 1 s)');
    says(v, '1 000 of 1 500 requests (67 %)', 'HTTP_5XX 1 000 (from 1.8 s)');
    says(v, "Lag: the client's failures began 0.1 s after service's ports ran out", '±1.0 s', 'clock offset is known to ±0.4 ms');
    says(v, 'correlate at 0.', 'Most of them were in TIME_WAIT', 'opened up to 300 connections/s (ActiveOpens)', '≈ 8 new connections/s');
    says(v, "The client's own ports stayed safe (peak utilization 0.1 %)");
    advises(v, 'keepalive 32;');
    advises(v, 'proxy_http_version 1.1;');
    advises(v, 'proxy_set_header Connection "";');
    advises(v, 'connection pool with keep-alive');
    advises(v, 'ip_local_port_range on service to "1024 65535" (now 40000–40499, 500 ports)');
    advises(v, 'tcp_tw_reuse=1 on service (now 2)');
    advises(v, 'more backend addresses or ports');
    assert.ok(!v.advice.some((a) => a.includes('connection.reuse')), 'the load generator\'s reuse is the client\'s advice');
    assert.equal(runRecordSchema.safeParse({ ...r, diagnosis: diagnose(r) }).success, true);
  });

  it('reads a service host as the monitor folds it (samples on its own clock, ports toward the backend)', () => {
    const start = 1_700_000_000_000;
    const offsetMs = 2500;
    const counters = (opens: number): CounterDeltas => ({ ...(Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as CounterDeltas), ActiveOpens: opens });
    const samples: MonitorSample[] = [0, 1, 2, 3, 4].map((t) => {
      const inUse = Math.min(500, 300 * (t + 1));
      const at = start + offsetMs + t * 1000 + 900;
      const states = { ...zeroStates(), timeWait: inUse, established: 4 };
      return {
        at,
        lateMs: 0,
        sockstat: { at, timeWait: inUse, inUse: 4, orphan: 0, alloc: 4, inUse6: 0 },
        scan: { at, costMs: 2, source: 'sockdiag', total: inUse + 4, states, client: states, server: zeroStates(), ephemeralInUse: inUse, destinations: [{ dest: '198.18.2.2:8080', inUse, timeWait: inUse, established: 0, bySource: null, utilization: inUse / 500 }], sources: {} },
        counters: counters(inUse - Math.min(500, 300 * t)),
        conntrack: null,
        fds: null,
      };
    });
    const service = foldHost(
      samples,
      { source: 'sockdiag', unavailable: {}, effectiveScanIntervalMs: 1000 },
      { role: 'service', address: 'http://198.18.1.2:9464', source: 'agent', clock: { method: 'round-trip', offsetMs, uncertaintyMs: 0.3, probes: 8 }, host: { ...LINUX_HOST, portRange: [40000, 40499], usablePorts: 500 } },
      { startEpochMs: start, durationS: 5, intervalS: 0.25, scanIntervalS: 1 },
    );
    const r = withHosts(nginxClient(), { service });
    assert.deepEqual(named(r), [['upstream-port-exhaustion', 'service']]);
    const v = verdict(r, 'upstream-port-exhaustion', 'service');
    assert.equal(v.atS, 1.67);
    says(v, 'up to 500 of its 500 usable ports (100 %; ip_local_port_range 40000–40499)', "began 0.1 s after service's ports ran out", 'known to ±0.3 ms');
  });

  it('the role proxy reads the same; a router is never judged for its own ports', () => {
    assert.deepEqual(named(withHosts(nginxClient(), { edge: nginxService({ role: 'proxy' }) })), [['upstream-port-exhaustion', 'edge']]);
    assert.deepEqual(named(withHosts(nginxClient(), { nat: nginxService({ role: 'router' }) })), [['other-failures', 'client']]);
  });

  it('client and service both out of ports: two verdicts, each on its host', () => {
    const seconds = 40;
    const client = clientCloseTimeline({ rate: () => 1000, seconds, usable: 28_232 }).map((e): TimelineEntry =>
      e.t >= 10 ? { ...e, completed: e.completed - 50, failed: e.failed + 50, errors: { ...e.errors, HTTP_5XX: 50 } } : e,
    );
    const r = syntheticRecord({
      timeline: client,
      errorSamples: [
        { code: 'HTTP_5XX', phase: 'response', message: 'HTTP 502', t: 10.2, localPort: null },
        { code: 'EADDRNOTAVAIL', phase: 'connect', message: 'connect EADDRNOTAVAIL', t: 28.239, localPort: null },
      ],
    });
    const util = (t: number) => Math.min(1, 0.1 * (t + 1));
    const service = syntheticHost({
      host: { usablePorts: 1000, portRange: [40000, 40999] },
      seconds: Array.from({ length: seconds }, (_, t) => hostSecond(t, { utilization: util(t), timeWait: 1000 * util(t) }, { ActiveOpens: 100 })),
    });
    const both = withHosts(r, { service });
    assert.deepEqual(named(both), [
      ['client-port-exhaustion', 'client'],
      ['upstream-port-exhaustion', 'service'],
    ]);
    const up = verdict(both, 'upstream-port-exhaustion', 'service');
    says(up, "The client's own ports ran out too (see client-port-exhaustion on host client)", 'Lag: the client\'s failures began 0.2 s after');
    assert.ok(!up.advice.some((a) => a.includes('connection.reuse')));
    advises(verdict(both, 'client-port-exhaustion', 'client'), 'connection.reuse: true');
  });

  it('failures long before the depletion lower the confidence and say so', () => {
    const early = nginxClient({}, 0.2);
    early.timeline[0] = { ...early.timeline[0]!, completed: 200, failed: 100, errors: { HTTP_5XX: 100 } };
    const r = withHosts(early, { service: nginxService({}, (s) => (s.t < 3 ? { ...s, sockets: { ...s.sockets!, utilization: 0.2 * (s.t + 1) } } : s)) });
    const v = verdict(r, 'upstream-port-exhaustion', 'service');
    assert.ok(v.confidence <= 0.6, String(v.confidence));
    says(v, 'before service\'s ports ran out', 'Evidence is mixed', 'came before service ran out of ports');
  });

  it('a service out of ports with no failures on the client: a warning, never healthy', () => {
    const quiet = syntheticRecord({ targetUrl: 'http://198.18.1.2:80/', timeline: Array.from({ length: 5 }, (_, t) => entry(t, { attempted: 300, sockets: sockets({ utilization: 0.001 }) })) });
    const r = withHosts(quiet, { service: nginxService() });
    assert.deepEqual(named(r), [['upstream-port-exhaustion', 'service']]);
    const v = verdict(r, 'upstream-port-exhaustion', 'service');
    assert.equal(v.severity, 'warning');
    assert.ok(v.confidence < 0.9);
    says(v, 'The client saw no failures of the upstream kind');
  });

  it('more than half of the service\'s ports in use: a warning; with tcp_tw_reuse=1 there, healthy', () => {
    const half = (s: HostSecond) => ({ ...s, sockets: { ...s.sockets!, utilization: 0.3 + 0.1 * s.t, timeWait: 150 + 50 * s.t } });
    const quiet = syntheticRecord({ targetUrl: 'http://198.18.1.2:80/', timeline: Array.from({ length: 5 }, (_, t) => entry(t, { sockets: sockets({ utilization: 0.001 }) })) });
    const v = verdict(withHosts(quiet, { service: nginxService({}, half) }), 'upstream-port-exhaustion', 'service');
    assert.equal(v.severity, 'warning');
    assert.equal(v.atS, 2);
    says(v, 'No port ran out on host service, but ports toward 198.18.2.2:8080 ran low: up to 350 of its 500 usable ports');
    const reused = withHosts(quiet, { service: nginxService({ host: { usablePorts: 500, tcpTwReuse: 1 } }, half) });
    assert.deepEqual(named(reused), [['healthy', 'client']]);
  });
});

describe('server-side TIME_WAIT measured on the service', () => {
  /** close: server against a remote target: the client's host sees no server side; the service holds it. */
  function serverCloses(serviceTw: (t: number) => number | null): RunRecord {
    const timeline = Array.from({ length: 20 }, (_, t) => entry(t, { attempted: 1000, sockets: sockets({ utilization: 0.002, timeWait: 3 }) }));
    const client = syntheticRecord({ timeline, connection: { close: 'server' }, targetUrl: 'http://198.18.1.2:8080/' });
    const service = syntheticHost({
      host: { tcpMaxTwBuckets: 65_536 },
      seconds: timeline.map((e) => {
        const tw = serviceTw(e.t);
        return tw === null ? unseen(e.t) : hostSecond(e.t, { serverTimeWait: tw, timeWait: tw, utilization: 0 });
      }),
    });
    return withHosts(client, { service });
  }

  it('server-time-wait names the service, from its own sockets; the capacity model reads the server side there', () => {
    const r = serverCloses((t) => 1000 * (t + 1));
    assert.deepEqual(named(r), [['server-time-wait', 'service']]);
    const v = verdict(r, 'server-time-wait', 'service');
    says(v, 'Up to 20 000 TIME_WAIT sockets were on the server side (on a listening port) on host service, measured there, 31 % of tcp_max_tw_buckets (65 536)');
    advises(v, 'tcp_max_tw_buckets (65 536 on service)');
    const side = capacityOf(r).timeWaitSide;
    assert.deepEqual([side.side, side.source, side.serverHost], ['server', 'monitor', 'service']);
    assert.match(side.reason, /server-side TIME_WAIT on host service peaked at 20 000/);
    // The client's own reading (none here) would have said nothing about a remote server.
    assert.equal(capacityOf(syntheticRecord({ timeline: r.timeline, connection: { close: 'server' }, targetUrl: 'http://198.18.1.2:8080/' })).timeWaitSide.side, 'none');
  });

  it('the client\'s guess gives way to the measured figure: one verdict, on the service', () => {
    const r = serverCloses((t) => 1000 * (t + 1));
    r.timeline = r.timeline.map((e) => ({ ...e, sockets: { ...e.sockets!, serverTimeWait: 5000 } }));
    assert.deepEqual(named(r), [['server-time-wait', 'service']]);
  });

  it('a service whose scans tell no server side leaves the client\'s reading in place', () => {
    const r = serverCloses(() => 0);
    r.hosts!['service']!.timeline = r.hosts!['service']!.timeline.map((e) => ({ ...e, sockets: { ...e.sockets!, serverTimeWait: null } }));
    const side = capacityOf(r).timeWaitSide;
    assert.equal(side.serverHost, undefined);
    assert.doesNotMatch(side.reason, /host service/);
  });

  it('seconds the service was not seen are unknown, not zero: its peak stands, and coverage lowers confidence', () => {
    const r = serverCloses((t) => (t < 6 ? 2000 * (t + 1) : null));
    const v = verdict(r, 'server-time-wait', 'service');
    says(v, 'Up to 12 000 TIME_WAIT sockets', 'host service was seen in only 30 % of the run\'s seconds (between t = 0 s and 5 s)', 'unknown, not zero');
    assert.ok(v.confidence < 0.9, String(v.confidence));
  });
});

describe('listen-backlog-overflow and conntrack-full from the host whose counters show them', () => {
  /** Ten seconds at 100/s to the service at 198.18.1.2; from t = 2 s a fifth of them time out connecting. */
  function timingOut(): RunRecord {
    const timeline = Array.from({ length: 10 }, (_, t) => {
      const failed = t >= 2 ? 20 : 0;
      return entry(t, { completed: 100 - failed, failed, errors: failed ? { CONNECT_TIMEOUT: failed } : {}, sockets: sockets({ utilization: 0.01, timeWait: 100 }) });
    });
    return syntheticRecord({ timeline, targetUrl: 'http://198.18.1.2:8080/', errorSamples: [{ code: 'CONNECT_TIMEOUT', phase: 'connect', message: 'connect timeout', t: 2.3, localPort: null }] });
  }

  it('listen overflows on the service: the verdict names it, from its counters, advice about its backlog', () => {
    const service = syntheticHost({
      host: { somaxconn: 128 },
      seconds: Array.from({ length: 10 }, (_, t) => hostSecond(t, { utilization: 0 }, { ListenOverflows: t >= 2 ? 40 : 0, ListenDrops: t >= 2 ? 40 : 0 })),
    });
    const r = withHosts(timingOut(), { service });
    assert.deepEqual(named(r), [['listen-backlog-overflow', 'service']]);
    const v = verdict(r, 'listen-backlog-overflow', 'service');
    assert.equal(v.severity, 'critical');
    assert.equal(v.atS, 2);
    assert.ok(v.confidence >= 0.9 && !mixed(v), v.evidence.join(' '));
    says(v, 'Host service counted 320 listen-queue overflows', 'failed with CONNECT_TIMEOUT, the first at 2.3 s', 'net.core.somaxconn is 128 on service');
    advises(v, 'On host service: raise net.core.somaxconn (now 128)');
    advises(v, 'tcp_max_syn_backlog on service');
  });

  it('a full conntrack table on a router: the verdict names the router, advice about its nf_conntrack_max', () => {
    const router = syntheticHost({
      role: 'router',
      address: 'http://198.18.0.254:9464',
      host: { conntrackMax: 65_536 },
      seconds: Array.from({ length: 10 }, (_, t) =>
        hostSecond(t, {}, { ConntrackInsertFailed: t >= 2 ? 3 : 0, ConntrackDrop: t >= 2 ? 3 : 0 }, { count: t >= 2 ? 65_500 : 30_000 * (t + 1), max: 65_536 }),
      ),
    });
    const r = withHosts(timingOut(), { router });
    assert.deepEqual(named(r), [['conntrack-full', 'router']]);
    const v = verdict(r, 'conntrack-full', 'router');
    assert.equal(v.severity, 'critical');
    assert.equal(v.atS, 2);
    says(v, 'The conntrack table on host router peaked at 65 500 of 65 536 entries', 'failed 24 insertions (insert_failed) and dropped 24 packets (drop), first at t = 2 s', '160 requests timed out connecting');
    advises(v, 'On host router: raise net.netfilter.nf_conntrack_max (now 65 536)');
  });

  it('insertions failing on a router whose table is not full: NAT out of source ports (snat-port-exhaustion, issue 17), not conntrack-full', () => {
    const router = syntheticHost({
      role: 'router',
      seconds: Array.from({ length: 10 }, (_, t) => hostSecond(t, {}, { ConntrackInsertFailed: t === 4 ? 21 : 0, ConntrackDrop: t === 4 ? 21 : 0 }, { count: 70, max: 65_536 })),
    });
    const r = withHosts(timingOut(), { router });
    assert.deepEqual(named(r), [['snat-port-exhaustion', 'router']]);
    const v = verdict(r, 'snat-port-exhaustion', 'router');
    says(v, 'its NAT\'s port range and addresses are unknown', 'failed 21 conntrack insertions');
    advises(v, 'more addresses');
  });
});

describe('coverage', () => {
  it('a service seen in under half of the run lowers the confidence and says so; its unseen seconds are never zeros', () => {
    const full = verdict(withHosts(nginxClient(), { service: nginxService() }), 'upstream-port-exhaustion', 'service');
    const partial = nginxService({ gaps: ['agent unreachable from t = 2.0 s'] }, (s) => (s.t >= 2 ? unseen(s.t) : s));
    const v = verdict(withHosts(nginxClient(), { service: partial }), 'upstream-port-exhaustion', 'service');
    assert.ok(v.confidence <= full.confidence - 0.2, `${v.confidence} vs ${full.confidence}`);
    says(v, 'host service was seen in only 40 % of the run\'s seconds (between t = 0 s and 1 s; agent unreachable from t = 2.0 s)');
    says(v, 'up to 500 of its 500 usable ports', 'Its ports reached that level at ≈ 1.7 s');
  });

  it('a healthy run with a watched service lists its peaks, and a poorly seen one lowers confidence', () => {
    const client = syntheticRecord({ targetUrl: 'http://198.18.1.2:80/', timeline: Array.from({ length: 10 }, (_, t) => entry(t, { sockets: sockets({ utilization: 0.03, timeWait: 100 }) })) });
    const seen = syntheticHost({ host: { usablePorts: 500 }, seconds: Array.from({ length: 10 }, (_, t) => hostSecond(t, { utilization: 0.2, timeWait: 100 })) });
    const v = verdict(withHosts(client, { service: seen }), 'healthy', 'client');
    assert.equal(v.confidence, 0.9);
    says(v, 'Host service: peak utilization 20 % (100 of 500 ports toward 198.18.2.2:8080), up to 100 in TIME_WAIT, server-side TIME_WAIT up to 0.');
    const blind = syntheticHost({ seconds: Array.from({ length: 10 }, (_, t) => (t < 2 ? hostSecond(t, { utilization: 0.1 }) : unseen(t))) });
    const w = verdict(withHosts(client, { service: blind }), 'healthy', 'client');
    assert.ok(w.confidence <= 0.7, String(w.confidence));
    says(w, 'host service was seen in only 20 %');
  });
});

describe('every verdict names its host', () => {
  it('schema 1 records: every verdict is the client\'s', () => {
    const exhausted = syntheticRecord({
      timeline: clientCloseTimeline({ rate: () => 1000, seconds: 40, usable: 28_232 }).map((e) => (e.t === 10 ? { ...e, completed: e.completed - 50, failed: 50, errors: { EMFILE: 50 }, counters: { TCPTimeWaitOverflow: 10 } } : e)),
      monitor: { peakFds: { open: 1020, soft: 1024 } },
    });
    const records = [exhausted, syntheticRecord(), nginxClient(), syntheticRecord({ monitor: { peakConntrack: { count: 262_000, max: 262_144 } } })];
    for (const r of records) {
      assert.equal(r.schema, 1);
      const all = diagnose(r);
      assert.ok(all.length > 0);
      for (const v of all) assert.equal(v.host, 'client', v.verdict);
    }
    assert.deepEqual(named(exhausted).map(([, h]) => h), ['client', 'client', 'client']);
  });

  it('schema 2 records: the client\'s verdicts are named client, the others\' their own name', () => {
    const r = withHosts(nginxClient(), { service: nginxService() });
    r.timeline[3]!.counters = { TCPTimeWaitOverflow: 10 };
    assert.deepEqual(named(r), [
      ['upstream-port-exhaustion', 'service'],
      ['time-wait-bucket-overflow', 'client'],
    ]);
    for (const v of diagnose(r)) for (const s of [...v.evidence, ...v.advice]) assert.match(s, /^[A-Z0-9].*[.)]$/s, s);
  });
});

describe('upstream failure kinds', () => {
  it('5xx in any phase; resets, closes and timeouts once the request was sent', () => {
    assert.ok(isUpstreamFailure('HTTP_5XX', 'response'));
    assert.ok(isUpstreamFailure('HTTP_5XX', 'connect'));
    assert.ok(isUpstreamFailure('ECONNRESET', 'response'));
    assert.ok(isUpstreamFailure('PREMATURE_CLOSE', null));
    assert.ok(!isUpstreamFailure('ECONNRESET', 'connect'), 'a reset at connect is the service\'s own listen queue');
    assert.ok(!isUpstreamFailure('EADDRNOTAVAIL', 'connect'));
    assert.ok(!isUpstreamFailure('HTTP_4XX', 'response'));
    const r = nginxClient({ errorsByPhase: { 'response:HTTP_5XX': 1000, 'connect:ECONNRESET': 5, 'response:ECONNRESET': 7 } });
    r.errors['ECONNRESET'] = 12;
    const u = upstreamFailures(r);
    assert.equal(u.total, 1007);
    assert.deepEqual(u.byCode.map((c) => [c.code, c.n]), [
      ['HTTP_5XX', 1000],
      ['ECONNRESET', 7],
    ]);
    assert.equal(u.firstAtS, 1.8);
  });
});
