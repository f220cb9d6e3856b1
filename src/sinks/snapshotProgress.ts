// The snapshot's progress on stderr: a bar redrawn on a terminal, plain lines otherwise.

import { bytes } from '../model/units';
import type { SnapshotProgress, ThreadWork } from '../inspector/heapSnapshot';

export class Progress implements SnapshotProgress {
  private lastStep = -1;
  private lastPhase = '';
  private writtenNow = 0;
  private drawn = false;
  private readonly started = performance.now();
  /** The last phase drawn, redrawn with the thread's work each second. */
  private shown: [string, number, string] = ['building', -1, ''];
  private workNote = '';
  private lastWorkLine = performance.now();
  constructor(
    private readonly mode: 'tty' | 'lines' | 'none',
    private readonly write: (s: string) => void,
    /** Who is frozen: "the main thread". */
    private readonly who = 'the thread',
    private readonly lineEveryMs = 10_000,
  ) {}

  /**
   * What the thread is doing while V8 builds: on a terminal, beside the bar; as lines, one every
   * 10 s or --progress-every (a wait of minutes is not silent, and says the thread is at work).
   */
  working(w: ThreadWork): void {
    if (this.mode === 'none') return;
    const s = (n: number): string => `${(n / 1000).toFixed(1)} s`;
    const note =
      w.idleMs > 0
        ? `${this.who} has not run for ${s(w.idleMs)}${w.state ? ` (the kernel says: ${w.state})` : ''}`
        : w.cpuMs !== null
          ? `${this.who} is working: ${s(w.cpuMs)} of CPU`
          : '';
    if (this.mode === 'tty') {
      this.workNote = note;
      this.show(...this.shown);
      return;
    }
    const now = performance.now();
    if (note && now - this.lastWorkLine >= this.lineEveryMs) {
      this.lastWorkLine = now;
      this.write(`snapshot still ${this.shown[0]} after ${s(now - this.started)}: ${note}\n`);
    }
  }

  /** A total of 0: how far it is is not known. */
  building(done: number, total: number): void {
    const pct = total > 0 ? Math.floor((done / total) * 100) : -1;
    this.show('building', pct, '');
  }

  writing(written: number): void {
    this.writtenNow = written;
    this.show('writing', -1, bytes(written));
  }

  private show(phase: string, pct: number, extra: string): void {
    if (this.mode === 'none') return;
    this.shown = [phase, pct, extra];
    if (this.mode === 'tty') {
      const width = 30;
      const bar = pct >= 0 ? `[${'#'.repeat(Math.round((pct / 100) * width)).padEnd(width, '.')}] ${String(pct).padStart(3)}%` : '';
      // the time so far: while the target writes the file V8 gives no percentage to show
      const elapsed = `${((performance.now() - this.started) / 1000).toFixed(1)} s`;
      const line = ['snapshot', phase, bar, extra, `(${elapsed})`, this.workNote ? `- ${this.workNote}` : ''].filter(Boolean).join(' ');
      // one terminal line, or a narrow pane wraps it and each redraw smears
      this.write(`\r\x1b[2K${line.slice(0, Math.max(20, (process.stderr.columns || 80) - 1))}`);
      this.drawn = true;
      return;
    }
    // plain lines: one per phase change, per 10% step while building, per 16 MiB while writing
    const step = phase === 'writing' ? Math.floor(this.writtenNow / (16 * 1024 * 1024)) : Math.floor(pct / 10);
    if (phase !== this.lastPhase || step !== this.lastStep) {
      this.write(`snapshot ${phase}${pct >= 0 ? ` ${pct}%` : ''}${extra ? ` ${extra}` : ''}\n`);
      this.lastPhase = phase;
      this.lastStep = step;
    }
  }

  end(): void {
    if (this.mode === 'tty' && this.drawn) this.write('\r\x1b[2K');
  }
}
