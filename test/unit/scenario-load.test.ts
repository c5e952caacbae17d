import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../src/errors.js';
import { applyOverrides, formatPath, loadScenario, parseScenario, type Override } from '../../src/scenario/load.js';
import { makeCertificate } from '../../src/target/certificate.js';

const dir = mkdtempSync(join(tmpdir(), 'portstorm-scenario-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

const group = { model: 'arrival-rate', rate: 10, duration: 1 };

/** The lines of the UsageError `fn` throws. */
function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    return err.message.split('\n');
  }
  assert.fail('expected a UsageError');
}

async function loadProblems(file: string, overrides?: Override[]): Promise<string[]> {
  try {
    await loadScenario(file, overrides);
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    return err.message.split('\n');
  }
  assert.fail('expected a UsageError');
}

describe('loadScenario', () => {
  it('resolves a minimal YAML scenario with defaults', async () => {
    const file = write('min.yaml', 'load:\n  - model: arrival-rate\n    rate: 100\n    duration: 500ms\n');
    const s = await loadScenario(file);
    assert.equal(s.target, 'builtin');
    assert.equal(s.protocol, 'http');
    assert.equal(s.request.path, '/');
    assert.equal(s.request.method, 'GET');
    assert.equal(s.payload, 'PING\n');
    assert.equal(s.expectBytes, 5);
    assert.deepEqual(s.connection, { reuse: false, poolSize: 50, close: 'client', localAddresses: [] });
    assert.deepEqual(s.timeouts, { connect: 2, tls: 2, request: 10 });
    assert.deepEqual(s.tls, { insecure: false, sessionResumption: true, alpn: ['http/1.1'] });
    assert.equal(s.dns, 'once');
    assert.equal(s.builtin.tls, false);
    assert.equal(s.workers, 'auto');
    assert.deepEqual(s.thresholds, []);
    const g = s.load[0]!;
    assert.equal(g.model, 'arrival-rate');
    assert.equal(g.duration, 0.5);
    assert.equal(g.rampUp, 0);
  });

  it('derives protocol, path and expectBytes from the target and payload', () => {
    const http = parseScenario({ target: 'http://127.0.0.1:8080/health?x=1', load: [group] }, 'a.yaml');
    assert.equal(http.protocol, 'http');
    assert.equal(http.request.path, '/health?x=1');
    const tcp = parseScenario({ target: 'tcp://127.0.0.1:9000', payload: 'héllo', load: [group] }, 'b.yaml');
    assert.equal(tcp.protocol, 'tcp');
    assert.equal(tcp.expectBytes, 6);
  });

  it('resolves durations to seconds', () => {
    const s = parseScenario(
      {
        load: [
          { model: 'arrival-rate', rate: 1, duration: '2m', rampUp: '30s', startAfter: 1.5 },
          { model: 'users', users: 2, duration: 90, thinkTime: '250ms' },
        ],
      },
      'd.yaml',
    );
    const [a, u] = s.load;
    assert.equal(a!.duration, 120);
    assert.equal(a!.rampUp, 30);
    assert.equal(a!.startAfter, 1.5);
    assert.equal(u!.duration, 90);
    assert.equal(u!.model === 'users' && u!.thinkTime, 0.25);
  });

  it('reads JSON files', async () => {
    const file = write('s.json', JSON.stringify({ name: 'json', load: [group], connection: { reuse: true } }));
    const s = await loadScenario(file);
    assert.equal(s.name, 'json');
    assert.equal(s.connection.reuse, true);
  });

  it('applies --set overrides before validation', async () => {
    const file = write('over.yaml', 'load:\n  - model: arrival-rate\n    rate: 100\n    duration: 1s\n');
    const s = await loadScenario(file, ['load[0].rate=1200', 'connection.reuse=true', 'builtin.delayMs=5']);
    assert.equal(s.load[0]!.model === 'arrival-rate' && s.load[0]!.rate, 1200);
    assert.equal(s.connection.reuse, true);
    assert.equal(s.builtin.delayMs, 5);
    assert.deepEqual(await loadProblems(file, ['load[0].rate=-1']), ['--set load[0].rate=-1: load[0].rate: expected a number greater than 0, got -1']);
  });

  it('blames the --set for a value it put there, and the file for the rest', async () => {
    const file = write('blame.yaml', 'load:\n  - model: arrival-rate\n    rate: 100\n    duration: -3\n');
    const [rate, duration, ...rest] = await loadProblems(file, ['load[0].rate=abc']);
    assert.equal(rate, '--set load[0].rate=abc: load[0].rate: expected a number, got "abc"');
    assert.ok(duration!.startsWith(`${file}: load[0].duration: `), duration);
    assert.deepEqual(rest, []);
    // A whole mapping set by --set: a problem inside it is the --set's.
    assert.deepEqual(await loadProblems(write('ok.yaml', 'load: [{ model: users, users: 1, iterations: 1 }]\n'), ['connection={ reus: true }']), [
      '--set connection={ reus: true }: connection.reus: unknown key (expected one of reuse, poolSize, close, localAddresses)',
    ]);
    // An unknown model set by --set is reported at the group, and still blamed on the --set.
    const [model] = await loadProblems(file, ['load[0].model=ramp']);
    assert.match(model!, /^--set load\[0\]\.model=ramp: load\[0\]\.model: expected arrival-rate or users, got "ramp"$/);
    // The last override that covers the value is the one named.
    assert.deepEqual(await loadProblems(file, ['load[0].rate=1', 'load[0].duration=1', 'load[0]={ model: users }']), [
      '--set load[0]={ model: users }: load[0].users: missing, expected a number',
    ]);
    // A threshold set by --set.
    assert.deepEqual(await loadProblems(write('ok2.yaml', 'load: [{ model: users, users: 1, iterations: 1 }]\n'), ['thresholds=["latency.p99 <"]']).then((l) => l.map((x) => x.split(': ')[0])), [
      '--set thresholds=["latency.p99 <"]',
    ]);
  });

  it('names the flag an override came from when it is not --set', async () => {
    const file = write('from.yaml', 'load:\n  - model: arrival-rate\n    rate: 100\n    duration: 1s\n');
    assert.deepEqual(await loadProblems(file, [{ set: 'connection.close=never', from: '--variant x:connection.close=never' }]), [
      '--variant x:connection.close=never: connection.close: expected one of client, server, reset, got "never"',
    ]);
    assert.deepEqual(await loadProblems(file, [{ set: 'load[3].rate=1', from: '--variant y:load[3].rate=1' }]), [
      '--variant y:load[3].rate=1: index 3 is past the end of load (1 item)',
    ]);
  });

  it('takes an https target as HTTP over TLS, and refuses it with protocol: tcp', async () => {
    const file = write('tls.yaml', 'target: https://127.0.0.1:8443/api?x=1\ntimeouts: { connect: 1s }\nload: [{ model: users, users: 1, iterations: 1 }]\n');
    const s = await loadScenario(file);
    assert.equal(s.protocol, 'http');
    assert.equal(s.request.path, '/api?x=1');
    assert.equal(s.timeouts.tls, 1, 'the handshake timeout defaults to the connect timeout');
    const tcp = write('tls-tcp.yaml', 'target: https://127.0.0.1:8443/\nprotocol: tcp\nload: [{ model: users, users: 1, iterations: 1 }]\n');
    assert.deepEqual(await loadProblems(tcp), [`${tcp}: protocol: expected http to match the target URL scheme (https://), got "tcp"`]);
  });

  it('reports a missing file', async () => {
    const file = join(dir, 'nope.yaml');
    assert.deepEqual(await loadProblems(file), [`cannot read scenario ${file}: no such file`]);
  });

  it('reports a YAML syntax error with the file and line', async () => {
    const file = write('bad.yaml', 'load:\n  - model: arrival-rate\n    rate: [1, 2\n');
    const [line, ...rest] = await loadProblems(file);
    assert.deepEqual(rest, []);
    assert.match(line!, new RegExp(`^${escape(file)}: line \\d+, column \\d+: invalid YAML: \\S`));
    const dup = write('dup.yaml', 'name: a\nname: b\nload: []\n');
    assert.deepEqual(await loadProblems(dup), [`${dup}: line 2, column 1: invalid YAML: Map keys must be unique`]);
  });

  it('rejects a document that is not a mapping', async () => {
    const list = write('list.yaml', '- a\n- b\n');
    assert.deepEqual(await loadProblems(list), [`${list}: expected a mapping of scenario settings at the top level, got a list`]);
    const empty = write('empty.yaml', '');
    assert.deepEqual(await loadProblems(empty), [`${empty}: the scenario is empty (expected a mapping with at least load)`]);
  });
});

