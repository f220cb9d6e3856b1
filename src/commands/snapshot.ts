// `nodetop snapshot <pid>`: a heap snapshot of the main thread or of one worker, written to disk.
//
// - The target writes the file itself when it can (v8.writeHeapSnapshot into a directory nodetop
//   made: targetCanWrite, targetWrites): the cost of a snapshot the process takes of itself.
//   Streaming makes the frozen thread also wrap every chunk in a protocol message: 1.22-1.35x the
//   in-process time against 0.97-1.05x (50 MiB heap, in turns, bench).
//   For root, another user's target too, on a path that user cannot change; root copies its file.
// - Else (--stream, a container, another user's process on a path within its reach, a target
//   with capabilities, a path that is not a regular file)
//   HeapProfiler.takeHeapSnapshot delivers its chunks (~100 KiB each) as addHeapSnapshotChunk
//   events without HeapProfiler.enable (checked on Node 20): no domain is enabled at all. Each chunk is handed to the disk writer as it arrives and dropped: nodetop
//   holds only the chunks the disk has not taken yet (reported as maxQueuedBytes). The inspector
//   applies no backpressure, so the socket is never paused: a slow disk costs nodetop memory,
//   not the target.
// - Either way written under a partial name (PartialOutput), renamed when complete, removed on
//   any failure, Ctrl-C or SIGTERM. A path that is not a regular file (/dev/null, /dev/stdout) is
//   written directly.
// - Before starting: the estimate of the freeze and of the memory the target will need
//   (src/commands/snapshotSafety.ts), a refusal (exit 11) when it does not fit, a prompt on a TTY.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { debugTrace } from '../debug';
import { ExitCode, NodetopError, errnoCode } from '../errors';
import { explainCallFailure, type Attachment, type AttachOptions } from '../inspector/attach';
import { readMemory, withIsolates, type IsolateSelection, type IsolateTarget } from '../inspector/isolates';
import { evaluate } from '../inspector/session';
import { WorkerGoneError } from '../inspector/workers';
import { onExit, onInterrupt } from '../lifecycle';
import { bytes, ms } from '../model/units';
import { fsyncAsync } from '../platform/outfile';
import { readCgroupMemoryLimit, readStatus, readTaskStatuses, realPathOutOfReachOf, sharesFileSystemView } from '../platform/proc';
import { writeSnapshotProbe } from '../probes/writeSnapshot';
import type { Output } from '../cli';
import { estimateSnapshot, readCgroupMemoryCurrent, readHostMemAvailable, SNAPSHOT_MS_PER_MIB, SNAPSHOT_PEAK_FACTOR, unsafeReason } from './snapshotSafety';

export interface SnapshotOptions extends AttachOptions {
  select: IsolateSelection;
  output?: string;
  quiet: boolean;
  json: boolean;
  force: boolean;
  yes: boolean;
  gcFirst: boolean;
  maxGrowthBytes: number | null;
  /** Stream through the inspector even when the target could write the file itself. */
  stream: boolean;
}

export interface SnapshotResult {
  path: string;
  bytes: number;
  durationMs: number;
  threadId: number;
  heapUsedBytes: number;
  maxQueuedBytes: number;
  /** 'target': the target wrote the file itself; 'nodetop': streamed through the inspector. */
  writtenBy: 'target' | 'nodetop';
}

