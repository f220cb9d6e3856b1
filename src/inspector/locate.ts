// Finding a pid's own inspector, and opening one safely when it has none.
//
// The order is the safety argument (README, "Safety"):
//   1. the pid exists, is ours to look at, and its executable is Node: read from /proc, no signal;
//   2. it already listens on an inspector port: any port, found among ITS listening sockets;
//   3. otherwise SIGUSR1, but only if the kernel says the process catches SIGUSR1 (SigCgt):
//      for a process that does not, SIGUSR1's default action is to terminate it;
//   4. wait, bounded, for a new listening socket owned by that pid, and never fall back to
//      "whatever answers on 9229": that may be another process.
// The caller then checks process.pid through the inspector (attach.ts).

import * as fs from 'node:fs';
import { debugTrace } from '../debug';
import { ExitCode, NodetopError, errnoCode } from '../errors';
import { nodeVerdict } from '../platform/nodebin';
import * as proc from '../platform/proc';
import { acquirePortLock, lockHolder, lockName, type PortLock } from '../platform/portlock';
import { armWatchdog, prestartWatchdog, type WatchdogTicket } from './guard';
import { assertSignallable, describeBlocked, sendSigusr1, type CheckedProcess } from './signal';
import { forgetOpened, openedPort } from './opened';
import { routeTo, type Route } from './relay';
import type { InspectorTarget } from './session';

export interface Located {
  host: string;
  port: number;
  targets: InspectorTarget[];
  openedByNodetop: boolean;
  /** Held while nodetop opened an inspector on a shared port; release once it is moved off. */
  release: () => void;
  /** How host:port is reached: directly, or through a relay into the target's network namespace. */
  route: Route;
  /** The watchdog's ticket for an inspector nodetop opened (null: nodetop did not open it). */
  guard?: WatchdogTicket | null;
}

// One SIGUSR1 at a time from this nodetop: each process it signals binds the same default
// port, so the next must wait until the previous inspector has been moved off it.
let signalQueue: Promise<void> = Promise.resolve();
function acquireSignalLock(): Promise<() => void> {
  let release: () => void = () => undefined;
  const mine = new Promise<void>((r) => (release = r));
  const before = signalQueue;
  signalQueue = before.then(() => mine);
  return before.then(() => {
    let released = false;
    return () => {
      if (!released) {
        released = true;
        release();
      }
    };
  });
}

const noop = (): void => undefined;

export interface LocateOptions {
  timeoutMs: number;
  /** Test hook and escape hatch: never send SIGUSR1, fail instead. */
  noSignal?: boolean;
  /** Signal a main thread blocked outside JavaScript too (see signal.ts). */
  forceSignal?: boolean;
}


/**
 * What the command line and NODE_OPTIONS say about the inspector's port: the ports named
 * (--inspect=9230, --inspect-port=9231), and whether a random one was asked for (port 0).
 */
export interface InspectorHints {
  /** Ports named for the inspector (command line, NODE_OPTIONS, nodetop's own record). */
  ports: number[];
  /** A random inspector port (0) was asked for. */
  randomPort: boolean;
  /** An --inspect flag opens the inspector at start-up (--inspect-port alone does not). */
  active: boolean;
}

export function inspectorHints(argv: string[], nodeOptions: string): InspectorHints {
  const ports: number[] = [];
  let randomPort = false;
  let active = false;
  const words = [...argv.slice(0, scriptIndex(argv)), ...nodeOptions.split(/\s+/).filter(Boolean)];
  for (let i = 0; i < words.length; i++) {
    const a = words[i] ?? '';
    if (a === '--') break;
    if (/^--inspect(-brk|-wait)?(=|$)/.test(a)) active = true;
    const m = /^--(?:inspect(?:-brk|-wait)?|inspect-port|debug-port)=(?:.*:)?(\d+)$/.exec(a);
    const spaced = /^--(?:inspect-port|debug-port)$/.test(a) ? /^(?:.*:)?(\d+)$/.exec(words[i + 1] ?? '') : null;
    const port = m?.[1] ?? spaced?.[1];
    if (port === undefined) continue;
    if (Number(port) === 0) randomPort = true;
    else ports.push(Number(port));
  }
  return { ports, randomPort, active };
}

