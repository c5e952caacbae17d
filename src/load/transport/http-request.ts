/** The bytes of the HTTP/1.1 request a scenario sends, built once per run. */
import type { TransportOptions } from './types.js';

/**
 * Serializes the scenario's request. `close: server` adds `Connection: close`, which makes an
 * HTTP server close first (what ab, wrk -H 'Connection: close' and hey -disable-keepalive do).
 */
export function httpRequestBytes(opts: Pick<TransportOptions, 'http' | 'close'>): Buffer {
  const { method, path, headers, body } = opts.http;
  const lower = new Set(Object.keys(headers).map((h) => h.toLowerCase()));
  const lines = [`${method} ${path} HTTP/1.1`];
  if (!lower.has('host')) lines.push(`Host: ${opts.http.authority}`);
  if (!lower.has('user-agent')) lines.push('User-Agent: portstorm');
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  const bodyBytes = Buffer.from(body);
  if (bodyBytes.length > 0 || method === 'POST' || method === 'PUT' || method === 'PATCH') {
    if (!lower.has('content-length')) lines.push(`Content-Length: ${bodyBytes.length}`);
  }
  if (opts.close === 'server' && !lower.has('connection')) lines.push('Connection: close');
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), bodyBytes]);
}
