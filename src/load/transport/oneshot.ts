/**
 * A new TCP connection for every exchange (`reuse: false`), on raw `node:net` (and `node:tls` for
 * HTTPS) so the close is exactly the one the scenario names:
 * - client: we close first after the response, so TIME_WAIT lands on this host;
 * - server: we wait for the peer's FIN before closing, so TIME_WAIT lands on the target;
 * - reset: abortive close (RST), no TIME_WAIT anywhere.
 * With `lookupName` every connection looks the name up first (`dns` phase); with `tls` the
 * handshake follows the TCP connect (`tls` phase).
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type tls from 'node:tls';
import { normalizeError, type Failure } from '../../vocab/failure.js';
import type { Phase } from '../../record/types.js';
import { localAddressPicker, nodeNetStrategy } from './local-address.js';
import { isFailure, lookupFirst } from './lookup.js';
import type { ReadState, ResponseReader } from './readers.js';
import { handshakePhase, tlsHandshaker } from './tls-client.js';
import type { ExchangeResult, Transport, TransportOptions } from './types.js';

const EMPTY = Buffer.alloc(0);
const abortError = (): Error => Object.assign(new Error('aborted by portstorm (run stopped)'), { code: 'ABORTED' });

/**
 * Builds a one-connection-per-exchange transport sending `request` and reading with a fresh
 * reader from `newReader`.
 */
