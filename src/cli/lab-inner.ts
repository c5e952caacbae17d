/**
 * The inside of `portstorm lab`: run with `node lab-inner.js <config-json>` by netns.ts, already inside
 * a fresh network namespace. Sets the namespace up, starts the built-in target (or the scenario's
 * `lab.serve` command) on the lab's target address, over HTTPS with a certificate made for that
 * address when the scenario asks for TLS, runs the scenario against it from the client address, adds
 * `lab` to the run record and prints the usual summary. Exit codes are those of `portstorm run`.
 */
import { mkdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { diagnose } from '../analysis/diagnose.js';
import { exitAfterOutput, toleratePipeClose } from './exit.js';
import { createProgress } from './progress.js';
import { ExitCode, PortstormError, RuntimeFailure } from '../errors.js';
import { fallbackDir, writeBeside, writeRunRecord } from '../record/run-file.js';
import { renderHtml } from '../report/html.js';
import { renderTextSummary } from '../report/text.js';
import { autoWorkers, builtinClose, runScenario } from '../run.js';
import { parseScenario } from '../scenario/load.js';
import type { Scenario } from '../scenario/schema.js';
import { startTargetThread, type TargetThread } from '../target/thread.js';
import { capMainYoungGeneration } from '../thread-limits.js';
import { labAddresses, LAB_TARGET_PORT, setupInside } from '../lab/netns.js';
import { hostPort } from '../vocab/address.js';
import { startServe, type RunningServe } from '../lab/serve.js';
import { labUsesTls, makeLabCertificate, removeTlsDir, writeServeCertificate } from '../lab/tls.js';
import type { LabInfo, LabInnerConfig, LabInnerResult } from '../lab/types.js';
import { applyWatchFlags } from './watch-flags.js';
import { writeLabSysctls } from '../lab/netns.js';
import { startTopology, type RunningTopology } from '../lab/hosts.js';
import { builtinStats, planTopology, topologyInfo, topologyScenario } from '../lab/topology.js';

/** A second signal within this long of the first is the same Ctrl-C (the terminal's plus ours). */
const SAME_SIGNAL_MS = 1000;

async function main(cfg: LabInnerConfig): Promise<number> {
  capMainYoungGeneration();
  toleratePipeClose();
  writeFileSync(cfg.pidFile, `${process.pid}\n`);
  (await import('../limits.js')).prepareFdLimits();
  const scenario = parseScenario(cfg.scenario, 'lab scenario');
  const ipv6 = scenario.lab?.ipv6 === true;
  const plan = (scenario.lab?.topology ?? 'single') === 'single' ? null : planTopology(scenario, path.join(cfg.resultsDir, path.basename(cfg.pidFile, '.pid')));
  const addresses = plan ? plan.client.addresses : labAddresses(ipv6);
  if (plan) writeLabSysctls(cfg.sysctls);
  else setupInside(cfg.sysctls, scenario.connection.localAddresses, ipv6);

  const progress = createProgress(process.stderr, cfg.quiet);
  const controller = new AbortController();
  let firstSignalAt = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    const now = Date.now();
    if (firstSignalAt !== 0) {
      if (now - firstSignalAt < SAME_SIGNAL_MS) return;
      process.stderr.write(`portstorm: ${sig} again, exiting without waiting\n`);
      process.exit(ExitCode.INTERRUPTED);
    }
    firstSignalAt = now;
    progress.note(`${sig}: stopping, waiting briefly for in-flight requests, then writing partial results`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const serveSpec = scenario.lab?.serve ?? null;
  const port = serveSpec?.port ?? LAB_TARGET_PORT;
  const serveLog = path.join(cfg.resultsDir, `${path.basename(cfg.pidFile, '.pid')}.serve.log`);
  // Over HTTPS, a certificate for the lab's target address, which the run trusts (and only it).
  const certificate = labUsesTls(scenario) ? await makeLabCertificate(scenario, addresses.target) : null;
  let thread: TargetThread | null = null;
  let serve: RunningServe | null = null;
  let topology: RunningTopology | null = null;
  if (plan) {
    progress.note(`lab: topology ${plan.kind}: ${plan.hosts.map((h) => `${h.name} (${h.runs})`).join(', ')}`);
    topology = await startTopology(plan);
  } else if (serveSpec) {
    const env: Record<string, string> = {};
    if (certificate) {
      if (!cfg.tlsDir) throw new RuntimeFailure('lab: no directory for the lab.serve certificate (internal error)');
      const files = writeServeCertificate(cfg.tlsDir, certificate);
      Object.assign(env, { TLS_CERT: files.cert, TLS_KEY: files.key });
    }
    const vars = Object.entries({ HOST: addresses.target, PORT: String(port), ...env }).map(([k, v]) => `${k}=${v}`).join(' ');
    progress.note(`lab: starting lab.serve (${serveSpec.command}) with ${vars}`);
    serve = await startServe(serveSpec, addresses.target, serveLog, env);
  } else {
    try {
      thread = await startTargetThread({
        protocol: scenario.protocol,
        host: addresses.target,
        port,
        delayMs: scenario.builtin.delayMs,
        bodyBytes: scenario.builtin.bodyBytes,
        close: builtinClose(scenario),
        ...(certificate ? { tls: certificate } : {}),
      });
    } catch (err) {
      throw new RuntimeFailure(`lab: the built-in target cannot listen on ${hostPort(addresses.target, port)}: ${(err as Error).message}`);
    }
  }
  const scheme = certificate ? 'https' : scenario.protocol;
  const origin = plan ? plan.targetOrigin : `${scheme}://${hostPort(addresses.target, port)}`;
  const url = `${origin}${scenario.protocol === 'http' ? scenario.request.path : ''}`;
  const inLab: Scenario = {
    ...scenario,
    ...(plan ? topologyScenario(scenario, plan) : {}),
    target: url,
    // As `run` does for a target on this machine: leave a core to it.
    workers: scenario.workers === 'auto' ? autoWorkers(true) : scenario.workers,
  };
  let outcome;
  let stats = null;
  try {
    outcome = await runScenario({
      scenario: inLab,
      resultsDir: cfg.resultsDir,
      label: cfg.label,
      signal: controller.signal,
      // The scenario's watch: agents, reachable from inside the namespace; the token from PORTSTORM_TOKEN.
      watchAccess: topology ? { token: topology.token, ca: null } : applyWatchFlags(scenario, { watch: [], 'watch-optional': false }).access,
      // A lab.serve command may serve a certificate of its own, signed by the scenario's tls.ca.
      targetCertificate: certificate && !(serveSpec && scenario.tls.ca) ? certificate.cert : null,
      onStart: (i) => progress.note(`lab ${cfg.variant ? `variant ${cfg.variant}, ` : ''}run ${i.runId}: ${i.targetUrl} from ${addresses.client} with ${i.workers} worker${i.workers === 1 ? '' : 's'}`),
      onProgress: (e, live) => progress.update(e, live),
    });
    stats = thread ? await thread.stats().catch(() => null) : null;
  } finally {
    progress.stop();
    const hostsEnded = await topology?.stop().catch(() => null);
    if (plan && hostsEnded) stats = builtinStats(plan, hostsEnded);
    await thread?.close().catch(() => undefined);
    const ended = await serve?.stop();
    if (cfg.tlsDir) removeTlsDir(cfg.tlsDir);
    // 143 = 128 + SIGTERM: the server ended by the stop signal, as asked.
    if (ended && !/^exit (0|143)$|SIGTERM/.test(ended)) process.stderr.write(`portstorm: lab: lab.serve ended with ${ended} when stopped (see its serve.log)\n`);
  }

  // The record as if the target had run on this machine: the scenario as given, the built-in target's counters.
  const lab: LabInfo = { namespace: cfg.namespace, sysctls: cfg.sysctls, addresses, variant: cfg.variant };
  if (plan) lab.topology = topologyInfo(plan, cfg.sysctls, topology!.conntrack);
  const record = outcome.record;
  record.scenario = plan ? { ...scenario, connection: inLab.connection } : scenario;
  record.target = { ...record.target, url, builtin: plan ? plan.kind === 'nat' : serve === null, stats };
  record.lab = lab;
  record.diagnosis = diagnose(record, record.exhaustion);
  const file = await writeRunRecord(outcome.dir, record);
  const html = await writeBeside(outcome.dir, 'report.html', renderHtml(record)).catch(() => null);
  for (const h of plan?.hosts ?? []) {
    if (h.run.kind !== 'serve' && h.run.kind !== 'proxy') continue;
    try {
      renameSync(h.run.logFile, path.join(outcome.dir, `${h.name}.${h.run.kind}.log`));
    } catch {
      // the command wrote nothing
    }
  }
  if (serve) {
    try {
      renameSync(serveLog, path.join(outcome.dir, 'serve.log'));
    } catch {
      // the command wrote nothing, or the log stays beside the results
    }
  }
  const result: LabInnerResult = { file, dir: outcome.dir };
  try {
    writeFileSync(cfg.resultFile, JSON.stringify(result) + '\n');
  } catch {
    // The results directory stopped taking files during the run: the record went to the fallback
    // directory (writeRunRecord said so), and the outer process looks for this note there too.
    const fallback = path.join(fallbackDir(cfg.resultsDir), path.basename(cfg.resultFile));
    mkdirSync(path.dirname(fallback), { recursive: true });
    writeFileSync(fallback, JSON.stringify(result) + '\n');
  }

  if (cfg.print === 'json') process.stdout.write(JSON.stringify(record) + '\n');
  else if (cfg.print === 'text') process.stdout.write(renderTextSummary(record, file, html));
  if (record.status === 'interrupted') return ExitCode.INTERRUPTED;
  return record.thresholds.some((t) => !t.passed) ? ExitCode.THRESHOLD_FAILED : ExitCode.OK;
}

let cfg: LabInnerConfig | null = null;
try {
  cfg = JSON.parse(process.argv[2] ?? '') as LabInnerConfig;
} catch {
  process.stderr.write('portstorm: lab inner: expected the lab configuration as JSON in argv[2]\n');
  process.exit(ExitCode.USAGE);
}
main(cfg!).then(
  (code) => {
    cleanup(cfg!);
    return exitAfterOutput(code);
  },
  (err: unknown) => {
    cleanup(cfg!);
    const code = err instanceof PortstormError ? err.exitCode : ExitCode.RUNTIME;
    process.stderr.write(`portstorm: ${err instanceof Error ? err.message : String(err)}\n`);
    return exitAfterOutput(code);
  },
);

function cleanup(c: LabInnerConfig): void {
  try {
    unlinkSync(c.pidFile);
  } catch {
    // already gone
  }
}
