// An output file that appears under its final name only when it is complete: written to a
// temporary name in the same directory (so the rename is atomic), mode 0600 (a profile or a
// snapshot shows code and data of someone's process), renamed at the end, removed on any
// failure or interruption. Opening the temporary file up front checks that the path is writable
// before any work is done in the target.
//
// nodetop runs as root in directories other users can write (issue 20: `-o /home/svc/x` with
// /home/svc another user's). Every name is reached through the directory opened once (OutDir:
// /proc/self/fd/<fd>/<name>, which the kernel resolves from the opened directory, whatever was
// renamed or symlinked since), created exclusive and no-follow, and after the final rename the
// name is checked to be the very file written (dev and inode). docs/security.md says what holds.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ExitCode, NodetopError, errnoCode } from '../errors';
import { readStat } from './proc';

/** What a user needs to hear about a failed write, in a few words. */
export function describeWriteError(e: unknown): string {
  switch (errnoCode(e)) {
    case 'ENOENT':
      return 'no such directory';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EDQUOT':
      return 'disk quota exceeded';
    case 'EISDIR':
      return 'it is a directory';
    case 'ENAMETOOLONG':
      return 'the name is too long';
    case 'ESWAPPED':
    case 'ENOPROC':
      return e instanceof Error ? e.message : String(e);
    default:
      return e instanceof Error ? e.message : String(e);
  }
}

function outputError(file: string, e: unknown): NodetopError {
  return new NodetopError(`cannot write ${file}: ${describeWriteError(e)}`, { exitCode: ExitCode.OutputFailed });
}

/**
 * The path to write: `-o` as given, or the default name in the current directory; when `-o`
 * names an existing directory (or ends with a slash), the default name inside it.
 */
export function resolveOutputPath(given: string | undefined, defaultName: string, cwd = process.cwd()): string {
  if (usesDefaultName(given, cwd)) return path.resolve(cwd, given ?? '', defaultName);
  return path.resolve(cwd, given!);
}

/**
 * True when `-o` is absent or names a directory: the file gets the default name. A symlink to a
 * directory counts only when it is root's or nodetop's own: one another user planted at the name
 * (`ln -s /etc /tmp/x.heapsnapshot`) would send root's file into the directory of their choice, so
 * it is a file name, and the entry is replaced as a planted symlink is.
 */
export function usesDefaultName(given: string | undefined, cwd = process.cwd()): boolean {
  if (given === undefined || given === '' || given.endsWith('/')) return true;
  const p = path.resolve(cwd, given);
  try {
    const l = fs.lstatSync(p);
    if (l.isSymbolicLink() && l.uid !== 0 && l.uid !== process.geteuid?.()) return false;
    return fs.statSync(p).isDirectory();
  } catch {
    return false; // does not exist yet: a file name
  }
}

/** A file name made of the target's title, its pid and the time: `node-1234-20261124T031918Z`. */
export function defaultBaseName(title: string, pid: number, when = new Date()): string {
  const word = (title.trim().split(/\s+/)[0] ?? '').split('/').pop() ?? '';
  const clean = word.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[.-]+/, '').slice(0, 40) || 'node';
  const stamp = when.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${clean}-${pid}-${stamp}`;
}

/** fsync on libuv's pool: the event loop (Ctrl-C, the session) goes on meanwhile. */
export function fsyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
}

/** This process's start time (clock ticks after boot): with the pid, it names a partial file's owner. */
let selfStartTicks: number | null = null;
function myStartTicks(): number {
  if (selfStartTicks === null) {
    try {
      selfStartTicks = readStat(process.pid).startTimeTicks;
    } catch {
      selfStartTicks = 0;
    }
  }
  return selfStartTicks;
}

/** This process's pid namespace (its inode): a pid means something only within one. */
let selfPidNs: string | null = null;
function myPidNs(): string {
  if (selfPidNs === null) {
    try {
      selfPidNs = /\[(\d+)\]/.exec(fs.readlinkSync('/proc/self/ns/pid'))?.[1] ?? '0';
    } catch {
      selfPidNs = '0';
    }
  }
  return selfPidNs;
}

/**
 * `<base>.partial-<pid namespace>-<pid>-<start>-<random>`: a name in progress, with the nodetop
 * writing it, so that a later run can tell a killed nodetop's leftover from a live one's.
 */
export function partialName(base: string): string {
  return `${base}.partial-${myPidNs()}-${process.pid}-${myStartTicks()}-${randomBytes(4).toString('hex')}`;
}

const PARTIAL_NAME = /\.partial-(\d+)-(\d+)-(\d+)-[0-9a-f]{8}$/;

interface PartialOwner {
  pidNs: string;
  pid: number;
  startTicks: number;
}

/** The nodetop a partial name records, or null for any other name. */
export function partialOwner(name: string): PartialOwner | null {
  const m = PARTIAL_NAME.exec(name);
  return m ? { pidNs: m[1]!, pid: Number(m[2]), startTicks: Number(m[3]) } : null;
}

/** That process is still the one that wrote the name (same pid, same start time, not a zombie). */
function ownerAlive(o: PartialOwner): boolean {
  if (o.pid === process.pid) return true;
  try {
    const st = readStat(o.pid);
    return st.startTimeTicks === o.startTicks && st.state !== 'Z' && st.state !== 'X';
  } catch {
    return false;
  }
}

/** A name another user swapped under nodetop (issue 20): the output is refused, exit 12. */
export class SwappedError extends Error {
  readonly code = 'ESWAPPED';
  constructor(dir: string) {
    super(`another user changed ${dir} while nodetop wrote into it: the name no longer leads to nodetop's file`);
  }
}

