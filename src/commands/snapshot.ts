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
//   (src/model/snapshotEstimate.ts), a refusal (exit 11) when it does not fit, a prompt on a TTY.
// The files: platform/snapshotFile.ts; the capture: inspector/heapSnapshot.ts; progress:
// sinks/snapshotProgress.ts.

import * as path from 'node:path';
import * as readline from 'node:readline';
import { ExitCode, NodetopError, errnoCode } from '../errors';
import { explainCallFailure, type AttachOptions } from '../inspector/attach';
import { streamSnapshot, targetWrites } from '../inspector/heapSnapshot';
import { readMemory, withIsolates, type IsolateSelection } from '../inspector/isolates';
import { WorkerGoneError } from '../inspector/workers';
import { onExit, onInterrupt } from '../lifecycle';
import { invalidMemoryReading } from '../model/readings';
import { estimateSnapshot, SNAPSHOT_MS_PER_MIB, SNAPSHOT_PEAK_FACTOR, unsafeReason } from '../model/snapshotEstimate';
import { bytes, ms } from '../model/units';
import { readCgroupMemoryCurrent, readHostMemAvailable } from '../platform/hostMemory';
import { readCgroupMemoryLimit } from '../platform/proc';
import { OutputFailure, outputError, PartialOutput, specialOutput, targetCanWrite, type TargetWriter } from '../platform/snapshotFile';
import { Progress } from '../sinks/snapshotProgress';
import { errLine } from '../sinks/terminal';
import type { Output } from '../cli';

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
    if (!opts.quiet) errLine(l); // a worker's name is the target's text
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
    // a NaN or negative heap made every check below pass ("~0.00 ms"): no estimate from nonsense,
    // and no --force either (the copy's size bound comes from it too)
    const nonsense = invalidMemoryReading(mem);
    if (nonsense !== null) {
      throw new NodetopError(`refusing to snapshot the ${who} of pid ${att.pid}: its memory reading makes no sense (${nonsense}), so nodetop cannot tell what a snapshot would cost it`, {
        exitCode: ExitCode.RefusedUnsafe,
        hint: 'a Node process never reports such figures: check what answers on that inspector port (--force does not override this)',
      });
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
    let dest: PartialOutput;
    try {
      dest = new PartialOutput(finalPath, special);
    } catch (e) {
      throw outputError(e, finalPath);
    }
    // what a nodetop killed here left (its partial file of a full snapshot: issue 19)
    const leftovers = dest.removeLeftovers();
    if (leftovers.length > 0) {
      say(`nodetop: removed ${leftovers.length} partial snapshot${leftovers.length > 1 ? 's' : ''} that a killed nodetop left in ${path.dirname(finalPath)}: ${leftovers.join(', ')}`);
    }
    // a snapshot's file measured 2x the heap used (object-dense heaps): 16x and 64 MiB spare
    dest.maxBytes = mem.heapUsed * 16 + 64 * 1024 * 1024;
    try {
      if (writer) dest.forTarget(writer);
    } catch {
      dest.remove(); // the stream's own file below says what is wrong with the path, if anything
    }
    try {
      if (dest.targetPath === null) dest.openFile();
    } catch (e) {
      dest.close();
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
      if (dest.targetPath !== null) {
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
      dest.close();
    }
  });
}
