// Where a heap snapshot is written before it gets its final name (PartialOutput), what `-o` names
// when it is written in place (specialOutput), and whether the target may write its own file
// (targetCanWrite). The command (commands/snapshot.ts) decides; this file creates and commits.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { debugTrace } from '../debug';
import { ExitCode, NodetopError, errnoCode } from '../errors';
import type { Attachment } from '../inspector/attach';
import { fsyncAsync, OutDir, partialName, SwappedError } from './outfile';
import { readStatus, readTaskStatuses, sharesFileSystemView } from './proc';

export function outputError(e: unknown, file: string): NodetopError {
  const code = errnoCode(e);
  const dir = path.dirname(file);
  const why =
    code === 'ENOENT'
      ? `the directory ${dir} does not exist`
      : code === 'ENOSPC'
        ? 'no space left on the device'
        : code === 'EROFS'
          ? 'the file system is read-only'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied'
            : code === 'EDQUOT'
              ? 'disk quota exceeded'
              : code === 'EISDIR'
                ? 'it is a directory'
                : code === 'ESWAPPED' || code === 'ENOPROC'
                  ? (e as Error).message
                  : (code ?? (e instanceof Error ? e.message : String(e)));
  return new NodetopError(`cannot write the snapshot to ${file}: ${why}`, { exitCode: ExitCode.OutputFailed });
}

/**
 * Copies bytes [start, end) from one descriptor to the same place in another (end: Infinity for
 * the source's end), 1 MiB at a time off the event loop (libuv's pool), until done or `stop()`
 * says the output was abandoned. Returns where it stopped.
 */
export async function copyBytes(from: number, to: number, start: number, end: number, stop: () => boolean): Promise<number> {
  const buf = Buffer.allocUnsafe(1 << 20);
  const read = (pos: number, len: number): Promise<number> => new Promise((res, rej) => fs.read(from, buf, 0, len, pos, (e, n) => (e ? rej(e) : res(n))));
  const write = (off: number, len: number, pos: number): Promise<number> =>
    new Promise((res, rej) => fs.write(to, buf, off, len, pos, (e, w) => (e ? rej(e) : res(w))));
  let pos = start;
  while (pos < end && !stop()) {
    const n = await read(pos, Math.min(buf.length, end - pos));
    if (n === 0) break;
    for (let off = 0; off < n; ) off += await write(off, n - off, pos + off);
    pos += n;
  }
  return pos;
}

/** How much the target must have written since the last flush ahead for another (PartialOutput.flushAhead). */
const FLUSH_AHEAD_BYTES = 8 * 1024 * 1024;

/** An output that is not a regular file (/dev/null, /dev/stdout, a FIFO), written in place. */
export interface SpecialOutput {
  dev: number;
  ino: number;
  /** Reached through a symlink (/dev/stdout): opened following it. */
  viaLink: boolean;
  directory: boolean;
}

/**
 * What `-o` names when it is written in place rather than replaced: something that is not a
 * regular file, made so by root or by nodetop's own user (the entry, or the symlink that leads to
 * it). A FIFO or a symlink another user planted in a shared directory (/tmp) would have root write
 * the snapshot where that user reads or points: such an entry is replaced by the snapshot's own
 * file instead, as a regular file is. Null for those and for a path that does not exist.
 */
export function specialOutput(p: string): SpecialOutput | null {
  const me = process.geteuid?.() ?? -1;
  const ours = (uid: number): boolean => uid === me || uid === 0;
  try {
    const l = fs.lstatSync(p);
    if (l.isFile() || (l.isSymbolicLink() && !ours(l.uid))) return null;
    const st = fs.statSync(p);
    if (st.isFile() || (!l.isSymbolicLink() && !ours(st.uid))) return null;
    return { dev: st.dev, ino: st.ino, viaLink: l.isSymbolicLink(), directory: st.isDirectory() };
  } catch {
    return null;
  }
}

/** A failure to write the output (as opposed to a failure of the target). */
export class OutputFailure extends Error {
  constructor(override readonly cause: unknown) {
    super('output failed');
  }
}

