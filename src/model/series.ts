// A fixed-size time series for trends (heap, lag, ELU). A missing reading is stored as null and
// drawn as a gap, never as a zero: a target that did not answer did not have zero heap.

export class Series {
  private readonly values: Array<number | null>;
  private start = 0;
  private length = 0;

  constructor(readonly capacity: number) {
    this.values = new Array<number | null>(capacity).fill(null);
  }

  push(v: number | null | undefined): void {
    const value = v === undefined || v === null || !Number.isFinite(v) ? null : v;
    if (this.length < this.capacity) {
      this.values[(this.start + this.length) % this.capacity] = value;
      this.length++;
    } else {
      this.values[this.start] = value;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  /** Oldest first. */
  toArray(): Array<number | null> {
    const out: Array<number | null> = [];
    for (let i = 0; i < this.length; i++) out.push(this.values[(this.start + i) % this.capacity] ?? null);
    return out;
  }

  last(): number | null {
    return this.length === 0 ? null : (this.values[(this.start + this.length - 1) % this.capacity] ?? null);
  }

  get size(): number {
    return this.length;
  }
}

const BLOCKS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const ASCII = ['_', '.', '-', '~', '=', '+', '*', '#'];

/**
 * The last `width` values as a sparkline scaled to [min, max] (max from the data unless given).
 * Gaps are spaces.
 */
export function sparkline(values: Array<number | null>, width: number, opts: { unicode?: boolean; min?: number; max?: number } = {}): string {
  const chars = opts.unicode === false ? ASCII : BLOCKS;
  const vs = values.slice(-Math.max(0, width));
  const nums = vs.filter((v): v is number => v !== null);
  if (nums.length === 0) return ' '.repeat(vs.length);
  const lo = opts.min ?? Math.min(...nums);
  const hi = opts.max ?? Math.max(...nums);
  const span = hi - lo;
  return vs
    .map((v) => {
      if (v === null) return ' ';
      const i = span > 0 ? Math.round(((Math.min(Math.max(v, lo), hi) - lo) / span) * (chars.length - 1)) : 0;
      return chars[i] ?? chars[0];
    })
    .join('');
}
