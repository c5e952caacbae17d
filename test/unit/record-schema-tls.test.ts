/** The record schema with the TLS, DNS and CPU fields, and without them (older records). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runRecordSchema } from '../../src/record/schema.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/records/', import.meta.url));
const read = (name: string): Record<string, unknown> & { timeline: Array<Record<string, unknown>>; monitor: Record<string, unknown> } =>
  JSON.parse(readFileSync(`${FIX}${name}.json`, 'utf8'));

const problems = (doc: unknown): string[] => {
  const r = runRecordSchema.safeParse(doc);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('run record schema: TLS, DNS, CPU', () => {
  it('accepts a record with handshakes, lookups, their histograms, CPU per second and the new verdicts', () => {
    const r = read('https');
    r.diagnosis = ['tls-handshake-bound', 'tls-failures', 'dns-failures'].map((verdict) => ({ verdict, severity: 'warning', confidence: 0.8, atS: null, evidence: [], advice: [] }));
    assert.deepEqual(problems(r), []);
  });

  it('accepts older records without any of them', () => {
    assert.deepEqual(problems(read('healthy')), []);
    assert.deepEqual(problems(read('exhaustion')), []);
  });

  it('refuses what cannot be: negative cores, fractional handshakes, an unknown verdict, a trust it does not know', () => {
    const cpu = read('https');
    cpu.timeline[0]!.cpu = { process: -1, host: 0.5 };
    assert.deepEqual(problems(cpu), ['timeline.0.cpu.process: Too small: expected number to be >=0']);
    const count = read('https');
    (count.totals as Record<string, number>).tlsHandshakes = 1.5;
    assert.equal(problems(count).length, 1);
    const verdict = read('https');
    verdict.diagnosis = [{ verdict: 'tls-slow', severity: 'warning', confidence: 0.8, atS: null, evidence: [], advice: [] }];
    assert.equal(problems(verdict).length, 1);
    const trust = read('https');
    (trust.target as { tls: { trust: string } }).tls.trust = 'anything';
    assert.equal(problems(trust).length, 1);
    const peak = read('https');
    peak.monitor.peakCpu = { process: '2' };
    assert.ok(problems(peak).length >= 1);
  });

  it('takes null CPU figures where they were unreadable, and a null cpu', () => {
    const r = read('https');
    r.timeline[0]!.cpu = { process: null, host: null };
    r.timeline[1]!.cpu = null;
    r.monitor.peakCpu = null;
    assert.deepEqual(problems(r), []);
  });
});
