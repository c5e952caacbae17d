/**
 * A new TCP connection for every exchange (`reuse: false`), on raw `node:net` so the close is
 * exactly the one the scenario names:
 * - client: we close first after the response, so TIME_WAIT lands on this host;
 * - server: we wait for the peer's FIN before closing, so TIME_WAIT lands on the target;
 * - reset: abortive close (RST), no TIME_WAIT anywhere.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { normalizeError, type Failure } from '../../vocab/failure.js';
import type { Phase } from '../../record/types.js';
import { localAddressPicker, nodeNetStrategy } from './local-address.js';
import type { ReadState, ResponseReader } from './readers.js';
import type { ExchangeResult, Transport, TransportOptions } from './types.js';

const EMPTY = Buffer.alloc(0);
const abortError = (): Error => Object.assign(new Error('aborted by portstorm (run stopped)'), { code: 'ABORTED' });

/**
 * Builds a one-connection-per-exchange transport sending `request` and reading with a fresh
 * reader from `newReader`.
 */
export function oneShotTransport(opts: TransportOptions, request: Buffer, newReader: () => ResponseReader): Transport {
  const nextLocal = localAddressPicker(opts.localAddresses);
  const live = new Set<net.Socket>();

  const exchange = (): Promise<ExchangeResult> =>
    new Promise((resolve) => {
      const startedAt = performance.now();
      let firstByteAt: number | null = null;
      let localPort: number | null = null;
      let connectMs: number | null = null;
      let phase: Phase = 'connect';
      let settled = false;
      const reader = newReader();
      const socket = net.connect({ host: opts.host, port: opts.port, localAddress: nextLocal(), noDelay: true });
      live.add(socket);
      let timer = setTimeout(() => fail({ code: 'CONNECT_TIMEOUT', phase: 'connect', message: `no connection within ${opts.connectTimeoutMs} ms` }), opts.connectTimeoutMs);

      const settle = (failure: Failure | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ startedAt, firstByteAt, endedAt: performance.now(), localPort, connectMs, failure });
      };
      const fail = (failure: Failure): void => {
        settle(failure);
        socket.destroy();
      };
      const closeAfterResponse = (state: Extract<ReadState, { done: true }>): void => {
        settle(state.failure ? { code: state.failure, phase: 'response', message: `response ${state.failure}` } : null);
        if (opts.close === 'reset') socket.resetAndDestroy();
        else if (opts.close === 'client' || socket.readableEnded) socket.destroy();
        else {
          // close: server — wait (bounded) for the target's FIN so the target closes first.
          timer = setTimeout(() => socket.destroy(), opts.requestTimeoutMs);
          socket.once('end', () => socket.destroy());
          socket.resume();
        }
      };

      socket.once('connect', () => {
        clearTimeout(timer);
        localPort = socket.localPort ?? null;
        connectMs = performance.now() - startedAt;
        opts.onConnect(connectMs, localPort);
        phase = 'send';
        timer = setTimeout(
          () => fail({ code: 'REQUEST_TIMEOUT', phase: 'response', message: `no complete response within ${opts.requestTimeoutMs} ms` }),
          opts.requestTimeoutMs,
        );
        socket.write(request, () => {
          if (settled || phase !== 'send') return;
          phase = 'response';
          // A reader that expects nothing (expectBytes: 0) is complete once the request is sent.
          const state = reader.feed(EMPTY);
          if (state.done) closeAfterResponse(state);
        });
      });
      socket.on('data', (chunk: Buffer) => {
        if (settled) return;
        if (firstByteAt === null) firstByteAt = performance.now();
        phase = 'response';
        const state = reader.feed(chunk);
        if (state.done) closeAfterResponse(state);
      });
      socket.once('end', () => {
        if (settled) return;
        const state = reader.end();
        if (state?.done) closeAfterResponse(state);
        else fail({ code: 'PREMATURE_CLOSE', phase, message: 'the target closed the connection before a complete response' });
      });
      socket.on('error', (err) => {
        if (!settled) fail(normalizeError(err, phase));
      });
      socket.once('close', () => {
        live.delete(socket);
        clearTimeout(timer);
        if (!settled) settle({ code: 'PREMATURE_CLOSE', phase, message: 'connection closed before a complete response' });
      });
    });

  return {
    sourceStrategy: nodeNetStrategy(opts.localAddresses),
    exchange,
    async close(force) {
      if (force) for (const s of live) s.destroy(abortError());
      // Let connections finish their close handshake (close: server waits for the target's FIN).
      const deadline = performance.now() + opts.requestTimeoutMs + 1000;
      while (live.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      for (const s of live) s.destroy();
    },
  };
}
