// Worker threads through the main inspector connection: the NodeWorker domain attaches one
// inspector session per worker and carries its protocol messages inside
// NodeWorker.sendMessageToWorker / NodeWorker.receivedMessageFromWorker. A WorkerSession is a
// Sender, so every probe runs in a worker exactly as on the main thread: evaluate(ws, probe, arg).
//
// Facts measured on Node 20 (2 cores), which shape this file:
// - NodeWorker.enable reports every worker of the process, nested ones too (a worker started by
//   a worker shows up here flat, "[worker 3] nested"); NodeWorker.enable inside a worker session
//   does not exist ("'NodeWorker.enable' wasn't found"). The attachedToWorker events for the
//   workers already running arrive before the reply to enable, so after enable the list is
//   complete.
// - Cost of the domain: no console forwarding, no Runtime/Debugger domain in the workers; each
//   worker gets an idle V8 inspector session. enable itself: ~1-3 ms with the nudge below.
// - Round trip to a worker, plain: ~44 ms, every time after the first. strace of the target
//   shows why: the target answers sendMessageToWorker with `{"id":N,"result":{}}` and ~1 ms
//   later writes the worker's reply; the kernel (Nagle, on the target's socket, which nodetop
//   cannot set) holds that second small write until the first is acknowledged, and nodetop's
//   kernel delays that ACK by ~40 ms. setNoDelay on nodetop's socket changes nothing (measured).
//   What helps: while a worker call is pending, answer every frame that arrives with a cheap
//   command (Runtime.getIsolateId: no domain, no JavaScript), whose packet carries the ACK at
//   once. Measured: 44 ms -> 1.5 ms per sequential round trip; 3 workers concurrently 43 ms ->
//   3-5 ms.

import { ExitCode, NodetopError } from '../errors';
import { onExit } from '../lifecycle';
import { ConnectionClosedError, ProbeFailedError, type CallOptions, type Sender, type Session } from './session';

export interface WorkerInfo {
  sessionId: string;
  workerId: string;
  type: string;
  /** Node's title, "[worker <threadId>] <name>". */
  title: string;
  url: string;
}

/** How long after the last real frame nudges keep acknowledging each other's replies (see kick). */
const NUDGE_CHAIN_MS = 50;

/** The worker exited (or was detached) while a call to it was pending. */
export class WorkerGoneError extends NodetopError {
  constructor(label: string, title: string) {
    super(`worker ${title} exited during ${label}`, { exitCode: ExitCode.TargetExited });
  }
}

export class WorkerCallTimeoutError extends NodetopError {
  constructor(label: string, title: string, timeoutMs: number) {
    super(`worker ${title} did not answer ${label} within ${timeoutMs} ms`, {
      exitCode: ExitCode.TargetNotResponding,
      hint: 'the worker may be blocked outside JavaScript (Atomics.wait, a synchronous syscall); raise --timeout to wait longer',
    });
  }
}

/** threadId and name from Node's worker title "[worker 3] name"; null when it has another shape. */
export function parseWorkerTitle(title: string): { threadId: number | null; name: string } {
  const m = /^\[worker (\d+)\]\s?(.*)$/.exec(title);
  if (!m) return { threadId: null, name: title };
  return { threadId: Number(m[1]), name: m[2] ?? '' };
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
  label: string;
}

/** One worker's inspector session, carried by the main connection. */
export class WorkerSession implements Sender {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Map<string, Set<(params: unknown) => void>>();
  private readonly goneListeners: Array<() => void> = [];
  private goneFlag = false;
  /** The main connection closed: the worker may well be alive, it is only out of reach. */
  private unreachable = false;
  readonly threadIdFromTitle: number | null;
  readonly name: string;

  constructor(
    readonly info: WorkerInfo,
    private readonly hub: WorkerHub,
    private readonly defaultTimeoutMs: number,
  ) {
    const t = parseWorkerTitle(info.title);
    this.threadIdFromTitle = t.threadId;
    this.name = t.name;
  }

