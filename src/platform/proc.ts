// What Linux's /proc says about a process, read from outside it. Everything here costs the
// target nothing, which is why nodetop asks /proc first and the inspector second: whether a
// pid is Node, whether SIGUSR1 is safe to send, which sockets it listens on, its CPU, RSS and
// fds. Parsing is split from reading so the parsers are unit-tested on real /proc text.
//
// Not here: anything that talks to the target (src/inspector), formatting (src/model).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { readMemoryLimit } from './cgroup';

export const CLOCK_TICKS_PER_SEC = 100; // USER_HZ; 100 on every Linux ABI Node runs on
export const PAGE_SIZE = 4096;

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  utimeTicks: number;
  stimeTicks: number;
  numThreads: number;
  startTimeTicks: number;
  rssPages: number;
}

/** Parses /proc/<pid>/stat. comm may contain spaces and parentheses, so split at the last ')'. */
export function parseStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < 0) throw new Error('malformed /proc stat');
  const pid = Number(text.slice(0, open).trim());
  const comm = text.slice(open + 1, close);
  const f = text.slice(close + 2).trim().split(/\s+/);
  // f[0] is field 3 (state); field n is f[n - 3]
  return {
    pid,
    comm,
    state: f[0] ?? '?',
    ppid: Number(f[1]),
    utimeTicks: Number(f[11]),
    stimeTicks: Number(f[12]),
    numThreads: Number(f[17]),
    startTimeTicks: Number(f[19]),
    rssPages: Number(f[21]),
  };
}

export interface ProcStatus {
  uid: number;
  /** The uid the process's new files get (the file-system uid: the last on the line). */
  fsUid: number;
  /** Every uid it holds (real, effective, saved, file system): it can take any of them up. */
  uids: number[];
  /** Its effective and permitted capabilities (CapEff, CapPrm): 0n for a process bound by file permissions. */
  capEff: bigint;
  capPrm: bigint;
  sigCaught: bigint;
  sigIgnored: bigint;
  sigBlocked: bigint;
}

export function parseStatus(text: string): ProcStatus {
  const field = (name: string): string => {
    const m = new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(text);
    return m?.[1]?.trim() ?? '';
  };
  const hex = (name: string): bigint => {
    const v = field(name);
    return v ? BigInt(`0x${v}`) : 0n;
  };
  const ids = (name: string): number[] => field(name).split(/\s+/).map(Number);
  return {
    uid: ids('Uid')[0]!,
    fsUid: ids('Uid')[3] ?? NaN,
    uids: ids('Uid').filter((n) => Number.isInteger(n)),
    // a status without the lines is read as capable: the callers that ask are deciding what to trust
    capEff: field('CapEff') ? hex('CapEff') : -1n,
    capPrm: field('CapPrm') ? hex('CapPrm') : -1n,
    sigCaught: hex('SigCgt'),
    sigIgnored: hex('SigIgn'),
    sigBlocked: hex('SigBlk'),
  };
}

export const SIGUSR1 = 10;

export function signalInMask(mask: bigint, signal: number): boolean {
  return ((mask >> BigInt(signal - 1)) & 1n) === 1n;
}

export interface TcpEntry {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  state: number;
  inode: number;
}

export const TCP_LISTEN = 0x0a;
const TCP_SYN_RECV = 0x03;
export const TCP_ESTABLISHED = 0x01;

function hexToIpv4(hex: string): string {
  // /proc prints the 32-bit address in host byte order (little-endian here)
  const n = parseInt(hex, 16);
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff].join('.');
}

