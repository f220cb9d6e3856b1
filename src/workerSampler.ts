// The worker half of a sample: every worker thread of the target gets the same instruments as
// the main thread (src/probes/install.ts runs unchanged in a worker isolate; the registry hangs
// off that isolate's globalThis), and is read with the same sample probe, all workers
// concurrently. Workers that start while attached are instrumented when they appear; a worker
// that exits is reported once as `gone`, then dropped. close() removes the instruments from
// every live worker, then disables the NodeWorker domain.
//
// A read may leave out the workers read before (`everyWorker` false): they repeat their last
// reading with the time it was taken (`readAt`), so that a target with many workers is read every
// few ticks instead of paying for every isolate on every tick.

import type { Attachment } from './inspector/attach';
import { evaluate, ProbeFailedError } from './inspector/session';
import { WorkerCallTimeoutError, WorkerGoneError, WorkerHub, type WorkerSession } from './inspector/workers';
import { onExit } from './lifecycle';
import type { WorkerReading } from './model/sample';
import { identityProbe, type Identity } from './probes/identity';
import { installProbe, WORKER_LAG_RESOLUTION_MS } from './probes/install';
import { sampleProbe, type RawSample } from './probes/sample';
import { uninstallProbe } from './probes/uninstall';
import { hostTid, threadCpuMs } from './platform/threadCpu';

interface Tracked {
  w: WorkerSession;
  ready: Promise<Identity | null>;
  identity: Identity | null;
  installError: Error | null;
  prev: RawSample | null;
  /** The last reading made by a call, and when (epoch ms; 0: never read). */
  last: WorkerReading | null;
  readAt: number;
  /** The worker's OS thread on this host (null: remote, or not found), and its last CPU reading. */
  hostTid: number | null;
  cpu: { ms: number; at: number } | null;
}

export class WorkerSampler {
  private readonly tracked = new Map<string, Tracked>();
  private closed = false;
  private readonly unregister: () => void;

  private constructor(
    private readonly att: Attachment,
    readonly hub: WorkerHub,
    private readonly leaseMs: number,
  ) {
    this.unregister = onExit(() => this.close());
    hub.onAttached((w) => this.track(w));
    for (const w of hub.list()) this.track(w);
  }

  /** Workers followed now (gone ones until they are reported). */
  get size(): number {
    return this.tracked.size;
  }

  static async start(att: Attachment, leaseMs = 60_000): Promise<WorkerSampler> {
    const hub = await WorkerHub.enable(att.session, att.timeoutMs);
    return new WorkerSampler(att, hub, leaseMs);
  }

  private track(w: WorkerSession): void {
    if (this.closed || this.tracked.has(w.info.sessionId)) return;
    const t: Tracked = { w, identity: null, installError: null, prev: null, ready: Promise.resolve(null), last: null, readAt: 0, hostTid: null, cpu: null };
    t.ready = this.install(w).then(
      ([id]) => {
        // never report numbers from another process
        if (!id || id.pid !== this.att.pidInTarget) {
          t.installError = new Error(`worker ${w.info.title} says it is pid ${id?.pid}, not ${this.att.pid}`);
          return null;
        }
        t.identity = id;
        if (this.att.local && typeof id.tid === 'number') t.hostTid = hostTid(this.att.pid, id.tid, this.att.pidInTarget !== this.att.pid);
        return id;
      },
      (e: unknown) => {
        t.installError = e instanceof Error ? e : new Error(String(e));
        return null;
      },
    );
    this.tracked.set(w.info.sessionId, t);
  }

