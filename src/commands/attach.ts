// `nodetop attach <pid>...` and `nodetop attach --cluster <primary>`: the live view. One pid opens
// its full view; several, or a cluster, open the overview (one row per process). Attach, run the
// TUI until the user quits or the targets go, always detach every one.

import { ExitCode, NodetopError } from '../errors';
import { attach, type Attachment, type AttachOptions } from '../inspector/attach';
import * as proc from '../platform/proc';
import { clusterPids } from '../platform/ps';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { expectedGcPauseMs, gcOne, type GcIsolateResult } from './gc';
import { estimateSnapshot } from '../model/snapshotEstimate';
import type { IsolateTarget } from '../inspector/isolates';
import { onExit } from '../lifecycle';
import { bytes, ms } from '../model/units';
import type { Sampler } from '../sampler';
import { gcResultLine, runTui, type Actions, type SnapshotProgress } from '../tui/app';

export interface AttachCommandOptions extends Omit<AttachOptions, 'pid'> {
  pids: number[];
  cluster?: number;
  intervalMs: number;
  readonly: boolean;
  /** Do not ask before a GC or a snapshot (--yes). */
  yes?: boolean;
}

/** What the keys do to the target: the same code as `nodetop gc` and `nodetop snapshot`. */
export function actionsFor(att: Attachment, sampler: Sampler): Actions {
  const mainIsolate = (): IsolateTarget => ({ kind: 'main', threadId: 0, name: 'main', sender: att.session, worker: null });
  const workerIsolate = (threadId: number): IsolateTarget => {
    const w = sampler.workerSession(threadId);
    if (!w) throw new NodetopError(`worker ${threadId} is gone`, { exitCode: ExitCode.TargetExited });
    return { kind: 'worker', threadId, name: w.info.title, sender: w, worker: w };
  };
  const label = (r: GcIsolateResult): string => (r.thread === 'main' ? 'main' : `worker ${r.threadId}`);
  return {
    async gc(all, selectedWorker) {
      const targets = all
        ? [mainIsolate(), ...sampler.workerSessions().map((w) => workerIsolate(w.threadIdFromTitle ?? -1))]
        : [selectedWorker === null ? mainIsolate() : workerIsolate(selectedWorker)];
      const results: GcIsolateResult[] = [];
      // one thread at a time: a forced GC freezes the thread it runs on
      for (const t of targets) results.push(await gcOne(t, att.pid, att.timeoutMs, null, !all));
      const done = results.filter((r) => r.state === 'collected' && r.before && r.after);
      if (done.length === 1) {
        const r = done[0]!;
        return `GC ${label(r)}: ${gcResultLine(r.before!.heapUsedBytes, r.after!.heapUsedBytes, r.pauseMs ?? 0).replace(/^GC: /, '')}`;
      }
      const freed = done.reduce((n, r) => n + Math.max(0, r.freedBytes ?? 0), 0);
      return `GC ${done.length} threads: freed ${bytes(freed)} (${done.map((r) => `${label(r)} ${bytes(Math.max(0, r.freedBytes ?? 0))}`).join(', ')})`;
    },
    snapshot(selectedWorker, progress) {
      return snapshotInChild(att, selectedWorker, progress);
    },
    estimate(what, heapUsedBytes) {
      // the same estimates `nodetop gc` and `nodetop snapshot` print before they act
      if (what === 'gc') return `Heap used ${bytes(heapUsedBytes)}: a pause of ~${ms(expectedGcPauseMs(heapUsedBytes))}.`;
      const est = estimateSnapshot(heapUsedBytes);
      return `Heap used ${bytes(heapUsedBytes)}: frozen ~${ms(est.frozenMsLow)} to ~${ms(est.frozenMsHigh)}, up to ~${bytes(est.peakGrowthBytes)} more memory meanwhile.`;
    },
  };
}

/**
 * A heap snapshot from the live view runs `nodetop snapshot` as a child process on the same
 * inspector (a second session): the same checks, streaming and clean-up as the command, and
 * the view keeps drawing (its own samples wait while the target is frozen). Progress comes from
 * the child's plain progress lines.
 */
function snapshotInChild(att: Attachment, worker: number | null, progress: (p: SnapshotProgress) => void): Promise<string> {
  // through a relay into a container, the child finds the inspector by the pid and relays it itself
  const endpoint = att.reach.relay ? [] : ['--endpoint', att.inspector.url];
  const args = [path.join(__dirname, '..', '..', '..', 'bin', 'nodetop.js'), 'snapshot', String(att.pid), ...endpoint, '--yes', '--json'];
  if (worker !== null) args.push('--worker', String(worker));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const unregister = onExit(() => {
      child.kill('SIGINT'); // the child removes its partial file
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    // the child's plain progress lines: "snapshot building 45%" (streaming: V8 counts), "snapshot
    // building" (the target writes the file: no count), "snapshot writing 35.9 MiB"
    let percent = false;
    let partial = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^snapshot (building|writing)(?: (\d+)%)?(?: (.+))?$/.exec(line);
        if (!m) continue;
        if (m[2] !== undefined) percent = true;
        if (m[1] === 'building') progress({ done: m[2] !== undefined ? Number(m[2]) / 100 : null, detail: 'building' });
        else progress({ done: percent ? 1 : null, detail: `writing ${m[3] ?? ''}`.trim() });
      }
    });
    child.on('exit', (code) => {
      unregister();
      if (code === 0) {
        try {
          const r = JSON.parse(out) as { path: string; bytes: number; durationMs: number };
          resolve(`snapshot: ${r.path} (${bytes(r.bytes)}, ${(r.durationMs / 1000).toFixed(1)} s)`);
          return;
        } catch {
          /* fall through */
        }
      }
      const line = err.split('\n').filter((l) => l.startsWith('nodetop: ') && !/a heap snapshot freezes/.test(l)).pop();
      reject(new Error(line ? line.replace(/^nodetop: /, '') : `nodetop snapshot exited with code ${code}`));
    });
  });
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
      yes: opts.yes === true,
      actions: actionsFor,
      title: opts.cluster !== undefined ? `cluster of pid ${opts.cluster}` : 'overview',
      overview: opts.cluster !== undefined || pids.length > 1,
      ...(discover ? { discover } : {}),
    });
  } finally {
    await Promise.all(attached.map((a) => a.detach()));
  }
}