describe('parseScenario errors', () => {
  const one = (doc: unknown) => problems(() => parseScenario(doc, 'scenarios/x.yaml'));

  it('names the group index for a negative rate in the second group', () => {
    assert.deepEqual(one({ load: [group, { ...group, rate: -5 }] }), [
      'scenarios/x.yaml: load[1].rate: expected a number greater than 0, got -5',
    ]);
  });

  it('names an unknown key and the keys that are allowed', () => {
    assert.deepEqual(one({ connection: { reus: true }, load: [group] }), [
      'scenarios/x.yaml: connection.reus: unknown key (expected one of reuse, poolSize, close, localAddresses)',
    ]);
    assert.deepEqual(one({ load: [{ model: 'users', users: 1, iterations: 1, rate: 3 }] }), [
      'scenarios/x.yaml: load[0].rate: unknown key (expected one of model, users, rampUp, rampSteps, duration, iterations, thinkTime, thinkTimeRandom, startAfter)',
    ]);
    const root = one({ lod: [], load: [group] });
    assert.equal(root.length, 1);
    assert.match(root[0]!, /^scenarios\/x\.yaml: lod: unknown key \(expected one of name, target, .*load.*\)$/);
  });

  it('rejects a bad target URL', () => {
    assert.deepEqual(one({ target: 'ftp://example.com', load: [group] }), [
      'scenarios/x.yaml: target: expected builtin, http://host:port/path, https://host:port/path or tcp://host:port (IPv6 in brackets: http://[::1]:8080/), got "ftp://example.com"',
    ]);
    assert.equal(one({ target: 'tcp://localhost', load: [group] }).length, 1);
  });

  it('rejects a bad or missing model', () => {
    assert.deepEqual(one({ load: [{ model: 'ramp', rate: 1 }] }), [
      'scenarios/x.yaml: load[0].model: expected arrival-rate or users, got "ramp"',
    ]);
    assert.deepEqual(one({ load: [group, { rate: 1 }] }), [
      'scenarios/x.yaml: load[1].model: missing, expected arrival-rate or users',
    ]);
  });

  it('rejects a bad duration string', () => {
    assert.deepEqual(one({ load: [{ ...group, duration: '5 minutes' }] }), [
      'scenarios/x.yaml: load[0].duration: expected a duration like 500ms, 30s, 2m or a number of seconds, got "5 minutes"',
    ]);
    assert.deepEqual(one({ timeouts: { connect: true }, load: [group] }), [
      'scenarios/x.yaml: timeouts.connect: expected a duration like 500ms, 30s, 2m or a number of seconds, got true',
    ]);
  });

  it('requires load', () => {
    assert.deepEqual(one({ name: 'x' }), ['scenarios/x.yaml: load: missing, expected a list']);
    assert.deepEqual(one({ load: [] }), ['scenarios/x.yaml: load: expected at least one load group']);
  });

  it('rejects a protocol that contradicts the target scheme', () => {
    assert.deepEqual(one({ target: 'tcp://127.0.0.1:9000', protocol: 'http', load: [group] }), [
      'scenarios/x.yaml: protocol: expected tcp to match the target URL scheme (tcp://), got "http"',
    ]);
  });

  it('rejects a bad localAddresses entry', () => {
    assert.deepEqual(one({ connection: { localAddresses: ['127.0.0.2', 'eth0'] }, load: [group] }), [
      'scenarios/x.yaml: connection.localAddresses[1]: expected an IPv4 or IPv6 address, got "eth0"',
    ]);
  });

  it('rejects a bad threshold', () => {
    assert.deepEqual(one({ load: [group], thresholds: ['latency.p99 < 250', 'latency.p95 < 250'] }), [
      'scenarios/x.yaml: thresholds[1]: threshold "latency.p95 < 250": unknown statistic "p95" for latency (expected one of p50, p90, p99, p999, max, mean)',
    ]);
  });

  it('says what was expected for wrong types and enums', () => {
    assert.deepEqual(one({ connection: { reuse: 'yes', close: 'later' }, workers: 1.5, load: [group] }), [
      'scenarios/x.yaml: connection.reuse: expected true or false, got "yes"',
      'scenarios/x.yaml: connection.close: expected one of client, server, reset, got "later"',
      'scenarios/x.yaml: workers: expected auto or a positive integer, got 1.5',
    ]);
  });

  it('reports several problems on several lines', () => {
    const lines = one({
      target: 'ftp://x',
      connection: { reus: true },
      load: [group, { ...group, rate: -5 }],
      thresholds: ['speed > 3'],
    });
    assert.equal(lines.length, 4);
    assert.ok(lines.every((l) => l.startsWith('scenarios/x.yaml: ')));
    assert.deepEqual(
      lines.map((l) => l.split(': ')[1]),
      ['target', 'connection.reus', 'load[1].rate', 'thresholds[0]'],
    );
  });
});

