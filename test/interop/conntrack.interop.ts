/**
 * Interop: nftables makes conntrack fail insertions in a private network namespace, and the
 * monitor's Conntrack* counters see it. An nft rule SNATs UDP toward 198.18.0.2:9 to the single
 * source 198.18.0.1:40000; of N datagrams from N sockets the first takes that tuple and each later
 * one clashes with it on the reply tuple, so the kernel counts insert_failed and drop and discards
 * it. (nf_conntrack_max cannot be lowered to fill the table instead: it is read-only in every
 * network namespace but the initial one.) Needs nftables, iproute2, util-linux; a missing
 * program fails the test, saying which.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Conntrack, CounterDeltas } from '../../src/monitor/types.js';
import { fixture, runInNetns } from '../helpers/netns.js';
import { needPrograms } from '../helpers/programs.js';

const RULES = 'table ip portstorm { chain post { type nat hook postrouting priority srcnat; ip daddr 198.18.0.2 udp dport 9 snat to 198.18.0.1:40000; }; }';

describe('interop: nftables and the Conntrack* counters', { timeout: 60_000 }, () => {
  it('SNAT to one source port: every datagram after the first fails its insertion and is dropped', () => {
    needPrograms('nft', 'unshare', 'ip');
    const setup = ['ip addr add 198.18.0.1/32 dev lo', 'ip addr add 198.18.0.2/32 dev lo', `nft '${RULES}'`];
    const p = runInNetns<{ counters: CounterDeltas | null; conntrack: Conntrack | null }>(fixture('conntrack-probe.js'), ['40'], setup, 30_000);
    assert.equal(p.counters?.ConntrackInsertFailed, 39, JSON.stringify(p));
    assert.equal(p.counters?.ConntrackDrop, 39, JSON.stringify(p));
    assert.equal(p.counters?.ConntrackEarlyDrop, 0);
    assert.equal(p.conntrack?.count, 1, 'the one datagram that got its entry');
  });
});
