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

import { debugTrace } from '../debug';
import { ExitCode, NodetopError, errnoCode } from '../errors';
import * as proc from '../platform/proc';
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
}

const LOOPBACK_V4 = /^127\./;

function connectHostFor(address: string): string | null {
  if (address === '0.0.0.0' || LOOPBACK_V4.test(address)) return '127.0.0.1';
  if (address === '::' || address === '::1' || address === '0:0:0:0:0:0:0:1') return '::1';
  if (address.startsWith('::ffff:127.')) return '127.0.0.1';
  return null; // bound to a specific non-loopback address: not ours to reach without --allow-remote
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


export function checkPid(pid: number): { exe: string | null; cmdline: string[] } {
  if (pid === process.pid) {
    throw new NodetopError(`pid ${pid} is this nodetop process`, { exitCode: ExitCode.Usage });
  }
  if (!proc.processExists(pid)) {
    throw new NodetopError(`no process with pid ${pid}`, { exitCode: ExitCode.NoSuchProcess, hint: 'nodetop ps lists the Node processes you can attach to' });
  }
  let cmdline: string[] = [];
  let status: proc.ProcStatus | null = null;
  try {
    cmdline = proc.readCmdline(pid);
    status = proc.readStatus(pid);
  } catch (e) {
    if (!proc.processExists(pid)) throw new NodetopError(`no process with pid ${pid}`, { exitCode: ExitCode.NoSuchProcess });
    throw new NodetopError(`cannot read /proc/${pid}: ${errnoCode(e) ?? String(e)}`, { exitCode: ExitCode.PermissionDenied });
  }
  const exe = proc.readExe(pid);
  const nodeByExe = exe !== null && proc.looksLikeNodeExecutable(exe);
  const nodeByArgv = cmdline.length > 0 && proc.looksLikeNodeExecutable(cmdline[0] ?? '');
  if (exe === null) {
    // The kernel hides another user's executable; the command line is still visible.
    const who = status ? ` (it belongs to uid ${status.uid}, you are uid ${process.getuid?.() ?? '?'})` : '';
    if (cmdline.length === 0) {
      throw new NodetopError(`pid ${pid} is a kernel thread or a zombie, not a Node process`, { exitCode: ExitCode.NotNode });
    }
    throw new NodetopError(`permission denied reading pid ${pid}${who}`, {
      exitCode: ExitCode.PermissionDenied,
      hint: 'run nodetop as the user that owns the process (or as root)',
    });
  }
  if (!nodeByExe && !nodeByArgv) {
    throw new NodetopError(`pid ${pid} is not a Node process (it runs ${exe}); nodetop sent it nothing`, {
      exitCode: ExitCode.NotNode,
    });
  }
  if (status && process.getuid && status.uid !== process.getuid() && process.getuid() !== 0) {
    throw new NodetopError(`pid ${pid} belongs to uid ${status.uid}, you are uid ${process.getuid()}`, {
      exitCode: ExitCode.PermissionDenied,
      hint: 'run nodetop as the user that owns the process (or as root)',
    });
  }
  return { exe, cmdline };
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
    .map((s) => ({ ...s, host: connectHostFor(s.address) }))
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
  const { cmdline } = checkPid(pid);
  const hints = hintsFor(pid, cmdline);
  debugTrace(`hints: ports [${hints.ports.join(', ')}]${hints.randomPort ? ', random port' : ''}${hints.active ? ', opened at start' : ''}`);
  try {
    // before any signal: an inspector in a network namespace nodetop cannot enter is never opened
    const route = await routeTo(pid, opts.timeoutMs);
    return await locateWith(pid, cmdline, hints, opts, route);
  } catch (e) {
    // /proc/<pid> vanishing under any of the reads above means the process exited meanwhile
    if (!(e instanceof NodetopError) && !proc.processExists(pid)) throw exited(pid);
    throw e;
  }
}

/** After nodetop moved an inspector: the pid's listening inspector other than `oldPort`. */
export async function waitForMovedInspector(pid: number, oldPort: number, timeoutMs: number, route: Route): Promise<Located | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await sleep(20);
    let socks: proc.ListeningSocket[];
    try {
      socks = proc.listeningSockets(pid);
    } catch {
      return null;
    }
    const fresh = new Set(socks.filter((s) => s.port !== oldPort).map((s) => s.inode));
    const oldGone = !socks.some((s) => s.port === oldPort);
    if (!oldGone || fresh.size === 0) continue;
    const found = await findOpenInspector(pid, { ports: [], randomPort: true, active: true }, Math.max(200, deadline - Date.now()), route, fresh);
    if (found) return found;
  }
  return null;
}

