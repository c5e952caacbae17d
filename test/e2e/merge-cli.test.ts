/**
 * `portstorm merge`: three shard records (a real exhaustion run's record, as three shards starting
 * 0, 0.4 and 1.2 s apart) merged into run.json and report.html; `report` and `compare` on the
 * merged record; a shard of another portstorm version refused in one line, exit 2.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/records/exhaustion.json', import.meta.url));

function cli(args: string[], cwd: string) {
  return spawnSync(process.execPath, [MAIN, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
}

test('merge of 3 shards: run.json and report.html, report and compare on it; bad input exits 2 in one line', (t) => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-merge-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const base = JSON.parse(readFileSync(FIXTURE, 'utf8'));
  const start = Date.parse('2026-12-08T10:00:00.000Z');
  const files = [0, 400, 1200].map((late, index) => {
    const at = new Date(start + late).toISOString();
    const r = { ...base, runId: `${base.runId}-s${index}`, startedAt: at, loadStartedAt: at, shard: { index, count: 3, startAt: new Date(start).toISOString(), lateMs: late, split: `arrivals k ≡ ${index} (mod 3)` } };
    const file = path.join(tmp, `shard-${index}.json`);
    writeFileSync(file, JSON.stringify(r));
    return file;
  });
  const out = path.join(tmp, 'results');
  const m = cli(['merge', ...files, '--out', out, '--label', 'fleet'], tmp);
  // The scenario's thresholds are judged on the merged record: EADDRNOTAVAIL == 0 fails, exit 1.
  assert.equal(m.status, 1, m.stderr);
  assert.match(m.stdout, new RegExp(`threshold FAIL +errors\\.EADDRNOTAVAIL == 0 \\(actual ${3 * base.errors.EADDRNOTAVAIL}\\)`));
  assert.match(m.stdout, /^ {2}shards {17}3 of 3 shards merged; load starts 1200 ms apart$/m);
  assert.match(m.stdout, /requests +15 000 attempted/);
  assert.doesNotMatch(m.stdout, /client \(client\) from local/);
  assert.equal(3 * base.totals.attempted, 15_000);
  const [runId] = readdirSync(out);
  const dir = path.join(out, runId!);
  assert.deepEqual(readdirSync(dir).sort(), ['report.html', 'run.json']);
  const merged = JSON.parse(readFileSync(path.join(dir, 'run.json'), 'utf8'));
  assert.equal(merged.source, 'merge');
  assert.equal(merged.label, 'fleet');
  assert.equal(merged.totals.attempted, 3 * base.totals.attempted);
  assert.deepEqual(Object.keys(merged.hosts), ['shard-0', 'shard-1', 'shard-2']);
  assert.equal(merged.timeline.length, base.timeline.length + 1);
  const v = merged.diagnosis.find((d: { verdict: string }) => d.verdict === 'client-port-exhaustion');
  assert.match(v.evidence[0], /^On 3 of 3 shards: shard-0 from 6\.0 s, shard-1 from 6\.0 s, shard-2 from 7\.0 s\./);
  assert.match(readFileSync(path.join(dir, 'report.html'), 'utf8'), /3 of 3 shards merged/);

  const text = cli(['report', dir], tmp);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /verdict +client-port-exhaustion on shard-0/);
  const md = cli(['report', dir, '--format', 'md'], tmp);
  assert.equal(md.status, 0, md.stderr);
  assert.match(md.stdout, /\*\*Shards\*\* 3 of 3 shards merged/);

  // compare: one shard against the fleet, and the fleet against itself.
  const c = cli(['compare', files[0]!, dir], tmp);
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stdout, /completed/);
  const self = cli(['compare', dir, dir, '--format', 'json'], tmp);
  assert.equal(self.status, 0, self.stderr);
  assert.doesNotThrow(() => JSON.parse(self.stdout));

  const other = JSON.parse(readFileSync(files[2]!, 'utf8'));
  writeFileSync(files[2]!, JSON.stringify({ ...other, portstormVersion: '9.9.9' }));
  const bad = cli(['merge', ...files, '--out', out], tmp);
  assert.equal(bad.status, 2, bad.stderr);
  assert.equal(bad.stderr, `portstorm: ${files[2]}: made by portstorm 9.9.9, ${files[0]} by ${base.portstormVersion}: merge shards of one portstorm version\n`);
  assert.equal(readdirSync(out).length, 1, 'a refused merge writes nothing');
});