export function oneShotTransport(opts: TransportOptions, request: Buffer, newReader: () => ResponseReader): Transport {
  const nextLocal = localAddressPicker(opts.localAddresses);
  /** Open connections: the TLS socket once the handshake started, else the TCP one. */
  const live = new Set<net.Socket>();
  /** Exchanges still looking the name up: a forced close ends them. */
  const lookingUp = new Set<(failure: Failure) => void>();
  const handshaker = opts.tls ? tlsHandshaker(opts.tls, opts.onHandshake) : null;

  const exchange = (): Promise<ExchangeResult> =>
    new Promise((resolve) => {
      const startedAt = performance.now();
      let firstByteAt: number | null = null;
      let localPort: number | null = null;
      let connectMs: number | null = null;
      let phase: Phase = opts.lookupName ? 'dns' : 'connect';
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      let raw: net.Socket | null = null;
      /** What the request goes over: the TLS socket, or the TCP one. */
      let io: net.Socket | null = null;
      /** close: server over TLS: whether the target's FIN came, and what to do when it comes. */
      let finSeen = false;
      let onFin = (): void => undefined;
      const reader = newReader();

      const settle = (failure: Failure | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ startedAt, firstByteAt, endedAt: performance.now(), localPort, connectMs, failure });
      };
      const fail = (failure: Failure): void => {
        settle(failure);
        io?.destroy();
        raw?.destroy();
      };
      const closeAfterResponse = (state: Extract<ReadState, { done: true }>): void => {
        settle(state.failure ? { code: state.failure, phase: 'response', message: `response ${state.failure}` } : null);
        const s = io!;
        if (opts.close === 'reset') {
          // Abortive close of the TCP socket: no close_notify, no FIN.
          raw!.resetAndDestroy();
          if (s !== raw) s.destroy();
        } else if (s.readableEnded) s.destroy();
        else if (opts.close === 'client' && s === raw) s.destroy();
        else {
          if (opts.close === 'client') {
            // Over TLS: the FIN alone, and the socket kept open until the target's close_notify and
            // FIN, so TIME_WAIT lands here. A close_notify first has the target close in the same
            // moment, and TIME_WAIT land on either side at random (libuv sends our FIN a loop turn
            // after the write, the target's often leaves first); a socket closed at once answers the
            // target's close_notify with a RST (Linux TCPAbortOnData): TIME_WAIT nowhere.
            raw!.end();
          }
          // close: server — wait (bounded) for the target's FIN so the target closes first. Over TLS
          // that is the TCP FIN (not the close_notify before it, which may come a loop turn of the
          // target's earlier), and the socket closes without a close_notify back, which the target,
          // having closed, would answer with a RST.
          timer = setTimeout(() => s.destroy(), opts.requestTimeoutMs);
          if (s === raw || opts.close === 'client') s.once('end', () => s.destroy());
          else if (finSeen) s.destroy();
          else {
            // The close_notify must not be answered with one (node:tls would, ending its half).
            s.allowHalfOpen = true;
            onFin = () => s.destroy();
          }
          s.resume();
        }
      };
      const startExchange = (s: net.Socket): void => {
        io = s;
        phase = 'send';
        timer = setTimeout(
          () => fail({ code: 'REQUEST_TIMEOUT', phase: 'response', message: `no complete response within ${opts.requestTimeoutMs} ms` }),
          opts.requestTimeoutMs,
        );
        s.on('data', (chunk: Buffer) => {
          if (settled) return;
          if (firstByteAt === null) firstByteAt = performance.now();
          phase = 'response';
          const state = reader.feed(chunk);
          if (state.done) closeAfterResponse(state);
        });
        s.once('end', () => {
          if (settled) return;
          const state = reader.end();
          if (state?.done) closeAfterResponse(state);
          else fail({ code: 'PREMATURE_CLOSE', phase, message: 'the target closed the connection before a complete response' });
        });
        s.write(request, () => {
          if (settled || phase !== 'send') return;
          phase = 'response';
          // A reader that expects nothing (expectBytes: 0) is complete once the request is sent.
          const state = reader.feed(EMPTY);
          if (state.done) closeAfterResponse(state);
        });
      };
      const track = (s: net.Socket): void => {
        live.add(s);
        s.on('error', (err) => {
          if (!settled) fail(handshakePhase(normalizeError(err, phase), firstByteAt !== null));
        });
        s.once('close', () => {
          live.delete(s);
          if (s !== io) return;
          clearTimeout(timer);
          if (!settled) settle({ code: 'PREMATURE_CLOSE', phase, message: 'connection closed before a complete response' });
        });
      };
      const connect = (host: string): void => {
        phase = 'connect';
        const socket = net.connect({ host, port: opts.port, localAddress: nextLocal(), noDelay: true });
        raw = io = socket;
        track(socket);
        timer = setTimeout(() => fail({ code: 'CONNECT_TIMEOUT', phase: 'connect', message: `no connection within ${opts.connectTimeoutMs} ms` }), opts.connectTimeoutMs);
        socket.once('connect', () => {
          clearTimeout(timer);
          const connectedAt = performance.now();
          localPort = socket.localPort ?? null;
          connectMs = connectedAt - startedAt;
          opts.onConnect(connectMs, localPort);
          if (!handshaker) return startExchange(socket);
          phase = 'tls';
          const watchFin =
            opts.close === 'server'
              ? () => {
                  finSeen = true;
                  onFin();
                }
              : undefined;
          const secure: tls.TLSSocket = handshaker.handshake(
            socket,
            host,
            connectedAt,
            (result) => {
              if (isFailure(result)) fail(result);
              else if (!settled) startExchange(result);
            },
            watchFin,
          );
          io = secure;
          live.delete(socket);
          track(secure);
        });
      };

      if (!opts.lookupName) return connect(opts.host);
      lookingUp.add(fail);
      lookupFirst(opts.lookupName, opts.connectTimeoutMs, opts.onLookup, (result) => {
        lookingUp.delete(fail);
        if (settled) return;
        if (isFailure(result)) settle(result);
        else connect(result);
      });
    });

  return {
    sourceStrategy: nodeNetStrategy(opts.localAddresses),
    exchange,
    async close(force) {
      if (force) {
        for (const end of lookingUp) end({ code: 'ABORTED', phase: 'dns', message: 'aborted by portstorm (run stopped)' });
        for (const s of live) s.destroy(abortError());
      }
      // Let connections finish their close handshake (close: server waits for the target's FIN).
      const deadline = performance.now() + opts.requestTimeoutMs + 1000;
      while ((live.size > 0 || lookingUp.size > 0) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      for (const s of live) s.destroy();
    },
  };
}
