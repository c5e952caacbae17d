/**
 * Response readers decide when an exchange is complete from the bytes received. They count bytes
 * and never keep bodies.
 */

/** Progress of a reader after a chunk. `failure` is a protocol-level code (e.g. HTTP_5XX). */
export type ReadState = { done: false } | { done: true; failure: string | null; keepAlive: boolean };

/** Consumes a response as it arrives. */
export interface ResponseReader {
  feed(chunk: Buffer): ReadState;
  /** The peer closed: returns the final state, or null when the response was cut short. */
  end(): ReadState | null;
}

const MORE: ReadState = { done: false };

/** Complete after `expected` bytes (raw TCP exchanges). */
export function byteCountReader(expected: number): ResponseReader {
  let got = 0;
  return {
    feed(chunk) {
      got += chunk.length;
      return got >= expected ? { done: true, failure: null, keepAlive: true } : MORE;
    },
    end: () => (got >= expected ? { done: true, failure: null, keepAlive: false } : null),
  };
}

const MAX_HEAD = 64 * 1024;
const CRLF = 0x0a;

type BodyMode = { kind: 'length'; remaining: number } | { kind: 'chunked' } | { kind: 'close' };

/**
 * An HTTP/1.x response reader: status line and headers, then a body framed by Content-Length,
 * chunked transfer coding, or the connection's end. 1xx responses are skipped.
 */
export function httpResponseReader(isHead: boolean): ResponseReader {
  let head: Buffer[] = [];
  let headLen = 0;
  let status = 0;
  let keepAlive = true;
  let body: BodyMode | null = null;
  // Chunked decoding state.
  let chunkLine = '';
  let chunkRemaining = 0;
  let chunkPhase: 'size' | 'data' | 'data-crlf' | 'trailer' = 'size';
  // Only whether a trailer line is empty matters (blank or a lone CR ends the body): its first two
  // bytes are kept, so an endless trailer line costs no memory (framer.c counts the same way).
  let trailerLine = '';
  const keepTrailer = (buf: Buffer, from: number, to: number): void => {
    if (trailerLine.length < 2) trailerLine += buf.toString('latin1', from, Math.min(to, from + 2 - trailerLine.length));
  };

  const finish = (): ReadState => ({
    done: true,
    failure: status >= 500 ? 'HTTP_5XX' : status >= 400 ? 'HTTP_4XX' : null,
    keepAlive,
  });
  const protocolError: ReadState = { done: true, failure: 'PROTOCOL', keepAlive: false };

  const parseHead = (text: string): ReadState | 'again' => {
    const lines = text.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? '');
    if (!m) return protocolError;
    status = Number(m[2]);
    keepAlive = m[1] === '1';
    let length: number | null = null;
    let chunked = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim().toLowerCase();
      if (name === 'content-length') length = /^\d+$/.test(value) ? Number(value) : -1;
      else if (name === 'transfer-encoding') chunked = value.split(',').map((s) => s.trim()).includes('chunked');
      else if (name === 'connection') keepAlive = value.includes('keep-alive') || (keepAlive && !value.includes('close'));
    }
    if (status >= 100 && status < 200) return 'again';
    if (isHead || status === 204 || status === 304) body = { kind: 'length', remaining: 0 };
    else if (chunked) body = { kind: 'chunked' };
    else if (length !== null) {
      if (!Number.isInteger(length) || length < 0) return protocolError;
      body = { kind: 'length', remaining: length };
    } else {
      body = { kind: 'close' };
      keepAlive = false;
    }
    return { done: false };
  };

  const feedChunked = (buf: Buffer, from: number): ReadState => {
    let i = from;
    while (i < buf.length) {
      if (chunkPhase === 'size') {
        const nl = buf.indexOf(CRLF, i);
        if (nl === -1) {
          chunkLine += buf.toString('latin1', i);
          if (chunkLine.length > 1024) return protocolError;
          return MORE;
        }
        chunkLine += buf.toString('latin1', i, nl);
        i = nl + 1;
        const size = parseInt(chunkLine.trim().split(';')[0] ?? '', 16);
        chunkLine = '';
        if (!Number.isFinite(size) || size < 0) return protocolError;
        if (size === 0) chunkPhase = 'trailer';
        else {
          chunkRemaining = size;
          chunkPhase = 'data';
        }
      } else if (chunkPhase === 'data') {
        const take = Math.min(chunkRemaining, buf.length - i);
        chunkRemaining -= take;
        i += take;
        if (chunkRemaining === 0) {
          chunkPhase = 'data-crlf';
          chunkRemaining = 2;
        }
      } else if (chunkPhase === 'data-crlf') {
        const take = Math.min(chunkRemaining, buf.length - i);
        chunkRemaining -= take;
        i += take;
        if (chunkRemaining === 0) chunkPhase = 'size';
      } else {
        const nl = buf.indexOf(CRLF, i);
        if (nl === -1) {
          keepTrailer(buf, i, buf.length);
          return MORE;
        }
        keepTrailer(buf, i, nl);
        i = nl + 1;
        if (trailerLine.replace('\r', '') === '') return finish();
        trailerLine = '';
      }
    }
    return MORE;
  };

  const feedBody = (buf: Buffer, from: number): ReadState => {
    if (body === null) return MORE;
    if (body.kind === 'length') {
      body.remaining -= buf.length - from;
      return body.remaining <= 0 ? finish() : MORE;
    }
    if (body.kind === 'chunked') return feedChunked(buf, from);
    return MORE;
  };

  const feed = (chunk: Buffer): ReadState => {
    if (body !== null) return feedBody(chunk, 0);
    head.push(chunk);
    headLen += chunk.length;
    const all = head.length === 1 ? chunk : Buffer.concat(head, headLen);
    const endOfHead = all.indexOf('\r\n\r\n');
    if (endOfHead === -1) {
      if (headLen > MAX_HEAD) return protocolError;
      head = [all];
      return MORE;
    }
    head = [];
    headLen = 0;
    const parsed = parseHead(all.toString('latin1', 0, endOfHead));
    const rest = all.subarray(endOfHead + 4);
    if (parsed === 'again') return rest.length > 0 ? feed(rest) : MORE;
    if (parsed.done) return parsed;
    if (body !== null && (body as BodyMode).kind === 'length' && (body as { remaining: number }).remaining === 0) return finish();
    return feedBody(rest, 0);
  };

  return {
    feed,
    end: () => (body !== null && body.kind === 'close' ? finish() : null),
  };
}
