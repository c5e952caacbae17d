/** The Conntrack* counters: /proc/net/stat/nf_conntrack parsed by header name, and read by the sampler. */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { conntrackDelta, parseConntrackStat } from '../../src/monitor/conntrack-stat.js';
import { counterDeltas, joinCounters, LinuxProc } from '../../src/monitor/linux.js';
import { Sampler } from '../../src/monitor/sampler.js';
import { sampleLine } from '../../src/report/monitor-text.js';
import { CONNTRACK_COUNTER_NAMES } from '../../src/monitor/types.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/proc/', import.meta.url));
const fixture = (name: string): string => readFileSync(path.join(FIX, name), 'utf8');
const budget = { range: [32768, 60999] as [number, number], usable: 28_232 };
/** The conntrack entries of a missing/unavailable map (the fixture tree has no self/fd or stat). */
const ct = (m: Record<string, string> | undefined): Record<string, string> => Object.fromEntries(Object.entries(m ?? {}).filter(([k]) => k.startsWith('conntrack')));

describe('/proc/net/stat/nf_conntrack parser', () => {
  it('6.18 (clashres, chainlength): insert_failed and drop from a real SNAT clash', () => {
    assert.deepEqual(parseConntrackStat(fixture('nf_conntrack-6.18.txt')), { ConntrackInsertFailed: 79, ConntrackDrop: 79, ConntrackEarlyDrop: 0 });
  });

  it('4.x (searched, delete_list): columns by header name, summed over four CPUs', () => {
    assert.deepEqual(parseConntrackStat(fixture('nf_conntrack-4.x.txt')), { ConntrackInsertFailed: 18, ConntrackDrop: 4 + 0xffffffff, ConntrackEarlyDrop: 7 });
  });

  it('a header without search_restart (older 3.x layout, trailing space) and one without early_drop', () => {
    const old = 'entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete\n' + '00000010  00000000 00000005 00000000 00000000 00000000 00000000 00000000 00000000 0000000c 00000002 00000001 00000000  00000000 00000000 00000000 \n';
    assert.deepEqual(parseConntrackStat(old), { ConntrackInsertFailed: 12, ConntrackDrop: 2, ConntrackEarlyDrop: 1 });
    assert.deepEqual(parseConntrackStat('entries insert_failed drop\n00000001 00000003 00000004\n'), { ConntrackInsertFailed: 3, ConntrackDrop: 4, ConntrackEarlyDrop: null });
  });

  it('no entries header, or a CPU line that is not all hex: null', () => {
    assert.equal(parseConntrackStat(''), null);
    assert.equal(parseConntrackStat('insert_failed drop\n00000001 00000002\n'), null);
    assert.equal(parseConntrackStat('entries insert_failed drop\n00000001 zz 00000002\n'), null);
    assert.equal(parseConntrackStat('entries insert_failed drop\n00000001 00000002\n'), null);
  });

  it("a CPU's 32-bit count that wraps still gives the rise", () => {
    const before = parseConntrackStat(fixture('nf_conntrack-4.x.txt'))!;
    const after = parseConntrackStat(fixture('nf_conntrack-4.x.txt').replace('ffffffff', '00000002'))!;
    assert.equal(conntrackDelta(before.ConntrackDrop!, after.ConntrackDrop!), 3);
    const d = counterDeltas(joinCounters(null, before)!, joinCounters(null, after)!);
    assert.equal(d.ConntrackDrop, 3);
    assert.equal(d.ConntrackInsertFailed, 0);
    assert.equal(d.ActiveOpens, null, 'the TCP counters were not read');
  });
});

function procTree(conntrack: { stat: boolean; count: boolean }): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'ps-ct-'));
  mkdirSync(path.join(root, 'net/stat'), { recursive: true });
  for (const f of ['sockstat', 'sockstat6', 'netstat', 'snmp']) copyFileSync(path.join(FIX, `${f}.txt`), path.join(root, `net/${f}`));
  if (conntrack.stat) copyFileSync(path.join(FIX, 'nf_conntrack-6.18.txt'), path.join(root, 'net/stat/nf_conntrack'));
  if (conntrack.count) {
    mkdirSync(path.join(root, 'sys/net/netfilter'), { recursive: true });
    writeFileSync(path.join(root, 'sys/net/netfilter/nf_conntrack_count'), '1\n');
    writeFileSync(path.join(root, 'sys/net/netfilter/nf_conntrack_max'), '262144\n');
  }
  return root;
}

