/** Picks the transport for a scenario's protocol and connection policy. */
import net from 'node:net';
import { oneShotTransport } from './oneshot.js';
import { httpPoolTransport } from './http-pool.js';
import { httpRequestBytes } from './http-request.js';
import { engineTlsUnavailable, loadNativeEngine } from './native-engine.js';
import { nativeKeepAliveTransport } from './native-keepalive.js';
import { nativeOneShotTransport } from './native-oneshot.js';
import { byteCountReader, httpResponseReader } from './readers.js';
import { tcpPoolTransport } from './tcp-pool.js';
import type { SourceStrategy, Transport, TransportOptions } from './types.js';

/**
 * Environment variable choosing the engine of `reuse: false` and HTTP keep-alive transports: `js`
 * forces node:net (undici for keep-alive HTTP), `native` requires the native engine (creating a
 * transport throws when it is unavailable); unset or anything else uses the native engine when it
 * loads. Raw TCP with `reuse: true` always runs on node:net (tcp-pool.ts).
 */
export const ENGINE_ENV = 'PORTSTORM_ENGINE';

/** Which code carries a scenario's connections, and why when it is not the native engine. */
export interface EngineChoice {
  /** `native`: native/connengine's epoll thread; `js`: node:net sockets (or undici / pools with reuse). */
  engine: 'native' | 'js';
  /** Why the native engine is not used (null when it is). */
  reason: string | null;
}

/** What a run's connections need beyond TCP, which decides whether the native engine can carry them. */
export interface EngineNeeds {
  /** Connections speak TLS (HTTPS). */
  tls?: boolean;
  /** `dns: per-connection`: the name each new connection looks up first. */
  lookupName?: string | null;
}

/**
 * The engine that `createTransport` uses for a scenario with `reuse` on or off, on this thread and
 * with this environment: the native engine for `reuse: false` and for HTTP keep-alive, unless
 * PORTSTORM_ENGINE=js or the addon does not load. The preference matters most with
 * `connection.localAddresses`: only the native engine sets IP_BIND_ADDRESS_NO_PORT, which gives each
 * source address a port budget per destination instead of one across all destinations (see
 * `expectedSourceStrategy`). `host`, when given, is the resolved target
 * address (the native engine takes IP addresses only); `needs` says whether connections speak TLS
 * (they run on the native engine when the addon found an OpenSSL in this process, else on node:tls)
 * and look the target's name up each (`dns: per-connection`). A run can call this on its main
 * thread to report the engine its load workers use.
 */
export function connectionEngine(reuse: boolean, host?: string, protocol: 'http' | 'tcp' = 'http', needs: EngineNeeds = {}): EngineChoice {
  if (reuse && protocol === 'tcp') return { engine: 'js', reason: 'reuse: true over raw TCP keeps pooled node:net connections' };
  if (needs.lookupName) return { engine: 'js', reason: 'dns: per-connection looks the name up for each connection (getaddrinfo), which the native engine does not' };
  const wanted = process.env[ENGINE_ENV];
  if (wanted === 'js') return { engine: 'js', reason: `${ENGINE_ENV}=js` };
  const native = loadNativeEngine();
  if (!native.available) return { engine: 'js', reason: `native connection engine unavailable: ${native.reason}` };
  if (host !== undefined && net.isIP(host) === 0) return { engine: 'js', reason: `target ${host} is not an IP address` };
  const noTls = needs.tls ? engineTlsUnavailable(native.addon) : null;
  if (noTls !== null) return { engine: 'js', reason: noTls };
  return { engine: 'native', reason: null };
}

/**
 * The source strategy a run's transports will report (the record's `sourceStrategy`), known before
 * the load: `kernel` without source addresses, `bind-no-port` on the native engine (the engine
 * reports `bind` instead where the kernel refuses IP_BIND_ADDRESS_NO_PORT, before Linux 4.2), `bind`
 * on node:net, whose `localAddress` binds before connect() and cannot set the option.
 */
export function expectedSourceStrategy(choice: EngineChoice, localAddresses: readonly string[]): SourceStrategy {
  if (localAddresses.length === 0) return 'kernel';
  return choice.engine === 'native' ? 'bind-no-port' : 'bind';
}

/** The transport for `protocol` with `reuse` on or off. */
export function createTransport(protocol: 'http' | 'tcp', reuse: boolean, opts: TransportOptions): Transport {
  if (protocol === 'tcp' && reuse) return tcpPoolTransport(opts);
  const choice = connectionEngine(reuse, opts.host, protocol, { tls: Boolean(opts.tls), lookupName: opts.lookupName });
  const native = loadNativeEngine();
  const onNative = choice.engine === 'native' && native.available;
  if (!onNative && process.env[ENGINE_ENV] === 'native') throw new Error(`${ENGINE_ENV}=native, but ${choice.reason ?? 'the native engine is unavailable'}`);
  if (reuse) return onNative ? nativeKeepAliveTransport(native.addon, opts) : httpPoolTransport(opts);

  const isHead = opts.http.method === 'HEAD';
  const request = protocol === 'http' ? httpRequestBytes(opts) : Buffer.from(opts.tcp.payload);
  if (onNative) {
    const reader = protocol === 'http' ? ({ kind: 'http', isHead } as const) : ({ kind: 'bytes', expectBytes: opts.tcp.expectBytes } as const);
    return nativeOneShotTransport(native.addon, opts, request, reader);
  }
  const newReader = protocol === 'http' ? () => httpResponseReader(isHead) : () => byteCountReader(opts.tcp.expectBytes);
  return oneShotTransport(opts, request, newReader);
}
