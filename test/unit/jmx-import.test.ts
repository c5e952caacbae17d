/**
 * `portstorm import`'s mapping of JMeter plans (real ones from apache/jmeter and plans written to
 * exercise every mapped element): the scenario fields exactly, that parseScenario accepts them, and
 * what is listed as not imported.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../../src/errors.js';
import { importPlan, NoteFailure, type ImportResult } from '../../src/jmeter/jmx-import.js';
import { parseJmx } from '../../src/jmeter/jmx-tree.js';
import { resolveValue } from '../../src/jmeter/jmx-values.js';
import { renderImportedScenario } from '../../src/jmeter/jmx-yaml.js';
import { parseScenario } from '../../src/scenario/load.js';

const fixture = (name: string): string => readFileSync(new URL(`../../../test/fixtures/jmeter/${name}`, import.meta.url), 'utf8');

function importFixture(name: string, props: Record<string, string> = {}): ImportResult {
  return importPlan(parseJmx(fixture(name), name), name, new Map(Object.entries(props)));
}

const unmapped = (r: ImportResult): string[] => r.notes.filter((n) => n.kind === 'unmapped').map((n) => `${n.element} (${n.class}): ${n.why}`);

describe('import: JMeter plans written for the test', () => {
  it('ThreadGroup with a scheduler, defaults merged with the sampler, headers, both timers, __P/__property with --prop and defaults, user variables', () => {
    const r = importFixture('users-scheduler.jmx', { threads: '25', port: '9090' });
    assert.deepEqual(r.scenario, {
      name: 'checkout',
      target: 'http://127.0.0.1:9090',
      request: {
        method: 'POST',
        path: '/api/v2/orders',
        headers: { Accept: '*/*', 'x-tenant': 'inner', 'Content-Type': 'application/json' },
        body: '{"user":"user","qty":1}',
      },
      connection: { reuse: true, poolSize: 25 },
      timeouts: { connect: '1500ms', request: '8000ms' },
      load: [{ model: 'users', users: 25, rampUp: '5s', duration: '60s', iterations: 20, thinkTime: '300ms', thinkTimeRandom: '300ms', startAfter: '2s' }],
    });
    const s = parseScenario(r.scenario, 'imported');
    assert.deepEqual(s.load[0], { model: 'users', users: 25, rampUp: 5, duration: 60, iterations: 20, thinkTime: 0.3, thinkTimeRandom: 0.3, startAfter: 2 });
    assert.deepEqual(s.timeouts, { connect: 1.5, request: 8, tls: 1.5 });
    assert.deepEqual(unmapped(r), [
      'POST order (HTTPSamplerProxy): body ${user} is not constant: written as "{\\"user\\":\\"user\\",\\"qty\\":1}"',
      'Users CSV (CSVDataSet): no data sets: every request is the same',
      "Checkout (TransactionController): controllers are not imported: the request runs in the thread group's own loop, once per iteration",
      'Order id (JSONPostProcessor): responses are not inspected (no extractors)',
      'Created (ResponseAssertion): responses are not checked (status codes and transport errors are counted)',
      'GET order (HTTPSamplerProxy): only the first HTTP sampler of a thread group is imported (a scenario sends one request)',
      'Log it (JSR223PostProcessor): scripts are not run',
    ]);
    assert.deepEqual(r.notes.filter((n) => n.kind === 'not-needed').map((n) => n.element), ['Summary Report', 'View Results Tree']);
  });

  it('without --prop, __P and __property take their defaults', () => {
    const r = importFixture('users-scheduler.jmx');
    assert.equal(r.scenario.target, 'http://127.0.0.1:8080');
    assert.equal((r.scenario.load as { users: number }[])[0]!.users, 10);
    assert.equal(importFixture('users-scheduler.jmx', { host: '10.1.2.3' }).scenario.target, 'http://10.1.2.3:8080');
  });

  it('bzm Concurrency (stepped, minutes), Arrivals (stepped, per minute) and Free-Form groups; a thread group with another request is listed', () => {
    const r = importFixture('bzm-groups.jmx');
    assert.deepEqual(r.scenario.load, [
      { model: 'users', users: 40, rampUp: '120s', rampSteps: 4, duration: '300s' },
      {
        model: 'arrival-rate',
        stages: [
          { duration: '20s', rate: 3.333333 },
          { duration: '20s', rate: 6.666667 },
          { duration: '20s', rate: 10 },
          { duration: '120s', rate: 10 },
        ],
        maxInFlight: 200,
      },
      { model: 'arrival-rate', stages: [{ duration: '10s', startRate: 0, rate: 100 }, { duration: '30s', rate: 100 }] },
    ]);
    assert.deepEqual(r.imported, ['Concurrency', 'Arrivals', 'Free-Form']);
    const s = parseScenario(r.scenario, 'imported');
    assert.equal(s.load[1]!.model === 'arrival-rate' && s.load[1]!.duration, 180);
    assert.deepEqual(unmapped(r), [
      "Other endpoint (com.blazemeter.jmeter.threads.arrivals.ArrivalsThreadGroup): its request (GET http://127.0.0.1:9080/health) differs from the first thread group's: a scenario sends one request",
    ]);
  });

  it('loops forever without a scheduler, use_keepalive=false, a non-constant path and no server name', () => {
    const r = importFixture('forever.jmx');
    assert.deepEqual(r.scenario, {
      name: 'storm',
      target: 'builtin',
      request: { method: 'GET', path: '/search?q=Random', headers: {} },
      connection: { reuse: false, close: 'server' },
      load: [{ model: 'users', users: 4, duration: '5m' }],
    });
    parseScenario(r.scenario, 'imported');
    assert.deepEqual(unmapped(r), [
      'search (HTTPSamplerProxy): HTTPSampler.path ${__Random(1,999)} is not constant: written as "/search?q=Random"',
      'search (HTTPSamplerProxy): no server name (HTTPSampler.domain) in the sampler or its defaults: the scenario targets the built-in server',
      'Hammer (ThreadGroup): ThreadGroup.on_sample_error=stoptest: users carry on after an error',
      'Hammer (ThreadGroup): loops forever without a scheduler duration: written as duration 5m',
    ]);
  });

  it('a Connection: close header means no reuse and the server closes; the header itself is dropped', () => {
    const xml = fixture('forever.jmx')
      .replace('<boolProp name="HTTPSampler.use_keepalive">false</boolProp>', '<boolProp name="HTTPSampler.use_keepalive">true</boolProp>')
      .replace(
        '<hashTree/>\n      </hashTree>',
        '<hashTree><HeaderManager testclass="HeaderManager" testname="H"><collectionProp name="HeaderManager.headers"><elementProp name="" elementType="Header"><stringProp name="Header.name">Connection</stringProp><stringProp name="Header.value">close</stringProp></elementProp></collectionProp></HeaderManager><hashTree/></hashTree>\n      </hashTree>',
      );
    const r = importPlan(parseJmx(xml, 'x.jmx'), 'x.jmx', new Map());
    assert.deepEqual(r.scenario.connection, { reuse: false, close: 'server' });
    assert.deepEqual((r.scenario.request as { headers: object }).headers, {});
  });
});

