// A fixed-rate clock for commands that sample on an interval (watch, export). Ticks are due at
// start + k * interval; a tick that fires late is delivered once with its lateness, and the
// ticks it overran are counted as skipped, never queued: a slow target or a stalled nodetop
// must not produce a burst of back-to-back samples afterwards.
//
// The caller decides what a tick does; a tick callback is not awaited (a slow target must not
// delay the others), so callers keep their own "in flight" flag per target.

export interface Tick {
  /** Which scheduled tick this is (0 = one interval after start). */
  index: number;
  /** How late the timer fired, ms (>= 0). */
  lateMs: number;
  /** Scheduled ticks skipped since the previous delivered one because the timer was too late. */
  skipped: number;
}

/** The tick to deliver at `nowMs`, given the last delivered index (-1 before the first). Pure. */
export function tickAt(startMs: number, intervalMs: number, nowMs: number, lastIndex: number): Tick & { nextDueMs: number } {
  const elapsed = Math.max(0, nowMs - startMs);
  // the latest tick that is due now, and at least the one after lastIndex (a timer may fire a
  // hair early on another clock)
  const index = Math.max(lastIndex + 1, Math.floor(elapsed / intervalMs) - 1);
  const dueMs = startMs + (index + 1) * intervalMs;
  return {
    index,
    lateMs: Math.max(0, nowMs - dueMs),
    skipped: index - lastIndex - 1,
    nextDueMs: startMs + (index + 2) * intervalMs,
  };
}

export class Ticker {
  private timer: NodeJS.Timeout | null = null;
  private last = -1;
  private startMs = 0;
  private stopped = false;

  constructor(
    private readonly intervalMs: number,
    private readonly onTick: (t: Tick) => void,
  ) {}

  start(): void {
    this.startMs = performance.now();
    this.arm(this.startMs + this.intervalMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(atMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.fire(), Math.max(0, atMs - performance.now()));
  }

  private fire(): void {
    if (this.stopped) return;
    const t = tickAt(this.startMs, this.intervalMs, performance.now(), this.last);
    this.last = t.index;
    this.arm(t.nextDueMs);
    this.onTick({ index: t.index, lateMs: t.lateMs, skipped: t.skipped });
  }
}
