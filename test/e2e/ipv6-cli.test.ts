/**
 * `portstorm run` against IPv6 literals, as a user runs it: `http://[::1]:port/` and
 * `tcp://[::1]:port` served by servers on ::1 in this test, on both engines; the record keeps the
 * brackets where an authority or an `ip:port` key needs them (Host header, `[::1]:port`) and the
 * monitor's budget is about that destination. A source address of the other family, and a global
 * IPv6 target, are one line, exit 2, before any load.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RunRecord } from '../../src/record/types.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-cli6-'));

/** Runs the CLI without blocking this process (its servers answer the load). */
function cli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: tmp, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

function scenarioFile(name: string, lines: string[]): string {
  const file = path.join(tmp, name);
  writeFileSync(file, [...lines, ''].join('\n'));
  return file;
}

const LOAD = ['load: [{ model: arrival-rate, rate: 100, duration: 1s }]', 'workers: 1', 'connection: { reuse: false, close: client }'];

describe('portstorm run against IPv6 literals', () => {
  let httpServer: http.Server;
  let tcpServer: net.Server;
  let httpPort = 0;
  let tcpPort = 0;
  const hosts: string[] = [];

  before(async () => {
    httpServer = http.createServer((req, res) => {
      hosts.push(req.headers.host ?? '');
      res.end('ok');
    });
    tcpServer = net.createServer((s) => {
      s.on('error', () => undefined);
      s.on('data', () => s.write('PING\n'));
      s.on('end', () => s.end());
    });
    await new Promise<void>((r) => httpServer.listen(0, '::1', r));
    await new Promise<void>((r) => tcpServer.listen(0, '::1', r));
    httpPort = (httpServer.address() as net.AddressInfo).port;
    tcpPort = (tcpServer.address() as net.AddressInfo).port;
  });

  after(async () => {
    httpServer.closeAllConnections();
    await new Promise((r) => httpServer.close(r));
    await new Promise((r) => tcpServer.close(r));
  });

  for (const engine of ['native', 'js'] as const) {
    it(`${engine}: http://[::1]:port/ completes every request; Host keeps the brackets; the budget is about [::1]:port`, async () => {
      hosts.length = 0;
      const file = scenarioFile(`http6-${engine}.yaml`, [`target: http://[::1]:${httpPort}/v6`, ...LOAD]);
      const out = path.join(tmp, `out-http-${engine}`);
      const r = await cli(['run', file, '--json', '--quiet', '--out', out], { PORTSTORM_ENGINE: engine });
      assert.equal(r.status, 0, r.stderr);
      const rec = JSON.parse(r.stdout) as RunRecord;
      assert.equal(rec.engine?.engine, engine);
      assert.equal(rec.target.url, `http://[::1]:${httpPort}/v6`);
      assert.equal(rec.totals.completed, 100, JSON.stringify([rec.totals, rec.errors]));
      assert.deepEqual(rec.ownDestinations, [`[::1]:${httpPort}`]);
      assert.equal(rec.ports?.busiestDestination, `[::1]:${httpPort}`);
      assert.ok((rec.ports?.peakInUse ?? 0) > 0, JSON.stringify(rec.ports));
      assert.equal(hosts.length, 100);
      assert.ok(hosts.every((h) => h === `[::1]:${httpPort}`), hosts[0]);
      // Toward ::1, tcp_tw_reuse=2 (the default) recycles TIME_WAIT ports after tcp_tw_reuse_delay.
      if (rec.host.tcpTwReuse === 2) assert.match(rec.exhaustion?.capacity?.holdReason ?? '', /destination is on loopback/);
    });

    it(`${engine}: keep-alive (reuse: true) to http://[::1]:port/ reuses its connections`, async () => {
      hosts.length = 0;
      const file = scenarioFile(`ka6-${engine}.yaml`, [`target: http://[::1]:${httpPort}/`, 'load: [{ model: arrival-rate, rate: 100, duration: 1s }]', 'workers: 1', 'connection: { reuse: true, poolSize: 2 }']);
      const r = await cli(['run', file, '--json', '--quiet', '--out', path.join(tmp, `out-ka-${engine}`)], { PORTSTORM_ENGINE: engine });
      assert.equal(r.status, 0, r.stderr);
      const rec = JSON.parse(r.stdout) as RunRecord;
      assert.equal(rec.engine?.engine, engine);
      assert.equal(rec.totals.completed, 100, JSON.stringify([rec.totals, rec.errors]));
      assert.ok(rec.totals.connectionsOpened <= 4, `opened ${rec.totals.connectionsOpened}`);
      assert.ok(hosts.every((h) => h === `[::1]:${httpPort}`), hosts[0]);
    });

    it(`${engine}: tcp://[::1]:port carries the payload and reads the answer`, async () => {
      const file = scenarioFile(`tcp6-${engine}.yaml`, [`target: tcp://[::1]:${tcpPort}`, ...LOAD]);
      const r = await cli(['run', file, '--json', '--quiet', '--out', path.join(tmp, `out-tcp-${engine}`)], { PORTSTORM_ENGINE: engine });
      assert.equal(r.status, 0, r.stderr);
      const rec = JSON.parse(r.stdout) as RunRecord;
      assert.equal(rec.engine?.engine, engine);
      assert.equal(rec.totals.completed, 100, JSON.stringify([rec.totals, rec.errors]));
      assert.deepEqual(rec.ownDestinations, [`[::1]:${tcpPort}`]);
    });
  }

  it('an IPv4 source address toward [::1], or an IPv6 one toward the built-in target, is one line naming connection.localAddresses[i], exit 2, before any load', async () => {
    const toV6 = scenarioFile('mixed-v6.yaml', [`target: http://[::1]:${httpPort}/`, 'load: [{ model: arrival-rate, rate: 10, duration: 1s }]', 'connection: { localAddresses: [::1, 127.0.0.1] }']);
    const out = path.join(tmp, 'out-mixed');
    hosts.length = 0;
    const a = await cli(['run', toV6, '--quiet', '--out', out]);
    assert.equal(a.status, 2, a.stderr);
    assert.match(a.stderr, /^portstorm: .*mixed-v6\.yaml: connection\.localAddresses\[1\]: 127\.0\.0\.1 is an IPv4 address but the target .* \(::1\) is IPv6; [^\n]*\n$/);
    assert.equal(hosts.length, 0, 'no request was sent');
    const toV4 = scenarioFile('mixed-v4.yaml', ['target: builtin', 'load: [{ model: arrival-rate, rate: 10, duration: 1s }]', 'connection: { localAddresses: ["::1"] }']);
    const b = await cli(['run', toV4, '--quiet', '--out', out]);
    assert.equal(b.status, 2, b.stderr);
    assert.match(b.stderr, /^portstorm: .*mixed-v4\.yaml: connection\.localAddresses\[0\]: ::1 is an IPv6 address but the built-in target \(127\.0\.0\.1\) is IPv4; [^\n]*\n$/);
    assert.deepEqual(readdirSync(out), [], 'no run was recorded');
  });

  it('a global IPv6 target is refused (exit 2) unless allowRemote', async () => {
    const file = scenarioFile('global6.yaml', ['target: http://[2001:db8::1]:8080/', 'load: [{ model: arrival-rate, rate: 10, duration: 1s }]']);
    const r = await cli(['run', file, '--quiet', '--out', path.join(tmp, 'out-global')]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^portstorm: \S+global6\.yaml: target: http:\/\/\[2001:db8::1\]:8080\/ resolves to 2001:db8::1, which is not a loopback or private address; [^\n]*\n$/);
  });
});
