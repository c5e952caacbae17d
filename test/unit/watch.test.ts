/**
 * The pure parts of watching agents: the clock estimate, NDJSON framing, the `watch:` block and
 * `--watch` flags, and folding an agent's samples with its outages into its HostRecord.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { applyWatchFlags } from '../../src/cli/watch-flags.js';
import { COUNTER_NAMES, type CounterDeltas, type MonitorSample } from '../../src/monitor/types.js';
import { makeCertificate } from '../../src/target/certificate.js';
import { parseScenario } from '../../src/scenario/load.js';
import { agentUrl, mergeWatch, parseWatchFlag, watchNameProblem } from '../../src/scenario/watch.js';
import type { AgentOutage, AgentSnapshot } from '../../src/watch/agent-watch.js';
import { failureReason } from '../../src/watch/agent-http.js';
import { clockFromProbes } from '../../src/watch/clock-offset.js';
import { foldWatchedHost, watchedGaps } from '../../src/watch/fold-watched.js';
import { LineSplitter } from '../../src/watch/ndjson-lines.js';

const LOAD = [{ model: 'arrival-rate', rate: 1, duration: 1 }];

describe('clock offset from round trips', () => {
  it('takes the round trip with the smallest RTT: offset = agent − midpoint, uncertainty = RTT / 2', () => {
    const clock = clockFromProbes([
      { sentMs: 1000, receivedMs: 1010, agentMs: 6004 }, // RTT 10
      { sentMs: 2000, receivedMs: 2002, agentMs: 7001.5 }, // RTT 2: offset 5000.5 ± 1
      { sentMs: 3000, receivedMs: 3006, agentMs: 7999 }, // RTT 6
    ]);
    assert.deepEqual(clock, { method: 'round-trip', offsetMs: 5000.5, uncertaintyMs: 1, probes: 3 });
  });

  it('an agent behind this clock has a negative offset', () => {
    assert.equal(clockFromProbes([{ sentMs: 10_000, receivedMs: 10_001, agentMs: 7000.5 }])!.offsetMs, -3000);
  });

  it('no usable probe: null (none, or an answer before its request)', () => {
    assert.equal(clockFromProbes([]), null);
    assert.equal(clockFromProbes([{ sentMs: 5, receivedMs: 4, agentMs: 1 }]), null);
  });
});

describe('NDJSON lines from a peer', () => {
  it('joins lines split across chunks, drops \\r and blank lines', () => {
    const s = new LineSplitter(100);
    assert.deepEqual(s.push(Buffer.from('{"a":1}\r\n{"b"')), ['{"a":1}']);
    assert.deepEqual(s.push(Buffer.from(':2}\n\n  \n{"c":3}\n')), ['{"b":2}', '{"c":3}']);
    assert.equal(s.oversized, 0);
  });

  it('a line longer than the bound is skipped to its end and counted, never held', () => {
    const s = new LineSplitter(10);
    assert.deepEqual(s.push(Buffer.from('short\n0123456789AB')), ['short']);
    assert.equal(s.oversized, 1);
    assert.deepEqual(s.push(Buffer.from('CDEF more of it')), []);
    assert.deepEqual(s.push(Buffer.from(' end\nok\n')), ['ok']);
    assert.equal(s.oversized, 1);
    // Too long within one chunk, newline included.
    assert.deepEqual(s.push(Buffer.from('0123456789ABCDEF\nfine\n')), ['fine']);
    assert.equal(s.oversized, 2);
  });

  it('a multi-byte character split between chunks reads whole', () => {
    const s = new LineSplitter(100);
    const bytes = Buffer.from('"é"\n');
    assert.deepEqual(s.push(bytes.subarray(0, 2)), []);
    assert.deepEqual(s.push(bytes.subarray(2)), ['"é"']);
  });
});

describe('watched host names, URLs and flags', () => {
  it('names start with a letter, hold letters, digits, - _ ., and are not client', () => {
    for (const ok of ['service', 'nginx-1', 'db.primary', 'a_b', 'S3']) assert.equal(watchNameProblem(ok), null, ok);
    for (const bad of ['client', '1st', '-x', 'my host', '', 'a/b', 'x'.repeat(65), '__proto__']) assert.notEqual(watchNameProblem(bad), null, bad);
  });

  it('agent URLs are http(s)://host[:port] without a path, in one form', () => {
    assert.deepEqual(agentUrl('http://198.18.1.2:9464/'), { url: 'http://198.18.1.2:9464' });
    assert.deepEqual(agentUrl('HTTPS://Agent.Example:443'), { url: 'https://agent.example' });
    assert.deepEqual(agentUrl('http://[fd00::2]:9464'), { url: 'http://[fd00::2]:9464' });
    for (const bad of ['198.18.1.2:9464', 'tcp://x:1', 'http://x:1/stream', 'http://x:1/?a', 'http://u:p@x:1', 'http://']) assert.ok('problem' in agentUrl(bad), bad);
  });

  it('--watch NAME=URL, one line naming the flag when wrong', () => {
    assert.deepEqual(parseWatchFlag('service=http://127.0.0.1:9464'), { name: 'service', url: 'http://127.0.0.1:9464' });
    assert.throws(() => parseWatchFlag('=http://x:1'), /^UsageError: --watch =http:\/\/x:1: expected NAME=URL/);
    assert.throws(() => parseWatchFlag('client=http://x:1'), /--watch client=http:\/\/x:1: expected a host name other than client/);
    assert.throws(() => parseWatchFlag('svc=x:1'), /--watch svc=x:1: expected an agent URL/);
  });

  it("flags add hosts, replace a scenario host's URL (its role stays), and --watch-optional makes every host optional", () => {
    const s = parseScenario({ load: LOAD, watch: { proxy: { url: 'http://10.0.0.1:9464', role: 'proxy' }, db: 'http://10.0.0.2:9464' } }, 's.yaml');
    const merged = mergeWatch(s.watch, [
      { name: 'proxy', url: 'http://10.0.0.9:9464' },
      { name: 'edge', url: 'http://10.0.0.3:9464' },
    ]);
    assert.deepEqual(merged, {
      proxy: { url: 'http://10.0.0.9:9464', role: 'proxy', optional: false },
      db: { url: 'http://10.0.0.2:9464', role: 'service', optional: false },
      edge: { url: 'http://10.0.0.3:9464', role: 'service', optional: false },
    });
    assert.deepEqual(Object.keys(merged!), ['proxy', 'db', 'edge']);
    assert.ok(Object.values(mergeWatch(s.watch, [], true)!).every((h) => h.optional));
    assert.equal(s.watch!.db!.optional, false, 'the scenario is not changed');
    assert.equal(mergeWatch(undefined, []), undefined);
  });

  it('a resolved watch: block is valid input again', () => {
    const s = parseScenario({ load: LOAD, watch: { service: 'http://127.0.0.1:9464/' } }, 's.yaml');
    assert.deepEqual(parseScenario(JSON.parse(JSON.stringify(s)), 'again').watch, s.watch);
  });
});

describe('the run flags for agents (token, CA)', () => {
  const scenario = parseScenario({ load: LOAD }, 's.yaml');
  const argv = { watch: ['service=http://127.0.0.1:9464'], 'watch-optional': false };

  it('the token from --watch-token, else PORTSTORM_TOKEN; nothing watched leaves no watch block', () => {
    assert.equal(applyWatchFlags(scenario, { ...argv, 'watch-token': 'flag' }, { PORTSTORM_TOKEN: 'env' }).access.token, 'flag');
    assert.equal(applyWatchFlags(scenario, argv, { PORTSTORM_TOKEN: 'env' }).access.token, 'env');
    assert.equal(applyWatchFlags(scenario, argv, { PORTSTORM_TOKEN: '' }).access.token, null);
    assert.equal('watch' in applyWatchFlags(scenario, { watch: [], 'watch-optional': true }, {}).scenario, false);
    assert.throws(() => applyWatchFlags(scenario, { ...argv, 'watch-token': 'a b' }, {}), /^UsageError: --watch-token: expected a token of printable ASCII/);
    assert.throws(() => applyWatchFlags(scenario, argv, { PORTSTORM_TOKEN: 'x\ny' }), /^UsageError: PORTSTORM_TOKEN: expected a token/);
    // Not read when nothing is watched (it may be set for an agent on this host).
    assert.equal(applyWatchFlags(scenario, { watch: [], 'watch-optional': false }, { PORTSTORM_TOKEN: 'x\ny' }).access.token, null);
  });

  it('--watch-ca: PEM certificates, or one line naming the flag', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-watch-ca-'));
    const good = path.join(dir, 'ca.pem');
    writeFileSync(good, (await makeCertificate({ names: ['127.0.0.1'] })).cert);
    assert.match(applyWatchFlags(scenario, { ...argv, 'watch-ca': good }, {}).access.ca!, /BEGIN CERTIFICATE/);
    const notPem = path.join(dir, 'not.pem');
    writeFileSync(notPem, 'hello\n');
    assert.throws(() => applyWatchFlags(scenario, { ...argv, 'watch-ca': notPem }, {}), /^UsageError: --watch-ca .*not\.pem: expected PEM certificates/);
    assert.throws(() => applyWatchFlags(scenario, { ...argv, 'watch-ca': path.join(dir, 'missing.pem') }, {}), /^UsageError: --watch-ca .*missing\.pem: cannot read it \(no such file\)/);
  });
});

describe('failure reasons', () => {
  it('say what went wrong in a few words', () => {
    assert.equal(failureReason(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })), 'cannot connect (ECONNREFUSED)');
    assert.equal(failureReason(Object.assign(new Error('Body Timeout Error'), { code: 'UND_ERR_BODY_TIMEOUT' })), 'stalled (no line for 3 s)');
    assert.equal(failureReason(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })), 'connection lost (other side closed)');
    assert.equal(failureReason(Object.assign(new Error('x'), { code: 'UND_ERR_CONNECT_TIMEOUT' })), 'cannot connect (no answer within 5 s)');
    assert.match(failureReason(Object.assign(new Error('self-signed'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' })), /not accepted \(SELF_SIGNED_CERT_IN_CHAIN\); trust its CA with --watch-ca/);
  });
});

describe('an agent folded into its host record', () => {
  const START = 1_700_000_000_000;
  const OFFSET = 5000;
  const counters = (): CounterDeltas => ({ ...(Object.fromEntries(COUNTER_NAMES.map((c) => [c, 0])) as CounterDeltas), TW: 1 });
  /** A sample with a scan taken at local time START + localMs, stamped on the agent's clock. */
  const sample = (localMs: number): MonitorSample => {
    const at = START + localMs + OFFSET;
    const st = { established: 5, synSent: 0, synRecv: 0, finWait1: 0, finWait2: 0, timeWait: 50, close: 0, closeWait: 0, lastAck: 0, listen: 1, closing: 0 };
    return {
      at,
      lateMs: 0,
      sockstat: { at, timeWait: 50, inUse: 60, orphan: 0, alloc: 60, inUse6: 0 },
      scan: { at, costMs: 1, source: 'proc', total: 60, states: st, client: st, server: st, ephemeralInUse: 55, destinations: [{ dest: '10.0.0.5:5432', inUse: 55, timeWait: 50, established: 5, bySource: null, utilization: 0.055 }], sources: {} },
      counters: counters(),
      conntrack: { count: 10, max: 100 },
      fds: null,
    };
  };
  const snapshot = (samples: MonitorSample[], outages: AgentOutage[], extra: Partial<AgentSnapshot> = {}): AgentSnapshot => ({
    name: 'service',
    identity: { role: 'proxy', address: 'http://10.0.0.1:9464', source: 'agent', clock: { method: 'round-trip', offsetMs: OFFSET, uncertaintyMs: 0.2, probes: 8 }, host: null },
    samples,
    status: { source: 'proc', unavailable: {}, effectiveScanIntervalMs: 250 },
    intervalMs: 250,
    scanIntervalMs: 250,
    outages,
    droppedLines: 0,
    firstDropped: null,
    samplesPastCap: 0,
    notes: [],
    ...extra,
  });
  const every250 = (fromMs: number, toMs: number): MonitorSample[] => Array.from({ length: Math.floor((toMs - fromMs) / 250) }, (_, i) => sample(fromMs + i * 250));

  it("moves the agent's samples onto the run's clock and keeps every second", () => {
    const h = foldWatchedHost(snapshot(every250(-500, 5000), []), { startEpochMs: START, durationS: 5 });
    assert.equal(h.role, 'proxy');
    assert.equal(h.timeline.length, 5);
    assert.ok(h.timeline.every((e) => e.sockets?.ephemeralInUse === 55 && e.counters?.TW === 4 && e.conntrack?.count === 10), JSON.stringify(h.timeline));
    assert.deepEqual(h.coverage, { fromS: 0, toS: 4, share: 1 });
    assert.equal(h.ports?.busiestDestination, '10.0.0.5:5432');
    assert.deepEqual(h.gaps, []);
  });

  it('an outage: the seconds wholly inside it are null (the last scan is not carried over), the ones it touches keep their samples', () => {
    // Lines until 1.6 s, none until 3.3 s, then again.
    const samples = [...every250(0, 1700), ...every250(3300, 5000)];
    const outage: AgentOutage = { fromMs: START + 1650, toMs: START + 3300, cause: 'connection lost (ECONNRESET)', attempts: 1, lastFailure: null, gaveUp: false };
    // Scans every second stand for up to 1.5 s after them: without the outage, second 2 would carry the scan of 1.5 s.
    const slow = { scanIntervalMs: 1000 };
    assert.notEqual(foldWatchedHost(snapshot(samples, [], slow), { startEpochMs: START, durationS: 5 }).timeline[2]!.sockets, null);
    const h = foldWatchedHost(snapshot(samples, [outage], slow), { startEpochMs: START, durationS: 5 });
    assert.deepEqual(
      h.timeline.map((e) => e.sockets !== null),
      [true, true, false, true, true],
    );
    assert.deepEqual(h.timeline[2], { t: 2, sockets: null, counters: null });
    assert.equal(h.coverage.share, 0.8);
    assert.deepEqual(h.gaps, ['connection lost (ECONNRESET) at t = 1.6 s; back at t = 3.3 s after 1 reconnect attempt: no figures from t = 1.6 s to t = 3.3 s (null, not zero)']);
  });

  it('an outage to the end, and one from the start (never reached), say so', () => {
    const lost: AgentOutage = { fromMs: START + 1200, toMs: null, cause: 'stalled (no line for 3 s)', attempts: 3, lastFailure: 'cannot connect (ECONNREFUSED)', gaveUp: true };
    const h = foldWatchedHost(snapshot(every250(0, 1300), [lost], { scanIntervalMs: 1000 }), { startEpochMs: START, durationS: 4 });
    assert.deepEqual(h.timeline.map((e) => e.sockets !== null), [true, true, false, false]);
    assert.deepEqual(h.gaps, ['stalled (no line for 3 s) at t = 1.2 s; gave up after 3 reconnect attempts (last: cannot connect (ECONNREFUSED)): no figures from t = 1.2 s to the end (null, not zero)']);
    const never: AgentOutage = { fromMs: null, toMs: null, cause: 'unreachable at the start (cannot connect (EHOSTUNREACH))', attempts: 0, lastFailure: null, gaveUp: false };
    assert.deepEqual(watchedGaps(snapshot([], [never]), START), ['unreachable at the start (cannot connect (EHOSTUNREACH)); not back by the end (no reconnect attempt yet): no figures from the start to the end (null, not zero)']);
  });

  it('dropped lines, samples past the cap and notes are gaps too', () => {
    const w = snapshot(every250(0, 1000), [], { droppedLines: 2, firstDropped: 'agent service: not JSON (x)', samplesPastCap: 7, notes: ['the agent restarted (pid 1 → 2)'] });
    assert.deepEqual(watchedGaps(w, START), ['dropped 2 lines that did not parse (first: agent service: not JSON (x))', 'dropped 7 samples past the 4 kept per agent', 'the agent restarted (pid 1 → 2)']);
  });
});