/** The file a target of another user writes, inside root's partial directory. */
const TARGET_FILE = 'snapshot.heapsnapshot';

/**
 * Where the snapshot is written before it gets its final name, in the final name's directory (so
 * the rename is atomic), every name reached through that directory opened once (OutDir): a file
 * `<final>.partial-<owner>` (partialName) created exclusive and no-follow, which nodetop streams
 * into or the target writes through `/proc/<nodetop>/fd/<n>`, nodetop's own descriptor on it (no
 * name in the directory is ever resolved by the target: a user who can write there redirects
 * nothing). At the end it is renamed and the final name checked to be that file (dev, inode). A
 * special path (/dev/null) is written directly. `remove()` leaves nothing behind, is safe to
 * call at any time and more than once, and nothing is committed after it.
 *
 * A target of another user (root nodetop) cannot open nodetop's descriptors: it writes by path,
 * into a file root created and handed to it in a partial directory of root's (mode 0711: it can
 * reach its file by name, not add, rename or remove one), on a path only root can change
 * (`onlyRootChanges`). Root copies the bytes into a partial file of its own and renames that:
 * the target may still hold a descriptor on its file, so that inode never becomes the output.
 */
export class PartialOutput {
  readonly dir: OutDir;
  /** The path the target writes (null: nodetop streams). */
  targetPath: string | null = null;
  /** The file nodetop streams into. */
  fd: number | null = null;
  /** nodetop's descriptor on the file the target writes. */
  targetFd: number | null = null;
  writtenBy: 'target' | 'nodetop' = 'nodetop';
  /** The partial name in `dir` that becomes the output: the file nodetop writes or copies into, or the target writes. */
  private tempName: string | null = null;
  /** Another user's target: root's partial directory, and its descriptor. */
  private subName: string | null = null;
  private subFd: number | null = null;
  private finished = false;
  private removed = false;
  /** The target runs as another user: its file is copied into root's own (see above). */
  private copies = false;
  /** Root's copy: its descriptor, how much of the target's file is in it, a copy under way. */
  private copyFd: number | null = null;
  private copied = 0;
  private copying: Promise<void> | null = null;
  /** The most a snapshot of the target's heap can be: another user's file is not copied past it (commit). */
  maxBytes = Infinity;
  /** The first error a flush ahead met: commit reports it (the kernel reports one only once). */
  private flushError: Error | null = null;
  /** The file's size at the last flush ahead, and whether one is under way. */
  private flushedBytes = 0;
  private flushing = false;

  /** Opens the final name's directory: throws its errno error (ENOENT, EACCES...). */
  constructor(
    readonly finalPath: string,
    readonly special: SpecialOutput | null,
  ) {
    this.dir = OutDir.open(path.dirname(finalPath));
  }

  private get finalName(): string {
    return path.basename(this.finalPath);
  }

  /** Removes the partial outputs of nodetop runs that were killed here (OutDir.removeLeftovers). */
  removeLeftovers(): string[] {
    return this.dir.removeLeftovers(new RegExp(`^${TARGET_FILE.replace('.', '\\.')}$`));
  }

  /** The bytes the target has written so far. */
  targetBytes(): number {
    try {
      return this.targetFd === null ? -1 : fs.fstatSync(this.targetFd).size;
    } catch {
      return -1;
    }
  }

  /**
   * While the snapshot comes in: hands what is written so far to the disk, in the background, so
   * that commit's fsync has only the tail left to wait for (50-67 ms for 133 MB at the end; 5 ms
   * after flushing ahead).
   * The flush runs on libuv's pool, on nodetop's descriptor; the writes (the target's, or the
   * stream's) go on into the page cache meanwhile. Should the descriptor be closed under it (an
   * interruption), it fails with EBADF or flushes whatever file took the number: a flush changes
   * no data either way.
   */
  flushAhead(size: number): void {
    // a file that is copied is not the output: flushing it would be disk work for nothing
    const fd = this.special || this.copies ? null : (this.fd ?? this.targetFd);
    if (fd === null || this.flushing || size - this.flushedBytes < FLUSH_AHEAD_BYTES) return;
    this.flushing = true;
    debugTrace(`flushing the first ${size} bytes ahead`);
    fs.fdatasync(fd, (e) => {
      if (e && fd === (this.fd ?? this.targetFd)) this.flushError ??= e;
      this.flushedBytes = size;
      this.flushing = false;
    });
  }

