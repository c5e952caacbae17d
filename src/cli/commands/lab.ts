/**
 * `portstorm lab <scenario>`: run a scenario in a private network namespace with its own port range
 * and TCP sysctls, against the built-in target on a non-loopback address, so the kernel's real
 * EADDRNOTAVAIL shows in seconds without touching the host. `--variant` runs it once per variant,
 * each in a fresh namespace, and compares the runs (the first is the baseline).
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { compareRuns } from '../../compare/compare.js';
import { ExitCode, RuntimeFailure, UsageError } from '../../errors.js';
import { detectNamespace, labSysctls, parseSysctlFlag, spawnLab, type LabChild } from '../../lab/netns.js';
import type { LabInnerConfig, LabInnerResult } from '../../lab/types.js';
import { readRunRecord, writeBeside } from '../../record/run-file.js';
import type { RunRecord } from '../../record/types.js';
import { renderCompareText } from '../../report/compare-text.js';
import { loadScenario } from '../../scenario/load.js';
import { defineCommand } from '../command.js';

export interface LabArgs {
  scenario: string;
  out: string;
  label?: string;
  set: string[];
  sysctl: string[];
  variant: string[];
  'port-range'?: string;
  json: boolean;
  quiet: boolean;
}

/** One `--variant`: a name, sysctl overrides and scenario (`--set`) overrides. */
export interface LabVariant {
  name: string;
  sysctls: string[];
  sets: string[];
}

/**
 * Parses `name` or `name:override[,override...]`; an override is `sysctl.<key>=<value>` or a scenario
 * path `connection.reuse=true`. A piece without `=` continues the previous value (so
 * `sysctl.net.ipv4.ip_local_reserved_ports=8080,9000-9010` keeps its comma).
 */
export function parseVariant(spec: string): LabVariant {
  const colon = spec.indexOf(':');
  const name = (colon < 0 ? spec : spec.slice(0, colon)).trim();
  if (!/^[A-Za-z0-9][\w.-]*$/.test(name)) {
    throw new UsageError(`--variant ${spec}: expected name or name:override,... with a name of letters, digits, - _ .`);
  }
  const overrides: string[] = [];
  if (colon >= 0) {
    for (const piece of spec.slice(colon + 1).split(',')) {
      if (piece.includes('=') || overrides.length === 0) overrides.push(piece.trim());
      else overrides[overrides.length - 1] += `,${piece}`;
    }
  }
  const variant: LabVariant = { name, sysctls: [], sets: [] };
  for (const o of overrides) {
    if (!o.includes('=')) throw new UsageError(`--variant ${spec}: ${JSON.stringify(o)} is not path=value or sysctl.<key>=<value>`);
    if (o.startsWith('sysctl.')) variant.sysctls.push(o.slice('sysctl.'.length));
    else variant.sets.push(o);
  }
  for (const s of variant.sysctls) parseSysctlFlag(s);
  return variant;
}

/** How to order exit codes when several runs end differently: interrupted, runtime, usage, threshold, ok. */
function worse(a: number, b: number): number {
  const rank = (c: number) => [ExitCode.INTERRUPTED, ExitCode.RUNTIME, ExitCode.USAGE, ExitCode.THRESHOLD_FAILED, ExitCode.OK].indexOf(c as never);
  const ra = rank(a) < 0 ? 1 : rank(a);
  const rb = rank(b) < 0 ? 1 : rank(b);
  return ra <= rb ? a : b;
}

