// `nodetop gc <pid>`: "is it garbage or is it held?" Forces a full GC in the target from a probe
// (src/probes/gc.ts says why not HeapProfiler.collectGarbage: its GC never runs in a worker
// waiting in Atomics.wait, as piscina's are between tasks) and reports, per isolate, the heap
// before -> after.
//
// Default: the main thread only. A forced full GC freezes the thread it runs on; nodetop pauses
// only what it is asked to. `--worker <threadId>` picks one worker, `--all-threads` does the main
// thread and every worker, one after the other (one frozen thread at a time), and reports each
// thread's result as it comes, a failed thread included: one thread's failure does not hide the
// others' results (the exit code is the first failure's).
//
// Pause: measured on this machine (2 cores, Node 20, loaded by other test runs), the probe's two
// full GCs on 35-203 MiB heaps: 0.13-0.68 ms per MiB of live heap for arrays of doubles (no
// pointers to trace), ~7 for small objects, 7-10 for object trees, ~10 for strings, 3-6 for a Map
// of objects; a real app's heap read 12 ms/MiB (2,395 ms for ~198 MiB, where 3 ms/MiB said 593).
// The estimate uses 8 ms/MiB and shows the range; the pause shown after is the round trip of the
// call (an upper bound: it includes ~1 ms of messaging), `gcMs` the GC timed in the target.

import { ExitCode, NodetopError } from '../errors';
import { explainCallFailure, type AttachOptions } from '../inspector/attach';
import { readMemory, withIsolates, type IsolateSelection, type IsolateTarget } from '../inspector/isolates';
import { evaluate } from '../inspector/session';
import { WorkerGoneError } from '../inspector/workers';
import { bytes, bytes as fmtBytes, ms, printable } from '../model/units';
import { gcProbe } from '../probes/gc';
import type { MemoryReading } from '../probes/memory';
import { errLine } from '../sinks/terminal';
import { invalidMemoryReading, reading } from '../model/readings';
import type { Output } from '../cli';

export const GC_MS_PER_MIB = 8;
export const GC_MS_PER_MIB_RANGE: [number, number] = [0.1, 12];

export interface GcOptions extends AttachOptions {
  select: IsolateSelection;
  json: boolean;
  /** Where the "expect a pause" notice goes (stderr), so that stdout stays the result. */
  notice?: (line: string) => void;
}

export interface HeapFigures {
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  arrayBuffersBytes: number;
}

export interface GcIsolateResult {
  thread: 'main' | 'worker';
  threadId: number;
  name: string;
  /** failed: the thread did not answer or the call failed; `error` says how (--all-threads goes on). */
  state: 'collected' | 'gone' | 'failed';
  error?: string;
  before: HeapFigures | null;
  after: HeapFigures | null;
  freedBytes: number | null;
  expectedPauseMs: number | null;
  /** The round trip of the GC call (includes messaging). */
  pauseMs: number | null;
  /** The GC's own duration, measured inside the target. */
  gcMs: number | null;
}

export interface GcResult {
  pid: number;
  isolates: GcIsolateResult[];
}

export function expectedGcPauseMs(heapUsedBytes: number): number {
  return (heapUsedBytes / (1024 * 1024)) * GC_MS_PER_MIB;
}

function figures(m: MemoryReading): HeapFigures {
  return { heapUsedBytes: m.heapUsed, heapTotalBytes: m.heapTotal, externalBytes: m.external, arrayBuffersBytes: m.arrayBuffers };
}

export async function gcCommand(opts: GcOptions, out: Output): Promise<void> {
  const notice = opts.notice ?? errLine;
  await withIsolates(opts, opts.select, async (att, sel) => {
    const result: GcResult = { pid: att.pid, isolates: [] };
    let firstFailure: unknown = null;
    for (const t of sel.targets) {
      let r: GcIsolateResult;
      try {
        r = await gcOne(t, att.pid, att.timeoutMs, opts.json ? null : notice, opts.select.kind === 'worker');
      } catch (e) {
        // one thread: its failure is the command's; several: say it and go on with the next
        if (sel.targets.length === 1) throw e;
        firstFailure ??= e;
        r = failedResult(t, e);
      }
      result.isolates.push(r);
      // each thread's result as soon as it is known (the human output; JSON is one document)
      if (!opts.json) out.write(renderGc({ pid: att.pid, isolates: [r] }));
    }
    if (opts.json) out.write(JSON.stringify(result));
    if (firstFailure !== null) throw firstFailure;
  });
}

function failedResult(t: IsolateTarget, e: unknown): GcIsolateResult {
  const error = e instanceof Error ? e.message.split('\n')[0]! : String(e);
  return { ...emptyResult(t), state: 'failed', error };
}