describe('applyOverrides', () => {
  it('sets nested keys, creating missing mappings, without touching the input', () => {
    const doc = { load: [{ rate: 1 }] };
    const out = applyOverrides(doc, ['request.headers.X-Trace=abc', 'builtin.delayMs=5']);
    assert.deepEqual(out, { load: [{ rate: 1 }], request: { headers: { 'X-Trace': 'abc' } }, builtin: { delayMs: 5 } });
    assert.deepEqual(doc, { load: [{ rate: 1 }] });
  });

  it('indexes lists and rejects an index past the end', () => {
    const doc = { load: [{ rate: 1 }, { rate: 2 }] };
    assert.deepEqual(applyOverrides(doc, ['load[1].rate=1200']), { load: [{ rate: 1 }, { rate: 1200 }] });
    assert.deepEqual(problems(() => applyOverrides(doc, ['load[2].rate=1'])), [
      '--set load[2].rate=1: index 2 is past the end of load (2 items)',
    ]);
    assert.deepEqual(problems(() => applyOverrides(doc, ['load.rate=1'])), ['--set load.rate=1: load is not a mapping']);
    assert.equal(problems(() => applyOverrides(doc, ['other[0]=1'])).length, 1);
  });

  it('parses values as YAML', () => {
    const out = applyOverrides({}, ['a=1200', 'b=true', 'c=30s', 'd=[x, y]', 'e=', 'f="007"', 'g=null', 'h=#hash']);
    assert.deepEqual(out, { a: 1200, b: true, c: '30s', d: ['x', 'y'], e: '', f: '007', g: null, h: '#hash' });
  });

  it('rejects malformed overrides', () => {
    for (const bad of ['load[0].rate', '=5', 'load[x].rate=1', 'load[0.rate=1', 'a..b=1', '.a=1']) {
      assert.deepEqual(problems(() => applyOverrides({}, [bad])), [`--set ${bad}: expected path=value, e.g. load[0].rate=1200`]);
    }
  });
});

