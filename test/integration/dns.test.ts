/**
 * Host names: the target's resolution at the start (every address guarded) and `dns:
 * per-connection` (a lookup before every new connection, its failures in phase `dns`), against
 * names from an /etc/hosts bind-mounted in a private mount and network namespace.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fixture, runInNetnsWithFiles } from '../helpers/netns.js';

const HOSTS = ['127.0.0.1 localhost', '127.0.0.6 multi.test', '127.0.0.7 multi.test', '127.0.0.8 mixed.test', '203.0.113.7 mixed.test', ''].join('\n');
const FILES = { '/etc/hosts': HOSTS, '/etc/nsswitch.conf': 'hosts: files\n' };

function probe<T>(which: string): T {
  return runInNetnsWithFiles<T>(fixture('dns-probe.js'), [which], FILES);
}

interface RunProbe {
  tls: { servername: string | null; trust: string } | null;
  totals: { attempted: number; completed: number; failed: number; connectionsOpened: number; dnsLookups?: number };
  errorsByPhase: Record<string, number>;
  engine: { engine: string; reason: string | null };
  resolved: { name: string | null; dns: string; addresses: string[]; used: string | null };
  ownDestinations: string[];
  dnsMs: { count: number } | null;
  timelineLookups: number;
}

describe('host names (namespace with its own /etc/hosts)', () => {
  it('resolveTarget: every address of the name, in resolver order; https defaults to 443; a remote address among them is refused', () => {
    const r = probe<Record<string, unknown>>('resolve');
    assert.deepEqual(r.multi, { host: '127.0.0.6', port: 8080, name: 'multi.test', addresses: ['127.0.0.6', '127.0.0.7'] });
    assert.deepEqual(r.https, { host: '127.0.0.6', port: 443, name: 'multi.test', addresses: ['127.0.0.6', '127.0.0.7'] });
    assert.deepEqual(r.literal, { host: '127.0.0.9', port: 81, name: null, addresses: ['127.0.0.9'] });
    assert.equal(
      r.mixed,
      'probe.yaml: target: http://mixed.test:8080/ resolves to 203.0.113.7 (one of 127.0.0.8, 203.0.113.7), which is not a loopback or private address; ' +
        'portstorm only loads hosts you run unless the scenario sets allowRemote: true or you pass --allow-remote',
    );
    assert.deepEqual(r.mixedAllowed, { host: '127.0.0.8', port: 8080, name: 'mixed.test', addresses: ['127.0.0.8', '203.0.113.7'] });
    assert.equal(r.missing, 'probe.yaml: target: cannot resolve staging-api.internal (ENOTFOUND)');
  });

  it('dns: once resolves at the start and connects to the first address; per-connection looks up before every connection', () => {
    const r = probe<Record<'once' | 'perConnection' | 'perConnectionKeepAlive', RunProbe>>('runs');
    const port = r.once.ownDestinations[0]!.split(':')[1];
    assert.equal(r.once.totals.completed, 50, JSON.stringify(r.once));
    assert.equal(r.once.totals.dnsLookups, undefined);
    assert.equal(r.once.dnsMs, null);
    assert.deepEqual(r.once.resolved, { name: 'multi.test', dns: 'once', addresses: ['127.0.0.6', '127.0.0.7'], used: '127.0.0.6' });
    assert.deepEqual(r.once.ownDestinations, [`127.0.0.6:${port}`, `127.0.0.7:${port}`]);

    const p = r.perConnection;
    assert.equal(p.totals.completed, 50, JSON.stringify(p));
    assert.equal(p.totals.dnsLookups, 50);
    assert.equal(p.timelineLookups, 50);
    assert.equal(p.dnsMs?.count, 50);
    assert.deepEqual(p.resolved, { name: 'multi.test', dns: 'per-connection', addresses: ['127.0.0.6', '127.0.0.7'], used: null });
    assert.deepEqual(p.engine, { engine: 'js', reason: 'dns: per-connection looks the name up for each connection (getaddrinfo), which the native engine does not' });

    const k = r.perConnectionKeepAlive;
    assert.equal(k.totals.completed, 50, JSON.stringify(k));
    assert.equal(k.totals.dnsLookups, k.totals.connectionsOpened, 'one lookup per pooled connection');
    assert.ok(k.totals.connectionsOpened <= 3);
  });

  it('a name that stops resolving mid-run: lookups fail in phase dns (ENOTFOUND) and nothing connects', () => {
    const p = probe<RunProbe>('stops-resolving');
    assert.equal(p.totals.attempted, 100);
    assert.ok(p.totals.completed >= 40 && p.totals.completed < 100, JSON.stringify(p));
    assert.equal(p.errorsByPhase['dns:ENOTFOUND'], p.totals.attempted - p.totals.completed, JSON.stringify(p.errorsByPhase));
    assert.equal(p.totals.connectionsOpened, p.totals.completed);
    assert.equal(p.totals.dnsLookups, p.totals.completed);
  });

  it('an https target by name: SNI, the certificate check and Host carry the name; tls.servername overrides; a given target certificate is trusted alone', () => {
    const r = probe<{ named: RunProbe; perConnection: RunProbe; wrongName: RunProbe; given: RunProbe; servernames: string[]; hosts: string[]; port: number }>('https-name');
    assert.equal(r.named.totals.completed, 20, JSON.stringify(r.named.errorsByPhase));
    assert.deepEqual({ servername: r.named.tls?.servername, trust: r.named.tls?.trust }, { servername: 'multi.test', trust: 'ca' });
    assert.deepEqual(r.servernames, ['multi.test']);
    assert.deepEqual(r.hosts, [`multi.test:${r.port}`]);
    assert.equal(r.perConnection.totals.completed, 20, JSON.stringify(r.perConnection.errorsByPhase));
    assert.equal(r.perConnection.totals.dnsLookups, 20);
    assert.deepEqual(r.wrongName.errorsByPhase, { 'tls:ERR_TLS_CERT_ALTNAME_INVALID': 20 });
    assert.equal(r.wrongName.tls?.servername, 'other.test');
    assert.equal(r.given.totals.completed, 20, JSON.stringify(r.given.errorsByPhase));
    assert.equal(r.given.tls?.trust, 'builtin');
  });

  it('per-connection lookups in every JS transport: raw TCP one-shot and pooled, the HTTP pool; an unknown name fails in phase dns', () => {
    const r = probe<{ codes: Record<string, string[]>; lookups: Record<string, number>; connects: Record<string, number> }>('transports');
    assert.deepEqual(r.codes.tcpOneShot, Array(10).fill('ok'));
    assert.deepEqual(r.codes.tcpPool, Array(10).fill('ok'));
    assert.deepEqual(r.codes.httpPool, Array(10).fill('ok'));
    assert.deepEqual(r.codes.unknownName, ['dns:ENOTFOUND', 'dns:ENOTFOUND']);
    assert.deepEqual(r.codes.unknownNamePool, ['dns:ENOTFOUND', 'dns:ENOTFOUND']);
    assert.deepEqual(r.codes.unknownNameTcpPool, ['dns:ENOTFOUND', 'dns:ENOTFOUND']);
    assert.equal(r.lookups.tcpOneShot, 10);
    assert.equal(r.connects.tcpOneShot, 10);
    // Pools look up once per connection they open, at most poolSize (2) of them.
    assert.equal(r.lookups.tcpPool, r.connects.tcpPool);
    assert.equal(r.lookups.httpPool, r.connects.httpPool);
    assert.ok(r.connects.tcpPool <= 2 && r.connects.httpPool <= 2, JSON.stringify(r.connects));
  });
});