function hexToIpv6(hex: string): string {
  // four 32-bit words, each in host byte order
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (let b = 3; b >= 0; b--) bytes.push(parseInt(word.slice(b * 2, b * 2 + 2), 16));
  }
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${bytes.slice(12).join('.')}`;
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::').replace(/:{3,}/, '::');
}

const TCP_LINE = /^\s*\d+:\s+([0-9A-Fa-f]+):([0-9A-Fa-f]+)\s+([0-9A-Fa-f]+):([0-9A-Fa-f]+)\s+([0-9A-Fa-f]+)\s+\S+\s+\S+\s+\S+\s+\d+\s+-?\d+\s+(\d+)/gm;

/**
 * Parses /proc/<pid>/net/tcp or tcp6: the whole namespace's sockets, every TIME_WAIT included
 * (9,600 lines on this machine after a load test). `keep` picks entries by inode and state
 * before their addresses are decoded, which is most of the parsing.
 */
export function parseNetTcp(text: string, v6: boolean, keep?: (inode: number, state: number) => boolean): TcpEntry[] {
  const out: TcpEntry[] = [];
  const re = new RegExp(TCP_LINE.source, TCP_LINE.flags);
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const inode = Number(m[6]);
    const state = parseInt(m[5] ?? '0', 16);
    if (keep && !keep(inode, state)) continue;
    out.push({
      localAddress: v6 ? hexToIpv6(m[1]!) : hexToIpv4(m[1]!),
      localPort: parseInt(m[2]!, 16),
      remoteAddress: v6 ? hexToIpv6(m[3]!) : hexToIpv4(m[3]!),
      remotePort: parseInt(m[4]!, 16),
      state,
      inode,
    });
  }
  return out;
}

/** "Max open files" soft limit from /proc/<pid>/limits; null when unlimited or absent. */
export function parseFdSoftLimit(text: string): number | null {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m || !m[1] || m[1] === 'unlimited') return null;
  return Number(m[1]);
}

/**
 * The host's memory from /proc/meminfo, bytes: MemAvailable when the kernel gives it (3.14+),
 * else free + buffers + cached (what `free` did before it). Null when MemTotal is missing.
 */
export function parseMeminfo(text: string): { total: number; available: number } | null {
  const kb = (name: string): number | null => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : null;
  };
  const total = kb('MemTotal');
  if (total === null) return null;
  const available = kb('MemAvailable') ?? (kb('MemFree') ?? 0) + (kb('Buffers') ?? 0) + (kb('Cached') ?? 0);
  return { total, available };
}

// ---- reading ---------------------------------------------------------------------------

/** This host's memory (null where there is no /proc/meminfo). */
export function readMeminfo(): { total: number; available: number } | null {
  try {
    return parseMeminfo(fs.readFileSync('/proc/meminfo', 'utf8'));
  } catch {
    return null;
  }
}

function procPath(pid: number, ...rest: string[]): string {
  return path.join('/proc', String(pid), ...rest);
}

export function readStat(pid: number): ProcStat {
  return parseStat(fs.readFileSync(procPath(pid, 'stat'), 'utf8'));
}

export function readStatus(pid: number): ProcStatus {
  return parseStatus(fs.readFileSync(procPath(pid, 'status'), 'utf8'));
}

/** Each thread's status: a thread can hold other ids than the process's main thread. */
export function readTaskStatuses(pid: number): ProcStatus[] {
  return fs.readdirSync(procPath(pid, 'task')).map((tid) => parseStatus(fs.readFileSync(procPath(pid, 'task', tid, 'status'), 'utf8')));
}

/**
 * True when a path names the same file in the pid as in nodetop: the same mount namespace and
 * the same root (no chroot, no container). False when /proc will not tell.
 */
export function sharesFileSystemView(pid: number): boolean {
  try {
    return (
      fs.readlinkSync(procPath(pid, 'ns/mnt')) === fs.readlinkSync('/proc/self/ns/mnt') &&
      fs.readlinkSync(procPath(pid, 'root')) === fs.readlinkSync('/proc/self/root')
    );
  } catch {
    return false;
  }
}

/**
 * The real path of `dir` when nothing that runs as any of `uids` can change what it names, nor
 * what nodetop creates in it; null otherwise, or when a directory cannot be read. Every directory
 * from / down to it (symlinks resolved) is owned by another user and writable by nobody but its owner,
 * or is sticky (then only an entry's owner can rename or remove it, and the next directory on the
 * way is checked for its owner in turn). A POSIX ACL that lets others write shows in the group
 * bits (the mask). Use the path it returns: a symlink on the way as given may be that user's to
 * repoint.
 */
export function realPathOutOfReachOf(dir: string, uids: readonly number[]): string | null {
  try {
    const real = fs.realpathSync(dir);
    let cur = '/';
    for (const part of ['', ...real.split('/').filter(Boolean)]) {
      cur = part ? path.join(cur, part) : cur;
      const st = fs.lstatSync(cur);
      if (!st.isDirectory() || uids.includes(st.uid)) return null;
      if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) return null;
    }
    return real;
  } catch {
    return null;
  }
}

/** The process's resident set, bytes (VmRSS, what process.memoryUsage().rss reads); null: none (a zombie). */
export function readRssBytes(pid: number): number | null {
  const m = /^VmRSS:\s*(\d+) kB$/m.exec(fs.readFileSync(procPath(pid, 'status'), 'utf8'));
  return m ? Number(m[1]) * 1024 : null;
}

/** VmSize and VmData, bytes (what prom-client exports as process_virtual_memory_bytes and process_heap_bytes); null: unreadable. */
export function readVmBytes(pid: number): { size: number; data: number } | null {
  try {
    const s = fs.readFileSync(procPath(pid, 'status'), 'utf8');
    const size = /^VmSize:\s*(\d+) kB$/m.exec(s);
    const data = /^VmData:\s*(\d+) kB$/m.exec(s);
    return size && data ? { size: Number(size[1]) * 1024, data: Number(data[1]) * 1024 } : null;
  } catch {
    return null;
  }
}

export function readCmdline(pid: number): string[] {
  const raw = fs.readFileSync(procPath(pid, 'cmdline'), 'utf8');
  return raw.split('\0').filter((s, i, a) => s !== '' || i < a.length - 1);
}

/** The executable's path, or null when the kernel will not tell us (another user's process). */
export function readExe(pid: number): string | null {
  try {
    return fs.readlinkSync(procPath(pid, 'exe'));
  } catch {
    return null;
  }
}

/**
 * The process is alive. A zombie (exited, not yet reaped by its parent) is not: it is what a
 * SIGKILLed target is for the moment between its death, which closes nodetop's socket, and its
 * parent's wait().
 */
export function processExists(pid: number): boolean {
  try {
    const st = readStat(pid).state;
    return st !== 'Z' && st !== 'X' && st !== 'x';
  } catch {
    return false;
  }
}

/**
 * processExists, after giving an exiting process a moment: the kernel closes a dying process's
 * sockets before it turns into a zombie (a process with threads takes longer), so a connection
 * that just closed may belong to a process that is still on its way out. Bounded (300 ms).
 */
export async function processExistsSettled(pid: number): Promise<boolean> {
  for (let i = 0; i < 15; i++) {
    if (!processExists(pid)) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return processExists(pid);
}

/** True for an executable that is Node: node, nodejs, node20, node-v22.1.0 ... */
export function looksLikeNodeExecutable(exePath: string): boolean {
  const base = path.basename(exePath.replace(/ \(deleted\)$/, ''));
  return /^node(js)?([-_.]?v?\d[\w.-]*)?$/.test(base);
}

/** Socket inodes held by a process, from its fd table. Throws EACCES for another user's process. */
export function socketInodes(pid: number): Set<number> {
  const inodes = new Set<number>();
  const dir = procPath(pid, 'fd');
  for (const fd of fs.readdirSync(dir)) {
    let target: string;
    try {
      target = fs.readlinkSync(path.join(dir, fd));
    } catch {
      continue; // the fd closed between readdir and readlink
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m) inodes.add(Number(m[1]));
  }
  return inodes;
}

export function countFds(pid: number): number {
  return fs.readdirSync(procPath(pid, 'fd')).length;
}

export function readFdSoftLimit(pid: number): number | null {
  return parseFdSoftLimit(fs.readFileSync(procPath(pid, 'limits'), 'utf8'));
}

/** TCP sockets in the network namespace of `pid`. */
export function readTcpTable(pid: number | 'self', keep?: (inode: number, state: number) => boolean): TcpEntry[] {
  const out: TcpEntry[] = [];
  for (const [file, v6] of [['tcp', false], ['tcp6', true]] as const) {
    try {
      out.push(...parseNetTcp(fs.readFileSync(path.join('/proc', String(pid), 'net', file), 'utf8'), v6, keep));
    } catch {
      // no IPv6 in this kernel or namespace
    }
  }
  return out;
}

/**
 * The loopback host that reaches a socket listening on `address` (a wildcard is reached on
 * loopback too), or null when it is bound to a specific non-loopback address: not reached
 * without --allow-remote, and what listens on loopback instead may be another process's.
 */
export function loopbackHostFor(address: string): string | null {
  if (address === '0.0.0.0' || /^127\./.test(address)) return '127.0.0.1';
  if (address === '::' || address === '::1' || address === '0:0:0:0:0:0:0:1') return '::1';
  if (address.startsWith('::ffff:127.')) return '127.0.0.1';
  return null;
}

export interface ListeningSocket {
  address: string;
  port: number;
  inode: number;
}

/**
 * The listening part of /proc/<pid>/net/tcp or tcp6: the kernel lists listening sockets first
 * (the listening hash, then the established one, TIME_WAIT included), so reading stops at the
 * first line in another state. After a load test this machine's table held 9,600 TIME_WAIT
 * lines, and reading it whole took 15-30 ms each time an attach looked for the inspector.
 */
export function readListeningPrefix(file: string): string {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    let text = '';
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) return text;
      const start = text.length;
      text += buf.toString('latin1', 0, n);
      // a complete line (after the header) in a state other than LISTEN ends the listening part
      let from = Math.max(text.indexOf('\n') + 1, text.lastIndexOf('\n', start) + 1);
      for (let end = text.indexOf('\n', from); end >= 0; from = end + 1, end = text.indexOf('\n', from)) {
        const m = /^\s*\d+:\s+\S+\s+\S+\s+([0-9A-Fa-f]{2})\s/.exec(text.slice(from, end));
        const state = m ? parseInt(m[1]!, 16) : TCP_LISTEN;
        // kernels before 4.4 list each listener's pending connections (SYN_RECV) under it
        if (state !== TCP_LISTEN && state !== TCP_SYN_RECV) return text.slice(0, from);
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** TCP sockets that `pid` itself listens on (not merely ones in its namespace). */
export function listeningSockets(pid: number): ListeningSocket[] {
  const mine = socketInodes(pid);
  const out: ListeningSocket[] = [];
  for (const [file, v6] of [['tcp', false], ['tcp6', true]] as const) {
    let text: string;
    try {
      text = readListeningPrefix(path.join('/proc', String(pid), 'net', file));
    } catch {
      continue; // no IPv6 in this kernel or namespace
    }
    for (const e of parseNetTcp(text, v6, (inode, state) => state === TCP_LISTEN && mine.has(inode))) {
      out.push({ address: e.localAddress, port: e.localPort, inode: e.inode });
    }
  }
  return out;
}

/**
 * Which process listens on a TCP port in the network namespace of `nsOf` (ours by default)?
 * Scans the fd tables we may read. Returns null when the port is free; pid null when it is held
 * by a process we cannot see.
 */
export function listenerOfPort(port: number, nsOf: number | 'self' = 'self'): { pid: number | null; comm: string | null } | null {
  const inodes = new Set(
    readTcpTable(nsOf, (_inode, state) => state === TCP_LISTEN)
      .filter((e) => e.localPort === port)
      .map((e) => e.inode),
  );
  if (inodes.size === 0) return null;
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    let held: Set<number>;
    try {
      held = socketInodes(pid);
    } catch {
      continue;
    }
    for (const i of inodes) {
      if (held.has(i)) {
        let comm: string | null = null;
        try {
          comm = readStat(pid).comm;
        } catch {
          /* exited */
        }
        return { pid, comm };
      }
    }
  }
  return { pid: null, comm: null };
}

/** What the main thread is doing according to the kernel: for a target that does not answer. */
export function threadState(pid: number): { state: string; wchan: string | null; syscall: string | null } {
  const read = (f: string): string | null => {
    try {
      return fs.readFileSync(procPath(pid, 'task', String(pid), f), 'utf8').trim();
    } catch {
      return null;
    }
  };
  let state = '?';
  try {
    state = readStat(pid).state;
  } catch {
    /* gone */
  }
  const wchan = read('wchan');
  const sc = read('syscall');
  return { state, wchan: wchan && wchan !== '0' ? wchan : null, syscall: sc ? syscallName(sc) : null };
}

/**
 * Whether the main thread would act on SIGUSR1 now. Node opens the inspector from the main
 * thread: a V8 interrupt (served between JavaScript instructions, and in Atomics.wait) or a
 * wake-up of the event loop. Waiting in epoll in its own loop ('loop') wakes at once. Running in
 * user space is JavaScript, or native code that returns to it. Any other wait (a loop nested by
 * execSync, wait4, read, a futex of a native lock) may last any time, and the inspector opens
 * when it returns: 'blocked'. A futex is also how Atomics.wait waits, which V8 does interrupt, but the
 * two cannot be told apart from outside.
 */
export type MainThreadActivity = 'loop' | 'running' | 'blocked' | 'gone';

// epoll_wait, epoll_pwait, epoll_pwait2 (x64); epoll_pwait, epoll_pwait2 (arm64)
const EPOLL_SYSCALLS: Record<string, Set<number>> = { x64: new Set([232, 281, 441]), arm64: new Set([22, 441]) };

/** The thread's syscall number and first argument (the epoll fd for an epoll wait); null: running or unreadable. */
function threadSyscall(pid: number, tid: number): { nr: number; arg0: number } | 'running' | null {
  let text: string;
  try {
    text = fs.readFileSync(procPath(pid, 'task', String(tid), 'syscall'), 'utf8').trim();
  } catch {
    return null;
  }
  if (text === 'running') return 'running';
  const [nr, arg0] = text.split(/\s+/);
  return { nr: Number(nr), arg0: parseInt(arg0 ?? '', 16) };
}

function isEpollWait(sc: ReturnType<typeof threadSyscall>): sc is { nr: number; arg0: number } {
  return sc !== null && sc !== 'running' && !!EPOLL_SYSCALLS[process.arch]?.has(sc.nr);
}

/** The epoll fd the main thread waits in now, or null when it is not in an epoll wait. */
export function mainThreadEpoll(pid: number): number | null {
  const sc = threadSyscall(pid, pid);
  return isEpollWait(sc) ? sc.arg0 : null;
}

/**
 * Is `epfd` the epoll of the main thread's own event loop, rather than a loop nested in it?
 * execSync and spawnSync run a libuv loop of their own on the main thread, in epoll too (measured,
 * Node 20: epoll_pwait on fd 18 during execFileSync, fd 14 when idle); SIGUSR1 is acted on only
 * when it returns. Node's loop is created at start-up, so its epoll has the lowest number among
 * the epolls that watch an eventfd (a libuv loop's wake-up) and that no other thread waits in
 * (Node's platform thread and the inspector's have loops of their own, each waited in by its
 * thread). A nested loop is made later and gets a higher number, unless the application closed
 * a descriptor below Node's own: then this says "nested", and nodetop refuses to signal.
 */
function isMainLoopEpoll(pid: number, epfd: number): boolean {
  let names: string[];
  try {
    names = fs.readdirSync(procPath(pid, 'fd'));
  } catch {
    return false;
  }
  const waitedByOthers = new Set<number>();
  try {
    for (const tid of fs.readdirSync(procPath(pid, 'task'))) {
      if (Number(tid) === pid) continue;
      const sc = threadSyscall(pid, Number(tid));
      if (isEpollWait(sc)) waitedByOthers.add(sc.arg0);
    }
  } catch {
    return false;
  }
  const lower = names.map(Number).filter((n) => Number.isInteger(n) && n <= epfd).sort((a, b) => a - b);
  for (const fd of lower) {
    if (waitedByOthers.has(fd)) continue;
    let link: string;
    try {
      link = fs.readlinkSync(procPath(pid, 'fd', String(fd)));
    } catch {
      continue;
    }
    if (link !== 'anon_inode:[eventpoll]' || !watchesEventfd(pid, fd)) continue;
    return fd === epfd; // the first such epoll is the main loop's
  }
  return false;
}

function watchesEventfd(pid: number, epfd: number): boolean {
  let info: string;
  try {
    info = fs.readFileSync(procPath(pid, 'fdinfo', String(epfd)), 'utf8');
  } catch {
    return false;
  }
  for (const m of info.matchAll(/^tfd:\s*(\d+)/gm)) {
    try {
      if (fs.readlinkSync(procPath(pid, 'fd', m[1]!)) === 'anon_inode:[eventfd]') return true;
    } catch {
      /* closed meanwhile */
    }
  }
  return false;
}

/**
 * What the main thread is doing, for SIGUSR1. `mainLoopFd`: the main loop's epoll when known
 * (seen before the signal), else it is worked out (isMainLoopEpoll).
 */
export function mainThreadActivity(pid: number, mainLoopFd: number | null = null): MainThreadActivity {
  const sc = threadSyscall(pid, pid);
  if (sc === null) return processExists(pid) ? 'blocked' : 'gone';
  if (sc === 'running') return 'running';
  if (!isEpollWait(sc)) return 'blocked';
  if (mainLoopFd !== null) return sc.arg0 === mainLoopFd ? 'loop' : 'blocked';
  return isMainLoopEpoll(pid, sc.arg0) ? 'loop' : 'blocked';
}

const SYSCALLS_X64: Record<number, string> = {
  0: 'read', 1: 'write', 7: 'poll', 23: 'select', 35: 'nanosleep', 202: 'futex', 232: 'epoll_wait',
  230: 'clock_nanosleep', 281: 'epoll_pwait', 441: 'epoll_pwait2', 61: 'wait4', 17: 'pread64', 18: 'pwrite64', 74: 'fsync',
};

function syscallName(text: string): string {
  if (text === 'running') return 'running (in user space)';
  const n = Number(text.split(/\s+/)[0]);
  if (!Number.isFinite(n)) return text;
  if (n === -1) return 'none (blocked in the kernel outside a syscall)';
  return SYSCALLS_X64[n] ? `${SYSCALLS_X64[n]} (${n})` : `syscall ${n}`;
}

/** The memory limit of the process's cgroup (a container's), v2 or v1, or null when there is none. */
export function readCgroupMemoryLimit(pid: number): number | null {
  return readMemoryLimit(pid);
}

/** Every pid on the host we can read, with its parent. */
export function processTable(): Map<number, number> {
  const table = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      table.set(Number(name), readStat(Number(name)).ppid);
    } catch {
      /* exited while we looked */
    }
  }
  return table;
}

/** All descendants of `root` (children, their children...), from a pid -> ppid table. */
export function descendantsOf(root: number, table: Map<number, number>): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of table) {
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  const out: number[] = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out.sort((a, b) => a - b);
}

/** Whether pid runs Node, from /proc alone (false when we cannot tell). */
export function isNodeProcess(pid: number): boolean {
  const exe = readExe(pid);
  if (exe !== null) return looksLikeNodeExecutable(exe);
  return false;
}

/** NODE_OPTIONS of a process, from its environment ('' when unreadable or unset). */
export function readNodeOptions(pid: number): string {
  try {
    const kv = fs.readFileSync(procPath(pid, 'environ'), 'utf8').split('\0').find((e) => e.startsWith('NODE_OPTIONS='));
    return kv ? kv.slice('NODE_OPTIONS='.length) : '';
  } catch {
    return '';
  }
}


export interface Connection {
  direction: 'client' | 'server';
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

/**
 * Every established TCP connection `pid` holds, as the kernel knows them: whatever JavaScript can
 * or cannot reach (idle pooled sockets, unref'd ones, a worker's, a native addon's). A connection
 * whose local port is one the pid listens on was accepted (server side); the others it opened.
 */
export function tcpConnections(pid: number, mine: Set<number> = socketInodes(pid)): Connection[] {
  const table = readTcpTable(pid, (inode) => mine.has(inode));
  const listening = new Set(table.filter((e) => e.state === TCP_LISTEN).map((e) => e.localPort));
  return table
    .filter((e) => e.state === TCP_ESTABLISHED)
    .map((e) => ({
      direction: listening.has(e.localPort) ? ('server' as const) : ('client' as const),
      localAddress: e.localAddress,
      localPort: e.localPort,
      remoteAddress: e.remoteAddress,
      remotePort: e.remotePort,
    }));
}

/**
 * Remote ports of the clients connected to the pid's server socket on `port` (its own sockets
 * only, from /proc/<pid>/net/tcp* and its fds), less the one from `except`: who else is talking
 * to its inspector.
 */
export function clientsOfPort(pid: number, port: number, except: number | null = null): number[] {
  const found = readTcpTable(pid, (_inode, state) => state === TCP_ESTABLISHED).filter((e) => e.localPort === port && e.remotePort !== except);
  if (found.length === 0) return [];
  // which of them are the pid's: a readlink per fd (50,000 sockets: 50,000 calls), so only
  // when there is another connection to look at
  const mine = socketInodes(pid);
  return found.filter((e) => mine.has(e.inode)).map((e) => e.remotePort);
}