describe('sampler: Conntrack* counters', () => {
  it('reads them with the other counters: the first sample is the baseline, then deltas', async () => {
    const root = procTree({ stat: true, count: true });
    const sampler = new Sampler({ intervalMs: 250, scanIntervalMs: 1000, budget, procRoot: root, role: 'fast' }, () => undefined);
    assert.equal((await sampler.sample(false)).counters, null);
    const stat = path.join(root, 'net/stat/nf_conntrack');
    writeFileSync(stat, readFileSync(stat, 'utf8').replace(/0000004f 0000004f/, '00000051 00000050'));
    const s = await sampler.sample(false);
    assert.equal(s.counters?.ConntrackInsertFailed, 2);
    assert.equal(s.counters?.ConntrackDrop, 1);
    assert.equal(s.counters?.ConntrackEarlyDrop, 0);
    assert.equal(s.counters?.ActiveOpens, 0);
    assert.deepEqual(ct(s.missing), {});
    assert.deepEqual(ct(sampler.status().unavailable), {});
    assert.match(sampleLine(s, null, null), /ConntrackInsertFailed \+2 ConntrackDrop \+1  conntrack 1\/262144$/);
    sampler.dispose();
  });

  it('no nf_conntrack: null, with the one reason the table count already gives', async () => {
    const sampler = new Sampler({ intervalMs: 250, scanIntervalMs: 1000, budget, procRoot: procTree({ stat: false, count: false }), role: 'fast' }, () => undefined);
    await sampler.sample(false);
    const s = await sampler.sample(false);
    for (const n of CONNTRACK_COUNTER_NAMES) assert.equal(s.counters?.[n], null, n);
    assert.equal(s.counters?.ActiveOpens, 0);
    assert.deepEqual(ct(s.missing), { conntrack: 'ENOENT' });
    assert.deepEqual(ct(sampler.status().unavailable), { conntrack: 'no nf_conntrack (connection tracking not loaded)' });
    sampler.dispose();
  });

  it('a table count but no stat file (no CONFIG_NF_CONNTRACK_PROCFS): the counters are null and told apart', async () => {
    const sampler = new Sampler({ intervalMs: 250, scanIntervalMs: 1000, budget, procRoot: procTree({ stat: false, count: true }), role: 'fast' }, () => undefined);
    await sampler.sample(false);
    const s = await sampler.sample(false);
    assert.deepEqual(s.conntrack, { count: 1, max: 262144 });
    assert.equal(s.counters?.ConntrackDrop, null);
    assert.deepEqual(ct(s.missing), { conntrackCounters: 'ENOENT' });
    assert.match(sampler.status().unavailable.conntrack ?? '', /no \/proc\/net\/stat\/nf_conntrack .*CONFIG_NF_CONNTRACK_PROCFS/);
    sampler.dispose();
  });

  it('LinuxProc: a missing or garbled stat file reads as null with its reason', () => {
    const root = procTree({ stat: false, count: false });
    const proc = new LinuxProc(root);
    assert.equal(proc.conntrackCounters(), null);
    assert.equal(proc.failure('conntrackCounters'), 'ENOENT');
    writeFileSync(path.join(root, 'net/stat/nf_conntrack'), 'nonsense\n');
    assert.equal(proc.conntrackCounters(), null);
    assert.equal(proc.failure('conntrackCounters'), 'unparseable');
    rmSync(path.join(root, 'net/stat/nf_conntrack'));
    copyFileSync(path.join(FIX, 'nf_conntrack-6.18.txt'), path.join(root, 'net/stat/nf_conntrack'));
    assert.equal(proc.conntrackCounters()?.ConntrackInsertFailed, 79);
    assert.equal(proc.failure('conntrackCounters'), null);
  });
});
