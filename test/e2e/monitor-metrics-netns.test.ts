/**
 * `portstorm monitor --prometheus` as a user runs it, in a private network namespace (its own port
 * range and tcp_tw_reuse): /metrics carries the capacity model's view of a destination.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fixture, runInNetns } from '../helpers/netns.js';

describe('portstorm monitor --prometheus: the capacity view (network namespace)', () => {
  it('30 connections held toward 127.0.0.1:8080, none new: ETA +Inf; tcp_tw_reuse=2 toward loopback: 1 s hold, 28 232/s sustainable', () => {
    // A new namespace has the kernel's defaults: 32768–60999 (28 232 ports) and tcp_tw_reuse=2.
    const { text, stderr } = runInNetns<{ text: string; stderr: string }>(fixture('monitor-metrics-probe.js'), [], [], 60_000);
    const value = (metric: string): string | undefined => new RegExp(`^${metric}\\{dest="127\\.0\\.0\\.1:8080"\\} (\\S+)$`, 'm').exec(text)?.[1];
    assert.equal(value('portstorm_ephemeral_ports_in_use'), '30', `${text}\n${stderr}`);
    assert.equal(value('portstorm_port_exhaustion_eta_seconds'), '+Inf');
    assert.equal(value('portstorm_new_connection_rate'), '0');
    assert.equal(value('portstorm_port_hold_seconds'), '1');
    assert.equal(value('portstorm_sustainable_connection_rate'), '28232');
  });
});
