/**
 * Interop: HTTPS against nginx with TLS and host names served by dnsmasq, each in a private network
 * and mount namespace the test makes (`unshare -nm`, as root: dnsmasq needs setgroups(), which a
 * user namespace refuses), with 198.18.0.1 (client), 198.18.0.2 (nginx) and 198.18.0.53 (dnsmasq)
 * on lo. Certificates are made by the probe (test/fixtures/tls-interop-probe.ts): a CA-signed one
 * for staging-api.internal and 198.18.0.2 on :8443, a self-signed one on :8444, an expired one on
 * :8445. Checked against nginx's access log ($ssl_session_reused), dnsmasq's query log and `ss`.
 * Needs nginx-light, dnsmasq-base and iproute2; a missing program fails the test, saying which.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fixture } from '../helpers/netns.js';
import { needPrograms } from '../helpers/programs.js';

function needs(...programs: string[]): void {
  needPrograms(...programs);
  assert.equal(process.getuid?.(), 0, 'the TLS/DNS interop tests run as root: dnsmasq in a network namespace needs setgroups(), which a user namespace refuses');
}

interface ProbeRun {
  name: string;
  engine: { engine: string; reason: string | null };
  totals: { attempted: number; completed: number; failed: number; connectionsOpened: number; tlsHandshakes?: number; tlsResumed?: number; dnsLookups?: number };
  errors: Record<string, number>;
  errorsByPhase: Record<string, number>;
  errorSamples: Array<{ code: string; phase: string; message: string }>;
  tlsMs: { count: number; p50: number; p99: number } | null;
  dnsMs: { count: number; p50: number } | null;
  target: { url: string; resolved?: { name: string | null; dns: string; addresses: string[]; used: string | null }; tls?: { servername: string | null; insecure: boolean; trust: string } | null };
  diagnosis: Array<{ verdict: string; severity: string; evidence: string[] }>;
  peakServerTimeWait: number;
  peakClientTimeWait: number | null;
  log: { requests: number; connections: number; statuses: Record<string, number>; reused: number; protocols: Record<string, number> };
  dnsQueries: number | null;
  ssServer: number;
  ssClient: number;
}

interface RunSpec {
  scenario: Record<string, unknown>;
  engine?: 'js' | 'native';
  holdUdp?: number;
}

function probe(runs: RunSpec[], opts: { dns?: boolean; portRange?: string } = {}): ProbeRun[] {
  needs('unshare', 'ip', 'ss', 'nginx', 'mount', ...(opts.dns ? ['dnsmasq'] : []));
  const r = spawnSync('unshare', ['-nm', '--propagation', 'private', process.execPath, fixture('tls-interop-probe.js'), JSON.stringify({ ...opts, runs })], {
    encoding: 'utf8',
    timeout: 240_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(r.status, 0, `probe failed (status ${r.status}, signal ${r.signal}): ${r.stderr || r.error?.message}`);
  return (JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { runs: ProbeRun[] }).runs;
}

const GOOD = 'https://198.18.0.2:8443/';
/** `ca` is replaced by the probe's CA file. */
const TRUST = { ca: 'interop-ca' };
const MONITOR = { interval: '250ms', scanInterval: '250ms' };
const load = (rate: number, duration = 2) => [{ model: 'arrival-rate', rate, duration }];
const scenario = (name: string, over: Record<string, unknown>) => ({ name, target: GOOD, tls: TRUST, load: load(200), workers: 1, monitor: MONITOR, ...over });