/** The `lab` command. */
export const labCommand = defineCommand<LabArgs>({
  command: 'lab <scenario>',
  describe: 'Reproduce port exhaustion in a private network namespace (Linux), optionally under several tunings',
  builder: (y) =>
    y
      .positional('scenario', { type: 'string', demandOption: true, describe: 'scenario file (target: builtin)' })
      .option('port-range', { type: 'string', describe: 'the namespace\'s ip_local_port_range (default 40000-40999)' })
      .option('sysctl', { type: 'string', array: true, default: [], describe: 'a namespace sysctl: --sysctl net.ipv4.tcp_tw_reuse=1' })
      .option('variant', { type: 'string', array: true, default: [], describe: 'run once per variant and compare: name[:sysctl.<key>=<v>|path=<v>,...]' })
      .option('out', { type: 'string', default: 'results', describe: 'directory for <runId>/run.json' })
      .option('label', { type: 'string', describe: 'a label stored with the run (variants use their names)' })
      .option('set', { type: 'string', array: true, default: [], describe: 'override a scenario field: --set load[0].rate=1200' })
      .option('json', { type: 'boolean', default: false, describe: 'print the run record (or, with variants, the comparison) as JSON' })
      .option('quiet', { type: 'boolean', default: false, describe: 'no progress output' })
      .example('$0 lab scenarios/lab-exhaustion.yaml', 'reproduce client port exhaustion in seconds')
      .example('$0 lab s.yaml --variant baseline --variant "tw-reuse:sysctl.net.ipv4.tcp_tw_reuse=1" --variant "rst:connection.close=reset"', 'try fixes side by side') as never,
  async run(argv) {
    const baseSysctls = labSysctls(argv['port-range'], argv.sysctl);
    const variants = argv.variant.map(parseVariant);
    if (new Set(variants.map((v) => v.name)).size !== variants.length) throw new UsageError('--variant: variant names must differ');
    const plans = variants.length === 0 ? [{ name: null as string | null, sysctls: [] as string[], sets: [] as string[] }] : variants;
    // Validate every scenario before any namespace is made.
    const prepared = [];
    for (const p of plans) {
      const scenario = await loadScenario(argv.scenario, [...argv.set, ...p.sets]);
      if (scenario.target !== 'builtin') {
        throw new UsageError(`${argv.scenario}: target: the lab runs the built-in target only (got ${scenario.target}); set target: builtin`);
      }
      const sysctls = { ...baseSysctls };
      for (const s of p.sysctls) {
        const [k, v] = parseSysctlFlag(s);
        sysctls[k] = v;
      }
      prepared.push({ name: p.name, scenario, sysctls });
    }
    const namespace = detectNamespace();
    const resultsDir = path.resolve(argv.out);
    await mkdir(resultsDir, { recursive: true });

    let current: LabChild | null = null;
    let interrupted = false;
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals): void => {
      interrupted = true;
      if (++signals > 1) current?.kill();
      else current?.signal(sig);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let code: number = ExitCode.OK;
    const files: string[] = [];
    try {
      for (const p of prepared) {
        if (interrupted) break;
        const tag = `${process.pid}-${files.length}`;
        const config: LabInnerConfig = {
          scenario: p.scenario,
          resultsDir,
          label: p.name ?? argv.label ?? null,
          namespace,
          sysctls: p.sysctls,
          variant: p.name,
          // With variants and --json, stdout carries only the comparison.
          print: argv.json ? (variants.length === 0 ? 'json' : 'none') : 'text',
          quiet: argv.quiet,
          pidFile: path.join(resultsDir, `.lab-${tag}.pid`),
          resultFile: path.join(resultsDir, `.lab-${tag}.result.json`),
        };
        current = spawnLab(namespace, config);
        const { code: c, signal } = await current.done;
        current = null;
        if (signal && !interrupted) process.stderr.write(`portstorm: lab: the lab process ended by ${signal}\n`);
        code = worse(code, signal ? (interrupted ? ExitCode.INTERRUPTED : ExitCode.RUNTIME) : c);
        const result = await readFile(config.resultFile, 'utf8').then((t) => JSON.parse(t) as LabInnerResult).catch(() => null);
        await rm(config.resultFile, { force: true });
        await rm(config.pidFile, { force: true });
        if (!result) {
          if (variants.length > 0) throw new RuntimeFailure(`lab: variant ${p.name} wrote no run record (exit ${signal ?? c})`);
          break;
        }
        files.push(result.file);
        if (c === ExitCode.INTERRUPTED) break;
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    if (variants.length === 0 || files.length < 2) return code;

    const records: RunRecord[] = [];
    for (const f of files) records.push(await readRunRecord(f));
    const result = compareRuns(records);
    const json = JSON.stringify(result, null, 1) + '\n';
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
    const compareFile = await writeBeside(resultsDir, `lab-compare-${stamp}-${process.pid}.json`, json);
    if (argv.json) process.stdout.write(json);
    else process.stdout.write(`\n${renderCompareText(result)}${renderCompareText(result).endsWith('\n') ? '' : '\n'}  comparison             ${compareFile}\n`);
    return code;
  },
});
