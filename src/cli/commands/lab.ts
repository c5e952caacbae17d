/**
 * `portstorm lab <scenario>`: run a scenario in a private network namespace with its own port range
 * and TCP sysctls, against the built-in target (or the scenario's `lab.serve` command) on a
 * non-loopback address, so the kernel's real EADDRNOTAVAIL shows in seconds without touching the
 * host. Variants run it once each, in fresh namespaces, and compare the runs (the first is the
 * baseline); `--find-knee` searches for the highest rate that lasts the duration.
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { exhaustionSignalCounts } from '../../analysis/exhaustion.js';
import { compareRuns } from '../../compare/compare.js';
import { ExitCode, PortstormError, RuntimeFailure, UsageError } from '../../errors.js';
import { kneeGroupIndex, labUsablePorts, predictedKnee, searchKnee, type KneeResult } from '../../lab/knee.js';
import { detectNamespace, findExecutable, labAddresses, spawnLab, type LabChild } from '../../lab/netns.js';
import { chainServiceModel, checkTopology, clientSysctls } from '../../lab/topology.js';
import { upstreamFailures } from '../../analysis/diagnose-upstream.js';
import { labUsesTls, makeTlsDir, removeTlsDir } from '../../lab/tls.js';
import { labSysctls, parseSysctlFlag } from '../../scenario/sysctls.js';
import type { LabInnerConfig, LabInnerResult, LabNamespace } from '../../lab/types.js';
import { parseVariant, type LabVariant } from '../../scenario/variant.js';
import { checkOutputDir, fallbackDir, readRunRecord, writeBeside } from '../../record/run-file.js';
import type { RunRecord } from '../../record/types.js';
import { renderCompareText } from '../../report/compare-text.js';
import { displayArg, loadScenario, type Override } from '../../scenario/load.js';
import { sourceFamilyProblem } from '../../scenario/source-family.js';
import type { Scenario } from '../../scenario/schema.js';
import { defineCommand } from '../command.js';
import { num, orDash, rate, sec } from '../../vocab/format.js';

export interface LabArgs {
  scenario: string;
  out: string;
  label?: string;
  set: string[];
  sysctl: string[];
  variant: string[];
  'port-range'?: string;
  'find-knee'?: boolean;
  'knee-probes'?: number;
  'knee-max-rate'?: number;
  ipv6?: boolean;
  json: boolean;
  quiet: boolean;
}

/** One lab run to make: a fresh namespace with these sysctls, this scenario, this label. */
interface LabPlan {
  name: string | null;
  scenario: Scenario;
  sysctls: Record<string, string>;
}

