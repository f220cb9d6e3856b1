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
import { ExitCode, NodetopError, errnoCode } from '../errors';
import * as proc from '../platform/proc';
import { listTargets, type InspectorTarget } from './session';

export interface Located {
  host: string;
  port: number;
  targets: InspectorTarget[];
  openedByNodetop: boolean;
}

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
export function inspectorHints(argv: string[], nodeOptions: string): { ports: number[]; randomPort: boolean } {
  const ports: number[] = [];
  let randomPort = false;
  const words = [...argv, ...nodeOptions.split(/\s+/).filter(Boolean)];
  for (let i = 0; i < words.length; i++) {
    const a = words[i] ?? '';
    if (a === '--') break;
    const m = /^--(?:inspect(?:-brk|-wait)?|inspect-port|debug-port)=(?:.*:)?(\d+)$/.exec(a);
    const spaced = /^--(?:inspect-port|debug-port)$/.test(a) ? /^(?:.*:)?(\d+)$/.exec(words[i + 1] ?? '') : null;
    const port = m?.[1] ?? spaced?.[1];
    if (port === undefined) continue;
    if (Number(port) === 0) randomPort = true;
    else ports.push(Number(port));
  }
  return { ports, randomPort };
}

/**
 * The command line or NODE_OPTIONS opens the inspector at start-up (--inspect, --inspect-brk,
 * --inspect-wait), as opposed to only choosing the port SIGUSR1 will use (--inspect-port).
 */
export function opensInspectorAtStart(argv: string[], nodeOptions: string): boolean {
  const words = [...argv, ...nodeOptions.split(/\s+/).filter(Boolean)];
  const end = words.indexOf('--');
  return (end < 0 ? words : words.slice(0, end)).some((a) => /^--inspect(?:-brk|-wait)?(?:=.*)?$/.test(a));
}

function readNodeOptions(pid: number): string {
  try {
    const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    const kv = env.find((e) => e.startsWith('NODE_OPTIONS='));
    return kv ? kv.slice('NODE_OPTIONS='.length) : '';
  } catch {
    return '';
  }
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
  hints: { ports: number[]; randomPort: boolean },
  timeoutMs: number,
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
    .filter((s) => (only ? only.has(s.inode) : hints.randomPort || preferred.includes(s.port)))
    .map((s) => ({ ...s, host: connectHostFor(s.address) }))
    .sort((a, b) => rank(a.port) - rank(b.port));
  const seen = new Set<string>();
  for (const c of candidates) {
    if (!c.host) continue;
    const id = `${c.host}:${c.port}`;
    if (seen.has(id)) continue;
    seen.add(id);
    try {
      const targets = await listTargets(c.host, c.port, Math.min(timeoutMs, 1000));
      return { host: c.host, port: c.port, targets, openedByNodetop: false };
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
  const { cmdline } = checkPid(pid);
  const nodeOptions = readNodeOptions(pid);
  const hints = inspectorHints(cmdline, nodeOptions);
  // With a random inspector port (--inspect-port=0) any loopback port could be the inspector,
  // and asking each one for /json/list sends the application's own server a request it did not
  // expect (found by test/harm/load.test.ts: one stray GET per attach). Probe them all up
  // front only when the inspector opens at start-up; otherwise only the named ports and 9229,
  // then SIGUSR1 (Node ignores it when its inspector is already open), and the wide probe
  // only as a last resort when no new socket appears.
  const wide = hints.randomPort && opensInspectorAtStart(cmdline, nodeOptions);
  const open = await findOpenInspector(pid, { ports: hints.ports, randomPort: wide }, opts.timeoutMs);
  if (open) return open;

  const status = proc.readStatus(pid);
  if (!proc.signalInMask(status.sigCaught, proc.SIGUSR1)) {
    const disabled = cmdline.includes('--disable-sigusr1');
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

  const before = new Set(proc.listeningSockets(pid).map((s) => s.inode));
  try {
    process.kill(pid, 'SIGUSR1');
  } catch (e) {
    if (errnoCode(e) === 'ESRCH') throw exited(pid);
    throw new NodetopError(`not allowed to signal pid ${pid} (${errnoCode(e) ?? String(e)})`, {
      exitCode: ExitCode.PermissionDenied,
      hint: 'run nodetop as the user that owns the process (or as root)',
    });
  }

  const deadline = Date.now() + opts.timeoutMs;
  while (Date.now() < deadline) {
    await sleep(20);
    if (!proc.processExists(pid)) throw exited(pid);
    let now: proc.ListeningSocket[];
    try {
      now = proc.listeningSockets(pid);
    } catch {
      continue;
    }
    const fresh = new Set(now.filter((s) => !before.has(s.inode)).map((s) => s.inode));
    if (fresh.size === 0) continue;
    const found = await findOpenInspector(pid, hints, Math.max(200, deadline - Date.now()), fresh);
    if (found) return { ...found, openedByNodetop: true };
  }
  if (hints.randomPort && !wide) {
    // no new socket: the inspector may have been open all along (left open by --keep-inspector,
    // or inspector.open() in the code) on a random port; now look at every loopback port
    const late = await findOpenInspector(pid, hints, Math.min(opts.timeoutMs, 1000));
    if (late) return late;
  }

  const port = hints.randomPort ? 0 : (hints.ports[0] ?? 9229);
  const holder = port === 0 ? null : proc.listenerOfPort(port);
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
  throw new NodetopError(`pid ${pid} did not open an inspector within ${opts.timeoutMs} ms of SIGUSR1`, {
    exitCode: ExitCode.InspectorUnavailable,
    hint:
      others.length > 0
        ? `if it opened an inspector itself (inspector.open), pass --endpoint 127.0.0.1:PORT; it listens on ${[...new Set(others)].join(', ')}`
        : 'it may handle SIGUSR1 itself, be stuck outside JavaScript, or run a Node built without the inspector; raise --timeout or give --endpoint',
  });
}