/** Where node's own options end in argv: at the script (the first word not an option). */
function scriptIndex(argv: string[]): number {
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--') return i;
    if (!a.startsWith('-')) return i;
    // options that take their value as the next word (`node -e CODE --inspect` still reads
    // --inspect as Node's own: the code is -e's value, not a script)
    if (/^(--inspect-port|--debug-port|-r|--require|--import|--loader|--experimental-loader|--env-file|--title|--conditions|-C|-e|--eval|-p|--print|--input-type)$/.test(a)) i++;
  }
  return argv.length;
}

/** The hints plus the port nodetop recorded when it opened this pid's inspector itself. */
function hintsFor(pid: number, cmdline: string[]): InspectorHints {
  const h = inspectorHints(cmdline, proc.readNodeOptions(pid));
  let mine = openedPort(pid);
  // The record outlives a detach on purpose: the inspector closes only when the target's loop
  // turns (a stuck loop keeps it open). Once its port is gone, so is the record.
  if (mine !== null) {
    let listening = true;
    try {
      listening = proc.listeningSockets(pid).some((s) => s.port === mine);
    } catch {
      /* cannot tell: keep it */
    }
    if (!listening) {
      forgetOpened(pid);
      mine = null;
    }
  }
  return mine !== null && !h.ports.includes(mine) ? { ...h, ports: [mine, ...h.ports] } : h;
}


export interface CheckedPid {
  exe: string | null;
  cmdline: string[];
  /** Start time and executable identity, re-read right before any signal (signal.ts). */
  process: CheckedProcess;
}

/** Step 1: the pid exists, nodetop may look at it, and the OS says its executable is Node. */
export function checkPid(pid: number): CheckedPid {
  if (pid === process.pid) {
    throw new NodetopError(`pid ${pid} is this nodetop process`, { exitCode: ExitCode.Usage });
  }
  if (!proc.processExists(pid)) {
    throw new NodetopError(`no process with pid ${pid}`, { exitCode: ExitCode.NoSuchProcess, hint: 'nodetop ps lists the Node processes you can attach to' });
  }
  let cmdline: string[] = [];
  let status: proc.ProcStatus;
  let startTicks: number;
  try {
    cmdline = proc.readCmdline(pid);
    status = proc.readStatus(pid);
    startTicks = proc.readStat(pid).startTimeTicks;
  } catch (e) {
    if (!proc.processExists(pid)) throw new NodetopError(`no process with pid ${pid}`, { exitCode: ExitCode.NoSuchProcess });
    throw new NodetopError(`cannot read /proc/${pid}: ${errnoCode(e) ?? String(e)}`, { exitCode: ExitCode.PermissionDenied });
  }
  const exe = proc.readExe(pid);
  const verdict = nodeVerdict(pid);
  if (verdict.fileId === null) {
    if (cmdline.length === 0) {
      throw new NodetopError(`pid ${pid} is a kernel thread or a zombie, not a Node process`, { exitCode: ExitCode.NotNode });
    }
    throw exeHidden(pid, status, verdict.why);
  }
  if (!verdict.node) {
    throw new NodetopError(`pid ${pid} is not a Node process (it runs ${JSON.stringify(exe ?? '?')}: ${verdict.why}); nodetop sent it nothing`, {
      exitCode: ExitCode.NotNode,
    });
  }
  if (process.getuid && status.uid !== process.getuid() && process.getuid() !== 0) {
    throw new NodetopError(`pid ${pid} belongs to uid ${status.uid}, you are uid ${process.getuid()}`, {
      exitCode: ExitCode.PermissionDenied,
      hint: 'run nodetop as the user that owns the process (or as root)',
    });
  }
  return { exe, cmdline, process: { pid, startTicks, fileId: verdict.fileId } };
}

/**
 * The kernel will not show nodetop the pid's executable: the sentence says why, because "you are
 * uid 0" is no reason when nodetop is root. The kernel's ptrace access check also refuses a
 * process that holds capabilities the reader lacks (a VM's or container's init, run with more
 * than nodetop's own bounding set), or one a security module protects.
 */