  get gone(): boolean {
    return this.goneFlag;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  on(method: string, cb: (params: unknown) => void): () => void {
    let set = this.listeners.get(method);
    if (!set) this.listeners.set(method, (set = new Set()));
    set.add(cb);
    return () => set.delete(cb);
  }

  onGone(cb: () => void): void {
    if (this.goneFlag) cb();
    else this.goneListeners.push(cb);
  }

  send<T = unknown>(method: string, params: object = {}, opts: CallOptions = {}): Promise<T> {
    const label = opts.label ?? method;
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    if (this.goneFlag) return Promise.reject(new WorkerGoneError(label, this.info.title));
    if (this.unreachable) return Promise.reject(new ConnectionClosedError(label));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new WorkerCallTimeoutError(label, this.info.title, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer, label });
      this.hub.post(this.info.sessionId, JSON.stringify({ id, method, params }), timeoutMs).catch((e: unknown) => {
        const p = this.pending.get(id);
        if (!p) return;
        clearTimeout(p.timer);
        this.pending.delete(id);
        // the target no longer knows this worker (a closed main connection is not that: the
        // worker may be alive, and saying it exited would be false)
        if (this.goneFlag || /not found|No worker|No session/i.test(String((e as Error)?.message))) {
          reject(new WorkerGoneError(label, this.info.title));
        } else reject(e instanceof Error ? e : new Error(String(e)));
      });
    });
  }

  /** A message from the worker: a reply to one of our calls, or an event. Never throws. */
  deliver(message: string): void {
    let m: { id?: number; result?: unknown; error?: { message?: string }; method?: string; params?: unknown };
    try {
      m = JSON.parse(message) as typeof m;
    } catch {
      return;
    }
    if (typeof m.id === 'number') {
      const p = this.pending.get(m.id);
      if (!p) return;
      clearTimeout(p.timer);
      this.pending.delete(m.id);
      if (m.error) p.reject(new ProbeFailedError(`${p.label} failed in worker ${this.info.title}: ${m.error.message ?? 'unknown'}`));
      else p.resolve(m.result);
      return;
    }
    if (typeof m.method === 'string') {
      for (const cb of this.listeners.get(m.method) ?? []) {
        try {
          cb(m.params);
        } catch {
          /* a listener's failure must not stop the others */
        }
      }
    }
  }

  /** The main connection closed: pending calls fail with ConnectionClosedError, not as "exited". */
  markUnreachable(): void {
    if (this.goneFlag || this.unreachable) return;
    this.unreachable = true;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new ConnectionClosedError(p.label));
    }
    this.pending.clear();
  }

  /** The worker exited or was detached: every pending call fails with WorkerGoneError. */
  markGone(): void {
    if (this.goneFlag) return;
    this.goneFlag = true;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new WorkerGoneError(p.label, this.info.title));
    }
    this.pending.clear();
    for (const cb of this.goneListeners.splice(0)) {
      try {
        cb();
      } catch {
        /* keep going */
      }
    }
  }
}

/**
 * The NodeWorker domain on one main Session: the set of live workers, with events when one
 * appears or goes. Enabled only while a command needs workers; close() disables it.
 */
export class WorkerHub {
  readonly workers = new Map<string, WorkerSession>();
  private readonly unsubscribe: Array<() => void> = [];
  private readonly attachedCbs = new Set<(w: WorkerSession) => void>();
  private readonly detachedCbs = new Set<(w: WorkerSession) => void>();
  private nudgeScheduled = false;
  /** When the last frame that was not a nudge's reply arrived (performance.now()). */
  private lastFrameAt = 0;
  private closed = false;
  /** During NodeWorker.enable the reply trails the attachedToWorker events: acknowledge them too. */
  private enabling = false;
  /** Send the ACK nudge (see the top of this file). On by default; NODETOP_NO_NUDGE=1 for measuring. */
  nudge = process.env.NODETOP_NO_NUDGE !== '1';
  /** How many nudges were sent (benchmarks report it). */
  nudges = 0;
  private unregisterExit: () => void = () => undefined;

  private constructor(
    private readonly session: Session,
    private readonly timeoutMs: number,
  ) {}

  static async enable(session: Session, timeoutMs: number): Promise<WorkerHub> {
    const hub = new WorkerHub(session, timeoutMs);
    hub.unsubscribe.push(
      session.on('NodeWorker.attachedToWorker', (p) => hub.handleAttached(p)),
      session.on('NodeWorker.detachedFromWorker', (p) => hub.handleDetached(p)),
      session.on('NodeWorker.receivedMessageFromWorker', (p) => hub.handleMessage(p)),
    );
    session.onClose(() => {
      for (const w of hub.workers.values()) w.markUnreachable();
    });
    hub.enabling = true;
    try {
      await session.send('NodeWorker.enable', { waitForDebuggerOnStart: false }, { timeoutMs, label: 'NodeWorker.enable' });
    } catch (e) {
      for (const u of hub.unsubscribe.splice(0)) u();
      throw e;
    } finally {
      hub.enabling = false;
    }
    // Ctrl-C and SIGTERM disable the domain too (before the attachment detaches: registered later)
    hub.unregisterExit = onExit(() => hub.close());
    return hub;
  }

