// The file of a recording: created for `record` (new, exclusive, no-follow, 0600, through the
// directory opened once: src/platform/outfile.ts), read for `replay` (gzip or not, line by line,
// bounded). The lines themselves are the model's (src/model/recording.ts).
//
// A recording is written under its final name as it goes, not renamed at the end as other
// outputs are: a recorder killed with SIGKILL (or by the OOM killer, during the incident it was
// recording) leaves what it had written, and replay reads that up to the last whole line.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { ExitCode, NodetopError, describeReadError, errnoCode } from '../errors';
import { RecordingFormatError, RecordingReader, type Recording } from '../model/recording';
import { describeWriteError, openOutDir } from './outfile';

/** A name ending in .gz is written gzip-compressed. */
export function isGzipName(file: string): boolean {
  return /\.gz$/i.test(file);
}

/** A recording file just created: its descriptor, and the directory it is in, still open. */
export interface NewRecordingFile {
  fd: number;
  /**
   * Nothing was recorded: closes the file and removes it if its name (in the directory opened
   * when it was created, whatever the path leads to now) still leads to it, empty.
   */
  abandon(): void;
  /** The file stays: the directory is let go. */
  keep(): void;
}

/**
 * Creates `file` for a recording: a new file (an existing name, or a symlink planted there, is
 * refused: a recording is never written over another), mode 0600.
 */
export function createRecordingFile(file: string): NewRecordingFile {
  const dir = openOutDir(file);
  const name = path.basename(file);
  let fd: number;
  try {
    fd = dir.createFile(name);
  } catch (e) {
    dir.close();
    if (errnoCode(e) === 'EEXIST') {
      throw new NodetopError(`cannot write ${file}: it exists (a recording is never written over a file)`, {
        exitCode: ExitCode.OutputFailed,
        hint: 'name another file with -o, or remove that one',
      });
    }
    throw new NodetopError(`cannot write ${file}: ${describeWriteError(e)}`, { exitCode: ExitCode.OutputFailed });
  }
  let abandoned = false;
  return {
    fd,
    abandon: () => {
      // once: Ctrl-C during the attach, then the attach's failure
      if (abandoned) return;
      abandoned = true;
      try {
        const st = fs.fstatSync(fd);
        fs.closeSync(fd);
        // through the directory's descriptor: a parent directory swapped meanwhile redirects nothing
        const now = dir.lstat(name);
        if (now?.isFile() && now.dev === st.dev && now.ino === st.ino && now.size === 0) dir.unlink(name);
      } catch {
        /* nothing to remove */
      } finally {
        dir.close();
      }
    },
    keep: () => dir.close(),
  };
}

/** Decompressed bytes a replay reads at most: beyond it a file is refused, not read into memory. */
export const MAX_REPLAY_BYTES = 4 * 1024 ** 3;
/** The longest line nodetop writes is a sample with 50 sockets, 50 groups, 50 pools: far below this. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

/**
 * Reads a recording (gzip or plain: told by its first bytes, not its name). Every failure is one
 * sentence, exit 2: a file that is not a recording, a corrupt or cut gzip stream (what came
 * before the damage is not trusted: the gzip check is over the whole), a line that is not what
 * nodetop writes, a format newer than this nodetop reads. Only a regular file is read: a FIFO
 * (whose open would wait for a writer, and which no Ctrl-C ends), a device (/dev/zero never
 * ends), a socket or a symlink (a name planted by another user) is refused.
 */
