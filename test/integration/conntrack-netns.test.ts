/**
 * The Conntrack* counters read in a fresh network namespace (`unshare -rn`): with nf_conntrack
 * loaded in the kernel every namespace has its own /proc/net/stat/nf_conntrack, so the counters
 * are numbers (0 here: nothing hooks conntrack in the namespace; test/interop/conntrack.interop.ts
 * makes them rise with an nft rule). Where nf_conntrack is not loaded the test fails, saying so.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { CounterDeltas, Conntrack } from '../../src/monitor/types.js';
import { CONNTRACK_COUNTER_NAMES } from '../../src/monitor/types.js';
import { fixture, runInNetns } from '../helpers/netns.js';

interface Probe {
  counters: CounterDeltas | null;
  conntrack: Conntrack | null;
  missing: Record<string, string>;
  unavailable: Record<string, string>;
}

describe('Conntrack* counters in a network namespace', () => {
  it('are read (numbers, not null) next to the table count', () => {
    assert.ok(existsSync('/proc/net/stat/nf_conntrack'), 'no /proc/net/stat/nf_conntrack: this test needs the nf_conntrack module loaded in the kernel (modprobe nf_conntrack on the host)');
    const p = runInNetns<Probe>(fixture('conntrack-probe.js'), ['0']);
    for (const n of CONNTRACK_COUNTER_NAMES) assert.equal(p.counters?.[n], 0, `${n}: ${JSON.stringify(p)}`);
    assert.equal(typeof p.counters?.ActiveOpens, 'number');
    assert.equal(p.conntrack?.count, 0);
    assert.ok((p.conntrack?.max ?? 0) > 0);
    assert.equal(p.unavailable.conntrack, undefined);
    assert.deepEqual(Object.keys(p.missing).filter((k) => k.startsWith('conntrack')), []);
  });
});
