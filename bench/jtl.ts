/**
 * `node build/bench/jtl.js [--rows 2000000] [--keep]`: how fast `portstorm analyze` reads a CSV JTL,
 * against `wc -l` of the same file (its peer: the least any reader of the file must do), and the peak
 * RSS of the analyze process. Issue 18 asks for a 1 GB JTL (≈ 10 M samples) in < 300 MB at ≥ 1 M rows/s.
 *
 * Generates a JTL in JMeter's default columns (2 % BindException failures, 200 threads, one URL,
 * ~120 bytes a row) in a temporary directory, times `wc -l` and then `portstorm analyze --out <tmp>`
 * as child processes (analyze under /usr/bin/time -v for its maximum RSS, else its own
 * resourceUsage is not reachable and RSS is reported as unknown), and deletes it all (`--keep` keeps
 * the JTL). `--rows 10000000` is the 1 GB figure in BENCHMARKS.md; the default is a quicker check.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const { values } = parseArgs({ options: { rows: { type: 'string', default: '2000000' }, keep: { type: 'boolean', default: false } } });
const rows = Number(values.rows);

async function generate(file: string, n: number): Promise<void> {
  const out = createWriteStream(file);
  out.write('timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect\n');
  let t = 1_700_000_000_000;
  let buf = '';
  for (let i = 0; i < n; i++) {
    if (i % 10 === 0) t++;
    const el = 5 + (i % 97);
    const thread = `Thread Group 1-${(i % 200) + 1}`;
    buf +=
      i % 50 !== 0
        ? `${t},${el},HTTP Request,200,OK,${thread},text,true,,1234,120,200,200,http://198.18.0.2:8080/api,${el - 1},0,${i % 3}\n`
        : `${t},${el},HTTP Request,Non HTTP response code: java.net.BindException,Non HTTP response message: Cannot assign requested address,${thread},text,false,,2000,0,200,200,http://198.18.0.2:8080/api,0,0,0\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await new Promise<void>((r) => out.once('drain', () => r()));
      buf = '';
    }
  }
  await new Promise<void>((r) => out.end(buf, () => r()));
}

function timed(cmd: string, args: string[]): { s: number; stderr: string; status: number | null } {
  const began = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { s: Number(process.hrtime.bigint() - began) / 1e9, stderr: r.stderr, status: r.status };
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-bench-jtl-'));
try {
  const jtl = path.join(dir, 'results.jtl');
  await generate(jtl, rows);
  const bytes = statSync(jtl).size;
  const wc = timed('wc', ['-l', jtl]);
  const viaTime = existsSync('/usr/bin/time');
  const cmd = viaTime ? '/usr/bin/time' : process.execPath;
  const args = [...(viaTime ? ['-v', process.execPath] : []), CLI, 'analyze', jtl, '--out', path.join(dir, 'results'), '--json'];
  const an = timed(cmd, args);
  if (an.status !== 0) throw new Error(`analyze failed: ${an.stderr}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(an.stderr);
  const mb = (x: number) => `${(x / 1e6).toFixed(0)} MB`;
  console.log(`JTL: ${rows.toLocaleString('en')} rows, ${mb(bytes)}`);
  console.log(`wc -l      ${wc.s.toFixed(2)} s  (${Math.round(rows / wc.s).toLocaleString('en')} rows/s)`);
  console.log(`analyze    ${an.s.toFixed(2)} s  (${Math.round(rows / an.s).toLocaleString('en')} rows/s, ${(bytes / 1e6 / an.s).toFixed(0)} MB/s), peak RSS ${rss ? `${Math.round(Number(rss[1]) / 1024)} MB` : 'unknown (no /usr/bin/time)'}`);
  console.log(`ratio      analyze / wc -l = ${(an.s / wc.s).toFixed(1)}×`);
} finally {
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
}
