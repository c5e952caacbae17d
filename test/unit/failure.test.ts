import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EXHAUSTION_CODES, FD_CODES, httpStatusFailure, normalizeError, syscallKey } from '../../src/vocab/failure.js';

/** An error shaped like Node's errno errors from net.connect. */
function errnoError(code: string, syscall: string, message = `${syscall} ${code} 127.0.0.1:8080`): NodeJS.ErrnoException {
  const e = new Error(message) as NodeJS.ErrnoException;
  e.code = code;
  e.syscall = syscall;
  e.errno = -99;
  return e;
}

/** An error shaped like undici's errors (a `code` string, optional `cause`). */
function undiciError(code: string, message: string, cause?: unknown): Error {
  const e = new Error(message, cause === undefined ? undefined : { cause }) as Error & { code: string };
  e.code = code;
  return e;
}

describe('normalizeError: errno errors', () => {
  for (const code of ['EADDRNOTAVAIL', 'EADDRINUSE', 'ECONNREFUSED', 'EMFILE']) {
    for (const given of ['connect', 'send', 'response'] as const) {
      it(`${code} with syscall connect is phase connect (given ${given})`, () => {
        const err = errnoError(code, 'connect');
        assert.deepEqual(normalizeError(err, given), { code, phase: 'connect', message: err.message, syscall: 'connect' });
      });
    }
  }

  it('keeps the syscall: bind EADDRNOTAVAIL (an address this host lacks) is not connect EADDRNOTAVAIL (no free port)', () => {
    const bind = normalizeError(errnoError('EADDRNOTAVAIL', 'bind', 'bind EADDRNOTAVAIL 198.18.9.9'), 'connect');
    const connect = normalizeError(errnoError('EADDRNOTAVAIL', 'connect'), 'connect');
    assert.deepEqual(bind, { code: 'EADDRNOTAVAIL', phase: 'connect', message: 'bind EADDRNOTAVAIL 198.18.9.9', syscall: 'bind' });
    assert.equal(syscallKey(bind), 'bind:EADDRNOTAVAIL');
    assert.equal(syscallKey(connect), 'connect:EADDRNOTAVAIL');
    // A bind() failure happens before any connection, whatever phase the caller was in.
    assert.equal(normalizeError(errnoError('EADDRNOTAVAIL', 'bind'), 'send').phase, 'connect');
  });

  it('a failure without a known syscall has no syscallKey', () => {
    assert.equal(syscallKey({ code: 'CONNECT_TIMEOUT', phase: 'connect', message: 'x' }), null);
    assert.equal(syscallKey(normalizeError(Object.assign(new Error('x'), { code: 'EADDRINUSE' }), 'connect')), null);
    assert.equal(syscallKey(normalizeError(Object.assign(new Error('x'), { code: 'EADDRINUSE', syscall: '' }), 'connect')), null);
  });

  it("takes the syscall of the errno undici wraps in `cause`", () => {
    const f = normalizeError(undiciError('UND_ERR_SOCKET', 'other side closed', errnoError('ECONNRESET', 'read', 'read ECONNRESET')), 'response');
    assert.deepEqual(f, { code: 'ECONNRESET', phase: 'response', message: 'other side closed', syscall: 'read' });
  });

  it('keeps the given phase when the syscall is not connect', () => {
    assert.deepEqual(normalizeError(errnoError('ECONNRESET', 'read', 'read ECONNRESET'), 'response'), {
      code: 'ECONNRESET',
      phase: 'response',
      message: 'read ECONNRESET',
      syscall: 'read',
    });
    assert.deepEqual(normalizeError(errnoError('EPIPE', 'write', 'write EPIPE'), 'send'), {
      code: 'EPIPE',
      phase: 'send',
      message: 'write EPIPE',
      syscall: 'write',
    });
  });

  it('an errno error without a syscall keeps the given phase', () => {
    const e = Object.assign(new Error('bind failed'), { code: 'EADDRINUSE' });
    assert.deepEqual(normalizeError(e, 'send'), { code: 'EADDRINUSE', phase: 'send', message: 'bind failed' });
  });

  it('passes unknown errno-like codes through', () => {
    assert.deepEqual(normalizeError(errnoError('EFOO', 'connect', 'connect EFOO'), 'send'), {
      code: 'EFOO',
      phase: 'connect',
      message: 'connect EFOO',
      syscall: 'connect',
    });
    assert.equal(normalizeError({ code: 'E2BIG', message: 'x' }, 'response').code, 'E2BIG');
  });

  it('does not mistake Node ERR_* codes for errno codes', () => {
    const f = normalizeError(Object.assign(new Error('premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }), 'response');
    assert.deepEqual(f, { code: 'OTHER', phase: 'response', message: 'premature close' });
  });

  it('passes ABORTED through', () => {
    assert.deepEqual(normalizeError({ code: 'ABORTED', message: 'aborted' }, 'response'), {
      code: 'ABORTED',
      phase: 'response',
      message: 'aborted',
    });
  });
});

describe('normalizeError: undici errors', () => {
  it('UND_ERR_CONNECT_TIMEOUT → CONNECT_TIMEOUT in phase connect', () => {
    const err = undiciError('UND_ERR_CONNECT_TIMEOUT', 'Connect Timeout Error');
    for (const given of ['connect', 'send', 'response'] as const) {
      assert.deepEqual(normalizeError(err, given), { code: 'CONNECT_TIMEOUT', phase: 'connect', message: 'Connect Timeout Error' });
    }
  });

  it('UND_ERR_HEADERS_TIMEOUT and UND_ERR_BODY_TIMEOUT → REQUEST_TIMEOUT in the given phase', () => {
    assert.deepEqual(normalizeError(undiciError('UND_ERR_HEADERS_TIMEOUT', 'Headers Timeout Error'), 'response'), {
      code: 'REQUEST_TIMEOUT',
      phase: 'response',
      message: 'Headers Timeout Error',
    });
    assert.deepEqual(normalizeError(undiciError('UND_ERR_BODY_TIMEOUT', 'Body Timeout Error'), 'response'), {
      code: 'REQUEST_TIMEOUT',
      phase: 'response',
      message: 'Body Timeout Error',
    });
  });

  it('UND_ERR_SOCKET with a known cause reports the cause code', () => {
    const err = undiciError('UND_ERR_SOCKET', 'other side closed', { code: 'ECONNRESET' });
    assert.deepEqual(normalizeError(err, 'response'), { code: 'ECONNRESET', phase: 'response', message: 'other side closed' });
  });

  it('UND_ERR_SOCKET without a cause → SOCKET_CLOSED', () => {
    assert.deepEqual(normalizeError(undiciError('UND_ERR_SOCKET', 'other side closed'), 'response'), {
      code: 'SOCKET_CLOSED',
      phase: 'response',
      message: 'other side closed',
    });
  });

  it('UND_ERR_SOCKET with an unknown cause code → SOCKET_CLOSED', () => {
    const err = undiciError('UND_ERR_SOCKET', 'closed', { code: 'SOMETHING_ELSE' });
    assert.equal(normalizeError(err, 'send').code, 'SOCKET_CLOSED');
  });

  it('UND_ERR_ABORTED → ABORTED', () => {
    assert.equal(normalizeError(undiciError('UND_ERR_ABORTED', 'aborted'), 'response').code, 'ABORTED');
  });

  it('HPE_* parser errors → PROTOCOL', () => {
    for (const code of ['HPE_INVALID_CONSTANT', 'HPE_INVALID_HEADER_TOKEN', 'HPE_UNEXPECTED_CONTENT_LENGTH']) {
      assert.deepEqual(normalizeError({ code, message: `Parse Error: ${code}` }, 'response'), {
        code: 'PROTOCOL',
        phase: 'response',
        message: `Parse Error: ${code}`,
      });
    }
  });
});

describe('normalizeError: non-error values', () => {
  it('a string becomes OTHER with the string as message', () => {
    assert.deepEqual(normalizeError('boom', 'send'), { code: 'OTHER', phase: 'send', message: 'boom' });
  });

  it('undefined and null become OTHER with a message', () => {
    const u = normalizeError(undefined, 'response');
    assert.equal(u.code, 'OTHER');
    assert.equal(u.phase, 'response');
    assert.equal(typeof u.message, 'string');
    assert.ok(u.message.length > 0);
    const n = normalizeError(null, 'connect');
    assert.equal(n.code, 'OTHER');
    assert.equal(n.phase, 'connect');
    assert.equal(typeof n.message, 'string');
    assert.ok(n.message.length > 0);
  });

  it('an Error without a code becomes OTHER with its message', () => {
    assert.deepEqual(normalizeError(new Error('weird'), 'send'), { code: 'OTHER', phase: 'send', message: 'weird' });
  });

  it('a non-string code is ignored', () => {
    assert.equal(normalizeError({ code: 42, message: 'n' }, 'send').code, 'OTHER');
  });

  it('never throws', () => {
    for (const v of [0, 1n, Symbol('s'), () => 1, [], {}, { code: null }]) {
      assert.doesNotThrow(() => normalizeError(v, 'send'));
      assert.equal(normalizeError(v, 'send').code, 'OTHER');
    }
  });

  it('never throws, even for an object that cannot be converted to a string', () => {
    // "Failures are data; nothing here throws": a null-prototype object has no toString.
    const v: unknown = Object.create(null);
    let f: ReturnType<typeof normalizeError> | undefined;
    assert.doesNotThrow(() => {
      f = normalizeError(v, 'response');
    });
    assert.equal(f?.code, 'OTHER');
    assert.equal(typeof f?.message, 'string');
  });
});

describe('httpStatusFailure', () => {
  it('maps statuses to failure codes', () => {
    assert.equal(httpStatusFailure(200), null);
    assert.equal(httpStatusFailure(204), null);
    assert.equal(httpStatusFailure(302), null);
    assert.equal(httpStatusFailure(399), null);
    assert.equal(httpStatusFailure(400), 'HTTP_4XX');
    assert.equal(httpStatusFailure(404), 'HTTP_4XX');
    assert.equal(httpStatusFailure(499), 'HTTP_4XX');
    assert.equal(httpStatusFailure(500), 'HTTP_5XX');
    assert.equal(httpStatusFailure(503), 'HTTP_5XX');
  });
});

describe('EXHAUSTION_CODES', () => {
  it('holds the exhaustion spellings of Linux, macOS and Windows', () => {
    for (const code of ['EADDRNOTAVAIL', 'EADDRINUSE', 'ENOBUFS', 'EAGAIN']) assert.ok(EXHAUSTION_CODES.has(code), code);
    assert.equal(EXHAUSTION_CODES.size, 4);
  });

  it('does not count refusals or fd exhaustion as port exhaustion', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EMFILE', 'ENFILE', 'ETIMEDOUT']) assert.ok(!EXHAUSTION_CODES.has(code), code);
    assert.ok(FD_CODES.has('EMFILE') && FD_CODES.has('ENFILE'));
  });

  it('exhaustion codes are passed through by normalizeError', () => {
    for (const code of EXHAUSTION_CODES) assert.equal(normalizeError(errnoError(code, 'connect'), 'send').code, code);
  });
});