describe('import: real plans from apache/jmeter', () => {
  it('PerformanceTestPlanMemoryThread.jmx: defaults with a ${host} variable, headers, the first sampler inside controllers, its timer', () => {
    const r = importFixture('PerformanceTestPlanMemoryThread.jmx');
    assert.equal(r.scenario.target, 'http://localhost:8080');
    assert.deepEqual((r.scenario.request as { path: string }).path, '/examples/jsp/memory.jsp?size=7000');
    assert.equal(Object.keys((r.scenario.request as { headers: object }).headers).length, 7);
    assert.deepEqual(r.scenario.load, [{ model: 'users', users: 1, rampUp: '30s', iterations: 1, thinkTime: '3000ms' }]);
    parseScenario(r.scenario, 'imported');
    const u = unmapped(r);
    assert.ok(u.includes('memorySample2 (HTTPSamplerProxy): only the first HTTP sampler of a thread group is imported (a scenario sends one request)'));
    assert.equal(u.filter((l) => l.includes('(RegexExtractor)')).length, 6);
    assert.ok(r.notes.some((n) => n.kind === 'not-needed' && n.element === 'HTTP Cookie Manager' && n.why === 'disabled'));
  });

  it('build-web-test-plan.jmx: HTTP Request Defaults, a scheduler with a delay, timeouts', () => {
    const r = importFixture('build-web-test-plan.jmx');
    assert.equal(r.scenario.target, 'http://example.org');
    assert.deepEqual(r.scenario.timeouts, { connect: '5000ms', request: '30000ms' });
    assert.deepEqual(r.scenario.load, [{ model: 'users', users: 5, rampUp: '5s', duration: '60s', startAfter: '5s' }]);
    parseScenario(r.scenario, 'imported');
  });

  it('CSVSample.jmx (Java samplers only): no HTTP sampler to import, with the reasons', () => {
    assert.throws(
      () => importFixture('CSVSample.jmx'),
      (err: unknown) => err instanceof NoteFailure && err.message === 'CSVSample.jmx: no HTTP sampler to import' && err.notes.some((n) => n.why === 'no HTTP sampler in this thread group'),
    );
  });
});

