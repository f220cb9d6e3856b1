// Reading a .heapsnapshot file as a stream into one of model/'s readers, with the failures a
// user can cause (no such file, a directory, not a heap snapshot) as one sentence each.

import * as fs from 'node:fs';
import { ExitCode, NodetopError, describeReadError, errnoCode } from '../errors';
import { SnapshotFormatError } from '../model/heapsnapshot';

/**
 * Streams `file` through `reader` (write chunks, then end) and returns what end() returns. The
 * reader keeps no chunk past its write(): one buffer is read into again and again, where a read
 * stream's fresh 1 MiB chunks piled up as garbage the GC collected late (up to ~100 MiB while a
 * 169 MB file was read).
 */
export async function readHeapFile<T>(file: string, reader: { write(chunk: Buffer): void; end(): T }): Promise<T> {
  try {
    const st = fs.statSync(file);
    if (st.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
    const fh = await fs.promises.open(file, 'r');
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        reader.write(buf.subarray(0, bytesRead));
      }
    } finally {
      await fh.close();
    }
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
