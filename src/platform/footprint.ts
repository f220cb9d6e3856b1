// Reads what src/model/footprint.ts compares: a process's fd table (number -> link) and its
// threads, from /proc. A few hundred readlinks for a server with a few hundred sockets (the fds
// owned by nodetop are re-read one by one at each sample, not the whole table).

import * as fs from 'node:fs';
import { nodetopShare, shareHeld, type Footprint } from '../model/footprint';
import * as proc from './proc';

const TCP_CLOSE_WAIT = 0x08;

export function readFootprint(pid: number): Footprint | null {
  try {
    const dir = `/proc/${pid}/fd`;
    const fds = new Map<number, string>();
    for (const n of fs.readdirSync(dir)) {
      try {
        fds.set(Number(n), fs.readlinkSync(`${dir}/${n}`));
      } catch {
        /* closed between readdir and readlink */
      }
    }
    return { fds, tids: new Set(fs.readdirSync(`/proc/${pid}/task`).map(Number)) };
  } catch {
    return null; // exited, or not ours to read
  }
}

/**
 * nodetop's share of pid now that it is attached, given the footprint read before. `inspectorPorts`:
 * every port its inspector listened on during the attach (9229, then the port nodetop moved it
 * to: the first connection's socket may still be closing). Null when unreadable.
 */
export function readNodetopShare(pid: number, before: Footprint | null, inspectorPorts: readonly number[], openedByNodetop: boolean): Footprint | null {
  if (before === null) return null;
  const after = readFootprint(pid);
  if (after === null) return null;
  // only the sockets that are new are looked up in the namespace's table (it can be 10,000 lines)
  const fresh = new Set<number>();
  for (const [fd, link] of after.fds) {
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m && before.fds.get(fd) !== link) fresh.add(Number(m[1]));
  }
  let sockets: Set<number>;
  try {
    const tcp = fresh.size ? proc.readTcpTable(pid, (inode) => fresh.has(inode)) : [];
    // on the inspector's port: its listener and nodetop's connections; in CLOSE_WAIT: a connection
    // its peer closed during the attach, which is nodetop asking a port whether it is the
    // inspector (a target with --inspect=:0 has each of its loopback ports asked), gone when the
    // app next runs its loop
    sockets = new Set(tcp.filter((e) => inspectorPorts.includes(e.localPort) || e.state === TCP_CLOSE_WAIT).map((e) => e.inode));
    // A new socket that no table lists is a TCP connection already closed whose fd its owner has
    // not closed yet: nodetop's /json/list request or its first connection before a move, reset
    // by nodetop and closed by the inspector's io thread a moment later (seen in 1 run in 3).
    const listed = new Set([...tcp.map((e) => e.inode), ...otherSocketInodes(pid, fresh)]);
    for (const inode of fresh) if (!listed.has(inode)) sockets.add(inode);
  } catch {
    return null;
  }
  return nodetopShare(before, after, sockets, openedByNodetop);
}

/** Which of `inodes` are UDP or unix sockets in pid's network namespace (an app's, never the inspector's). */
function otherSocketInodes(pid: number, inodes: ReadonlySet<number>): number[] {
  const out: number[] = [];
  // the inode is the 10th column of udp and udp6, the 7th of unix
  for (const [file, col] of [['udp', 9], ['udp6', 9], ['unix', 6]] as const) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/net/${file}`, 'latin1');
    } catch {
      continue; // no IPv6 here
    }
    for (const line of text.split('\n').slice(1)) {
      const inode = Number(line.trim().split(/\s+/)[col]);
      if (inodes.has(inode)) out.push(inode);
    }
  }
  return out;
}

/** How many of pid's fds and threads are still nodetop's share: only those fds are read again. */
export function heldNow(pid: number, share: Footprint): { fds: number; threads: number } {
  const fds = new Map<number, string>();
  for (const fd of share.fds.keys()) {
    try {
      fds.set(fd, fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      /* closed */
    }
  }
  const tids = new Set([...share.tids].filter((t) => fs.existsSync(`/proc/${pid}/task/${t}`)));
  return shareHeld(share, { fds, tids });
}