  onAttached(cb: (w: WorkerSession) => void): () => void {
    this.attachedCbs.add(cb);
    return () => this.attachedCbs.delete(cb);
  }

  onDetached(cb: (w: WorkerSession) => void): () => void {
    this.detachedCbs.add(cb);
    return () => this.detachedCbs.delete(cb);
  }

  /** Live workers, in threadId order. */
  list(): WorkerSession[] {
    return [...this.workers.values()]
      .filter((w) => !w.gone)
      .sort((a, b) => (a.threadIdFromTitle ?? 0) - (b.threadIdFromTitle ?? 0));
  }

  post(sessionId: string, message: string, timeoutMs: number): Promise<unknown> {
    const p = this.session.send('NodeWorker.sendMessageToWorker', { sessionId, message }, { timeoutMs, label: 'NodeWorker.sendMessageToWorker' });
    // the reply to sendMessageToWorker is one of the frames that needs acknowledging at once
    void p.then(
      () => this.kick(),
      () => undefined,
    );
    return p;
  }

  private pendingCalls(): number {
    let n = 0;
    for (const w of this.workers.values()) n += w.pendingCount;
    return n;
  }

  /**
   * While a worker call is pending, acknowledge every frame at once (see the top of the file).
   * A nudge's own reply is acknowledged by the next nudge only within NUDGE_CHAIN_MS of the last
   * real frame: a worker's reply comes 1-5 ms after the forwarding's, and past that the kernel's
   * delayed ACK (40 ms) delays nothing that is not already late. Unbounded, the chain ran for the
   * whole of a long call: 77,000 nudges in 60 s while a worker's GC was pending (measured), the
   * target's main thread answering each.
   */
  private kick(fromNudge = false): void {
    if (!fromNudge) this.lastFrameAt = performance.now();
    else if (performance.now() - this.lastFrameAt > NUDGE_CHAIN_MS) return;
    if (!this.nudge || this.nudgeScheduled || this.closed) return;
    this.nudgeScheduled = true;
    setImmediate(() => {
      this.nudgeScheduled = false;
      if (this.closed || this.session.isClosed || (this.pendingCalls() === 0 && !this.enabling)) return;
      this.nudges++;
      this.session.send('Runtime.getIsolateId', {}, { timeoutMs: this.timeoutMs, label: 'ack nudge' }).then(
        () => this.kick(true),
        () => undefined,
      );
    });
  }

  private handleAttached(p: unknown): void {
    const params = p as { sessionId?: string; workerInfo?: Partial<WorkerInfo> };
    if (!params || typeof params.sessionId !== 'string' || this.closed) return;
    const wi = params.workerInfo ?? {};
    const info: WorkerInfo = {
      sessionId: params.sessionId,
      workerId: String(wi.workerId ?? ''),
      type: String(wi.type ?? 'worker'),
      title: String(wi.title ?? ''),
      url: String(wi.url ?? ''),
    };
    const w = new WorkerSession(info, this, this.timeoutMs);
    this.workers.set(info.sessionId, w);
    this.kick();
    for (const cb of this.attachedCbs) {
      try {
        cb(w);
      } catch {
        /* keep going */
      }
    }
  }

  private handleDetached(p: unknown): void {
    const sid = (p as { sessionId?: string })?.sessionId;
    if (typeof sid !== 'string') return;
    const w = this.workers.get(sid);
    if (!w) return;
    this.workers.delete(sid);
    w.markGone();
    for (const cb of this.detachedCbs) {
      try {
        cb(w);
      } catch {
        /* keep going */
      }
    }
  }

  private handleMessage(p: unknown): void {
    const params = p as { sessionId?: string; message?: string };
    if (!params || typeof params.message !== 'string' || typeof params.sessionId !== 'string') return;
    this.workers.get(params.sessionId)?.deliver(params.message);
    this.kick();
  }

  /** Disables the domain (the target detaches its worker sessions). Bounded; never throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unregisterExit();
    for (const u of this.unsubscribe.splice(0)) u();
    for (const w of this.workers.values()) w.markGone();
    this.workers.clear();
    if (!this.session.isClosed) {
      try {
        await this.session.send('NodeWorker.disable', {}, { timeoutMs: Math.min(this.timeoutMs, 2000), label: 'NodeWorker.disable' });
      } catch {
        /* the target went away: nothing is left to disable */
      }
    }
  }
}