describe('import: the scenario file and bad input', () => {
  it('writes YAML with a header naming the file, the date, the JMeter version and what was not imported; it parses back', () => {
    const r = importFixture('forever.jmx');
    const text = renderImportedScenario(r, { file: 'forever.jmx', plan: { version: '1.2', jmeter: '5.6.3' }, at: new Date('2026-01-02T03:04:05Z') });
    const lines = text.split('\n');
    assert.match(lines[0]!, /^# Imported by portstorm \S+ \(portstorm import\) from forever\.jmx on 2026-01-02T03:04:05\.000Z$/);
    assert.equal(lines[1], '# JMeter plan: saved by JMeter 5.6.3 (jmeterTestPlan version 1.2)');
    assert.equal(lines[2], '# Thread groups imported: Hammer');
    assert.equal(lines[3], '# Not imported:');
    assert.equal(lines[7], '#   - Hammer (ThreadGroup): loops forever without a scheduler duration: written as duration 5m');
    assert.deepEqual(parseScenario(parseYaml(text), 'x').load[0], { model: 'users', users: 4, rampUp: 0, duration: 300, thinkTime: 0, startAfter: 0 });
  });

  it('not XML: the file and line; not a jmeterTestPlan: the root it found', () => {
    assert.throws(() => parseJmx('<a>\n<b></a>', 'bad.jmx'), (e: unknown) => e instanceof UsageError && /^bad\.jmx:2: not a JMeter test plan: not well-formed XML/.test(e.message));
    assert.throws(() => parseJmx('<?xml version="1.0"?><testResults/>', 'r.jtl'), { message: 'r.jtl: not a JMeter test plan (expected a <jmeterTestPlan> root element, found <testResults>)' });
  });

  it('resolves __P and __property defaults, nested references and escaped commas; leaves the rest', () => {
    const ctx = { props: new Map([['a', 'A']]), vars: new Map([['v', 'V']]) };
    assert.deepEqual(resolveValue('${__P(a,1)}-${__P(b,2)}-${__P(c)}-${__property(d,,x\\,y)}-${__property(e)}', ctx), { value: 'A-2-1-x,y-e', unresolved: [] });
    assert.deepEqual(resolveValue('${__P(b,${v})}/${csv}/${__Random(1,9)}', ctx), { value: 'V/${csv}/${__Random(1,9)}', unresolved: ['${csv}', '${__Random(1,9)}'] });
  });
});
