/**
 * Raw TCP over a pool of persistent connections (`reuse: true`): at most `poolSize` connections,
 * each carrying one exchange at a time. Waiting for a free connection happens before `startedAt`,
 * so the corrected latency includes it and the uncorrected one does not.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import pLimit from 'p-limit';
import { normalizeError, type Failure } from '../../vocab/failure.js';
import type { Phase } from '../../record/types.js';
import { localAddressPicker, nodeNetStrategy } from './local-address.js';
import { isFailure, lookupFirstAsync } from './lookup.js';
import { byteCountReader } from './readers.js';
import type { ExchangeResult, Transport, TransportOptions } from './types.js';

const ABORTED: Failure = { code: 'ABORTED', phase: 'connect', message: 'aborted by portstorm (run stopped)' };

interface PooledSocket {
  socket: net.Socket;
  broken: boolean;
  /** Connect time of the connection, until the first exchange on it has reported it. */
  connectMs: number | null;
  /** The exchange currently using the socket. */
  current: { data(chunk: Buffer): void; gone(failure: Failure): void } | null;
}

/** A new pooled connection; with `lookupName`, the name is looked up first (`dns` phase). */
async function connect(opts: TransportOptions, localAddress: string | undefined): Promise<PooledSocket | Failure> {
  const host = opts.lookupName ? await lookupFirstAsync(opts.lookupName, opts.connectTimeoutMs, opts.onLookup) : opts.host;
  if (isFailure(host)) return host;
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = net.connect({ host, port: opts.port, localAddress, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ code: 'CONNECT_TIMEOUT', phase: 'connect', message: `no connection within ${opts.connectTimeoutMs} ms` });
    }, opts.connectTimeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      resolve(normalizeError(err, 'connect'));
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      const connectMs = performance.now() - started;
      opts.onConnect(connectMs, socket.localPort ?? null);
      const pooled: PooledSocket = { socket, broken: false, connectMs, current: null };
      socket.on('data', (chunk: Buffer) => pooled.current?.data(chunk));
      const gone = (failure: Failure): void => {
        pooled.broken = true;
        pooled.current?.gone(failure);
      };
      socket.on('error', (err) => gone(normalizeError(err, 'response')));
      socket.on('end', () => gone({ code: 'PREMATURE_CLOSE', phase: 'response', message: 'the target closed the connection' }));
      socket.on('close', () => gone({ code: 'PREMATURE_CLOSE', phase: 'response', message: 'connection closed' }));
      resolve(pooled);
    });
  });
}

/** Builds the pooled raw-TCP transport. */
export function tcpPoolTransport(opts: TransportOptions): Transport {
  const limit = pLimit(opts.poolSize);
  const nextLocal = localAddressPicker(opts.localAddresses);
  const idle: PooledSocket[] = [];
  const all = new Set<PooledSocket>();
  const payload = Buffer.from(opts.tcp.payload);

  let closing = false;

  const run = async (): Promise<ExchangeResult> => {
    const startedAt = performance.now();
    if (closing) return { startedAt, firstByteAt: null, endedAt: startedAt, localPort: null, connectMs: null, failure: ABORTED };
    let pooled = idle.pop();
    while (pooled?.broken) pooled = idle.pop();
    if (!pooled) {
      const made = await connect(opts, nextLocal());
      if (!('socket' in made)) return { startedAt, firstByteAt: null, endedAt: performance.now(), localPort: null, connectMs: null, failure: made };
      pooled = made;
      all.add(pooled);
      pooled.socket.once('close', () => all.delete(made));
    }
    const p = pooled;
    const localPort = p.socket.localPort ?? null;
    const connectMs = p.connectMs;
    p.connectMs = null;
    return new Promise<ExchangeResult>((resolve) => {
      let firstByteAt: number | null = null;
      let phase: Phase = 'send';
      const reader = byteCountReader(opts.tcp.expectBytes);
      const finish = (failure: Failure | null): void => {
        clearTimeout(timer);
        p.current = null;
        if (failure) p.socket.destroy();
        else idle.push(p);
        resolve({ startedAt, firstByteAt, endedAt: performance.now(), localPort, connectMs, failure });
      };
      const timer = setTimeout(
        () => finish({ code: 'REQUEST_TIMEOUT', phase: 'response', message: `no complete response within ${opts.requestTimeoutMs} ms` }),
        opts.requestTimeoutMs,
      );
      p.current = {
        data(chunk) {
          if (firstByteAt === null) firstByteAt = performance.now();
          phase = 'response';
          if (reader.feed(chunk).done) finish(null);
        },
        gone: (failure) => finish({ ...failure, phase }),
      };
      if (opts.tcp.expectBytes === 0) p.socket.write(payload, () => p.current && finish(null));
      else p.socket.write(payload);
    });
  };

  return {
    sourceStrategy: nodeNetStrategy(opts.localAddresses),
    exchange: () => limit(run),
    async close(force) {
      closing = true;
      for (const p of all) {
        if (opts.close === 'reset') p.socket.resetAndDestroy();
        else if (force) p.socket.destroy(Object.assign(new Error(ABORTED.message), { code: 'ABORTED' }));
        else if (opts.close === 'client') p.socket.destroy();
        else p.socket.end();
      }
    },
  };
}
