/**
 * Every host in the run reports (issue 16): the terminal summary, Markdown and HTML of a record with
 * a client and a service, and records of the client alone (schema 1, or schema 2 with only
 * `hosts.client`) rendered exactly as before. test/fixtures/reports holds the text and Markdown the
 * renderers wrote for the fixture records at fd8992f, before hosts existed.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { hostPeaks, verdictHost } from '../../src/analysis/host-peaks.js';
import { hostViews } from '../../src/analysis/hosts.js';
import type { RunRecord } from '../../src/record/types.js';
import { hostClock, hostCoverage, hostFrom } from '../../src/report/host-lines.js';
import { renderHtml } from '../../src/report/html.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderTextSummary } from '../../src/report/text.js';
import { AGENT_URL, BACKEND, syntheticHost, twoHostRecord } from '../helpers/synthetic-host-runs.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
const NAMES = ['healthy', 'exhaustion', 'https'] as const;

function fixture(name: string): RunRecord {
  return JSON.parse(readFileSync(`${FIX}records/${name}.json`, 'utf8')) as RunRecord;
}

function golden(file: string): string {
  return readFileSync(`${FIX}reports/${file}`, 'utf8');
}

/** The same run as a schema 2 record whose only host is the client (what a plain run writes now). */
function clientOnly(r: RunRecord): RunRecord {
  const { name: _n, ...client } = hostViews(r)[0]!;
  return { ...r, schema: 2, hosts: { client }, diagnosis: r.diagnosis?.map((v) => ({ ...v, host: 'client' })) };
}

/** The HTML without the embedded record and inlined scripts (which differ by the record's own fields). */
function markup(html: string): string {
  return html.replace(/<script[\s\S]*?<\/script>/g, '');
}

describe('a record of the client alone reads as before', () => {
  for (const name of NAMES) {
    it(`${name}: text and Markdown are what fd8992f wrote, for schema 1 and for schema 2 with only hosts.client`, () => {
      const r = fixture(name);
      assert.equal(r.schema, 1);
      for (const rec of [r, clientOnly(r)]) {
        assert.equal(renderTextSummary(rec, 'results/run.json', 'results/report.html'), golden(`${name}.txt`));
        assert.equal(renderMarkdown(rec), golden(`${name}.md`));
      }
    });
  }

  it('HTML: no hosts cards, no host tags; the schema 2 client-only page has the same markup', () => {
    const r = fixture('exhaustion');
    const html = renderHtml(r);
    for (const s of ['id="hosts"', 'id="host-settings"', 'class="host-tag"', 'data-host=']) assert.ok(!markup(html).includes(s), s);
    assert.equal(markup(renderHtml(clientOnly(r))), markup(html));
  });

  it('names the host of a verdict about another host even in a record of the client alone', () => {
    assert.equal(verdictHost({ host: 'client' }, false), null);
    assert.equal(verdictHost({}, true), null);
    assert.equal(verdictHost({ host: 'client' }, true), 'client');
    assert.equal(verdictHost({ host: 'service' }, false), 'service');
  });
});

