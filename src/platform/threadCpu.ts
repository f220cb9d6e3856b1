// The CPU time a thread of a local process has used, read from /proc: the evidence that a target
// frozen in a heap snapshot is working on it, not blocked (issue 22: a 437 s build was given up
// at 194.8 s while the thread ran in user space all along).

import * as fs from 'node:fs';
import { parseStat } from './proc';

/**
 * The host's tid of a thread the target knows as `tidInTarget` (/proc/thread-self inside it).
 * The same number unless the target is in its own pid namespace (a container): then the thread
 * whose NSpid (/proc/<pid>/task/<tid>/status) ends with it. Null when none does (it exited).
 */
export function hostTid(pid: number, tidInTarget: number, ownPidNamespace: boolean): number | null {
  try {
    if (!ownPidNamespace) return fs.existsSync(`/proc/${pid}/task/${tidInTarget}`) ? tidInTarget : null;
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const m = /^NSpid:\s*(.*)$/m.exec(fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'));
      const ids = m ? m[1]!.trim().split(/\s+/).map(Number) : [];
      if (ids[ids.length - 1] === tidInTarget) return Number(tid);
    }
  } catch {
    /* exited */
  }
  return null;
}

/** Linux's USER_HZ: utime and stime in /proc are in hundredths of a second on every architecture. */
const TICK_MS = 10;

/** CPU time (user + system, ms) of thread `tid` of `pid`, or of the whole process (tid null); null when unreadable. */
export function threadCpuMs(pid: number, tid: number | null): number | null {
  try {
    const st = parseStat(fs.readFileSync(tid === null ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8'));
    const ms = (st.utimeTicks + st.stimeTicks) * TICK_MS;
    return Number.isFinite(ms) ? ms : null;
  } catch {
    return null;
  }
}