function exeHidden(pid: number, status: proc.ProcStatus, why: string): NodetopError {
  const me = process.getuid?.() ?? -1;
  if (status.uid !== me && me !== 0) {
    return new NodetopError(`permission denied reading pid ${pid} (it belongs to uid ${status.uid}, you are uid ${me})`, {
      exitCode: ExitCode.PermissionDenied,
      hint: 'run nodetop as the user that owns the process (or as root)',
    });
  }
  let mine: bigint | null = null;
  try {
    mine = proc.readStatus(process.pid).capPrm;
  } catch {
    /* no /proc/self: say less */
  }
  const extra = mine !== null && status.capPrm >= 0n ? status.capPrm & ~mine : 0n;
  const reason =
    extra !== 0n
      ? `it holds capabilities this nodetop does not (0x${extra.toString(16)} beyond nodetop's), and the kernel hides a more privileged process's executable even from uid ${me}`
      : `the kernel refuses uid ${me} access to it (a security module, or a process that made itself undumpable)`;
  return new NodetopError(`${why}: ${reason}; nodetop cannot confirm pid ${pid} is Node and sent it nothing`, {
    exitCode: ExitCode.PermissionDenied,
  });
}

/**
 * Probes the pid's listening sockets for an inspector, but only those with evidence for them
 * (a port named on its command line or in NODE_OPTIONS, 9229, a socket that appeared after
 * SIGUSR1, or any of its loopback ports when it asked for a random inspector port): sending
 * an HTTP request to an application's own port is a request the application did not expect.
 */
async function findOpenInspector(
  pid: number,
  hints: InspectorHints,
  timeoutMs: number,
  route: Route,
  only?: Set<number>,
): Promise<Located | null> {
  let sockets: proc.ListeningSocket[];
  try {
    sockets = proc.listeningSockets(pid);
  } catch (e) {
    if (!proc.processExists(pid)) throw exited(pid);
    throw new NodetopError(`cannot read the sockets of pid ${pid}: ${errnoCode(e) ?? String(e)}`, {
      exitCode: ExitCode.PermissionDenied,
      hint: 'run nodetop as the user that owns the process (or as root)',
    });
  }
  const preferred = [...hints.ports, 9229];
  const rank = (port: number): number => {
    const i = preferred.indexOf(port);
    return i < 0 ? preferred.length : i;
  };
  const candidates = sockets
    .filter((s) => (only ? only.has(s.inode) : (hints.randomPort && hints.active) || preferred.includes(s.port)))
    .map((s) => ({ ...s, host: proc.loopbackHostFor(s.address) }))
    .sort((a, b) => rank(a.port) - rank(b.port));
  const seen = new Set<string>();
  for (const c of candidates) {
    if (!c.host) continue;
    const id = `${c.host}:${c.port}`;
    if (seen.has(id)) continue;
    seen.add(id);
    try {
      debugTrace(`probing ${id}`);
      const targets = await route.listTargets(c.host, c.port, Math.min(timeoutMs, 1000));
      return { host: c.host, port: c.port, targets, openedByNodetop: false, release: noop, route };
    } catch {
      // not an inspector after all: try the next one
    }
  }
  return null;
}

