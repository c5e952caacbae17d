/** `portstorm run <scenario>`: run a scenario, write results/<runId>/run.json, print the summary. */
import { ExitCode, UsageError } from '../../errors.js';
import { prepareFdLimits } from '../../limits.js';
import { renderTextSummary } from '../../report/text.js';
import { DEFAULT_CHECKPOINT_INTERVAL_S, runScenario } from '../../run.js';
import { parseShard, parseStartAt, START_AT_STALE_MS, type Shard } from '../../load/shard.js';
import { checkOutputDir } from '../../record/run-file.js';
import { displayArg, loadScenario } from '../../scenario/load.js';
import { parseDuration, usesTls, type Scenario } from '../../scenario/schema.js';
import { defineCommand } from '../command.js';
import { createProgress } from '../progress.js';
import { printRecordLine, recordLineOption } from '../record-line-flag.js';
import { applyWatchFlags, TOKEN_ENV, type WatchArgs } from '../watch-flags.js';

export interface RunArgs extends WatchArgs {
  scenario: string;
  out: string;
  label?: string;
  set: string[];
  json: boolean;
  quiet: boolean;
  'log-requests': boolean;
  'allow-remote': boolean;
  /** A duration; absent means the default. */
  'checkpoint-interval'?: string;
  /** I/N: run shard I (0-based) of N. */
  shard?: string;
  /** ISO time with a zone: the load's second 0. */
  'start-at'?: string;
}

