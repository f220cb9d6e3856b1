// Sending SIGUSR1: the one thing nodetop does to a process before it has verified anything
// through the inspector. Three checks, each re-read immediately before kill():
//   - it is still the process that was checked: the same start time and the same executable
//     file (dev:ino of /proc/<pid>/exe), so a pid that was reused since is never signalled;
//   - it still catches SIGUSR1 (SigCgt): for a process that does not, the default action kills it;
//   - its main thread will act on the signal now (in its event loop or running, not blocked in a
//     syscall): Node opens the inspector from the main thread, so a signal to a blocked thread
//     opens it whenever that call returns, perhaps long after nodetop has gone. Refused (exit
//     14) unless --force-signal; the watchdog (watchdog.ts) closes what opens late either way.
// What is left: the instants between the last read and kill() (microseconds). Node offers no
// pidfd_open/pidfd_send_signal, which would close that gap (docs/security.md).

import { ExitCode, NodetopError, errnoCode } from '../errors';
import * as proc from '../platform/proc';
import { exeFileId } from '../platform/nodebin';

export interface CheckedProcess {
  pid: number;
  startTicks: number;
  /** dev:ino of its executable when it was confirmed to be Node. */
  fileId: string;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function describeBlocked(pid: number): string {
  const t = proc.threadState(pid);
  const where = t.syscall ? `in ${t.syscall}` : t.wchan ? `waiting in ${t.wchan}` : `state ${t.state}`;
  // an epoll wait that is not its own loop's: execSync/spawnSync wait for their child there
  return /^in epoll/.test(where) ? `${where}, a loop nested in its own: execSync or spawnSync` : where;
}

/** Same process, same executable, still catching SIGUSR1; throws otherwise. */
function recheck(p: CheckedProcess): void {
  let start: number;
  let caught: bigint;
  let fileId: string;
  try {
    start = proc.readStat(p.pid).startTimeTicks;
    caught = proc.readStatus(p.pid).sigCaught;
    fileId = exeFileId(p.pid);
  } catch {
    throw new NodetopError(`pid ${p.pid} exited`, { exitCode: ExitCode.TargetExited });
  }
  if (start !== p.startTicks || fileId !== p.fileId) {
    throw new NodetopError(`pid ${p.pid} is no longer the process nodetop checked (it exited or ran another program); nodetop sent it nothing`, {
      exitCode: ExitCode.TargetExited,
    });
  }
  if (!proc.signalInMask(caught, proc.SIGUSR1)) {
    throw new NodetopError(`pid ${p.pid} no longer catches SIGUSR1, so sending it would kill it; nodetop sent nothing`, {
      exitCode: ExitCode.InspectorUnavailable,
    });
  }
}

/**
 * Waits up to `boundMs` for the main thread to be in its event loop or running, polling every
 * 10 ms (a thread in a short syscall, a GC's futex, comes back within a few). Returns whether it
 * is, and the epoll of its loop when it was seen waiting there.
 */
async function mainThreadFree(pid: number, boundMs: number): Promise<{ free: boolean; loopFd: number | null }> {
  const until = Date.now() + boundMs;
  for (;;) {
    const a = proc.mainThreadActivity(pid);
    if (a === 'loop') return { free: true, loopFd: proc.mainThreadEpoll(pid) };
    if (a === 'running') return { free: true, loopFd: null };
    if (a === 'gone') throw new NodetopError(`pid ${pid} exited`, { exitCode: ExitCode.TargetExited });
    if (Date.now() >= until) return { free: false, loopFd: null };
    await sleep(10);
  }
}

/** How long to look for a free main thread before refusing (a GC pause, a short read). */
const FREE_WAIT_MS = 250;

/**
 * Sends SIGUSR1 once, after the checks above. `force`: signal a main thread that is blocked
 * outside JavaScript too (--force-signal). Returns the epoll of the main thread's own loop when
 * it was seen there: afterwards, the main thread back in that epoll means the signal was acted on.
 */
export async function sendSigusr1(p: CheckedProcess, force: boolean): Promise<{ loopFd: number | null }> {
  const { loopFd } = await assertSignallable(p, force);
  try {
    process.kill(p.pid, 'SIGUSR1');
  } catch (e) {
    if (errnoCode(e) === 'ESRCH') throw new NodetopError(`pid ${p.pid} exited`, { exitCode: ExitCode.TargetExited });
    throw new NodetopError(`not allowed to signal pid ${p.pid} (${errnoCode(e) ?? String(e)})`, {
      exitCode: ExitCode.PermissionDenied,
      hint: 'run nodetop as the user that owns the process (or as root)',
    });
  }
  return { loopFd };
}

/** The checks of sendSigusr1 without the signal: throws what it would (exit 8, 6 or 14). */
export async function assertSignallable(p: CheckedProcess, force: boolean): Promise<{ loopFd: number | null }> {
  recheck(p);
  const { free, loopFd } = await mainThreadFree(p.pid, FREE_WAIT_MS);
  if (!free && !force) {
    throw new NodetopError(
      `pid ${p.pid}'s main thread is blocked outside JavaScript (the kernel says: ${describeBlocked(p.pid)}); a SIGUSR1 now would open its inspector whenever that call returns, when nodetop may be gone, so nodetop sent nothing`,
      {
        exitCode: ExitCode.NotSignalled,
        hint: 'try again when it is back in its event loop, or pass --force-signal (nodetop’s watchdog then closes the inspector when it opens, for up to an hour)',
      },
    );
  }
  recheck(p);
  return { loopFd };
}
