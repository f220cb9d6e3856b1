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
    };
  },
);
