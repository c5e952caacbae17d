/** Hosts in one shape (schema 2): the per-host fold, clock offsets, and schema 1 records read as one host. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLIENT_HOST, hostViews } from '../../src/analysis/hosts.js';
import { foldHost, toLocalClock } from '../../src/monitor/host-fold.js';
import { zeroStates, type MonitorSample } from '../../src/monitor/types.js';
import { runRecordSchema } from '../../src/record/schema.js';
import { syntheticRecord, entry, sockets } from '../helpers/synthetic-record.js';

const START = 1_700_000_000_000;

/** A sample taken at `at` on its host's clock, with a scan toward the backend holding `inUse` ports. */
function sample(at: number, inUse: number): MonitorSample {
  const states = { ...zeroStates(), timeWait: inUse, established: 1 };
  return {
    at,
    lateMs: 0,
    sockstat: { at, timeWait: inUse, inUse: 1, orphan: 0, alloc: 1, inUse6: 0 },
    scan: {
      at,
      costMs: 2,
      source: 'sockdiag',
      total: inUse + 1,
      states,
      client: states,
      server: zeroStates(),
      ephemeralInUse: inUse,
      destinations: [{ dest: '198.18.2.2:8080', inUse, timeWait: inUse, established: 0, bySource: null, utilization: inUse / 500 }],
      sources: {},
    },
    counters: null,
    conntrack: { count: inUse, max: 65536 },
    fds: null,
  };
}

const status = { source: 'sockdiag' as const, unavailable: {}, effectiveScanIntervalMs: 1000 };
const run = { startEpochMs: START, durationS: 3, intervalS: 0.25, scanIntervalS: 1 };

describe('foldHost', () => {
  it("moves an agent's samples onto the run's clock by its offset, one entry per run second", () => {
    // The agent's clock runs 5 s ahead: its sample stamped START + 5 000 + 1 200 was taken 1.2 s into the run.
    const offsetMs = 5000;
    const samples = [0, 1, 2].map((t) => sample(START + offsetMs + t * 1000 + 200, 100 * (t + 1)));
    const h = foldHost(samples, status, { role: 'service', address: 'http://198.18.1.2:9464', source: 'agent', clock: { method: 'round-trip', offsetMs, uncertaintyMs: 0.4, probes: 8 }, host: null }, run);
    assert.deepEqual(
      h.timeline.map((e) => [e.t, e.sockets?.timeWait ?? null]),
      [
        [0, 100],
        [1, 200],
        [2, 300],
      ],
    );
    assert.equal(h.timeline[2]!.conntrack?.count, 300);
    assert.equal(h.ports?.peakInUse, 300);
    assert.equal(h.ports?.busiestDestination, '198.18.2.2:8080');
    assert.deepEqual(h.coverage, { fromS: 0, toS: 2, share: 1 });
  });

  it('leaves seconds it has no sample for as null (never zeros), and says so in coverage', () => {
    const h = foldHost([sample(START + 200, 50)], status, { role: 'service', address: 'x', source: 'file', clock: { method: 'wall-clock', offsetMs: 0, uncertaintyMs: null }, host: null }, { ...run, durationS: 6 }, ['stream stalled from t = 1.0 s']);
    assert.equal(h.timeline[0]!.sockets?.timeWait, 50);
    assert.equal(h.timeline[5]!.sockets, null);
    assert.ok(h.coverage.share < 0.5, JSON.stringify(h.coverage));
    assert.deepEqual(h.gaps, ['stream stalled from t = 1.0 s']);
  });

  it('toLocalClock shifts every time a sample carries and copies', () => {
    const s = sample(10_000, 1);
    const [moved] = toLocalClock([s], 3000);
    assert.equal(moved!.at, 7000);
    assert.equal(moved!.scan!.at, 7000);
    assert.equal(moved!.sockstat!.at, 7000);
    assert.equal(s.at, 10_000);
  });
});

describe('hostViews', () => {
  it('reads a schema 1 record as one host, the client, from its top-level figures', () => {
    const r = syntheticRecord({ timeline: [entry(0, { sockets: sockets({ timeWait: 7 }) }), entry(1)] });
    assert.equal(r.schema, 1);
    const [client, ...others] = hostViews(r);
    assert.deepEqual(others, []);
    assert.equal(client!.name, CLIENT_HOST);
    assert.equal(client!.role, 'client');
    assert.equal(client!.timeline[0]!.sockets?.timeWait, 7);
    assert.deepEqual(client!.ports, r.ports);
  });

  it('lists the client first, then the other hosts of a schema 2 record', () => {
    const base = syntheticRecord({ timeline: [entry(0)] });
    const service = foldHost([sample(START + 100, 10)], status, { role: 'service', address: 'http://198.18.1.2:9464', source: 'agent', clock: { method: 'round-trip', offsetMs: 0, uncertaintyMs: 1 }, host: null }, { ...run, durationS: 1 });
    const client = hostViews(base)[0]!;
    const { name: _n, ...clientRecord } = client;
    const r = { ...base, schema: 2 as const, hosts: { service, client: clientRecord } };
    assert.deepEqual(hostViews(r).map((h) => [h.name, h.role]), [
      ['client', 'client'],
      ['service', 'service'],
    ]);
    assert.equal(runRecordSchema.safeParse(r).success, true, JSON.stringify(runRecordSchema.safeParse(r).error?.issues.slice(0, 3)));
    const bad = runRecordSchema.safeParse({ ...r, hosts: { 'bad name': service } });
    assert.equal(bad.success, false);
  });
});
