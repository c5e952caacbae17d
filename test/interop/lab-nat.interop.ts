/**
 * Interop: `portstorm lab` with `lab.topology: nat` — a client behind a router that SNATs to 50
 * ports on one address, 70 users each holding a keep-alive connection. 50 connections get through;
 * the other 20 SYNs are dropped by the router's conntrack (insert_failed, drop), so the client sees
 * connect timeouts, never EADDRNOTAVAIL, and its own ports are not what ran out. Two NAT addresses
 * give 100 translations and no failure. The host's nftables ruleset is the same before and after.
 * Needs nftables, iproute2, util-linux; a missing program fails the test, saying which.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type { RunRecord } from '../../src/record/types.js';
import { needPrograms } from '../helpers/programs.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** The host's own ruleset (nft in a user namespace of its own when we are not root reads nothing of the host's; as root it is the host's). */
const ruleset = () => spawnSync('nft', ['list', 'ruleset'], { encoding: 'utf8' }).stdout ?? '';

describe('interop: lab topology nat', { timeout: 120_000 }, () => {
  it('50 NAT ports, 70 users: router insert_failed/drop, client connect timeouts, no client exhaustion; 2 addresses: none', () => {
    needPrograms('nft', 'unshare', 'ip', 'setpriv');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-lab-nat-'));
    const file = path.join(dir, 'nat.yaml');
    writeFileSync(
      file,
      [
        'name: lab-nat-test',
        'connection: { reuse: true, poolSize: 70 }',
        'load: [{ model: users, users: 70, duration: 4s, thinkTime: 100ms }]',
        'timeouts: { connect: 1s, request: 2s }',
        'workers: 1',
        'lab: { topology: nat, nat: { ports: 40000-40049, timeouts: { timeWait: 30 } } }',
        '',
      ].join('\n'),
    );
    const before = ruleset();
    const r = spawnSync(process.execPath, [CLI, 'lab', file, '--quiet', '--json', '--out', dir, '--variant', 'one', '--variant', 'two-ips:nat.addresses=2'], { encoding: 'utf8', timeout: 100_000 });
    assert.equal(r.status, 0, r.stderr);
    const by = new Map<string | null, RunRecord>();
    for (const f of readdirSync(dir)) {
      if (existsSync(path.join(dir, f, 'run.json'))) {
        const rec = JSON.parse(readFileSync(path.join(dir, f, 'run.json'), 'utf8')) as RunRecord;
        by.set(rec.label, rec);
      }
    }
    const one = by.get('one')!;
    const two = by.get('two-ips')!;
    assert.ok(one && two, `records: ${[...by.keys()]}`);

    const topo = one.lab!.topology!;
    assert.equal(topo.kind, 'nat');
    assert.deepEqual(topo.nat!.ports, [40000, 40049]);
    assert.deepEqual(topo.nat!.addresses, ['198.18.2.3']);
    // Conntrack timeouts are per network namespace: the router's own was written.
    assert.deepEqual(topo.nat!.conntrack, { set: { 'net.netfilter.nf_conntrack_tcp_timeout_time_wait': 30 }, notSettable: {} });
    assert.deepEqual(Object.keys(one.hosts ?? {}), ['client', 'router', 'server']);

    // The router's conntrack refused the SYNs beyond 50 translations.
    const sum = (rec: RunRecord, key: string) => rec.hosts!.router!.timeline.reduce((a, s) => a + ((s.counters as Record<string, number> | null)?.[key] ?? 0), 0);
    assert.ok(sum(one, 'ConntrackInsertFailed') > 0 && sum(one, 'ConntrackDrop') > 0, `insert_failed ${sum(one, 'ConntrackInsertFailed')} drop ${sum(one, 'ConntrackDrop')}`);
    // The client saw connect timeouts, not EADDRNOTAVAIL, and its own ports did not run out.
    assert.ok((one.errors.CONNECT_TIMEOUT ?? 0) >= 15, JSON.stringify(one.errors));
    assert.equal(one.errors.EADDRNOTAVAIL ?? 0, 0);
    assert.ok(!one.diagnosis!.some((d) => d.verdict === 'client-port-exhaustion'), JSON.stringify(one.diagnosis!.map((d) => d.verdict)));
    // The verdict is the NAT's, on the router, with the conntrack evidence and the NAT advice.
    const snat = one.diagnosis!.find((d) => d.verdict === 'snat-port-exhaustion');
    assert.ok(snat, JSON.stringify(one.diagnosis!.map((d) => `${d.verdict}@${d.host}`)));
    assert.equal(snat.host, 'router');
    assert.equal(snat.severity, 'critical');
    assert.ok(snat.evidence.some((e) => /insert_failed/.test(e)), snat.evidence.join(' | '));
    assert.ok(snat.advice.some((a) => /NAT Gateway|minPortsPerVm|allocatedOutboundPorts/.test(a)), snat.advice.join(' | '));
    assert.ok(!one.diagnosis!.some((d) => d.verdict === 'conntrack-full' && d.host === 'router'), 'conntrack-full yields to the NAT verdict');
    // The model: 50 ports on one address against 70 connections held at once.
    const p = topo.prediction;
    assert.ok(p, 'the lab prediction is recorded');
    assert.equal(p.host, 'router');
    assert.equal(p.budget, 50);
    assert.equal(p.basis, 'concurrency');
    assert.notEqual(p.predictedAtS, null);
    assert.equal(two.lab!.topology!.prediction?.predictedAtS ?? null, null, 'two addresses (100 ports) hold the 70 connections');

    assert.deepEqual(two.lab!.topology!.nat!.addresses, ['198.18.2.3', '198.18.2.4']);
    assert.equal(two.totals.failed, 0, JSON.stringify(two.errors));
    assert.equal(sum(two, 'ConntrackInsertFailed'), 0);
    assert.equal(ruleset(), before);
  });
});
