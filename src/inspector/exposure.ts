// Who else can reach a target's inspector: its listening sockets on the inspector's port, as the
// kernel lists them (/proc/<pid>/net/tcp{,6}, the socket inodes in /proc/<pid>/fd). A target
// started with --inspect=0.0.0.0:9229 answers nodetop on 127.0.0.1 like any other; only the
// kernel says that every interface reaches it too.

import { exposedAddresses } from '../loopback';
import * as proc from '../platform/proc';

/** Non-loopback addresses the pid's inspector listens on; [] loopback only; null cannot tell. */
export function inspectorExposure(pid: number, port: number): string[] | null {
  try {
    const mine = proc.listeningSockets(pid).filter((s) => s.port === port);
    // no socket of its own on that port: nodetop came through a forward, not the pid's socket
    return mine.length === 0 ? null : exposedAddresses(mine, port);
  } catch {
    return null;
  }
}
