/**
 * contrib/: the Grafana dashboard and the Prometheus alerting rules only ask for metrics (and label
 * values) the code registers, so renaming a metric, a kernel counter or a socket state breaks this
 * test instead of an on-call dashboard. promtool checks the rules themselves (test/interop).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { MonitorMetrics } from '../../src/monitor/prometheus.js';
import { COUNTER_NAMES, zeroStates } from '../../src/monitor/types.js';

// build/test/unit → the repository's contrib/.
const CONTRIB = fileURLToPath(new URL('../../../contrib/', import.meta.url));

interface Target {
  expr: string;
  refId: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  type: string;
  id: number;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Target[];
  panels?: Panel[];
  gridPos?: { h: number; w: number; x: number; y: number };
}
interface Variable {
  type: string;
  name: string;
  query: string | { query: string };
  datasource?: { type: string; uid: string };
}
interface Dashboard {
  schemaVersion: number;
  uid: string;
  title: string;
  templating: { list: Variable[] };
  panels: Panel[];
}
interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: Record<string, string>;
}

/** The names MonitorMetrics registers, every gauge and counter. */
function registeredNames(): Set<string> {
  const m = new MonitorMetrics(1000, { observe: () => null });
  return new Set(m.registry.getMetricsAsArray().map((x) => x.name));
}

/** The label values portstorm's metrics take, by label. */
const LABEL_VALUES: Record<string, ReadonlySet<string>> = {
  counter: new Set(COUNTER_NAMES),
  state: new Set(Object.keys(zeroStates())),
  side: new Set(['client', 'server']),
  kind: new Set(['count', 'max']),
};

/** Every problem with one PromQL expression: unknown portstorm_ metric names, unknown label values. */
function problems(expr: string, names: Set<string>, where: string): string[] {
  const out: string[] = [];
  for (const [name] of expr.matchAll(/\bportstorm_[a-z_]+\b/g)) if (!names.has(name)) out.push(`${where}: ${name} is not a metric portstorm registers`);
  for (const [, label, op, value] of expr.matchAll(/\b(counter|state|side|kind)\s*(=~|!~|=|!=)\s*"([^"]*)"/g)) {
    const known = LABEL_VALUES[label!]!;
    const values = op!.includes('~') ? value!.split('|') : [value!];
    for (const v of values) if (!known.has(v)) out.push(`${where}: ${label}="${v}" is not a value portstorm's ${label} label takes`);
  }
  if (!/\bportstorm_[a-z_]+\b/.test(expr)) out.push(`${where}: reads no portstorm metric: ${expr}`);
  return out;
}

const dashboard = (): Dashboard => JSON.parse(readFileSync(CONTRIB + 'grafana/portstorm.json', 'utf8')) as Dashboard;
const allPanels = (d: Dashboard): Panel[] => d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);

