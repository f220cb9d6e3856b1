// The relay: a small program that nodetop starts inside a target's network namespace
// (`nsenter --target <pid> --net node relayMain.js <dir>`) to carry connections from unix sockets
// in nodetop's private directory to the target's inspector on that namespace's loopback. Only
// the network namespace changes: the files (this script, the directory) are the host's.
//
// Standalone on purpose: it imports nothing of nodetop's and no package, so what runs as root in
// the target's namespace is this file and Node's own modules.
//
// Protocol, one line each way: the relay first says `hello loopback up` or `hello loopback down
// <code>`; nodetop writes `open <host> <port>`; the relay answers
// `ready <host> <port> <socket path>` or `error <host> <port> <reason>`. It exits when its
// stdin ends (nodetop exited, also by SIGKILL: the kernel closes the pipe), removing its sockets.

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

const dir = process.argv[2] ?? '';
const servers = new Map<string, { server: net.Server; file: string }>();
const open = new Set<net.Socket>();
let ending = false;

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function openRelay(host: string, port: number): void {
  const key = `${host} ${port}`;
  const known = servers.get(key);
  if (known) return say(`ready ${key} ${known.file}`);
  const file = path.join(dir, `${servers.size}-${port}.sock`);
  const server = net.createServer((client) => {
    const upstream = net.connect({ host, port });
    open.add(client);
    open.add(upstream);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.on('error', (e: NodeJS.ErrnoException) => say(`error ${key} ${e.code ?? 'listen failed'}`));
  server.listen(file, () => {
    servers.set(key, { server, file });
    say(`ready ${key} ${file}`);
  });
}

function finish(): void {
  if (ending) return;
  ending = true;
  for (const s of open) s.destroy();
  for (const { server, file } of servers.values()) {
    server.close();
    try {
      fs.unlinkSync(file);
    } catch {
      /* gone already */
    }
  }
  try {
    fs.rmdirSync(dir); // nodetop's directory, when nodetop could not remove it (SIGKILL)
  } catch {
    /* not empty, or removed by nodetop */
  }
  process.exit(0);
}

let buffered = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  buffered += chunk;
  for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    const m = /^open (127\.0\.0\.1|::1) (\d{1,5})$/.exec(line);
    if (m) openRelay(m[1]!, Number(m[2]));
  }
});
process.stdin.on('end', finish);
process.stdin.on('error', finish);
// nodetop gone before a line was written (EPIPE): without this the write's error killed the relay
// before it removed the directory
process.stdout.on('error', finish);
process.on('SIGTERM', finish);
process.on('SIGINT', () => undefined); // the user's Ctrl-C is nodetop's to handle; EOF ends the relay

/**
 * Whether this namespace's 127.0.0.1 can be connected to: a network namespace made without a
 * container runtime (`unshare -n`) has its loopback down. Node still opens its inspector there
 * (listen works), but every connection fails with ENETUNREACH, so nobody could ever close it.
 */
function checkLoopback(done: (state: string) => void): void {
  const server = net.createServer((s) => s.destroy());
  let client: net.Socket | null = null;
  let settled = false;
  const finish = (state: string): void => {
    if (settled) return;
    settled = true;
    client?.destroy();
    server.close();
    done(state);
  };
  server.on('error', (e: NodeJS.ErrnoException) => finish(`down ${e.code ?? 'EListen'}`));
  server.listen(0, '127.0.0.1', () => {
    client = net.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
    client.on('connect', () => finish('up'));
    client.on('error', (e: NodeJS.ErrnoException) => finish(`down ${e.code ?? 'EConnect'}`));
  });
}

checkLoopback((state) => say(`hello loopback ${state}`));
