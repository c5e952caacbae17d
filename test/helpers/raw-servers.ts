/**
 * Raw TCP servers and tools for transport tests: scripted responses written byte for byte, a
 * listener that never accepts (connect timeouts), and TIME_WAIT counts per port. Every server listens
 * on loopback port 0.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { parseProcNetTcp } from '../../src/monitor/proc-net-tcp.js';
import { listen, type TestServer } from './servers.js';

/** A started raw server: the remote address of every connection it accepted, in order. */
export interface RawServer extends TestServer {
  peers: string[];
}

/**
 * A TCP server calling `onConnection` for every accepted socket (errors are ignored). `host` may
 * be '::1' for an IPv6 server.
 */
export async function rawServer(onConnection: (s: net.Socket) => void, host = '127.0.0.1'): Promise<RawServer> {
  const peers: string[] = [];
  const server = net.createServer((s) => {
    peers.push(s.remoteAddress ?? '');
    onConnection(s);
  });
  return { ...(await listen(server, 'http', host)), peers };
}

/**
 * A server that reads each connection until the end of a request head (CRLFCRLF), then writes
 * `response` (or each of its parts, `gapMs` apart) and, with `end`, ends the connection.
 */
export function scriptedServer(response: Buffer | Buffer[], opts: { end?: boolean; gapMs?: number; host?: string } = {}): Promise<RawServer> {
  const parts = Array.isArray(response) ? response : [response];
  return rawServer((s) => {
    let got = Buffer.alloc(0);
    let answered = false;
    s.on('data', (chunk: Buffer) => {
      if (answered) return;
      got = Buffer.concat([got, chunk]);
      if (got.indexOf('\r\n\r\n') < 0) return;
      answered = true;
      let i = 0;
      const next = (): void => {
        if (s.destroyed) return;
        if (i === parts.length) {
          if (opts.end) s.end();
          return;
        }
        s.write(parts[i++]!);
        if (i < parts.length && opts.gapMs) setTimeout(next, opts.gapMs);
        else next();
      };
      next();
    });
  }, opts.host);
}

/** A raw TCP server answering every chunk with `reply`; with `closeAfterReply`, it ends after the first. */
export function tcpReplyServer(reply: Buffer, closeAfterReply: boolean): Promise<RawServer> {
  return rawServer((s) => {
    s.on('data', () => {
      if (s.writableEnded) return;
      if (closeAfterReply) s.end(reply);
      else s.write(reply);
    });
  });
}

/** A listening socket that does not accept, its accept queue full: SYNs to it are dropped. */
export interface Unaccepting {
  port: number;
  /** From now on, accepts every connection and answers each request with a 200 (then closes). */
  serve(): void;
  /** Closes the listener: a SYN retransmitted to it then meets a RST. */
  close(): Promise<void>;
}

const UNACCEPTING = `
import socket, sys, threading
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(0)
print(s.getsockname()[1], flush=True)
def answer(c):
    data = b''
    while b'\\r\\n\\r\\n' not in data:
        chunk = c.recv(65536)
        if not chunk:
            break
        data += chunk
    try:
        c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok')
    except OSError:
        pass
    c.close()
def serve():
    while True:
        c, _ = s.accept()
        threading.Thread(target=answer, args=(c,), daemon=True).start()
for line in sys.stdin:
    if line.strip() == 'serve':
        threading.Thread(target=serve, daemon=True).start()
`;

/**
 * A listener with backlog 0 that does not accept (python3, as node-gyp needs it anyway), plus one
 * connection of ours that fills its accept queue: the kernel then drops every SYN to it, so a
 * connect() there stays in SYN_SENT until its SYN is retransmitted (after 1 s). The listener exits
 * when this process goes away.
 */
export async function unacceptingListener(): Promise<Unaccepting> {
  const child = spawn('python3', ['-c', UNACCEPTING], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`python3 listener exited early (code ${code})`)));
  });
  const filler = net.connect(port, '127.0.0.1');
  filler.on('error', () => undefined);
  await new Promise<void>((resolve) => filler.once('connect', () => resolve()));
  return {
    port,
    serve: () => void child.stdin!.write('serve\n'),
    close: async () => {
      filler.destroy();
      child.stdin!.end();
      child.kill();
      await exited;
    },
  };
}

/** TIME_WAIT sockets of the current network namespace to or from `port`. */
export function timeWaitFor(port: number): { client: number; server: number } {
  const rows = ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((f) => parseProcNetTcp(readFileSync(f, 'utf8')));
  const tw = rows.filter((r) => r.state === 'TIME_WAIT');
  return { client: tw.filter((r) => r.remotePort === port).length, server: tw.filter((r) => r.localPort === port).length };
}

/** Sockets to or from `port` that are neither TIME_WAIT nor LISTEN (closes still in progress). */
export function closingFor(port: number): number {
  const rows = ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((f) => parseProcNetTcp(readFileSync(f, 'utf8')));
  return rows.filter((r) => (r.remotePort === port || r.localPort === port) && r.state !== 'TIME_WAIT' && r.state !== 'LISTEN').length;
}
