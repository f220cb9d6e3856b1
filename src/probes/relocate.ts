import { defineProbe } from './probe';

/**
 * Moves an inspector that SIGUSR1 opened on the shared default port (9229) to a free loopback
 * port, so that 9229 is free again for the next process (a cluster's children, `watch a b`):
 * SIGUSR1 in any Node process without --inspect-port binds 9229, and only one can hold it.
 * Runs after nodetop's socket is gone (closing with a session connected would wait for it);
 * the callback catches everything. Cost: one one-shot unref'd timer.
 */
export const relocateProbe = defineProbe<{ delayMs: number }, { scheduled: boolean }>(
  'relocate',
  'one one-shot unref’d timer; closes and reopens the inspector server',
  function nodetopRelocate(arg: { delayMs: number }): { scheduled: boolean } {
    const inspector = require('inspector') as typeof import('inspector');
    const t = setTimeout(() => {
      // If the timer ran late (a stuck loop) nodetop has meanwhile attached on the old port and
      // installed its registry: leave that inspector alone.
      if ((globalThis as unknown as Record<symbol, unknown>)[Symbol.for('nodetop')]) return;
      try {
        inspector.close();
      } catch {
        /* never throw into the target */
      }
      try {
        inspector.open(0, '127.0.0.1', false);
      } catch {
        /* never throw into the target */
      }
    }, arg.delayMs);
    t.unref();
    return { scheduled: true };
  },
);