  /**
   * A worker announced by attachedToWorker may still be bootstrapping: evaluating `require`
   * there fails ("testEnabled is not a function", measured on Node 20 for a worker started while
   * attached). Retry a few times, 50-400 ms apart; a worker that is gone or silent is not retried.
   */
  private async install(w: WorkerSession): Promise<[Identity, unknown]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await Promise.all([
          evaluate(w, identityProbe, null),
          evaluate(w, installProbe, { key: this.att.key, leaseMs: this.leaseMs, openedByNodetop: false, resolutionMs: WORKER_LAG_RESOLUTION_MS }),
        ]);
      } catch (e) {
        if (!(e instanceof ProbeFailedError) || attempt >= 4 || w.gone || this.closed) throw e;
        await new Promise((r) => setTimeout(r, 50 << attempt));
      }
    }
  }

  /**
   * Reads the workers concurrently; never throws for a worker's failure. A worker that exited
   * is reported once as gone by a read with `report` (not by a baseline), then forgotten.
   * Without `everyWorker`, only workers never read yet are asked (and one known to be gone needs
   * no call); the others repeat their last reading. `calls` says how many workers were asked.
   */
  async read(blockedAfterMs: number, report = true, everyWorker = true): Promise<{ readings: WorkerReading[]; calls: number }> {
    const list = [...this.tracked.values()];
    let calls = 0;
    const readings = await Promise.all(
      list.map((t) => {
        if (!everyWorker && t.readAt !== 0 && !t.w.gone) return Promise.resolve(t.last!);
        if (!t.w.gone) calls++;
        return this.readOne(t, blockedAfterMs);
      }),
    );
    if (report) for (const t of list) if (t.w.gone) this.tracked.delete(t.w.info.sessionId);
    return { readings: readings.sort((a, b) => (a.threadId ?? 0) - (b.threadId ?? 0)), calls };
  }

  private async readOne(t: Tracked, blockedAfterMs: number): Promise<WorkerReading> {
    const r = await this.call(t, blockedAfterMs);
    t.readAt = Date.now();
    t.last = { ...r, readAt: new Date(t.readAt).toISOString() };
    return t.last;
  }

  private async call(t: Tracked, blockedAfterMs: number): Promise<Omit<WorkerReading, 'readAt'>> {
    const base = (): Omit<WorkerReading, 'state' | 'prev' | 'raw' | 'readAt'> => ({
      threadId: t.identity?.threadId ?? t.w.threadIdFromTitle,
      name: t.w.name,
      title: t.w.info.title,
    });
    await t.ready;
    if (t.w.gone) return { ...base(), state: 'gone', prev: t.prev, raw: null };
    if (t.installError) return failure(base(), t, t.installError);
    try {
      const raw = await evaluate(
        t.w,
        sampleProbe,
        // the worker's last turn is known to within its timer's resolution: a worker reported
        // blocked has been stuck for at least blockedAfterMs
        { key: this.att.key, blockedAfterMs: blockedAfterMs + WORKER_LAG_RESOLUTION_MS, fds: false, worker: true },
        { keep: true },
      );
      const ms = t.hostTid !== null ? threadCpuMs(this.att.pid, t.hostTid) : null;
      const cpu = ms !== null ? { ms, at: Date.now() } : null;
      const r = { ...base(), state: 'running' as const, prev: t.prev, raw, prevCpu: t.cpu, cpu };
      t.prev = raw;
      t.cpu = cpu;
      return r;
    } catch (e) {
      return failure(base(), t, e);
    }
  }

  /** Sets the baseline of every worker (the start of a measured window). */
  async baseline(blockedAfterMs: number): Promise<void> {
    await this.read(blockedAfterMs, false);
  }

  /** Removes the instruments from every live worker, then disables the domain. Never throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unregister();
    const timeoutMs = Math.min(this.att.timeoutMs, 2000);
    await Promise.all(
      [...this.tracked.values()].map(async (t) => {
        if (t.w.gone) return;
        try {
          await t.ready;
          await evaluate(t.w, uninstallProbe, { key: this.att.key, closeInspectorAfterMs: null }, { timeoutMs });
        } catch {
          /* a worker that does not answer keeps its instruments until their lease runs out */
        }
      }),
    );
    this.tracked.clear();
    await this.hub.close();
  }
}

function failure(base: Omit<WorkerReading, 'state' | 'prev' | 'raw' | 'readAt'>, t: Tracked, e: unknown): Omit<WorkerReading, 'readAt'> {
  if (e instanceof WorkerGoneError || t.w.gone) return { ...base, state: 'gone', prev: t.prev, raw: null };
  if (e instanceof WorkerCallTimeoutError) return { ...base, state: 'not-responding', error: e.message, prev: t.prev, raw: null };
  return { ...base, state: 'failed', error: e instanceof Error ? e.message.split('\n')[0]! : String(e), prev: t.prev, raw: null };
}
