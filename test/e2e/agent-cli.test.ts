/**
 * `portstorm monitor --serve` as a user runs it: the built CLI spawned as a child process and judged
 * by exit code, stderr, what it serves and what it writes; a real agent watched by a real
 * `portstorm run --watch`; and an agent that keeps serving while its host (a private network
 * namespace with a 10-port range) is out of ports. Everything stays on 127.0.0.1, in this machine's
 * namespace or one the test makes.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AgentHealth, AgentLine } from '../../src/monitor/agent-protocol.js';
import { parseAgentLine } from '../../src/monitor/agent-lines.js';
import type { RunRecord } from '../../src/record/types.js';
import { makeCertificate } from '../../src/target/certificate.js';
import { cliEnvironment, runCli, type Ended } from '../helpers/cli-process.js';
import { runInNetns } from '../helpers/netns.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-agent-cli-'));
const TOKEN = 'agent-cli-token-42';
const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) c.kill('SIGKILL');
});

/** Runs the CLI to its end (at most 90 s) without blocking this process's event loop. */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ended> {
  return runCli(args, { cwd: tmp, env, timeoutMs: 90_000, track: children });
}

const oneLine = (stderr: string): string => {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  assert.doesNotMatch(lines[0]!, /^\s+at |Error:/, 'no stack trace');
  return lines[0]!;
};

/** A running agent: the CLI's `monitor --serve ...`, its URL once it says it listens. */
interface RunningAgent {
  url: string;
  port: number;
  child: ChildProcess;
  ended: Promise<Ended>;
  stop(): Promise<Ended>;
}