/** How to order exit codes when several runs end differently: interrupted, runtime, usage, threshold, ok. */
function worse(a: number, b: number): number {
  const rank = (c: number) => [ExitCode.INTERRUPTED, ExitCode.RUNTIME, ExitCode.USAGE, ExitCode.THRESHOLD_FAILED, ExitCode.OK].indexOf(c as never);
  const ra = rank(a) < 0 ? 1 : rank(a);
  const rb = rank(b) < 0 ? 1 : rank(b);
  return ra <= rb ? a : b;
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

function checkTarget(file: string, s: Scenario): void {
  checkTopology(displayArg(file), s);
  if ((s.lab?.topology ?? 'single') !== 'single') {
    if (s.target !== 'builtin') throw new UsageError(`${file}: target: a ${s.lab!.topology} lab's load goes to its own hosts (got ${s.target}); set target: builtin`);
    return;
  }
  if (s.target !== 'builtin' && !s.lab?.serve) {
    throw new UsageError(
      `${file}: target: the lab runs the built-in target or lab.serve (got ${s.target}); set target: builtin, or lab.serve: "<command that listens on $HOST:$PORT>"`,
    );
  }
  const ipv6 = s.lab?.ipv6 === true;
  const hint = ipv6 ? 'give IPv6 source addresses (e.g. fd00::11), or run the lab without --ipv6 / lab.ipv6' : 'give IPv4 source addresses (e.g. 198.18.0.11), or run an IPv6 lab (--ipv6, or lab.ipv6: true)';
  const problem = sourceFamilyProblem(s.connection.localAddresses, labAddresses(ipv6).target, 'the lab\'s target', hint);
  if (problem !== null) throw new UsageError(`${displayArg(file)}: ${problem}`);
}

/** The scenario overrides of the command line: `--set`, and `--ipv6` as `lab.ipv6=true`. */
function overridesOf(argv: LabArgs): Override[] {
  return argv.ipv6 ? [...argv.set, { set: 'lab.ipv6=true', from: '--ipv6' }] : argv.set;
}

/** Runs plans one after another, each in its own namespace; stops at the first interruption. */
class LabSession {
  private current: LabChild | null = null;
  private signals = 0;
  interrupted = false;
  code: number = ExitCode.OK;
  private readonly onSignal = (sig: NodeJS.Signals): void => {
    this.interrupted = true;
    if (++this.signals > 1) this.current?.kill();
    else this.current?.signal(sig);
  };

  constructor(
    private readonly namespace: LabNamespace,
    private readonly resultsDir: string,
    private readonly print: LabInnerConfig['print'],
    private readonly quiet: boolean,
    private readonly label: string | null,
  ) {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  close(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }

  /** Runs one plan; resolves with its run.json, or null when it wrote none. */
  async run(p: LabPlan, seq: number): Promise<string | null> {
    if (this.interrupted) return null;
    const tag = `${process.pid}-${seq}`;
    // lab.serve over HTTPS gets its certificate and key in files: in a private directory made here,
    // so that it goes even when the lab process is killed.
    const tlsDir = p.scenario.lab?.serve && labUsesTls(p.scenario) ? makeTlsDir() : null;
    const config: LabInnerConfig = {
      scenario: p.scenario,
      resultsDir: this.resultsDir,
      label: p.name ?? this.label,
      namespace: this.namespace,
      sysctls: p.sysctls,
      variant: p.name,
      print: this.print,
      quiet: this.quiet,
      pidFile: path.join(this.resultsDir, `.lab-${tag}.pid`),
      resultFile: path.join(this.resultsDir, `.lab-${tag}.result.json`),
      tlsDir,
    };
    let ended: { code: number; signal: NodeJS.Signals | null };
    try {
      this.current = spawnLab(this.namespace, config);
      ended = await this.current.done;
    } finally {
      this.current = null;
      if (tlsDir) removeTlsDir(tlsDir);
    }
    const { code, signal } = ended;
    if (signal && !this.interrupted) process.stderr.write(`portstorm: lab: the lab process ended by ${signal}\n`);
    this.code = worse(this.code, signal ? (this.interrupted ? ExitCode.INTERRUPTED : ExitCode.RUNTIME) : code);
    if (code === ExitCode.INTERRUPTED) this.interrupted = true;
    // Where the results directory stopped taking files mid-run, the note is in the fallback directory.
    const spare = path.join(fallbackDir(this.resultsDir), path.basename(config.resultFile));
    const readNote = (f: string) => readFile(f, 'utf8').then((t) => JSON.parse(t) as LabInnerResult);
    const result = await readNote(config.resultFile).catch(() => readNote(spare)).catch(() => null);
    await rm(config.resultFile, { force: true }).catch(() => undefined);
    await rm(spare, { force: true });
    await rm(config.pidFile, { force: true }).catch(() => undefined);
    return result?.file ?? null;
  }
}

/** A `--sysctl` problem without its `--sysctl <arg>: ` lead, for a variant that names the sysctl itself. */
function withoutSysctlFlag(message: string): string {
  return message.replace(/^--sysctl [^\n]*?: (?=\S)/, '');
}

/** `parseVariant(spec)`, with any problem told as `--variant <spec>: ...`. */
function variantFlag(spec: string): LabVariant {
  try {
    return parseVariant(spec);
  } catch (err) {
    if (!(err instanceof UsageError) || err.message.startsWith('--variant ')) throw err;
    throw new UsageError(`--variant ${displayArg(spec)}: ${withoutSysctlFlag(err.message)}`);
  }
}

function variantPlans(file: string, base: Scenario, argv: LabArgs, baseSysctls: Record<string, string>): Promise<LabPlan[]> {
  const fromScenario: Array<LabVariant & { from: string }> = (base.lab?.variants ?? []).map((v, i) => ({
    name: v.name,
    sysctls: Object.entries(v.sysctls).map(([k, val]) => `${k}=${val}`),
    sets: v.set,
    from: `${displayArg(file)}: lab.variants[${i}]`,
  }));
  const variants =
    argv.variant.length > 0 ? argv.variant.map((spec) => ({ ...variantFlag(spec), from: `--variant ${displayArg(spec)}` })) : fromScenario;
  if (new Set(variants.map((v) => v.name)).size !== variants.length) throw new UsageError('--variant: variant names must differ');
  return Promise.all(
    variants.map(async (v) => {
      const overrides = [...overridesOf(argv), ...v.sets.map((set) => ({ set, from: v.from }))];
      const scenario = v.sets.length > 0 ? await loadScenario(file, overrides) : base;
      checkTarget(file, scenario);
      const sysctls = clientSysctls(scenario, { ...baseSysctls });
      for (const s of v.sysctls) {
        try {
          const [k, val] = parseSysctlFlag(s);
          sysctls[k] = val;
        } catch (err) {
          if (!(err instanceof UsageError)) throw err;
          throw new UsageError(`${v.from}: ${withoutSysctlFlag(err.message)}`);
        }
      }
      return { name: v.name, scenario, sysctls };
    }),
  );
}

function renderKnee(k: KneeResult, file: string): string {
  const lines = [`portstorm lab --find-knee: ${num(k.usablePorts)} usable ports, ${sec(k.durationS)} per probe`];
  for (const p of k.probes) {
    const outcome = p.exhaustionErrors === 0 ? 'no exhaustion' : `${num(p.exhaustionErrors)} exhaustion errors, first at ${p.firstAtS === null ? '? s' : sec(p.firstAtS, 2)}`;
    lines.push(`  ${rate(p.rate).padStart(10)}  ${outcome}`);
  }
  const knee =
    k.knee === null
      ? `below ${orDash(k.firstFailing, rate)} (every probe ran out of ports)`
      : k.firstFailing === null
        ? `at least ${rate(k.knee)} (no probe ran out of ports)`
        : `${rate(k.knee)} (${rate(k.firstFailing)} ran out)`;
  lines.push(`  knee                   ${knee}`);
  lines.push(
    `  model                  ${k.predicted === null ? 'ports do not bound this scenario (no client TIME_WAIT)' : `${rate(k.predicted)} = usable ports / min(duration, TIME_WAIT)`}` +
      (k.predicted !== null && k.knee !== null ? `; measured/model ${(k.knee / k.predicted).toFixed(2)}` : ''),
  );
  lines.push(`  result                 ${file}`);
  return lines.join('\n') + '\n';
}

/** The `lab` command. */
export const labCommand = defineCommand<LabArgs>({
  command: 'lab <scenario>',
  describe: 'Reproduce port exhaustion in a private network namespace (Linux), optionally under several tunings',
  builder: (y) =>
    y
      .positional('scenario', { type: 'string', demandOption: true, describe: 'scenario file (target: builtin, or lab.serve)' })
      .option('port-range', { type: 'string', describe: 'the namespace\'s ip_local_port_range (default 40000-40999, or lab.portRange)' })
      .option('sysctl', { type: 'string', array: true, default: [], describe: 'a namespace sysctl: --sysctl net.ipv4.tcp_tw_reuse=1' })
      .option('variant', { type: 'string', array: true, default: [], describe: 'run once per variant and compare: name[:sysctl.<key>=<v>|path=<v>,...] (replaces lab.variants)' })
      .option('ipv6', { type: 'boolean', default: false, describe: 'an IPv6 lab: client fd00::1, target fd00::2 (http://[fd00::2]:8080/); the same as lab.ipv6: true' })
      .option('find-knee', { type: 'boolean', default: false, describe: 'find the highest rate that lasts the duration without exhaustion errors (one arrival-rate group)' })
      .option('knee-probes', { type: 'number', default: 8, describe: 'with --find-knee: at most this many runs' })
      .option('knee-max-rate', { type: 'number', default: 100_000, describe: 'with --find-knee: never probe above this rate' })
      .option('out', { type: 'string', default: 'results', describe: 'directory for <runId>/run.json' })
      .option('label', { type: 'string', describe: 'a label stored with the run (variants use their names)' })
      .option('set', { type: 'string', array: true, default: [], describe: 'override a scenario field: --set load[0].rate=1200' })
      .option('json', { type: 'boolean', default: false, describe: 'print the run record (or the comparison, or the knee) as JSON' })
      .option('quiet', { type: 'boolean', default: false, describe: 'no progress output' })
      .example('$0 lab scenarios/lab-exhaustion.yaml', 'reproduce client port exhaustion in seconds')
      .example('$0 lab s.yaml --variant baseline --variant "tw-reuse:sysctl.net.ipv4.tcp_tw_reuse=1" --variant "rst:connection.close=reset"', 'try fixes side by side')
      .example('$0 lab s.yaml --ipv6', 'the same over IPv6, fd00::1 → fd00::2')
      .example('$0 lab s.yaml --find-knee', 'the highest new-connection rate the port range sustains for the duration') as never,
  async run(argv) {
    const base = await loadScenario(argv.scenario, overridesOf(argv));
    checkTarget(argv.scenario, base);
    const baseSysctls = clientSysctls(base, labSysctls(argv['port-range'], argv.sysctl, { portRange: base.lab?.portRange, sysctls: base.lab?.sysctls }));
    if (base.lab?.topology === 'nat' && !findExecutable('nft')) throw new RuntimeFailure('lab: topology nat needs nft (Debian package nftables)');
    const findKnee = argv['find-knee'] === true;
    const variants = findKnee ? [] : await variantPlans(argv.scenario, base, argv, baseSysctls);
    const knee = findKnee ? kneeGroupIndex(base) : null;
    if (findKnee && knee === null) throw new UsageError(`${argv.scenario}: load: --find-knee varies the rate of a single arrival-rate group; this scenario has ${base.load.length} group(s) of other shapes`);
    if (findKnee && argv.variant.length > 0) throw new UsageError('--find-knee and --variant cannot be combined; run the knee per variant with --sysctl / --set');
    const probes = argv['knee-probes'] ?? 8;
    const maxRate = argv['knee-max-rate'] ?? 100_000;
    if (!Number.isInteger(probes) || probes < 1) throw new UsageError(`--knee-probes ${probes}: expected a whole number, 1 or more`);
    if (!(maxRate > 0)) throw new UsageError(`--knee-max-rate ${maxRate}: expected a rate above 0`);
    // Before any load: refuses /proc, a file, a directory that cannot be written (exit 2).
    const resultsDir = await checkOutputDir(argv.out);
    const namespace = detectNamespace();
    const many = findKnee || variants.length > 0;
    const session = new LabSession(namespace, resultsDir, argv.json ? (many ? 'none' : 'json') : findKnee ? 'none' : 'text', argv.quiet, argv.label ?? null);
    try {
      if (findKnee) return await runKnee(session, base, baseSysctls, knee!, probes, maxRate, resultsDir, argv.json, argv.quiet);
      if (variants.length === 0) {
        await session.run({ name: null, scenario: base, sysctls: baseSysctls }, 0);
        return session.code;
      }
      const files: string[] = [];
      for (const [i, p] of variants.entries()) {
        const file = await session.run(p, i);
        if (file) files.push(file);
        else if (!session.interrupted) throw new RuntimeFailure(`lab: variant ${p.name} wrote no run record`);
        if (session.interrupted) break;
      }
      if (files.length < 2) return session.code;
      const records: RunRecord[] = [];
      for (const f of files) records.push(await readRunRecord(f));
      const result = compareRuns(records);
      const json = JSON.stringify(result, null, 1) + '\n';
      const compareFile = await writeBeside(resultsDir, `lab-compare-${stamp()}-${process.pid}.json`, json);
      if (argv.json) process.stdout.write(json);
      else process.stdout.write(`\n${renderCompareText(result).replace(/\n?$/, '\n')}  comparison             ${compareFile}\n`);
      return session.code;
    } finally {
      session.close();
    }
  },
});

async function runKnee(
  session: LabSession,
  base: Scenario,
  sysctls: Record<string, string>,
  group: number,
  maxProbes: number,
  maxRate: number,
  resultsDir: string,
  json: boolean,
  quiet: boolean,
): Promise<number> {
  const g = base.load[group]!;
  const durationS = g.duration!;
  let seq = 0;
  const found = await searchKnee({ start: (g as { rate: number }).rate, tolerance: 0.05, maxProbes, maxRate }, async (rate) => {
    const load = base.load.map((x, i) => (i === group ? { ...x, rate } : x));
    const scenario = { ...base, load, thresholds: [] } as Scenario;
    if (!quiet) process.stderr.write(`portstorm lab --find-knee: probing ${rate}/s for ${durationS} s\n`);
    const file = await session.run({ name: `knee-${rate}`, scenario, sysctls }, seq++);
    if (session.interrupted) throw new PortstormError(`lab --find-knee: interrupted while probing ${rate}/s`, ExitCode.INTERRUPTED);
    if (!file) throw new RuntimeFailure(`lab --find-knee: the probe at ${rate}/s wrote no run record`);
    const r = await readRunRecord(file);
    const signals = Object.values(exhaustionSignalCounts(r)).reduce((a, b) => a + b, 0);
    if (r.status !== 'completed') throw new RuntimeFailure(`lab --find-knee: the probe at ${rate}/s did not complete (${r.status})`);
    // In a chain the service runs out first: its proxy's 5xx (and resets after the request) are the client's failures.
    const upstream = base.lab?.topology === 'chain' ? upstreamFailures(r) : null;
    const firsts = [r.exhaustion?.firstAtS ?? null, upstream?.firstAtS ?? null].filter((x): x is number => x !== null);
    return { rate, exhaustionErrors: signals + (upstream?.total ?? 0), firstAtS: firsts.length > 0 ? Math.min(...firsts) : null, completed: r.totals.completed, file };
  });
  // In a chain the knee is the service's: its port range and its upstream connections bound it.
  const model = base.lab?.topology === 'chain' ? chainServiceModel(base) : { scenario: base, sysctls };
  const result: KneeResult = { ...found, predicted: predictedKnee(model.scenario, model.sysctls, durationS), usablePorts: labUsablePorts(model.sysctls), durationS };
  const text = JSON.stringify(result, null, 1) + '\n';
  const file = await writeBeside(resultsDir, `lab-knee-${stamp()}-${process.pid}.json`, text);
  process.stdout.write(json ? text : renderKnee(result, file));
  return session.code === ExitCode.THRESHOLD_FAILED ? ExitCode.OK : session.code;
}