function exited(pid: number): NodetopError {
  return new NodetopError(`pid ${pid} exited`, { exitCode: ExitCode.TargetExited });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Steps 1-4 above. Returns where the pid's inspector listens, opening it if need be. */
export async function locateInspector(pid: number, opts: LocateOptions): Promise<Located> {
  debugTrace(`locating the inspector of pid ${pid}`);
  const checked = checkPid(pid);
  const { cmdline } = checked;
  const hints = hintsFor(pid, cmdline);
  debugTrace(`hints: ports [${hints.ports.join(', ')}]${hints.randomPort ? ', random port' : ''}${hints.active ? ', opened at start' : ''}`);
  try {
    // before any signal: an inspector in a network namespace nodetop cannot enter is never opened
    const route = await routeTo(pid, opts.timeoutMs);
    return await locateWith(pid, checked, hints, opts, route);
  } catch (e) {
    // /proc/<pid> vanishing under any of the reads above means the process exited meanwhile
    if (!(e instanceof NodetopError) && !proc.processExists(pid)) throw exited(pid);
    throw e;
  }
}

/** After nodetop moved an inspector: the pid's listening inspector other than `oldPort`. */
export async function waitForMovedInspector(pid: number, oldPort: number, timeoutMs: number, route: Route, known: ReadonlySet<number> = new Set()): Promise<Located | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await sleep(20);
    let socks: proc.ListeningSocket[];
    try {
      socks = proc.listeningSockets(pid);
    } catch {
      return null;
    }
    // only sockets that were not listening before the move: the app's own ports are never asked
    const fresh = new Set(socks.filter((s) => s.port !== oldPort && !known.has(s.inode)).map((s) => s.inode));
    const oldGone = !socks.some((s) => s.port === oldPort);
    if (!oldGone || fresh.size === 0) continue;
    const found = await findOpenInspector(pid, { ports: [], randomPort: true, active: true }, Math.max(200, deadline - Date.now()), route, fresh);
    if (found) return found;
  }
  return null;
}

async function locateWith(pid: number, checked: CheckedPid, hints: InspectorHints, opts: LocateOptions, route: Route): Promise<Located> {
  const { cmdline } = checked;
  // Take a turn for SIGUSR1 now, in the order attaches were asked for (a cluster's workers before
  // its primary), and give it up at once if no signal is needed.
  const turn = opts.noSignal ? null : acquireSignalLock();
  const giveUp = (): void => void turn?.then((release) => release());
  let open: Located | null;
  try {
    open = await findOpenInspector(pid, hints, opts.timeoutMs, route);
  } catch (e) {
    giveUp();
    throw e;
  }
  if (open) {
    giveUp();
    return open;
  }

  const status = proc.readStatus(pid);
  if (!turn || !proc.signalInMask(status.sigCaught, proc.SIGUSR1)) giveUp();
  if (!proc.signalInMask(status.sigCaught, proc.SIGUSR1)) {
    // Node 22.14+ and 23.7+: the flag, on the command line or in NODE_OPTIONS, leaves SIGUSR1 uncaught
    const disabled = cmdline.includes('--disable-sigusr1') || proc.readNodeOptions(pid).split(/\s+/).includes('--disable-sigusr1');
    throw new NodetopError(
      disabled
        ? `pid ${pid} was started with --disable-sigusr1, so its inspector cannot be opened from outside`
        : `pid ${pid} does not catch SIGUSR1, so sending it would kill it; nodetop sent nothing`,
      {
        exitCode: ExitCode.InspectorUnavailable,
        hint: 'start the service with NODE_OPTIONS=--inspect-port=0 --inspect (loopback, any free port), or give --endpoint',
      },
    );
  }
  if (opts.noSignal) {
    throw new NodetopError(`pid ${pid} has no inspector open and --no-signal was given`, {
      exitCode: ExitCode.InspectorUnavailable,
    });
  }

  const release = await turn!;
  try {
    return await signalAndWait(pid, checked.process, hints, opts, release, route);
  } catch (e) {
    release();
    throw e;
  }
}

/**
 * How long an attach waits for other nodetops' turns on a port (or --timeout if longer): each
 * turn is a signal, an open and a move off the port, 0.1-1 s (20 at once on a loaded 2-core
 * machine: about 1 s each).
 */
const LOCK_WAIT_MS = 60_000;

