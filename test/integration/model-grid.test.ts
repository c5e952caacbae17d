/**
 * The capacity model against the kernel (issue 14, item 8). Each cell of this grid is one
 * `portstorm lab` run in its own network namespace (its own port range and tcp_tw_reuse), and checks
 *   - the kernel did what the cell's premise says (the port budget spent, or no exhaustion at all
 *     under more load than a 60 s hold could take), so a broken or starved lab is told apart from
 *     a wrong model;
 *   - the model's predicted onset (`exhaustion.predictedAtS`) against the kernel's first
 *     exhaustion-signal error (`exhaustion.firstAtS`): within 20 % or 0.5 s when ports run out,
 *     both null when they do not;
 *   - the verdict (`diagnosis[0]`) and its severity.
 *
 * Every expectation is derived from the kernel's behaviour as DOMAIN.md records it, never from
 * src/analysis:
 *   - close client, tcp_tw_reuse=0 (or 2 off loopback): a port stays unusable for TIME_WAIT, 60 s,
 *     so from empty the first connect() fails once `usable × sources` ports are spent:
 *     onset ≈ usable × sources / rate;
 *   - close client, tcp_tw_reuse=1 with timestamps on: a TIME_WAIT port is reusable after
 *     tcp_tw_reuse_delay (1 s); measured peak TIME_WAIT ≈ 1.25 s × rate. Below usable / 1.25 s the
 *     run is healthy (600 ports at 300/s: peak 375, no error); far above usable / 1 s the ports run
 *     out before any of them can be reused, at ≈ usable / rate;
 *   - close server: TIME_WAIT lands on the server's side; client ports never run out (healthy, or
 *     server-time-wait when the server's TIME_WAIT pile is large);
 *   - close reset: RST leaves no TIME_WAIT anywhere: healthy;
 *   - two source addresses (connection.localAddresses, bound round-robin): each port is exclusive
 *     to its source address, so one destination gets twice the budget: onset ≈ 2 × usable / rate
 *     (Node reports the failure as EADDRINUSE on connect, an exhaustion signal too).
 *
 * The grid is a covering design, not a full factorial (3 ranges × 5 rates × 2 × 3 × 2 would be 180
 * cells): every level of every factor appears, every close × tw_reuse pair appears, three port
 * ranges (200, 400, and 600 for the issue's own case) and five rates (100, 150, 200, 300, 400/s;
 * low, because the lab's built-in target shares two cores with the load and with other work), plus
 * one cell where the server closes first although the scenario says close: client. Each cell says
 * why it is there. Cells run four at a time (each in its own namespace), each with 2–4 s of load.
 * Measured wall time: 73–106 s on two cores shared with other work (load average 12–15), 165 s
 * beside `stress-ng --cpu 2` (with two retries).
 *
 * A cell first checks its premise (PREMISE: in a failure): that the kernel did what the cell is
 * about, from counts (connections that got a port against the budget, arrivals attempted) rather
 * than the clock. A starved target (seen beside a CPU hog: hundreds of request timeouts, ports held
 * by open connections) makes a cell test nothing; such a cell is run once more, and fails with
 * PREMISE if it still cannot be delivered. The prediction and verdict checks are never retried.
 *
 * This grid is meant to fail where the model is wrong: do not loosen an expectation to make a cell
 * pass. Each failure names the cell, predicted and observed onset, the verdict and its first line.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import type { RunRecord, VerdictId } from '../../src/record/types.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Lab addresses (src/lab/netns.ts): the client, and a second client address for two-source cells. */
const SOURCES_2 = ['198.18.0.1', '198.18.0.3'];

type Close = 'client' | 'server' | 'reset';

interface Cell {
  /** Ports in the namespace's ip_local_port_range, from 40000. */
  ports: number;
  /** New connections per second (every request opens one: reuse false). */
  rate: number;
  twReuse: 0 | 1;
  close: Close;
  sources: 1 | 2;
  /** Seconds of load. */
  durationS: number;
  /** The server closes first on its own (lab.serve: HTTP/1.0, body ended by the server's close) while the scenario says close: client. */
  serverClosesFirst?: boolean;
  /** What the kernel does: the first exhaustion error at ≈ this second, or null when ports never run out. */
  onsetS: number | null;
  /** Acceptable verdicts for diagnosis[0], with the severity each must have. */
  verdicts: Array<[VerdictId, 'critical' | 'warning' | 'info']>;
  /** Why this cell is in the grid. */
  why: string;
  /**
   * Where the kernel's answer depends on how source addresses are bound: the expectation when the
   * run used bind() with IP_BIND_ADDRESS_NO_PORT (`sourceStrategy: bind-no-port`, the port picked at
   * connect() as without bind), instead of plain bind() (`onsetS`/`verdicts`, what Node's net does).
   */
  bindNoPort?: { onsetS: number | null; verdicts: Cell['verdicts'] };
}

