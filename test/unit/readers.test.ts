import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { byteCountReader, httpResponseReader, type ReadState, type ResponseReader } from '../../src/load/transport/readers.js';

const NOT_DONE: ReadState = { done: false };

function done(failure: string | null, keepAlive: boolean): ReadState {
  return { done: true, failure, keepAlive };
}

function bytes(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/**
 * Feeds `resp` to fresh readers in every way: whole, one byte at a time, and split in two at every
 * byte boundary. The reader must say nothing until byte `doneAt` (default: the last) and then
 * report `expected`.
 */
function assertCompletesAt(make: () => ResponseReader, resp: Buffer, expected: ReadState, doneAt = resp.length): void {
  assert.ok(doneAt >= 1 && doneAt <= resp.length);
  const relevant = resp.subarray(0, doneAt);

  assert.deepEqual(make().feed(relevant), expected, 'fed whole');

  const r1 = make();
  for (let i = 0; i < doneAt; i++) {
    const st = r1.feed(relevant.subarray(i, i + 1));
    if (i < doneAt - 1) assert.deepEqual(st, NOT_DONE, `one byte at a time: done early at byte ${i} of ${doneAt}`);
    else assert.deepEqual(st, expected, 'one byte at a time: final state');
  }

  for (let k = 0; k < doneAt; k++) {
    const r = make();
    assert.deepEqual(r.feed(relevant.subarray(0, k)), NOT_DONE, `split at ${k}: first part`);
    assert.deepEqual(r.feed(relevant.subarray(k)), expected, `split at ${k}: second part`);
  }

  // Three pieces at a spread of boundaries.
  for (let a = 1; a < doneAt; a += 3) {
    for (let b = a + 1; b < doneAt; b += 5) {
      const r = make();
      assert.deepEqual(r.feed(relevant.subarray(0, a)), NOT_DONE, `split ${a}/${b}: first`);
      assert.deepEqual(r.feed(relevant.subarray(a, b)), NOT_DONE, `split ${a}/${b}: second`);
      assert.deepEqual(r.feed(relevant.subarray(b)), expected, `split ${a}/${b}: third`);
    }
  }
}

/** Feeds `resp` in every two-way split and one byte at a time; never done; end() gives `expected`. */
function assertCompletesAtEnd(make: () => ResponseReader, resp: Buffer, expected: ReadState | null): void {
  const feedAll = (r: ResponseReader, pieces: Buffer[], what: string) => {
    for (const p of pieces) assert.deepEqual(r.feed(p), NOT_DONE, what);
    assert.deepEqual(r.end(), expected, `${what}: end()`);
  };
  feedAll(make(), [resp], 'whole');
  feedAll(
    make(),
    [...resp].map((b) => Buffer.from([b])),
    'one byte at a time',
  );
  for (let k = 0; k <= resp.length; k++) feedAll(make(), [resp.subarray(0, k), resp.subarray(k)], `split at ${k}`);
}

const get = () => httpResponseReader(false);
const head = () => httpResponseReader(true);

describe('httpResponseReader: Content-Length bodies', () => {
  it('200 with a body completes exactly at its last byte, keep-alive', () => {
    assertCompletesAt(get, bytes('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello'), done(null, true));
  });

  it('a body holding CRLFCRLF and header-like bytes is counted, not parsed', () => {
    const body = '\r\n\r\nHTTP/1.1 500 X\r\n\r\n';
    assertCompletesAt(get, bytes(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`), done(null, true));
  });

  it('404 → HTTP_4XX', () => {
    assertCompletesAt(get, bytes('HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found'), done('HTTP_4XX', true));
  });

  it('503 → HTTP_5XX', () => {
    assertCompletesAt(get, bytes('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\n\r\nbusy'), done('HTTP_5XX', true));
  });

  it('302 is not a failure', () => {
    assertCompletesAt(get, bytes('HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 2\r\n\r\nok'), done(null, true));
  });

  it('Content-Length: 0 completes at the end of the head', () => {
    assertCompletesAt(get, bytes('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), done(null, true));
  });

  it('header names and values are case-insensitive, surrounding spaces ignored', () => {
    assertCompletesAt(get, bytes('HTTP/1.1 200 OK\r\nCONTENT-LENGTH:   3  \r\nCONNECTION: CLOSE\r\n\r\nabc'), done(null, false));
  });

  it('Connection: close → keepAlive false', () => {
    assertCompletesAt(get, bytes('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi'), done(null, false));
    assertCompletesAt(get, bytes('HTTP/1.1 500 Oops\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi'), done('HTTP_5XX', false));
  });

  it('HTTP/1.1 with Connection: keep-alive stays keep-alive', () => {
    assertCompletesAt(get, bytes('HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi'), done(null, true));
  });

  it('HTTP/1.0 → keepAlive false unless Connection: keep-alive', () => {
    assertCompletesAt(get, bytes('HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi'), done(null, false));
    assertCompletesAt(get, bytes('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi'), done(null, true));
    assertCompletesAt(get, bytes('HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nhi'), done(null, true));
  });

  it('a short body: end() returns null', () => {
    const resp = bytes('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort');
    assertCompletesAtEnd(get, resp, null);
  });

  it('end() before or inside the head returns null', () => {
    assert.equal(get().end(), null);
    const r = get();
    assert.deepEqual(r.feed(bytes('HTTP/1.1 200 OK\r\nContent-Le')), NOT_DONE);
    assert.equal(r.end(), null);
  });
});

describe('httpResponseReader: chunked bodies', () => {
  it('several chunks, no trailers', () => {
    const resp = bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\n\r\n');
    assertCompletesAt(get, resp, done(null, true));
  });

  it('chunk data holding CRLF, hex digits and a fake last-chunk is counted, not parsed', () => {
    const data = '0\r\n\r\n';
    const resp = bytes(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${data.length.toString(16)}\r\n${data}\r\n0\r\n\r\n`);
    assertCompletesAt(get, resp, done(null, true));
  });

  it('uppercase and multi-digit hex sizes', () => {
    const big = 'x'.repeat(0x1f);
    const resp = bytes(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1F\r\n${big}\r\n1f\r\n${big}\r\n0\r\n\r\n`);
    assertCompletesAt(get, resp, done(null, true));
  });

  it('chunk extensions are ignored', () => {
    const resp = bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;foo=bar\r\nhello\r\n3 ; name="v"\r\nabc\r\n0;last\r\n\r\n');
    assertCompletesAt(get, resp, done(null, true));
  });

  it('trailers are consumed up to the empty line', () => {
    const resp = bytes(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n',
    );
    assertCompletesAt(get, resp, done(null, true));
  });

  it('a chunked 500 with Connection: close', () => {
    const resp = bytes('HTTP/1.1 500 Internal\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nerr\r\n0\r\n\r\n');
    assertCompletesAt(get, resp, done('HTTP_5XX', false));
  });

  it('chunked wins over Content-Length; codings list with chunked last', () => {
    const resp = bytes('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    assertCompletesAt(get, resp, done(null, true));
  });

  it('a chunked body cut short: end() returns null', () => {
    assertCompletesAtEnd(get, bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n'), null);
  });

  it('a bad chunk size → PROTOCOL', () => {
    const r = get();
    assert.deepEqual(r.feed(bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')), NOT_DONE);
    assert.deepEqual(r.feed(bytes('zz\r\n')), done('PROTOCOL', false));
  });
});

describe('httpResponseReader: bodies delimited by the connection end', () => {
  it('no length, no chunked: never done until end(), which returns done', () => {
    assertCompletesAtEnd(get, bytes('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nstreaming body\r\n\r\nmore'), done(null, false));
  });

  it('a close-delimited error keeps its failure code', () => {
    assertCompletesAtEnd(get, bytes('HTTP/1.0 502 Bad Gateway\r\n\r\nbad'), done('HTTP_5XX', false));
  });

  it('an empty close-delimited body', () => {
    assertCompletesAtEnd(get, bytes('HTTP/1.1 200 OK\r\nServer: x\r\n\r\n'), done(null, false));
  });
});

describe('httpResponseReader: interim responses and bodiless responses', () => {
  it('100 Continue is skipped, then the 200 is read', () => {
    const resp = bytes('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    assertCompletesAt(get, resp, done(null, true));
  });

  it('several 1xx then a 404', () => {
    const resp = bytes('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 404 Nope\r\nContent-Length: 1\r\n\r\nx');
    assertCompletesAt(get, resp, done('HTTP_4XX', true));
  });

  it('an interim Connection: close does not leak into the final response', () => {
    const resp = bytes('HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx');
    assertCompletesAt(get, resp, done(null, true));
  });

  it('HEAD: done right after the headers despite a Content-Length', () => {
    const headPart = 'HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n';
    assertCompletesAt(head, bytes(headPart), done(null, true));
  });

  it('HEAD: done right after the headers despite chunked', () => {
    assertCompletesAt(head, bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'), done(null, true));
  });

  it('HEAD of a 404 keeps the failure', () => {
    assertCompletesAt(head, bytes('HTTP/1.1 404 Not Found\r\nContent-Length: 50\r\n\r\n'), done('HTTP_4XX', true));
  });

  it('204 and 304 have no body', () => {
    assertCompletesAt(get, bytes('HTTP/1.1 204 No Content\r\n\r\n'), done(null, true));
    assertCompletesAt(get, bytes('HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n'), done(null, true));
    assertCompletesAt(get, bytes('HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\nETag: "x"\r\n\r\n'), done(null, true));
    assertCompletesAt(get, bytes('HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n'), done(null, true));
  });
});

describe('httpResponseReader: protocol errors', () => {
  it('a garbage status line → PROTOCOL', () => {
    assertCompletesAt(get, bytes('garbage\r\n\r\n'), done('PROTOCOL', false));
    assertCompletesAt(get, bytes('HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n'), done('PROTOCOL', false));
    assertCompletesAt(get, bytes('HTTP/1.1 OK\r\n\r\n'), done('PROTOCOL', false));
  });

  it('a head over 64 KiB without CRLFCRLF → PROTOCOL', () => {
    const r = get();
    assert.deepEqual(r.feed(bytes('HTTP/1.1 200 OK\r\n')), NOT_DONE);
    const filler = bytes('X-Pad: ' + 'a'.repeat(1024 - 9) + '\r\n');
    assert.equal(filler.length, 1024);
    let state: ReadState = NOT_DONE;
    let fed = 17;
    while (!state.done && fed <= 70 * 1024) {
      state = r.feed(filler);
      fed += filler.length;
    }
    assert.deepEqual(state, done('PROTOCOL', false));
    assert.ok(fed > 64 * 1024, `failed after only ${fed} bytes`);
    assert.ok(fed <= 64 * 1024 + 1024, `failed only after ${fed} bytes`);
  });

  it('a head over 64 KiB in one chunk → PROTOCOL', () => {
    const r = get();
    assert.deepEqual(r.feed(Buffer.alloc(64 * 1024 + 1, 0x61)), done('PROTOCOL', false));
  });

  it('a large head that does end is accepted', () => {
    const resp = bytes('HTTP/1.1 200 OK\r\nX-Big: ' + 'b'.repeat(32 * 1024) + '\r\nContent-Length: 1\r\n\r\nz');
    const r = get();
    let state: ReadState = NOT_DONE;
    for (let i = 0; i < resp.length; i += 1000) state = r.feed(resp.subarray(i, i + 1000));
    assert.deepEqual(state, done(null, true));
  });

  for (const bad of ['-1', 'abc', '1.5']) {
    it(`Content-Length: ${bad} → PROTOCOL`, () => {
      assertCompletesAt(get, bytes(`HTTP/1.1 200 OK\r\nContent-Length: ${bad}\r\n\r\n`), done('PROTOCOL', false));
    });
  }
});

describe('byteCountReader', () => {
  it('is done after n bytes across chunks', () => {
    const r = byteCountReader(10);
    assert.deepEqual(r.feed(Buffer.alloc(3)), NOT_DONE);
    assert.deepEqual(r.feed(Buffer.alloc(0)), NOT_DONE);
    assert.deepEqual(r.feed(Buffer.alloc(6)), NOT_DONE);
    assert.deepEqual(r.feed(Buffer.alloc(1)), done(null, true));
  });

  it('is done at every split of n bytes', () => {
    const payload = Buffer.from('0123456789abcdef');
    assertCompletesAt(() => byteCountReader(payload.length), payload, done(null, true));
  });

  it('n = 0 is done on an empty feed', () => {
    assert.deepEqual(byteCountReader(0).feed(Buffer.alloc(0)), done(null, true));
  });

  it('end() before n bytes → null; after → done without keep-alive', () => {
    const r = byteCountReader(4);
    assert.deepEqual(r.feed(Buffer.from('abc')), NOT_DONE);
    assert.equal(r.end(), null);
    const r2 = byteCountReader(4);
    r2.feed(Buffer.from('abcd'));
    assert.deepEqual(r2.end(), done(null, false));
    assert.equal(byteCountReader(1).end(), null);
    assert.deepEqual(byteCountReader(0).end(), done(null, false));
  });
});
