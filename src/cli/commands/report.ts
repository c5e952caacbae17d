/** `portstorm report <run>`: re-render any saved run record as text, JSON, Markdown or HTML, with hosts attached after the fact (`--attach`). */
import { readAnalysedRun } from '../../analysis/analysed-run.js';
import type { RunRecord } from '../../record/types.js';
import { displayArg } from '../../scenario/load.js';
import { attachFiles, parseAttachFlags, type AttachFlag } from '../attach-hosts.js';
import { renderHtml } from '../../report/html.js';
import { renderMarkdown } from '../../report/markdown.js';
import { partialNote } from '../../report/status.js';
import { renderTextSummary } from '../../report/text.js';
import { defineCommand } from '../command.js';
import { emit } from '../output.js';

interface ReportArgs {
  run: string;
  format: 'text' | 'json' | 'md' | 'html';
  out?: string;
  attach: string[];
}

/** Attaches the hosts, saying on stderr how each file covers the run and where the revised record went. */
async function attach(run: string, flags: AttachFlag[]): Promise<RunRecord> {
  const { record, revised, html } = await attachFiles(run, flags, (line) => process.stderr.write(`portstorm: ${line}\n`));
  const kept = revised.fallback ? `the original left as it was` : revised.keptBefore ? `the original still in ${displayArg(revised.original)}` : `the original kept as ${displayArg(revised.original)}`;
  const names = flags.map((f) => f.name).join(', ');
  process.stderr.write(`portstorm: wrote ${displayArg(revised.file)} with ${names} (${kept})${html ? ` and ${displayArg(html)}` : ''}\n`);
  return record;
}

/** The `report` command. */
export const reportCommand = defineCommand<ReportArgs>({
  command: 'report <run>',
  describe: 'Re-render a saved run (a run directory or run.json) as text, json, md or html; --attach adds a host observed apart from it',
  builder: (y) =>
    y
      .positional('run', { type: 'string', demandOption: true, describe: 'results/<runId> or a run.json' })
      .option('format', { choices: ['text', 'json', 'md', 'html'] as const, default: 'text' as const, describe: 'output format' })
      .option('out', { type: 'string', describe: 'write to this file instead of stdout' })
      .option('attach', {
        type: 'string',
        array: true,
        nargs: 1,
        default: [],
        describe: 'attach a host\'s portstorm monitor --out file, aligned by wall-clock time: NAME=FILE or NAME:ROLE=FILE (role service unless given); rewrites run.json (the original kept as run.orig.json) and report.html',
      })
      .example('$0 report results/20261124-014024-demo-0072 --format md >> "$GITHUB_STEP_SUMMARY"', 'a CI job summary')
      .example('$0 report run.json --format html --out report.html', 'the charts, one self-contained file')
      .example('$0 report results/20261124-014024-demo-0072 --attach service=samples.ndjson', "the service's sockets (from its monitor --out) in the run's record") as never,
  async run(argv) {
    const flags = parseAttachFlags(argv.attach);
    const record = flags.length === 0 ? await readAnalysedRun(argv.run) : await attach(argv.run, flags);
    const text =
      argv.format === 'json'
        ? JSON.stringify(record, null, 1) + '\n'
        : argv.format === 'md'
          ? renderMarkdown(record)
          : argv.format === 'html'
            ? renderHtml(record)
            : renderTextSummary(record, null);
    await emit(text, argv.out);
    // The text summary says so itself; other formats may go to a file nobody reads at once.
    const partial = partialNote(record);
    if (partial && argv.format !== 'text') process.stderr.write(`portstorm: ${argv.run}: ${partial}\n`);
    return 0;
  },
});