/** The network namespace of a pid, as the kernel names it (net:[4026531840] -> 4026531840). */
function netnsOf(pid: number): string {
  try {
    return /\[(\d+)\]/.exec(fs.readlinkSync(`/proc/${pid}/ns/net`))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function describeHolder(h: { pid: number | null; uid?: number | null; comm: string | null } | null): string {
  if (!h || h.pid === null) return 'a process nodetop cannot see';
  return `pid ${h.pid}${h.comm ? ` (${JSON.stringify(h.comm)}${h.uid !== undefined && h.uid !== null ? `, uid ${h.uid}` : ''})` : ''}`;
}

/**
 * Steps 3-4: one SIGUSR1, under a host-wide lock on the port it binds (portlock.ts), with the
 * watchdog armed first (guard.ts), then a bounded wait for the new socket.
 */
async function signalAndWait(
  pid: number,
  target: CheckedProcess,
  hints: InspectorHints,
  opts: LocateOptions,
  releaseTurn: () => void,
  route: Route,
): Promise<Located> {
  const port = hints.randomPort ? 0 : (hints.ports[0] ?? 9229);
  // the watchdog's start (a Node process: 40 ms idle, 0.4 s on a loaded 2-core machine) is
  // outside the lock: other nodetops wait only for the signal, the open and the move
  prestartWatchdog(opts.timeoutMs);
  let lock: PortLock | null = null;
  if (port !== 0) {
    const name = lockName(netnsOf(pid), port);
    const waitMs = Math.max(opts.timeoutMs, LOCK_WAIT_MS);
    lock = await acquirePortLock(name, Date.now() + waitMs);
    if (!lock) {
      throw new NodetopError(
        `pid ${pid} was not signalled: for ${waitMs} ms other processes kept opening inspectors on port ${port} (nodetop's lock @${name} is held by ${describeHolder(lockHolder(name))})`,
        { exitCode: ExitCode.InspectorUnavailable, hint: 'try again, or raise --timeout; a holder that is not a nodetop is squatting the lock' },
      );
    }
  }
  // --timeout bounds this attach's own signal and open, from when its turn came
  const deadline = Date.now() + opts.timeoutMs;
  const release = (): void => {
    lock?.release();
    releaseTurn();
  };
  let ticket: WatchdogTicket | null = null;
  try {
    // another nodetop may have opened it while we waited for the lock
    const meanwhile = await findOpenInspector(pid, hints, opts.timeoutMs, route);
    if (meanwhile) {
      release();
      return meanwhile;
    }
    // the port SIGUSR1 binds is in the target's network namespace (a container has its own 9229)
    const holderOf = (): ReturnType<typeof proc.listenerOfPort> => (port === 0 ? null : proc.listenerOfPort(port, route.relay ? pid : 'self'));
    // The port SIGUSR1 will bind is held by another process (an inspector nodetop did not open
    // moving off it, or an application): signalling now would only fail in the target, so wait.
    for (let h = holderOf(); h && h.pid !== pid; h = holderOf()) {
      if (Date.now() >= deadline) throw portHeld(pid, port, h);
      await sleep(20);
    }
    // refuse a blocked main thread before starting a watchdog for nothing (checked again at the kill)
    await assertSignallable(target, opts.forceSignal ?? false);
    const before = proc.listeningSockets(pid).map((s) => s.inode);
    ticket = await armWatchdog(pid, target.startTicks, port, before, opts.timeoutMs);
    if (!ticket && !opts.forceSignal) {
      throw new NodetopError(`pid ${pid} was not signalled: nodetop could not start its watchdog, which closes the inspector if nodetop cannot`, {
        exitCode: ExitCode.NotSignalled,
        hint: 'pass --force-signal to signal without it',
      });
    }
    const { loopFd } = await sendSigusr1(target, opts.forceSignal ?? false);
    ticket?.signalled(loopFd);
    const found = await waitForNewInspector(pid, hints, new Set(before), deadline, loopFd, route);
    if (found.located) return { ...found.located, openedByNodetop: true, release, guard: ticket };

    if (hints.randomPort && !hints.active) {
      // no new socket: the inspector may have been open all along (left open by --keep-inspector,
      // or inspector.open() in the code) on a random port; now look at every loopback port
      const late = await findOpenInspector(pid, { ...hints, active: true }, Math.min(opts.timeoutMs, 1000), route);
      if (late) {
        ticket?.keep();
        release();
        return late;
      }
    }
    // consumed: the port was free just before the signal and the loop went on without opening
    // anything (a process that took the port in the few ms since is the one case told wrong)
    if (found.consumed) throw handledItself(pid);
    const holder = holderOf();
    if (holder && holder.pid !== pid) throw portHeld(pid, port, holder);
    // three looks 10 ms apart: a signal taken by the main thread interrupts its wait for an instant
    let blocked = false;
    for (let i = 0; i < 3 && !blocked; i++) {
      if (i > 0) await sleep(10);
      blocked = proc.mainThreadActivity(pid, loopFd) === 'blocked';
    }
    if (blocked) {
      throw new NodetopError(
        `pid ${pid} did not open an inspector within ${opts.timeoutMs} ms of SIGUSR1: its main thread is blocked outside JavaScript (the kernel says: ${describeBlocked(pid)}), and Node opens the inspector from it when that call returns`,
        {
          exitCode: ExitCode.InspectorUnavailable,
          hint: 'nodetop’s watchdog closes that inspector when it opens (for up to an hour); try again when the process is free',
        },
      );
    }
    throw new NodetopError(`pid ${pid} did not open an inspector within ${opts.timeoutMs} ms of SIGUSR1`, {
      exitCode: ExitCode.InspectorUnavailable,
      hint: 'its main thread may be in native code that does not return to JavaScript, or it runs a Node built without the inspector; raise --timeout',
    });
  } catch (e) {
    ticket?.abandon();
    release();
    throw e;
  }
}

/**
 * After the signal: the new listening socket of the pid that is an inspector, or evidence that
 * the signal was spent without opening one (consumed): the main thread seen in its event loop
 * twice, 200 ms apart, at least 200 ms after the signal, with no new socket. Node opens the
 * inspector from the loop before it waits again, so by then it would be listening.
 */
async function waitForNewInspector(
  pid: number,
  hints: InspectorHints,
  before: Set<number>,
  deadline: number,
  loopFd: number | null,
  route: Route,
): Promise<{ located: Located | null; consumed: boolean }> {
  const signalledAt = Date.now();
  let loopSince: number | null = null;
  let polls = 0;
  while (Date.now() < deadline) {
    if (!proc.processExists(pid)) throw exited(pid);
    // the port is up 5-15 ms after the signal (measured, Node 20): look often at first
    await sleep(polls++ < 10 ? 5 : 20);
    let now: proc.ListeningSocket[];
    try {
      now = proc.listeningSockets(pid);
    } catch {
      continue;
    }
    const fresh = new Set(now.filter((s) => !before.has(s.inode)).map((s) => s.inode));
    if (fresh.size > 0) {
      const found = await findOpenInspector(pid, hints, Math.max(200, deadline - Date.now()), route, fresh);
      if (found) return { located: found, consumed: false };
      continue;
    }
    const t = Date.now();
    if (proc.mainThreadActivity(pid, loopFd) === 'loop' && t - signalledAt >= 200) {
      loopSince ??= t;
      if (t - loopSince >= 200) return { located: null, consumed: true };
    } else loopSince = null;
  }
  return { located: null, consumed: false };
}

function portHeld(pid: number, port: number, holder: { pid: number | null; comm: string | null }): NodetopError {
  return new NodetopError(`pid ${pid} could not open its inspector: port ${port} is already held by ${describeHolder(holder)}`, {
    exitCode: ExitCode.InspectorUnavailable,
    hint: 'start the service with NODE_OPTIONS=--inspect-port=0 so each process picks a free port, or free the port',
  });
}

/**
 * The signal was delivered and the main thread went back to its loop, but no inspector opened:
 * a process.on('SIGUSR1') listener replaces the handler Node opens the inspector from (log
 * reopening is a common use). /proc cannot tell the two handlers apart (SigCgt has SIGUSR1
 * either way), so this is known only after the fact. Never suggests one of the application's
 * ports: an inspector would have been found on it.
 */
function handledItself(pid: number): NodetopError {
  return new NodetopError(
    `pid ${pid} handles SIGUSR1 itself: the signal went to its own handler (which ran once) and did not open the inspector, though its main thread was free`,
    {
      exitCode: ExitCode.InspectorUnavailable,
      hint: 'ways in: restart it with NODE_OPTIONS="--inspect-port=0 --inspect" (a free loopback port that nodetop finds by pid), or have it call inspector.open() on a trigger of its own and pass that port with --endpoint',
    },
  );
}
