// A full garbage collection of nodetop's own heap, between the phases of a large job (heap-diff,
// heap-summary): V8 frees a dropped typed array only when a GC runs, and with a small JS heap
// that is late, so a phase's arrays of 4-8 bytes a node were still held when the next one
// allocated its own (measured in docs/benchmarks.md). The `gc` function is only given to code
// run with --expose-gc; the flag can be set at run time, and a new context then has it.

import * as v8 from 'node:v8';
import * as vm from 'node:vm';

let gc: (() => void) | null | undefined;

/** Collects garbage now when V8 lets it (a no-op otherwise: it only lowers the peak). */
export function collectGarbage(): void {
  if (gc === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      const f = vm.runInNewContext('gc') as unknown;
      gc = typeof f === 'function' ? (f as () => void) : null;
    } catch {
      gc = null;
    }
  }
  gc?.();
}
