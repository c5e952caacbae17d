/**
 * Safety caps: a run stops at limits.maxRequests and at limits.maxDuration (in-flight requests get
 * a short grace, then are aborted) and its record says which cap cut it; and the remote-target
 * guard refuses a non-local target without a single connection reaching it. All traffic stays on
 * 127.0.0.1 or inside a private network namespace.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CAP_GRACE_MS } from '../../src/load/generator.js';
import type { RunRecord } from '../../src/record/types.js';
import { runScenario } from '../../src/run.js';
import { parseScenario } from '../../src/scenario/load.js';
import { silentServer } from '../helpers/servers.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-caps-'));

async function run(doc: Record<string, unknown>): Promise<RunRecord> {
  const scenario = parseScenario({ name: 'caps', monitor: { enabled: false }, ...doc }, 'test');
  return (await runScenario({ scenario, resultsDir: tmp })).record;
}

describe('safety caps', () => {
  it('maxRequests: exactly that many requests over several workers, and the record says so', async () => {
    const open = await run({ workers: 3, limits: { maxRequests: 100 }, load: [{ model: 'arrival-rate', rate: 500, duration: 2 }] });
    assert.equal(open.totals.attempted, 100);
    assert.equal(open.totals.completed, 100);
    // The schedule holds 1 000 arrivals over 2 s; stopping at the cap ends the run well before
    // its 2 s whatever the machine's load (the 100th arrival is due at 0.2 s).
    assert.ok(open.durationS < 2, `durationS ${open.durationS}`);
    assert.deepEqual(open.limitsReached, ['maxRequests']);
    const closed = await run({ workers: 3, limits: { maxRequests: 10 }, load: [{ model: 'users', users: 5, iterations: 100 }] });
    assert.equal(closed.totals.attempted, 10);
    assert.deepEqual(closed.limitsReached, ['maxRequests']);
    const under = await run({ workers: 3, limits: { maxRequests: 100 }, load: [{ model: 'users', users: 3, iterations: 10 }] });
    assert.equal(under.totals.attempted, 30);
    assert.deepEqual(under.limitsReached, []);
  });

  it('maxDuration: no request starts after it, and the record says so', async () => {
    const r = await run({ workers: 2, limits: { maxDuration: 1.5 }, load: [{ model: 'arrival-rate', rate: 200, duration: 10 }] });
    // The end is bounded by the cap plus the grace for in-flight requests (the run would
    // otherwise last 10 s); a busy machine may finish the last exchanges late, never start more.
    assert.ok(r.durationS >= 1.5 && r.durationS < 1.5 + CAP_GRACE_MS / 1000, `durationS ${r.durationS}`);
    // 300 arrivals are due before the cap; a starved generator may start fewer, never more.
    assert.ok(r.totals.attempted >= 150 && r.totals.attempted <= 300, `attempted ${r.totals.attempted}`);
    assert.equal(r.totals.failed, 0);
    // `attempted` counts by intended start, so this is exact: nothing was due at or after 2 s.
    assert.ok(r.timeline.every((e) => e.t < 2 || e.attempted === 0), r.timeline.map((e) => `${e.t}:${e.attempted}`).join(','));
    assert.deepEqual(r.limitsReached, ['maxDuration']);
  });

  for (const reuse of [false, true]) {
    it(`maxDuration is hard: requests still in flight are aborted after the grace (reuse ${reuse})`, async () => {
      const server = await silentServer();
      after(() => server.close());
      const r = await run({
        workers: 1,
        target: server.url.replace('tcp:', 'http:'),
        connection: { reuse, poolSize: 5 },
        timeouts: { request: '20s' },
        limits: { maxDuration: 1 },
        load: [{ model: 'arrival-rate', rate: 20, duration: 10 }],
      });
      // Without the cap's abort the run would wait 20 s for the request timeout; the 5 s of slack
      // cover a starved machine and still tell the two apart.
      const bound = 1 + CAP_GRACE_MS / 1000;
      assert.ok(r.durationS >= bound - 0.1 && r.durationS < bound + 5, `durationS ${r.durationS}`);
      assert.equal(r.totals.attempted, 20);
      assert.deepEqual(r.errors, { ABORTED: 20 }, JSON.stringify(r.errorsByPhase));
      assert.deepEqual(r.limitsReached, ['maxDuration']);
    });
  }

  it('the remote-target guard refuses a non-local target before any connection reaches it', () => {
    // In a private network namespace, 203.0.113.7 (TEST-NET-3, not loopback or private to the
    // guard) is put on lo with a listener counting connections; the same run with --allow-remote
    // shows the listener would have seen them.
    const scenario = path.join(tmp, 'remote.yaml');
    writeFileSync(scenario, 'target: http://203.0.113.7:8080/\nmonitor: { enabled: false }\nload: [{ model: users, users: 1, iterations: 3 }]\n');
    const script = `
      import net from 'node:net';
      import { spawn } from 'node:child_process';
      let accepted = 0;
      const server = net.createServer((s) => { accepted++; s.destroy(); });
      await new Promise((r) => server.listen(8080, '203.0.113.7', r));
      const cli = (extra) => new Promise((resolve) => {
        const c = spawn(process.execPath, [${JSON.stringify(MAIN)}, 'run', ${JSON.stringify(scenario)}, '--quiet', '--out', ${JSON.stringify(path.join(tmp, 'remote'))}, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        c.stderr.on('data', (d) => (stderr += d));
        c.on('exit', (code) => resolve({ code, stderr }));
      });
      const refused = await cli([]);
      const acceptedWhenRefused = accepted;
      const allowed = await cli(['--allow-remote']);
      process.stdout.write(JSON.stringify({ refused, acceptedWhenRefused, allowed, acceptedWhenAllowed: accepted - acceptedWhenRefused }));
      process.exit(0);
    `;
    const shell = 'ip link set lo up && ip addr add 203.0.113.7/32 dev lo && exec "$0" --input-type=module -e "$1"';
    const r = spawnSync('unshare', ['-rn', 'sh', '-c', shell, process.execPath, script], { encoding: 'utf8', timeout: 50_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      refused: { code: number; stderr: string };
      acceptedWhenRefused: number;
      allowed: { code: number; stderr: string };
      acceptedWhenAllowed: number;
    };
    assert.equal(out.refused.code, 2, out.refused.stderr);
    assert.match(out.refused.stderr, /not a loopback or private address/);
    assert.equal(out.acceptedWhenRefused, 0, 'no connection reached the target');
    assert.equal(out.allowed.code, 0, out.allowed.stderr);
    assert.equal(out.acceptedWhenAllowed, 3, 'with --allow-remote the same run connects');
  });
});
