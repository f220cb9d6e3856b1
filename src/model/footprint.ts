// What of a target's fds and threads is nodetop's own, so that `process.fds.open` and
// `process.threads` are the app's (issue 22: +7 fds and +1 thread on Node 20 while nodetop was
// attached). Measured on Node 20.20 when SIGUSR1 opens the inspector: six fds appear (the
// listening socket, the io thread's libuv loop: an epoll fd, an eventfd, a pipe pair, and the
// /dev/null libuv keeps in reserve for EMFILE) and one thread (the inspector's io thread), and
// every client connection is one more socket. All of them go when the inspector closes.
//
// The attribution compares the fd table and thread list read before nodetop did anything with
// the ones read once it is attached:
//  - a new socket on the inspector's port (its listener, nodetop's connection) is nodetop's;
//  - when nodetop opened the inspector, the new epoll, eventfd, pipe and /dev/null fds and the
//    new threads are the inspector's, hence nodetop's; when the inspector was open already, they
//    were there before and stay the app's;
//  - anything else that appeared meanwhile (a file, another socket) is the app's.
// An app that creates an epoll fd or a thread in the same few milliseconds is miscounted by that.

export interface Footprint {
  /** fd number -> what /proc/<pid>/fd/<n> links to ("socket:[123]", "anon_inode:[eventpoll]"). */
  fds: Map<number, string>;
  tids: Set<number>;
}

const LOOP_FD = /^(anon_inode:\[(eventpoll|eventfd|io_uring)\]|pipe:\[\d+\]|\/dev\/null)$/;

/** nodetop's share of the target: what appeared between `before` and `after` and is the inspector's. */
export function nodetopShare(before: Footprint, after: Footprint, inspectorSockets: ReadonlySet<number>, openedByNodetop: boolean): Footprint {
  const fds = new Map<number, string>();
  for (const [fd, link] of after.fds) {
    if (before.fds.get(fd) === link) continue;
    const socket = /^socket:\[(\d+)\]$/.exec(link);
    if (socket ? inspectorSockets.has(Number(socket[1])) : openedByNodetop && LOOP_FD.test(link)) fds.set(fd, link);
  }
  const tids = new Set(openedByNodetop ? [...after.tids].filter((t) => !before.tids.has(t)) : []);
  return { fds, tids };
}

/** How much of `share` the target still holds in `now` (an fd closed or a thread gone is no longer nodetop's). */
export function shareHeld(share: Footprint, now: Footprint): { fds: number; threads: number } {
  let fds = 0;
  for (const [fd, link] of share.fds) if (now.fds.get(fd) === link) fds++;
  let threads = 0;
  for (const t of share.tids) if (now.tids.has(t)) threads++;
  return { fds, threads };
}
