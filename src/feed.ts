// The live view's sampling, apart from the screen: one LiveTarget per attached process (its
// Sampler, the socket walk's ration, the events its samples make, the back-off) and one FeedLoop
// that ticks them. `attach` draws what a step brings; `record` writes it to a file. Both sample
// the same way, so a recording holds what the live view would have shown.
//
// Not here: the screen (src/tui), the file (src/sinks/recording.ts).

import { ExitCode, NodetopError } from './errors';
import type { Attachment } from './inspector/attach';
import { EventDetector, type TargetEvent } from './model/events';
import type { Sample } from './model/sample';
import { Sampler } from './sampler';

/** Sockets and pools are walked on every tick of the pages that show them, else every 5th. */
export const NET_EVERY = 5;
/** A census's sockets and pools stay on screen this long: an ordinary walk would hide what it found. */
export const CENSUS_HOLD_MS = 30_000;

/** What one step of a target brought. */
export type Step =
  | {
      kind: 'sample';
      /** The sample as shown: a tick that did not walk sockets carries the last walk. */
      sample: Sample;
      /** This sample walked sockets and pools itself (false: they are the last walk's, or none). */
      walked: boolean;
      /** nodetop's clock when it arrived (ms since the epoch). */
      atMs: number;
      rttMs: number | null;
      /** What the detector saw in it (and the census's own event). */
      events: TargetEvent[];
      /** A census ran in it: its one-line result. */
      census: { text: string; ok: boolean } | null;
    }
  | { kind: 'error'; atMs: number; message: string; events: TargetEvent[] }
  /** The target is gone (its session's close handler says how). */
  | { kind: 'gone' };

/** One process sampled as the live view samples it. */
export class LiveTarget {
  readonly sampler: Sampler;
  readonly events: EventDetector;
  sample: Sample | null = null;
  prev: Sample | null = null;
  rttMs: number | null = null;
  /** nodetop's clock when the last sample arrived. */
  answeredAtMs: number | null = null;
  error: string | null = null;
  /** Interval this target asked for by being slow; null when not backing off. */
  backoffMs: number | null = null;
  /** Sockets and pools from the last sample that walked them (they are walked less often). */
  private lastNet: Pick<Sample, 'sockets' | 'httpPools'> | null = null;
  /** Until when the sockets and pools of a census stay on screen (ordinary walks would hide what it found). */
  private censusUntil = 0;
  private ticks = 0;

  constructor(readonly att: Attachment) {
    this.sampler = new Sampler(att, { net: { top: 50, groups: 50 }, workers: true });
    this.events = new EventDetector(att.pid);
  }

  get pid(): number {
    return this.att.pid;
  }

  /** Sampled at this tick: not while it backs off (each target on its own schedule then). */
  due(startedMs: number): boolean {
    return !(this.backoffMs && startedMs - (this.answeredAtMs ?? 0) < this.backoffMs);
  }

  /** One sample, and what it means; `showsNet`: the page on screen shows sockets or pools. */
  async step(intervalMs: number, showsNet: boolean): Promise<Step> {
    try {
      this.sampler.includeNet = this.sampler.censusOnce || (Date.now() >= this.censusUntil && (showsNet || this.ticks++ % NET_EVERY === 0));
      const isCensus = this.sampler.censusOnce;
      const s = await this.sampler.sample();
      const events: TargetEvent[] = [];
      let census: { text: string; ok: boolean } | null = null;
      if (isCensus) {
        this.censusUntil = Date.now() + CENSUS_HOLD_MS;
        const pools = s.httpPools?.length ?? 0;
        const ok = !!s.sockets?.census;
        const text = ok
          ? `heap census: ${s.sockets!.total} connections, ${pools} pool${pools === 1 ? '' : 's'} (shown for ${CENSUS_HOLD_MS / 1000} s; c runs it again)`
          : `heap census failed: ${s.sockets?.errors?.[0] ?? 'no sockets read'}`;
        census = { text, ok };
        events.push(this.events.event(Date.now(), 'census', 'info', text));
      }
      const walked = !!(s.sockets || s.httpPools);
      if (walked) this.lastNet = { sockets: s.sockets, httpPools: s.httpPools };
      else if (this.lastNet) {
        s.sockets = this.lastNet.sockets;
        s.httpPools = this.lastNet.httpPools;
      }
      this.prev = this.sample;
      this.sample = s;
      this.error = null;
      this.rttMs = this.sampler.lastRoundTripMs;
      const atMs = Date.now();
      this.answeredAtMs = atMs;
      events.push(...this.events.fromSample(s));
      // Back off when serving us costs the target: a slow round trip means its main thread
      // is busy, and our sample waits in line with its work.
      const rtt = this.rttMs ?? 0;
      const every = this.backoffMs ?? intervalMs;
      if (rtt > Math.max(50, every * 0.1)) this.backoffMs = Math.min(intervalMs * 8, every * 2);
      else if (this.backoffMs !== null && rtt < 10) this.backoffMs = null;
      return { kind: 'sample', sample: s, walked, atMs, rttMs: this.rttMs, events, census };
    } catch (e) {
      if (this.att.gone || (e instanceof NodetopError && e.exitCode === ExitCode.TargetExited)) return { kind: 'gone' }; // onClose handles it
      this.error = e instanceof Error ? e.message : String(e);
      const atMs = Date.now();
      return { kind: 'error', atMs, message: this.error, events: this.events.noAnswer(atMs, this.error) };
    }
  }
}

/**
 * Ticks every `every()` ms, one tick at a time: the next tick is one interval after the last
 * began (a new interval takes effect at once), never two in flight.
 */
export class FeedLoop {
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private lastTickAt = 0;
  private stopped = false;

  constructor(
    private readonly every: () => number,
    private readonly tick: (startedMs: number) => Promise<void>,
  ) {}

  start(): void {
    void this.run();
  }

  /** Re-arms the timer for the current interval (after it changed). */
  schedule(): void {
    clearTimeout(this.timer);
    if (this.stopped || this.inFlight) return;
    this.timer = setTimeout(() => void this.run(), Math.max(0, this.lastTickAt + this.every() - Date.now()));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  get running(): boolean {
    return !this.stopped;
  }

  private async run(): Promise<void> {
    if (this.stopped || this.inFlight) return;
    this.inFlight = true;
    const started = Date.now();
    this.lastTickAt = started;
    try {
      await this.tick(started);
    } finally {
      this.inFlight = false;
    }
    this.schedule();
  }
}
