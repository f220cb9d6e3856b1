// A fixed-size time series for the live view's charts (heap, lag, CPU...). Each reading keeps
// its time, so a chart can show any window (the last minute or hour) whatever the interval was
// when it was taken. A missing reading is stored as null and drawn as a gap, never as a zero: a
// target that did not answer did not have zero heap.

import type { Sample } from './sample';

/** Readings kept per series: an hour at 1 s, 15 minutes at 250 ms (~56 KiB per series). */
export const HISTORY_POINTS = 3600;

/** Readings a series has room for at first; it doubles as it fills, up to its capacity. */
const FIRST_ROOM = 64;

export class Series {
  // allocated as it fills: a worker's history has seven series, two never used, and the live
  // view held 400 KB of them for its time cursor before anyone scrolled back
  private values: Float64Array;
  private times: Float64Array;
  private start = 0;
  private length = 0;

  constructor(readonly capacity: number = HISTORY_POINTS) {
    this.values = new Float64Array(Math.min(capacity, FIRST_ROOM));
    this.times = new Float64Array(Math.min(capacity, FIRST_ROOM));
  }

  /** Room for more readings: twice as much, the oldest first at 0 (only while it is not full: start is 0 then). */
  private grow(): void {
    const room = Math.min(this.capacity, this.values.length * 2);
    const values = new Float64Array(room);
    const times = new Float64Array(room);
    values.set(this.values);
    times.set(this.times);
    this.values = values;
    this.times = times;
  }

  /** A reading at `atMs` (ms since the epoch; default: one after the last, for tests). */
  push(v: number | null | undefined, atMs?: number): void {
    const value = v === undefined || v === null || !Number.isFinite(v) ? NaN : v;
    const t = atMs ?? (this.length ? this.lastTime()! + 1000 : 0);
    let i: number;
    if (this.length < this.capacity) {
      if (this.length === this.values.length) this.grow();
      i = this.length++;
    } else {
      i = this.start;
      this.start = (this.start + 1) % this.capacity;
    }
    this.values[i] = value;
    this.times[i] = t;
  }

  /** Values, oldest first. */
  toArray(): Array<number | null> {
    return this.points().map((p) => p[1]);
  }

  /** [time ms, value] pairs, oldest first; only those at or after `sinceMs` when given. */
  points(sinceMs = -Infinity): Array<[number, number | null]> {
    const out: Array<[number, number | null]> = [];
    for (let k = 0; k < this.length; k++) {
      const i = (this.start + k) % this.capacity;
      const t = this.times[i]!;
      if (t < sinceMs) continue;
      const v = this.values[i]!;
      out.push([t, Number.isNaN(v) ? null : v]);
    }
    return out;
  }

  /**
   * What a chart of the window from `fromMs` draws: the readings at or after it, and the one
   * reading before it, which the line enters the window from. A chart asked for twice its window
   * before (the reading before could be anywhere in it), and walked and drew half of it off the
   * chart every tick (600 of 900 readings a series at the default 5 min).
   */
  window(fromMs: number): Array<[number, number | null]> {
    const w = this.view(fromMs);
    const out: Array<[number, number | null]> = [];
    for (let j = 0; j < w.length; j++) {
      const v = w.value(j);
      out.push([w.time(j), Number.isNaN(v) ? null : v]);
    }
    return out;
  }

  /**
   * The same readings as window(), read in place: what the charts draw from. The pairs were most
   * of what a draw allocated (~190 KiB of ~1.5 MiB a draw at 120x40, sampled): a pair, and a
   * boxed number for its time, a reading, seven series, every tick.
   */
  view(fromMs: number): Points {
    let k = this.length;
    // the newest first: the window is the end of the series
    while (k > 0 && this.times[(this.start + k - 1) % this.capacity]! >= fromMs) k--;
    return new SeriesView(this.times, this.values, this.start, this.capacity, Math.max(0, k - 1), this.length);
  }

  last(): number | null {
    if (this.length === 0) return null;
    const v = this.values[(this.start + this.length - 1) % this.capacity]!;
    return Number.isNaN(v) ? null : v;
  }

  lastTime(): number | null {
    return this.length === 0 ? null : this.times[(this.start + this.length - 1) % this.capacity]!;
  }

  /** Time of the oldest reading kept. */
  firstTime(): number | null {
    return this.length === 0 ? null : this.times[this.start]!;
  }

  get size(): number {
    return this.length;
  }
}

/** Readings in time order, read by index: a time (ms) and a value (NaN: no reading, a gap). */
export interface Points {
  readonly length: number;
  time(j: number): number;
  value(j: number): number;
}

/** Readings `from` to `to` (exclusive) of a series' ring, oldest first. */
class SeriesView implements Points {
  readonly length: number;
  constructor(
    private readonly times: Float64Array,
    private readonly values: Float64Array,
    private readonly start: number,
    private readonly capacity: number,
    private readonly from: number,
    to: number,
  ) {
    this.length = to - from;
  }

  time(j: number): number {
    return this.times[(this.start + this.from + j) % this.capacity]!;
  }

  value(j: number): number {
    return this.values[(this.start + this.from + j) % this.capacity]!;
  }
}

/** [time, value] pairs as Points (tests, and readings that are not a series). */
export function pairPoints(pairs: Array<[number, number | null]>): Points {
  return { length: pairs.length, time: (j) => pairs[j]![0], value: (j) => pairs[j]![1] ?? NaN };
}

/** One worker's readings for its charts: [threadId, read at ms, heap used, heap total, lag p99, lag max, ELU]. */
export type WorkerPoints = [number, number, number | null, number | null, number | null, number | null, number | null];

/**
 * What the charts take from one sample: the live view pushes these as samples arrive, a replay
 * keeps them for every recorded sample (the sample itself is parsed only when shown).
 */
export interface ChartPoints {
  heapUsed: number | null;
  heapTotal: number | null;
  lagP99: number | null;
  lagMax: number | null;
  elu: number | null;
  cpu: number | null;
  rss: number | null;
  /** The workers that are there (not gone), each with its own reading; null: workers not read. */
  workers: WorkerPoints[] | null;
}

export function chartPoints(s: Sample): ChartPoints {
  const workers: WorkerPoints[] = [];
  for (const w of s.workers ?? []) {
    if (w.threadId === null || w.state === 'gone') continue;
    const l = w.eventLoop.lagMs;
    workers.push([w.threadId, Date.parse(w.readAt), w.heapUsedBytes, w.heapTotalBytes, l?.p99 ?? null, l?.max ?? null, w.eventLoop.utilization]);
  }
  return {
    heapUsed: s.memory.heapUsedBytes,
    heapTotal: s.memory.heapTotalBytes,
    lagP99: s.eventLoop.lagMs?.p99 ?? null,
    lagMax: s.eventLoop.lagMs?.max ?? null,
    elu: s.eventLoop.utilization,
    cpu: s.process.cpuPercent,
    rss: s.process.rssBytes,
    workers: s.workers ? workers : null,
  };
}
