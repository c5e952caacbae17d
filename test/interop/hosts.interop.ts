/**
 * Interop: one run, every host (issue 16). A client namespace, a service namespace with nginx
 * proxying to a backend namespace without upstream keep-alive (500 ports on the service), and a
 * portstorm agent on the service (test/fixtures/hosts-probe.ts). The load goes through the proxy
 * with `--watch service=…`: the record holds both hosts and the diagnosis puts the exhaustion on the
 * service, toward the backend, with the client's 502s; attaching the agent's `--out` file to the same
 * run after the fact gives the same verdict. The service's TIME_WAIT toward the backend is checked
 * against `ss` in its namespace. Needs nginx-light, iproute2 and util-linux.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fixture } from '../helpers/netns.js';
import { needPrograms } from '../helpers/programs.js';

interface HostSummary {
  role: string;
  source: string;
  clock: { method: string; offsetMs: number; uncertaintyMs: number | null };
  usable: number | null;
  ports: { peakInUse: number; peakUtilization: number | null; peakTimeWait: number; busiestDestination: string | null } | null;
  coverage: { share: number };
  gaps: string[];
}
interface Summary {
  hosts: string[];
  errors: Record<string, number>;
  totals: { attempted: number; completed: number; failed: number; connectionsOpened: number };
  service: HostSummary | null;
  client: { ports: { peakUtilization: number | null } | null } | null;
  diagnosis: Array<{ verdict: string; host: string | null; severity: string; confidence: number; atS: number | null; evidence: string[]; advice: string[] }>;
}
interface Probe {
  watched: Summary;
  attached: Summary;
  attachNote: string;
  ssServiceTimeWait: number;
}

describe('interop: one run, every host (a proxy running out of ports toward its backend)', { timeout: 240_000 }, () => {
  let probe: Probe;

  it('runs the load through nginx with the service watched, then attaches its --out file', () => {
    needPrograms('unshare', 'ip', 'ss', 'nginx', 'mount');
    const r = spawnSync('unshare', ['-rnm', '--propagation', 'private', process.execPath, fixture('hosts-probe.js')], { encoding: 'utf8', timeout: 200_000, maxBuffer: 64 * 1024 * 1024 });
    assert.equal(r.status, 0, `probe failed (status ${r.status}, signal ${r.signal}): ${r.stderr || r.error?.message}`);
    probe = JSON.parse(r.stdout.trim().split('\n').pop()!) as Probe;
  });

  const upstream = (s: Summary) => s.diagnosis.find((d) => d.verdict === 'upstream-port-exhaustion');

  it('--watch: the record has both hosts, the service out of its 500 ports toward the backend', () => {
    const w = probe.watched;
    assert.deepEqual(w.hosts, ['client', 'service']);
    assert.ok(w.service, 'the service host is recorded');
    assert.equal(w.service.source, 'agent');
    assert.equal(w.service.clock.method, 'round-trip');
    assert.equal(w.service.usable, 500);
    assert.equal(w.service.ports?.busiestDestination, '198.18.2.2:8080');
    assert.ok((w.service.ports?.peakUtilization ?? 0) >= 0.95, JSON.stringify(w.service.ports));
    assert.ok(w.service.coverage.share >= 0.8, JSON.stringify(w.service.coverage));
    // The client kept its connections: its own ports never ran low.
    assert.ok((w.client?.ports?.peakUtilization ?? 1) < 0.05, JSON.stringify(w.client));
    assert.ok((w.errors.HTTP_5XX ?? 0) > 0, `the proxy answered errors: ${JSON.stringify(w.errors)}`);
  });

  it("the verdict is upstream-port-exhaustion on host service toward the backend, with the client's 5xx as evidence", () => {
    const v = upstream(probe.watched);
    assert.ok(v, probe.watched.diagnosis.map((d) => `${d.verdict}@${d.host}`).join(', '));
    assert.equal(v.host, 'service');
    assert.equal(v.severity, 'critical');
    assert.ok(v.evidence.some((e) => e.includes('198.18.2.2:8080')), v.evidence.join(' | '));
    assert.ok(v.evidence.some((e) => /HTTP_5XX/.test(e)), v.evidence.join(' | '));
    assert.ok(v.advice.some((a) => /keepalive/.test(a)), v.advice.join(' | '));
    assert.ok(!probe.watched.diagnosis.some((d) => d.verdict === 'client-port-exhaustion'), 'not blamed on the client');
  });

  it("the service's TIME_WAIT toward the backend in the record is what ss counts there", () => {
    const tw = probe.watched.service?.ports?.peakTimeWait ?? 0;
    assert.ok(tw >= 450 && tw <= 500, `record ${tw}`);
    assert.ok(probe.ssServiceTimeWait >= 450 && probe.ssServiceTimeWait <= 500, `ss ${probe.ssServiceTimeWait}`);
  });

  it('--attach of the service\'s monitor --out file gives the same verdict', () => {
    const a = probe.attached;
    assert.deepEqual(a.hosts, ['client', 'service']);
    assert.equal(a.service?.source, 'file');
    assert.match(probe.attachNote, /attach service: .* covers/);
    const v = upstream(a);
    assert.ok(v, a.diagnosis.map((d) => `${d.verdict}@${d.host}`).join(', '));
    assert.equal(v.host, 'service');
    assert.equal(v.severity, 'critical');
  });
});
