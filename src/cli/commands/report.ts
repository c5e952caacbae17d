/** `portstorm report <run>`: re-render any saved run record as text, JSON, Markdown or HTML. */
import { readAnalysedRun } from '../../analysis/analysed-run.js';
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
}

/** The `report` command. */
export const reportCommand = defineCommand<ReportArgs>({
  command: 'report <run>',
  describe: 'Re-render a saved run (a run directory or run.json) as text, json, md or html',
  builder: (y) =>
    y
      .positional('run', { type: 'string', demandOption: true, describe: 'results/<runId> or a run.json' })
      .option('format', { choices: ['text', 'json', 'md', 'html'] as const, default: 'text' as const, describe: 'output format' })
      .option('out', { type: 'string', describe: 'write to this file instead of stdout' })
      .example('$0 report results/20261124-014024-demo-0072 --format md >> "$GITHUB_STEP_SUMMARY"', 'a CI job summary')
      .example('$0 report run.json --format html --out report.html', 'the charts, one self-contained file') as never,
  async run(argv) {
    const record = await readAnalysedRun(argv.run);
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
