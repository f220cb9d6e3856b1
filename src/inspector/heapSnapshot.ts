// Taking a heap snapshot through the inspector: the target writes its own file (targetWrites), or
// V8 streams it as protocol events that nodetop writes (streamSnapshot).

import { CallTimeoutError, evaluate } from './session';
import type { IsolateTarget } from './isolates';
import { ChunkWriter } from '../platform/chunkWriter';
import { OutputFailure, type PartialOutput } from '../platform/snapshotFile';
import { writeSnapshotProbe } from '../probes/writeSnapshot';

/** Where a snapshot's progress goes (sinks/snapshotProgress.ts draws it). */
export interface SnapshotProgress {
  /** A total of 0: how far it is is not known. */
  building(done: number, total: number): void;
  writing(written: number): void;
  /** Once a second: the CPU the thread has spent since the request, and how long it has not run (with what the kernel says then). */
  working(w: ThreadWork): void;
}

export interface ThreadWork {
  /** CPU time the thread has used since the snapshot was asked for; null: not readable (remote). */
  cpuMs: number | null;
  /** How long no sign of work has been seen (0: it is working now). */
  idleMs: number;
  /** What the kernel says the thread is doing, when it is not running. */
  state: string | null;
}

export interface BuildWatchOptions {
  /** The thread's CPU time so far, ms; null when nodetop cannot read it (a remote target). */
  cpuMs: () => number | null;
  /** What the kernel says the thread is doing (for a thread that stopped running). */
  state: () => string | null;
  /** How long the request may go without any sign of work before it counts as not taken (exit 9). */
  firstSignMs: number;
}

/** The longest a Node timer takes (a longer one fires at once): no cap, in practice. */
const NO_CAP_MS = 2 ** 31 - 1;

/**
 * Waits for a snapshot with no time cap once the thread is at work on it: V8 cannot be stopped
 * mid-build, so giving up leaves the target frozen all the same, its snapshot written into a
 * removed file, and the inspector open until it is free (issue 22: given up at 194.8 s of a 437 s
 * build). The evidence is the thread's CPU time advancing in /proc (a frozen thread building a
 * snapshot runs in user space), the file growing, a protocol event. Before any such sign, the
 * request may not have been taken at all (the thread blocked in a syscall): `firstSignMs` bounds
 * that wait, as --timeout bounds any call (exit 9).
 */
export class BuildWatch {
  private started = false;
  private lastSignAt = performance.now();
  private lastCpu: number | null;
  private readonly cpu0: number | null;
  private fail: (e: Error) => void = () => undefined;
  private readonly stalled: Promise<never>;

  constructor(
    private readonly opts: BuildWatchOptions,
    private readonly progress: SnapshotProgress,
    private readonly label: string,
  ) {
    this.cpu0 = this.lastCpu = opts.cpuMs();
    this.stalled = new Promise<never>((_, reject) => (this.fail = reject));
    this.stalled.catch(() => undefined);
  }

  /** Something showed the thread at work: the file grew, a protocol event arrived. */
  sign(): void {
    this.started = true;
    this.lastSignAt = performance.now();
  }

  private pending: Promise<void> = Promise.resolve();

  /** Settles when the last call given to `wait` has: V8 is done with the target's thread. */
  settled(): Promise<void> {
    return this.pending;
  }

  /** `call` (made with no time cap: callOptions), or exit 9 when no sign of work came first. */
  async wait<T>(call: Promise<T>): Promise<T> {
    this.pending = call.then(
      () => undefined,
      () => undefined,
    );
    const timer = setInterval(() => this.tick(), 1000);
    try {
      return await Promise.race([call, this.stalled]);
    } finally {
      clearInterval(timer);
    }
  }

  readonly callOptions = { timeoutMs: NO_CAP_MS };

  private tick(): void {
    const cpu = this.opts.cpuMs();
    if (cpu !== null && this.lastCpu !== null && cpu > this.lastCpu) this.sign();
    if (cpu !== null) this.lastCpu = cpu;
    const idleMs = performance.now() - this.lastSignAt;
    if (!this.started && idleMs > this.opts.firstSignMs) {
      this.fail(new CallTimeoutError(this.label, this.opts.firstSignMs));
      return;
    }
    const idle = idleMs >= 2000;
    this.progress.working({ cpuMs: cpu !== null && this.cpu0 !== null ? cpu - this.cpu0 : null, idleMs: idle ? idleMs : 0, state: idle ? this.opts.state() : null });
  }
}

/**
 * Every chunk passes through nodetop as short-lived buffers outside the JS heap (socket reads,
 * the WebSocket frame, the bytes for the disk): ~300 KiB for a ~100 KiB chunk. V8 frees them
 * only when a GC finds their owners dead, and with a JS heap this small it waits until 64 MiB
 * of them have piled up: nodetop's peak RSS was 121-131 MiB for a 50 MiB heap (bench), 48-60 MiB
 * of it ArrayBuffers. A full GC (a few ms: the JS heap is small; a young-generation one did not
 * free them, measured) whenever more than GARBAGE_LIMIT of them are not queued for the disk gives
 * them back as they go. The GC function comes from V8's own extension, exposed to this process
 * only (never the target's).
 */
