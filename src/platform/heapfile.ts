// Reading a .heapsnapshot file as a stream into one of model/'s readers, with the failures a
// user can cause (no such file, a directory, not a heap snapshot) as one sentence each.

import * as fs from 'node:fs';
import { ExitCode, NodetopError, errnoCode } from '../errors';
import { SnapshotFormatError } from '../model/heapsnapshot';

function describeReadError(e: unknown): string {
  switch (errnoCode(e)) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    default:
      return e instanceof Error ? e.message : String(e);
  }
}

/** Streams `file` through `reader` (write chunks, then end) and returns what end() returns. */
export async function readHeapFile<T>(file: string, reader: { write(chunk: Buffer): void; end(): T }): Promise<T> {
  try {
    const st = fs.statSync(file);
    if (st.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
    const stream = fs.createReadStream(file, { highWaterMark: 1 << 20 });
    for await (const chunk of stream) reader.write(chunk as Buffer);
    return reader.end();
  } catch (e) {
    if (e instanceof SnapshotFormatError) {
      throw new NodetopError(`${file} is not a V8 heap snapshot: ${e.message}`, {
        exitCode: ExitCode.Usage,
        hint: 'give .heapsnapshot files, as nodetop snapshot, DevTools or v8.writeHeapSnapshot() write them',
      });
    }
    if (errnoCode(e) !== undefined) throw new NodetopError(`cannot read ${file}: ${describeReadError(e)}`, { exitCode: ExitCode.Usage });
    throw e;
  }
}
