/** The HTML and Markdown renderers of a run record (test/fixtures/records). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RunRecord } from '../../src/record/types.js';
import { escapeHtml, jsonForScript, renderHtml } from '../../src/report/html.js';
import { escapeCell, renderMarkdown } from '../../src/report/markdown.js';
import vm from 'node:vm';
import { CHART_KIT } from '../../src/report/chart-kit.js';
import { HTML_CLIENT_SCRIPT } from '../../src/report/html-client.js';
import { renderTextSummary } from '../../src/report/text.js';
import { num, pct } from '../../src/vocab/format.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/records/', import.meta.url));

function fixture(name: 'healthy' | 'exhaustion'): RunRecord {
  return JSON.parse(readFileSync(`${FIX}${name}.json`, 'utf8')) as RunRecord;
}

/** The embedded record, parsed back out of the page. */
function embedded(html: string): RunRecord {
  const m = /<script type="application\/json" id="portstorm-data">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(m, 'the record is embedded in a application/json script');
  return JSON.parse(m[1]) as RunRecord;
}

/** Every `<script ...>` opening tag in the page. */
function scriptTags(html: string): string[] {
  return [...html.matchAll(/<script\b[^>]*>/gi)].map((m) => m[0]);
}

describe('renderHtml', () => {
  for (const name of ['healthy', 'exhaustion'] as const) {
    it(`embeds the ${name} record, parseable back to the same timeline`, () => {
      const r = fixture(name);
      const html = renderHtml(r);
      const back = embedded(html);
      assert.equal(back.timeline.length, r.timeline.length);
      assert.deepEqual(back, r);
    });
  }

  it('is self-contained: uPlot is inlined, nothing is loaded from elsewhere', () => {
    const html = renderHtml(fixture('healthy'));
    assert.ok(html.startsWith('<!doctype html>'));
    assert.doesNotMatch(html, /<script[^>]+src=/i);
    assert.doesNotMatch(html, /<link[^>]+href=/i);
    assert.doesNotMatch(html, /@import|url\(\s*['"]?https?:/i);
    const uplot = readFileSync(new URL('../../../node_modules/uplot/dist/uPlot.iife.min.js', import.meta.url), 'utf8');
    assert.ok(html.includes(uplot.slice(0, 200)), 'uPlot JS is inlined');
    assert.match(html, /\.uplot\s*\{/, 'uPlot CSS is inlined');
    assert.deepEqual(scriptTags(html), ['<script type="application/json" id="portstorm-data">', '<script>', '<script>']);
    assert.match(html, /window\.__portstorm = \{ charts: charts/);
  });

  it('cannot be broken out of by a hostile scenario name, label or error text', () => {
    const r = fixture('exhaustion');
    const evil = '</script><script>alert(1)</script>';
    r.scenario.name = evil;
    r.label = `<img src=x onerror=alert(2)>`;
    r.errors = { ...r.errors, [evil]: 1 };
    r.diagnosis![0].evidence.push(`<!-- ${evil}`);
    const html = renderHtml(r);
    // Only the three script elements the renderer writes; the name never opens a fourth.
    assert.equal(scriptTags(html).length, 3);
    assert.ok(!html.includes('<script>alert(1)'));
    assert.ok(!html.includes('<img src=x'));
    assert.ok(html.includes(escapeHtml(evil)), 'the name is shown, escaped');
    const data = /<script type="application\/json" id="portstorm-data">([\s\S]*?)<\/script>/.exec(html)![1];
    assert.ok(!data.includes('<'), 'no < inside the JSON block');
    const back = embedded(html);
    assert.equal(back.scenario.name, evil, 'the JSON still round-trips to the original text');
    assert.equal(back.label, r.label);
  });

  it('escapes for JSON-in-script and for HTML', () => {
    assert.equal(jsonForScript({ a: '</script>&\u2028' }), '{"a":"\\u003c/script\\u003e\\u0026\\u2028"}');
    assert.deepEqual(JSON.parse(jsonForScript({ a: '</script>&\u2028' })), { a: '</script>&\u2028' });
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('shows the header, summary tables and port figures', () => {
    const r = fixture('healthy');
    const html = renderHtml(r);
    for (const s of [r.scenario.name, r.runId, r.target.url, r.startedAt, 'completed', 'Totals', 'Latency (ms)', 'p99.9', 'Peak utilization', 'Peak TIME_WAIT', 'Busiest destination', '12 %', r.ports!.busiestDestination!]) {
      assert.ok(html.includes(escapeHtml(s)), `has ${s}`);
    }
    assert.ok(html.includes('No errors.'));
    assert.ok(!html.includes('id="diagnosis"'), 'no diagnosis section without a diagnosis');
    assert.ok(!html.includes('id="exhaustion"'), 'no exhaustion section without exhaustion');
    assert.ok(!html.includes('id="monitor-note"'), 'no monitor note when everything was read');
  });

  it('shows the diagnosis verdicts and the exhaustion timing when present', () => {
    const r = fixture('exhaustion');
    const html = renderHtml(r);
    assert.ok(html.includes('id="diagnosis"'));
    assert.ok(html.includes('data-verdict="client-port-exhaustion"'));
    assert.ok(html.includes('badge sev-critical'));
    assert.ok(html.includes('confidence 95 %'));
    for (const v of r.diagnosis!) for (const s of [...v.evidence, ...v.advice]) assert.ok(html.includes(escapeHtml(s)), s);
    assert.ok(html.includes('id="exhaustion"'));
    assert.ok(html.includes('EADDRNOTAVAIL'));
    assert.ok(html.includes('id="monitor-note"'), 'the unavailable conntrack is noted');
    assert.ok(html.includes('nf_conntrack not loaded in the namespace'));
  });

  it('notes a monitor that was off, and renders with every optional part absent', () => {
    const r = fixture('healthy');
    r.monitor = { ...r.monitor, enabled: false, source: null, unavailable: {} };
    r.ports = null;
    r.destinations = [];
    r.host.usablePorts = null;
    r.host.portRange = null;
    for (const e of r.timeline) e.sockets = null;
    delete r.exhaustion;
    delete r.diagnosis;
    const html = renderHtml(r);
    assert.ok(html.includes('The monitor was off for this run'));
    assert.equal(embedded(html).timeline.length, r.timeline.length);
  });
});

describe('renderMarkdown', () => {
  it('has the title, totals, errors, latency, ports and thresholds tables', () => {
    const r = fixture('exhaustion');
    const md = renderMarkdown(r);
    assert.match(md, /^# portstorm: lab-exhaustion — narrow port range\n/);
    assert.match(md, /^## Totals\n\n\| Attempted \| Completed \| Failed \| Dropped \|/m);
    assert.match(md, /^\| 5 000 \| 1 997 \| 2 991 \(60 %\) \| 12 \|/m);
    assert.match(md, /^## Errors by code\n\n\| Code \| Count \| Phase \|\n\| --- \| ---: \| --- \|\n\| `EADDRNOTAVAIL` \| 2 988 \| connect 2 988 \|/m);
    assert.match(md, /^\|  \| p50 \| p90 \| p99 \| p99\.9 \| max \| count \|$/m);
    assert.match(md, /^\| corrected \| 0\.52 \| 4\.1 \| 41 \| 63 \| 66 \| 1 997 \|$/m);
    assert.match(md, /^\| uncorrected \| /m);
    assert.match(md, /^\| connect \| /m);
    assert.match(md, /^## Ports\n/m);
    assert.match(md, /^\| 2 000 \| 2 000 \| 100 % \| 2 000 \| `10\.200\.0\.1:8080` \|$/m);
    assert.match(md, /^## Exhaustion timing\n/m);
    assert.match(md, /^\| 4\.0 s \| 6\.0 s \| 5\.5 s \| 0\.5 s \|/m);
    assert.match(md, /^## Thresholds \(1 failed\)\n/m);
    assert.match(md, /^\| ❌ fail \| `errors\.EADDRNOTAVAIL == 0` \| 2988 \|$/m);
    assert.match(md, /^\| ✅ pass \| `latency\.p99 < 250` \| 41\.3 \|$/m);
    // Every table row has as many cells as its header.
    const blocks = md.split('\n\n').filter((b) => b.startsWith('|'));
    assert.ok(blocks.length >= 6);
    for (const b of blocks) {
      const widths = b.split('\n').map((l) => l.replace(/\\\|/g, '').split('|').length);
      assert.ok(widths.every((w) => w === widths[0]), b);
    }
  });

  it('has one section per verdict with severity, confidence, evidence and advice', () => {
    const r = fixture('exhaustion');
    const md = renderMarkdown(r);
    assert.match(md, /^## Diagnosis$/m);
    const sections = md.split(/^### /m).slice(1);
    assert.equal(sections.length, r.diagnosis!.length);
    assert.match(sections[0], /^🔴 Client port exhaustion \(`client-port-exhaustion`\)\n/);
    assert.match(sections[0], /\*\*Severity:\*\* critical · \*\*Confidence:\*\* 95 % · \*\*From:\*\* t = 6\.0 s/);
    for (const s of r.diagnosis![0].evidence) assert.ok(sections[0].includes(`- ${s}`), s);
    for (const s of r.diagnosis![0].advice) assert.ok(sections[0].includes(`- ${s}`), s);
    assert.match(sections[1], /^🔵 Server-side TIME_WAIT/);
    assert.match(sections[1], /\*\*From:\*\* whole run/);
  });

  it('leaves out the analysis sections when the record has none', () => {
    const md = renderMarkdown(fixture('healthy'));
    assert.ok(!md.includes('## Diagnosis'));
    assert.ok(!md.includes('## Exhaustion timing'));
    assert.match(md, /^## Errors by code\n\nNo errors\.$/m);
    assert.match(md, /^## Thresholds \(1 failed\)$/m);
  });

  it('escapes pipes and markup in table cells and text', () => {
    const r = fixture('exhaustion');
    r.errors = { 'E|PIPE': 5 };
    r.errorsByPhase = { 'connect:E|PIPE': 5 };
    r.thresholds = [{ expr: 'errors.total < 1 | 2', actual: 5, passed: false }];
    r.ports!.busiestDestination = '[::1]|80';
    r.diagnosis![0].evidence = ['<b>bold</b> a | b'];
    r.scenario.name = 'x <script>alert(1)</script>';
    const md = renderMarkdown(r);
    assert.ok(md.includes('| `E\\|PIPE` | 5 | connect 5 |'), md);
    assert.ok(md.includes('`errors.total < 1 \\| 2`'));
    assert.ok(md.includes('`[::1]\\|80`'));
    assert.ok(md.includes('- &lt;b&gt;bold&lt;/b&gt; a | b'));
    assert.ok(md.startsWith('# portstorm: x &lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.equal(escapeCell('a|b\nc <d>'), 'a\\|b c &lt;d&gt;');
    const blocks = md.split('\n\n').filter((b) => b.startsWith('|'));
    for (const b of blocks) {
      const widths = b.split('\n').map((l) => l.replace(/\\\|/g, '').split('|').length);
      assert.ok(widths.every((w) => w === widths[0]), b);
    }
  });
});

/** The exhaustion fixture as a newer writer makes it: own destination, other traffic, an ageing baseline. */
function withOwnDestinations(): RunRecord {
  const r = fixture('exhaustion');
  r.ownDestinations = ['10.200.0.1:8080'];
  r.otherTraffic = {
    peakInUse: 3496,
    peakTimeWait: 3490,
    busiestDestination: '127.0.0.1:34505',
    destinations: [{ dest: '127.0.0.1:34505', peakInUse: 3496, peakTimeWait: 3490, peakUtilization: 0.1238 }],
  };
  r.monitor.baseline = {
    timeWait: 3530,
    ephemeralInUse: 3536,
    ageS: 0.4,
    byDestination: [
      { dest: '10.200.0.1:8080', own: true, inUse: 40, timeWait: 40, timeWaitExpiry: [0, 0, 10, 30] },
      { dest: '127.0.0.1:34505', own: false, inUse: 3496, timeWait: 3490, timeWaitExpiry: null },
    ],
  };
  for (const e of r.timeline) if (e.sockets) Object.assign(e.sockets, { ownInUse: 10, ownTimeWait: 8, ownServerTimeWait: 0 });
  return r;
}

describe('own destinations in the reports', () => {
  it('text: the headline is about the own destination; other traffic and the baseline come apart', () => {
    const text = renderTextSummary(withOwnDestinations(), null);
    assert.match(text, /^ {2}ports {18}peak 2 000 in use \(100 % of 2 000\) toward 10\.200\.0\.1:8080, peak TIME_WAIT 2 000$/m);
    assert.match(text, /^ {2}other traffic on this host: 3 496 ports toward 127\.0\.0\.1:34505 \(peak TIME_WAIT 3 490\), not counted above$/m);
    assert.match(text, /^ {2}baseline {15}before the load: 40 TIME_WAIT toward 10\.200\.0\.1:8080, all free by 4\.0 s$/m);
  });

  it('an older record (no own destinations, no other traffic) renders as before, without those lines', () => {
    const r = fixture('exhaustion');
    const text = renderTextSummary(r, null);
    assert.match(text, /^ {2}ports {18}peak 2 000 in use \(100 % of 2 000\) toward 10\.200\.0\.1:8080/m);
    assert.doesNotMatch(text, /other traffic|baseline/);
    const md = renderMarkdown(r);
    assert.doesNotMatch(md, /Other traffic|own destinations/);
    assert.doesNotMatch(renderHtml(r), /ports-note/);
  });

  it('markdown and HTML say the same, escaped', () => {
    const r = withOwnDestinations();
    const md = renderMarkdown(r);
    assert.ok(md.includes("_These figures are about this run's own destinations: `10.200.0.1:8080`._"), md);
    assert.ok(md.includes('Other traffic on this host: 3 496 ports toward 127.0.0.1:34505 (peak TIME_WAIT 3 490), not counted above.'));
    assert.ok(md.includes('Before the load: 40 TIME_WAIT toward 10.200.0.1:8080, all free by 4.0 s.'));
    const html = renderHtml(r);
    assert.ok(html.includes('<p class="headline" id="ports-headline">Ports: peak 2 000 in use (100 % of 2 000) toward 10.200.0.1:8080, peak TIME_WAIT 2 000</p>'));
    assert.ok(html.includes('Other traffic on this host: 3 496 ports toward 127.0.0.1:34505'));
    assert.ok(html.includes('Busiest own destination'));
    r.otherTraffic!.busiestDestination = '<b>x</b>';
    assert.ok(renderHtml(r).includes('toward &lt;b&gt;x&lt;/b&gt;'));
  });
});

describe('shared number formats in every rendering', () => {
  it('the text summary writes counts, shares, rates and seconds with vocab/format', () => {
    const r = fixture('exhaustion');
    const text = renderTextSummary(r, null);
    const p = r.ports!;
    assert.ok(text.includes(`peak ${num(p.peakInUse)} in use (${pct(p.peakUtilization!)} of ${num(p.usable!)})`), text);
    assert.match(text, /peak TIME_WAIT \d{1,3}( \d{3})*\b/);
    assert.match(text, /throughput\s+[\d ]+(\.\d)? completed\/s, [\d ]+(\.\d)? new connections\/s \([\d ]+ opened\)/);
    assert.match(text, /duration\s+\d+\.\d s on/);
    assert.doesNotMatch(text, /\d,\d{3}/, 'no en-US commas');
  });

  it('no rendering groups thousands with commas (toLocaleString), so every figure reads as DOMAIN.md writes it', () => {
    const r = fixture('exhaustion');
    for (const out of [renderMarkdown(r), renderHtml(r).replace(/<script[\s\S]*?<\/script>/g, '')]) assert.doesNotMatch(out, /\b\d{1,3},\d{3}\b/);
  });

  it("the page's chart labels group thousands as vocab/format num does (one definition, inlined)", () => {
    assert.ok(CHART_KIT.includes(num.toString()), 'num is inlined from its compiled source');
    assert.ok(HTML_CLIENT_SCRIPT.includes(CHART_KIT), 'the run report inlines the chart kit');
    const fmt = vm.runInNewContext(`${CHART_KIT}; fmt`) as (v: number | null, digits?: number) => string;
    for (const v of [1000, 28_232, -1500.4, 999_999.5, 1_234_567, -28_232]) assert.equal(fmt(v), num(v), String(v));
    assert.equal(fmt(null), '–');
  });
});
