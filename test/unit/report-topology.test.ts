/** The lab topology in the reports (issue 17): text and Markdown blocks, the HTML diagram's escaping, and compare's topology differences. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diagnose } from '../../src/analysis/diagnose.js';
import { analyzeExhaustion } from '../../src/analysis/exhaustion.js';
import { compareRuns } from '../../src/compare/compare.js';
import type { RunRecord } from '../../src/record/types.js';
import { renderCompareText } from '../../src/report/compare-text.js';
import { renderHtml } from '../../src/report/html.js';
import { renderTopology } from '../../src/report/html-topology.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderTextSummary } from '../../src/report/text.js';
import { hostsAlongPath } from '../../src/report/topology-lines.js';
import { chainRecord, natRecord } from '../helpers/synthetic-lab.js';
import { syntheticRecord } from '../helpers/synthetic-record.js';

function analysed(r: RunRecord): RunRecord {
  r.exhaustion = analyzeExhaustion(r);
  r.diagnosis = diagnose(r, r.exhaustion);
  return r;
}

describe('the topology block in text and Markdown', () => {
  it('text: the path, each host with role, addresses and port range, and the model', () => {
    const text = renderTextSummary(analysed(chainRecord()), null);
    const lines = text.split('\n');
    const at = lines.findIndex((l) => l.startsWith('  topology'));
    assert.ok(at >= 0, text);
    assert.deepEqual(lines.slice(at, at + 5).map((l) => l.trim()), [
      'topology               chain: client → service → backend',
      'client (client): 198.18.1.1; ports 1024–65535; the load',
      'service (service): 198.18.1.2, 198.18.2.1; ports 40000–40499; built-in proxy (a new upstream connection per request)',
      'backend (backend): 198.18.2.2; ports 1024–65535; built-in target',
      'model: service runs out at 5.00 s (observed 5.02 s): 500 ports, hold 60.0 s, by rate',
    ]);
    assert.match(text, /verdict {16}upstream-port-exhaustion on service \(critical/);
  });

  it('text: the NAT range on the router and what the kernel would not let it set', () => {
    const text = renderTextSummary(analysed(natRecord({ addresses: 2 })), null);
    assert.match(text, /NAT: router masquerades to 40000–40049 × 2 addresses \(198\.18\.2\.1, 198\.18\.2\.11\) = 100 connections per destination; conntrack nf_conntrack_tcp_timeout_time_wait 120 s, nf_conntrack_max not settable \(read-only in a child network namespace\)/);
    assert.match(text, /router \(router\): 198\.18\.1\.2, 198\.18\.2\.1, 198\.18\.2\.11; ports –; NAT \(masquerade\)/);
  });

  it('Markdown: a Topology section with a host table, the NAT and the model', () => {
    const md = renderMarkdown(analysed(natRecord()));
    assert.match(md, /## Topology\n\nnat: client → router → server\n\n\| Host \| Role \| Addresses \| Port range \| Runs \|/);
    assert.match(md, /\| `router` \| router \| 198\.18\.1\.2, 198\.18\.2\.1 \| – \| NAT \(masquerade\) \|/);
    assert.match(md, /\*\*NAT\*\*: router masquerades to 40000–40049 × 1 address/);
    assert.match(md, /\*\*Model\*\*: router runs out at 0\.00 s \(observed 2\.01 s\): 50 ports, hold 0\.0 s, by concurrency; .*TIME_WAIT/);
  });

  it('no block for a record without a topology', () => {
    const r = analysed(syntheticRecord());
    assert.doesNotMatch(renderTextSummary(r, null), /topology/);
    assert.doesNotMatch(renderMarkdown(r), /## Topology/);
    assert.equal(renderTopology(r), '');
  });

  it('hosts follow the data links from the client, whatever the listed order', () => {
    const t = chainRecord().lab!.topology!;
    t.hosts = [t.hosts[2]!, t.hosts[0]!, t.hosts[1]!];
    assert.deepEqual(hostsAlongPath(t).map((h) => h.name), ['client', 'service', 'backend']);
  });
});

describe('the HTML topology card', () => {
  it('an SVG with a box per host, the verdict\'s host outlined in its severity colour, text escaped', () => {
    const r = analysed(chainRecord());
    r.lab!.topology!.hosts[1]!.runs = '<script>alert(1)</script> & co';
    const card = renderTopology(r);
    assert.equal(card.match(/<g class="topo-host/g)?.length, 3);
    assert.match(card, /<g class="topo-host topo-hot sev-critical" data-host="service">/);
    assert.match(card, /style="stroke:#c92a2a"/);
    assert.ok(!card.includes('<script>'), 'runs escaped');
    assert.match(card, /&lt;script&gt;alert\(1\)&lt;\/script&gt; &amp; co/);
    assert.match(card, /class="topo-mgmt"/);
    assert.ok(renderHtml(r).includes('id="topology"'));
  });
});

describe('compare lists topology differences', () => {
  it('upstreamReuse false vs true: the scenario setting and what the service runs', () => {
    const result = compareRuns([analysed(chainRecord()), analysed(chainRecord({ upstreamReuse: true }))]);
    const paths = result.candidates[0]!.changes.map((c) => c.path);
    assert.ok(paths.includes('lab.service.upstreamReuse'), JSON.stringify(paths));
    assert.ok(paths.includes('lab.topology.hosts.service.runs'), JSON.stringify(paths));
    assert.ok(!paths.some((p) => p.includes('prediction') || p.includes('links')), JSON.stringify(paths));
    assert.match(renderCompareText(result), /lab {7}lab\.topology\.hosts\.service\.runs: /);
  });

  it('nat addresses 1 vs 2: one line, as a count', () => {
    const result = compareRuns([analysed(natRecord()), analysed(natRecord({ addresses: 2 }))]);
    const changes = result.candidates[0]!.changes;
    const nat = changes.find((c) => c.path === 'lab.topology.nat.addresses');
    assert.deepEqual(nat && { a: nat.baseline, b: nat.candidate }, { a: 1, b: 2 });
    assert.ok(changes.some((c) => c.path === 'lab.nat.addresses'), JSON.stringify(changes.map((c) => c.path)));
  });
});