function emptyResult(t: IsolateTarget): GcIsolateResult {
  return {
    thread: t.kind,
    threadId: t.threadId,
    name: t.name,
    state: 'collected',
    before: null,
    after: null,
    freedBytes: null,
    expectedPauseMs: null,
    pauseMs: null,
    gcMs: null,
  };
}

export async function gcOne(
  t: IsolateTarget,
  pid: number,
  timeoutMs: number,
  notice: ((l: string) => void) | null,
  goneIsError: boolean,
): Promise<GcIsolateResult> {
  const label = t.kind === 'main' ? 'main thread' : `worker ${t.threadId} (${printable(t.name) || 'unnamed'})`;
  const res = emptyResult(t);
  try {
    const before = await readMemory(t, timeoutMs);
    res.before = figures(before);
    // a heap the target reports as NaN or negative gives no expected pause (null), not "~NaN ms"
    const nonsense = invalidMemoryReading(before);
    const heapUsed = nonsense === null ? before.heapUsed : 0;
    res.expectedPauseMs = nonsense === null ? expectedGcPauseMs(heapUsed) : null;
    notice?.(
      nonsense === null
        ? `nodetop: forcing a full GC on the ${label} of pid ${pid} (heap used ${bytes(heapUsed)}): it will pause that thread for ~${ms(res.expectedPauseMs)} (${ms((heapUsed / (1024 * 1024)) * GC_MS_PER_MIB_RANGE[0])} to ${ms((heapUsed / (1024 * 1024)) * GC_MS_PER_MIB_RANGE[1])} by heap shape)`
        : `nodetop: forcing a full GC on the ${label} of pid ${pid}: its heap reading is invalid (${nonsense}), so how long it pauses that thread is unknown`,
    );
    // the bound scales with the heap: the worst shape measured, three times over, plus --timeout
    // (at most setTimeout's largest delay: a longer one fires at once)
    const gcTimeoutMs = Math.min(2 ** 31 - 1, timeoutMs + Math.ceil((heapUsed / (1024 * 1024)) * GC_MS_PER_MIB_RANGE[1] * 3));
    const t0 = performance.now();
    const g = await evaluate(t.sender, gcProbe, null, { timeoutMs: gcTimeoutMs, label: `the forced GC of the ${label}` });
    res.pauseMs = performance.now() - t0;
    res.gcMs = g.pauseMs;
    const after = await readMemory(t, timeoutMs);
    res.after = figures(after);
    res.freedBytes = reading(before.heapUsed) !== null && reading(after.heapUsed) !== null ? before.heapUsed - after.heapUsed : null;
    return res;
  } catch (e) {
    if (e instanceof WorkerGoneError || t.worker?.gone) {
      if (goneIsError) {
        throw new NodetopError(`${label} of pid ${pid} exited before its GC completed`, { exitCode: ExitCode.TargetExited });
      }
      return { ...res, state: 'gone' };
    }
    throw await explainCallFailure(e, pid, `pid ${pid}`);
  }
}

export function renderGc(r: GcResult): string {
  const lines: string[] = [];
  // a figure the target reported that is not a size (NaN, -5, 1e300) reads "invalid"
  const bytes = (n: number | null): string => (reading(n) === null ? 'invalid' : fmtBytes(n!));
  for (const i of r.isolates) {
    const who = i.thread === 'main' ? 'main thread' : `worker ${i.threadId} ${printable(i.name) || '(unnamed)'}`;
    if (i.state === 'failed') {
      lines.push(`${who}: no GC: ${printable(i.error ?? 'the call failed')}`);
      continue;
    }
    if (i.state === 'gone' || !i.before || !i.after) {
      lines.push(`${who}: exited before its GC; nothing collected`);
      continue;
    }
    lines.push(
      `${who}: heap used ${bytes(i.before.heapUsedBytes)} -> ${bytes(i.after.heapUsedBytes)}, freed ${i.freedBytes === null ? 'n/a' : fmtBytes(i.freedBytes)}; pause ${ms(i.pauseMs)} (expected ~${ms(i.expectedPauseMs)})`,
    );
    lines.push(
      `  heap total ${bytes(i.before.heapTotalBytes)} -> ${bytes(i.after.heapTotalBytes)}, external ${bytes(i.before.externalBytes)} -> ${bytes(i.after.externalBytes)}, arrayBuffers ${bytes(i.before.arrayBuffersBytes)} -> ${bytes(i.after.arrayBuffersBytes)}`,
    );
  }
  return lines.join('\n');
}
