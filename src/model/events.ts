// What happened to a target, as events: samples in, events out. Pure (times come from the
// samples or the caller), so the live view's log and `watch` say the same thing, and a test
// feeds it samples. An event is news: a level crossed, an episode began or ended, a worker
// came or went. A value that stays high is one event, not one per sample.

import type { Sample, WorkerRow } from './sample';
import { bytes, ms } from './units';

export type EventLevel = 'info' | 'good' | 'warn' | 'bad';

export type EventKind =
  | 'blocked'
  | 'lag'
  | 'elu'
  | 'cpu'
  | 'heap'
  | 'fds'
  | 'pool'
  | 'worker'
  | 'gc'
  | 'snapshot'
  | 'census'
  | 'exit'
  | 'error'
  | 'answer';

export interface TargetEvent {
  /** ISO time. */
  time: string;
  pid: number;
  kind: EventKind;
  level: EventLevel;
  /** One sentence; text from the target in it is not sanitized here: every sink does that. */
  text: string;
  /** The top frames of a blocked episode. */
  frames?: string[];
}

/** Where a reading starts to be a warning and a problem; the live view colours by the same. */
export const THRESHOLDS = {
  lagP99Ms: { warn: 20, bad: 100 },
  heapOfLimit: { warn: 0.7, bad: 0.85 },
  fdsOfLimit: { warn: 0.75, bad: 0.9 },
  elu: { warn: 0.7, bad: 0.9 },
  cpuPercent: { warn: 70, bad: 90 },
};

export function levelFor(value: number | null | undefined, warn: number, bad: number): EventLevel {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'info';
  return value >= bad ? 'bad' : value >= warn ? 'warn' : 'good';
}

const RANK: Record<EventLevel, number> = { info: -1, good: 0, warn: 1, bad: 2 };

interface Crossing {
  level: EventLevel;
  sinceMs: number;
  peak: number;
}

interface Episode {
  sinceMs: number;
  forMs: number;
  frames: string[];
}

/** Frames worth showing: the top three, "at " taken off. */
function topFrames(stack: string[]): string[] {
  return stack.slice(0, 3).map((f) => f.replace(/^\s*at\s+/, ''));
}

function seconds(msValue: number): string {
  return msValue >= 10_000 ? `${Math.round(msValue / 1000)} s` : `${(msValue / 1000).toFixed(1)} s`;
}

/**
 * One detector per target. `fromSample` compares a sample with what it saw before; `note`
 * records what the caller did or saw (a GC, a snapshot, no answer, the exit).
 */
export class EventDetector {
  private readonly crossings = new Map<string, Crossing>();
  private readonly episodes = new Map<string, Episode>();
  private workers: Map<number, string> | null = null;
  private silentSinceMs: number | null = null;

  constructor(readonly pid: number) {}