describe('host peaks and sentences', () => {
  it('client side and server side TIME_WAIT, utilization toward the busiest destination', () => {
    const r = twoHostRecord();
    const [client, service] = hostViews(r);
    assert.deepEqual(hostPeaks(service!), {
      peakUtilization: 1,
      busiestDestination: BACKEND,
      peakInUse: 500,
      usable: 500,
      clientTimeWait: 500,
      serverTimeWait: 600,
    });
    const c = hostPeaks(client!);
    assert.equal(c.clientTimeWait, 4);
    assert.equal(c.serverTimeWait, 0);
    assert.equal(c.busiestDestination, '198.18.0.2:8080');
  });

  it('a host never seen has no figures (null), not zeros', () => {
    const h = { ...syntheticHost({ seconds: 5, inUse: () => null }), name: 'proxy' };
    const p = hostPeaks(h);
    assert.deepEqual([p.peakUtilization, p.peakInUse, p.clientTimeWait, p.serverTimeWait], [null, null, null, null]);
    assert.equal(hostCoverage(h), 'never seen during the run');
  });

  it('says where a host was observed from and how its clock relates', () => {
    const [client, service] = hostViews(twoHostRecord());
    assert.equal(hostFrom(client!), 'local');
    assert.equal(hostClock(client!), 'local clock');
    assert.equal(hostFrom(service!), `agent ${AGENT_URL}`);
    assert.equal(hostClock(service!), 'clock +4.2 ms ± 0.3 ms (round trip, 8 probes)');
    assert.equal(hostClock({ clock: { method: 'round-trip', offsetMs: -1250, uncertaintyMs: 2 } }), 'clock −1.250 s ± 2 ms (round trip)');
    assert.equal(hostClock({ clock: { method: 'wall-clock', offsetMs: 0, uncertaintyMs: null } }), 'clock ±0 ms ± unknown (wall-clock)');
    assert.equal(hostFrom({ source: 'file', address: 'service.ndjson' }), 'file service.ndjson');
    assert.equal(hostCoverage(service!), '80 % of the run (seen t = 0–9 s)');
    assert.equal(hostCoverage(client!), null);
  });
});

