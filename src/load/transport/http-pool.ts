/**
 * HTTP over a keep-alive pool (`reuse: true`), on undici's Pool. p-limit holds requests until a
 * connection is free, so undici never queues internally and `startedAt` is the real dispatch time.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import pLimit from 'p-limit';
import { Pool } from 'undici';
import type { buildConnector } from 'undici';
import { httpStatusFailure, normalizeError, type Failure } from '../outcome.js';
import { localAddressPicker } from './local-address.js';
import type { ExchangeResult, Transport, TransportOptions } from './types.js';

const ABORTED: Failure = { code: 'ABORTED', phase: 'connect', message: 'aborted by portstorm (run stopped)' };

/** Builds the keep-alive HTTP transport. */
export function httpPoolTransport(opts: TransportOptions): Transport {
  const nextLocal = localAddressPicker(opts.localAddresses);
  const sockets = new Set<net.Socket>();
  const connector: buildConnector.connector = (_options, callback) => {
    const started = performance.now();
    const socket = net.connect({ host: opts.host, port: opts.port, localAddress: nextLocal(), noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      callback(Object.assign(new Error(`no connection within ${opts.connectTimeoutMs} ms`), { code: 'UND_ERR_CONNECT_TIMEOUT' }), null);
    }, opts.connectTimeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      callback(err, null);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      opts.onConnect(performance.now() - started, socket.localPort ?? null);
      callback(null, socket);
    });
  };
  const hostPort = opts.host.includes(':') ? `[${opts.host}]:${opts.port}` : `${opts.host}:${opts.port}`;
  const pool = new Pool(`http://${hostPort}`, {
    connections: opts.poolSize,
    connect: connector,
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 600_000,
    headersTimeout: opts.requestTimeoutMs,
    bodyTimeout: opts.requestTimeoutMs,
  });
  const limit = pLimit(opts.poolSize);
  const { method, path, body, authority } = opts.http;
  const headers = Object.keys(opts.http.headers).some((h) => h.toLowerCase() === 'host') ? opts.http.headers : { host: authority, ...opts.http.headers };
  const requestBody = body === '' ? null : body;
  let closing = false;

  const run = async (): Promise<ExchangeResult> => {
    const startedAt = performance.now();
    if (closing) return { startedAt, firstByteAt: null, endedAt: startedAt, localPort: null, connectMs: null, failure: ABORTED };
    let firstByteAt: number | null = null;
    let failure: Failure | null = null;
    try {
      const res = await pool.request({ method: method as 'GET', path, headers, body: requestBody });
      firstByteAt = performance.now();
      for await (const _chunk of res.body) {
        // Drain without keeping the body.
      }
      const code = httpStatusFailure(res.statusCode);
      if (code) failure = { code, phase: 'response', message: `HTTP ${res.statusCode}` };
    } catch (err) {
      failure = normalizeError(err, firstByteAt === null ? 'send' : 'response');
    }
    return { startedAt, firstByteAt, endedAt: performance.now(), localPort: null, connectMs: null, failure };
  };

  return {
    exchange: () => limit(run),
    async close(force) {
      closing = true;
      if (opts.close === 'reset') for (const s of sockets) s.resetAndDestroy();
      if (force || opts.close === 'reset') await pool.destroy().catch(() => undefined);
      else await pool.close().catch(() => undefined);
    },
  };
}
