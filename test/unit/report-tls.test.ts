/** TLS and DNS in the run reports (text, Markdown, HTML): the https fixture, and plain runs unchanged. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readAnalysedRun } from '../../src/analysis/analysed-run.js';
import { resolutionLine } from '../../src/analysis/tls-facts.js';
import type { RunRecord } from '../../src/record/types.js';
import { escapeHtml, renderHtml, verdictTitle } from '../../src/report/html.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderTextSummary } from '../../src/report/text.js';
import { syntheticRecord } from '../helpers/synthetic-record.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/records/', import.meta.url));
const https = (): Promise<RunRecord> => readAnalysedRun(`${FIX}https.json`);

/** Every Markdown table has as many cells in each row as in its header. */
function tablesAreRectangular(md: string): void {
  for (const b of md.split('\n\n').filter((x) => x.startsWith('|'))) {
    const widths = b.split('\n').map((l) => l.replace(/\\\|/g, '').split('|').length);
    assert.ok(widths.every((w) => w === widths[0]), b);
  }
}

describe('text summary', () => {
  it('an HTTPS run with per-connection lookups: tls beside connect, the settings, dns, the resolution, errors with phases', async () => {
    const text = renderTextSummary(await https(), null);
    assert.match(text, /^ {2}resolved {15}staging-api\.internal → 198\.18\.0\.2, 198\.18\.0\.3 \(per-connection, 2 addresses\)$/m);
    assert.match(text, /^ {2}connect {16}p50 .*\n {2}tls {20}p50 3\.2 {2}p90 5 {2}p99 7\.1 {2}p99\.9 9\.2 {2}max 11 ms {2}\(3 598 handshakes, 0 % resumed\)$/m);
    assert.match(text, /^ {2}tls settings {11}SNI staging-api\.internal, certificate verified against tls\.ca, session resumption off, ALPN http\/1\.1$/m);
    assert.match(text, /^ {2}dns {20}p50 0\.35 {2}p90 0\.59 {2}p99 0\.91 {2}p99\.9 1\.3 {2}max 1\.9 ms {2}\(3 600 lookups; failed: EAI_AGAIN 4\)$/m);
    assert.match(text, /^ {2}errors {17}EAI_AGAIN 4 \(dns\), TLS_HANDSHAKE_TIMEOUT 2 \(tls\)$/m);
    assert.match(text, /verdict {16}dns-failures/);
    assert.match(text, /verdict {16}tls-failures/);
  });

  it('says plainly when the certificate was not verified, and when no handshake completed', async () => {
    const r = await https();
    r.target.tls = { ...r.target.tls!, insecure: true, trust: 'none' };
    assert.match(renderTextSummary(r, null), /tls settings {11}SNI staging-api\.internal, certificate NOT verified \(tls\.insecure: true\)/);
    r.totals.tlsHandshakes = 0;
    r.tlsMs = { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0, count: 0 };
    delete r.histograms.tls;
    assert.match(renderTextSummary(r, null), /^ {2}tls {20}no handshake completed$/m);
  });

  it('a plain HTTP run has no tls, dns or resolved line', async () => {
    for (const name of ['healthy', 'exhaustion']) {
      const text = renderTextSummary(await readAnalysedRun(`${FIX}${name}.json`), null);
      assert.doesNotMatch(text, /^ {2}(tls|tls settings|dns|resolved) /m, text);
    }
    assert.doesNotMatch(renderTextSummary(syntheticRecord(), null), /tls|dns|resolved/i);
  });
});

describe('resolution line', () => {
  it('once, once among several addresses, per connection; none for an address target', () => {
    const r = syntheticRecord();
    assert.equal(resolutionLine(r), null);
    r.target.resolved = { name: null, dns: 'once', addresses: ['198.18.0.2'], used: '198.18.0.2' };
    assert.equal(resolutionLine(r), null);
    r.target.resolved = { name: 'staging-api.internal', dns: 'once', addresses: ['198.18.0.2'], used: '198.18.0.2' };
    assert.equal(resolutionLine(r), 'staging-api.internal → 198.18.0.2 (once)');
    r.target.resolved = { name: 'staging-api.internal', dns: 'once', addresses: ['198.18.0.2', 'fd00::2'], used: '198.18.0.2' };
    assert.equal(resolutionLine(r), 'staging-api.internal → 198.18.0.2 (once, the first of 2: 198.18.0.2, fd00::2)');
    r.target.resolved = { name: 'staging-api.internal', dns: 'per-connection', addresses: ['198.18.0.2'], used: null };
    assert.equal(resolutionLine(r), 'staging-api.internal → 198.18.0.2 (per-connection, 1 address)');
  });
});

