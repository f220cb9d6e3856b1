// A process's cgroup, from /proc/<pid>/cgroup: the memory limit it runs under (a container's, a
// systemd unit's), on cgroup v2 and v1, and which container it is in, by the path the runtimes
// give their cgroups (docker-<id>.scope, cri-containerd-<id>.scope, crio-<id>.scope,
// libpod-<id>.scope, /libpod_parent/libpod-<id>, /docker/<id>, /kubepods/.../<id>, /lxc/<name>). Paths in /proc/<pid>/cgroup
// are relative to nodetop's own cgroup namespace root, which is what its /sys/fs/cgroup shows.
//
// Every string read here (a container's name, a path) is someone else's: callers print it only
// through sanitize().

import * as fs from 'node:fs';
import * as path from 'node:path';

export interface CgroupPaths {
  /** The cgroup v2 path (the `0::` line), or null on a v1-only host. */
  unified: string | null;
  /** cgroup v1 controller -> path (`4:memory:/docker/...`). */
  v1: Map<string, string>;
}

export function parseCgroupFile(text: string): CgroupPaths {
  const out: CgroupPaths = { unified: null, v1: new Map() };
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '0' && m[2] === '') out.unified = m[3]!;
    else for (const c of (m[2] ?? '').split(',')) if (c) out.v1.set(c, m[3]!);
  }
  return out;
}

function readCgroupPaths(pid: number): CgroupPaths | null {
  try {
    return parseCgroupFile(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
  } catch {
    return null;
  }
}

/** A limit file's value in bytes; null for none (`max`, or v1's "unlimited" near 2^63). */
export function parseLimit(text: string): number | null {
  const v = text.trim();
  if (v === 'max' || !/^\d+$/.test(v)) return null;
  const n = Number(v);
  return n >= 2 ** 62 ? null : n;
}

/** The directories of a cgroup and its ancestors below `root`, innermost first. */
function upFrom(root: string, cgPath: string): string[] {
  const dirs: string[] = [];
  // a path from the file must stay under the mount: no `..`
  const parts = cgPath.split('/').filter((p) => p && p !== '.' && p !== '..');
  for (let i = parts.length; i >= 0; i--) dirs.push(path.join(root, ...parts.slice(0, i)));
  return dirs;
}

function readLimitFile(file: string): number | null | undefined {
  try {
    return parseLimit(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined; // no such file here
  }
}

/** Where this host mounts cgroup v2 (pure v2 at /sys/fs/cgroup, hybrid at /sys/fs/cgroup/unified). */
function unifiedRoot(): string | null {
  if (fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) return '/sys/fs/cgroup';
  if (fs.existsSync('/sys/fs/cgroup/unified/cgroup.procs')) return '/sys/fs/cgroup/unified';
  return null;
}

/**
 * The memory limit the pid runs under, bytes: the lowest `memory.max` (v2) or
 * `memory.limit_in_bytes` (v1) of its cgroup and every ancestor (a pod's limit sits above its
 * containers'). Null when there is none or it cannot be read.
 */
export function readMemoryLimit(pid: number): number | null {
  const cg = readCgroupPaths(pid);
  if (!cg) return null;
  const limits: number[] = [];
  const v2root = cg.unified !== null ? unifiedRoot() : null;
  if (v2root !== null && cg.unified !== null) {
    for (const dir of upFrom(v2root, cg.unified)) {
      const v = readLimitFile(path.join(dir, 'memory.max'));
      if (typeof v === 'number') limits.push(v);
    }
  }
  const v1 = cg.v1.get('memory');
  if (v1 !== undefined) {
    for (const dir of upFrom('/sys/fs/cgroup/memory', v1)) {
      const v = readLimitFile(path.join(dir, 'memory.limit_in_bytes'));
      if (typeof v === 'number') limits.push(v);
    }
  }
  return limits.length ? Math.min(...limits) : null;
}

/** The memory the pid's cgroup uses now, bytes (v2 memory.current, v1 memory.usage_in_bytes), or null. */
export function readMemoryCurrent(pid: number): number | null {
  const cg = readCgroupPaths(pid);
  if (!cg) return null;
  const v2root = cg.unified !== null ? unifiedRoot() : null;
  const v1 = cg.v1.get('memory');
  const files = [
    ...(v2root !== null && cg.unified !== null ? [path.join(upFrom(v2root, cg.unified)[0]!, 'memory.current')] : []),
    ...(v1 !== undefined ? [path.join(upFrom('/sys/fs/cgroup/memory', v1)[0]!, 'memory.usage_in_bytes')] : []),
  ];
  for (const f of files) {
    const v = readLimitFile(f);
    if (typeof v === 'number') return v;
  }
  return null;
}

export interface Container {
  /** Who made it, from its cgroup path: docker, containerd, cri-o, podman, lxc, kubernetes (a pod, runtime not named). */
  runtime: 'docker' | 'containerd' | 'cri-o' | 'podman' | 'lxc' | 'kubernetes';
  /** The container id (64 hex digits for most runtimes; LXC's name). */
  id: string;
  /** Its name where the runtime says it (Docker's and Podman's records, a pod's HOSTNAME), else null. */
  name: string | null;
  /** The Kubernetes pod's uid, when the path names one. */
  podUid: string | null;
}

const HEX64 = '[0-9a-f]{64}';

/** The container a cgroup path belongs to, or null for none (the host, a systemd service). */
export function containerFromCgroupPath(p: string): Omit<Container, 'name'> | null {
  const pod = /kubepods[^/]*\/(?:[^/]*\/)?(?:kubepods-[a-z]+-)?pod([0-9a-f_-]{36})(?:\.slice)?\//.exec(p);
  const podUid = pod ? pod[1]!.replace(/_/g, '-') : null;
  const rules: Array<[RegExp, Container['runtime']]> = [
    [new RegExp(`(?:^|/)docker-(${HEX64})\\.scope(?:/|$)`), 'docker'],
    [new RegExp(`(?:^|/)docker/(${HEX64})(?:/|$)`), 'docker'],
    [new RegExp(`(?:^|/)cri-containerd-(${HEX64})\\.scope(?:/|$)`), 'containerd'],
    [new RegExp(`(?:^|/)crio-(${HEX64})\\.scope(?:/|$)`), 'cri-o'],
    // systemd's libpod-<id>.scope, and cgroupfs's /libpod_parent/libpod-<id> (not libpod-conmon-<id>)
    [new RegExp(`(?:^|/)libpod-(${HEX64})(?:\\.scope)?(?:/|$)`), 'podman'],
    [new RegExp(`(?:^|/)kubepods[^/]*/(?:[^/]+/)*(${HEX64})(?:/|$)`), 'kubernetes'],
    [/(?:^|\/)lxc(?:\.payload)?[./]([A-Za-z0-9_.-]{1,64})(?:\/|$)/, 'lxc'],
  ];
  for (const [re, runtime] of rules) {
    const m = re.exec(p);
    if (m) return { runtime, id: m[1]!, podUid };
  }
  return null;
}

/** Printable ASCII only, at most `max` characters: a name from a file is someone else's text. */
export function sanitize(s: string, max = 63): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, max);
}

