/**
 * `compare` with hosts (issue 16): hosts matched by name between two two-host runs, a host in one
 * run only listed as such, verdict hosts, and the text, Markdown and HTML forms. Runs of the client
 * alone compare exactly as before (test/fixtures/reports, written at fd8992f).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compareHosts, compareRuns } from '../../src/compare/compare.js';
import type { RunRecord } from '../../src/record/types.js';
import { compareChartModel, renderCompareHtml } from '../../src/report/compare-html.js';
import { renderCompareMarkdown } from '../../src/report/compare-markdown.js';
import { renderCompareText } from '../../src/report/compare-text.js';
import { BACKEND, syntheticHost, twoHostRecord } from '../helpers/synthetic-host-runs.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
const fixture = (name: string) => JSON.parse(readFileSync(`${FIX}records/${name}.json`, 'utf8')) as RunRecord;
const golden = (file: string) => readFileSync(`${FIX}reports/${file}`, 'utf8');

/** The fix: upstream keep-alive on the service, 20 ports instead of all 500; a backend watched from a file as well. */
function fixed(): RunRecord {
  const backend = syntheticHost({ role: 'backend', seconds: 10, inUse: () => 0, serverTimeWait: () => 5, source: 'file', address: 'backend.ndjson', clock: { method: 'wall-clock', offsetMs: 0, uncertaintyMs: null } });
  const r = twoHostRecord({ label: 'keepalive', runId: 'run-2', serviceInUse: () => 20, extra: { backend } });
  r.diagnosis = [{ verdict: 'healthy', host: 'client', severity: 'info', confidence: 0.8, atS: null, evidence: [], advice: [] }];
  return r;
}

