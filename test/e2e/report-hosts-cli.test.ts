/**
 * `portstorm report` and `portstorm compare` of a schema 2 record with a client and a service
 * (test/fixtures/records/hosts-report.json), spawned as a user runs them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const FIX = fileURLToPath(new URL('../../../test/fixtures/records/', import.meta.url));

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('report and compare with hosts (CLI)', () => {
  it('report: the hosts block and verdicts that name their host', () => {
    const r = cli(['report', `${FIX}hosts-report.json`]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^ {2}hosts {18}client \(client\) from local$/m);
    assert.match(r.stdout, /^ {25}service \(service\) from agent http:\/\/198\.18\.1\.2:9464, clock \+4\.2 ms ± 0\.3 ms/m);
    assert.match(r.stdout, /^ {27}peak 100 % of 500 ports toward 198\.18\.2\.2:8080; peak TIME_WAIT 500 client side, 600 server side$/m);
    assert.match(r.stdout, /^ {2}verdict {16}server-time-wait on service \(info/m);
  });

  it('report --format md: the hosts table', () => {
    const r = cli(['report', `${FIX}hosts-report.json`, '--format', 'md']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^## Hosts$/m);
    assert.match(r.stdout, /^\| `service` \| service \| agent http:\/\/198\.18\.1\.2:9464 \|/m);
  });

  it('compare with a run of the client alone: the service is listed as candidate only', () => {
    const r = cli(['compare', `${FIX}healthy.json`, `${FIX}hosts-report.json`]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /hosts, matched by name/);
    assert.match(r.stdout, /^ {4}service +candidate only +– → 100 % +– → 500 +– → 600 +– → 198\.18\.2\.2:8080$/m);
  });
});