async function agent(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunningAgent> {
  const child = spawn(process.execPath, [MAIN, 'monitor', '--interval', '100ms', '--scan-interval', '200ms', ...args], { cwd: tmp, env: cliEnvironment(env) });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  const ended = new Promise<Ended>((resolve) =>
    child.on('close', (status) => {
      children.delete(child);
      resolve({ status, stdout, stderr });
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (b: Buffer) => {
      stderr += b.toString();
      const m = /agent at (https?:\/\/\S+) \(/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    void ended.then((e) => reject(new Error(`the agent exited ${e.status} before listening: ${e.stderr}`)));
  });
  return {
    url,
    port: Number(new URL(url).port),
    child,
    ended,
    stop: async () => {
      child.kill('SIGINT');
      return ended;
    },
  };
}

function get(url: string, o: { token?: string | null; ca?: string } = {}): Promise<{ status: number; body: string }> {
  const token = o.token === undefined ? TOKEN : o.token;
  const headers = token === null ? {} : { authorization: `Bearer ${token}` };
  return new Promise((resolve, reject) => {
    const onRes = (res: http.IncomingMessage): void => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    };
    const req = url.startsWith('https:') ? https.get(url, { headers, ca: o.ca, agent: false }, onRes) : http.get(url, { headers, agent: false }, onRes);
    req.on('error', reject);
  });
}

/** Reads /stream to its end (or `limitMs`), every line parsed with parseAgentLine. */
function readStream(url: string, limitMs: number): Promise<{ status: number; lines: AgentLine[]; problems: string[]; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}/stream`, { headers: { authorization: `Bearer ${TOKEN}` }, agent: false }, (res) => {
      const lines: AgentLine[] = [];
      const problems: string[] = [];
      let buf = '';
      let ended = false;
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const p = parseAgentLine(buf.slice(0, i), `stream line ${lines.length + problems.length + 1}`);
          buf = buf.slice(i + 1);
          if (p.ok) lines.push(p.line);
          else problems.push(p.problem);
        }
      });
      const done = (): void => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, lines, problems, ended });
      };
      const timer = setTimeout(() => {
        req.destroy();
        done();
      }, limitMs);
      res.on('end', () => {
        ended = true;
        done();
      });
      res.on('error', done);
    });
    req.on('error', reject);
  });
}

/** A short scenario against the built-in target: a low rate with a one-second burst, as scenarios/burst.yaml but 4 s. */
function scenario(name: string): string {
  const file = path.join(tmp, `${name}.yaml`);
  writeFileSync(
    file,
    [
      `name: ${name}`,
      'target: builtin',
      'workers: 1',
      'connection: { reuse: false, close: client }',
      'load:',
      '  - model: arrival-rate',
      '    rate: 10',
      '    duration: 4s',
      '  - model: arrival-rate',
      '    rate: 200',
      '    duration: 1s',
      '    startAfter: 1s',
      'timeouts: { connect: 1s, request: 2s }',
      '',
    ].join('\n'),
  );
  return file;
}

function record(out: string): RunRecord | null {
  const dirs = existsSync(out) ? readdirSync(out) : [];
  if (dirs.length === 0) return null;
  assert.equal(dirs.length, 1, `run directories: ${dirs.join(', ')}`);
  return JSON.parse(readFileSync(path.join(out, dirs[0]!, 'run.json'), 'utf8')) as RunRecord;
}

describe('portstorm monitor --serve: flags', () => {
  it('0.0.0.0 without a token: one line naming --serve and the token, exit 2', async () => {
    const r = await cli(['monitor', '--serve', '0.0.0.0:0', '--duration', '2s']);
    assert.equal(r.status, 2, r.stderr);
    const line = oneLine(r.stderr);
    assert.match(line, /^portstorm: --serve 0\.0\.0\.0:0: listening beyond loopback needs a token \(--token or PORTSTORM_TOKEN\)/);
    // With the token from the environment it listens (on every address: port 0, stopped at once).
    const ok = await agent(['--serve', '0.0.0.0:0'], { PORTSTORM_TOKEN: TOKEN });
    assert.equal((await get(`http://127.0.0.1:${ok.port}/health`, { token: null })).status, 401);
    assert.equal((await get(`http://127.0.0.1:${ok.port}/health`)).status, 200);
    assert.equal((await ok.stop()).status, 0);
  });

  for (const bad of ['0', '65', 'many', '2.5', '-1']) {
    it(`--max-readers ${bad}: one line, exit 2`, async () => {
      const r = await cli(['monitor', '--serve', '127.0.0.1:0', '--max-readers', bad, '--duration', '2s']);
      assert.equal(r.status, 2, r.stderr);
      assert.match(oneLine(r.stderr), /^portstorm: --max-readers \S+: expected an integer from 1 to 64$/);
    });
  }

  it('--tls-cert without --tls-key, --tls-key without --tls-cert: one line, exit 2', async () => {
    const pair = await makeCertificate({ names: ['127.0.0.1'] });
    writeFileSync(path.join(tmp, 'only.pem'), pair.cert);
    writeFileSync(path.join(tmp, 'only.key'), pair.key);
    const a = await cli(['monitor', '--serve', '127.0.0.1:0', '--tls-cert', 'only.pem', '--duration', '2s']);
    assert.equal(a.status, 2, a.stderr);
    assert.match(oneLine(a.stderr), /^portstorm: --tls-cert and --tls-key go together .*got only --tls-cert$/);
    const b = await cli(['monitor', '--serve', '127.0.0.1:0', '--tls-key', 'only.key', '--duration', '2s']);
    assert.equal(b.status, 2, b.stderr);
    assert.match(oneLine(b.stderr), /got only --tls-key$/);
  });

  it('--token or --tls-cert without --serve: one line, exit 2', async () => {
    const r = await cli(['monitor', '--token', TOKEN, '--duration', '2s']);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(oneLine(r.stderr), 'portstorm: --token goes with --serve HOST:PORT (the agent it secures)');
  });

  it('its port already in use: one line naming --serve, exit 3', async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as net.AddressInfo).port;
    try {
      const r = await cli(['monitor', '--serve', `127.0.0.1:${port}`, '--token', TOKEN, '--duration', '2s']);
      assert.equal(r.status, 3, r.stderr);
      assert.equal(oneLine(r.stderr), `portstorm: --serve 127.0.0.1:${port}: cannot listen (EADDRINUSE)`);
    } finally {
      busy.close();
    }
  });
});

