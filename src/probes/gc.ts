import { defineProbe } from './probe';

export interface GcProbeResult {
  /** Time the collection took, measured inside the target (performance.now around the calls). */
  pauseMs: number;
  /** V8's --expose-gc was off and nodetop switched it on for one context creation, then off again. */
  flagToggled: boolean;
}

/**
 * A forced full GC run from inside the evaluation itself, on whichever thread evaluates it.
 *
 * Why not HeapProfiler.collectGarbage: V8 (Node 18-26) answers it by posting a task to the
 * isolate's foreground task runner, which only the thread's event loop runs. A worker waiting
 * in Atomics.wait (piscina and tinypool between tasks) never runs it: measured, no answer in
 * 40 s, and the task would run later, at a moment nobody chose. Runtime.callFunctionOn reaches
 * such a thread through a V8 interrupt (Atomics.wait wakes for interrupts and waits again), so
 * a GC made here runs at once.
 *
 * How: V8's gc extension is installed in every new context while --expose-gc is set. If a fresh
 * context already has `gc` (the target was started with --expose-gc), that function is used and
 * nothing is changed. Otherwise the flag is set, one context is created to take its `gc`, and
 * the flag is cleared again before anything else runs on this thread (another thread creating a
 * context in that window, about a millisecond, would get a `gc` global too). Two full GCs, as
 * HeapProfiler.collectGarbage's LowMemoryNotification does at least: the second frees what the
 * first one's weak callbacks released. The globalThis of the target is not touched.
 * Cost: one V8 context (~1 ms, garbage after) plus the GC pause itself.
 */
export const gcProbe = defineProbe<null, GcProbeResult>(
  'gc',
  'two forced full GCs of this isolate (the pause is the point) plus one throwaway V8 context',
  function nodetopGc(): GcProbeResult {
    const v8 = require('v8') as typeof import('v8');
    const vm = require('vm') as typeof import('vm');
    let flagToggled = false;
    // named, for a debugger beside nodetop (it saw "evalmachine.<anonymous>")
    const named = { filename: 'nodetop://probe/gc-context' };
    let gc = vm.runInNewContext('typeof gc === "function" ? gc : null', undefined, named) as (() => void) | null;
    if (typeof gc !== 'function') {
      flagToggled = true;
      v8.setFlagsFromString('--expose-gc');
      try {
        gc = vm.runInNewContext('gc', undefined, named) as () => void;
      } finally {
        v8.setFlagsFromString('--no-expose-gc');
      }
    }
    const t0 = performance.now();
    gc();
    gc();
    return { pauseMs: performance.now() - t0, flagToggled };
  },
);
