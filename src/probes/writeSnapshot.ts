import { defineProbe } from './probe';

export interface WriteSnapshotResult {
  ok: boolean;
  /**
   * False when the target could not open the file for writing: checked before the snapshot, so
   * then nothing was built and nothing frozen (the caller may stream instead).
   */
  opened: boolean;
  /** The file's size when written, else -1. */
  bytes: number;
  /** The error's code (ENOSPC, EACCES...) and the call that failed ('open', 'write'), or ''. */
  code: string;
  syscall: string;
  message: string;
}

/**
 * The target writes its own heap snapshot: v8.writeHeapSnapshot(path), what a process does when
 * it snapshots itself. Runs in the main thread or a worker (each writes its own isolate's heap).
 * The file exists (nodetop made it): the probe first opens it for writing itself, so that a
 * target that cannot (its fd limit, a security module) says so before anything is built
 * (`opened: false`). A failed write (a full disk) comes after the build, with the call's name in
 * `syscall`. Both come back as values: nothing is thrown into the target, and nothing is left
 * behind but the file, not even a descriptor on it. The path is nodetop's own descriptor
 * (/proc/<nodetop>/fd/<n>) for a target of its user, so the target resolves no name another
 * user could swap.
 */
export const writeSnapshotProbe = defineProbe<{ path: string }, WriteSnapshotResult>(
  'write snapshot',
  'the snapshot itself: the thread is frozen while V8 builds it and writes it to the file, as with v8.writeHeapSnapshot in the process',
  function nodetopWriteSnapshot(arg: { path: string }): WriteSnapshotResult {
    const failed = (e: unknown, opened: boolean): WriteSnapshotResult => {
      const err = (e && typeof e === 'object' ? e : {}) as { code?: unknown; syscall?: unknown; message?: unknown };
      return {
        ok: false,
        opened,
        bytes: -1,
        code: typeof err.code === 'string' ? err.code : '',
        syscall: typeof err.syscall === 'string' ? err.syscall : '',
        message: typeof err.message === 'string' ? err.message : String(e),
      };
    };
    let fs: typeof import('fs');
    let v8: typeof import('v8');
    let dev = BigInt(-1);
    let ino = BigInt(-1);
    try {
      fs = require('fs') as typeof import('fs');
      v8 = require('v8') as typeof import('v8');
      const fd = fs.openSync(arg.path, 'r+');
      try {
        const st = fs.fstatSync(fd, { bigint: true });
        dev = st.dev;
        ino = st.ino;
      } finally {
        fs.closeSync(fd);
      }
    } catch (e) {
      return failed(e, false);
    }
    try {
      const written = v8.writeHeapSnapshot(arg.path);
      let size = -1;
      try {
        size = fs.statSync(written).size;
      } catch {
        size = -1;
      }
      return { ok: true, opened: true, bytes: size, code: '', syscall: '', message: '' };
    } catch (e) {
      // Node's WriteSnapshot (src/heap_utils.cc) returns from a failed write without closing its
      // descriptor: the file nodetop then removes would hold its blocks (a full disk stays full)
      // until the process ends. Close every descriptor on that very file (dev and inode).
      try {
        for (const name of fs.readdirSync('/proc/self/fd')) {
          const n = Number(name);
          if (!(n > 2)) continue;
          try {
            const st = fs.fstatSync(n, { bigint: true });
            if (st.dev === dev && st.ino === ino) fs.closeSync(n);
          } catch {
            /* closed meanwhile, or the directory's own descriptor */
          }
        }
      } catch {
        /* no /proc: nothing more can be done from here */
      }
      return failed(e, true);
    }
  },
);
