/**
 * Interop: Prometheus's own tool (promtool, Debian package `prometheus`) checks what contrib/ ships
 * and what /metrics serves:
 * - `promtool check rules` on contrib/prometheus/portstorm-alerts.yml;
 * - `promtool test rules` on its unit tests (synthetic series → which alert fires when, with what text);
 * - every PromQL expression of the Grafana dashboard parses (as recording rules, its variables set);
 * - `promtool check metrics` on the /metrics text of a monitor that watched real connections run its
 *   ports out in a private network namespace (test/fixtures/eta-probe.ts), ETA and sustainable rate included.
 * A missing program fails the test, saying which package to install.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { fixture, runInNetns } from '../helpers/netns.js';
import { needPrograms } from '../helpers/programs.js';

// build/test/interop → the repository's contrib/.
const CONTRIB = fileURLToPath(new URL('../../../contrib/', import.meta.url));

function promtool(args: string[], input?: string): { status: number | null; out: string } {
  needPrograms('promtool');
  const r = spawnSync('promtool', args, { encoding: 'utf8', input, timeout: 60_000, cwd: CONTRIB });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('interop: promtool', { timeout: 120_000 }, () => {
  it('check rules: the alerting rules are valid', () => {
    const r = promtool(['check', 'rules', 'prometheus/portstorm-alerts.yml']);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /SUCCESS: 6 rules found/);
  });

  it('test rules: each alert fires when its unit tests say, naming the destination and the verdict', () => {
    const r = promtool(['test', 'rules', 'prometheus/portstorm-alerts.test.yml']);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /SUCCESS/);
  });

  it('every expression of the Grafana dashboard parses as PromQL', () => {
    const dash = JSON.parse(readFileSync(path.join(CONTRIB, 'grafana/portstorm.json'), 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[]; templating: { list: { name: string; query: string | { query: string } }[] } };
    const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    assert.ok(exprs.length >= 15, `${exprs.length} expressions`);
    // Grafana's variables as a query would see them: all hosts and destinations, a 1 m rate window.
    const concrete = (e: string): string => e.replaceAll('$__rate_interval', '1m').replaceAll('$instance', '.*').replaceAll('$dest', '.*');
    const rules = exprs.map((e, i) => ({ record: `portstorm_dashboard:query_${i}`, expr: concrete(e) }));
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-promtool-'));
    try {
      const file = path.join(dir, 'dashboard-queries.yml');
      writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
      const r = promtool(['check', 'rules', file]);
      assert.equal(r.status, 0, r.out);
      assert.match(r.out, new RegExp(`SUCCESS: ${rules.length} rules found`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('check metrics: /metrics of a monitor that watched 150 connections/s toward 127.0.0.1:8080 (ETA, sustainable rate)', () => {
    needPrograms('promtool', 'unshare', 'ip');
    const setup = ['echo "40000 40999" > /proc/sys/net/ipv4/ip_local_port_range', 'echo 0 > /proc/sys/net/ipv4/tcp_tw_reuse'];
    const p = runInNetns<{ exposition: string; ok: number }>(fixture('eta-probe.js'), [JSON.stringify({ rate: 150, windowMs: 2000, max: 450 })], setup, 60_000);
    assert.equal(p.ok, 450);
    // 450 ports held 60 s, 150/s: (1 000 − 450) / 150 ≈ 3.7 s, a finite ETA; 1 000 / 60 s = 16.7/s sustainable.
    assert.match(p.exposition, /^portstorm_port_exhaustion_eta_seconds\{dest="127\.0\.0\.1:8080"\} \d+(\.\d)?$/m);
    assert.match(p.exposition, /^portstorm_sustainable_connection_rate\{dest="127\.0\.0\.1:8080"\} 16\.7$/m);
    assert.match(p.exposition, /^portstorm_port_hold_seconds\{dest="127\.0\.0\.1:8080"\} 60$/m);
    assert.match(p.exposition, /^portstorm_tcp_events_total\{counter="ListenOverflows"\} 0$/m, 'a counter that never rose has its series, at 0');
    const r = promtool(['check', 'metrics'], p.exposition);
    assert.equal(r.status, 0, r.out);
  });
});
