#!/usr/bin/env node
/**
 * Writes the seed corpus of the framer fuzzer (native/connengine/fuzz/corpus/): real-looking HTTP
 * responses (Content-Length, chunked, read-to-close, HEAD, 1xx, pipelined) and malformed ones. A file
 * is one mode byte (bit 0: HEAD; bits 1..7: the harness's split seed) and then the response bytes.
 * Files whose name starts with `crash-` are regression inputs from fuzzing and are kept as they are.
 *
 *   node scripts/fuzz-framer-corpus.mjs
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../native/connengine/fuzz/corpus');
mkdirSync(dir, { recursive: true });
for (const f of readdirSync(dir)) if (!f.startsWith('crash-')) rmSync(path.join(dir, f));

const ok = (headers, body = '', status = '200 OK', v = '1.1') => `HTTP/${v} ${status}\r\n${headers.map((h) => h + '\r\n').join('')}\r\n${body}`;
const chunked = (...chunks) => chunks.map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join('') + '0\r\n\r\n';
const hello = 'hello, world';

/** name -> [mode, response] (mode: HEAD bit | seed << 1) */
const seeds = {
  'length': [0, ok(['Content-Length: 12', 'Content-Type: text/plain'], hello)],
  'length-zero': [2, ok(['Content-Length: 0'])],
  'length-leading-zeros': [4, ok(['content-length:  007 '], 'abcdefg')],
  'length-keepalive-10': [6, ok(['Content-Length: 5', 'Connection: keep-alive'], 'abcde', '200 OK', '1.0')],
  'length-close': [8, ok(['Content-Length: 5', 'Connection: close'], 'abcde')],
  'length-pipelined': [10, ok(['Content-Length: 2'], 'ab') + ok(['Content-Length: 2'], 'cd')],
  'length-short': [12, ok(['Content-Length: 100'], 'only this')],
  'length-huge': [14, ok(['Content-Length: 99999999999999999999999'], 'x')],
  'length-400-digits': [16, ok(['Content-Length: ' + '9'.repeat(400)], 'x')],
  'length-bad': [18, ok(['Content-Length: 1.5'], 'x')],
  'length-negative': [20, ok(['Content-Length: -1'], 'x')],
  'length-empty': [22, ok(['Content-Length:'], 'x')],
  'length-twice': [24, ok(['Content-Length: 3', 'Content-Length: 1'], 'abc')],
  'chunked': [0, ok(['Transfer-Encoding: chunked'], chunked('hello, ', 'world'))],
  'chunked-ext-trailer': [26, ok(['Transfer-Encoding: gzip, chunked'], '5;name=value\r\nhello\r\n0\r\nX-Trailer: yes\r\n\r\n')],
  'chunked-upper-hex': [28, ok(['transfer-encoding: CHUNKED'], '0A\r\n0123456789\r\n0\r\n\r\n')],
  'chunked-0x-prefix': [30, ok(['Transfer-Encoding: chunked'], '0x3\r\nabc\r\n0\r\n\r\n')],
  'chunked-signs': [32, ok(['Transfer-Encoding: chunked'], '+3\r\nabc\r\n-0\r\n\r\n')],
  'chunked-negative': [34, ok(['Transfer-Encoding: chunked'], '-3\r\nabc\r\n0\r\n\r\n')],
  'chunked-bad-size': [36, ok(['Transfer-Encoding: chunked'], 'zz\r\nabc\r\n0\r\n\r\n')],
  'chunked-lf-only': [38, ok(['Transfer-Encoding: chunked'], '3\nabc\r\n0\n\n')],
  'chunked-long-line': [40, ok(['Transfer-Encoding: chunked'], '3;' + 'x'.repeat(1100) + '\r\nabc\r\n0\r\n\r\n')],
  'chunked-huge-size': [42, ok(['Transfer-Encoding: chunked'], 'f'.repeat(300) + '\r\nabc')],
  'chunked-big-size': [44, ok(['Transfer-Encoding: chunked'], '20000000000001' + '8\r\nabc')],
  'chunked-cut': [46, ok(['Transfer-Encoding: chunked'], '5\r\nhel')],
  'chunked-nbsp': [48, ok(['Transfer-Encoding: chunked'], '\xa0 3 \xa0\r\nabc\r\n0\r\n\r\n')],
  'chunked-over-length': [50, ok(['Content-Length: 3', 'Transfer-Encoding: chunked'], chunked('abcdef'))],
  'chunked-pipelined': [52, ok(['Transfer-Encoding: chunked'], chunked('ab')) + ok(['Content-Length: 0'])],
  'chunked-not-last': [54, ok(['Transfer-Encoding: chunked, gzip', 'Content-Length: 2'], 'ab')],
  'close': [0, ok(['Content-Type: text/plain'], 'read until the peer closes')],
  'close-keepalive-header': [56, ok(['Connection: keep-alive'], 'body')],
  'head': [1, ok(['Content-Length: 12'])],
  'head-chunked': [3, ok(['Transfer-Encoding: chunked'])],
  'head-body-follows': [5, ok(['Content-Length: 3'], 'abc')],
  'status-204': [58, ok(['Content-Length: 5'], '', '204 No Content')],
  'status-304': [60, ok([], '', '304 Not Modified')],
  'status-404': [62, ok(['Content-Length: 9'], 'not found', '404 Not Found')],
  'status-503-close': [64, ok(['Connection: close'], 'busy', '503 Service Unavailable')],
  'status-no-reason': [66, 'HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx'],
  'interim-100': [68, 'HTTP/1.1 100 Continue\r\n\r\n' + ok(['Content-Length: 2'], 'ok')],
  'interim-103-twice': [70, 'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 101 X\r\n\r\n' + ok(['Transfer-Encoding: chunked'], chunked('ok'))],
  'interim-only': [72, 'HTTP/1.1 100 Continue\r\n\r\n'],
  'bad-version': [74, 'HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n'],
  'bad-status': [76, 'HTTP/1.1 2x0 OK\r\n\r\n'],
  'bad-lowercase': [78, 'http/1.1 200 OK\r\n\r\n'],
  'bad-garbage': [80, 'garbage\r\n\r\n'],
  'bad-short-status': [82, 'HTTP/1.1 20\r\n\r\n'],
  'head-incomplete': [84, 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n'],
  'head-lf-only': [86, 'HTTP/1.1 200 OK\nContent-Length: 0\n\n'],
  'header-no-colon': [88, ok(['Content-Length 5', ':empty-name', 'Content-Length: 1'], 'a')],
  'header-ws-name': [90, ok([' \tContent-Length\xa0: 2\x0b'], 'ab')],
  'connection-both': [92, ok(['Connection: close, keep-alive', 'Content-Length: 0'])],
  'empty': [0, ''],
};

for (const [name, [mode, text]] of Object.entries(seeds)) {
  writeFileSync(path.join(dir, name), Buffer.concat([Buffer.from([mode]), Buffer.from(text, 'latin1')]));
}
process.stdout.write(`wrote ${Object.keys(seeds).length} seeds to ${path.relative(process.cwd(), dir)}\n`);
