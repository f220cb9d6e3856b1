// nodetop's records about processes, one file per process and kind, keyed by pid namespace, pid
// and start time so that a reused pid never matches: `<pidns>-<pid>-<start>.port` (an inspector
// nodetop opened, and its port: src/inspector/opened.ts) and `<pidns>-<pid>-<start>.armed` (what
// `nodetop arm` set, for `ps`). The pid namespace, because one directory can be seen from several
// (a container sharing the host's /tmp): a nodetop there saw the host's pids as gone and removed
// their records.
//
// Where: $XDG_RUNTIME_DIR/nodetop when that directory is the user's own and 0700, else
// $TMPDIR/nodetop-<uid>. The second is a name anyone can predict and create first (a user
// planted /tmp/nodetop-0 with a symlink in it, and root's nodetop truncated the file it pointed
// at), so nodetop uses a directory only if it is a real directory (not a symlink), owned by this
// uid and 0700, and refuses it with a warning otherwise. In a directory that only its owner can
// write, and in /tmp whose sticky bit keeps others from renaming it, records are still opened
// with O_NOFOLLOW and created with O_EXCL. Records of processes that are gone are removed
// whenever one is written.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as proc from './proc';

export type RecordKind = 'port' | 'armed';
// <pidns>-<pid>-<start>; an earlier nodetop's <pid>-<start> is pruned as this namespace's
const RECORD = /^(?:(\d+)-)?(\d+)-(\d+)\.(port|armed)$/;

/** The inode of this process's pid namespace ('0' when /proc will not say). */
function ownPidNamespace(): string {
  try {
    return /\[(\d+)\]/.exec(fs.readlinkSync('/proc/self/ns/pid'))?.[1] ?? '0';
  } catch {
    return '0';
  }
}
let warned = false;

function warn(text: string): void {
  if (warned) return;
  warned = true;
  process.stderr.write(`nodetop: warning: ${text}; nodetop keeps no record of the inspectors it opens\n`);
}

/** Why `dir` is not safe for this uid's records, or null when it is. */
function unsafe(dir: string, uid: number): string | null {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (e) {
    return `cannot read ${dir} (${(e as { code?: string }).code ?? String(e)})`;
  }
  if (st.isSymbolicLink()) return `${dir} is a symlink`;
  if (!st.isDirectory()) return `${dir} is not a directory`;
  if (st.uid !== uid) return `${dir} belongs to uid ${st.uid}, not to nodetop's uid ${uid}`;
  if ((st.mode & 0o077) !== 0) return `${dir} is mode ${(st.mode & 0o777).toString(8)}, not 700`;
  return null;
}

/** Creates `dir` 0700 if missing; null when it is (now) safe, else why not. */
function ensure(dir: string, uid: number): string | null {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as { code?: string }).code !== 'EEXIST') return `cannot create ${dir} (${(e as { code?: string }).code ?? String(e)})`;
  }
  return unsafe(dir, uid);
}

/** The verified directory for this uid's records, or null (refused: warned once). */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const uid = process.getuid?.() ?? -1;
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg && path.isAbsolute(xdg) && unsafe(xdg, uid) === null) {
    const d = path.join(xdg, 'nodetop');
    const why = ensure(d, uid);
    if (why === null) return d;
    warn(why);
    return null;
  }
  const d = path.join(os.tmpdir(), `nodetop-${uid}`);
  const why = ensure(d, uid);
  if (why === null) return d;
  warn(why);
  return null;
}

function file(dir: string, pid: number, kind: RecordKind): string | null {
  try {
    const ns = ownPidNamespace();
    // without its pid namespace a record could be another namespace's pid: none then
    if (ns === '0') return null;
    return path.join(dir, `${ns}-${pid}-${proc.readStat(pid).startTimeTicks}.${kind}`);
  } catch {
    return null;
  }
}

/** Removes the records of processes that are gone (or whose pid now names another process). */
function prune(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  const ns = ownPidNamespace();
  if (ns === '0') return;
  for (const name of names) {
    const m = RECORD.exec(name);
    // another pid namespace's pids mean nothing here: its own nodetops prune them
    if (!m || (m[1] !== undefined && m[1] !== ns)) continue;
    let live = false;
    try {
      live = proc.readStat(Number(m[2])).startTimeTicks === Number(m[3]);
    } catch {
      live = false;
    }
    if (!live) {
      try {
        fs.unlinkSync(path.join(dir, name));
      } catch {
        /* removed meanwhile */
      }
    }
  }
}

const WRITE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

/** Writes this process's record of `kind` (replacing an older one); a convenience: failures are silent. */
export function writeRecord(pid: number, kind: RecordKind, text: string): void {
  const dir = stateDir();
  if (!dir) return;
  prune(dir);
  const f = file(dir, pid, kind);
  if (!f) return;
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = fs.openSync(f, WRITE_FLAGS, 0o600);
    } catch (e) {
      // an older record of this very process (nodetop opened it before): replace it; unlink
      // removes the entry itself, never what a symlink points at
      if ((e as { code?: string }).code === 'EEXIST' && attempt === 0) {
        try {
          fs.unlinkSync(f);
        } catch {
          return;
        }
        continue;
      }
      return; // a convenience only: attaching works without it
    }
    try {
      fs.writeSync(fd, text);
    } catch {
      /* as above */
    } finally {
      fs.closeSync(fd);
    }
    return;
  }
}

/** This process's record of `kind`, if it is a regular file of this uid no longer than `maxBytes`. */
export function readRecord(pid: number, kind: RecordKind, maxBytes: number): string | null {
  const dir = stateDir();
  const f = dir && file(dir, pid, kind);
  if (!f) return null;
  let fd: number;
  try {
    fd = fs.openSync(f, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.uid !== process.getuid?.() || st.size > maxBytes) return null;
    const buf = Buffer.alloc(maxBytes);
    return buf.toString('utf8', 0, fs.readSync(fd, buf, 0, maxBytes, 0));
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

export function forgetRecord(pid: number, kind: RecordKind): void {
  const dir = stateDir();
  const f = dir && file(dir, pid, kind);
  if (!f) return;
  try {
    fs.unlinkSync(f);
  } catch {
    /* not there */
  }
}