export function earlyGc(): (() => void) | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require('node:v8') as typeof import('node:v8')).setFlagsFromString('--expose-gc');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const gc = (require('node:vm') as typeof import('node:vm')).runInNewContext('gc') as unknown;
    if (typeof gc !== 'function') return null;
    return () => {
      try {
        (gc as () => void)();
      } catch {
        /* no early GC: a higher peak */
      }
    };
  } catch {
    return null;
  }
}

/**
 * Dead chunk buffers nodetop lets pile up before a full GC. A GC every 8 MiB of chunks instead
 * (the rule before) left a 250 MiB heap's 702 MB snapshot at a 120 MiB peak RSS, as the disk
 * queue (8-18 MB) came on top; checking every 1 MiB of chunks for 8 MiB of garbage beside the
 * queue: 75-77 MiB, no slower (30-33 s; 3 runs each, same target).
 */
const GARBAGE_LIMIT = 8 * 1024 * 1024;

/**
 * The target writes its own snapshot (v8.writeHeapSnapshot): the same work as when it snapshots
 * itself, where streaming through the inspector adds the protocol's copy of every chunk on the
 * target's frozen thread (1.22-1.35x the in-process time at 50 MiB against 0.97-1.05x, in
 * turns). Progress: the file's size, read every 250 ms. Returns the reason when the target could not open the file
 * (nothing was frozen then); throws OutputFailure when it failed to write it.
 */
export async function targetWrites(
  target: IsolateTarget,
  out: PartialOutput,
  watch: BuildWatch,
  progress: SnapshotProgress,
  who: string,
): Promise<{ bytes: number; maxQueued: number } | string> {
  const file = out.targetPath!;
  const size = (): number => out.targetBytes();
  progress.building(-1, 0);
  let last = 0;
  const poll = setInterval(() => {
    const n = size();
    if (n <= 0) return progress.building(-1, 0); // a terminal's clock goes on
    if (n > last) watch.sign();
    last = n;
    progress.writing(n);
    out.flushAhead(n);
    out.copyAhead(n);
  }, 250);
  let r;
  try {
    r = await watch.wait(evaluate(target.sender, writeSnapshotProbe, { path: file }, { ...watch.callOptions, label: `the heap snapshot of the ${who}` }));
  } finally {
    clearInterval(poll);
  }
  if (!r.ok) {
    // it could not open the file: checked before the snapshot, so nothing was built
    if (!r.opened) return r.code || r.message;
    throw new OutputFailure(Object.assign(new Error(r.message), r.code ? { code: r.code } : {}));
  }
  const n = size();
  if (n <= 0) throw new OutputFailure(new Error('the target wrote no snapshot'));
  progress.writing(n);
  return { bytes: n, maxQueued: 0 };
}

/**
 * HeapProfiler.takeHeapSnapshot, its chunks written to the file as they arrive. Throws
 * OutputFailure when the disk refuses them.
 */
export async function streamSnapshot(
  target: IsolateTarget,
  out: PartialOutput,
  watch: BuildWatch,
  progress: SnapshotProgress,
  who: string,
): Promise<{ bytes: number; maxQueued: number }> {
  const writer = new ChunkWriter(out.fd!, out.maxBytes);
  const gc = earlyGc();
  let sinceGc = 0;
  const offChunk = target.sender.on('HeapProfiler.addHeapSnapshotChunk', (p) => {
    const chunk = (p as { chunk?: unknown })?.chunk;
    if (typeof chunk !== 'string') return;
    watch.sign();
    writer.push(chunk);
    sinceGc += chunk.length;
    if (gc && sinceGc > 1024 * 1024) {
      sinceGc = 0;
      // dead buffers beyond the ones queued for the disk: collect them
      if (process.memoryUsage().arrayBuffers - writer.queued > GARBAGE_LIMIT) gc();
    }
    progress.writing(writer.written + writer.queued);
    out.flushAhead(writer.written);
  });
  const offProgress = target.sender.on('HeapProfiler.reportHeapSnapshotProgress', (p) => {
    const q = p as { done?: number; total?: number };
    watch.sign();
    if (typeof q.done === 'number' && typeof q.total === 'number') progress.building(q.done, q.total);
  });
  try {
    await Promise.race([
      watch.wait(target.sender.send('HeapProfiler.takeHeapSnapshot', { reportProgress: true }, { ...watch.callOptions, label: `the heap snapshot of the ${who}` })),
      writer.failure,
    ]);
    await writer.drain();
  } catch (e) {
    if (writer.error) throw new OutputFailure(writer.error);
    throw e;
  } finally {
    offChunk();
    offProgress();
  }
  return { bytes: writer.written, maxQueued: writer.maxQueued };
}
