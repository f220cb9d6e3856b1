import { defineProbe } from './probe';

export interface ArmRequest {
  oomSnapshot: boolean;
  reportOnFatal: boolean;
  /** process.report.directory for the fatal-error report; null leaves it as it is */
  dir: string | null;
  /** undo what can be undone (the report settings); a near-limit snapshot cannot be disarmed */
  off: boolean;
}

export interface ArmState {
  /** a heap snapshot is written when the heap nears its limit: by nodetop's arm, by the flag, or not */
  oomSnapshot: 'nodetop' | 'flag' | null;
  oomSnapshotArmedAt: number | null;
  reportOnFatalError: boolean;
  reportDirectory: string;
  /** where the near-limit snapshot goes: --diagnostic-dir, else the working directory */
  snapshotDirectory: string;
  cwd: string;
  heapLimitBytes: number;
  heapUsedBytes: number;
  /** report settings arm changed and --off restores: what they were before */
  reportWas: { reportOnFatalError: boolean; directory: string } | null;
}

/**
 * Arms the target for its own death (or reads what is armed, when nothing is asked): a heap
 * snapshot near the heap limit (v8.setHeapSnapshotNearHeapLimit: one snapshot, and a no-op after
 * its first call or with --heapsnapshot-near-heap-limit, so it cannot be undone) and a
 * diagnostic report on a fatal error (process.report: restored by `off`). What it set is kept in
 * globalThis[Symbol.for('nodetop.armed')], deliberately: this is the one change nodetop leaves
 * behind, and `stats` reads it there. Cost: a few property writes.
 */
export const armProbe = defineProbe<ArmRequest, ArmState>(
  'arm',
  'a few property writes; what it arms costs only when the process dies',
  function nodetopArm(req: ArmRequest): ArmState {
    const v8 = require('v8') as typeof import('v8');
    const key = Symbol.for('nodetop.armed');
    const g = globalThis as unknown as Record<symbol, { oomSnapshotArmedAt: number | null; reportWas: { reportOnFatalError: boolean; directory: string } | null } | undefined>;
    const reg = g[key] ?? { oomSnapshotArmedAt: null, reportWas: null };
    const args = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
    const byFlag = args.some((a) => /^--heapsnapshot-near-heap-limit(=|$)/.test(a));
    let diagDir: string | null = null;
    for (let i = 0; i < args.length; i++) {
      const m = /^--diagnostic-dir(?:=(.*))?$/.exec(args[i]!);
      if (m) diagDir = m[1] ?? args[i + 1] ?? null;
    }
    const report = process.report;
    if (req.off) {
      if (reg.reportWas && report) {
        report.reportOnFatalError = reg.reportWas.reportOnFatalError;
        report.directory = reg.reportWas.directory;
        reg.reportWas = null;
      }
    } else {
      if (req.reportOnFatal && report) {
        if (!reg.reportWas) reg.reportWas = { reportOnFatalError: report.reportOnFatalError, directory: report.directory };
        if (req.dir !== null) report.directory = req.dir;
        report.reportOnFatalError = true;
      }
      if (req.oomSnapshot && !byFlag && reg.oomSnapshotArmedAt === null) {
        v8.setHeapSnapshotNearHeapLimit(1);
        reg.oomSnapshotArmedAt = Date.now();
      }
    }
    if (reg.oomSnapshotArmedAt !== null || reg.reportWas) g[key] = reg;
    else delete g[key];
    const path = require('path') as typeof import('path');
    const heap = v8.getHeapStatistics();
    return {
      oomSnapshot: byFlag ? 'flag' : reg.oomSnapshotArmedAt !== null ? 'nodetop' : null,
      oomSnapshotArmedAt: reg.oomSnapshotArmedAt,
      reportOnFatalError: report ? report.reportOnFatalError : false,
      reportDirectory: report ? report.directory || process.cwd() : '',
      snapshotDirectory: diagDir ? path.resolve(diagDir) : process.cwd(),
      cwd: process.cwd(),
      heapLimitBytes: heap.heap_size_limit,
      heapUsedBytes: heap.used_heap_size,
      reportWas: reg.reportWas,
    };
  },
);