  /** Prepares the file the target writes itself (`writer`: targetCanWrite). */
  forTarget(writer: TargetWriter): void {
    this.removed = false;
    this.flushedBytes = 0;
    this.writtenBy = 'target';
    const c = fs.constants;
    if (writer === 'same') {
      // nodetop's own descriptor, which the target opens through /proc: the same inode
      this.tempName = partialName(this.finalName);
      this.targetFd = this.dir.createFile(this.tempName, c.O_RDWR);
      this.targetPath = `/proc/${process.pid}/fd/${this.targetFd}`;
      this.copies = false;
      return;
    }
    // another user's target: root's directory (0700 while it is set up, then 0711), its file in it
    // handed to that user, root's copy beside the directory
    this.copies = true;
    this.copied = 0;
    this.subName = partialName(this.finalName);
    this.dir.mkdir(this.subName, 0o700);
    this.subFd = fs.openSync(this.dir.at(this.subName), c.O_RDONLY | c.O_DIRECTORY | c.O_NOFOLLOW);
    const sub = `/proc/self/fd/${this.subFd}`;
    this.targetFd = fs.openSync(`${sub}/${TARGET_FILE}`, c.O_RDONLY | c.O_CREAT | c.O_EXCL | c.O_NOFOLLOW, 0o600);
    // Root's copy is created 0600 (not fs.copyFile: that gives the copy the source's mode, which
    // that user sets, for as long as the copy takes), under a name that user cannot guess: where
    // hard links are unprotected (fs.protected_hardlinks=0) a known name would let it link root's
    // copy into a directory of its own.
    this.tempName = partialName(this.finalName);
    this.copyFd = this.dir.createFile(this.tempName);
    fs.fchownSync(this.targetFd, writer.uid, -1);
    fs.fchmodSync(this.subFd, 0o711);
    this.targetPath = path.join(this.dir.path, this.subName, TARGET_FILE);
  }

  /**
   * While another user's target writes: copies what it has written so far into root's file and
   * flushes that, in the background, so that commit has only the tail left (a 132 MB file took
   * 240-500 ms to copy and flush at the end). V8 writes a snapshot front to back; should the
   * target rewrite what was copied, it spoils only its own snapshot.
   */
  copyAhead(size: number): void {
    const from = this.targetFd;
    const to = this.copyFd;
    if (!this.copies || from === null || to === null || this.copying || size - this.copied < FLUSH_AHEAD_BYTES) return;
    if (size > this.maxBytes) return; // commit refuses it: copy none of it
    debugTrace(`copying ahead to ${size} bytes`);
    this.copying = copyBytes(from, to, this.copied, size, () => this.removed)
      .then((pos) => {
        this.copied = pos;
        return new Promise<void>((res) =>
          fs.fdatasync(to, (e) => {
            if (e && to === this.copyFd) this.flushError ??= e;
            res();
          }),
        );
      })
      // a failure (a full disk) comes again from commit, which copies from `copied` on
      .catch(() => undefined)
      .finally(() => {
        this.copying = null;
      });
  }

  /** The file nodetop streams into: a new partial file, or the special path itself. */
  openFile(): void {
    this.removed = false;
    this.flushedBytes = 0;
    this.writtenBy = 'nodetop';
    this.targetPath = null;
    const c = fs.constants;
    if (this.special) {
      // the entry that was checked, not whatever took its name since (no O_TRUNC before that is
      // known: it is not a regular file, there is nothing to truncate)
      const fd = fs.openSync(this.dir.at(this.finalName), c.O_WRONLY | (this.special.viaLink ? 0 : c.O_NOFOLLOW));
      const st = fs.fstatSync(fd);
      if (st.dev !== this.special.dev || st.ino !== this.special.ino) {
        fs.closeSync(fd);
        throw new SwappedError(this.dir.path);
      }
      this.fd = fd;
      return;
    }
    this.tempName = partialName(this.finalName);
    this.fd = this.dir.createFile(this.tempName);
  }

