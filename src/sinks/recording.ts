// Writes a recording's lines to its file descriptor, gzip-compressed or not, without blocking
// the sampling: lines queue in the stream, the first write error sticks and ends the recording.
// A compressed stream is flushed every FLUSH_EVERY_MS so that a recorder killed mid-way leaves
// a file replay can read up to that point.

import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import type { Writable } from 'node:stream';
import { fsyncAsync } from '../platform/outfile';

/** How often compressed lines are pushed to the disk (a sync flush costs a few bytes of ratio). */
export const FLUSH_EVERY_MS = 5000;

export class RecordingWriter {
  private readonly file: fs.WriteStream;
  private readonly out: Writable;
  private readonly gzip: zlib.Gzip | null;
  private flushTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Bytes of lines handed over (uncompressed), and lines. */
  bytesIn = 0;
  lines = 0;
  /** The first write error; the recording ends with it. */
  error: Error | null = null;
  onError: (e: Error) => void = () => undefined;

  constructor(
    private readonly fd: number,
    compress: boolean,
  ) {
    this.file = fs.createWriteStream('', { fd, autoClose: false });
    this.file.on('error', (e) => this.fail(e));
    if (compress) {
      this.gzip = zlib.createGzip({ level: 6 });
      this.gzip.on('error', (e) => this.fail(e));
      this.gzip.pipe(this.file);
      this.out = this.gzip;
      this.flushTimer = setInterval(() => this.gzip?.flush(zlib.constants.Z_SYNC_FLUSH), FLUSH_EVERY_MS);
      this.flushTimer.unref();
    } else {
      this.gzip = null;
      this.out = this.file;
    }
  }

  /** Bytes on disk so far (compressed when compressing). */
  get bytesOut(): number {
    return this.file.bytesWritten;
  }

  write(line: string): void {
    if (this.closed || this.error) return;
    const text = `${line}\n`;
    this.bytesIn += Buffer.byteLength(text);
    this.lines++;
    this.out.write(text);
  }

  /** Ends the stream (the gzip trailer), flushes it to the disk, closes the descriptor. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.flushTimer) clearInterval(this.flushTimer);
    await new Promise<void>((resolve) => {
      if (this.error) return resolve();
      this.file.once('finish', resolve);
      this.file.once('error', () => resolve());
      this.out.end();
    });
    try {
      if (!this.error) await fsyncAsync(this.fd);
    } catch (e) {
      this.fail(e as Error);
    }
    try {
      fs.closeSync(this.fd);
    } catch {
      /* closed already */
    }
  }

  private fail(e: Error): void {
    if (this.error) return;
    this.error = e;
    this.onError(e);
  }
}
