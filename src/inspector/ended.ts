// How an attachment ended, in the words every command uses: the target exited (the Node program
// said it is exiting, or its process is gone) or only its inspector connection closed.
//
// No exit code or signal: nodetop is not the target's parent, so the kernel tells it neither,
// and Node's exit notice carries none (reading process.exitCode would run JavaScript in a
// process that is exiting, and keep it waiting for the answer).
//
// Not here: noticing the end (src/inspector/session.ts leaves as soon as the target says it is
// exiting), what each command does about it.

import type { Attachment } from './attach';
import * as proc from '../platform/proc';

export interface TargetEnd {
  pid: number;
  /** The program ended; false: only the connection closed (the process is still there). */
  exited: boolean;
  /** One sentence: "pid 42 exited", or "the connection to pid 42 closed". */
  text: string;
}

export async function howItEnded(att: Attachment): Promise<TargetEnd> {
  // the socket of a dying process closes a moment before the process is gone: settle first.
  // A target that announced its exit has ended even if its pid lives on (process.execve).
  const exited = att.session.targetExitingSince !== null || !(await proc.processExistsSettled(att.pid));
  return {
    pid: att.pid,
    exited,
    text: exited ? `pid ${att.pid} exited` : `the connection to pid ${att.pid} closed`,
  };
}