describe('Markdown', () => {
  it('tls handshake and dns lookup rows in the latency table, the TLS and DNS lines, the resolution, errors by phase', async () => {
    const md = renderMarkdown(await https());
    assert.match(md, /\*\*Resolved\*\* staging-api\.internal → 198\.18\.0\.2, 198\.18\.0\.3 \(per-connection, 2 addresses\)/);
    assert.match(md, /^\| tls handshake \| 3\.2 \| 5 \| 7\.1 \| 9\.2 \| 11 \| 3 598 \|$/m);
    assert.match(md, /^\| dns lookup \| 0\.35 \| 0\.59 \| 0\.91 \| 1\.3 \| 1\.9 \| 3 600 \|$/m);
    assert.match(md, /^\*\*TLS:\*\* 3 598 handshakes, 0 % resumed; SNI staging-api\.internal, certificate verified against tls\.ca, session resumption off, ALPN http\/1\.1\.$/m);
    assert.match(md, /^\*\*DNS:\*\* 3 600 lookups; failed: EAI_AGAIN 4\.$/m);
    assert.match(md, /^\| `EAI_AGAIN` \| 4 \| dns 4 \|$/m);
    assert.match(md, /^\| `TLS_HANDSHAKE_TIMEOUT` \| 2 \| tls 2 \|$/m);
    assert.match(md, /^### 🟠 DNS lookup failures \(`dns-failures`\)$/m);
    assert.match(md, /^### 🟠 TLS handshake failures \(`tls-failures`\)$/m);
    tablesAreRectangular(md);
  });

  it('a plain run: no TLS or DNS rows or lines', async () => {
    const md = renderMarkdown(await readAnalysedRun(`${FIX}healthy.json`));
    assert.doesNotMatch(md, /tls handshake|dns lookup|\*\*TLS:\*\*|\*\*DNS:\*\*|\*\*Resolved\*\*/);
  });
});

describe('HTML', () => {
  it('a TLS and DNS card, the latency rows, verdict titles', async () => {
    const r = await https();
    const html = renderHtml(r);
    assert.ok(html.includes('<section class="card" id="tls-dns"><h2>TLS and DNS</h2>'));
    for (const s of [
      '3 598 handshakes, 0 % resumed (445/s)',
      'SNI staging-api.internal, certificate verified against tls.ca, session resumption off, ALPN http/1.1',
      'staging-api.internal → 198.18.0.2, 198.18.0.3 (per-connection, 2 addresses)',
      '3 600 lookups; failed: EAI_AGAIN 4',
    ]) {
      assert.ok(html.includes(escapeHtml(s)), s);
    }
    assert.match(html, /<tr><th scope="row">tls handshake<\/th><td class="n">3\.2<\/td>/);
    assert.match(html, /<tr><th scope="row">dns lookup<\/th><td class="n">0\.35<\/td>/);
    assert.ok(html.includes('<th scope="row">Resolved</th>'));
    assert.ok(!html.includes('badge warn">insecure'));
    r.target.tls = { ...r.target.tls!, insecure: true, trust: 'none' };
    assert.ok(renderHtml(r).includes('<span class="badge warn">insecure</span> SNI staging-api.internal, certificate NOT verified (tls.insecure: true)'));
    assert.equal(verdictTitle('tls-handshake-bound'), 'CPU-bound on TLS handshakes');
    assert.equal(verdictTitle('dns-failures'), 'DNS lookup failures');
    assert.equal(verdictTitle('tls-failures'), 'TLS handshake failures');
  });

  it('a plain run has no TLS and DNS card and no such rows', async () => {
    const html = renderHtml(await readAnalysedRun(`${FIX}healthy.json`));
    assert.ok(!html.includes('id="tls-dns"'));
    assert.ok(!html.includes('tls handshake'));
    assert.ok(!html.includes('>Resolved<'));
  });
});
