import { defineProbe } from './probe';

export interface Identity {
  pid: number;
  ppid: number;
  title: string;
  argv: string[];
  execPath: string;
  nodeVersion: string;
  v8Version: string;
  uptimeSec: number;
  platform: string;
  inspectorUrl: string | null;
  isMainThread: boolean;
  threadId: number;
  /**
   * The OS thread this isolate runs on, in the target's pid namespace (Linux: /proc/thread-self),
   * or null: how a worker's CPU is read from /proc (Node 20 names no thread, so comm cannot tell).
   */
  tid?: number | null;
  /** what `nodetop arm` (or the command line) armed for the process's death */
  armed?: { oomSnapshot: 'nodetop' | 'flag' | null; reportOnFatalError: boolean };
}

/** Who is on the other end of the socket. Cost: a few property reads, no allocation to speak of. */
export const identityProbe = defineProbe<null, Identity>(
  'identity',
  'a few property reads',
  function nodetopIdentity(): Identity {
    let inspectorUrl: string | null = null;
    let isMainThread = true;
    let threadId = 0;
    try {
      inspectorUrl = require('inspector').url() ?? null;
    } catch {
      /* Node built without the inspector */
    }
    try {
      const wt = require('worker_threads');
      isMainThread = wt.isMainThread;
      threadId = wt.threadId;
    } catch {
      /* very old Node */
    }
    let tid: number | null = null;
    if (process.platform === 'linux') {
      try {
        const m = /\/task\/(\d+)$/.exec(String(require('fs').readlinkSync('/proc/thread-self')));
        tid = m ? Number(m[1]) : null;
      } catch {
        /* no /proc here (a sandbox): the worker's CPU is not shown */
      }
    }
    const args = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
    const reg = (globalThis as unknown as Record<symbol, { oomSnapshotArmedAt?: number | null } | undefined>)[Symbol.for('nodetop.armed')];
    const armed = {
      oomSnapshot: args.some((a) => /^--heapsnapshot-near-heap-limit(=|$)/.test(a)) ? ('flag' as const) : reg && reg.oomSnapshotArmedAt != null ? ('nodetop' as const) : null,
      reportOnFatalError: Boolean(process.report && process.report.reportOnFatalError),
    };
    return {
      pid: process.pid,
      ppid: process.ppid,
      title: process.title,
      argv: process.argv.slice(),
      execPath: process.execPath,
      nodeVersion: process.version,
      v8Version: process.versions.v8,
      uptimeSec: process.uptime(),
      platform: process.platform,
      inspectorUrl,
      isMainThread,
      threadId,
      tid,
      armed,
    };
  },
);