  /**
   * Flushes the file to disk, mode 0600, and gives it its final name. `bytes`: the size of the
   * target's file when it answered, all that is copied of another user's; more than `maxBytes`
   * (from the heap used) is refused, since the target sets its file's size (a sparse 8 GiB file
   * costs it nothing) and root's copy would make every byte of it real.
   */
  async commit(bytes: number): Promise<void> {
    const abandoned = (): boolean => this.removed || this.finished;
    const refuse = (): NodetopError => new NodetopError(`the snapshot for ${this.finalPath} was abandoned`, { exitCode: ExitCode.Interrupted });
    // a flush ahead that failed (EIO, or a full disk at writeback) reported its error once, to
    // it: a later fsync on the same file would say nothing
    const failed = (): void => {
      if (this.flushError) throw new OutputFailure(this.flushError);
    };
    // an interruption removed it while the last of it came in: there is nothing to name
    if (abandoned()) throw refuse();
    failed();
    if (this.copies && this.targetFd !== null && this.copyFd !== null) {
      // another user's file: the rest of its bytes, read through root's own descriptor on the
      // inode root made, into root's 0600 copy, flushed, then renamed
      await this.copying;
      if (abandoned()) throw refuse(); // interrupted meanwhile: remove() took both names
      failed();
      if (bytes > this.maxBytes) {
        throw new OutputFailure(new Error(`the target's file is ${bytes} bytes, more than a snapshot of its heap can be (${this.maxBytes}): not copied`));
      }
      // the tail, tracked as a copy under way so that an interruption closes nothing under it
      const tail = copyBytes(this.targetFd, this.copyFd, this.copied, bytes, abandoned);
      this.copying = tail.then(
        () => undefined,
        () => undefined,
      );
      try {
        this.copied = await tail;
      } finally {
        this.copying = null;
      }
      if (abandoned()) throw refuse();
      if (this.copied !== bytes) throw new OutputFailure(new Error(`the target's file shrank to ${this.copied} bytes while it was copied`));
      fs.ftruncateSync(this.copyFd, bytes); // copied ahead past a size the target went back on
      await fsyncAsync(this.copyFd);
      if (abandoned()) throw refuse();
      failed();
      this.rename(this.copyFd);
      this.removeSub(); // the target's copy in root's directory: its bytes are in the output now
      return;
    }
    // the fsyncs run off the event loop, so that Ctrl-C during one removes the file instead of
    // a success line being printed after it
    const fd = this.fd ?? this.targetFd;
    if (fd === null) return;
    try {
      if (!this.special) await fsyncAsync(fd);
      if (abandoned()) throw refuse();
      if (fd === this.targetFd) fs.fchmodSync(fd, 0o600);
      failed();
      if (this.special) this.finished = true;
      else this.rename(fd);
    } finally {
      this.closeFds();
    }
  }

  /** The partial file, open on `fd`, takes the final name: checked, before and after, to be that file. */
  private rename(fd: number): void {
    try {
      this.dir.renameChecked(this.tempName!, this.finalName, fd);
    } catch (e) {
      // another user swapped the names: they are that user's now, nodetop removes none of them;
      // its own file, wherever that user moved it, keeps no byte of the snapshot
      if (e instanceof SwappedError) {
        this.tempName = null;
        try {
          fs.ftruncateSync(fd, 0);
        } catch {
          /* opened read-only: the special path */
        }
      }
      throw new OutputFailure(e);
    }
    this.tempName = null;
    this.finished = true;
  }

