/** The exit codes each command's --help lists (src/cli/exit-codes.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ALL_EXIT_CODES, COMMAND_EXIT_CODES, exitCodesEpilogue } from '../../src/cli/exit-codes.js';
import { compareCommand } from '../../src/cli/commands/compare.js';
import { demoCommand } from '../../src/cli/commands/demo.js';
import { doctorCommand } from '../../src/cli/commands/doctor.js';
import { labCommand } from '../../src/cli/commands/lab.js';
import { importCommand } from '../../src/cli/commands/import.js';
import { k8sCommand } from '../../src/cli/commands/k8s.js';
import { monitorCommand } from '../../src/cli/commands/monitor.js';
import { analyzeCommand } from '../../src/cli/commands/analyze.js';
import { mergeCommand } from '../../src/cli/commands/merge.js';
import { reportCommand } from '../../src/cli/commands/report.js';
import { runCommand } from '../../src/cli/commands/run.js';
import { serveCommand } from '../../src/cli/commands/serve.js';
import { ExitCode } from '../../src/errors.js';

describe('exit codes in --help', () => {
  it('every command has its list, each code one of ExitCode, in order, always with 0 and 2', () => {
    const verbs = [runCommand, reportCommand, analyzeCommand, mergeCommand, compareCommand, serveCommand, monitorCommand, doctorCommand, labCommand, importCommand, k8sCommand, demoCommand].map((c) => c.command.split(' ')[0]!);
    assert.deepEqual(Object.keys(COMMAND_EXIT_CODES).sort(), [...verbs].sort());
    const known = new Set<number>(Object.values(ExitCode));
    for (const [verb, codes] of Object.entries(COMMAND_EXIT_CODES)) {
      assert.ok(codes.every((c) => known.has(c)), verb);
      assert.deepEqual([...codes].sort((a, b) => a - b), codes, `${verb}: in order`);
      assert.ok(codes.includes(ExitCode.OK) && codes.includes(ExitCode.USAGE), verb);
    }
    // Only commands that run a load can be interrupted with partial results; only those with rules exit 1.
    for (const verb of ['report', 'analyze', 'merge', 'serve', 'monitor', 'doctor', 'import', 'k8s']) assert.ok(!COMMAND_EXIT_CODES[verb]!.includes(ExitCode.INTERRUPTED), verb);
    assert.ok(COMMAND_EXIT_CODES.compare!.includes(ExitCode.THRESHOLD_FAILED));
    assert.ok(COMMAND_EXIT_CODES.merge!.includes(ExitCode.THRESHOLD_FAILED), 'merge judges the scenario thresholds on the merged record');
    assert.deepEqual(ALL_EXIT_CODES, [0, 1, 2, 3, 130]);
  });

  it('the epilogue is one line per code, with command-specific wording where there is some', () => {
    assert.equal(
      exitCodesEpilogue([ExitCode.OK, ExitCode.USAGE, ExitCode.RUNTIME], 'report'),
      [
        'Exit codes:',
        '  0    completed (request errors are data, not a failure)',
        '  2    not a readable run record (a scenario, a missing or invalid file), or a bad --attach',
        '  3    the --out file (with --attach: the revised record) could not be written',
      ].join('\n'),
    );
    const all = exitCodesEpilogue(ALL_EXIT_CODES).split('\n');
    assert.equal(all.length, 6);
    assert.match(all[5]!, /^ {2}130  interrupted/);
    assert.match(exitCodesEpilogue([ExitCode.THRESHOLD_FAILED], 'compare'), /1 {4}a --fail-if rule holds/);
  });
});
