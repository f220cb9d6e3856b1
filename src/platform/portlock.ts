// A host-wide lock on "opening an inspector on port P of network namespace N with SIGUSR1".
// Every Node process that SIGUSR1 opens binds the same default port (9229), so two nodetops
// signalling two processes at once make them race for it and one fails, silently. The lock is
// an abstract unix socket (Linux): binding the name is taking the lock, the kernel releases it
// when the holder exits however it exits (a SIGKILLed nodetop never wedges the others), and
// /proc/net/unix names who holds it. Node has no flock(2), and a lock file with a pid in it
// outlives a killed holder. Abstract names are per network namespace: nodetops in the same
// namespace (the host's, normally) share them; the name carries the target's namespace, so
// targets in different containers do not wait for each other. Any local user can bind the
// name too (squat it): the wait is bounded, and the holder is named.

import * as fs from 'node:fs';
import * as net from 'node:net';

export interface PortLock {
  release(): void;
}

export interface LockHolder {
  pid: number | null;
  uid: number | null;
  comm: string | null;
}

export function lockName(netns: string, port: number): string {
  return `nodetop-sigusr1-${netns}-${port}`;
}

function tryBind(name: string): Promise<net.Server | null> {
  return new Promise((resolve) => {
    const srv = net.createServer((c) => c.destroy());
    srv.once('error', () => resolve(null));
    srv.listen({ path: `\0${name}`, exclusive: true }, () => {
      srv.unref();
      resolve(srv);
    });
  });
}

/** Takes the lock, waiting until `deadline` (epoch ms); null when it is still held then. */
export async function acquirePortLock(name: string, deadline: number): Promise<PortLock | null> {
  for (;;) {
    const srv = await tryBind(name);
    if (srv) {
      let held = true;
      return {
        release() {
          if (!held) return;
          held = false;
          srv.close();
        },
      };
    }
    if (Date.now() >= deadline) return null;
    // a hold lasts 50-200 ms (signal, open, move off the port): look often, jittered so that
    // twenty waiters do not all wake together
    await new Promise((r) => setTimeout(r, 10 + Math.floor(Math.random() * 15)));
  }
}

/** Who holds the lock now, from /proc/net/unix and the fd tables nodetop may read. */
export function lockHolder(name: string): LockHolder | null {
  let inode: number | null = null;
  try {
    for (const line of fs.readFileSync('/proc/net/unix', 'utf8').split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f[7] === `@${name}`) inode = Number(f[6]);
    }
  } catch {
    return null;
  }
  if (inode === null) return null;
  const want = `socket:[${inode}]`;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${d}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = fs.readlinkSync(`/proc/${d}/fd/${fd}`);
      } catch {
        continue;
      }
      if (link !== want) continue;
      let uid: number | null = null;
      let comm: string | null = null;
      try {
        uid = fs.statSync(`/proc/${d}`).uid;
        comm = fs.readFileSync(`/proc/${d}/comm`, 'utf8').trim();
      } catch {
        /* exited */
      }
      return { pid: Number(d), uid, comm };
    }
  }
  return { pid: null, uid: null, comm: null };
}