export async function readRecording(file: string, nodetopVersion: string): Promise<Recording> {
  const fail = (why: string): NodetopError => new NodetopError(`cannot replay ${file}: ${why}`, { exitCode: ExitCode.Usage });
  let fd: number;
  try {
    // O_NONBLOCK: the open of a FIFO returns at once rather than wait for a writer; it changes
    // nothing for the reads of a regular file (Linux ignores it there), the only kind read
    const c = fs.constants;
    fd = fs.openSync(file, c.O_RDONLY | c.O_NONBLOCK | c.O_NOFOLLOW);
  } catch (e) {
    if (errnoCode(e) === 'ELOOP') throw fail('it is a symbolic link (replay the file it leads to)');
    throw fail(describeReadError(e));
  }
  try {
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) throw fail('it is a directory');
    if (!st.isFile()) throw fail(`it is not a regular file (${st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a file'})`);
  } catch (e) {
    fs.closeSync(fd);
    if (e instanceof NodetopError) throw e;
    throw fail(describeReadError(e));
  }
  const magic = Buffer.alloc(2);
  const got = fs.readSync(fd, magic, 0, 2, 0);
  const gzip = got === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  const input = fs.createReadStream('', { fd, start: 0, highWaterMark: 1 << 20 });
  let source: NodeJS.ReadableStream & { destroy(e?: Error): void } = input;
  if (gzip) {
    const gunzip = zlib.createGunzip();
    input.on('error', (e) => gunzip.destroy(e));
    source = input.pipe(gunzip);
  }
  const reader = new RecordingReader(nodetopVersion);
  let streamError: unknown = null;
  let pending: string | null = null;
  let cutShort = false;
  const tooLong = (): RecordingFormatError => new RecordingFormatError(`a line is longer than ${MAX_LINE_BYTES / 1024 / 1024} MiB, longer than any nodetop writes`);
  const take = (line: string): void => {
    if (pending !== null) reader.push(pending);
    pending = line;
  };
  try {
    // lines split here, not by readline: it builds a line whole however long (a gzip of 700 KB
    // holds a line of 700 MB, /dev/zero one without end) before a cap could see it. An unfinished
    // line stops the read as soon as it passes the cap.
    let bytes = 0;
    let parts: Buffer[] = [];
    let partBytes = 0;
    for await (const chunk of source as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > MAX_REPLAY_BYTES) throw new RecordingFormatError(`it holds more than ${MAX_REPLAY_BYTES / 1024 ** 3} GiB of lines, more than nodetop replays`);
      let from = 0;
      for (let nl = chunk.indexOf(10, from); nl >= 0; nl = chunk.indexOf(10, from)) {
        const piece = chunk.subarray(from, nl);
        if (partBytes + piece.length > MAX_LINE_BYTES) throw tooLong();
        const line = partBytes === 0 ? piece : Buffer.concat([...parts, piece]);
        parts = [];
        partBytes = 0;
        take(line.toString('utf8', 0, line.length > 0 && line[line.length - 1] === 13 ? line.length - 1 : line.length));
        from = nl + 1;
      }
      if (from < chunk.length) {
        const rest = chunk.subarray(from);
        if (partBytes + rest.length > MAX_LINE_BYTES) throw tooLong();
        parts.push(rest);
        partBytes += rest.length;
      }
    }
    if (partBytes > 0) take(Buffer.concat(parts).toString('utf8'));
  } catch (e) {
    if (e instanceof RecordingFormatError) throw fail(e.message);
    streamError = e;
  } finally {
    source.destroy();
    input.destroy();
  }
  if (streamError) {
    const code = errnoCode(streamError);
    // a gzip stream without its end: a recorder killed mid-way (its flushes every few seconds
    // put what it had on disk). What came before stands, as for a plain file cut short.
    if (code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(String((streamError as Error).message))) cutShort = true;
    else if (code?.startsWith('Z_')) throw fail(`its gzip stream is corrupt (${(streamError as Error).message})`);
    else throw fail(describeReadError(streamError));
  }
  try {
    // the last line is whole when it parses: a recorder killed while writing it left it cut
    const last = pending as string | null;
    if (last !== null) {
      if (parses(last) || !reader.hasHeader) reader.push(last);
      else cutShort = true;
    }
    return reader.finish(cutShort);
  } catch (e) {
    if (e instanceof RecordingFormatError) throw fail(e.message);
    throw e;
  }
}

function parses(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}