describe('contrib/grafana/portstorm.json', () => {
  it('is a dashboard JSON model: schemaVersion ≥ 36, a Prometheus ${datasource} variable, a dest variable from label_values', () => {
    const d = dashboard();
    assert.ok(d.schemaVersion >= 36, `schemaVersion ${d.schemaVersion}`);
    assert.equal(d.uid, 'portstorm');
    const ds = d.templating.list.find((v) => v.name === 'datasource');
    assert.deepEqual(ds && { type: ds.type, query: ds.query }, { type: 'datasource', query: 'prometheus' });
    const dest = d.templating.list.find((v) => v.name === 'dest');
    assert.ok(dest && dest.type === 'query', 'a dest query variable');
    const q = typeof dest.query === 'string' ? dest.query : dest.query.query;
    assert.match(q, /^label_values\(portstorm_[a-z_]+(\{[^}]*\})?, dest\)$/);
    const ids = allPanels(d).map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  });

  it('every panel queries the ${datasource} variable and only metrics and label values portstorm registers', () => {
    const d = dashboard();
    const names = registeredNames();
    const found: string[] = [];
    let queries = 0;
    for (const p of allPanels(d)) {
      if (p.type === 'row') continue;
      assert.ok(p.targets && p.targets.length > 0, `panel "${p.title}" has queries`);
      assert.deepEqual(p.datasource, { type: 'prometheus', uid: '${datasource}' }, `panel "${p.title}"`);
      for (const t of p.targets) {
        queries++;
        assert.deepEqual(t.datasource, { type: 'prometheus', uid: '${datasource}' }, `panel "${p.title}" query ${t.refId}`);
        found.push(...problems(t.expr, names, `panel "${p.title}" query ${t.refId}`));
      }
    }
    for (const v of d.templating.list.filter((x) => x.type === 'query')) {
      found.push(...problems(typeof v.query === 'string' ? v.query : v.query.query, names, `variable ${v.name}`));
    }
    assert.deepEqual(found, []);
    assert.ok(queries >= 15, `${queries} queries`);
  });

  it('has the panels the people on call look for, and between them reads every metric portstorm registers', () => {
    const d = dashboard();
    const titles = allPanels(d).map((p) => p.title).join(' | ');
    for (const t of [/TIME_WAIT/, /Sockets by state and side/, /Ports in use per destination/, /utilization per destination/i, /ETA/, /sustainable rate/i, /TIME_WAIT counters/, /Listen queue/, /Connection tracking/, /Scan cost/]) assert.match(titles, t);
    const exprs = allPanels(d).flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join('\n');
    const unread = [...registeredNames()].filter((n) => !exprs.includes(n));
    assert.deepEqual(unread, []);
  });

  it('a renamed metric is caught', () => {
    assert.deepEqual(problems('rate(portstorm_tcp_events_total{counter="ListenOverflow"}[5m])', registeredNames(), 'x'), ['x: counter="ListenOverflow" is not a value portstorm\'s counter label takes']);
    assert.deepEqual(problems('portstorm_port_eta_seconds < 600', registeredNames(), 'x'), ['x: portstorm_port_eta_seconds is not a metric portstorm registers']);
  });
});

describe('contrib/prometheus/portstorm-alerts.yml', () => {
  const rules = (): Rule[] => (parse(readFileSync(CONTRIB + 'prometheus/portstorm-alerts.yml', 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

  it('every alert reads metrics and label values portstorm registers, has a severity, and says what it means and what to do', () => {
    const names = registeredNames();
    const found: string[] = [];
    for (const r of rules()) {
      found.push(...problems(r.expr, names, `alert ${r.alert}`));
      assert.ok(['warning', 'critical'].includes(r.labels.severity), `${r.alert}: severity ${r.labels.severity}`);
      assert.ok(r.annotations.summary && r.annotations.description, `${r.alert}: summary and description`);
      assert.match(r.annotations.verdict ?? '', /^[a-z-]+$/, `${r.alert}: the portstorm verdict it corresponds to`);
      assert.match(r.annotations.description!, /portstorm verdict [a-z-]+/, `${r.alert}: the description names the verdict`);
      // Per-destination alerts name the destination; host-wide ones the host.
      if (/\bdest\b|port_utilization|eta_seconds/.test(r.expr)) assert.match(r.annotations.summary!, /\{\{ \$labels\.dest \}\}/, `${r.alert} names the destination`);
      assert.match(r.annotations.summary!, /\{\{ \$labels\.instance \}\}/, `${r.alert} names the host`);
    }
    assert.deepEqual(found, []);
  });

  it('covers utilization > 80 % for 1 m and > 95 %, ETA < 10 m, ListenOverflows rising and conntrack > 90 %', () => {
    const by = new Map(rules().map((r) => [r.alert, r]));
    assert.deepEqual([by.get('PortstormPortUtilizationHigh')?.expr, by.get('PortstormPortUtilizationHigh')?.for], ['portstorm_port_utilization > 0.8', '1m']);
    assert.equal(by.get('PortstormPortUtilizationCritical')?.expr, 'portstorm_port_utilization > 0.95');
    assert.equal(by.get('PortstormPortUtilizationCritical')?.labels.severity, 'critical');
    assert.equal(by.get('PortstormPortExhaustionSoon')?.expr, 'portstorm_port_exhaustion_eta_seconds < 600');
    assert.match(by.get('PortstormListenOverflows')?.expr ?? '', /increase\(portstorm_tcp_events_total\{counter="ListenOverflows"\}\[5m\]\) > 0/);
    assert.match(by.get('PortstormConntrackNearlyFull')?.expr ?? '', /> 0\.9$/);
  });
});
