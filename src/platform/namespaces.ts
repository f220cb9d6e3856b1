// Linux namespaces, read from /proc: whether a pid shares nodetop's network, mount, pid and user
// namespaces, what its pid is inside its own pid namespace, and whether nodetop can enter its
// network namespace (with nsenter) to reach an inspector that listens on that namespace's
// loopback. Reading only: nothing here enters a namespace or talks to the process.
//
// Not here: the relay that carries the inspector out (src/inspector/relay.ts), cgroups
// (cgroup.ts).

import * as fs from 'node:fs';
import * as path from 'node:path';

export type NsKind = 'net' | 'mnt' | 'pid' | 'user';
export const NS_KINDS: readonly NsKind[] = ['net', 'mnt', 'pid', 'user'];

/** The namespace's identity (`net:[4026531833]`), or null when /proc will not say (another user's process). */
export function readNamespace(pid: number | 'self', kind: NsKind): string | null {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/${kind}`);
  } catch {
    return null;
  }
}

export interface NamespaceComparison {
  /** Namespaces the pid is known to share with nodetop. */
  same: NsKind[];
  /** Namespaces it is known not to share. */
  differs: NsKind[];
  /** Namespaces nodetop cannot read (another user's process without CAP_SYS_PTRACE). */
  unknown: NsKind[];
}

export function compareNamespaces(pid: number): NamespaceComparison {
  const out: NamespaceComparison = { same: [], differs: [], unknown: [] };
  for (const kind of NS_KINDS) {
    const mine = readNamespace('self', kind);
    const theirs = readNamespace(pid, kind);
    if (mine === null || theirs === null) out.unknown.push(kind);
    else (mine === theirs ? out.same : out.differs).push(kind);
  }
  return out;
}

/**
 * The NSpid line of /proc/<pid>/status: the pid in the pid namespace of this /proc's mount and in
 * each nested one below it, outermost first. Null when the kernel has no such line (before 4.1).
 */
export function parseNsPid(statusText: string): number[] | null {
  const m = /^NSpid:\s*(.*)$/m.exec(statusText);
  if (!m) return null;
  const pids = (m[1] ?? '').trim().split(/\s+/).map(Number);
  return pids.length > 0 && pids.every((p) => Number.isInteger(p) && p > 0) ? pids : null;
}

/**
 * The pid as the process sees itself (`process.pid`): the innermost entry of NSpid. Equal to
 * `pid` for a process in nodetop's pid namespace; null when it cannot be read.
 */
export function pidInOwnNamespace(pid: number): number | null {
  try {
    const ns = parseNsPid(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return ns ? ns[ns.length - 1]! : pid;
  } catch {
    return null;
  }
}

/**
 * The parent pid as the process sees it (`process.ppid`): its parent's innermost pid when the
 * parent is in the same pid namespace, 0 when the parent is outside it (the first process of a
 * container). Null when /proc will not tell.
 */
export function ppidInOwnNamespace(pid: number, ppid: number): number | null {
  const own = readNamespace(pid, 'pid');
  const parents = readNamespace(ppid, 'pid');
  if (own === null || parents === null) return null;
  if (own !== parents) return 0;
  return pidInOwnNamespace(ppid);
}

/** The first executable named `cmd` on PATH, or null. */
export function findOnPath(cmd: string, envPath: string = process.env.PATH ?? ''): string | null {
  for (const dir of envPath.split(':')) {
    if (!dir || !path.isAbsolute(dir)) continue; // a relative PATH entry is the working directory's to plant
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

export const CAP_SYS_PTRACE = 19;
export const CAP_SYS_ADMIN = 21;

/** nodetop's effective capabilities (CapEff of /proc/self/status), 0n when unreadable. */
export function ownCapabilities(): bigint {
  try {
    const m = /^CapEff:\s*([0-9a-fA-F]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? BigInt(`0x${m[1]}`) : 0n;
  } catch {
    return 0n;
  }
}

export function hasCapability(caps: bigint, cap: number): boolean {
  return (caps & (1n << BigInt(cap))) !== 0n;
}

/**
 * Whether a /proc/<pid>/uid_map (`inside outside count` lines, `outside` as the reader's user
 * namespace sees it) maps some uid of that namespace onto `uid`.
 */
export function uidMapCovers(uidMapText: string, uid: number): boolean {
  for (const line of uidMapText.split('\n')) {
    const f = line.trim().split(/\s+/).map(Number);
    if (f.length !== 3 || !f.every((n) => Number.isInteger(n) && n >= 0)) continue;
    const [, outside, count] = f as [number, number, number];
    if (uid >= outside && uid < outside + count) return true;
  }
  return false;
}

/**
 * The pid runs as `uid` in a user namespace of its own whose uid_map maps onto `uid`: a rootless
 * container of that user (podman rootless, `unshare --user --map-root-user`). Such a namespace is
 * owned by that user, who holds every capability in it (user_namespaces(7)): it may enter it and,
 * from there, its network namespace, without root. A guess from /proc, not a proof (the owner is
 * not in /proc, and a namespace nested elsewhere refuses): the relay's start decides.
 */
export function ownRootlessContainer(pid: number, uid: number): boolean {
  const mine = readNamespace('self', 'user');
  const theirs = readNamespace(pid, 'user');
  if (mine === null || theirs === null || mine === theirs) return false;
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    // real, effective and saved uid: the kernel's ptrace check, which opening its namespaces takes, wants all three
    const ids = /^Uid:\s*(\d+)\s+(\d+)\s+(\d+)/m.exec(status);
    if (!ids || ids.slice(1, 4).some((u) => Number(u) !== uid)) return false;
    return uidMapCovers(fs.readFileSync(`/proc/${pid}/uid_map`, 'utf8'), uid);
  } catch {
    return false;
  }
}

/** How nodetop can reach a loopback port in the network namespace of a pid. */
export type NetReach =
  | { kind: 'same' }
  /** `user`: enter the pid's user namespace first (nodetop's own rootless container), keeping nodetop's uid. */
  | { kind: 'enter'; nsenter: string; user: boolean }
  | { kind: 'unreachable'; reason: string };

/**
 * Decided from /proc before anything is sent to the pid. Entering another network namespace
 * (setns) takes CAP_SYS_ADMIN over the user namespace that owns it, and opening
 * /proc/<pid>/ns/net takes ptrace access to the pid (CAP_SYS_PTRACE for another user's
 * process): root on the host has both over every container, and a user has both over its own
 * rootless containers (entered through their user namespace). A user namespace that is not below
 * nodetop's own (a sibling container's, seen from inside another) still fails in nsenter: the
 * relay's start is the final check, also before any signal.
 */
export function netReach(pid: number, opts: { caps?: bigint; nsenter?: string | null; uid?: number } = {}): NetReach {
  const mine = readNamespace('self', 'net');
  const theirs = readNamespace(pid, 'net');
  if (mine !== null && mine === theirs) return { kind: 'same' };
  const caps = opts.caps ?? ownCapabilities();
  const nsenter = opts.nsenter === undefined ? findOnPath('nsenter') : opts.nsenter;
  if (theirs === null) {
    return { kind: 'unreachable', reason: `nodetop may not read the network namespace of pid ${pid} (/proc/${pid}/ns/net), so it cannot tell whether its inspector would be reachable` };
  }
  const where = `pid ${pid} runs in another network namespace (a container's)`;
  const privileged = hasCapability(caps, CAP_SYS_ADMIN) && hasCapability(caps, CAP_SYS_PTRACE);
  const uid = opts.uid ?? process.geteuid?.() ?? -1;
  const rootless = !privileged && ownRootlessContainer(pid, uid);
  if (!privileged && !rootless) {
    return { kind: 'unreachable', reason: `${where} and entering it takes root (CAP_SYS_ADMIN and CAP_SYS_PTRACE), which this nodetop does not have (a user enters only its own rootless containers)` };
  }
  if (nsenter === null) {
    return { kind: 'unreachable', reason: `${where} and entering it takes nsenter (util-linux), which is not on PATH` };
  }
  // The relay would hold every capability of the container's user namespace while it lives in
  // this pid and mount namespace: a container process that can see it (the same pid namespace)
  // could trace it, or read this host's files through /proc/<relay>/root (shown by a review).
  // In a pid namespace of its own (podman rootless, Kubernetes), the container sees no relay.
  if (rootless) {
    const ownPid = readNamespace('self', 'pid');
    const theirPid = readNamespace(pid, 'pid');
    if (ownPid === null || theirPid === null || ownPid === theirPid) {
      return {
        kind: 'unreachable',
        reason: `${where} of this user, but it shares this pid namespace: a relay in its user namespace would be its processes' to trace (and to read this host's files through), so nodetop does not start one`,
      };
    }
  }
  return { kind: 'enter', nsenter, user: rootless };
}
