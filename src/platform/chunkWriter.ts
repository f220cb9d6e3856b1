// Writes a stream of chunks (a heap snapshot coming through the inspector) to a file descriptor
// as they arrive, holding only what the disk has not taken yet.

import * as fs from 'node:fs';

/**
 * Writes chunks to an fd in arrival order without blocking the caller: whatever arrived while a
 * write was in flight goes out in the next single writev. The first error sticks.
 */
export class ChunkWriter {
  private pending: Buffer[] = [];
  private writing = false;
  private idle: Array<() => void> = [];
  queued = 0;
  maxQueued = 0;
  written = 0;
  error: unknown = null;
  private failed: (e: unknown) => void = () => undefined;
  /** Rejects at the first write error. */
  readonly failure: Promise<never>;

  /**
   * `maxBytes`: the most the stream may bring (a snapshot of the heap it came from can be no
   * bigger); past it the writer fails rather than let a hostile or broken endpoint fill the disk.
   */
  constructor(
    private readonly fd: number,
    private readonly maxBytes = Infinity,
  ) {
    this.failure = new Promise<never>((_, reject) => (this.failed = reject));
    this.failure.catch(() => undefined);
  }

  push(chunk: string): void {
    if (this.error) return;
    const buf = Buffer.from(chunk, 'utf8');
    if (this.written + this.queued + buf.length > this.maxBytes) {
      this.error = new Error(`the endpoint sent more than a snapshot of its heap can be (${this.maxBytes} bytes): stopped there`);
      this.pending = [];
      this.queued = 0;
      this.failed(this.error);
      return;
    }
    this.pending.push(buf);
    this.queued += buf.length;
    if (this.queued > this.maxQueued) this.maxQueued = this.queued;
    if (!this.writing) this.flush();
  }

  private flush(): void {
    if (this.error || this.pending.length === 0) {
      this.writing = false;
      for (const cb of this.idle.splice(0)) cb();
      return;
    }
    this.writing = true;
    const bufs = this.pending;
    this.pending = [];
    const total = bufs.reduce((n, b) => n + b.length, 0);
    const done = (err: NodeJS.ErrnoException | null, n: number): void => {
      if (err) {
        this.error = err;
        this.failed(err);
        this.pending = [];
        this.queued = 0;
        this.flush();
        return;
      }
      this.written += n;
      this.queued -= n;
      if (n < total) {
        // a short write: put the rest back in front
        let skip = n;
        const rest: Buffer[] = [];
        for (const b of bufs) {
          if (skip >= b.length) skip -= b.length;
          else {
            rest.push(skip > 0 ? b.subarray(skip) : b);
            skip = 0;
          }
        }
        this.pending = [...rest, ...this.pending];
      }
      this.flush();
    };
    fs.writev(this.fd, bufs, null, done);
  }

  async drain(): Promise<void> {
    if (this.writing) await new Promise<void>((r) => this.idle.push(r));
    if (this.error) throw this.error;
  }
}