describe('text summary with a client and a service', () => {
  const text = renderTextSummary(twoHostRecord(), null);

  it('lists each host: name, role, origin, clock, peaks, coverage below 100 % and gaps', () => {
    const block = text.slice(text.indexOf('  hosts'), text.indexOf('  verdict'));
    assert.equal(
      block,
      [
        '  hosts                  client (client) from local',
        '                           peak 0.04 % of 28 232 ports toward 198.18.0.2:8080; peak TIME_WAIT 4 client side, 0 server side',
        `                         service (service) from agent ${AGENT_URL}, clock +4.2 ms ± 0.3 ms (round trip, 8 probes)`,
        `                           peak 100 % of 500 ports toward ${BACKEND}; peak TIME_WAIT 500 client side, 600 server side`,
        '                           coverage 80 % of the run (seen t = 0–9 s)',
        '                           gap: agent stream stalled from t = 7.0 s to 9.0 s',
        '',
      ].join('\n'),
    );
  });

  it('verdict lines name their host', () => {
    assert.match(text, /^ {2}verdict {16}upstream-port-exhaustion on service \(critical, confidence 0\.90, from 4\.0 s\)$/m);
    assert.match(text, /^ {2}verdict {16}server-time-wait on service \(info, confidence 0\.60\)$/m);
  });

  it('a verdict about the client says so once another host is in the record', () => {
    const r = twoHostRecord();
    r.diagnosis = [{ verdict: 'client-port-exhaustion', host: 'client', severity: 'critical', confidence: 0.95, atS: 6, evidence: [], advice: [] }];
    assert.match(renderTextSummary(r, null), /verdict {16}client-port-exhaustion on client \(critical/);
  });

  it('a third host observed from a file, never seen, reads as such', () => {
    const proxy = syntheticHost({ role: 'proxy', seconds: 10, inUse: () => null, source: 'file', address: 'proxy.ndjson', clock: { method: 'wall-clock', offsetMs: 0, uncertaintyMs: null }, gaps: ['the file covers 09:00:00–09:00:30, before the run'] });
    const out = renderTextSummary(twoHostRecord({ extra: { proxy } }), null);
    assert.ok(out.includes('                         proxy (proxy) from file proxy.ndjson, clock ±0 ms ± unknown (wall-clock)\n'), out);
    assert.ok(out.includes('                           no socket figures; peak TIME_WAIT – client side, – server side\n'));
    assert.ok(out.includes('                           coverage never seen during the run\n'));
    assert.ok(out.includes('                           gap: the file covers 09:00:00–09:00:30, before the run\n'));
  });
});

describe('Markdown with a client and a service', () => {
  const md = renderMarkdown(twoHostRecord());

  it('has a hosts table, one row per host, and the gaps', () => {
    assert.match(md, /^## Hosts\n\n\| Host \| Role \| Observed from \| Clock \| Peak utilization \| Busiest destination \| Peak TIME_WAIT \(client side\) \| Peak TIME_WAIT \(server side\) \| Coverage \| Settings \|$/m);
    assert.ok(md.includes('| `client` | client | local | local clock | 0.04 % | `198.18.0.2:8080` | 4 | 0 | whole run | ports 32768–60999 (28 232 usable), tcp_tw_reuse 2 |'), md);
    assert.ok(md.includes(`| \`service\` | service | agent ${AGENT_URL} | clock +4.2 ms ± 0.3 ms (round trip, 8 probes) | 100 % | \`${BACKEND}\` | 500 | 600 | 80 % of the run (seen t = 0–9 s) | ports 40000–40499 (500 usable), tcp_tw_reuse 0 |`));
    assert.ok(md.includes('- `service`: agent stream stalled from t = 7.0 s to 9.0 s'));
    const blocks = md.split('\n\n').filter((b) => b.startsWith('|'));
    for (const b of blocks) {
      const widths = b.split('\n').map((l) => l.replace(/\\\|/g, '').split('|').length);
      assert.ok(widths.every((w) => w === widths[0]), b);
    }
  });

  it('verdicts name their host in the heading, the meta line and the lead', () => {
    assert.match(md, /^### 🔴 Upstream port exhaustion \(`upstream-port-exhaustion`\) on `service`$/m);
    assert.match(md, /^\*\*Host:\*\* `service` · \*\*Severity:\*\* critical · /m);
    assert.match(md, /^> 🔴 \*\*Upstream port exhaustion\*\* on `service` \(critical, confidence 90 %\)$/m);
  });

  it('escapes host text from the record', () => {
    const r = twoHostRecord();
    r.hosts!.service!.address = 'http://x|y/<b>';
    r.hosts!.service!.gaps = ['<script>|'];
    const out = renderMarkdown(r);
    assert.ok(out.includes('agent http://x\\|y/&lt;b&gt;'));
    assert.ok(out.includes('- `service`: &lt;script&gt;|'));
  });
});

describe('HTML with a client and a service', () => {
  const r = twoHostRecord();
  const html = renderHtml(r);

  it('has a hosts card and a settings table, one row per host', () => {
    const hosts = /<section class="card wide" id="hosts">([\s\S]*?)<\/section>/.exec(html)?.[1] ?? '';
    assert.ok(hosts.includes('<tr data-host="client"><th scope="row">client</th><td>client</td>'), hosts);
    assert.ok(hosts.includes('<tr data-host="service"><th scope="row">service</th><td>service</td>'));
    assert.ok(hosts.includes(`<span class="addr">agent ${AGENT_URL}</span>`));
    assert.ok(hosts.includes('<li>agent stream stalled from t = 7.0 s to 9.0 s</li>'));
    const settings = /<section class="card" id="host-settings">([\s\S]*?)<\/section>/.exec(html)?.[1] ?? '';
    assert.ok(settings.includes('<tr data-host="service"><th scope="row">service</th><td class="n">40000–40499</td><td class="n">500</td><td class="n">0</td></tr>'), settings);
    assert.ok(settings.includes('<td class="n">32768–60999</td><td class="n">28 232</td>'));
  });

  it('verdicts show their host', () => {
    assert.ok(html.includes('<article class="verdict sev-critical" data-verdict="upstream-port-exhaustion" data-host="service">'));
    assert.ok(html.includes('Upstream port exhaustion <span class="host-tag">on <b>service</b></span>'));
    assert.ok(html.includes('<th scope="row">Host (client)</th>'));
  });

  it('escapes host names and text', () => {
    const evil = twoHostRecord({ extra: { 'x-y': { ...r.hosts!.service!, address: '<img src=x onerror=alert(1)>', gaps: ['</td><script>'] } } });
    const page = markup(renderHtml(evil));
    assert.ok(!page.includes('<img src=x'));
    assert.ok(page.includes('&lt;img src=x onerror=alert(1)&gt;'));
    assert.ok(page.includes('&lt;/td&gt;&lt;script&gt;'));
  });
});
