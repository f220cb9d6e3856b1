// A fixed-size time series for the live view's charts (heap, lag, CPU...). Each reading keeps
// its time, so a chart can show any window (the last minute or hour) whatever the interval was
// when it was taken. A missing reading is stored as null and drawn as a gap, never as a zero: a
// target that did not answer did not have zero heap.

/** Readings kept per series: an hour at 1 s, 15 minutes at 250 ms (~56 KiB per series). */
export const HISTORY_POINTS = 3600;

export class Series {
  private readonly values: Float64Array;
  private readonly times: Float64Array;
  private start = 0;
  private length = 0;

  constructor(readonly capacity: number = HISTORY_POINTS) {
    this.values = new Float64Array(capacity);
    this.times = new Float64Array(capacity);
  }

  /** A reading at `atMs` (ms since the epoch; default: one after the last, for tests). */
  push(v: number | null | undefined, atMs?: number): void {
    const value = v === undefined || v === null || !Number.isFinite(v) ? NaN : v;
    const t = atMs ?? (this.length ? this.lastTime()! + 1000 : 0);
    let i: number;
    if (this.length < this.capacity) i = (this.start + this.length++) % this.capacity;
    else {
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