const exhausts: Cell['verdicts'] = [['client-port-exhaustion', 'critical']];
const healthy: Cell['verdicts'] = [['healthy', 'info']];
const serverSide: Cell['verdicts'] = [
  ['healthy', 'info'],
  ['server-time-wait', 'warning'],
];

const CELLS: Cell[] = [
  // ---- close client, tw_reuse 0: the model's home ground
  { ports: 200, rate: 100, twReuse: 0, close: 'client', sources: 1, durationS: 3, onsetS: 2.0, verdicts: exhausts,
    why: 'the base case on the small range and the low rate: 200 ports / 100/s' },
  { ports: 400, rate: 200, twReuse: 0, close: 'client', sources: 1, durationS: 3, onsetS: 2.0, verdicts: exhausts,
    why: 'range and rate both doubled: same onset, so the model scales with both, not with either alone' },
  { ports: 200, rate: 200, twReuse: 0, close: 'client', sources: 1, durationS: 2, onsetS: 1.0, verdicts: exhausts,
    why: 'rate doubled on the same range: onset halves; the one-source twin of the two-source 200/s cell' },
  // ---- close client, tw_reuse 1: a port is blocked ~1 s, not 60 s
  { ports: 600, rate: 300, twReuse: 1, close: 'client', sources: 1, durationS: 3, onsetS: null, verdicts: healthy,
    why: "the issue's case as measured: 300/s × ~1.25 s ≈ 375 ports held of 600; a 60 s hold would fail at 2.0 s" },
  { ports: 200, rate: 100, twReuse: 1, close: 'client', sources: 1, durationS: 3, onsetS: null, verdicts: healthy,
    why: 'tw_reuse 1 on the small range: ≈ 125 of 200 held; the twin of the first tw_reuse 0 cell' },
  { ports: 200, rate: 400, twReuse: 1, close: 'client', sources: 1, durationS: 2, onsetS: 0.5, verdicts: exhausts,
    why: 'tw_reuse 1 does not save a rate far above usable / 1 s: the ports run out before any can be reused (guards a model that treats tw_reuse as "never exhausts")' },
  // ---- close server: TIME_WAIT on the server, client ports safe
  { ports: 200, rate: 100, twReuse: 0, close: 'server', sources: 1, durationS: 3, onsetS: null, verdicts: serverSide,
    why: 'server closes first with tw_reuse 0: the client-close twin exhausts at 2.0 s' },
  { ports: 400, rate: 200, twReuse: 1, close: 'server', sources: 1, durationS: 3, onsetS: null, verdicts: serverSide,
    why: 'server closes first with tw_reuse 1 (the close server × tw_reuse 1 pair)' },
  { ports: 200, rate: 100, twReuse: 0, close: 'client', sources: 1, durationS: 3, serverClosesFirst: true, onsetS: null, verdicts: serverSide,
    why: 'the scenario says close: client but the server (lab.serve, HTTP/1.0 with the body ended by its close) always closes first: who holds TIME_WAIT must be observed, not assumed. (A server that sends Connection: close and a Content-Length races the client: measured, the client still closed first on ~1/3 of the connections)' },
  // ---- close reset: no TIME_WAIT at all
  { ports: 400, rate: 200, twReuse: 0, close: 'reset', sources: 1, durationS: 3, onsetS: null, verdicts: healthy,
    why: 'RST close with tw_reuse 0: its client-close twin exhausts at 2.0 s' },
  { ports: 200, rate: 100, twReuse: 1, close: 'reset', sources: 1, durationS: 3, onsetS: null, verdicts: healthy,
    why: 'RST close with tw_reuse 1 (the close reset × tw_reuse 1 pair)' },
  // ---- two source addresses: twice the budget toward one destination
  { ports: 200, rate: 200, twReuse: 0, close: 'client', sources: 2, durationS: 3, onsetS: 2.0, verdicts: exhausts,
    why: 'two sources double the one-source 200/s cell: onset 1.0 s → 2.0 s' },
  { ports: 200, rate: 150, twReuse: 0, close: 'client', sources: 2, durationS: 4, onsetS: 2.67, verdicts: exhausts,
    why: 'two sources at a second rate, so the doubling is not a coincidence of one rate' },
  { ports: 200, rate: 200, twReuse: 1, close: 'client', sources: 2, durationS: 3, onsetS: 2.0, verdicts: exhausts,
    bindNoPort: { onsetS: null, verdicts: healthy },
    why: 'two sources × tw_reuse 1: bind(port 0) never picks a port a TIME_WAIT socket holds (measured with 300 ports at 300/s: exactly 600 succeeded, then EADDRINUSE), so tw_reuse helps only when the port is picked at connect() (IP_BIND_ADDRESS_NO_PORT: ≈ 250 of 400 held, healthy)' },
  { ports: 200, rate: 200, twReuse: 0, close: 'reset', sources: 2, durationS: 3, onsetS: null, verdicts: healthy,
    why: 'two sources with RST close: bound ports are freed at once too (no TIME_WAIT to hold them)' },
];

