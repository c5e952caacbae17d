/** Small local servers on 127.0.0.1 port 0 for integration tests: each misbehaves in one way. */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

/** A started server and how to stop it. */
export interface TestServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

async function listen(server: net.Server, scheme: 'http' | 'tcp'): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${scheme}://127.0.0.1:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An HTTP server answering every request with `handler`. */
export function httpServer(handler: http.RequestListener): Promise<TestServer> {
  const server = http.createServer({ keepAliveTimeout: 60_000 }, handler);
  return listen(server, 'http');
}

/** A TCP server that resets every connection as soon as it is accepted. */
export function resettingServer(): Promise<TestServer> {
  return listen(net.createServer((s) => s.resetAndDestroy()), 'tcp');
}

/** A TCP server that accepts and never answers. */
export function silentServer(): Promise<TestServer> {
  return listen(net.createServer(() => undefined), 'tcp');
}

/** A port on 127.0.0.1 with nothing listening (bound then released). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
