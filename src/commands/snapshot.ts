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

import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { ExitCode, NodetopError, errnoCode } from '../errors';
import { explainCallFailure, type AttachOptions } from '../inspector/attach';
import { BuildWatch, streamSnapshot, targetWrites } from '../inspector/heapSnapshot';
import { readMemory, withIsolates, type IsolateSelection } from '../inspector/isolates';
import { evaluate } from '../inspector/session';
import { WorkerGoneError } from '../inspector/workers';
import { gcProbe } from '../probes/gc';
import { holdExitUntil, onExit, onInterrupt } from '../lifecycle';
import { invalidMemoryReading } from '../model/readings';
import { contention, estimateBasis, estimateSnapshot, SNAPSHOT_PEAK_FACTOR, unsafeReason } from '../model/snapshotEstimate';
import { bytes, ms } from '../model/units';
import { readCgroupMemoryCurrent, readHostMemAvailable, readLoadAverage } from '../platform/hostMemory';
import { readCgroupMemoryLimit, threadState } from '../platform/proc';
import { threadCpuMs } from '../platform/threadCpu';
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
  /** Off a terminal, how often a line says the thread is still at work (default 10 s). */
  progressEveryMs?: number;
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

/** What the kernel says the main thread is doing: "state D, in write (1)". */
function describeThreadState(pid: number): string | null {
  try {
    const t = threadState(pid);
    return [`state ${t.state}`, t.syscall ? `in ${t.syscall}` : t.wchan ? `waiting in ${t.wchan}` : ''].filter(Boolean).join(', ');
  } catch {
    return null;
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
    const load = att.local ? contention(readLoadAverage(), os.availableParallelism?.() ?? os.cpus().length) : 1;
    const est = estimateSnapshot(mem.heapUsed, mem.largeObjectBytes ?? 0, load);
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
    /** The snapshot was asked for: from then on V8 builds it to the end, whatever nodetop does. */
    let asked = false;
    const unregisterInterrupt = onInterrupt(() => {
      // removed now: a target writing through nodetop's descriptor can no longer start, and what
      // it writes goes into a removed file, given back when it closes it
      dest.remove();
      process.stderr.write(
        asked
          ? `\nnodetop: interrupted; no snapshot written${special ? '' : ' (partial file removed)'}. The ${who} of pid ${att.pid} stays frozen until V8 finishes the snapshot (it cannot be stopped); nodetop waits for that, then closes the inspector. Ctrl-C again to leave now: the target then closes the inspector itself once it is free (nodetop's lease).\n`
          : `\nnodetop: interrupted; no snapshot written${special ? '' : ' (partial file removed)'}.\n`,
      );
    });

    say(
      `nodetop: a heap snapshot freezes the ${who} of pid ${att.pid} while V8 builds it: heap used ${bytes(mem.heapUsed)}, expect ~${ms(est.frozenMsLow)} to ~${ms(est.frozenMsHigh)} (${estimateBasis()}${est.contention > 1.05 ? `, x${est.contention.toFixed(1)} for this host's load` : ''}; nodetop waits for as long as the thread works on it); the target may need up to ~${bytes(est.peakGrowthBytes)} more memory meanwhile${reason ? ` (--force: ${reason})` : ''}`,
    );
    const cancelled = new NodetopError('snapshot cancelled; nothing was done to the target', { exitCode: ExitCode.Interrupted });
    const progress = new Progress(opts.quiet ? 'none' : process.stderr.isTTY ? 'tty' : 'lines', (s) => process.stderr.write(s), `the ${who}`, opts.progressEveryMs);
    try {
      if (!opts.yes && process.stdin.isTTY && process.stderr.isTTY) {
        if (!(await confirm('Take the snapshot? [y/N] '))) throw cancelled;
      }
      // no time cap once the thread is at work (BuildWatch): --timeout bounds only the wait for a
      // first sign of it; a remote target shows none before V8's first progress event. A worker's
      // thread id is not the kernel's: the whole process's CPU stands for it.
      const tid = target.kind === 'main' ? att.pid : null;
      const watchOpts = {
        cpuMs: () => (att.local ? threadCpuMs(att.pid, tid) : null),
        state: () => (att.local && tid !== null ? describeThreadState(att.pid) : null),
        firstSignMs: att.local ? att.timeoutMs : att.timeoutMs + est.frozenMsHigh,
      };
      if (opts.gcFirst) {
        say(`nodetop: forcing a full GC on the ${who} first`);
        const gcWatch = new BuildWatch(watchOpts, progress, 'the GC before the snapshot');
        // the gc probe, not HeapProfiler.collectGarbage: V8 answers that from the thread's event
        // loop, which a worker waiting in Atomics.wait (piscina, tinypool) never runs (src/probes/gc.ts)
        await gcWatch.wait(evaluate(target.sender, gcProbe, null, { ...gcWatch.callOptions, label: 'the GC before the snapshot' }));
      }
      const watch = new BuildWatch(watchOpts, progress, `the heap snapshot of the ${who}`);
      const t0 = performance.now();
      asked = true;
      const capture = (async (): Promise<{ bytes: number; maxQueued: number }> => {
        if (dest.targetPath !== null) {
          const r = await targetWrites(target, dest, watch, progress, who);
          if (typeof r !== 'string') return r;
          // it could not open the file: nothing was frozen, stream it instead
          say(`nodetop: the ${who} could not write the file itself (${r}); streaming the snapshot through the inspector instead`);
          dest.remove();
          try {
            dest.openFile();
          } catch (e) {
            throw outputError(e, finalPath);
          }
        }
        return streamSnapshot(target, dest, watch, progress, who);
      })();
      // an interruption waits for the build to end before detaching (lifecycle.holdExitUntil):
      // V8's call, which may outlive the capture (an interruption closes the stream's file)
      const settle = (): Promise<void> => watch.settled();
      holdExitUntil(capture.then(settle, settle));
      let taken: { bytes: number; maxQueued: number };
      try {
        taken = await capture;
      } finally {
        holdExitUntil(null);
      }
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