/** `<title>-<pid>[-w<threadId>]-<UTC time>.heapsnapshot`, safe as a file name. */
export function defaultSnapshotName(title: string, pid: number, threadId: number, now: Date): string {
  const t = (title || 'node').replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(0, 40) || 'node';
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${t}-${pid}${threadId ? `-w${threadId}` : ''}-${stamp}.heapsnapshot`;
}

function outputError(e: unknown, file: string): NodetopError {
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
                : (code ?? (e instanceof Error ? e.message : String(e)));
  return new NodetopError(`cannot write the snapshot to ${file}: ${why}`, { exitCode: ExitCode.OutputFailed });
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
function earlyGc(): (() => void) | null {
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
 * Writes chunks to an fd in arrival order without blocking the caller: whatever arrived while a
 * write was in flight goes out in the next single writev. The first error sticks.
 */
class ChunkWriter {
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

  constructor(private readonly fd: number) {
    this.failure = new Promise<never>((_, reject) => (this.failed = reject));
    this.failure.catch(() => undefined);
  }

  push(chunk: string): void {
    if (this.error) return;
    const buf = Buffer.from(chunk, 'utf8');
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

class Progress {
  private lastStep = -1;
  private lastPhase = '';
  private writtenNow = 0;
  private drawn = false;
  private readonly started = performance.now();
  constructor(
    private readonly mode: 'tty' | 'lines' | 'none',
    private readonly write: (s: string) => void,
  ) {}

  /** A total of 0: how far it is is not known. */
  building(done: number, total: number): void {
    const pct = total > 0 ? Math.floor((done / total) * 100) : -1;
    this.show('building', pct, '');
  }

  writing(written: number): void {
    this.writtenNow = written;
    this.show('writing', -1, bytes(written));
  }

  private show(phase: string, pct: number, extra: string): void {
    if (this.mode === 'none') return;
    if (this.mode === 'tty') {
      const width = 30;
      const bar = pct >= 0 ? `[${'#'.repeat(Math.round((pct / 100) * width)).padEnd(width, '.')}] ${String(pct).padStart(3)}%` : '';
      // the time so far: while the target writes the file V8 gives no percentage to show
      const elapsed = `${((performance.now() - this.started) / 1000).toFixed(1)} s`;
      const line = ['snapshot', phase, bar, extra, `(${elapsed})`].filter(Boolean).join(' ');
      // one terminal line, or a narrow pane wraps it and each redraw smears
      this.write(`\r\x1b[2K${line.slice(0, Math.max(20, (process.stderr.columns || 80) - 1))}`);
      this.drawn = true;
      return;
    }
    // plain lines: one per phase change, per 10% step while building, per 16 MiB while writing
    const step = phase === 'writing' ? Math.floor(this.writtenNow / (16 * 1024 * 1024)) : Math.floor(pct / 10);
    if (phase !== this.lastPhase || step !== this.lastStep) {
      this.write(`snapshot ${phase}${pct >= 0 ? ` ${pct}%` : ''}${extra ? ` ${extra}` : ''}\n`);
      this.lastPhase = phase;
      this.lastStep = step;
    }
  }

  end(): void {
    if (this.mode === 'tty' && this.drawn) this.write('\r\x1b[2K');
  }
}

async function confirm(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await new Promise<string>((resolve) => rl.question(question, resolve));
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export async function snapshotCommand(opts: SnapshotOptions, out: Output): Promise<void> {
  const say = (l: string): void => {
    if (!opts.quiet) process.stderr.write(`${l}\n`);
  };
  await withIsolates(opts, opts.select, async (att, sel) => {
    const target = sel.targets[0]!;
    const who = target.kind === 'main' ? 'main thread' : `worker ${target.threadId}${target.name ? ` (${target.name})` : ''}`;
    const fail = async (e: unknown): Promise<Error> => {
      if (e instanceof WorkerGoneError || target.worker?.gone) {
        return new NodetopError(`the ${who} of pid ${att.pid} exited during the snapshot`, { exitCode: ExitCode.TargetExited });
      }
      return explainCallFailure(e, att.pid, `pid ${att.pid}`);
    };

    let mem;
    try {
      mem = await readMemory(target, att.timeoutMs);
    } catch (e) {
      throw await fail(e);
    }
    const est = estimateSnapshot(mem.heapUsed);
    const reason = unsafeReason(est, {
      rssBytes: mem.rss,
      hostAvailableBytes: att.local ? readHostMemAvailable() : null,
      cgroupLimitBytes: att.local ? readCgroupMemoryLimit(att.pid) : null,
      cgroupCurrentBytes: att.local ? readCgroupMemoryCurrent(att.pid) : null,
      budgetBytes: opts.maxGrowthBytes,
    });
    if (reason && !opts.force) {
      throw new NodetopError(
        `refusing to snapshot the ${who} of pid ${att.pid} (heap used ${bytes(mem.heapUsed)}): ${reason} (measured: up to ${SNAPSHOT_PEAK_FACTOR}x the heap used while V8 builds a snapshot)`,
        { exitCode: ExitCode.RefusedUnsafe, hint: '--force takes it anyway; --gc-first cannot help with memory that is held' },
      );
    }

    // where it goes: checked before the target is frozen
    let finalPath = path.resolve(opts.output ?? defaultSnapshotName(att.identity.title, att.pid, target.threadId, new Date()));
    const special = specialOutput(finalPath);
    if (special?.directory) throw outputError({ code: 'EISDIR' }, finalPath);

    // the target writes the file itself when it can: a directory of nodetop's for it, else a file
    // nodetop streams into
    let writer: TargetWriter | null = null;
    try {
      writer = special || opts.stream ? null : targetCanWrite(att, path.dirname(finalPath));
    } catch {
      writer = null;
    }
    // for another user's target, through the directories found out of its reach (not a symlink
    // on the way that it might repoint)
    if (writer && writer !== 'same') finalPath = path.join(writer.dir, path.basename(finalPath));
    const dest = new PartialOutput(finalPath, special);
    // a snapshot's file measured 2x the heap used (object-dense heaps): 16x and 64 MiB spare
    dest.maxBytes = mem.heapUsed * 16 + 64 * 1024 * 1024;
    try {
      if (writer) dest.makeDir(writer);
    } catch {
      dest.remove(); // the stream's own file below says what is wrong with the path, if anything
    }
    try {
      if (dest.dir === null) dest.openFile();
    } catch (e) {
      dest.remove();
      throw outputError(e, finalPath);
    }
    const unregisterExit = onExit(() => dest.remove());
    const unregisterInterrupt = onInterrupt(() => {
      dest.remove();
      process.stderr.write(
        `\nnodetop: interrupted; no snapshot written${special ? '' : ' (partial file removed)'}. The target finishes building the snapshot and discards it.\n`,
      );
    });

    say(
      `nodetop: a heap snapshot freezes the ${who} of pid ${att.pid} while V8 builds it: heap used ${bytes(mem.heapUsed)}, expect ~${ms(est.frozenMsLow)} to ~${ms(est.frozenMsHigh)} (measured here ${SNAPSHOT_MS_PER_MIB[0]}-${SNAPSHOT_MS_PER_MIB[1]} ms per MiB, by heap shape); the target may need up to ~${bytes(est.peakGrowthBytes)} more memory meanwhile${reason ? ` (--force: ${reason})` : ''}`,
    );
    const cancelled = new NodetopError('snapshot cancelled; nothing was done to the target', { exitCode: ExitCode.Interrupted });
    const progress = new Progress(opts.quiet ? 'none' : process.stderr.isTTY ? 'tty' : 'lines', (s) => process.stderr.write(s));
    try {
      if (!opts.yes && process.stdin.isTTY && process.stderr.isTTY) {
        if (!(await confirm('Take the snapshot? [y/N] '))) throw cancelled;
      }
      if (opts.gcFirst) {
        say(`nodetop: forcing a full GC on the ${who} first`);
        await target.sender.send('HeapProfiler.collectGarbage', {}, { timeoutMs: att.timeoutMs + Math.ceil((mem.heapUsed / (1 << 20)) * 15), label: 'the GC before the snapshot' });
      }
      // a bound that scales with the heap: twice the slowest rate measured, plus a minute
      const timeoutMs = att.timeoutMs + Math.ceil(est.frozenMsHigh * 2) + 60_000;
      const t0 = performance.now();
      let taken: { bytes: number; maxQueued: number } | null = null;
      if (dest.dir !== null) {
        const r = await targetWrites(target, dest, timeoutMs, progress, who);
        if (typeof r === 'string') {
          // it could not open the file: nothing was frozen, stream it instead
          say(`nodetop: the ${who} could not write the file itself (${r}); streaming the snapshot through the inspector instead`);
          dest.remove();
          try {
            dest.openFile();
          } catch (e) {
            throw outputError(e, finalPath);
          }
        } else taken = r;
      }
      taken ??= await streamSnapshot(target, dest, timeoutMs, progress, who);
      const durationMs = performance.now() - t0;
      progress.end();
      await dest.commit(taken.bytes);
      const result: SnapshotResult = {
        path: finalPath,
        bytes: taken.bytes,
        durationMs,
        threadId: target.threadId,
        heapUsedBytes: mem.heapUsed,
        maxQueuedBytes: taken.maxQueued,
        writtenBy: dest.writtenBy,
      };
      if (opts.json) out.write(JSON.stringify(result));
      else if (opts.quiet) out.write(finalPath);
      else out.write(`${finalPath}\n${bytes(result.bytes)} in ${ms(durationMs)} (the ${who} was frozen for most of it)`);
    } catch (e) {
      progress.end();
      dest.remove();
      if (e === cancelled) throw e;
      if (e instanceof OutputFailure) throw outputError(e.cause, finalPath);
      if (errnoCode(e) && !(e instanceof NodetopError)) throw outputError(e, finalPath);
      throw await fail(e);
    } finally {
      unregisterInterrupt();
      unregisterExit();
      dest.remove();
    }
  });
}

/**
 * Copies bytes [start, end) from one descriptor to the same place in another (end: Infinity for
 * the source's end), 1 MiB at a time off the event loop (libuv's pool), until done or `stop()`
 * says the output was abandoned. Returns where it stopped.
 */
async function copyBytes(from: number, to: number, start: number, end: number, stop: () => boolean): Promise<number> {
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
interface SpecialOutput {
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
function specialOutput(p: string): SpecialOutput | null {
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
class OutputFailure extends Error {
  constructor(override readonly cause: unknown) {
    super('output failed');
  }
}

/**
 * Where the snapshot is written before it gets its final name, in the final name's directory (so
 * the rename is atomic): a file `<final>.partial-<random>` that nodetop streams into, or a
 * directory `<final>.partial-<random>/` (mode 0700) holding the file the target writes. A special
 * path (/dev/null) is written directly. `remove()` leaves nothing behind, is safe to call at any
 * time and more than once, and nothing is committed after it.
 *
 * The file the target writes is created by nodetop, which keeps it open: its fsync and chmod act
 * on that descriptor, not on whatever the name points at by then.
 *
 * A target of another user (root nodetop) writes into a file root created and handed to it, in
 * root's directory (mode 0711: it can reach its file by name, not add, rename or remove one), on a
 * path that user cannot change (`realPathOutOfReachOf`). Root then copies the bytes into a file of
 * its own there and renames that: the target may still hold a descriptor on its file, so that
 * inode never becomes the output.
 */
class PartialOutput {
  dir: string | null = null;
  /** The file nodetop streams into. */
  fd: number | null = null;
  /** nodetop's descriptor on the file the target writes. */
  targetFd: number | null = null;
  writtenBy: 'target' | 'nodetop' = 'nodetop';
  private tempFile: string | null = null;
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

  constructor(
    readonly finalPath: string,
    readonly special: SpecialOutput | null,
  ) {}

  /** The file the target writes. */
  get targetFile(): string {
    return path.join(this.dir!, 'snapshot.heapsnapshot');
  }

  /** Root's copy of a file another user's target wrote. */
  private get copyFile(): string {
    return path.join(this.dir!, this.copyName);
  }

  /**
   * A name the target's user cannot guess: it may cross root's directory but not list it, and
   * where hard links are unprotected (fs.protected_hardlinks=0) a known name would let it link
   * root's copy into a directory of its own.
   */
  private readonly copyName = `copy-${randomBytes(8).toString('hex')}.heapsnapshot`;

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

  makeDir(writer: TargetWriter): void {
    this.removed = false;
    this.flushedBytes = 0;
    this.dir = fs.mkdtempSync(`${this.finalPath}.partial-`); // mode 0700
    this.writtenBy = 'target';
    const c = fs.constants;
    this.targetFd = fs.openSync(this.targetFile, c.O_RDONLY | c.O_CREAT | c.O_EXCL | c.O_NOFOLLOW, 0o600);
    this.copies = writer !== 'same';
    this.copied = 0;
    if (writer !== 'same') {
      // the file the target's user may write; the directory stays root's, one it may only cross.
      // Root's copy is created 0600 (not fs.copyFile: that gives the copy the source's mode,
      // which that user sets, for as long as the copy takes)
      fs.fchownSync(this.targetFd, writer.uid, -1);
      this.copyFd = fs.openSync(this.copyFile, c.O_WRONLY | c.O_CREAT | c.O_EXCL | c.O_NOFOLLOW, 0o600);
      const dfd = fs.openSync(this.dir, c.O_RDONLY | c.O_DIRECTORY | c.O_NOFOLLOW);
      try {
        fs.fchmodSync(dfd, 0o711);
      } finally {
        fs.closeSync(dfd);
      }
    }
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

  openFile(): void {
    this.removed = false;
    this.flushedBytes = 0;
    const p = this.special ? this.finalPath : `${this.finalPath}.partial-${randomBytes(4).toString('hex')}`;
    if (this.special) {
      // the file that was checked, not whatever took its name since
      const c = fs.constants;
      const fd = fs.openSync(p, c.O_WRONLY | c.O_TRUNC | (this.special.viaLink ? 0 : c.O_NOFOLLOW));
      const st = fs.fstatSync(fd);
      if (st.dev !== this.special.dev || st.ino !== this.special.ino) {
        fs.closeSync(fd);
        throw new Error('it changed while nodetop opened it');
      }
      this.fd = fd;
    } else this.fd = fs.openSync(p, 'wx', 0o600);
    this.tempFile = this.special ? null : p;
    this.writtenBy = 'nodetop';
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
    if (this.copies && this.dir !== null && this.targetFd !== null && this.copyFd !== null) {
      // another user's file: the rest of its bytes, read through root's own descriptor on the
      // inode root made, into root's 0600 copy, flushed, then renamed. Names in root's directory
      // only: the target's user can change none of them.
      const dir = this.dir;
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
      this.closeFds();
      fs.renameSync(this.copyFile, this.finalPath);
      this.finished = true;
      try {
        fs.unlinkSync(path.join(dir, 'snapshot.heapsnapshot'));
        fs.rmdirSync(dir);
      } catch {
        /* the snapshot is complete under its name; what is left is the target's copy in root's directory */
      }
      this.dir = null;
      return;
    }
    // the fsyncs run off the event loop, so that Ctrl-C during one removes the file instead of
    // a success line being printed after it
    if (this.fd !== null) {
      const fd = this.fd;
      try {
        if (!this.special) await fsyncAsync(fd);
      } finally {
        if (this.fd === fd) this.closeFds();
      }
      if (abandoned()) throw refuse();
      failed();
      if (this.tempFile) fs.renameSync(this.tempFile, this.finalPath);
      this.finished = true;
    } else if (this.targetFd !== null && this.dir !== null) {
      const fd = this.targetFd;
      try {
        await fsyncAsync(fd);
        if (abandoned()) throw refuse();
        fs.fchmodSync(fd, 0o600);
      } finally {
        if (this.targetFd === fd) this.closeFds();
      }
      failed();
      fs.renameSync(this.targetFile, this.finalPath);
      this.finished = true;
      try {
        fs.rmdirSync(this.dir);
      } catch {
        /* the snapshot is complete under its name; an empty directory is all that is left */
      }
      this.dir = null;
    }
  }

  private closeFds(): void {
    const fds = [this.fd, this.targetFd, this.copyFd];
    this.fd = null;
    this.targetFd = null;
    this.copyFd = null;
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

  remove(): void {
    this.closeFds();
    if (this.finished) return;
    this.removed = true;
    if (this.tempFile) {
      try {
        fs.unlinkSync(this.tempFile);
      } catch {
        /* already gone */
      }
      this.tempFile = null;
    }
    if (this.dir !== null) {
      // The target opens only its one name: if it recreates that name between the unlink and the
      // rmdir, go round again. Once the file or the directory is gone the target's open fails (its
      // snapshot is then never built); a file it already holds open disappears with its last close.
      for (let i = 0; i < 100; i++) {
        for (const f of [this.targetFile, this.copyFile]) {
          try {
            fs.unlinkSync(f);
          } catch {
            /* not there (yet, or any more) */
          }
        }
        try {
          fs.rmdirSync(this.dir);
          break;
        } catch (e) {
          if (errnoCode(e) !== 'ENOTEMPTY') break;
        }
      }
      this.dir = null;
    }
  }
}

/**
 * Who writes the target's file: nodetop's own user, or for root another user's target (with the
 * real path of the output's directory, which that user cannot change).
 */
type TargetWriter = 'same' | { uid: number; dir: string };

/**
 * Whether the target may write the snapshot where nodetop wants it, and as whom: a local process
 * that sees the same files (same mount namespace, same root). One of nodetop's own user writes
 * its file as the command would. For root, a process of another user too, when it holds no
 * capability in any thread, effective or permitted (nothing lets it past file permissions), and
 * no directory on the way to `dir` is within reach of any uid its threads hold
 * (`realPathOutOfReachOf`): it could otherwise swap a name for a symlink under root's feet.
 * Everything else is streamed.
 */
function targetCanWrite(att: Attachment, dir: string): TargetWriter | null {
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
    const real = capable || uids.includes(0) ? null : realPathOutOfReachOf(dir, uids);
    if (real === null) {
      debugTrace(`the target (uids ${uids.join(' ')}${capable ? ', capable' : ''}) does not write the file: streamed`);
      return null;
    }
    return { uid: st.fsUid, dir: real };
  } catch {
    return null;
  }
}

/**
 * The target writes its own snapshot (v8.writeHeapSnapshot): the same work as when it snapshots
 * itself, where streaming through the inspector adds the protocol's copy of every chunk on the
 * target's frozen thread (1.22-1.35x the in-process time at 50 MiB against 0.97-1.05x, in
 * turns). Progress: the file's size, read every 250 ms. Returns the reason when the target could not open the file
 * (nothing was frozen then); throws OutputFailure when it failed to write it.
 */
async function targetWrites(
  target: IsolateTarget,
  out: PartialOutput,
  timeoutMs: number,
  progress: Progress,
  who: string,
): Promise<{ bytes: number; maxQueued: number } | string> {
  const file = out.targetFile;
  const size = (): number => out.targetBytes();
  progress.building(-1, 0);
  const poll = setInterval(() => {
    const n = size();
    if (n <= 0) return progress.building(-1, 0); // a terminal's clock goes on
    progress.writing(n);
    out.flushAhead(n);
    out.copyAhead(n);
  }, 250);
  let r;
  try {
    r = await evaluate(target.sender, writeSnapshotProbe, { path: file }, { timeoutMs, label: `the heap snapshot of the ${who}` });
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
async function streamSnapshot(
  target: IsolateTarget,
  out: PartialOutput,
  timeoutMs: number,
  progress: Progress,
  who: string,
): Promise<{ bytes: number; maxQueued: number }> {
  const writer = new ChunkWriter(out.fd!);
  const gc = earlyGc();
  let sinceGc = 0;
  const offChunk = target.sender.on('HeapProfiler.addHeapSnapshotChunk', (p) => {
    const chunk = (p as { chunk?: unknown })?.chunk;
    if (typeof chunk !== 'string') return;
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
    if (typeof q.done === 'number' && typeof q.total === 'number') progress.building(q.done, q.total);
  });
  try {
    await Promise.race([
      target.sender.send('HeapProfiler.takeHeapSnapshot', { reportProgress: true }, { timeoutMs, label: `the heap snapshot of the ${who}` }),
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
