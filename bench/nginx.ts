/**
 * nginx from Debian as a benchmark target that is not the bottleneck: one worker, access log off,
 * `return 200 "ok"` on 127.0.0.1, over HTTP or HTTPS (a given certificate, TLS 1.2 and 1.3, no
 * session cache, tickets on as by default), run in the foreground from a config written to a
 * temporary directory. Installed with apt-get when missing and running as root.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/** A running nginx. */
export interface Nginx {
  url: string;
  port: number;
  /** `nginx -V`'s version line, and the OpenSSL it was built with. */
  version: string;
  /** CPU seconds (user + system) its worker has used so far. */
  workerCpuS(): number;
  stop(): Promise<void>;
}

const CLK_TCK = 100;

/** user + system CPU seconds of a process (all its threads), from /proc. */
export function processCpuS(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
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

function config(dir: string, port: number, tls: boolean): string {
  const listen = tls
    ? `listen 127.0.0.1:${port} ssl backlog=4096;
    ssl_certificate ${dir}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;`
    : `listen 127.0.0.1:${port} backlog=4096;`;
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
    ${listen}
    location / { default_type text/plain; return 200 "ok"; }
  }
}
`;
}

/** Starts nginx on a free 127.0.0.1 port (HTTPS with `tls`, a PEM certificate and key) and waits until it answers. */
export async function startNginx(tls?: { cert: string; key: string }): Promise<Nginx> {
  ensureCommand('nginx', ['-v'], 'nginx-light');
  const version = (spawnSync('nginx', ['-V'], { encoding: 'utf8' }).stderr ?? '')
    .split('\n')
    .filter((l) => /nginx version|built with OpenSSL/.test(l))
    .map((l) => l.replace(/^nginx version: /, ''))
    .join('; ');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'portstorm-nginx-'));
  const port = await freePort();
  if (tls) {
    await writeFile(path.join(dir, 'cert.pem'), tls.cert);
    await writeFile(path.join(dir, 'key.pem'), tls.key, { mode: 0o600 });
  }
  await writeFile(path.join(dir, 'nginx.conf'), config(dir, port, tls !== undefined));
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
    if (up) {
      const workers = (): number[] => readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      const workerCpuS = (): number => workers().reduce((sum, pid) => sum + processCpuS(pid), 0);
      return { url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}/`, port, version, workerCpuS, stop };
    }
    await delay(50);
  }
  await stop();
  throw new Error(`nginx did not start on 127.0.0.1:${port}`);
}
