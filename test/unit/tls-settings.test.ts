/** The TLS settings a run builds from its scenario, and which engine carries HTTPS and per-connection lookups. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { UsageError } from '../../src/errors.js';
import { runTls } from '../../src/load/tls-settings.js';
import { connectionEngine } from '../../src/load/transport/index.js';
import { handshakePhase } from '../../src/load/transport/tls-client.js';
import { parseScenario } from '../../src/scenario/load.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-tls-settings-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const LOAD = [{ model: 'users', users: 1, iterations: 1 }];
const scenario = (doc: Record<string, unknown>) => parseScenario({ load: LOAD, ...doc }, 'test', [], dir);

describe('runTls', () => {
  it('SNI and the checked name default to the URL host name, none for an IP address; tls.servername overrides', () => {
    assert.equal(runTls(scenario({ target: 'https://staging-api.internal/' }), 'https://staging-api.internal/', null).client.servername, 'staging-api.internal');
    assert.equal(runTls(scenario({ target: 'https://10.0.0.5:8443/' }), 'https://10.0.0.5:8443/', null).client.servername, null);
    assert.equal(runTls(scenario({ target: 'https://[fd00::2]:8443/' }), 'https://[fd00::2]:8443/', null).client.servername, null);
    const s = scenario({ target: 'https://10.0.0.5/', tls: { servername: 'api.internal' } });
    assert.equal(runTls(s, 'https://10.0.0.5/', null).record.servername, 'api.internal');
  });

  it('trust: system (Node roots), ca (the file, read as PEM text), builtin (the one certificate given), none (insecure)', () => {
    writeFileSync(path.join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nTUlJ\n-----END CERTIFICATE-----\n');
    const url = 'https://10.0.0.5/';
    const system = runTls(scenario({ target: url }), url, null);
    assert.deepEqual({ ca: system.client.ca, trust: system.record.trust }, { ca: null, trust: 'system' });
    // The scenario check refuses a CA that does not parse; runTls reads what it is given.
    const s = { ...scenario({ target: url }), tls: { ...scenario({ target: url }).tls, ca: path.join(dir, 'ca.pem') } };
    const ca = runTls(s, url, null);
    assert.deepEqual({ ca: ca.client.ca?.includes('BEGIN CERTIFICATE'), trust: ca.record.trust }, { ca: true, trust: 'ca' });
    const builtin = runTls(s, url, 'PEM');
    assert.deepEqual({ ca: builtin.client.ca, trust: builtin.record.trust }, { ca: 'PEM', trust: 'builtin' });
    const insecure = runTls(scenario({ target: url, tls: { insecure: true } }), url, null);
    assert.deepEqual({ insecure: insecure.client.insecure, trust: insecure.record.trust }, { insecure: true, trust: 'none' });
  });

  it('the handshake timeout is timeouts.tls (default timeouts.connect); the record holds no key material', () => {
    const url = 'https://10.0.0.5/';
    assert.equal(runTls(scenario({ target: url, timeouts: { connect: '1500ms' } }), url, null).client.handshakeTimeoutMs, 1500);
    assert.equal(runTls(scenario({ target: url, timeouts: { tls: '3s' } }), url, null).client.handshakeTimeoutMs, 3000);
    const record = runTls(scenario({ target: url }), url, 'PEM').record;
    assert.deepEqual(Object.keys(record).sort(), ['alpn', 'clientCertificate', 'insecure', 'servername', 'sessionResumption', 'trust']);
  });

  it('a file gone since the scenario was read: one line naming the field', () => {
    const url = 'https://10.0.0.5/';
    const s = { ...scenario({ target: url }), tls: { ...scenario({ target: url }).tls, ca: path.join(dir, 'gone.pem') } };
    assert.throws(() => runTls(s, url, null, 'my.yaml'), (err: unknown) => err instanceof UsageError && err.message === `my.yaml: tls.ca: cannot read ${path.join(dir, 'gone.pem')}: no such file`);
  });
});

describe('engine choice for HTTPS and per-connection lookups', () => {
  it('dns: per-connection runs on the JS engine, with the reason', () => {
    assert.deepEqual(connectionEngine(false, '127.0.0.1', 'http', { lookupName: 'staging-api.internal' }), {
      engine: 'js',
      reason: 'dns: per-connection looks the name up for each connection (getaddrinfo), which the native engine does not',
    });
    assert.equal(connectionEngine(true, '127.0.0.1', 'http', { lookupName: 'staging-api.internal' }).engine, 'js');
  });
});

describe('handshakePhase', () => {
  it('a TLS alert before any response byte is a handshake failure (TLS 1.3 client certificates); later, or other codes, keep their phase', () => {
    const alert = { code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', phase: 'response' as const, message: 'alert' };
    assert.equal(handshakePhase(alert, false).phase, 'tls');
    assert.equal(handshakePhase(alert, true).phase, 'response');
    assert.equal(handshakePhase({ code: 'ECONNRESET', phase: 'send', message: 'reset' }, false).phase, 'send');
  });
});