describe('compare: hosts matched by name', () => {
  const base = twoHostRecord({ label: 'no-keepalive' });
  const cand = fixed();

  it('matches the client and the service, lists the backend as candidate only', () => {
    const hosts = compareHosts(base, cand);
    assert.deepEqual(hosts.map((h) => [h.name, h.presence]), [
      ['client', 'both'],
      ['service', 'both'],
      ['backend', 'candidate-only'],
    ]);
    const service = hosts[1]!;
    assert.deepEqual(
      [service.baseline?.peakUtilization, service.candidate?.peakUtilization, service.baseline?.clientTimeWait, service.candidate?.clientTimeWait, service.baseline?.serverTimeWait],
      [1, 0.04, 500, 20, 600],
    );
    assert.equal(service.baseline?.busiestDestination, BACKEND);
    assert.equal(service.baseline?.coverage, 0.8);
    assert.equal(hosts[2]!.baseline, null);
    assert.equal(hosts[2]!.candidate?.role, 'backend');
  });

  it('a host the candidate did not observe is baseline only', () => {
    const hosts = compareHosts(base, twoHostRecord({ runId: 'run-3', noService: true }));
    assert.deepEqual(hosts.map((h) => [h.name, h.presence, h.candidate === null]), [
      ['client', 'both', false],
      ['service', 'baseline-only', true],
    ]);
  });

  it('a schema 1 record is its client, matched with the client of a schema 2 record', () => {
    const hosts = compareHosts(fixture('exhaustion'), base);
    assert.deepEqual(hosts.map((h) => [h.name, h.presence]), [
      ['client', 'both'],
      ['service', 'candidate-only'],
    ]);
    assert.equal(hosts[0]!.baseline?.peakUtilization, 1);
  });

  const result = compareRuns([base, cand]);

  it('the result carries hosts per candidate and each run\u2019s host names and verdict hosts', () => {
    assert.deepEqual(result.candidates[0]!.hosts?.map((h) => h.name), ['client', 'service', 'backend']);
    assert.deepEqual(result.runs.map((r) => r.hosts), [['client', 'service'], ['client', 'service', 'backend']]);
    assert.deepEqual(result.runs[0]!.verdicts.map((v) => [v.verdict, v.host]), [
      ['upstream-port-exhaustion', 'service'],
      ['server-time-wait', 'service'],
    ]);
  });

  it('text: a hosts table, baseline → candidate, and verdicts with their host', () => {
    const text = renderCompareText(result);
    assert.match(text, /^ {2}hosts, matched by name \(baseline → candidate; not noise-tested\)$/m);
    const row = (first: string) => text.split('\n').find((l) => l.startsWith(`    ${first} `))?.trim().split(/ {2,}/);
    assert.deepEqual(row('host'), ['host', 'observed in', 'peak utilization', 'peak TIME_WAIT client side', 'peak TIME_WAIT server side', 'busiest destination']);
    assert.deepEqual(row('client'), ['client', 'both', '0.04 % → 0.04 %', '4 → 4', '0 → 0', '198.18.0.2:8080 → 198.18.0.2:8080']);
    assert.deepEqual(row('service'), ['service', 'both', '100 % → 4 %', '500 → 20', '600 → 600', '198.18.2.2:8080 → 198.18.2.2:8080']);
    assert.deepEqual(row('backend'), ['backend', 'candidate only', '– → 0 %', '– → 0', '– → 5', '– → 198.18.2.2:8080']);
    assert.match(text, /verdicts: upstream-port-exhaustion on service \(critical\), server-time-wait on service \(info\) → healthy on client \(info\) \(better\)/);
  });

  it('Markdown: a hosts table per candidate with every host, in one run or both', () => {
    const md = renderCompareMarkdown(result);
    assert.match(md, /^### Hosts \(keepalive vs baseline, matched by name\)$/m);
    assert.ok(md.includes('| `service` | both | 100 % → 4 % | 500 → 20 | 600 → 600 | 198.18.2.2:8080 → 198.18.2.2:8080 |'), md);
    assert.ok(md.includes('| `backend` | candidate only | – → 0 % | – → 0 | – → 5 | – → 198.18.2.2:8080 |'));
    assert.ok(md.includes('| `no-keepalive` | upstream-port-exhaustion on service (critical), server-time-wait on service (info) | baseline |'));
  });

  it('HTML: a hosts card and per-host overlays, null where a run did not observe the host', () => {
    const html = renderCompareHtml([base, cand], result);
    assert.ok(html.includes('<tr data-host="backend" data-presence="candidate-only"><th scope="row">backend</th><td>candidate only</td>'), 'hosts card row');
    assert.ok(html.includes('data-host="service"><span class="badge sev-critical">critical</span> Upstream port exhaustion <span class="host-tag">on <b>service</b></span>'));
    const model = compareChartModel([base, cand]);
    const ids = model.charts.map((c) => c.id);
    assert.deepEqual(ids.slice(-4), ['time-wait-host-service', 'utilization-host-service', 'time-wait-host-backend', 'utilization-host-backend']);
    const tw = model.charts.find((c) => c.id === 'time-wait-host-service')!;
    assert.equal(tw.host, 'service');
    // The agent missed t = 7 and 8 in the baseline: gaps, not zeros.
    assert.deepEqual(tw.data[0]!.slice(6, 10), [500 + 420, null, null, 500 + 600]);
    const util = model.charts.find((c) => c.id === 'utilization-host-backend')!;
    assert.ok(util.data[0]!.every((v) => v === null), 'the baseline did not watch the backend');
    assert.ok(util.data[1]!.every((v) => v === 0));
  });
});

describe('compare: runs of the client alone', () => {
  it('text and Markdown are what fd8992f wrote; no host tables, no host charts', () => {
    const runs = [fixture('healthy'), fixture('exhaustion')];
    const result = compareRuns(runs);
    assert.equal(renderCompareText(result), golden('compare.txt'));
    assert.equal(renderCompareMarkdown(result), golden('compare.md'));
    assert.deepEqual(result.candidates[0]!.hosts?.map((h) => [h.name, h.presence]), [['client', 'both']]);
    assert.ok(!renderCompareHtml(runs, result).includes('id="hosts"'));
    assert.ok(compareChartModel(runs).charts.every((c) => c.host === undefined));
  });
});
