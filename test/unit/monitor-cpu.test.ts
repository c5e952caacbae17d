/** CPU per second: /proc/stat parsed, cumulative readings folded into cores per run second, the sampler reading both. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { cpuPerSecond, peakCpu } from '../../src/monitor/cpu-fold.js';
import { foldMonitor } from '../../src/monitor/fold.js';
import { parseProcStat } from '../../src/monitor/linux.js';
import { Sampler } from '../../src/monitor/sampler.js';
import type { CpuReading, MonitorSample } from '../../src/monitor/types.js';

const START = 2_000_000;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ps-cpu-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A /proc/stat of a 2-CPU machine with `busy` and `idle` ticks in all. */
function procStat(busy: number, idle: number): string {
  const half = (n: number) => Math.floor(n / 2);
  return [
    `cpu  ${busy - 30} 0 20 ${idle - 5} 5 4 6 0 7 0`,
    `cpu0 ${half(busy - 30)} 0 10 ${half(idle - 5)} 2 2 3 0 3 0`,
    `cpu1 ${busy - 30 - half(busy - 30)} 0 10 ${idle - 5 - half(idle - 5)} 3 2 3 0 4 0`,
    'intr 12345 0 0 0',
    'ctxt 99999',
    'btime 1764000000',
    'processes 4242',
    'procs_running 3',
    'procs_blocked 0',
    '',
  ].join('\n');
}

function sample(at: number, cpu: CpuReading | null | undefined): MonitorSample {
  return { at, lateMs: 0, sockstat: null, scan: null, counters: null, conntrack: null, fds: null, ...(cpu === undefined ? {} : { cpu }) };
}

/** Readings every 250 ms from 500 ms before the start: the process at `cores` a second, the host busy at `hostShare` of 2 CPUs (host read once a second). */
function steady(seconds: number, cores: number, hostShare: number | null): MonitorSample[] {
  const out: MonitorSample[] = [];
  for (let ms = -500; ms <= seconds * 1000 + 250; ms += 250) {
    const elapsed = (ms + 500) / 1000;
    const ticks = elapsed * 200; // 2 CPUs at 100 ticks/s
    const host = hostShare === null || ms % 1000 !== 0 ? null : { busy: ticks * hostShare, total: ticks, cpus: 2 };
    out.push(sample(START + ms, { processUs: elapsed * cores * 1e6, host }));
  }
  return out;
}

describe('parseProcStat', () => {
  it('reads busy and total ticks from the cpu line, and the CPUs online', () => {
    const s = parseProcStat(procStat(1000, 3000))!;
    // busy = user + nice + system + irq + softirq + steal; idle + iowait is not busy; guest is in user already.
    assert.deepEqual(s, { busy: 970 + 20 + 4 + 6, total: 970 + 20 + 4 + 6 + 2995 + 5, cpus: 2 });
    assert.equal(parseProcStat('intr 1 2 3\n'), null);
    assert.equal(parseProcStat('cpu  a b c d\n'), null);
  });
});

describe('cpuPerSecond', () => {
  it('cores per second from cumulative readings: the process every sample, the host once a second', () => {
    const m = cpuPerSecond(steady(4, 1.5, 0.8), START, 4)!;
    assert.deepEqual([...m.keys()], [0, 1, 2, 3]);
    for (const c of m.values()) assert.deepEqual(c, { process: 1.5, host: 1.6 });
    assert.deepEqual(peakCpu(m), { process: 1.5, host: 1.6 });
  });

  it('the last, partial second covers only its part', () => {
    const m = cpuPerSecond(steady(3, 0.5, null), START, 2.5)!;
    assert.deepEqual([...m.keys()], [0, 1, 2]);
    assert.equal(m.get(2)!.process, 0.5);
    assert.equal(m.get(2)!.host, null, 'an unreadable host figure is null, not zero');
  });

  it('null across a gap of readings, and outside them; none at all without readings', () => {
    const samples = steady(6, 1, 0.5).filter((s) => s.at <= START + 1000 || s.at > START + 4600);
    const m = cpuPerSecond(samples, START, 6)!;
    assert.equal(m.get(0)!.process, 1);
    assert.equal(m.get(2)!.process, null);
    assert.equal(m.get(5)!.process, 1);
    assert.equal(cpuPerSecond([sample(START, undefined), sample(START + 1000, null)], START, 2), null);
  });

  it('the fold puts cpu on every second and the peak in monitor; without readings neither', () => {
    const status = { source: null, unavailable: {}, effectiveScanIntervalMs: 1000 };
    const opts = { startEpochMs: START, durationS: 3, intervalS: 0.25, scanIntervalS: 1, usable: 1000 };
    const f = foldMonitor(steady(3, 0.75, 0.5), status, opts);
    assert.deepEqual(f.perSecond.get(1)!.cpu, { process: 0.75, host: 1 });
    assert.deepEqual(f.monitor.peakCpu, { process: 0.75, host: 1 });
    const none = foldMonitor([sample(START, undefined)], status, opts);
    assert.equal(none.perSecond.get(0)!.cpu, undefined);
    assert.equal(none.monitor.peakCpu, undefined);
  });
});

describe('sampler CPU readings', () => {
  const budget = { range: [32768, 60999] as [number, number], usable: 28_232 };

  it('reads the process every sample and the host at most once a second, from /proc/stat', async () => {
    const root = path.join(tmp, 'proc');
    mkdirSync(path.join(root, 'net'), { recursive: true });
    writeFileSync(path.join(root, 'stat'), procStat(1000, 3000));
    const sampler = new Sampler({ intervalMs: 250, scanIntervalMs: 1000, budget, procRoot: root, prefer: 'proc', role: 'fast' }, () => undefined);
    const a = await sampler.sample(false);
    const b = await sampler.sample(false);
    assert.ok(a.cpu && a.cpu.processUs !== null && a.cpu.processUs > 0);
    assert.deepEqual(a.cpu.host, { busy: 1000, total: 4000, cpus: 2 });
    assert.equal(b.cpu?.host, null, 'the host is not read again within a second');
    assert.ok(b.cpu!.processUs! >= a.cpu.processUs!);
    assert.equal(a.missing?.cpu, undefined);
    // The last sample of a run always reads the host.
    assert.deepEqual((await sampler.finalSample()).cpu?.host, { busy: 1000, total: 4000, cpus: 2 });
    sampler.dispose();
  });

  it('an unreadable /proc/stat: the host figure is null with a reason; the process figure stays', async () => {
    const root = path.join(tmp, 'empty');
    mkdirSync(root, { recursive: true });
    const sampler = new Sampler({ intervalMs: 250, scanIntervalMs: 1000, budget, procRoot: root, prefer: 'proc', role: 'fast' }, () => undefined);
    const s = await sampler.sample(false);
    assert.equal(s.cpu?.host, null);
    assert.ok(s.cpu!.processUs! > 0);
    assert.equal(s.missing?.cpu, 'ENOENT');
    assert.match(sampler.status().unavailable.cpu ?? '', /\/proc\/stat \(the host's CPU; the process's own is still measured\)/);
    sampler.dispose();
  });
});