  private closeFds(): void {
    const fds = [this.fd, this.targetFd, this.copyFd, this.subFd];
    this.fd = null;
    this.targetFd = null;
    this.copyFd = null;
    this.subFd = null;
    const close = (): void => {
      for (const fd of fds) {
        if (fd === null) continue;
        try {
          fs.closeSync(fd);
        } catch {
          /* already closed */
        }
      }
    };
    // a copy under way reads and writes these descriptors: close them once it stops (it stops at
    // its next 1 MiB once removed), so that no number is reused under it
    if (this.copying) void this.copying.finally(close);
    else close();
  }

  /**
   * Root's partial directory and the target's file in it. The target opens only its one name: if
   * it recreates that name between the unlink and the rmdir, go round again. Once the file or
   * the directory is gone the target's open fails (its snapshot is then never built); a file it
   * already holds open disappears with its last close.
   */
  private removeSub(): void {
    if (this.subName === null) return;
    const sub = this.dir.at(this.subName);
    for (let i = 0; i < 100; i++) {
      try {
        fs.unlinkSync(`${sub}/${TARGET_FILE}`);
      } catch {
        /* not there (yet, or any more) */
      }
      try {
        fs.rmdirSync(sub);
        break;
      } catch (e) {
        if (errnoCode(e) !== 'ENOTEMPTY') break;
      }
    }
    this.subName = null;
  }

  /** Everything nodetop created, gone (closed, unlinked); the directory stays open for a retry. */
  remove(): void {
    this.closeFds();
    this.targetPath = null;
    if (this.finished) return;
    this.removed = true;
    if (this.tempName !== null) this.dir.unlink(this.tempName);
    this.tempName = null;
    this.removeSub();
  }

  /** Closes everything, the directory too: the end of the command. */
  close(): void {
    this.remove();
    this.dir.close();
  }
}

/**
 * Who writes the target's file: nodetop's own user, or for root another user's target (with the
 * real path of the output's directory, which that user cannot change).
 */
export type TargetWriter = 'same' | { uid: number; dir: string };

/**
 * The real path of `dir` when no one but root can change any directory on the way to it (each is
 * root's, and writable by no one else unless sticky, where only an entry's owner may rename it),
 * else null. A path another user's target writes by name must be such a path: the target's user,
 * or any other, could otherwise swap a name on the way for a symlink (issue 20).
 */
export function onlyRootChanges(dir: string): string | null {
  try {
    const real = fs.realpathSync(dir);
    let cur = '/';
    for (const part of ['', ...real.split('/').filter(Boolean)]) {
      cur = part ? path.join(cur, part) : cur;
      const st = fs.lstatSync(cur);
      if (!st.isDirectory() || st.uid !== 0) return null;
      if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) return null;
    }
    return real;
  } catch {
    return null;
  }
}

/**
 * Whether the target may write the snapshot where nodetop wants it, and as whom: a local process
 * that sees the same files (same mount namespace, same root). One of nodetop's own user writes
 * through nodetop's own descriptor (/proc/<nodetop>/fd/<n>), wherever the file is. For root, a
 * process of another user too, when it holds no capability in any thread, effective or
 * permitted (nothing lets it past file permissions), no uid 0, and only root can change the
 * directories on the way to `dir` (`onlyRootChanges`). Everything else is streamed.
 */
export function targetCanWrite(att: Attachment, dir: string): TargetWriter | null {
  if (!att.local || !sharesFileSystemView(att.pid)) return null;
  try {
    const st = readStatus(att.pid);
    const me = process.geteuid?.();
    if (st.fsUid === me) return 'same';
    if (me !== 0) return null;
    // every id any of its threads holds (it can take up its real or saved uid again), and no
    // capability it has or could raise
    const tasks = readTaskStatuses(att.pid);
    const uids = [...new Set(tasks.flatMap((t) => t.uids))];
    const capable = tasks.some((t) => t.capEff !== 0n || t.capPrm !== 0n);
    const real = capable || uids.includes(0) ? null : onlyRootChanges(dir);
    if (real === null) {
      debugTrace(`the target (uids ${uids.join(' ')}${capable ? ', capable' : ''}) does not write the file: streamed`);
      return null;
    }
    return { uid: st.fsUid, dir: real };
  } catch {
    return null;
  }
}