describe('formatPath', () => {
  it('formats keys and indexes', () => {
    assert.equal(formatPath(['load', 1, 'rate']), 'load[1].rate');
    assert.equal(formatPath(['connection', 'close']), 'connection.close');
    assert.equal(formatPath([]), '(root)');
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('scenario name', () => {
  it('an unnamed scenario takes its file name; a name in the file wins', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ps-name-'));
    const unnamed = join(dir, 'checkout-burst.yaml');
    writeFileSync(unnamed, 'load: [{ model: users, users: 1, iterations: 1 }]\n');
    assert.equal((await loadScenario(unnamed)).name, 'checkout-burst');
    const named = join(dir, 'other.yml');
    writeFileSync(named, 'name: mine\nload: [{ model: users, users: 1, iterations: 1 }]\n');
    assert.equal((await loadScenario(named)).name, 'mine');
  });
});

describe('tls: files', () => {
  const tlsDir = mkdtempSync(join(tmpdir(), 'portstorm-tls-files-'));
  after(() => rmSync(tlsDir, { recursive: true, force: true }));
  const put = (name: string, text: string): string => {
    const file = join(tlsDir, name);
    writeFileSync(file, text);
    return file;
  };
  const scenario = (name: string, tls: string): string =>
    put(name, `target: https://127.0.0.1:8443/\ntls: ${tls}\nload: [{ model: users, users: 1, iterations: 1 }]\n`);

  it('resolves ca, cert and key against the scenario file, checks them, and the resolved scenario reads again', async () => {
    const ca = await makeCertificate({ ca: true });
    const client = await makeCertificate({ names: ['client'], issuer: ca });
    mkdirSync(join(tlsDir, 'certs'), { recursive: true });
    put('certs/ca.pem', ca.cert);
    put('certs/client.pem', client.cert + ca.cert);
    put('certs/client.key', client.key);
    const file = scenario('ok.yaml', '{ ca: certs/ca.pem, cert: certs/client.pem, key: ./certs/client.key }');
    const s = await loadScenario(file);
    assert.deepEqual({ ca: s.tls.ca, cert: s.tls.cert, key: s.tls.key }, {
      ca: join(tlsDir, 'certs/ca.pem'),
      cert: join(tlsDir, 'certs/client.pem'),
      key: join(tlsDir, 'certs/client.key'),
    });
    assert.deepEqual(parseScenario(JSON.parse(JSON.stringify(s)), 'again', [], '/'), s);
  });

  it('a file that is missing, a directory, or not PEM: one line naming the field and the file', async () => {
    mkdirSync(join(tlsDir, 'adir'), { recursive: true });
    put('notes.txt', 'not a certificate\n');
    const missing = scenario('missing.yaml', '{ ca: nowhere/ca.pem }');
    assert.deepEqual(await loadProblems(missing), [`${missing}: tls.ca: cannot read ${join(tlsDir, 'nowhere/ca.pem')}: no such file`]);
    const isDir = scenario('dir.yaml', '{ ca: adir }');
    assert.deepEqual(await loadProblems(isDir), [`${isDir}: tls.ca: cannot read ${join(tlsDir, 'adir')}: it is a directory`]);
    const notPem = scenario('notpem.yaml', '{ ca: notes.txt }');
    assert.deepEqual(await loadProblems(notPem), [`${notPem}: tls.ca: ${join(tlsDir, 'notes.txt')}: expected PEM certificates (-----BEGIN CERTIFICATE-----), found none`]);
  });

  it('a certificate or key that does not parse, and a key of another certificate', async () => {
    const a = await makeCertificate({ names: ['a'] });
    const b = await makeCertificate({ names: ['b'] });
    put('broken.pem', '-----BEGIN CERTIFICATE-----\nTUlJQm9ndXM=\n-----END CERTIFICATE-----\n');
    put('a.pem', a.cert);
    put('a.key', a.key);
    put('b.key', b.key);
    put('bad.key', '-----BEGIN PRIVATE KEY-----\nTUlJQm9ndXM=\n-----END PRIVATE KEY-----\n');
    const broken = scenario('broken.yaml', '{ ca: broken.pem }');
    const [line] = await loadProblems(broken);
    assert.match(line!, new RegExp(`^${escape(broken)}: tls\\.ca: ${escape(join(tlsDir, 'broken.pem'))}: certificate 1 does not parse \\(.+\\)$`));
    const badKey = scenario('badkey.yaml', '{ cert: a.pem, key: bad.key }');
    const [keyLine] = await loadProblems(badKey);
    assert.match(keyLine!, new RegExp(`^${escape(badKey)}: tls\\.key: ${escape(join(tlsDir, 'bad.key'))}: expected a PEM private key \\(unencrypted\\), it does not parse \\(.+\\)$`));
    const other = scenario('other.yaml', '{ cert: a.pem, key: b.key }');
    assert.deepEqual(await loadProblems(other), [
      `${other}: tls.key: ${join(tlsDir, 'b.key')}: the key does not match the certificate in tls.cert (${join(tlsDir, 'a.pem')})`,
    ]);
    assert.equal((await loadScenario(scenario('match.yaml', '{ cert: a.pem, key: a.key }'))).tls.key, join(tlsDir, 'a.key'));
  });

  it('a file set by --set is blamed on the --set', async () => {
    const file = scenario('plain.yaml', '{ insecure: false }');
    assert.deepEqual(await loadProblems(file, ['tls.ca=gone.pem']), [`--set tls.ca=gone.pem: tls.ca: cannot read ${join(tlsDir, 'gone.pem')}: no such file`]);
  });
});
