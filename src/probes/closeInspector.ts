import { defineProbe } from './probe';

export interface CloseInspectorArg {
  /** The session of a nodetop that is gone (killed, gave up): its instruments go now. */
  deadKey: string | null;
  /** Close this many ms later: after the watchdog's own socket is gone. */
  afterMs: number;
  /**
   * The pid the watchdog holds, as that process sees itself (its pid namespace's: NSpid). Any
   * other process is left alone: a port found in the pid's namespace's table, reached in the
   * wrong namespace, is another process's inspector.
   */
  pid: number;
  /**
   * Its pid namespace (`pid:[4026532201]`, from /proc/<pid>/ns/pid on the host), or null when
   * unknown. Namespace inodes are the same seen from anywhere: two containers' pid 1 differ here.
   */
  pidNs: string | null;
}

export interface CloseInspectorResult {
  pid: number;
  closing: boolean;
  /** nodetop sessions still installed (a live nodetop that found the inspector open). */
  sessions: number;
  /** Not the process the watchdog holds: nothing was done. */
  other?: boolean;
}

/**
 * Run by nodetop's watchdog in an inspector that nodetop caused to open and can no longer close
 * itself (nodetop gave up, was killed, or the signal was acted on late). Removes a dead nodetop's
 * instruments, then closes the inspector once the watchdog's socket is gone, unless a live
 * nodetop session is installed: that session is handed the duty to close it when it leaves (the
 * uninstall probe does). In any process but the one asked for, it does nothing at all. The timer
 * re-checks and catches everything. Cost: a few property reads,
 * one one-shot unref'd timer.
 */
export const closeInspectorProbe = defineProbe<CloseInspectorArg, CloseInspectorResult>(
  'close-inspector',
  'a few property reads; one one-shot unref’d timer',
  function nodetopCloseInspector(arg: CloseInspectorArg): CloseInspectorResult {
    if (process.pid !== arg.pid) return { pid: process.pid, closing: false, sessions: 0, other: true };
    if (arg.pidNs !== null) {
      let ns: string | null = null;
      try {
        ns = (require('fs') as typeof import('fs')).readlinkSync('/proc/self/ns/pid');
      } catch {
        ns = null;
      }
      if (ns !== arg.pidNs) return { pid: process.pid, closing: false, sessions: 0, other: true };
    }
    const S = Symbol.for('nodetop');
    type Reg = { openedByNodetop: boolean; sessions: Record<string, unknown>; remove(k: string): unknown };
    const g = globalThis as unknown as Record<symbol, Reg | undefined>;
    const reg = g[S];
    if (reg && arg.deadKey !== null && arg.deadKey in reg.sessions) reg.remove(arg.deadKey);
    const live = g[S];
    if (live) {
      live.openedByNodetop = true;
      return { pid: process.pid, closing: false, sessions: Object.keys(live.sessions).length };
    }
    const inspector = require('inspector') as typeof import('inspector');
    const t = setTimeout(() => {
      try {
        const next = g[S];
        if (!next) inspector.close();
        else next.openedByNodetop = true;
      } catch {
        /* never throw into the target */
      }
    }, arg.afterMs);
    t.unref();
    return { pid: process.pid, closing: true, sessions: 0 };
  },
);
