/**
 * `node build/bench/soak.js [--minutes 10]`: a long mixed scenario in `portstorm lab` with repeated
 * port exhaustion and recovery. In a 1 000-port namespace, every 70 s a 10 s burst of 250 new
 * connections/s (client closes first) runs the range out after ~4 s; the following 60 s of TIME_WAIT
 * let it recover, while 20 keep-alive-free users with think time keep a steady background load.
 * Samples the lab process's RSS every 5 s and checks the record at the end: complete, every burst's
 * exhaustion seen and every recovery seen. Not part of the test suite; figures go in BENCHMARKS.md.
 * Traffic stays inside the namespace the lab makes (198.18.0.0/15).
 */
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { RunRecord } from '../src/record/types.js';
import { rssKb, slopeMbPerMin } from './peers.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const CYCLE_S = 70;
const BURST_S = 10;

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' } } });
const minutes = Number(values.minutes);
if (!Number.isInteger(minutes) || minutes < 2 || minutes > 120) {
  console.error(`soak: --minutes: expected a whole number from 2 to 120, got ${values.minutes}`);
  process.exit(2);
}
const durationS = minutes * 60;
const cycles = Math.floor(durationS / CYCLE_S);
const bursts = Array.from({ length: cycles }, (_, i) => ({ model: 'arrival-rate', rate: 250, duration: BURST_S, startAfter: i * CYCLE_S }));
const scenario = {
  name: 'soak',
  connection: { reuse: false, close: 'client' },
  load: [...bursts, { model: 'users', users: 20, duration: durationS, thinkTime: 2 }],
  timeouts: { connect: 1, request: 2 },
  limits: { maxDuration: durationS + 60 },
  lab: { portRange: '40000-40999' },
};
const dir = await mkdtemp(path.join(os.tmpdir(), 'portstorm-soak-'));
const file = path.join(dir, 'soak.json');
await writeFile(file, JSON.stringify(scenario));
console.log(`soak: ${minutes} min, ${cycles} bursts of 250/s for ${BURST_S} s every ${CYCLE_S} s, 20 background users; 1 000 ports`);
const started = Date.now();
const child = spawn(process.execPath, [CLI, 'lab', file, '--json', '--quiet', '--out', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
// Ctrl-C or a kill of the soak stops the lab run too (which then writes its partial record).
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => child.kill(sig));
let stdout = '';
child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
const samples: Array<[number, number]> = [];
let innerPid: number | null = null;
const sampler = setInterval(async () => {
  if (innerPid === null) {
    const pidFile = (await readdir(dir).catch(() => [])).find((n) => /^\.lab-.*\.pid$/.test(n));
    if (pidFile) innerPid = Number(readFileSync(path.join(dir, pidFile), 'utf8').trim()) || null;
  }
  const kb = innerPid === null ? null : rssKb(innerPid);
  if (kb !== null) samples.push([Math.round((Date.now() - started) / 1000), kb]);
  if (samples.length > 0 && samples.length % 12 === 0) console.log(`soak: ${samples.at(-1)![0]} s, RSS ${(kb! / 1024).toFixed(1)} MB`);
}, 5000);
const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
clearInterval(sampler);
const record = JSON.parse(stdout.trim().split('\n').pop() ?? 'null') as RunRecord | null;
const runs = (await readdir(dir)).filter((d) => d !== 'soak.json' && !d.startsWith('.'));
const runJson = runs.length ? path.join(dir, runs[0]!, 'run.json') : null;

// A burst "exhausts" when its seconds hold EADDRNOTAVAIL; the range "recovered" when the seconds
// before the next burst complete requests (the background users) without any.
let exhausted = 0;
let recovered = 0;
for (let c = 0; c < cycles && record; c++) {
  const at = (t: number) => record.timeline.find((e) => e.t === t);
  const burst = Array.from({ length: BURST_S }, (_, i) => at(c * CYCLE_S + i));
  if (burst.some((e) => (e?.errors.EADDRNOTAVAIL ?? 0) > 0)) exhausted++;
  const quiet = Array.from({ length: 5 }, (_, i) => at((c + 1) * CYCLE_S - 5 + i));
  const clean = quiet.every((e) => e && Object.keys(e.errors).length === 0);
  if (clean && quiet.reduce((n, e) => n + (e?.completed ?? 0), 0) > 0) recovered++;
  else console.log(`soak: cycle ${c}: no clean recovery in ${quiet.map((e) => `${e?.t}s ${e?.completed} ok ${JSON.stringify(e?.errors)}`).join('; ')}`);
}
const at = (s: number) => samples.find(([t]) => t >= s)?.[1] ?? null;
const m1 = at(60);
const last = samples.at(-1)?.[1] ?? null;
const mb = (kb: number | null) => (kb === null ? null : Math.round(kb / 102.4) / 10);
const result = {
  minutes,
  exit: code,
  status: record?.status ?? null,
  requests: record?.totals ?? null,
  errors: record?.errors ?? null,
  bursts: cycles,
  burstsExhausted: exhausted,
  recoveries: recovered,
  verdicts: record?.diagnosis?.map((d) => d.verdict) ?? null,
  rssMb: {
    minute1: mb(m1),
    end: mb(last),
    growth: m1 !== null && last !== null ? mb(last - m1) : null,
    peak: samples.length ? mb(Math.max(...samples.map(([, kb]) => kb))) : null,
    // A leak keeps climbing; warm-up levels off. The slope over the second half tells them apart.
    secondHalfSlopePerMin: slopeMbPerMin(samples.filter(([t]) => t >= durationS / 2)),
  },
  runJsonBytes: runJson ? statSync(runJson).size : null,
  timelineSeconds: record?.timeline.length ?? null,
};
console.log(JSON.stringify(result, null, 1));
await rm(dir, { recursive: true, force: true });
await delay(10);
process.exit(code === 0 || code === 1 ? 0 : 1);