for (const engine of ['native', 'js'] as const) {
  describe(`interop: HTTPS against nginx (${engine} engine)`, { timeout: 300_000 }, () => {
    let runs: ProbeRun[] = [];
    const byName = (n: string): ProbeRun => {
      const r = runs.find((x) => x.name === `${engine}-${n}`);
      assert.ok(r, `run ${n} happened`);
      return r;
    };

    it('runs every connection policy and the certificate cases', () => {
      runs = probe(
        [
          scenario(`${engine}-client`, { connection: { close: 'client' }, tls: { ...TRUST, sessionResumption: false } }),
          scenario(`${engine}-server`, { connection: { close: 'server' } }),
          scenario(`${engine}-reset`, { connection: { close: 'reset' } }),
          scenario(`${engine}-resume`, { tls: { ...TRUST, sessionResumption: true } }),
          scenario(`${engine}-keepalive`, { connection: { reuse: true, poolSize: 4 } }),
          scenario(`${engine}-self-signed`, { target: 'https://198.18.0.2:8444/', tls: {}, load: load(50, 1) }),
          scenario(`${engine}-self-signed-insecure`, { target: 'https://198.18.0.2:8444/', tls: { insecure: true }, load: load(50, 1) }),
          scenario(`${engine}-expired`, { target: 'https://198.18.0.2:8445/', load: load(50, 1) }),
          scenario(`${engine}-sni-mismatch`, { tls: { ...TRUST, servername: 'other.example' }, load: load(50, 1) }),
        ].map((s) => ({ scenario: s, engine })),
      );
      assert.equal(runs.length, 9);
      for (const r of runs) assert.equal(r.engine.engine, engine, `${r.name}: ${r.engine.reason}`);
    });

    it('close: client — one handshake per connection, the client sends close_notify and FIN first: TIME_WAIT on the client', () => {
      const r = byName('client');
      assert.deepEqual(r.errors, {});
      assert.equal(r.totals.completed, 400);
      assert.deepEqual(r.log.statuses, { '200': 400 });
      assert.equal(r.log.connections, 400);
      assert.equal(r.totals.tlsHandshakes, 400);
      assert.equal(r.totals.tlsResumed, 0);
      assert.equal(r.log.reused, 0, 'nginx saw no resumed session');
      assert.equal(r.tlsMs?.count, 400);
      assert.ok(r.tlsMs!.p50 > 0);
      assert.ok(r.ssClient >= 395 && r.ssServer <= 5, `ss: client ${r.ssClient}, server ${r.ssServer}`);
    });

    it('close: server — nginx closes first: TIME_WAIT on the server, and the record says so', () => {
      const r = byName('server');
      assert.deepEqual(r.errors, {});
      assert.equal(r.log.connections, 400);
      assert.ok(r.ssServer >= 395 && r.ssClient <= 5, `ss: client ${r.ssClient}, server ${r.ssServer}`);
      assert.ok(r.peakServerTimeWait >= 300, `record's server TIME_WAIT ${r.peakServerTimeWait}`);
    });

    it('close: reset — RST, no TIME_WAIT on either side', () => {
      const r = byName('reset');
      assert.deepEqual(r.errors, {});
      assert.equal(r.log.connections, 400);
      assert.ok(r.ssServer + r.ssClient <= 5, `ss: client ${r.ssClient}, server ${r.ssServer}`);
    });

    it('session resumption: nginx resumes what the record counts as resumed', () => {
      const r = byName('resume');
      assert.deepEqual(r.errors, {});
      assert.equal(r.totals.tlsHandshakes, 400);
      assert.ok(r.totals.tlsResumed! >= 390, `resumed ${r.totals.tlsResumed}`);
      assert.ok(Math.abs(r.log.reused - r.totals.tlsResumed!) <= 2, `nginx reused ${r.log.reused}, record ${r.totals.tlsResumed}`);
    });

    it('keep-alive over TLS: every request on at most poolSize connections, one handshake each', () => {
      const r = byName('keepalive');
      assert.deepEqual(r.errors, {});
      assert.equal(r.log.requests, 400);
      assert.ok(r.log.connections <= 4, `${r.log.connections} connections`);
      assert.equal(r.totals.tlsHandshakes, r.log.connections);
    });

    it('a self-signed certificate is refused without trust (phase tls) and accepted with tls.insecure', () => {
      const refused = byName('self-signed');
      assert.equal(refused.totals.completed, 0);
      assert.deepEqual(Object.keys(refused.errorsByPhase), ['tls:DEPTH_ZERO_SELF_SIGNED_CERT']);
      assert.equal(refused.log.requests, 0);
      const accepted = byName('self-signed-insecure');
      assert.deepEqual(accepted.errors, {});
      assert.equal(accepted.totals.completed, 50);
      assert.equal(accepted.target.tls?.insecure, true);
    });

    it('an expired certificate and a name the certificate does not cover fail with their codes', () => {
      assert.deepEqual(Object.keys(byName('expired').errorsByPhase), ['tls:CERT_HAS_EXPIRED']);
      assert.deepEqual(Object.keys(byName('sni-mismatch').errorsByPhase), ['tls:ERR_TLS_CERT_ALTNAME_INVALID']);
    });
  });
}

