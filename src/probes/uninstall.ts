import { defineProbe } from './probe';

export interface UninstallArg {
  key: string;
  /** When this was the last nodetop session and nodetop opened the inspector, close it this many ms later. */
  closeInspectorAfterMs: number | null;
}

export interface UninstallResult {
  removed: boolean;
  last: boolean;
  closingInspector: boolean;
}

/**
 * Removes this session's instruments; the registry goes with the last session. If nodetop
 * opened the inspector and no nodetop session is left, schedules inspector.close() for just
 * after nodetop's socket is gone (closing it while our own session is connected would wait
 * for us). The scheduled callback catches everything and checks that no nodetop came back.
 * Cost: a few property writes.
 */
export const uninstallProbe = defineProbe<UninstallArg, UninstallResult>(
  'uninstall',
  'a few property writes; at most one one-shot unref’d timer',
  function nodetopUninstall(arg: UninstallArg): UninstallResult {
    const S = Symbol.for('nodetop');
    const g = globalThis as unknown as Record<
      symbol,
      { openedByNodetop: boolean; sessions: Record<string, unknown>; remove(k: string): { last: boolean; openedByNodetop: boolean } } | undefined
    >;
    const reg = g[S];
    if (!reg) return { removed: false, last: true, closingInspector: false };
    const had = arg.key in reg.sessions;
    const r = reg.remove(arg.key);
    let closingInspector = false;
    if (r.last && r.openedByNodetop && arg.closeInspectorAfterMs !== null) {
      const inspector = require('inspector') as typeof import('inspector');
      const t = setTimeout(() => {
        try {
          const next = g[S];
          // A nodetop that attached in the meantime found the inspector open and believes it
          // did not open it: hand it the duty to close it, or it would stay open for good.
          if (!next) inspector.close();
          else next.openedByNodetop = true;
        } catch {
          /* never throw into the target */
        }
      }, arg.closeInspectorAfterMs);
      t.unref();
      closingInspector = true;
    }
    return { removed: had, last: r.last, closingInspector };
  },
);
