// The file of a recording: created for `record` (new, exclusive, no-follow, 0600, through the
// directory opened once: src/platform/outfile.ts), read for `replay` (gzip or not, line by line,
// bounded). The lines themselves are the model's (src/model/recording.ts).
//
// A recording is written under its final name as it goes, not renamed at the end as other
// outputs are: a recorder killed with SIGKILL (or by the OOM killer, during the incident it was
// recording) leaves what it had written, and replay reads that up to the last whole line.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import * as zlib from 'node:zlib';
import { ExitCode, NodetopError, errnoCode } from '../errors';
import { RecordingFormatError, RecordingReader, type Recording } from '../model/recording';
import { describeWriteError, openOutDir } from './outfile';

/** A name ending in .gz is written gzip-compressed. */
export function isGzipName(file: string): boolean {
  return /\.gz$/i.test(file);
}

/**
 * Creates `file` for a recording: a new file (an existing name, or a symlink planted there, is
 * refused: a recording is never written over another), mode 0600. Returns its descriptor.
 */
export function createRecordingFile(file: string): number {
  const dir = openOutDir(file);
  try {
    return dir.createFile(path.basename(file));
  } catch (e) {
    if (errnoCode(e) === 'EEXIST') {
      throw new NodetopError(`cannot write ${file}: it exists (a recording is never written over a file)`, {
        exitCode: ExitCode.OutputFailed,
        hint: 'name another file with -o, or remove that one',
      });
    }
    throw new NodetopError(`cannot write ${file}: ${describeWriteError(e)}`, { exitCode: ExitCode.OutputFailed });
  } finally {
    dir.close();
  }
}

/** Decompressed bytes a replay reads at most: beyond it a file is refused, not read into memory. */
export const MAX_REPLAY_BYTES = 4 * 1024 ** 3;
/** The longest line nodetop writes is a sample with 50 sockets, 50 groups, 50 pools: far below this. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

function describeReadError(e: unknown): string {
  switch (errnoCode(e)) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    default:
      return e instanceof Error ? e.message : String(e);
  }
}

/**
 * Reads a recording (gzip or plain: told by its first bytes, not its name). Every failure is one
 * sentence, exit 2: a file that is not a recording, a corrupt or cut gzip stream (what came
 * before the damage is not trusted: the gzip check is over the whole), a line that is not what
 * nodetop writes, a format newer than this nodetop reads.
 */
export async function readRecording(file: string, nodetopVersion: string): Promise<Recording> {
  const fail = (why: string): NodetopError => new NodetopError(`cannot replay ${file}: ${why}`, { exitCode: ExitCode.Usage });
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY);
    if (fs.fstatSync(fd).isDirectory()) {
      fs.closeSync(fd);
      throw Object.assign(new Error('directory'), { code: 'EISDIR' });
    }
  } catch (e) {
    throw fail(describeReadError(e));
  }
  const magic = Buffer.alloc(2);
  const got = fs.readSync(fd, magic, 0, 2, 0);
  const gzip = got === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  const input = fs.createReadStream('', { fd, start: 0, highWaterMark: 1 << 20 });
  let bytes = 0;
  let streamError: unknown = null;
  let source: NodeJS.ReadableStream = input;
  if (gzip) {
    const gunzip = zlib.createGunzip();
    input.on('error', (e) => gunzip.destroy(e));
    source = input.pipe(gunzip);
  }
  const counted = source as NodeJS.ReadableStream & { destroy(e?: Error): void };
  counted.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > MAX_REPLAY_BYTES) counted.destroy(new Error(`it holds more than ${MAX_REPLAY_BYTES / 1024 ** 3} GiB of lines, more than nodetop replays`));
  });
  counted.on('error', (e) => (streamError = e));
  const reader = new RecordingReader(nodetopVersion);
  // readline keeps a line whole however long: cap it ourselves, before it is one string
  const rl = readline.createInterface({ input: counted, crlfDelay: Infinity });
  let pending: string | null = null;
  let cutShort = false;
  try {
    for await (const line of rl) {
      if (pending !== null) reader.push(pending);
      if (line.length > MAX_LINE_BYTES) throw new RecordingFormatError(`a line is longer than ${MAX_LINE_BYTES / 1024 / 1024} MiB, longer than any nodetop writes`);
      pending = line;
    }
  } catch (e) {
    if (e instanceof RecordingFormatError) throw fail(e.message);
    streamError ??= e;
  } finally {
    rl.close();
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
    if (pending !== null) {
      if (parses(pending) || !reader.hasHeader) reader.push(pending);
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
