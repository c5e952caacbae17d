/**
 * nginx from Debian as a benchmark target that is not the bottleneck: one worker, access log off,
 * `return 200 "ok"` on 127.0.0.1, run in the foreground from a config written to a temporary
 * directory. Installed with apt-get when missing and running as root.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/** A running nginx. */
export interface Nginx {
  url: string;
  version: string;
  stop(): Promise<void>;
}

/** Makes sure a Debian package's command runs: installs the package as root, else throws saying how. */
export function ensureCommand(command: string, versionArgs: string[], pkg: string): void {
  // Found at all is enough: `wrk -v` and `hey -h` exit non-zero.
  const present = (): boolean => spawnSync(command, versionArgs, { stdio: 'ignore' }).error === undefined;
  if (present()) return;
  if (process.getuid?.() === 0) {
    console.log(`bench: ${command} is missing; installing ${pkg} (apt-get install -y ${pkg})`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', timeout: 600_000, env });
    spawnSync('apt-get', ['install', '-y', '-qq', pkg], { stdio: 'inherit', timeout: 600_000, env });
    if (present()) return;
  }
  throw new Error(`${command} is missing; install it with: sudo apt-get install -y ${pkg}`);
}

/** A port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function config(dir: string, port: number): string {
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / { default_type text/plain; return 200 "ok"; }
  }
}
`;
}

/** Starts nginx on a free 127.0.0.1 port and waits until it answers. */
export async function startNginx(): Promise<Nginx> {
  ensureCommand('nginx', ['-v'], 'nginx-light');
  const version = (spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr ?? '').trim().replace(/^nginx version: /, '');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'portstorm-nginx-'));
  const port = await freePort();
  await writeFile(path.join(dir, 'nginx.conf'), config(dir, port));
  const child: ChildProcess = spawn('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], { stdio: 'ignore' });
  let exited = false;
  child.once('exit', () => (exited = true));
  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGQUIT');
      await Promise.race([new Promise((r) => child.once('exit', r)), delay(3000).then(() => child.kill('SIGKILL'))]);
    }
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100; i++) {
    if (exited) break;
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (up) return { url: `http://127.0.0.1:${port}/`, version, stop };
    await delay(50);
  }
  await stop();
  throw new Error(`nginx did not start on 127.0.0.1:${port}`);
}
