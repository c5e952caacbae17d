/**
 * `portstorm serve --proxy-to` as a user runs it: bad flag combinations told in one line with exit
 * 2, and a real proxy in front of a built-in target (in this process) that answers, stops on
 * SIGTERM and prints its counters.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { startTarget } from '../../src/target/server.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function cli(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, 'serve', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}

describe('portstorm serve --proxy-to', () => {
  const bad: [string[], RegExp][] = [
    [['--proxy-to', 'not a url'], /^portstorm: --proxy-to: expected a URL like http:\/\/10\.0\.0\.2:8080, got "not a url"\n$/],
    [['--proxy-to', 'https://127.0.0.1:8080'], /^portstorm: --proxy-to: only http:\/\/ upstreams are proxied, got https:\n$/],
    [['--proxy-to', 'http://backend:8080'], /^portstorm: --proxy-to: expected an IP address \(the proxy resolves no names\), got "backend"\n$/],
    [['--proxy-to', 'http://127.0.0.1:8080', '--tls'], /^portstorm: --proxy-to: the built-in proxy speaks plain HTTP only; leave out --tls/],
    [['--proxy-to', 'http://127.0.0.1:8080', '--protocol', 'tcp'], /^portstorm: --proxy-to: the built-in proxy speaks HTTP only; leave out --protocol tcp\n$/],
    [['--upstream-reuse'], /^portstorm: --upstream-reuse: only with --proxy-to URL/],
    [['--failure-status', '503'], /^portstorm: --failure-status: only with --proxy-to URL/],
    [['--proxy-to', 'http://127.0.0.1:8080', '--failure-status', '200'], /^portstorm: --failure-status: expected an HTTP status from 500 to 599, got 200\n$/],
    [['--proxy-to', 'http://127.0.0.1:8080', '--upstream-reuse', '--upstream-pool-size', '0'], /^portstorm: --upstream-pool-size: expected an integer from 1 to 10000, got 0\n$/],
    [['--proxy-to', 'http://127.0.0.1:8080', '--upstream-pool-size', '4'], /^portstorm: --upstream-pool-size: only with --upstream-reuse/],
    [['--proxy-to', 'http://127.0.0.1:8080', '--upstream-close', 'never'], /^portstorm: .*upstream-close.*\n$/],
    [['--proxy-to', 'http://127.0.0.1:8080', '--close', 'after-response'], /^portstorm: --close: applies to the built-in target; with --proxy-to see --upstream-close\n$/],
  ];
  for (const [args, message] of bad) {
    it(`refuses ${args.join(' ')}: one line, exit 2`, () => {
      const r = cli(args);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.split('\n').length, 2, r.stderr);
    });
  }

  it('proxies to a backend, and prints its counters when stopped', async () => {
    const backend = await startTarget({ protocol: 'http', host: '127.0.0.1', port: 0, delayMs: 0, bodyBytes: 3, close: 'never' });
    const child = spawn(process.execPath, [MAIN, 'serve', '--port', '0', '--duration', '30s', '--proxy-to', `http://127.0.0.1:${backend.port}`]);
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 20_000;
      while (!/listening on/.test(err) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const m = /^portstorm serve: proxy listening on 127\.0\.0\.1:(\d+) to http:\/\/127\.0\.0\.1:\d+ \(a new connection per request, closed by the proxy first: TIME_WAIT here; failures answered 502\)\n/.exec(err);
      assert.ok(m, err);
      const url = `http://127.0.0.1:${m[1]}/`;
      for (let i = 0; i < 5; i++) {
        const res = await request(url);
        assert.equal(res.statusCode, 200);
        assert.equal(await res.body.text(), 'ooo');
      }
      child.kill('SIGTERM');
      assert.equal(await exited, 0, err);
      assert.match(
        err,
        /\nportstorm serve: stopped \(SIGTERM\) after \d+\.\d s: 5 requests, 5 upstream connections, answered 200 ×5, upstream failures none\n$/,
      );
    } finally {
      child.kill('SIGKILL');
      await backend.close();
    }
  });
});
