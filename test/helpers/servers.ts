/** Small local servers on 127.0.0.1 port 0 for integration tests: each misbehaves in one way. */
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

/** Connection counts a test server keeps. */
export interface ServerStats {
  /** Connections accepted. */
  accepted: number;
  /** Connections open now. */
  open: number;
  /** Most connections open at once. */
  peakOpen: number;
}

/** A started server and how to stop it. */
export interface TestServer {
  url: string;
  port: number;
  stats(): ServerStats;
  close(): Promise<void>;
}

/** Listens on `host` port 0, counting connections; closing destroys the open ones. */
export async function listen(server: net.Server, scheme: 'http' | 'tcp', host = '127.0.0.1'): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  const counts: ServerStats = { accepted: 0, open: 0, peakOpen: 0 };
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    counts.accepted++;
    counts.open++;
    counts.peakOpen = Math.max(counts.peakOpen, counts.open);
    s.on('error', () => undefined);
    s.on('close', () => {
      sockets.delete(s);
      counts.open--;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    port,
    stats: () => ({ ...counts }),
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

/**
 * An HTTP server that reads each request's body, then answers with a two-chunk body
 * ("part-one;part-two"); `bodies()` counts the requests whose body was `bodyBytes` long.
 */
export async function chunkedServer(bodyBytes: number): Promise<TestServer & { bodies(): number }> {
  let bodies = 0;
  const server = await httpServer((req, res) => {
    let len = 0;
    req.on('data', (c: Buffer) => (len += c.length));
    req.on('end', () => {
      if (len === bodyBytes) bodies++;
      res.write('part-one;');
      res.end('part-two');
    });
  });
  return Object.assign(server, { bodies: () => bodies });
}

/** A TCP server that resets every connection as soon as it is accepted. */
export function resettingServer(): Promise<TestServer> {
  return listen(net.createServer((s) => s.resetAndDestroy()), 'tcp');
}

/** A TCP server that accepts, reads and never answers. */
export function silentServer(): Promise<TestServer> {
  return listen(net.createServer((s) => s.resume()), 'tcp');
}

/** How a slow-loris server dribbles its answer. */
export interface SlowLorisOptions {
  /** `headers`: the whole response a byte at a time; `body`: the head at once, then the body a byte at a time. */
  part: 'headers' | 'body';
  /** Bytes in the body (default 10). */
  bodyBytes?: number;
  /** Pause between bytes (default 200 ms). */
  everyMs?: number;
}

/**
 * An HTTP/1.1 server that reads each request's head and answers 200 one byte every `everyMs`, on a
 * raw socket so no buffering joins the bytes. The connection stays open (keep-alive) after.
 */
export function slowLorisServer(o: SlowLorisOptions): Promise<TestServer> {
  const every = o.everyMs ?? 200;
  const body = Buffer.alloc(o.bodyBytes ?? 10, 'x');
  const head = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: keep-alive\r\n\r\n`, 'latin1');
  const server = net.createServer((s) => {
    let pending = Buffer.alloc(0);
    let busy = false;
    const timers = new Set<NodeJS.Timeout>();
    s.on('close', () => timers.forEach(clearTimeout));
    const dribble = (bytes: Buffer, done: () => void): void => {
      let i = 0;
      const next = (): void => {
        if (s.destroyed) return;
        if (i >= bytes.length) return done();
        s.write(bytes.subarray(i, ++i));
        const t = setTimeout(() => {
          timers.delete(t);
          next();
        }, every);
        timers.add(t);
      };
      next();
    };
    const serve = (): void => {
      const end = pending.indexOf('\r\n\r\n');
      if (busy || end < 0) return;
      pending = pending.subarray(end + 4);
      busy = true;
      const finish = (): void => {
        busy = false;
        serve();
      };
      if (o.part === 'headers') dribble(Buffer.concat([head, body]), finish);
      else {
        s.write(head);
        dribble(body, finish);
      }
    };
    s.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      serve();
    });
  });
  return listen(server, 'http');
}

/** An HTTP server in its own child process, so a test can kill it as a crash would. */
export interface ChildServer {
  url: string;
  port: number;
  pid: number;
  /** SIGKILLs the process; resolves once it has exited (its sockets are gone then). */
  kill(): Promise<void>;
}

const CHILD_SERVER = `
const http = require('node:http');
const delayMs = Number(process.argv[1]);
const server = http.createServer({ keepAliveTimeout: 60000 }, (_req, res) => setTimeout(() => res.end('ok'), delayMs));
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

/**
 * Starts an HTTP server answering "ok" (after `delayMs`) in a child `node` process, with the test
 * process's own limits. The child also exits when the test process goes away (its stdin closes),
 * so a failed test leaves nothing listening.
 */
export function childHttpServer(delayMs = 0): Promise<ChildServer> {
  const child = spawn(process.execPath, ['-e', CHILD_SERVER, String(delayMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('child server did not start within 10 s'));
    }, 10_000);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n')[0];
      if (!out.includes('\n') || !line) return;
      clearTimeout(timer);
      const port = Number(line);
      resolve({
        url: `http://127.0.0.1:${port}/`,
        port,
        pid: child.pid!,
        kill: async () => {
          child.kill('SIGKILL');
          await exited;
        },
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child server exited early (code ${code})`));
    });
  });
}

/** A port on 127.0.0.1 with nothing listening (bound then released). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