function readJson(file: string, maxBytes = 1 << 20): unknown {
  try {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile() || st.size > maxBytes) return null;
      return JSON.parse(fs.readFileSync(fd, 'utf8'));
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return null;
  }
}

/** The container's name as the runtime records it (root can read these), or null. */
function nameOf(pid: number, c: Omit<Container, 'name'>): string | null {
  if (c.runtime === 'docker') {
    const cfg = readJson(`/var/lib/docker/containers/${c.id}/config.v2.json`, 4 << 20) as { Name?: unknown } | null;
    if (cfg && typeof cfg.Name === 'string') return sanitize(cfg.Name.replace(/^\//, ''));
  }
  if (c.runtime === 'podman') {
    for (const f of ['/var/lib/containers/storage/overlay-containers/containers.json']) {
      const list = readJson(f, 16 << 20);
      if (Array.isArray(list)) {
        const hit = list.find((e: { id?: unknown }) => e && e.id === c.id) as { names?: unknown } | undefined;
        if (hit && Array.isArray(hit.names) && typeof hit.names[0] === 'string') return sanitize(hit.names[0]);
      }
    }
  }
  if (c.podUid !== null || c.runtime === 'kubernetes' || c.runtime === 'containerd' || c.runtime === 'cri-o') {
    // Kubernetes sets HOSTNAME to the pod's name (not in hostNetwork pods, where it is the node's)
    try {
      const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').find((e) => e.startsWith('HOSTNAME='));
      if (env) return sanitize(env.slice('HOSTNAME='.length));
    } catch {
      /* another user's */
    }
  }
  return null;
}

/**
 * Where a process runs, for a column: its container (`docker:3f2a9c1b7d4e web`), `own netns` in
 * another network namespace without a known runtime (unshare, a PrivateNetwork service), `-` in
 * nodetop's own, `?` when unreadable.
 */
export function containerLabel(c: Container | null, sharesNetwork: boolean | null): string {
  if (c) return `${c.runtime}:${c.id.slice(0, 12)}${c.name ? ` ${c.name}` : ''}`;
  if (sharesNetwork === false) return 'own netns';
  return sharesNetwork === null ? '?' : '-';
}

/** The container the pid runs in, from its cgroup path; null for none or when unreadable. */
export function containerOf(pid: number): Container | null {
  const cg = readCgroupPaths(pid);
  if (!cg) return null;
  for (const p of [cg.unified, ...cg.v1.values()]) {
    if (p === null) continue;
    const c = containerFromCgroupPath(p);
    if (c) return { ...c, id: sanitize(c.id, 64), name: nameOf(pid, c) };
  }
  return null;
}
