// `nodetop attach <pid>...` and `nodetop attach --cluster <primary>`: the live view. One pid opens
// its full view; several, or a cluster, open the overview (one row per process). Attach, run the
// TUI until the user quits or the targets go, always detach every one.

import { ExitCode, NodetopError } from '../errors';
import { attach, type Attachment, type AttachOptions } from '../inspector/attach';
import { evaluate } from '../inspector/session';
import * as proc from '../platform/proc';
import { clusterPids } from '../platform/ps';
import { memoryProbe } from '../probes/memory';
import { gcResultLine, runTui, type Actions } from '../tui/app';

export interface AttachCommandOptions extends Omit<AttachOptions, 'pid'> {
  pids: number[];
  cluster?: number;
  intervalMs: number;
  readonly: boolean;
}

/** What the keys do to the target. */
export function actionsFor(att: Attachment): Actions {
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
  const leaseMs = Math.max(60_000, opts.intervalMs * 10);
  const one = (pid: number): Promise<Attachment> => attach({ ...opts, pid, leaseMs });
  const pids = opts.cluster !== undefined ? clusterPids(opts.cluster) : opts.pids;
  const attached: Attachment[] = [];
  const failures: unknown[] = [];
  try {
    if (opts.endpoint !== undefined && pids.length === 0) {
      attached.push(await attach({ ...opts, leaseMs }));
    } else {
      // A cluster is attached one process at a time, in order (see clusterPids); separate pids
      // at once (SIGUSR1s are still one at a time inside locate).
      const results: Array<PromiseSettledResult<Attachment>> = [];
      if (opts.cluster !== undefined) {
        for (const p of pids) results.push(...(await Promise.allSettled([one(p)])));
      } else results.push(...(await Promise.allSettled(pids.map(one))));
      for (const r of results) {
        if (r.status === 'fulfilled') attached.push(r.value);
        else failures.push(r.reason);
      }
      // One pid: its failure is the answer. Several: show those that work, unless none does.
      if (attached.length === 0) throw failures[0] ?? new NodetopError('nothing to attach to', { exitCode: ExitCode.Usage });
      if (failures.length > 0 && pids.length === 1) throw failures[0];
    }
    const seen = new Set(pids);
    const discover =
      opts.cluster !== undefined
        ? async (): Promise<Attachment[]> => {
            if (!proc.processExists(opts.cluster!)) return [];
            const fresh = clusterPids(opts.cluster!).filter((p) => !seen.has(p));
            for (const p of fresh) seen.add(p);
            const got = await Promise.allSettled(fresh.map(one));
            const ok = got.flatMap((g) => (g.status === 'fulfilled' ? [g.value] : []));
            attached.push(...ok);
            return ok;
          }
        : undefined;
    const message = failures.length
      ? failures.map((f) => (f instanceof Error ? f.message : String(f))).join('; ')
      : undefined;
    return await runTui(attached, {
      ...(message ? { message } : {}),
      intervalMs: opts.intervalMs,
      readonly: opts.readonly,
      actions: actionsFor,
      title: opts.cluster !== undefined ? `cluster of pid ${opts.cluster}` : 'overview',
      overview: opts.cluster !== undefined || pids.length > 1,
      ...(discover ? { discover } : {}),
    });
  } finally {
    await Promise.all(attached.map((a) => a.detach()));
  }
}