describe('portstorm monitor --serve: a real agent', () => {
  it('/stream with the token: hello, then samples, until --duration ends it; --out: hello first, status last, every line an agent line', async () => {
    const out = path.join(tmp, 'agent-out.ndjson');
    const a = await agent(['--serve', '127.0.0.1:0', '--token', TOKEN, '--out', out, '--duration', '4s']);
    assert.equal((await get(`${a.url}/stream`, { token: null })).status, 401);
    assert.equal((await get(`${a.url}/stream`, { token: 'not-the-token' })).status, 401);
    const s = await readStream(a.url, 30_000);
    assert.equal(s.status, 200);
    assert.deepEqual(s.problems, [], 'every streamed line parses');
    assert.equal(s.ended, true, 'the stream ends when the agent stops');
    assert.equal(s.lines[0]!.type, 'hello');
    const hello = s.lines[0]!;
    if (hello.type === 'hello') {
      assert.equal(hello.agent.pid, a.child.pid);
      assert.equal(hello.intervalMs, 100);
      assert.equal(hello.scanIntervalMs, 200);
    }
    const samples = s.lines.filter((l) => l.type === 'sample');
    assert.ok(samples.length >= 10, `${samples.length} samples in ~4 s at 100 ms`);
    assert.ok(samples.some((l) => l.type === 'sample' && l.sample.scan !== null), 'some with a scan');
    // Fast samples and scans come from two sampler threads: each in time order.
    for (const withScan of [true, false]) {
      const ats = samples.filter((l) => l.type === 'sample' && (l.sample.scan !== null) === withScan).map((l) => (l.type === 'sample' ? l.sample.at : 0));
      assert.deepEqual(
        ats,
        [...ats].sort((x, y) => x - y),
        `${withScan ? 'scans' : 'fast samples'} in time order`,
      );
    }
    const ended = await a.ended;
    assert.equal(ended.status, 0, ended.stderr);
    assert.match(ended.stderr, /portstorm monitor: agent at http:\/\/127\.0\.0\.1:\d+ \(\/stream, \/sample, \/health, \/metrics\), bearer token required, at most 4 readers/);
    assert.doesNotMatch(ended.stderr + ended.stdout, new RegExp(TOKEN), 'the token is never printed');

    const text = readFileSync(out, 'utf8');
    assert.ok(text.endsWith('\n'));
    const fileLines = text.trimEnd().split('\n');
    const parsed = fileLines.map((l, i) => parseAgentLine(l, `${out} line ${i + 1}`));
    assert.deepEqual(
      parsed.filter((p) => !p.ok),
      [],
    );
    const types = parsed.map((p) => (p.ok ? p.line.type : 'bad'));
    assert.equal(types[0], 'hello');
    assert.equal(types.at(-1), 'status');
    assert.ok(types.slice(1, -1).every((t) => t === 'sample'), `only samples between: ${[...new Set(types)].join(',')}`);
    assert.ok(types.length - 2 >= samples.length, `the file has every sample the stream had (${types.length - 2} vs ${samples.length})`);
    const last = parsed.at(-1)!;
    if (last.ok && last.line.type === 'status') assert.ok(last.line.status.source === 'sockdiag' || last.line.status.source === 'proc');
  });

  it('--tls-cert/--tls-key: https; a client trusting the CA reads /health, one that does not is refused', async () => {
    const ca = await makeCertificate({ ca: true, commonName: 'agent-test-ca' });
    const leaf = await makeCertificate({ names: ['127.0.0.1'], issuer: ca });
    writeFileSync(path.join(tmp, 'agent.pem'), leaf.cert);
    writeFileSync(path.join(tmp, 'agent.key'), leaf.key);
    const a = await agent(['--serve', '127.0.0.1:0', '--token', TOKEN, '--tls-cert', 'agent.pem', '--tls-key', 'agent.key', '--duration', '30s']);
    try {
      assert.match(a.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const r = await get(`${a.url}/health`, { ca: ca.cert });
      assert.equal(r.status, 200);
      const health = JSON.parse(r.body) as AgentHealth;
      assert.equal(health.ok, true);
      assert.ok(Math.abs(health.time - Date.now()) < 2000);
      assert.equal(health.maxReaders, 4);
      assert.equal((await get(`${a.url}/health`, { ca: ca.cert, token: null })).status, 401, 'the token still counts over TLS');
      await assert.rejects(get(`${a.url}/health`), (err: NodeJS.ErrnoException) => /CERT|SIGN|ISSUER|VERIFY/i.test(String(err.code)) || assert.fail(`refused for another reason: ${err.code} ${err.message}`));
      await assert.rejects(get(`http://127.0.0.1:${a.port}/health`), 'no plain HTTP on the HTTPS port');
    } finally {
      await a.stop();
    }
  });
});

describe('portstorm run --watch a real agent', () => {
  it("the record's hosts.svc: role, clock (8 probes), a timeline with socket figures; a wrong --watch-token: exit 2; the agent gone: exit 3 unless --watch-optional", async () => {
    const a = await agent(['--serve', '127.0.0.1:0', '--token', TOKEN, '--duration', '120s']);
    const url = a.url;
    try {
      const out = path.join(tmp, 'watched');
      const r = await cli(['run', scenario('watched'), '--quiet', '--out', out, '--watch', `svc=${url}`, '--watch-token', TOKEN]);
      assert.equal(r.status, 0, r.stderr);
      const rec = record(out)!;
      assert.ok(rec, 'a record');
      assert.deepEqual(Object.keys(rec.hosts ?? {}), ['client', 'svc']);
      const svc = rec.hosts!.svc!;
      assert.equal(svc.role, 'service');
      assert.equal(svc.source, 'agent');
      assert.equal(svc.address, url);
      assert.equal(svc.clock.method, 'round-trip');
      assert.equal(svc.clock.probes, 8);
      assert.equal(typeof svc.clock.uncertaintyMs, 'number');
      assert.ok(svc.clock.uncertaintyMs! >= 0 && svc.clock.uncertaintyMs! < 1000, `uncertainty ${svc.clock.uncertaintyMs} ms`);
      assert.ok(Math.abs(svc.clock.offsetMs) < 1000, `offset ${svc.clock.offsetMs} ms (same machine)`);
      assert.equal(svc.host?.portRange?.length, 2, "the agent's host facts");
      assert.ok(svc.timeline.length >= 4, `${svc.timeline.length} seconds`);
      const seen = svc.timeline.filter((e) => e.sockets !== null);
      assert.ok(seen.length >= 3, `${seen.length} of ${svc.timeline.length} seconds with socket figures`);
      // The agent watches this same machine: the run's burst toward the built-in target is in its figures.
      assert.ok(
        seen.some((e) => e.sockets!.timeWait > 0 || (e.sockets!.established ?? 0) > 0),
        JSON.stringify(seen.map((e) => e.sockets)),
      );
      assert.deepEqual(svc.gaps, []);
      assert.doesNotMatch(readFileSync(path.join(out, readdirSync(out)[0]!, 'run.json'), 'utf8'), new RegExp(TOKEN), 'the token is not in the record');

      const wrongOut = path.join(tmp, 'wrong-token');
      const wrong = await cli(['run', scenario('wrong-token'), '--quiet', '--out', wrongOut, '--watch', `svc=${url}`, '--watch-token', 'wrong-token']);
      assert.equal(wrong.status, 2, wrong.stderr);
      assert.equal(oneLine(wrong.stderr), `portstorm: agent svc (${url}): the token was refused (HTTP 401); give the agent's token with --watch-token or PORTSTORM_TOKEN`);
      assert.equal(record(wrongOut), null, 'no load, no record');
    } finally {
      await a.stop();
    }

    const goneOut = path.join(tmp, 'gone');
    const gone = await cli(['run', scenario('gone'), '--quiet', '--out', goneOut, '--watch', `svc=${url}`, '--watch-token', TOKEN]);
    assert.equal(gone.status, 3, gone.stderr);
    assert.equal(oneLine(gone.stderr), `portstorm: agent svc (${url}): cannot connect (ECONNREFUSED)`);
    assert.equal(record(goneOut), null);
    const optionalOut = path.join(tmp, 'gone-optional');
    const optional = await cli(['run', scenario('gone-optional'), '--quiet', '--out', optionalOut, '--watch', `svc=${url}`, '--watch-token', TOKEN, '--watch-optional']);
    assert.equal(optional.status, 0, optional.stderr);
    const rec = record(optionalOut)!;
    assert.match(rec.hosts!.svc!.gaps[0]!, /^unreachable at the start \(cannot connect \(ECONNREFUSED\)\)/);
  });
});

/**
 * Runs inside a private network namespace whose port range is 10 ports (40000–40009): starts the
 * agent on 127.0.0.1:9464, opens a /stream reader and a kept-alive connection (each holds one
 * ephemeral port), then takes every other port with connections bound to 127.0.0.1 before connecting
 * (bind() takes a port for itself: connect() can no longer share it), until the next bind fails.
 * Then checks what still works and prints one JSON line.
 */
const EXHAUSTION_PROBE = String.raw`
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
const [MAIN, TOKEN] = process.argv.slice(2);
const auth = { authorization: 'Bearer ' + TOKEN };
const delay = (ms) => new Promise((r) => setTimeout(r, ms));
const result = { portRange: (await import('node:fs')).readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim() };
const child = spawn(process.execPath, [MAIN, 'monitor', '--serve', '127.0.0.1:9464', '--token', TOKEN, '--interval', '100ms', '--scan-interval', '200ms', '--duration', '60s'], { stdio: ['ignore', 'ignore', 'pipe'] });
let stderr = '';
await new Promise((resolve, reject) => {
  child.stderr.on('data', (c) => { stderr += c; if (/agent at /.test(stderr)) resolve(); });
  child.once('exit', (code) => reject(new Error('agent exited ' + code + ': ' + stderr)));
});
const finish = (extra) => {
  child.kill('SIGKILL');
  process.stdout.write(JSON.stringify({ ...result, ...extra, stderr }) + '\n');
  process.exit(0);
};
try {
  // The reader: one connection for the whole stream.
  const lines = [];
  let streamEnded = false;
  let streamSocket = null;
  await new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: 9464, path: '/stream', headers: auth, agent: false }, (res) => {
      result.streamStatus = res.statusCode;
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        buf += c;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) { lines.push({ at: Date.now(), line: JSON.parse(buf.slice(0, i)) }); buf = buf.slice(i + 1); }
      });
      res.on('close', () => (streamEnded = true));
      resolve();
    });
    req.on('socket', (s) => (streamSocket = s));
    req.on('error', reject);
  });
  // A kept-alive connection, used once before the ports run out.
  const keep = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const health = () => new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: 9464, path: '/health', headers: auth, agent: keep }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, reused: req.reusedSocket, localPort: req.socket.localPort, body: JSON.parse(body) }));
    });
    req.on('error', reject);
  });
  result.healthBefore = await health();
  for (let i = 0; i < 100 && !lines.some((l) => l.line.type === 'sample' && l.line.sample.scan); i++) await delay(100);
  result.samplesBefore = lines.filter((l) => l.line.type === 'sample').length;

  // Out of ports: connections bound to 127.0.0.1 (port chosen by bind), held open, until bind fails.
  const backend = net.createServer((s) => s.on('error', () => {}));
  await new Promise((r) => backend.listen(8080, '127.0.0.1', r));
  const held = [];
  let failure = null;
  for (let i = 0; i < 50 && failure === null; i++) {
    failure = await new Promise((resolve) => {
      const c = net.connect({ host: '127.0.0.1', port: 8080, localAddress: '127.0.0.1' });
      c.once('connect', () => { held.push(c); resolve(null); });
      c.once('error', (err) => resolve(err.code));
    });
  }
  result.held = held.length;
  result.bindFailure = failure;
  // The ports of the reader's and the kept-alive connections (made by connect(), toward the agent)
  // can still be shared by connect() toward another destination: take them too, until connect() fails.
  const tryConnect = (port, keepIt) => new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
    c.once('connect', () => { if (keepIt) held.push(c); else c.destroy(); resolve('connected'); });
    c.once('error', (err) => resolve(err.code));
  });
  let plain = 0;
  let last = null;
  for (let i = 0; i < 50 && (last = await tryConnect(8080, true)) === 'connected'; i++) plain++;
  result.plainHeld = plain;
  result.newToBackend = last;
  const exhaustedAt = Date.now();
  result.newToAgent = await tryConnect(9464, false);

  await delay(2500);
  const after = lines.filter((l) => l.at > exhaustedAt && l.line.type === 'sample');
  result.samplesAfter = after.length;
  const scans = after.filter((l) => l.line.sample.scan);
  const lastScan = scans.at(-1)?.line.sample.scan ?? null;
  result.lastScanBackend = lastScan?.destinations.find((d) => d.dest === '127.0.0.1:8080') ?? null;
  result.lastScanEphemeral = lastScan?.ephemeralInUse ?? null;
  result.healthAfter = await health().catch((err) => ({ error: err.code ?? err.message }));
  result.streamEnded = streamEnded;
  result.streamSocketSame = streamSocket !== null && !streamSocket.destroyed;
  result.firstLine = lines[0]?.line.type;
  result.stillFailing = await tryConnect(9464, false);
  for (const c of held) c.destroy();
  finish({});
} catch (err) {
  finish({ error: String(err && err.stack || err) });
}
`;

describe('the agent while its host is out of ports', () => {
  it('a 10-port namespace run out: the open stream keeps delivering samples that show it, /health answers on a kept-alive connection; new connections fail', () => {
    const script = path.join(tmp, 'exhaustion-probe.mjs');
    writeFileSync(script, EXHAUSTION_PROBE);
    type Probe = {
      portRange: string;
      error?: string;
      stderr: string;
      streamStatus: number;
      firstLine: string;
      healthBefore: { status: number; localPort: number; body: AgentHealth };
      healthAfter: { status: number; reused: boolean; localPort: number; body: AgentHealth } | { error: string };
      samplesBefore: number;
      samplesAfter: number;
      held: number;
      plainHeld: number;
      bindFailure: string | null;
      newToBackend: string;
      newToAgent: string;
      stillFailing: string;
      lastScanBackend: { inUse: number; established: number } | null;
      lastScanEphemeral: number | null;
      streamEnded: boolean;
      streamSocketSame: boolean;
    };
    // Fails (with unshare's own words) where unprivileged user and network namespaces are not allowed.
    const r = runInNetns<Probe>(script, [MAIN, TOKEN], ['sysctl -q -w net.ipv4.ip_local_port_range="40000 40009"'], 90_000);
    assert.equal(r.error, undefined, `${r.error}\nagent: ${r.stderr}`);
    assert.equal(r.portRange, '40000\t40009', 'the namespace has its own 10-port range');
    assert.equal(r.streamStatus, 200);
    assert.equal(r.firstLine, 'hello');
    assert.equal(r.healthBefore.status, 200);
    assert.ok(r.samplesBefore > 0);
    // Two ports went to the reader and the kept-alive connection; bind() took the other 8.
    assert.equal(r.held, 8, `connections held before the range ran out: ${r.held}`);
    assert.equal(r.bindFailure, 'EADDRINUSE', 'bind() to port 0 with no port left');
    // connect() shares a port among different destinations: the two ports toward the agent took one more connection each.
    assert.equal(r.plainHeld, 2, `plain connect()s to the backend before EADDRNOTAVAIL: ${r.plainHeld}`);
    assert.equal(r.newToBackend, 'EADDRNOTAVAIL', 'connect() to the backend: out of ports');
    assert.equal(r.newToAgent, 'EADDRNOTAVAIL', 'a new connection to the agent cannot be made either');
    assert.equal(r.stillFailing, 'EADDRNOTAVAIL', 'still out of ports at the end');
    // What still works: the established stream and the kept-alive connection.
    assert.ok(r.samplesAfter >= 10, `${r.samplesAfter} samples on the open stream in 2.5 s after the ports ran out`);
    assert.equal(r.streamEnded, false);
    assert.equal(r.streamSocketSame, true);
    assert.ok(!('error' in r.healthAfter), `/health after: ${JSON.stringify(r.healthAfter)}`);
    if (!('error' in r.healthAfter)) {
      assert.equal(r.healthAfter.status, 200);
      assert.equal(r.healthAfter.reused, true, 'over the connection made before');
      assert.equal(r.healthAfter.localPort, r.healthBefore.localPort);
      assert.equal(r.healthAfter.body.readers, 1);
      assert.ok(r.healthAfter.body.lastSampleAt! > 0);
    }
    // The agent saw it happen: the backend's 10 held connections in its scans, all 10 ports in use.
    assert.ok(r.lastScanBackend && r.lastScanBackend.established >= 10, JSON.stringify({ ...r.lastScanBackend, timeWaitLeft: undefined }));
    assert.ok(r.lastScanEphemeral !== null && r.lastScanEphemeral >= 10, `ephemeral ports in use: ${r.lastScanEphemeral}`);
  });
});