/**
 * A directory opened once, and names in it reached through that descriptor: `at(name)` is
 * `/proc/self/fd/<fd>/<name>`, which the kernel resolves from the directory that was opened (Node
 * has no openat). A user who renames the directory, or puts a symlink where it was, changes
 * nothing for nodetop from then on. Files are created exclusive and no-follow; a rename into the
 * final name is checked (dev and inode) to have moved the file nodetop holds open.
 */
export class OutDir {
  private constructor(
    readonly path: string,
    private fd: number | null,
    /** The directory's owner and mode when it was opened. */
    readonly uid: number,
    readonly mode: number,
  ) {}

  /** Throws the open's errno error (ENOENT, ENOTDIR, EACCES), or when /proc cannot show the descriptor. */
  static open(dir: string): OutDir {
    const c = fs.constants;
    const fd = fs.openSync(dir, c.O_RDONLY | c.O_DIRECTORY);
    try {
      const st = fs.fstatSync(fd);
      const via = fs.statSync(`/proc/self/fd/${fd}`);
      if (via.dev !== st.dev || via.ino !== st.ino) {
        throw Object.assign(new Error('/proc/self/fd does not show the opened directory (is /proc mounted?)'), { code: 'ENOPROC' });
      }
      return new OutDir(dir, fd, st.uid, st.mode);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** A path to `name` in this very directory, whatever its path leads to now. */
  at(name: string): string {
    if (this.fd === null) throw new Error(`${this.path} was closed`);
    if (!name || name.includes('/') || name === '.' || name === '..') throw new Error(`not a name in a directory: ${name}`);
    return `/proc/self/fd/${this.fd}/${name}`;
  }

  /** Someone other than nodetop's user and root may add, rename or remove names here. */
  get shared(): boolean {
    const me = process.geteuid?.() ?? -1;
    return (this.uid !== me && this.uid !== 0) || (this.mode & 0o022) !== 0;
  }

  /** A new file, exclusive and no-follow (a planted name or symlink fails with EEXIST). */
  createFile(name: string, access: number = fs.constants.O_WRONLY, mode = 0o600): number {
    const c = fs.constants;
    return fs.openSync(this.at(name), access | c.O_CREAT | c.O_EXCL | c.O_NOFOLLOW, mode);
  }

  /** A new directory (mkdir never follows a planted symlink: EEXIST). */
  mkdir(name: string, mode = 0o700): void {
    fs.mkdirSync(this.at(name), { mode });
  }

  lstat(name: string): fs.Stats | null {
    try {
      return fs.lstatSync(this.at(name));
    } catch {
      return null;
    }
  }

  /** Removes a name; true when it was there. */
  unlink(name: string): boolean {
    try {
      fs.unlinkSync(this.at(name));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Renames `from` to `to` (both in this directory: atomic), checking that both names lead to the
   * file `fd` has open, before and after: a user who can write here may swap names meanwhile.
   * Throws SwappedError when they do not.
   */
  renameChecked(from: string, to: string, fd: number): void {
    const st = fs.fstatSync(fd);
    const same = (l: fs.Stats | null): boolean => l !== null && l.isFile() && l.dev === st.dev && l.ino === st.ino;
    if (!same(this.lstat(from))) throw new SwappedError(this.path);
    fs.renameSync(this.at(from), this.at(to));
    if (!same(this.lstat(to))) throw new SwappedError(this.path);
  }

  /**
   * Removes what a killed nodetop of this user left here: partial names (partialName) owned by this
   * user whose recorded process is gone (or is another process now: its start time differs), and
   * in such a directory only files whose names `inside` matches (anything else: left alone).
   * Returns the names removed.
   */
  removeLeftovers(inside: RegExp): string[] {
    if (this.fd === null) return [];
    const me = process.geteuid?.() ?? -1;
    const removed: string[] = [];
    let names: string[] = [];
    try {
      names = fs.readdirSync(`/proc/self/fd/${this.fd}`);
    } catch {
      /* an unreadable directory: nothing to clean */
    }
    for (const name of names) {
      const owner = partialOwner(name);
      if (!owner || owner.pidNs !== myPidNs() || ownerAlive(owner)) continue;
      const st = this.lstat(name);
      if (!st || st.uid !== me) continue;
      if (st.isFile() ? this.unlink(name) : st.isDirectory() && this.removeOwnDir(name, me, inside)) removed.push(name);
    }
    return removed;
  }

  /** A partial directory of this user's with only nodetop's files in it, emptied and removed. */
  private removeOwnDir(name: string, me: number, inside: RegExp): boolean {
    const c = fs.constants;
    let sub: number;
    try {
      sub = fs.openSync(this.at(name), c.O_RDONLY | c.O_DIRECTORY | c.O_NOFOLLOW);
    } catch {
      return false;
    }
    try {
      if (fs.fstatSync(sub).uid !== me) return false;
      const files = fs.readdirSync(`/proc/self/fd/${sub}`);
      if (!files.every((f) => inside.test(f))) return false;
      for (const f of files) fs.unlinkSync(`/proc/self/fd/${sub}/${f}`);
    } catch {
      return false;
    } finally {
      fs.closeSync(sub);
    }
    try {
      fs.rmdirSync(this.at(name));
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    if (this.fd === null) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      /* already closed */
    }
    this.fd = null;
  }
}

/** The final name, seen through the directory: new, or a file or a symlink `rename` replaces. */
function checkFinalName(dir: OutDir, name: string, finalPath: string): void {
  const st = dir.lstat(name);
  if (st && !st.isFile() && !st.isSymbolicLink()) {
    throw new NodetopError(`cannot write ${finalPath}: it exists and is not a regular file`, { exitCode: ExitCode.OutputFailed });
  }
}

/** Opens the directory a file goes into, or says in one sentence why it cannot (exit 12). */
export function openOutDir(finalPath: string, fail: (e: unknown) => NodetopError = (e) => outputError(finalPath, e)): OutDir {
  try {
    return OutDir.open(path.dirname(finalPath));
  } catch (e) {
    throw fail(e);
  }
}

export class AtomicFile {
  private done = false;

  private constructor(
    public finalPath: string,
    private readonly dir: OutDir,
    readonly tempName: string,
    private fd: number | null,
  ) {}

  /** Where the file is until it is complete. */
  get tempPath(): string {
    return path.join(path.dirname(this.finalPath), this.tempName);
  }

  /**
   * Creates the temporary file now, next to `finalPath`; throws exit 12 with the reason when it
   * cannot. The final name may still change within the directory (`retarget`).
   */
  static create(finalPath: string): AtomicFile {
    const dir = openOutDir(finalPath);
    try {
      checkFinalName(dir, path.basename(finalPath), finalPath);
      dir.removeLeftovers(/^$/);
      const tempName = partialName(`.${path.basename(finalPath)}`);
      let fd: number;
      try {
        fd = dir.createFile(tempName);
      } catch (e) {
        throw outputError(finalPath, e);
      }
      return new AtomicFile(finalPath, dir, tempName, fd);
    } catch (e) {
      dir.close();
      throw e;
    }
  }

  /** Changes the final name (same directory: the rename stays atomic). */
  retarget(finalPath: string): void {
    if (path.dirname(finalPath) !== path.dirname(this.finalPath)) throw new Error('retarget must stay in the same directory');
    checkFinalName(this.dir, path.basename(finalPath), finalPath);
    this.finalPath = finalPath;
  }

  /** Writes the whole content, flushes it to disk and renames it to the final name. */
  async commit(content: string | Buffer): Promise<number> {
    if (this.done || this.fd === null) throw new NodetopError(`the write of ${this.finalPath} was abandoned`, { exitCode: ExitCode.OutputFailed });
    const fd = this.fd;
    const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    try {
      await new Promise<void>((resolve, reject) => {
        // fs.write in a loop: a short write is not an error
        let off = 0;
        const step = (): void => {
          if (off >= data.length) return resolve();
          fs.write(fd, data, off, Math.min(data.length - off, 1 << 20), null, (err, n) => {
            if (err) return reject(err);
            off += n;
            step();
          });
        };
        step();
      });
      await fsyncAsync(fd);
      if (this.done) throw new Error('abandoned');
      this.dir.renameChecked(this.tempName, path.basename(this.finalPath), fd);
      this.done = true;
      this.closeFd();
      this.dir.close();
      return data.length;
    } catch (e) {
      if (e instanceof SwappedError) {
        // the names are another user's now: remove none of them
        this.done = true;
        this.closeFd();
        this.dir.close();
      } else this.discard();
      if (e instanceof Error && e.message === 'abandoned') {
        throw new NodetopError(`the write of ${this.finalPath} was abandoned`, { exitCode: ExitCode.OutputFailed });
      }
      throw outputError(this.finalPath, e);
    }
  }

  /** Removes the temporary file; nothing appears under the final name. Safe to call twice. */
  discard(): void {
    if (this.done) return;
    this.done = true;
    this.closeFd();
    this.dir.unlink(this.tempName);
    this.dir.close();
  }

  private closeFd(): void {
    if (this.fd === null) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      /* nothing to do */
    }
    this.fd = null;
  }
}
