/**
 * `portstorm compare <baseline> <candidate> [<more> ...]`: what changed between saved runs, and
 * each candidate's figures beside the baseline's with a noise test fit for runs that change state
 * (block bootstrap split at the onset, exact tests for error counts); `--fail-if` rules gate CI.
 */
import { readAnalysedRun } from '../../analysis/analysed-run.js';
import { compareRuns } from '../../compare/compare.js';
import { evaluateFailIf, parseFailIf } from '../../compare/rules.js';
import type { CompareResult } from '../../compare/types.js';
import { ExitCode, UsageError } from '../../errors.js';
import type { RunRecord } from '../../record/types.js';
import { renderCompareMarkdown } from '../../report/compare-markdown.js';
import { formatFailIf, renderCompareText } from '../../report/compare-text.js';
import { renderCompareHtml } from '../../report/compare-html.js';
import { defineCommand } from '../command.js';
import { emit } from '../output.js';

interface CompareArgs {
  baseline: string;
  candidate: string;
  more?: string[];
  format: 'text' | 'json' | 'md' | 'html';
  out?: string;
  'fail-if': string[];
}

function render(format: CompareArgs['format'], runs: RunRecord[], result: CompareResult): string {
  if (format === 'json') return JSON.stringify(result, null, 1) + '\n';
  if (format === 'md') return renderCompareMarkdown(result);
  if (format === 'html') return renderCompareHtml(runs, result);
  return renderCompareText(result);
}

/** The `compare` command. */
export const compareCommand = defineCommand<CompareArgs>({
  command: 'compare <baseline> <candidate> [more..]',
  describe: 'Compare saved runs: what changed, and each candidate against the baseline with a noise test',
  builder: (y) =>
    y
      .positional('baseline', { type: 'string', demandOption: true, describe: 'the baseline: results/<runId> or a run.json' })
      .positional('candidate', { type: 'string', demandOption: true, describe: 'a run to compare with the baseline' })
      .positional('more', { type: 'string', array: true, describe: 'more candidates' })
      .option('format', { choices: ['text', 'json', 'md', 'html'] as const, default: 'text' as const, describe: 'output format' })
      .option('out', { type: 'string', describe: 'write to this file instead of stdout' })
      .option('fail-if', {
        type: 'string',
        array: true,
        nargs: 1,
        default: [],
        describe:
          'exit 1 when a candidate matches: <metric> <op> <number | +N% | -N%>, e.g. "latency.p99 > +10%", "tls.p99 > +20%", ' +
          '"tlsResumedRate < 0.5". A latency.<stat>, connect.<stat>, tls.<stat> or dns.<stat> rule is not applied when the two runs\' figures cover shares of their attempts more than 10 points apart ' +
          '(p99 of the 28 % that succeeded before ports ran out vs of all); end it in any-coverage to apply it anyway: "latency.p99 > +10% any-coverage"',
      })
      .example('$0 compare results/before results/after', 'what changed, and whether it made a difference')
      .example('$0 compare base/run.json new/run.json --fail-if "latency.p99 > +10%" --fail-if "errors.EADDRNOTAVAIL > 0"', 'a CI gate')
      .example('$0 compare a b --fail-if "latency.p99 > +10% any-coverage"', 'a latency gate even when the runs failed different shares of requests')
      .example('$0 compare a b --format md >> "$GITHUB_STEP_SUMMARY"', 'a CI job summary') as never,
  async run(argv) {
    const rules = argv['fail-if'] ?? [];
    rules.forEach(parseFailIf); // a malformed rule is a usage error before any file is read
    const inputs = [argv.baseline, argv.candidate, ...(argv.more ?? [])];
    if (inputs.length < 2) throw new UsageError('compare needs a baseline and at least one candidate run');
    const runs: RunRecord[] = [];
    for (const input of inputs) runs.push(await readAnalysedRun(input));
    const result = compareRuns(runs);
    result.failIf = evaluateFailIf(result, rules);
    await emit(render(argv.format, runs, result), argv.out);
    const holding = result.failIf.filter((f) => f.holds);
    for (const f of holding) process.stderr.write(`portstorm: fail-if holds: ${formatFailIf(f)}\n`);
    return holding.length > 0 ? ExitCode.THRESHOLD_FAILED : ExitCode.OK;
  },
});
