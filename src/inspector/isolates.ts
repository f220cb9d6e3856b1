// Choosing the isolates a command works on (gc, snapshot): the main thread, one worker by
// threadId, or all of them. Workers are reached through the NodeWorker domain, enabled only for
// the command and disabled after (the caller closes the hub).

import { ExitCode, NodetopError } from '../errors';
import { memoryProbe, type MemoryReading } from '../probes/memory';
import { attach, explainCallFailure, type Attachment, type AttachOptions } from './attach';
import { evaluate, type Sender } from './session';
import { WorkerHub, type WorkerSession } from './workers';

export interface IsolateTarget {
  kind: 'main' | 'worker';
  /** 0 for the main thread. */
  threadId: number;
  name: string;
  /** Session or WorkerSession: commands and events of this isolate. */
  sender: Sender & { on(method: string, cb: (params: unknown) => void): () => void };
  worker: WorkerSession | null;
}

export type IsolateSelection = { kind: 'main' } | { kind: 'worker'; threadId: number } | { kind: 'all' };

export interface Isolates {
  targets: IsolateTarget[];
  hub: WorkerHub | null;
}

/** Resolves a selection to isolates. Throws NodetopError (exit 3) for a threadId that does not exist. */
export async function selectIsolates(att: Attachment, sel: IsolateSelection): Promise<Isolates> {
  const main: IsolateTarget = { kind: 'main', threadId: 0, name: 'main', sender: att.session, worker: null };
  if (sel.kind === 'main') return { targets: [main], hub: null };
  const hub = await WorkerHub.enable(att.session, att.timeoutMs);
  try {
    const workers = hub.list();
    // the title carries the threadId; the worker itself confirms it (and its pid) below
    const chosen = sel.kind === 'all' ? workers : workers.filter((w) => w.threadIdFromTitle === sel.threadId);
    if (sel.kind === 'worker' && chosen.length === 0) {
      const ids = workers.map((w) => w.threadIdFromTitle).filter((x) => x !== null);
      throw new NodetopError(
        `pid ${att.pid} has no worker thread ${sel.threadId} (${ids.length ? `its workers: ${ids.join(', ')}` : 'it has no workers'})`,
        { exitCode: ExitCode.NoSuchProcess, hint: 'nodetop stats <pid> lists the worker threads' },
      );
    }
    const targets: IsolateTarget[] = sel.kind === 'all' ? [main] : [];
    for (const w of chosen) {
      targets.push({ kind: 'worker', threadId: w.threadIdFromTitle ?? -1, name: w.name, sender: w, worker: w });
    }
    return { targets, hub };
  } catch (e) {
    await hub.close();
    throw e;
  }
}

/** This isolate's heap, checked to belong to the right thread. */
export async function readMemory(t: IsolateTarget, timeoutMs: number): Promise<MemoryReading> {
  const m = await evaluate(t.sender, memoryProbe, null, { timeoutMs });
  if (t.kind === 'worker' && m.threadId !== t.threadId) {
    throw new NodetopError(`the worker titled ${t.worker?.info.title} says it is thread ${m.threadId}`, { exitCode: ExitCode.WrongProcess });
  }
  return m;
}

/**
 * The opening and closing every command on chosen isolates shares (gc, snapshot): attach,
 * resolve the selection (a failed call explained in the user's terms), run `fn`, then close the
 * worker hub and detach, whatever `fn` did.
 */
export async function withIsolates<T>(opts: AttachOptions, select: IsolateSelection, fn: (att: Attachment, sel: Isolates) => Promise<T>): Promise<T> {
  const att = await attach(opts);
  try {
    let sel: Isolates;
    try {
      sel = await selectIsolates(att, select);
    } catch (e) {
      throw await explainCallFailure(e, att.pid, `pid ${att.pid}`);
    }
    try {
      return await fn(att, sel);
    } finally {
      await sel.hub?.close();
    }
  } finally {
    await att.detach();
  }
}