describe('interop: host names from dnsmasq', { timeout: 300_000 }, () => {
  const NAMED = 'https://staging-api.internal:8443/';
  let runs: ProbeRun[] = [];
  const byName = (n: string): ProbeRun => {
    const r = runs.find((x) => x.name === n);
    assert.ok(r, `run ${n} happened`);
    return r;
  };

  it('runs by name: resolved once, per connection, and per connection with the UDP ports of the range taken', () => {
    runs = probe(
      [
        { scenario: scenario('once', { target: NAMED, load: load(100) }) },
        { scenario: scenario('per-connection', { target: NAMED, dns: 'per-connection', load: load(100) }) },
        // 400 ports are in TIME_WAIT toward nginx already; 800 more connections than the 600 left:
        // connects fail, lookups (UDP, another port space) go on.
        { scenario: scenario('tcp-exhausted', { target: NAMED, dns: 'per-connection', load: load(200, 4) }) },
        // A neighbour holds every UDP port of the range: lookups fail first (EAI_AGAIN), before any connect.
        { scenario: scenario('udp-exhausted', { target: NAMED, dns: 'per-connection', load: load(50, 1) }), holdUdp: 1000 },
      ],
      { dns: true, portRange: '40000 40999' },
    );
    assert.equal(runs.length, 4);
  });

  it('dns: once — one lookup at the start, the addresses recorded, the name in SNI', () => {
    const r = byName('once');
    assert.deepEqual(r.errors, {});
    assert.equal(r.totals.completed, 200);
    assert.deepEqual(r.target.resolved, { name: 'staging-api.internal', dns: 'once', addresses: ['198.18.0.2'], used: '198.18.0.2' });
    assert.equal(r.target.tls?.servername, 'staging-api.internal');
    assert.equal(r.dnsQueries, 1, 'dnsmasq answered one A query');
  });

  it('dns: per-connection — a lookup per new connection, each counted in the dns phase', () => {
    const r = byName('per-connection');
    assert.deepEqual(r.errors, {});
    assert.equal(r.totals.dnsLookups, r.totals.connectionsOpened);
    assert.equal(r.dnsMs?.count, r.totals.connectionsOpened);
    assert.ok(r.dnsQueries! >= r.totals.connectionsOpened, `dnsmasq saw ${r.dnsQueries} A queries for ${r.totals.connectionsOpened} connections`);
  });

  it('TCP ports running out do not fail lookups: connects fail with EADDRNOTAVAIL, the dns phase stays clean', () => {
    const r = byName('tcp-exhausted');
    assert.ok((r.errorsByPhase['connect:EADDRNOTAVAIL'] ?? 0) > 0, JSON.stringify(r.errorsByPhase));
    assert.ok(!Object.keys(r.errorsByPhase).some((k) => k.startsWith('dns:')), JSON.stringify(r.errorsByPhase));
    assert.ok(r.diagnosis.some((d) => d.verdict === 'client-port-exhaustion'), r.diagnosis.map((d) => d.verdict).join(', '));
  });

  it('with the UDP ports of the range taken, lookups fail first (EAI_AGAIN, phase dns) and the diagnosis says why', () => {
    const r = byName('udp-exhausted');
    assert.equal(r.totals.completed, 0);
    assert.ok((r.errorsByPhase['dns:EAI_AGAIN'] ?? 0) > 0, JSON.stringify(r.errorsByPhase));
    assert.equal(r.totals.connectionsOpened, 0);
    const v = r.diagnosis.find((d) => d.verdict === 'dns-failures');
    assert.ok(v, r.diagnosis.map((d) => d.verdict).join(', '));
  });
});
