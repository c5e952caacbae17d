/** `portstorm report <run>`: re-render any saved run record as text, JSON, Markdown or HTML. */
import { writeFile } from 'node:fs/promises';
import { diagnose } from '../../analysis/diagnose.js';
import { analyzeExhaustion } from '../../analysis/exhaustion.js';
import { RuntimeFailure } from '../../errors.js';
import { readRunRecord } from '../../record/run-file.js';
import { renderHtml } from '../../report/html.js';
import { renderMarkdown } from '../../report/markdown.js';
import { renderTextSummary } from '../../report/text.js';
import { defineCommand } from '../command.js';

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
    const record = await readRunRecord(argv.run);
    // Records written before the analysis existed, or by an older version, are analysed now.
    record.exhaustion ??= analyzeExhaustion(record);
    record.diagnosis ??= diagnose(record, record.exhaustion);
    const text =
      argv.format === 'json'
        ? JSON.stringify(record, null, 1) + '\n'
        : argv.format === 'md'
          ? renderMarkdown(record)
          : argv.format === 'html'
            ? renderHtml(record)
            : renderTextSummary(record, null);
    if (argv.out) {
      await writeFile(argv.out, text).catch((err: NodeJS.ErrnoException) => {
        throw new RuntimeFailure(`cannot write ${argv.out}: ${err.code ?? err.message}`);
      });
      process.stderr.write(`portstorm: wrote ${argv.out}\n`);
    } else process.stdout.write(text);
    return 0;
  },
});