  fromSample(s: Sample): TargetEvent[] {
    const at = Date.parse(s.time);
    const out: TargetEvent[] = [];
    const ev = (kind: EventKind, level: EventLevel, text: string, frames?: string[]): void => {
      out.push({ time: s.time, pid: this.pid, kind, level, text, ...(frames ? { frames } : {}) });
    };
    if (this.silentSinceMs !== null) {
      ev('answer', 'good', `answering again after ${seconds(at - this.silentSinceMs)}`);
      this.silentSinceMs = null;
    }

    // blocked episodes: the main thread, then each worker
    const el = s.eventLoop;
    this.episode('main', 'main thread', el.blocked, el.lagMs?.max ?? null, at, ev);
    for (const w of s.workers ?? []) {
      if (w.threadId === null || w.state !== 'running') continue;
      this.episode(`worker ${w.threadId}`, workerName(w), w.eventLoop.blocked, w.eventLoop.lagMs?.max ?? null, at, ev);
    }

    // levels crossed
    const lag = el.lagMs;
    this.cross('lag', lag ? lag.p99 : null, THRESHOLDS.lagP99Ms, at, ev, (v, peak, up, since) =>
      up ? `event loop lag p99 ${ms(v)}, max ${ms(lag?.max)} (over ${ms(THRESHOLDS.lagP99Ms.bad)})` : `event loop lag back to p99 ${ms(v)} after ${seconds(since)} (worst p99 ${ms(peak)})`,
    );
    this.cross('elu', el.utilization, THRESHOLDS.elu, at, ev, (v, peak, up, since) =>
      up ? `event loop utilization ${v.toFixed(2)}` : `event loop utilization back to ${v.toFixed(2)} after ${seconds(since)} (peak ${peak.toFixed(2)})`,
    );
    this.cross('cpu', s.process.cpuPercent, THRESHOLDS.cpuPercent, at, ev, (v, peak, up, since) =>
      up ? `CPU ${v.toFixed(0)}% of a core` : `CPU back to ${v.toFixed(0)}% after ${seconds(since)} (peak ${peak.toFixed(0)}%)`,
    );
    const m = s.memory;
    const heapRatio = m.heapLimitBytes !== null && m.heapUsedBytes !== null && m.heapLimitBytes > 0 ? m.heapUsedBytes / m.heapLimitBytes : null;
    this.cross('heap', heapRatio, THRESHOLDS.heapOfLimit, at, ev, (v, _peak, up) =>
      up ? `heap ${bytes(m.heapUsedBytes)} is ${(v * 100).toFixed(0)}% of its limit ${bytes(m.heapLimitBytes)}` : `heap back to ${(v * 100).toFixed(0)}% of its limit`,
    );
    const fds = s.process.fds;
    const fdsRatio = fds.open !== null && fds.limit ? fds.open / fds.limit : null;
    this.cross('fds', fdsRatio, THRESHOLDS.fdsOfLimit, at, ev, (v, _peak, up) =>
      up ? `${fds.open} file descriptors open, ${(v * 100).toFixed(0)}% of the limit ${fds.limit} (ulimit -n)` : `file descriptors back to ${fds.open} of ${fds.limit}`,
    );

    // pools: full with requests waiting, and when they stop waiting
    if (s.httpPools) {
      const seen = new Set<string>();
      for (const pool of s.httpPools) {
        for (const o of pool.origins) {
          const key = `pool ${pool.name} ${o.key}`;
          seen.add(key);
          const queued = o.queued ?? 0;
          const full = pool.maxSockets !== null && (o.inUse ?? 0) >= pool.maxSockets;
          const was = this.crossings.get(key);
          if (queued > 0 && full && !was) {
            this.crossings.set(key, { level: 'warn', sinceMs: at, peak: queued });
            ev('pool', 'warn', `pool ${pool.name} to ${o.origin} is full: ${o.inUse} of ${pool.maxSockets} sockets in use, ${queued} requests queued`);
          } else if (was && queued > 0) was.peak = Math.max(was.peak, queued);
          else if (was && queued === 0) {
            this.crossings.delete(key);
            ev('pool', 'good', `pool ${pool.name} to ${o.origin} no longer queues (after ${seconds(at - was.sinceMs)}, up to ${was.peak} queued)`);
          }
        }
      }
      for (const key of [...this.crossings.keys()]) if (key.startsWith('pool ') && !seen.has(key)) this.crossings.delete(key);
    }

    // workers that came and went (not on the first sample: those were already there)
    if (s.workers) {
      const now = new Map<number, string>();
      for (const w of s.workers) if (w.threadId !== null && w.state !== 'gone') now.set(w.threadId, workerName(w));
      if (this.workers) {
        for (const [id, name] of now) if (!this.workers.has(id)) ev('worker', 'info', `${name} started`);
        for (const [id, name] of this.workers) if (!now.has(id)) ev('worker', 'info', `${name} ended`);
      }
      this.workers = now;
    }
    return out;
  }