function cellName(c: Cell): string {
  const close = c.serverClosesFirst ? 'close client but the server closes first' : `close ${c.close}`;
  const head = `range ${c.ports}, ${c.rate}/s, tw_reuse ${c.twReuse}, ${close}, ${c.sources} source${c.sources === 1 ? '' : 's'}`;
  const outcome = (onsetS: number | null, verdicts: Cell['verdicts']) =>
    onsetS === null ? `no exhaustion in ${c.durationS} s, ${verdicts.map(([v]) => v).join(' or ')}` : `exhausts at ≈ ${onsetS.toFixed(1)} s`;
  if (!c.bindNoPort) return `${head} → ${outcome(c.onsetS, c.verdicts)}`;
  return `${head} → with bind() ${outcome(c.onsetS, c.verdicts)}; with IP_BIND_ADDRESS_NO_PORT ${outcome(c.bindNoPort.onsetS, c.bindNoPort.verdicts)}`;
}

/** The server for serverClosesFirst cells (HTTP/1.0, body delimited by its close: it always closes first). */
const CLOSE_FIRST_SERVER = fileURLToPath(new URL('../fixtures/close-first-server.js', import.meta.url));

/**
 * At most this many exchanges in flight per cell (later arrivals are dropped; the premise checks
 * that enough went out). The cells are about ports held in TIME_WAIT; without a bound, a target
 * starved of CPU (measured beside `stress-ng --cpu 2`: up to 460 connections open at 300/s, and
 * hundreds of 2 s request timeouts) holds ports in open connections instead, and a cell runs out of
 * ports for a reason it is not about (seen: RST-close and close-server cells with EADDRNOTAVAIL).
 * Where ports must recycle (tw_reuse 1, healthy) the bound keeps TIME_WAIT (≈ 1.25 s × rate) plus
 * open connections below the range (375 + 100 < 600, 125 + 33 < 200); in other cells that expect
 * no exhaustion, half the budget; none where ports run out anyway.
 * (The native engine counts arrivals handed over 50 ms early as in flight too.)
 */
function maxInFlight(c: Cell): number | null {
  const budget = c.ports * c.sources;
  if (c.bindNoPort) return Math.floor((budget - 1.25 * c.rate) / 2.25);
  // Where ports run out anyway, open connections only spend the same budget sooner: no bound, so
  // that a stall does not drop the arrivals the cell needs to spend it.
  if (c.onsetS !== null) return null;
  return c.twReuse === 1 && c.close === 'client' ? Math.floor((budget - 1.25 * c.rate) / 2.25) : Math.floor(budget / 2);
}

function scenarioYaml(c: Cell): string {
  const conn = [`reuse: false`, `close: ${c.close}`];
  if (c.sources === 2) conn.push(`localAddresses: [${SOURCES_2.join(', ')}]`);
  const lines = [
    'name: model-grid',
    `connection: { ${conn.join(', ')} }`,
    `load: [{ model: arrival-rate, rate: ${c.rate}, duration: ${c.durationS}s${maxInFlight(c) === null ? '' : `, maxInFlight: ${maxInFlight(c)}`} }]`,
    'timeouts: { connect: 1s, request: 2s }',
    'workers: 1',
  ];
  if (c.serverClosesFirst) lines.push('lab:', '  serve:', `    command: ${JSON.stringify(`node ${CLOSE_FIRST_SERVER}`)}`, '    port: 3000');
  return lines.join('\n') + '\n';
}