async function locateWith(pid: number, cmdline: string[], hints: InspectorHints, opts: LocateOptions, route: Route): Promise<Located> {
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
    return await signalAndWait(pid, hints, opts, release, route);
  } catch (e) {
    release();
    throw e;
  }
}

async function signalAndWait(
  pid: number,
  hints: InspectorHints,
  opts: LocateOptions,
  release: () => void,
  route: Route,
): Promise<Located> {
  // another nodetop attach may have opened it while we waited for the lock
  const meanwhile = await findOpenInspector(pid, hints, opts.timeoutMs, route);
  if (meanwhile) {
    release();
    return meanwhile;
  }
  const port = hints.randomPort ? 0 : (hints.ports[0] ?? 9229);
  const deadline = Date.now() + opts.timeoutMs;
  // the port SIGUSR1 binds is in the target's network namespace (a container has its own 9229)
  const holderOf = (): ReturnType<typeof proc.listenerOfPort> => (port === 0 ? null : proc.listenerOfPort(port, route.relay ? pid : 'self'));
  const before = new Set(proc.listeningSockets(pid).map((s) => s.inode));
  let signalled = false;
  let polls = 0;
  while (Date.now() < deadline) {
    if (!proc.processExists(pid)) throw exited(pid);
    if (!signalled) {
      // The port SIGUSR1 will bind is held (another nodetop is moving an inspector off it, or
      // another process owns it): signalling now would only fail in the target. Wait for it.
      const h = holderOf();
      if (h && h.pid !== pid) {
        await sleep(20);
        continue;
      }
      try {
        process.kill(pid, 'SIGUSR1');
        signalled = true;
      } catch (e) {
        if (errnoCode(e) === 'ESRCH') throw exited(pid);
        throw new NodetopError(`not allowed to signal pid ${pid} (${errnoCode(e) ?? String(e)})`, {
          exitCode: ExitCode.PermissionDenied,
          hint: 'run nodetop as the user that owns the process (or as root)',
        });
      }
    }
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
      if (found) return { ...found, openedByNodetop: true, release };
    } else {
      // Lost a race for the port to another process: signal again once it is free.
      const h = holderOf();
      if (h && h.pid !== pid) signalled = false;
    }
  }
  if (hints.randomPort && !hints.active) {
    // no new socket: the inspector may have been open all along (left open by --keep-inspector,
    // or inspector.open() in the code) on a random port; now look at every loopback port
    const late = await findOpenInspector(pid, { ...hints, active: true }, Math.min(opts.timeoutMs, 1000), route);
    if (late) {
      release();
      return late;
    }
  }

  const holder = holderOf();
  if (holder) {
    const who = holder.pid === null ? 'a process nodetop cannot see' : `pid ${holder.pid}${holder.comm ? ` (${holder.comm})` : ''}`;
    throw new NodetopError(`pid ${pid} could not open its inspector: port ${port} is already held by ${who}`, {
      exitCode: ExitCode.InspectorUnavailable,
      hint: 'start the service with NODE_OPTIONS=--inspect-port=0 so each process picks a free port, or free the port',
    });
  }
  let others: number[] = [];
  try {
    others = proc.listeningSockets(pid).filter((s) => connectHostFor(s.address) !== null).map((s) => s.port);
  } catch {
    /* gone or hidden */
  }
  const main = proc.threadState(pid);
  const stuck = main.syscall && !/epoll|running/.test(main.syscall);
  throw new NodetopError(`pid ${pid} did not open an inspector within ${opts.timeoutMs} ms of SIGUSR1`, {
    exitCode: ExitCode.InspectorUnavailable,
    hint: stuck
      ? `its main thread is blocked outside JavaScript (the kernel says: in ${main.syscall}), and Node opens the inspector from it; try again when it is free`
      : others.length > 0 && !route.relay
        ? `if it opened an inspector itself (inspector.open), pass --endpoint 127.0.0.1:PORT; it listens on ${[...new Set(others)].join(', ')}`
        : 'it may handle SIGUSR1 itself, be stuck outside JavaScript, or run a Node built without the inspector; raise --timeout or give --endpoint',
  });
}
