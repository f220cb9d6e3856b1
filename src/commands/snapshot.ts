// `nodetop snapshot <pid>`: a heap snapshot of the main thread or of one worker, streamed to disk
// as the inspector produces it.
//
// - HeapProfiler.takeHeapSnapshot delivers its chunks (~100 KiB each) as addHeapSnapshotChunk
//   events without HeapProfiler.enable (checked on Node 20): no domain is enabled at all.
// - Each chunk is handed to the disk writer as it arrives and dropped: nodetop holds only the
//   chunks the disk has not taken yet (reported as maxQueuedBytes). The inspector applies no
//   backpressure, so the socket is never paused: a slow disk costs nodetop memory, not the target.
// - Written to `<final>.partial-<random>` (mode 0600), renamed when complete; removed on any
//   failure, Ctrl-C or SIGTERM. A path that is not a regular file (/dev/null, /dev/stdout) is
//   written directly.
// - Before starting: the estimate of the freeze and of the memory the target will need
//   (src/commands/snapshotSafety.ts), a refusal (exit 11) when it does not fit, a prompt on a TTY.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { ExitCode, NodetopError, errnoCode } from '../errors';
import { explainCallFailure, type AttachOptions } from '../inspector/attach';
import { readMemory, withIsolates, type IsolateSelection } from '../inspector/isolates';
import { WorkerGoneError } from '../inspector/workers';
import { onExit, onInterrupt } from '../lifecycle';
import { bytes, ms } from '../model/units';
import { readCgroupMemoryLimit } from '../platform/proc';
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
}

export interface SnapshotResult {
  path: string;
  bytes: number;
  durationMs: number;
  threadId: number;
  heapUsedBytes: number;
  maxQueuedBytes: number;
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
  constructor(
    private readonly mode: 'tty' | 'lines' | 'none',
    private readonly write: (s: string) => void,
  ) {}

  building(done: number, total: number): void {
    const pct = total > 0 ? Math.floor((done / total) * 100) : 0;
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
      this.write(`\r\x1b[2Ksnapshot ${phase} ${bar}${extra ? ` ${extra}` : ''}`);
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
    const finalPath = path.resolve(opts.output ?? defaultSnapshotName(att.identity.title, att.pid, target.threadId, new Date()));
    let special = false;
    try {
      special = !fs.statSync(finalPath).isFile();
    } catch {
      special = false;
    }
    if (special && fs.statSync(finalPath).isDirectory()) throw outputError({ code: 'EISDIR' }, finalPath);
    const writePath = special ? finalPath : `${finalPath}.partial-${randomBytes(4).toString('hex')}`;

    let fd: number;
    try {
      fd = fs.openSync(writePath, special ? 'w' : 'wx', 0o600);
    } catch (e) {
      throw outputError(e, finalPath);
    }
    let finished = false;
    let fdOpen = true;
    const closeFd = (): void => {
      if (!fdOpen) return;
      fdOpen = false;
      try {
        fs.closeSync(fd);
      } catch {
        /* already closed */
      }
    };
    const removePartial = (): void => {
      closeFd();
      if (!special && !finished) {
        try {
          fs.unlinkSync(writePath);
        } catch {
          /* already gone */
        }
      }
    };
    const unregisterExit = onExit(removePartial);
    const unregisterInterrupt = onInterrupt(() => {
      removePartial();
      process.stderr.write(
        `\nnodetop: interrupted; no snapshot written${special ? '' : ' (partial file removed)'}. The target finishes building the snapshot and discards it.\n`,
      );
    });

    say(
      `nodetop: a heap snapshot freezes the ${who} of pid ${att.pid} while V8 builds it: heap used ${bytes(mem.heapUsed)}, expect ~${ms(est.frozenMsLow)} to ~${ms(est.frozenMsHigh)} (measured here ${SNAPSHOT_MS_PER_MIB[0]}-${SNAPSHOT_MS_PER_MIB[1]} ms per MiB, by heap shape); the target may need up to ~${bytes(est.peakGrowthBytes)} more memory meanwhile${reason ? ` (--force: ${reason})` : ''}`,
    );
    if (!opts.yes && process.stdin.isTTY && process.stderr.isTTY) {
      if (!(await confirm('Take the snapshot? [y/N] '))) {
        removePartial();
        throw new NodetopError('snapshot cancelled; nothing was done to the target', { exitCode: ExitCode.Interrupted });
      }
    }

    const writer = new ChunkWriter(fd);
    const progress = new Progress(opts.quiet ? 'none' : process.stderr.isTTY ? 'tty' : 'lines', (s) => process.stderr.write(s));
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
    });
    const offProgress = target.sender.on('HeapProfiler.reportHeapSnapshotProgress', (p) => {
      const q = p as { done?: number; total?: number };
      if (typeof q.done === 'number' && typeof q.total === 'number') progress.building(q.done, q.total);
    });
    try {
      if (opts.gcFirst) {
        say(`nodetop: forcing a full GC on the ${who} first`);
        await target.sender.send('HeapProfiler.collectGarbage', {}, { timeoutMs: att.timeoutMs + Math.ceil((mem.heapUsed / (1 << 20)) * 15), label: 'the GC before the snapshot' });
      }
      const t0 = performance.now();
      // a bound that scales with the heap: twice the slowest rate measured, plus a minute
      const timeoutMs = att.timeoutMs + Math.ceil(est.frozenMsHigh * 2) + 60_000;
      await Promise.race([
        target.sender.send('HeapProfiler.takeHeapSnapshot', { reportProgress: true }, { timeoutMs, label: `the heap snapshot of the ${who}` }),
        writer.failure,
      ]);
      await writer.drain();
      const durationMs = performance.now() - t0;
      progress.end();
      if (!special) fs.fsyncSync(fd);
      closeFd();
      if (!special) fs.renameSync(writePath, finalPath);
      finished = true;
      const result: SnapshotResult = {
        path: finalPath,
        bytes: writer.written,
        durationMs,
        threadId: target.threadId,
        heapUsedBytes: mem.heapUsed,
        maxQueuedBytes: writer.maxQueued,
      };
      if (opts.json) out.write(JSON.stringify(result));
      else if (opts.quiet) out.write(finalPath);
      else out.write(`${finalPath}\n${bytes(result.bytes)} in ${ms(durationMs)} (the ${who} was frozen for most of it)`);
    } catch (e) {
      progress.end();
      removePartial();
      if (writer.error || (errnoCode(e) && !(e instanceof NodetopError))) throw outputError(writer.error ?? e, finalPath);
      throw await fail(e);
    } finally {
      offChunk();
      offProgress();
      unregisterInterrupt();
      unregisterExit();
      if (!finished) removePartial();
    }
  });
}