/** Runs one cell's lab; resolves with its run record. Bounded: killed after 90 s. */
function runCell(c: Cell, dir: string): Promise<RunRecord> {
  const file = path.join(dir, 'scenario.yaml');
  writeFileSync(file, scenarioYaml(c));
  const args = [CLI, 'lab', file, '--port-range', `40000-${40000 + c.ports - 1}`, '--sysctl', `net.ipv4.tcp_tw_reuse=${c.twReuse}`, '--quiet', '--out', dir];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const run = readdirSync(dir).find((f) => existsSync(path.join(dir, f, 'run.json')));
      if (code !== 0 || !run) return reject(new Error(`lab exited ${code ?? signal} without a usable record: ${stderr.trim()}`));
      resolve(JSON.parse(readFileSync(path.join(dir, run, 'run.json'), 'utf8')) as RunRecord);
    });
  });
}

/** Within 20 % of `truth` or 0.5 s, whichever is wider. */
function close(a: number, truth: number): boolean {
  return Math.abs(a - truth) <= Math.max(0.2 * truth, 0.5);
}

const s = (x: number | null | undefined): string => (x == null ? 'null' : `${x.toFixed(2)} s`);

interface Row {
  cell: string;
  /** The kernel-derived onset this cell expects (for the record's source strategy). */
  expected: number | null;
  predicted: number | null;
  observed: number | null;
  verdict: string;
  pass: boolean;
  problems: string[];
  /** Why the first try did not count, when the cell was run twice. */
  retried?: string;
}
const rows: Row[] = [];

/** One cell's outcome: its problems (PREMISE: the lab did not do what the cell is about) and the failure text. */
interface Outcome {
  row: Row;
  message: string;
  dir: string;
}

