// An output file that appears under its final name only when it is complete: written to a
// temporary name in the same directory (so the rename is atomic), mode 0600 (a profile or a
// snapshot shows code and data of someone's process), renamed at the end, removed on any
// failure or interruption. Opening the temporary file up front checks that the path is writable
// before any work is done in the target.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ExitCode, NodetopError, errnoCode } from '../errors';

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

/** True when `-o` is absent or names a directory: the file gets the default name. */
export function usesDefaultName(given: string | undefined, cwd = process.cwd()): boolean {
  if (given === undefined || given === '' || given.endsWith('/')) return true;
  try {
    return fs.statSync(path.resolve(cwd, given)).isDirectory();
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

/** The final name must be new or a regular file: never rename over a device or a directory. */
function checkFinalPath(finalPath: string): void {
  try {
    const st = fs.statSync(finalPath);
    if (!st.isFile()) {
      throw new NodetopError(`cannot write ${finalPath}: it exists and is not a regular file`, { exitCode: ExitCode.OutputFailed });
    }
  } catch (e) {
    if (e instanceof NodetopError) throw e;
    if (errnoCode(e) !== 'ENOENT') throw outputError(finalPath, e);
  }
}

export class AtomicFile {
  private done = false;

  private constructor(
    public finalPath: string,
    readonly tempPath: string,
    private fd: number | null,
  ) {}

  /**
   * Creates the temporary file now, next to `finalPath`; throws exit 12 with the reason when it
   * cannot. The final name may still change within the directory (`retarget`).
   */
  static create(finalPath: string): AtomicFile {
    checkFinalPath(finalPath);
    const dir = path.dirname(finalPath);
    const tempPath = path.join(dir, `.${path.basename(finalPath)}.${randomBytes(4).toString('hex')}.part`);
    let fd: number;
    try {
      fd = fs.openSync(tempPath, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    } catch (e) {
      throw outputError(finalPath, e);
    }
    return new AtomicFile(finalPath, tempPath, fd);
  }

  /** Changes the final name (same directory: the rename stays atomic). */
  retarget(finalPath: string): void {
    if (path.dirname(finalPath) !== path.dirname(this.finalPath)) throw new Error('retarget must stay in the same directory');
    checkFinalPath(finalPath);
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
      this.closeFd();
      if (this.done) throw new Error('abandoned');
      fs.renameSync(this.tempPath, this.finalPath);
      this.done = true;
      return data.length;
    } catch (e) {
      this.discard();
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
    try {
      fs.unlinkSync(this.tempPath);
    } catch {
      /* already gone */
    }
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
