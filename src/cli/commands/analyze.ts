/** `portstorm analyze <results.jtl>`: a JMeter results file made into a run record, diagnosed and reported as a run is. */
import ora, { type Ora } from 'ora';
import { analyzeJtl } from '../../jmeter/analyze.js';
import { checkOutputDir } from '../../record/run-file.js';
import { renderTextSummary } from '../../report/text.js';
import { displayArg } from '../../scenario/load.js';
import { parseAttachFlags } from '../attach-hosts.js';
import { defineCommand } from '../command.js';

interface AnalyzeArgs {
  jtl: string;
  monitor: string[];
  attach: string[];
  out: string;
  label?: string;
  json: boolean;
  timestamp: 'start' | 'end';
}

/** A progress bar on a TTY for a file that takes more than a second; nothing otherwise. */
function progressBar(stream: NodeJS.WriteStream, file: string): { update: (read: number, total: number) => void; stop: () => void } {
  const began = Date.now();
  let spinner: Ora | null = null;
  return {
    update(read, total) {
      if (!stream.isTTY) return;
      if (!spinner && Date.now() - began < 1000) return;
      const share = total > 0 ? read / total : 0;
      const width = 24;
      const bar = '█'.repeat(Math.round(share * width)).padEnd(width, '░');
      const text = `${file} ${bar} ${Math.floor(share * 100)}%  ${(read / 1e6).toFixed(0)} of ${(total / 1e6).toFixed(0)} MB`;
      if (!spinner) spinner = ora({ text, stream }).start();
      else spinner.text = text;
    },
    stop() {
      spinner?.stop();
    },
  };
}

/** The `analyze` command. */
export const analyzeCommand = defineCommand<AnalyzeArgs>({
  command: 'analyze <jtl>',
  describe: 'Make a JMeter results file (JTL: CSV with or without a header, or XML) into a run record, diagnosed and reported like a run',
  builder: (y) =>
    y
      .positional('jtl', { type: 'string', demandOption: true, describe: 'the JMeter results file' })
      .option('monitor', {
        type: 'string',
        array: true,
        nargs: 1,
        default: [],
        describe: "a portstorm monitor --out file recorded on the JMeter machine during the test: its sockets, ports and counters (repeatable: one host's files)",
      })
      .option('attach', {
        type: 'string',
        array: true,
        nargs: 1,
        default: [],
        describe: "another host's portstorm monitor --out file, as report --attach takes it: NAME=FILE or NAME:ROLE=FILE",
      })
      .option('out', { type: 'string', default: 'results', describe: 'directory for <runId>/run.json and report.html' })
      .option('label', { type: 'string', describe: 'a label stored with the record (e.g. "before tuning")' })
      .option('json', { type: 'boolean', default: false, describe: 'print the run record to stdout instead of the summary' })
      .option('timestamp', {
        choices: ['start', 'end'] as const,
        default: 'start' as const,
        describe: "what the JTL's timeStamp is: the sample's start (sampleresult.timestamp.start=true, as jmeter.properties ships) or its end",
      })
      .example('$0 analyze results.jtl', 'the record, the summary and report.html of a JMeter test')
      .example('$0 analyze results.jtl --monitor jmeter-host.ndjson --attach service=service.ndjson', 'with the sockets of the JMeter machine and of the service') as never,
  async run(argv) {
    const attach = parseAttachFlags(argv.attach);
    await checkOutputDir(argv.out);
    const file = displayArg(argv.jtl);
    const bar = progressBar(process.stderr, file);
    const notes: string[] = [];
    let outcome;
    try {
      outcome = await analyzeJtl({
        jtl: argv.jtl,
        jtlLabel: file,
        monitors: argv.monitor,
        attach,
        resultsDir: argv.out,
        label: argv.label ?? null,
        timestampIsStart: argv.timestamp === 'start',
        onProgress: (read, total) => bar.update(read, total),
        onNote: (line) => notes.push(line),
      });
    } finally {
      bar.stop();
    }
    const { record, read } = outcome;
    if (read.skipped > 0) {
      const first = read.firstSkipped!;
      process.stderr.write(`portstorm: ${file}: skipped ${read.skipped} unreadable row${read.skipped === 1 ? '' : 's'} (the first at line ${first.line}: ${first.why})\n`);
    }
    const unknown = read.header?.unknown ?? [];
    if (unknown.length > 0) process.stderr.write(`portstorm: ${file}:1: ${unknown.length} column${unknown.length === 1 ? '' : 's'} portstorm does not read, ignored: ${unknown.join(', ')}\n`);
    for (const n of notes) process.stderr.write(`portstorm: ${n}\n`);
    if (argv.json) process.stdout.write(JSON.stringify(record) + '\n');
    else process.stdout.write(renderTextSummary(record, outcome.file, outcome.html));
    return 0;
  },
});
