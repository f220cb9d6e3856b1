// `nodetop attach <pid>`: the live view. Attach, run the TUI until the user quits or the target
// goes, always detach.

import { attach, type Attachment, type AttachOptions } from '../inspector/attach';
import { evaluate } from '../inspector/session';
import { memoryProbe } from '../probes/memory';
import { gcResultLine, runTui, type Actions } from '../tui/app';

export interface AttachCommandOptions extends AttachOptions {
  intervalMs: number;
  readonly: boolean;
}

/** What the keys do to the target. */
function actionsFor(att: Attachment): Actions {
  return {
    async gc() {
      const before = await evaluate(att.session, memoryProbe, null);
      const t0 = performance.now();
      await att.session.send('HeapProfiler.collectGarbage', {}, { timeoutMs: 120_000, label: 'a forced GC' });
      const pauseMs = performance.now() - t0;
      const after = await evaluate(att.session, memoryProbe, null);
      return gcResultLine(before.heapUsed, after.heapUsed, pauseMs);
    },
  };
}

export async function attachCommand(opts: AttachCommandOptions): Promise<number> {
  const att = await attach({ ...opts, leaseMs: Math.max(60_000, opts.intervalMs * 10) });
  try {
    return await runTui(att, { intervalMs: opts.intervalMs, readonly: opts.readonly, actions: actionsFor(att) });
  } finally {
    await att.detach();
  }
}