  /** The target did not answer a sample: one event when it starts, one when it answers again. */
  noAnswer(atMs: number, why: string): TargetEvent[] {
    if (this.silentSinceMs !== null) return [];
    this.silentSinceMs = atMs;
    return [this.event(atMs, 'error', 'warn', `no answer: ${why}`)];
  }

  /** Something the caller did or saw (a GC and its result, a snapshot, the exit). */
  event(atMs: number, kind: EventKind, level: EventLevel, text: string): TargetEvent {
    return { time: new Date(atMs).toISOString(), pid: this.pid, kind, level, text };
  }

  private episode(
    key: string,
    who: string,
    blocked: { forMs: number; stack: string[] } | null,
    lagMaxMs: number | null,
    at: number,
    ev: (kind: EventKind, level: EventLevel, text: string, frames?: string[]) => void,
  ): void {
    const ep = this.episodes.get(key);
    if (blocked) {
      const frames = topFrames(blocked.stack);
      if (!ep) {
        this.episodes.set(key, { sinceMs: at - blocked.forMs, forMs: blocked.forMs, frames });
        ev('blocked', 'bad', `${who} blocked in JavaScript for ${seconds(blocked.forMs)} so far${frames[0] ? `, at ${frames[0]}` : ''}`, frames);
      } else {
        ep.forMs = Math.max(ep.forMs, blocked.forMs);
        if (frames.length) ep.frames = frames;
      }
      return;
    }
    if (!ep) return;
    this.episodes.delete(key);
    // the loop turned: the longest delay of the window that ends now covers the rest of it
    const forMs = Math.max(ep.forMs, lagMaxMs ?? 0);
    ev('blocked', 'bad', `${who} was blocked in JavaScript for ${seconds(forMs)}, now running again${ep.frames[0] ? `; at ${ep.frames[0]}` : ''}`, ep.frames);
  }

  private cross(
    key: string,
    value: number | null,
    th: { warn: number; bad: number },
    at: number,
    ev: (kind: EventKind, level: EventLevel, text: string) => void,
    say: (value: number, peak: number, up: boolean, sinceMs: number) => string,
  ): void {
    const level = levelFor(value, th.warn, th.bad);
    if (level === 'info' || value === null) return;
    const was = this.crossings.get(key);
    // lag, utilization and CPU are news when they pass the problem line; heap and fds already
    // at the warning line
    const newsAt: EventLevel = key === 'heap' || key === 'fds' ? 'warn' : 'bad';
    if (!was) {
      if (RANK[level] >= RANK[newsAt]) {
        this.crossings.set(key, { level, sinceMs: at, peak: value });
        ev(key as EventKind, level, say(value, value, true, 0));
      }
      return;
    }
    was.peak = Math.max(was.peak, value);
    if (RANK[level] > RANK[was.level]) {
      was.level = level;
      ev(key as EventKind, level, say(value, was.peak, true, 0));
    } else if (RANK[level] < RANK[newsAt]) {
      this.crossings.delete(key);
      ev(key as EventKind, 'good', say(value, was.peak, false, at - was.sinceMs));
    }
  }
}

function workerName(w: WorkerRow): string {
  return `worker ${w.threadId ?? '?'}${w.name ? ` (${w.name})` : ''}`;
}

/** The events of a session, oldest first, bounded (the oldest go first; `dropped` counts them). */
export class EventLog {
  private readonly items: TargetEvent[] = [];
  dropped = 0;

  constructor(readonly capacity = 5000) {}

  add(...events: TargetEvent[]): void {
    for (const e of events) {
      this.items.push(e);
      if (this.items.length > this.capacity) {
        this.items.shift();
        this.dropped++;
      }
    }
  }

  /** Oldest first; only one target's when `pid` is given. */
  list(pid?: number): TargetEvent[] {
    return pid === undefined ? this.items : this.items.filter((e) => e.pid === pid);
  }

  get size(): number {
    return this.items.length;
  }
}