/** Runs one cell and checks it; never throws for a check, only for a lab that wrote no record. */
async function check(c: Cell, name: string): Promise<Outcome> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-grid-'));
  const rec = await runCell(c, dir);
  const ex = rec.exhaustion!;
  const top = rec.diagnosis?.[0];
  const verdict = top ? `${top.verdict} (${top.severity}, ${top.confidence.toFixed(2)})` : 'none';
  const predicted = ex?.predictedAtS ?? null;
  const observed = ex?.firstAtS ?? null;
  const problems: string[] = [];
  // Today's engine binds with plain bind() (Node's net cannot set IP_BIND_ADDRESS_NO_PORT); a
  // record that says otherwise gets that strategy's expectation.
  const strategy = rec.sourceStrategy ?? (c.sources === 2 ? 'bind' : 'kernel');
  const want = strategy === 'bind-no-port' && c.bindNoPort ? c.bindNoPort : { onsetS: c.onsetS, verdicts: c.verdicts };

  // 1. The premise: the lab and the kernel did what this cell is about (else the cell says
  //    nothing about the model: a lab or load problem).
  if (rec.status !== 'completed') problems.push(`PREMISE: the run ended ${rec.status}`);
  if (rec.host.tcpTwReuse !== c.twReuse) problems.push(`PREMISE: the namespace's tcp_tw_reuse is ${rec.host.tcpTwReuse}`);
  if (c.twReuse === 1 && rec.host.tcpTimestamps !== 1) problems.push(`PREMISE: tcp_timestamps is ${rec.host.tcpTimestamps}; tw_reuse needs them`);
  // The kernel's side of the cell, told from counts rather than from the clock (a starved load
  // generator delivers the rate late or drops arrivals; the kernel's port budget does not move):
  //  - ports run out: with a 60 s hold (tw_reuse 0, or plain bind()) the connections that got a
  //    port are the budget (usable × sources; a few TIME_WAIT sockets die early, so -10 %
  //    .. +15 %); with tw_reuse 1 the first failure comes before any port is 1 s old; when
  //    every arrival went out (none dropped), also at ≈ the nominal onset;
  //  - ports do not run out: no exhaustion error, at most 1 % failed otherwise, and more
  //    connections attempted than the budget, where a 60 s hold would have failed (else
  //    "healthy" proves nothing).
  const offered = Math.round(c.rate * c.durationS);
  const budget = c.ports * c.sources;
  const reusable = c.twReuse === 1 && strategy !== 'bind';
  const { completed, attempted, dropped, failed, connectionsOpened } = rec.totals;
  const load =
    `${attempted} of ${offered} arrivals attempted, ${dropped} dropped at maxInFlight ${maxInFlight(c) ?? 'default'}, ` +
    `${connectionsOpened} connected, ${completed} completed, errors ${JSON.stringify(rec.errors)}`;
  if (want.onsetS === null) {
    if (observed !== null) problems.push(`PREMISE: ports ran out at ${s(observed)} though the cell expects they do not (${load})`);
    if (attempted <= budget) problems.push(`PREMISE: too little load went out to tell (${load}; needs more than ${budget})`);
    if (failed > 0.01 * attempted) problems.push(`PREMISE: ${failed} requests failed (a starved target?) (${load})`);
  } else if (observed === null) {
    problems.push(`PREMISE: ports never ran out though the cell expects it at ≈ ${s(want.onsetS)} (${load})`);
  } else {
    if (reusable && observed >= 1) problems.push(`PREMISE: with tw_reuse 1 the first failure should come before ports can be reused (1 s), it came at ${s(observed)} (${load})`);
    if (!reusable && (connectionsOpened < 0.9 * budget || connectionsOpened > 1.15 * budget)) {
      problems.push(`PREMISE: ${connectionsOpened} connections got a port, not ≈ the budget of ${budget} (${load})`);
    }
    if (dropped === 0 && !close(observed, want.onsetS)) problems.push(`PREMISE: every arrival went out but ports ran out at ${s(observed)}, not ≈ ${s(want.onsetS)} (${load})`);
  }

  // 2. The model's onset against the kernel's.
  if (want.onsetS === null) {
    if (predicted !== null) problems.push(`predicted onset ${s(predicted)} but ports never ran out (expected null)`);
  } else if (predicted === null) {
    problems.push(`predicted no exhaustion but the kernel failed at ${s(observed)}`);
  } else if (!close(predicted, observed!)) {
    problems.push(`predicted ${s(predicted)} is not within 20 % or 0.5 s of observed ${s(observed)}`);
  }

  // 3. The verdict.
  const ok = top && want.verdicts.some(([v, sev]) => v === top.verdict && sev === top.severity);
  if (!ok) problems.push(`verdict ${verdict}, expected ${want.verdicts.map(([v, sev]) => `${v} (${sev})`).join(' or ')}`);

  const peak = (pick: (x: NonNullable<RunRecord['timeline'][number]['sockets']>) => number | null | undefined) =>
    Math.max(0, ...rec.timeline.map((e) => (e.sockets ? pick(e.sockets) ?? 0 : 0)));
  const tw = `TIME_WAIT peak ${peak((x) => x.timeWait)}, of it on the server side ${peak((x) => x.serverTimeWait)}`;
  const row: Row = { cell: name, expected: want.onsetS, predicted, observed, verdict, pass: problems.length === 0, problems };
  const message =
    `${name}\n  why this cell: ${c.why}\n  kernel onset expected ${s(want.onsetS)} (source strategy ${strategy}), predicted ${s(predicted)}, observed ${s(observed)}; ${tw}\n  verdict ${verdict}: "${top?.evidence[0] ?? ''}"\n  ` +
    `${problems.join('\n  ')}\n  record: ${dir}`;
  if (problems.length === 0) rmSync(dir, { recursive: true, force: true });
  return { row, message, dir };
}

describe('capacity model against the kernel: lab grid (port range × rate × tw_reuse × close × sources)', { concurrency: 4 }, () => {
  after(() => {
    const lines = ['', 'model grid: cell | expected onset | predicted | observed | verdict | result'];
    for (const r of rows) lines.push(`  ${r.cell} | ${s(r.expected)} | ${s(r.predicted)} | ${s(r.observed)} | ${r.verdict} | ${r.pass ? 'pass' : `FAIL: ${r.problems.join('; ')}`}${r.retried ? ` (second try; first: ${r.retried})` : ''}`);
    process.stderr.write(lines.join('\n') + '\n');
  });

  for (const c of CELLS) {
    const name = cellName(c);
    it(name, { timeout: 240_000 }, async () => {
      // A cell whose premise failed tested nothing (the lab could not deliver, e.g. a target starved
      // of CPU): run it once more. A wrong prediction or verdict is never retried.
      let out = await check(c, name);
      if (out.row.problems.some((p) => p.startsWith('PREMISE'))) {
        const first = out.row.problems.filter((p) => p.startsWith('PREMISE')).join('; ');
        out = await check(c, name);
        out.row.retried = first;
      }
      rows.push(out.row);
      assert.deepEqual(out.row.problems, [], out.message + (out.row.retried ? `\n  (second try; the first failed its premise: ${out.row.retried})` : ''));
    });
  }
});