/** The `run` command. */
export const runCommand = defineCommand<RunArgs>({
  command: 'run <scenario>',
  describe: 'Run a scenario file (YAML or JSON) and record every connection and request',
  builder: (y) =>
    recordLineOption(y)
      .positional('scenario', { type: 'string', demandOption: true, describe: 'scenario file' })
      .option('out', { type: 'string', default: 'results', describe: 'directory for <runId>/run.json' })
      .option('label', { type: 'string', describe: 'a label stored with the run (e.g. "before tuning")' })
      .option('set', { type: 'string', array: true, default: [], describe: 'override a field: --set load[0].rate=1200' })
      .option('json', { type: 'boolean', default: false, describe: 'print the run record to stdout (progress stays on stderr)' })
      .option('quiet', { type: 'boolean', default: false, describe: 'no progress output' })
      .option('log-requests', { type: 'boolean', default: false, describe: 'also write every request to requests-<worker>.ndjson next to run.json' })
      .option('allow-remote', { type: 'boolean', default: false, describe: 'allow a target that is not loopback or private' })
      .option('checkpoint-interval', {
        type: 'string',
        default: `${DEFAULT_CHECKPOINT_INTERVAL_S}s`,
        describe: 'rewrite run.json (status checkpoint) this often while the load runs; 0 turns it off',
      })
      .option('shard', { type: 'string', describe: 'run shard I (0-based) of N of the scenario: I/N (arrivals k ≡ I mod N, users and maxRequests split exactly)' })
      .option('start-at', { type: 'string', describe: "start the load at this instant (ISO time with a zone, e.g. 2026-12-08T10:00:00Z), after set-up; overrides the scenario's startAt" })
      .option('watch', {
        type: 'string',
        array: true,
        default: [],
        describe: 'also record the sockets of another host: NAME=URL of its `portstorm monitor --serve` agent (repeatable; adds to or overrides the scenario\'s watch:)',
      })
      .option('watch-token', { type: 'string', describe: `the agents' bearer token (default: the ${TOKEN_ENV} environment variable)` })
      .option('watch-ca', { type: 'string', describe: 'PEM CA certificates to trust for https:// agents (default: Node\'s root store)' })
      .option('watch-optional', { type: 'boolean', default: false, describe: 'go on when an agent cannot be reached at the start (its seconds stay null)' })
      .example('$0 run scenarios/demo.yaml', 'run the demo against the built-in target')
      .example('$0 run s.yaml --watch service=http://198.18.1.2:9464', "record the service's sockets beside the load")
      .example('$0 run s.yaml --set load[0].rate=1200 --label faster', 'override a field and label the run')
      .example('$0 run s.yaml --shard 1/3 --start-at 2026-12-08T10:00:00Z', 'run shard 1 of 3, starting at that instant') as never,
  async run(argv) {
    prepareFdLimits();
    const checkpointIntervalS = parseDuration(argv['checkpoint-interval'] ?? DEFAULT_CHECKPOINT_INTERVAL_S);
    if (checkpointIntervalS === null) {
      throw new UsageError(`--checkpoint-interval: expected a duration like 500ms, 2s or a number of seconds, got ${JSON.stringify(argv['checkpoint-interval'])}`);
    }
    const shard: Shard | null = argv.shard === undefined ? null : parseShard(String(argv.shard));
    const startAtFlag = argv['start-at'] === undefined ? null : String(argv['start-at']);
    if (startAtFlag !== null) parseStartAt(startAtFlag);
    const progress = createProgress(process.stderr, argv.quiet);
    const controller = new AbortController();
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (++signals > 1) {
        process.stderr.write(`portstorm: ${sig} again, exiting without waiting\n`);
        process.exit(ExitCode.INTERRUPTED);
      }
      progress.note(`${sig}: stopping, waiting briefly for in-flight requests, then writing partial results`);
      controller.abort();
    };
    // Listening from the start: a signal while the scenario loads or the target starts still
    // ends in an (empty) interrupted record.
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let checkpointFailed = false;
    try {
      const { scenario, access } = applyWatchFlags(await loadScenario(argv.scenario, argv.set), argv);
      if (startAtFlag !== null) scenario.startAt = startAtFlag;
      // Before any load: a run that cannot be saved is not worth making.
      await checkOutputDir(argv.out);
      const warning = insecureWarning(scenario);
      if (warning) process.stderr.write(warning);
      progress.note(`starting ${scenario.name} (${scenario.target === 'builtin' ? 'built-in target' : scenario.target})`);
      const { record, file, html } = await runScenario({
        scenario,
        source: displayArg(argv.scenario),
        watchAccess: access,
        checkpointIntervalS,
        onCheckpoint: (c) => {
          if (c.error === null || checkpointFailed) return;
          checkpointFailed = true;
          progress.note(`cannot write a checkpoint to ${c.file} (${c.error}); the run goes on`);
        },
        resultsDir: argv.out,
        label: argv.label ?? null,
        allowRemote: argv['allow-remote'] || undefined,
        signal: controller.signal,
        logRequests: argv['log-requests'],
        shard,
        onStart: (i) => {
          progress.note(`run ${i.runId}: ${i.targetUrl} with ${i.workers} worker${i.workers === 1 ? '' : 's'}`);
          if (i.shard && i.part) progress.note(`shard ${i.shard.index}/${i.shard.count}${i.part.empty ? ' runs nothing (its part of the load is empty)' : ''}: ${i.part.words}`);
          if (i.startAt) progress.note(`waiting for the start at ${i.startAt}`);
        },
        onLoadStart: (i) => {
          if (i.startAt === null || i.lateMs === null) return;
          if (i.lateMs > START_AT_STALE_MS) {
            process.stderr.write(`portstorm: warning: --start-at ${i.startAt} had passed ${(i.lateMs / 1000).toFixed(1)} s before the load was ready; started now (lateMs ${i.lateMs} recorded)\n`);
          } else progress.note(`load started ${i.lateMs} ms after ${i.startAt}`);
        },
        onProgress: (e, live) => progress.update(e, live),
      });
      progress.stop();
      if (argv.json) process.stdout.write(JSON.stringify(record) + '\n');
      else process.stdout.write(renderTextSummary(record, file, html));
      if (argv.json && !argv.quiet) process.stderr.write(`portstorm: results in ${file}\n`);
      await printRecordLine(argv, file);
      if (record.status === 'interrupted') return ExitCode.INTERRUPTED;
      return record.thresholds.some((t) => !t.passed) ? ExitCode.THRESHOLD_FAILED : ExitCode.OK;
    } finally {
      progress.stop();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
});

/** The one warning line of an HTTPS scenario that verifies nothing (`tls.insecure`), or null. */
export function insecureWarning(s: Scenario): string | null {
  return usesTls(s) && s.tls.insecure ? "portstorm: warning: tls.insecure: the target's certificate is not verified\n" : null;
}
