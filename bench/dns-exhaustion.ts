/**
 * Run: `npx tsc -p tsconfig.json && node build/bench/dns-exhaustion.js`
 *
 * Do getaddrinfo lookups (`dns.lookup`, what `dns: per-connection` does) fail when the client's
 * TCP ports run out? Inside a private user, mount and network namespace this script makes for
 * itself (`unshare -rnm`): a DNS server of its own on 198.18.0.53:53/udp (answering A for
 * staging-api.internal, nothing else) named by a bind-mounted /etc/resolv.conf with
 * /etc/nsswitch.conf `hosts: dns` (so every lookup is a UDP query), a TCP listener on
 * 198.18.0.2:8080, the ephemeral range narrowed to 50 ports, tcp_tw_reuse 0. Lookups are tried
 * (a) with free ports, (b) with every TCP port of the range taken by connections, (c) with every
 * UDP port of the range bound as well, and (d) with the process out of descriptors (RLIMIT_NOFILE
 * 256 set by the shell). Prints one JSON line: each lookup's outcome per case and the queries the
 * server answered. Bounded: a few seconds; nothing leaves the namespace.
 */
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { openSync, closeSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const NAME = 'staging-api.internal';
const DNS_IP = '198.18.0.53';
const TARGET = '198.18.0.2';
const RANGE = [40000, 40049] as const;
const TRIES = 5;

if (process.argv[2] !== '--inner') {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-dns-exhaustion-'));
  writeFileSync(path.join(dir, 'resolv.conf'), `nameserver ${DNS_IP}\noptions timeout:1 attempts:1\n`);
  writeFileSync(path.join(dir, 'nsswitch.conf'), 'hosts: dns\n');
  const shell = [
    'ip link set lo up',
    `ip addr add ${DNS_IP}/32 dev lo`,
    `ip addr add ${TARGET}/32 dev lo`,
    `mount --bind ${dir}/resolv.conf /etc/resolv.conf`,
    `mount --bind ${dir}/nsswitch.conf /etc/nsswitch.conf`,
    `echo "${RANGE[0]} ${RANGE[1]}" > /proc/sys/net/ipv4/ip_local_port_range`,
    'echo 0 > /proc/sys/net/ipv4/tcp_tw_reuse',
    'ulimit -n 256',
    'exec "$0" "$@"',
  ].join(' && ');
  const r = spawnSync('unshare', ['-rnm', 'sh', '-c', shell, process.execPath, fileURLToPath(import.meta.url), '--inner'], { stdio: 'inherit', timeout: 60_000 });
  process.exit(r.status ?? 1);
}

/** A DNS server answering A queries for NAME with TARGET, and every other query with no answer. */
async function dnsServer(): Promise<{ queries: () => number; close: () => void }> {
  let queries = 0;
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, peer) => {
    queries++;
    let i = 12;
    const labels: string[] = [];
    while (msg[i]! !== 0) {
      labels.push(msg.subarray(i + 1, i + 1 + msg[i]!).toString());
      i += msg[i]! + 1;
    }
    const qtype = msg.readUInt16BE(i + 1);
    const question = msg.subarray(12, i + 5);
    const answer = labels.join('.') === NAME && qtype === 1;
    const head = Buffer.alloc(12);
    msg.copy(head, 0, 0, 2);
    head.writeUInt16BE(0x8180, 2);
    head.writeUInt16BE(1, 4);
    head.writeUInt16BE(answer ? 1 : 0, 6);
    const rr = answer ? Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, ...TARGET.split('.').map(Number)]) : Buffer.alloc(0);
    sock.send(Buffer.concat([head, question, rr]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => sock.bind(53, DNS_IP, resolve));
  return { queries: () => queries, close: () => sock.close() };
}

async function tryLookups(): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < TRIES; i++) {
    try {
      out.push((await lookup(NAME)).address);
    } catch (err) {
      out.push(`${(err as NodeJS.ErrnoException).code}`);
    }
  }
  return out;
}

const server = await dnsServer();
const listener = net.createServer((s) => s.on('error', () => undefined));
await new Promise<void>((resolve) => listener.listen(8080, TARGET, resolve));
const result: Record<string, unknown> = {};
result.free = await tryLookups();

// (b) every TCP port of the range held by an established connection.
const tcp: net.Socket[] = [];
let tcpError = '';
for (let i = 0; i <= RANGE[1] - RANGE[0] + 1 && !tcpError; i++) {
  await new Promise<void>((resolve) => {
    const s = net.connect({ host: TARGET, port: 8080 });
    s.once('connect', () => {
      tcp.push(s);
      resolve();
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      tcpError = `${err.syscall}:${err.code}`;
      resolve();
    });
  });
}
result.tcpConnections = tcp.length;
result.tcpNextConnect = tcpError;
result.tcpExhausted = await tryLookups();

// (c) every UDP port of the range bound as well.
const udp: dgram.Socket[] = [];
let udpError = '';
while (!udpError && udp.length < 100) {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => {
    s.once('error', (err: NodeJS.ErrnoException) => {
      udpError = `${err.syscall}:${err.code}`;
      resolve();
    });
    s.bind(0, '0.0.0.0', () => {
      udp.push(s);
      resolve();
    });
  });
}
result.udpBound = udp.length;
result.udpNextBind = udpError;
result.tcpAndUdpExhausted = await tryLookups();
for (const s of udp) s.close();
result.udpFreedAgain = await tryLookups();

// (d) descriptors: open the null device until EMFILE.
const fds: number[] = [];
let fdError = '';
while (!fdError) {
  try {
    fds.push(openSync('/dev/null', 'r'));
  } catch (err) {
    fdError = (err as NodeJS.ErrnoException).code ?? 'error';
  }
}
result.descriptorsOpened = fds.length;
result.descriptorsExhausted = await tryLookups();
for (const fd of fds) closeSync(fd);
result.descriptorsFreedAgain = await tryLookups();
result.queriesAnswered = server.queries();
for (const s of tcp) s.destroy();
listener.close();
server.close();
process.stdout.write(JSON.stringify(result) + '\n');
