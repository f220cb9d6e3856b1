// The blessed side of the live view: the terminal's lifecycle (restored on every exit path,
// before anything is printed), the keys, and the tick loop. One sample and one render per
// tick; keys change the ViewState and re-render without sampling. A time cursor shows a
// recording instead (`nodetop replay`), or the single view's own history (← scrolls back).
//
// Not here: what the screen says (render.ts and views/), how a sample is taken (feed.ts,
// sampler.ts), what a recording holds (model/recording.ts).

import { ExitCode } from '../errors';
import type { Attachment } from '../inspector/attach';
import { onExit } from '../lifecycle';
import { EventLog, type EventKind, type EventLevel } from '../model/events';
import { appendError, appendSample, eventFrame, eventsUntil, frameAt, frameSample, newTimeline, type Recording, type Timeline, type TimelineCap } from '../model/recording';
import type { Sample } from '../model/sample';
import { bytes } from '../model/units';
import { howItEnded } from '../inspector/ended';
import { FeedLoop, LiveTarget } from '../feed';
import { chartPoints, HISTORY_POINTS } from '../model/series';
import type { Sampler } from '../sampler';
import {
  formatInterval,
  initialState,
  newHistory,
  PAGES,
  pushGap,
  pushPoints,
  REPLAY_SPEEDS,
  renderScreen,
  stepInterval,
  WINDOWS_MS,
  type History,
  type Level,
  type PageId,
  type PageRenderer,
  type RenderOptions,
  type ViewState,
} from './render';
import { movePid, renderProcessesScreen, selectedPid, SORT_KEYS, type OverviewState, type ProcessRow } from './views/processes';
import { HANDLE_SORTS } from './views/handles';
import { SOCKET_SORTS } from './views/sockets';
import { selectedWorker as workerOnPage, WORKER_SORTS } from './views/workers';
import { DRILLS, PAGE_RENDERERS, PAGE_ROWS } from './pages';
import { filtered, selectedIndex } from './views/lists';
import { stripTags } from './render';

/** How far a snapshot is: 0..1 when V8 reports it (streaming), else null; and what it is doing. */
export interface SnapshotProgress {
  done: number | null;
  detail: string;
}

export interface Actions {
  /** Forced GC; `all` for every thread. Resolves to a one-line result. */
  gc?(all: boolean, selectedWorker: number | null): Promise<string>;
  /** Heap snapshot, with its progress as it goes; resolves to a one-line result. */
  snapshot?(selectedWorker: number | null, progress: (p: SnapshotProgress) => void): Promise<string>;
  /**
   * What a GC or a snapshot of a heap of this size will cost, in one sentence (the CLI's own
   * estimate), for the question asked before it.
   */
  estimate?(what: 'gc' | 'snapshot', heapUsedBytes: number): string;
}

export interface TuiOptions {
  intervalMs: number;
  readonly: boolean;
  /** Do not ask before a GC or a snapshot (--yes). */
  yes?: boolean;
  /** What the keys do to one target. */
  actions: (att: Attachment, sampler: Sampler) => Actions;
  /** Extra pages supplied by samplers that are not part of every build. */
  pages?: Partial<Record<PageId, PageRenderer>>;
  /** Heading of the overview ("cluster of pid 123"). */
  title?: string;
  /** Called every few seconds: attachments to processes that appeared (new cluster children). */
  discover?: () => Promise<Attachment[]>;
  /** Open the overview even for one process (a cluster that has no children yet). */
  overview?: boolean;
  /** A first line for the status line (pids that could not be attached). */
  message?: string;
  /** Rows shown in the overview without a session (processes with no inspector open). */
  extraRows?: ProcessRow[];
  /** The container of each pid that runs in one (the overview shows it before the command). */
  where?: Map<number, string>;
  /** Replay this recording instead of sampling (no attachments): a time cursor instead of a clock. */
  replay?: Recording;
}

const DISCOVER_EVERY_MS = 2000;

/**
 * The single view's scroll-back: an hour at 1 s, as the charts' series, and at most 8 MiB of
 * lines, kept deflated (~350 bytes a sample of an idle service: an hour is ~1.5 MB; a sample
 * that walked thousands of sockets can take far more).
 */
const TIMELINE_CAP: TimelineCap = { frames: HISTORY_POINTS, bytes: 8 * 1024 * 1024 };

/**
 * Colours the terminal has: 0 (NO_COLOR, dumb), 256 (TERM says 256 colours, or COLORTERM says
 * more), else 8. Decided here rather than by blessed, which cannot read the terminfo entries of
 * tmux-256color and screen-256color and falls back to 8 colours for them.
 */
export function colorDepth(env: NodeJS.ProcessEnv): 0 | 8 | 256 {
  if (('NO_COLOR' in env && env.NO_COLOR !== '') || env.TERM === 'dumb') return 0;
  if (/256col|direct|truecolor/.test(env.TERM ?? '') || /^(truecolor|24bit)$/i.test(env.COLORTERM ?? '')) return 256;
  return 8;
}

function envUnicode(): boolean {
  const loc = process.env.LC_ALL || process.env.LC_CTYPE || process.env.LANG || '';
  return /utf-?8/i.test(loc);
}

/** A process on screen: sampled live (`feed`), or a recording's (feed null: the cursor sets the rest). */
interface Target {
  pid: number;
  /** Its command line, for the overview. */
  title: string;
  feed: LiveTarget | null;
  actions: Actions;
  sample: Sample | null;
  prev: Sample | null;
  hist: History;
  rttMs: number | null;
  /** nodetop's clock when the last sample arrived. */
  answeredAtMs: number | null;
  error: string | null;
  /** Interval this target asked for by being slow; null when not backing off. */
  backoffMs: number | null;
  /** Its samples and events so far, for the cursor keys (the single view's target only; a replay's recording); null: not kept. */
  timeline: Recording | null;
  /** The same, while it is the live view's own (appended to as samples come). */
  live: Timeline | null;
}

/** What the screen shows of a target: its latest, or what a time cursor points at. */
type Shown = Pick<Target, 'sample' | 'prev' | 'hist' | 'rttMs' | 'answeredAtMs' | 'error'>;


/**
 * Runs the live view until the user quits or the targets go. One target opens its full view;
 * several (or a cluster) open the overview, Enter opens a row's full view and Esc comes back.
 * Resolves with the exit code. The caller detaches.
 */
export async function runTui(initial: Attachment[], opts: TuiOptions): Promise<number> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const blessed = require('blessed') as typeof import('blessed');
  const unicode = envUnicode();
  const colors = colorDepth(process.env);
  const color = colors > 0;
  const screen = blessed.screen({ smartCSR: true, fullUnicode: unicode, title: 'nodetop', warnings: false, autoPadding: false });
  // blessed reduces every colour to what it read from terminfo (8 for tmux-256color): tell it
  const tput = screen.tput as unknown as { colors: number; brokenACS: boolean };
  if (colors === 256 && tput.colors < 256) tput.colors = 256;
  // in a UTF-8 terminal the charts' axes are written as they are, as ncurses does there
  // (NCURSES_NO_UTF8_ACS): blessed would switch to the line-drawing charset for them, which
  // tmux's copy of the screen keeps as letters (u, x, m)
  if (unicode) tput.brokenACS = true;
  const box = blessed.box({ top: 0, left: 0, width: '100%', height: '100%', tags: true, wrap: false });
  screen.append(box);

  let destroyed = false;
  const restore = (): void => {
    if (destroyed) return;
    destroyed = true;
    try {
      screen.destroy();
    } catch {
      /* the terminal is gone */
    }
  };
  const unregister = onExit(restore);
  // A bug must not leave the terminal in raw mode: restore it before the stack is printed.
  const panic = (e: unknown): void => {
    restore();
    process.stderr.write(`nodetop: internal error (a bug in nodetop; please report it with this output)\n${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(ExitCode.Bug);
  };
  process.on('uncaughtException', panic);

  const rec = opts.replay ?? null;
  const multi = !rec && (initial.length > 1 || opts.overview === true || opts.discover !== undefined);
  const st: ViewState = initialState(opts.intervalMs);
  const ov: OverviewState = { sortKey: 'c', selectedPid: null, message: null, paused: false, intervalMs: opts.intervalMs };
  const pages: Record<PageId, PageRenderer> = { ...PAGE_RENDERERS, ...opts.pages };
  const log = new EventLog();
  const targets = new Map<number, Target>();
  /** The pid whose full view is open; null in the overview. */
  let viewing: number | null = rec ? rec.header.pid : multi ? null : (initial[0]?.pid ?? null);

  let finish: (code: number) => void = () => undefined;
  const done = new Promise<number>((r) => (finish = r));
  let stopped = false;
  // eslint-disable-next-line prefer-const
  let loop: FeedLoop;
  const stop = (code: number): void => {
    if (stopped) return;
    stopped = true;
    loop.stop();
    stopPlay();
    finish(code);
  };

  const renderOpts = (): RenderOptions => ({
    width: screen.width as number,
    height: screen.height as number,
    color,
    colors,
    unicode,
    readonly: opts.readonly || rec !== null,
    replay: rec !== null,
  });
  let lastDraw = 0;
  let lastLines: string[] = [];
  const draw = (): void => {
    if (destroyed) return;
    lastDraw = Date.now();
    const t = viewing !== null ? targets.get(viewing) : undefined;
    let lines: string[];
    if (t) {
      const v = shownOf(t);
      const c = on(t);
      st.rttMs = v.rttMs;
      st.sampleError = v.error;
      st.backoffMs = t.backoffMs;
      // under a cursor the clock is the cursor's: ages are as they were then
      st.nowMs = c ? (c.frames[cursor]?.at ?? lastDraw) : lastDraw;
      st.pid = t.pid;
      st.answeredAtMs = v.answeredAtMs;
      st.events = c ? eventsUntil(c, cursor) : log.list(t.pid);
      st.replay = c ? { atMs: c.frames[cursor]!.at, index: cursor, count: c.frames.length, playing: play !== null, speed: REPLAY_SPEEDS[speedIndex]!, live: !rec } : null;
      lines = renderScreen(v.sample, v.prev, v.hist, st, renderOpts(), pages);
    } else {
      const rows: ProcessRow[] = [...targets.values()].map((x) => ({
        pid: x.pid,
        title: x.title,
        sample: x.sample,
        note: x.error ? 'not answering' : x.sample ? null : 'attaching',
        where: opts.where?.get(x.pid) ?? null,
      }));
      rows.push(...(opts.extraRows ?? []).filter((r) => !targets.has(r.pid)));
      ov.paused = st.paused;
      ov.intervalMs = st.intervalMs;
      lines = renderProcessesScreen(rows, ov, renderOpts(), opts.title ?? 'overview');
    }
    lastLines = lines;
    box.setContent(lines.join('\n'));
    screen.render();
  };
  screen.on('resize', draw);

  const say = (text: string, level: Level): void => {
    st.message = { text, level };
    ov.message = { text, level };
    draw();
  };

  /** Something the user did or saw, into the session's event log. */
  const note = (t: Target | undefined, kind: EventKind, level: EventLevel, text: string): void => {
    if (t?.feed) log.add(t.feed.events.event(Date.now(), kind, level, text));
  };

  const add = (att: Attachment): void => {
    if (targets.has(att.pid)) return;
    const feed = new LiveTarget(att);
    const t: Target = {
      pid: att.pid,
      title: att.identity.argv.slice(1).join(' ') || att.identity.title,
      feed,
      actions: opts.actions(att, feed.sampler),
      sample: null,
      prev: null,
      hist: newHistory(),
      rttMs: null,
      answeredAtMs: null,
      error: null,
      backoffMs: null,
      // the single view keeps its history for the cursor keys (TIMELINE_CAP)
      timeline: null,
      live: multi
        ? null
        : newTimeline({ kind: 'nodetop-recording', format: 1, nodetop: '', node: { target: att.identity.nodeVersion, cli: process.version }, pid: att.pid, startedAt: new Date().toISOString(), intervalMs: opts.intervalMs }),
    };
    t.timeline = t.live;
    t.hist.workers = new Map();
    targets.set(att.pid, t);
    att.session.onClose(() => void closed(att));
  };
  const closed = async (att: Attachment): Promise<void> => {
    if (stopped || !targets.has(att.pid)) return;
    // exited (it said so, or its process is gone) or only disconnected: see src/inspector/ended.ts
    const why = (await howItEnded(att)).text;
    if (stopped || !targets.has(att.pid)) return;
    note(targets.get(att.pid), 'exit', 'bad', why);
    if (!multi) {
      // the single view stays on the screen with its last numbers and the news until a key
      st.exited = why;
      loop.stop();
      draw();
      return;
    }
    targets.delete(att.pid);
    if (viewing === att.pid) viewing = null;
    say(why, 'warn');
    if (targets.size === 0 && !opts.discover) setTimeout(() => stop(ExitCode.TargetExited), 1500);
  };
  for (const a of initial) add(a);
  if (opts.message) {
    st.message = { text: opts.message, level: 'warn' };
    ov.message = st.message;
  }

  const sampleOne = async (t: Target, feed: LiveTarget): Promise<void> => {
    const showsNet = viewing === t.pid && (st.page === 'sockets' || st.page === 'pools');
    const step = await feed.step(st.intervalMs, showsNet);
    if (step.kind === 'gone') return; // onClose handles it
    if (step.kind === 'sample') {
      if (step.census) say(step.census.text, step.census.ok ? 'good' : 'warn');
      pushPoints(t.hist, chartPoints(step.sample), step.atMs);
      if (t.live) appendSample(t.live, step.sample, step.atMs, step.rttMs, step.walked, step.events, TIMELINE_CAP);
    } else {
      pushGap(t.hist, step.atMs);
      if (t.live) appendError(t.live, step.atMs, step.message, step.events, TIMELINE_CAP);
    }
    // scrolled back: the oldest frames may have gone; the cursor stays on its time
    if (cursorOn?.t === t && t.timeline && t.timeline.frames[0]?.at !== firstAt) {
      histUpTo = -1;
      showFrame(frameAt(t.timeline, cursorAt));
    }
    t.prev = feed.prev;
    t.sample = feed.sample;
    t.error = feed.error;
    t.rttMs = feed.rttMs;
    t.answeredAtMs = feed.answeredAtMs;
    t.backoffMs = feed.backoffMs;
    log.add(...step.events);
  };

  let lastDiscover = 0;
  /** One tick: every target that is due, then a draw; the next tick one interval after this began. */
  loop = new FeedLoop(
    () => st.intervalMs,
    async (started) => {
      if (stopped || st.exited || rec) return;
      if (opts.discover && started - lastDiscover >= DISCOVER_EVERY_MS) {
        lastDiscover = started;
        void opts.discover().then(
          (found) => {
            for (const a of found) {
              add(a);
              say(`pid ${a.pid} appeared`, 'info');
            }
          },
          () => undefined,
        );
      }
      if (!st.paused) {
        // each target on its own schedule when it backed off; otherwise all together
        await Promise.all([...targets.values()].map((t) => (t.feed && t.feed.due(started) ? sampleOne(t, t.feed) : undefined)));
      }
      draw();
    },
  );
  const schedule = (): void => loop.schedule();

  // --- the time cursor: a replay's clock, or the live view scrolled back over its history -----
  /** The target and the timeline under the cursor: a replay's always, the live view's while scrolled back. */
  let cursorOn: { t: Target; rec: Recording } | null = null;
  let cursor = 0;
  /** The time of the frame under the cursor, and of the timeline's first frame (the live one loses its oldest). */
  let cursorAt = 0;
  let firstAt: number | undefined;
  /** The last frame pushed into the cursor's charts (-1: none). */
  let histUpTo = -1;
  const view: Shown = { sample: null, prev: null, hist: newHistory(), rttMs: null, answeredAtMs: null, error: null };
  let speedIndex = 0;
  /** Playing: the recording's time and the real time play began at, and the timer. */
  let play: { fromAt: number; realStart: number; timer: NodeJS.Timeout } | null = null;
  function on(t: Target): Recording | null {
    return cursorOn?.t === t ? cursorOn.rec : null;
  }
  function shownOf(t: Target): Shown {
    return cursorOn?.t === t ? view : t;
  }
  if (rec) {
    const firstLine = rec.frames.findIndex((f) => f.line);
    const first = firstLine >= 0 ? frameSample(rec, firstLine) : null;
    targets.set(rec.header.pid, {
      pid: rec.header.pid,
      title: first ? first.target.argv.slice(1).join(' ') || first.target.title : '',
      feed: null,
      actions: {},
      sample: null,
      prev: null,
      hist: newHistory(),
      rttMs: null,
      answeredAtMs: null,
      error: null,
      backoffMs: null,
      timeline: rec,
      live: null,
    });
    cursorOn = { t: targets.get(rec.header.pid)!, rec };
  }
  /** Moves the cursor to frame `i`: the sample then, the one before it, the charts up to it. */
  function showFrame(i: number): void {
    if (!cursorOn) return;
    const r = cursorOn.rec;
    cursor = Math.max(0, Math.min(r.frames.length - 1, i));
    cursorAt = r.frames[cursor]!.at;
    firstAt = r.frames[0]?.at;
    // forward a little: push the frames between; anywhere else: the charts again, from their start
    if (cursor <= histUpTo || cursor - histUpTo > HISTORY_POINTS) {
      view.hist = newHistory();
      view.hist.workers = new Map();
      histUpTo = Math.max(-1, cursor - HISTORY_POINTS);
    }
    for (let k = histUpTo + 1; k <= cursor; k++) {
      const f = r.frames[k]!;
      if (f.points) pushPoints(view.hist, f.points, f.at);
      else pushGap(view.hist, f.at);
    }
    histUpTo = cursor;
    // the sample shown is the last that answered (a failed one keeps it, with its age)
    let shown = cursor;
    while (shown > 0 && !r.frames[shown]!.line) shown--;
    let before = shown - 1;
    while (before >= 0 && !r.frames[before]!.line) before--;
    view.sample = frameSample(r, shown);
    view.prev = before >= 0 ? frameSample(r, before) : null;
    view.error = r.frames[cursor]!.error;
    view.rttMs = r.frames[shown]!.rttMs;
    view.answeredAtMs = r.frames[shown]!.line ? r.frames[shown]!.at : null;
  }
  /** The live view scrolls back: the cursor takes its own timeline, at its newest frame. */
  const cursorFor = (): { t: Target; rec: Recording } | null => {
    if (cursorOn) return cursorOn;
    const t = current();
    if (!t) return null;
    if (!t.timeline || t.timeline.frames.length === 0) {
      say(t.timeline ? 'no samples yet to go back to' : 'the overview keeps no history: open one process (nodetop attach <pid>) to scroll back', 'info');
      return null;
    }
    cursorOn = { t, rec: t.timeline };
    histUpTo = -1;
    cursor = t.timeline.frames.length - 1;
    return cursorOn;
  };
  /** Back to the live numbers. */
  const leaveHistory = (): void => {
    cursorOn = null;
    histUpTo = -1;
    say('live again', 'info');
  };
  function stopPlay(): void {
    if (play) clearInterval(play.timer);
    play = null;
  }
  const startPlay = (): void => {
    if (!rec) return;
    stopPlay();
    if (cursor >= rec.frames.length - 1) showFrame(0);
    const p = {
      fromAt: rec.frames[cursor]!.at,
      realStart: Date.now(),
      timer: setInterval(() => {
        const at = p.fromAt + (Date.now() - p.realStart) * REPLAY_SPEEDS[speedIndex]!;
        const i = frameAt(rec, at);
        if (i !== cursor) showFrame(i);
        if (cursor >= rec.frames.length - 1) {
          stopPlay();
          say(`end of the recording${rec.end ? '' : ' (it stops short: its end line is missing)'}`, 'info');
        }
        draw();
      }, 100),
    };
    play = p;
  };
  /** A new speed goes on from the time on screen. */
  const setSpeed = (dir: 1 | -1): void => {
    const playing = play !== null;
    stopPlay();
    speedIndex = Math.max(0, Math.min(REPLAY_SPEEDS.length - 1, speedIndex + dir));
    if (playing) startPlay();
    say(`plays at ${REPLAY_SPEEDS[speedIndex]}x`, 'info');
  };
  const moveCursor = (i: number): void => {
    stopPlay();
    // the live view past its newest frame: live again
    if (!rec && cursorOn && i > cursorOn.rec.frames.length - 1) {
      leaveHistory();
      return draw();
    }
    showFrame(i);
    draw();
  };
  if (rec) {
    showFrame(0);
    const ends = rec.end ? '' : ' It stops short (no end line: the recorder was killed, or the file was cut).';
    st.message = {
      text: `replay of pid ${rec.header.pid}, recorded ${rec.header.startedAt.slice(0, 19).replace('T', ' ')} UTC: space plays, ←/→ step, [ ] events, ? keys.${ends}`,
      level: rec.end ? 'info' : 'warn',
    };
  }

  // ages and "no answer for N s" go on while a sample waits on a target that does not answer.
  // A quarter-second clock that draws 1.25 s after the last draw: one a second checking for
  // 1 s since the last draw drew twice about one second in ten at an interval of 1 s (samples
  // come a few ms late), 67 draws a minute where 60 were needed.
  const ageClock = setInterval(() => {
    if (Date.now() - lastDraw >= 1250) draw();
  }, 250);

  let busy = false;
  let actionStarted = 0;
  const act = async (label: string, fn: () => Promise<string>): Promise<void> => {
    if (busy) return say(`${label}: another action is still running`, 'warn');
    busy = true;
    say(`${label}…`, 'info');
    // the clock of a progress line goes on while the target is frozen and no sample comes
    actionStarted = Date.now();
    const clock = setInterval(() => {
      if (!st.progress) return;
      st.progress.elapsedMs = Date.now() - actionStarted;
      draw();
    }, 500);
    const t = current();
    const kind: EventKind = label.startsWith('snapshot') ? 'snapshot' : 'gc';
    try {
      const result = await fn();
      say(result, 'good');
      note(t, kind, 'info', result);
    } catch (e) {
      say(`${label} failed: ${e instanceof Error ? e.message : String(e)}`, 'bad');
      note(t, kind, 'warn', `${label} failed: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      clearInterval(clock);
      st.progress = null;
      busy = false;
      // a GC or a snapshot changed the heaps: the next sample reads every worker again
      current()?.feed?.sampler.readAllWorkersNext();
      draw();
    }
  };

  const current = (): Target | undefined => (viewing !== null ? targets.get(viewing) : undefined);
  const selectedWorker = (): number | null => {
    const t = current();
    return workerOnPage(t ? shownOf(t).sample : null, st)?.threadId ?? null;
  };
  const inOverview = (): boolean => viewing === null;

  // A key that answers a question (the exit, a confirmation) is not also a command: the
  // keypress handler runs before the key handlers and marks the key as used.
  let consumed = false;
  let askYes = opts.yes === true;
  let pending: (() => void) | null = null;
  screen.on('keypress', (_ch: unknown, key: { full?: string; name?: string }) => {
    consumed = false;
    if (st.exited && !multi) {
      consumed = true;
      stop(ExitCode.TargetExited);
      return;
    }
    if (st.filtering) {
      consumed = true;
      if (key.name === 'enter') st.filtering = false;
      else if (key.name === 'escape') {
        st.filtering = false;
        st.filter = '';
      } else if (key.name === 'backspace') st.filter = st.filter.slice(0, -1);
      else if (typeof _ch === 'string' && _ch.length === 1 && _ch >= ' ' && _ch !== '\x7f') st.filter += _ch;
      st.selectedKey = null;
      st.selected = 0;
      draw();
      return;
    }
    if (st.confirm) {
      consumed = true;
      const run = pending;
      st.confirm = null;
      pending = null;
      if (key.full === 'y' || key.full === 'a') {
        if (key.full === 'a') askYes = true;
        run?.();
      } else say('cancelled: nothing was done to the target', 'info');
      draw();
    }
  });
  const onKey = (keys: string[], fn: (ch: unknown, key: { name?: string; full?: string }) => void): void => {
    screen.key(keys, (ch: unknown, key: { name?: string; full?: string }) => {
      if (!consumed) fn(ch, key);
    });
  };
  /** Runs `fn` now, or after y at a question that says what it costs. */
  const confirmFirst = (question: { question: string; cost: string }, fn: () => void): void => {
    if (askYes) return fn();
    pending = fn;
    st.confirm = question;
    draw();
  };

  onKey(['q', 'C-c'], () => stop(ExitCode.Ok));
  onKey(['p', 'space'], () => {
    if (rec) {
      if (play) stopPlay();
      else startPlay();
      return draw();
    }
    st.paused = !st.paused;
    draw();
  });
  // the time cursor: a sample, a minute, the ends, the events. In the live view the first key
  // back stops at its newest sample (sampling goes on); past the newest it is live again.
  const minute = (r: Recording, dir: 1 | -1): number => {
    const i = frameAt(r, r.frames[cursor]!.at + dir * 60_000);
    return dir > 0 ? Math.max(i, cursor + 1) : Math.min(i, cursor - 1);
  };
  /** `enters`: the key scrolls the live view back (forward keys do nothing while it is live). */
  const cursorKey = (keys: string[], to: (r: Recording) => number, enters = true): void =>
    onKey(keys, () => {
      if (inOverview() || (!enters && !cursorOn)) return;
      const c = cursorFor();
      if (c) moveCursor(to(c.rec));
    });
  cursorKey(['left'], () => cursor - 1);
  cursorKey(['right'], () => cursor + 1, false);
  cursorKey(['pageup'], (r) => minute(r, -1));
  cursorKey(['pagedown'], (r) => minute(r, 1), false);
  cursorKey(['home'], () => 0);
  onKey(['end'], () => {
    if (inOverview() || !cursorOn) return;
    moveCursor(rec ? cursorOn.rec.frames.length - 1 : Infinity);
  });
  const jump = (dir: 1 | -1): void => {
    if (inOverview()) return;
    const entered = cursorOn === null;
    const c = cursorFor();
    if (!c) return;
    const i = eventFrame(c.rec, entered && dir < 0 ? cursor + 1 : cursor, dir);
    if (i === null) {
      if (entered) leaveHistory();
      return say(dir > 0 ? 'no event after this' : 'no event before this', 'info');
    }
    moveCursor(i);
    // the first event that came with this sample, and how many more did
    const here = c.rec.events.filter((_e, k) => c.rec.eventFrames[k] === i);
    if (here[0]) say(`event: ${here[0].text}${here.length > 1 ? ` (and ${here.length - 1} more)` : ''}`, here[0].level);
  };
  onKey(['[', 'S-n'], () => jump(-1));
  onKey([']', 'n'], () => jump(1));
  const setInterval_ = (ms: number): void => {
    st.intervalMs = ms;
    for (const t of targets.values()) {
      t.backoffMs = null;
      if (t.feed) t.feed.backoffMs = null;
    }
    say(`sampling every ${formatInterval(ms)}`, 'info');
    // at once: the next tick is one new interval after the last began (now, if that is past)
    schedule();
  };
  onKey(['+', '='], () => (rec ? setSpeed(1) : setInterval_(stepInterval(st.intervalMs, -1))));
  onKey(['-', '_'], () => (rec ? setSpeed(-1) : setInterval_(stepInterval(st.intervalMs, 1))));
  const setWindow = (dir: 1 | -1): void => {
    const i = WINDOWS_MS.findIndex((w) => w >= st.windowMs);
    st.windowMs = WINDOWS_MS[Math.min(WINDOWS_MS.length - 1, Math.max(0, (i < 0 ? WINDOWS_MS.length - 1 : i) + dir))]!;
    say(`charts show the last ${formatInterval(st.windowMs)}`, 'info');
  };
  onKey(['<', ','], () => setWindow(-1));
  onKey(['>', '.'], () => setWindow(1));
  const showPage = (id: PageId): void => {
    st.page = id;
    st.selected = 0;
    st.selectedKey = null;
    st.detail = null;
    st.filter = '';
    // the rows may be a few seconds old (worker reads are rationed): whoever turns to the page
    // gets them read at the next tick
    if (id === 'workers') current()?.feed?.sampler.readAllWorkersNext();
  };
  for (const pg of PAGES) {
    onKey([pg.key], () => {
      if (inOverview()) return;
      showPage(pg.id);
      st.help = false;
      draw();
    });
  }
  onKey(['tab'], () => {
    if (inOverview()) return;
    const i = PAGES.findIndex((x) => x.id === st.page);
    showPage(PAGES[(i + 1) % PAGES.length]!.id);
    draw();
  });
  onKey(['s'], () => {
    if (inOverview()) {
      const i = SORT_KEYS.indexOf(ov.sortKey);
      ov.sortKey = SORT_KEYS[(i + 1) % SORT_KEYS.length]!;
    } else {
      st.sort[st.page]++;
      const names: Partial<Record<PageId, readonly string[]>> = { handles: HANDLE_SORTS, sockets: SOCKET_SORTS, workers: WORKER_SORTS };
      const list = names[st.page];
      if (list) say(`sorted by ${list[st.sort[st.page] % list.length]}`, 'info');
    }
    draw();
  });
  for (const key of SORT_KEYS) {
    onKey([key.length === 1 && key === key.toUpperCase() ? `S-${key.toLowerCase()}` : key], () => {
      if (!inOverview()) return;
      ov.sortKey = key;
      draw();
    });
  }
  const overviewRows = (): ProcessRow[] => {
    const rows: ProcessRow[] = [...targets.values()].map((x) => ({ pid: x.pid, title: '', sample: x.sample, note: null }));
    rows.push(...(opts.extraRows ?? []).filter((r) => !targets.has(r.pid)));
    return rows;
  };
  const move = (by: number): void => {
    const t = current();
    const rowsOf = PAGE_ROWS[st.page];
    if (inOverview()) ov.selectedPid = movePid(overviewRows(), ov, by);
    else if (st.page === 'events') st.selected = Math.max(0, st.selected - by); // up scrolls back
    else if (rowsOf && t && shownOf(t).sample && !st.detail) {
      // by key: the row stays selected when the list re-sorts
      const rows = filtered(rowsOf(shownOf(t).sample!, shownOf(t).prev, st, screen.width as number), st.filter);
      const i = Math.min(rows.length - 1, Math.max(0, selectedIndex(rows, st) + by));
      st.selected = Math.max(0, i);
      st.selectedKey = rows[i]?.key ?? null;
    } else st.selected = Math.max(0, st.selected + by);
    draw();
  };
  onKey(['up', 'k'], () => move(-1));
  onKey(['down', 'j'], () => move(1));
  onKey(['enter'], () => {
    if (!inOverview()) {
      const t = current();
      const rowsOf = PAGE_ROWS[st.page];
      const v = t ? shownOf(t) : null;
      if (!v?.sample || !rowsOf || !DRILLS.has(st.page) || st.detail) return;
      const rows = filtered(rowsOf(v.sample, v.prev, st, screen.width as number), st.filter);
      const key = rows[selectedIndex(rows, st)]?.key;
      if (key !== undefined && key !== '(omitted)') st.detail = { page: st.page, key };
      draw();
      return;
    }
    const pid = selectedPid(overviewRows(), ov);
    if (pid !== null && !targets.has(pid)) return say(`pid ${pid} has no inspector open: quit and run nodetop attach ${pid}`, 'warn');
    viewing = pid;
    st.page = 'overview';
    st.selected = 0;
    st.message = null;
    draw();
  });
  onKey(['?', 'h', 'escape'], (_ch, key) => {
    if (key.name === 'escape') {
      if (st.help) st.help = false;
      else if (st.detail) st.detail = null;
      else if (st.filter) st.filter = '';
      else if (cursorOn && !rec) leaveHistory();
      else if (multi) viewing = null;
    } else if (!inOverview()) st.help = !st.help;
    draw();
  });
  onKey(['/'], () => {
    if (inOverview() || !PAGE_ROWS[st.page] || st.detail) return;
    st.filtering = true;
    st.filter = '';
    draw();
  });
  // c on the Sockets and Pools pages: the heap census finds sockets and pools no request leads
  // to (a pool of idle keep-alive sockets); it costs two full GCs, so it asks first
  onKey(['c'], () => {
    const t = current();
    if (!t || (st.page !== 'sockets' && st.page !== 'pools')) return;
    if (opts.readonly || !t.feed) return readonlyRefusal();
    const feed = t.feed;
    const heap = t.sample?.memory.heapUsedBytes ?? 0;
    const gc = t.actions.estimate?.('gc', heap);
    confirmFirst(
      { question: `Run the heap census of sockets and pools in pid ${t.pid}?`, cost: `It walks the heap twice, and once more per copy of undici loaded (Runtime.queryObjects), each a full GC.${gc ? ` ${gc.replace(/^Heap used ([^:]+): a pause/, 'Heap used $1: each a pause')}` : ''}` },
      () => {
        feed.sampler.censusOnce = true;
        say('heap census: at the next sample…', 'info');
        schedule();
      },
    );
  });
  // the mouse: a click on a tab turns to it, a click on a row selects it, the wheel moves
  screen.enableMouse();
  screen.on('mouse', (data: { action?: string; x?: number; y?: number }) => {
    if (st.confirm || st.filtering || (st.exited && !multi)) return;
    if (data.action === 'wheelup') return move(-1);
    if (data.action === 'wheeldown') return move(1);
    if (data.action !== 'mousedown' || data.x === undefined || data.y === undefined) return;
    const text = stripTags(lastLines[data.y] ?? '');
    if (inOverview()) {
      const pid = /^\s*(\d+) /.exec(text);
      if (pid && overviewRows().some((r) => r.pid === Number(pid[1]))) ov.selectedPid = Number(pid[1]);
      return draw();
    }
    if (data.y === 2) {
      // the tabs: " 1 Overview  2 Handles ..." each two wider than its label
      let x = 0;
      for (const pg of PAGES) {
        const w = pg.key.length + pg.title.length + 3;
        if (data.x >= x && data.x < x + w) {
          showPage(pg.id);
          st.help = false;
          return draw();
        }
        x += w;
      }
      return;
    }
    const t = current();
    const rowsOf = PAGE_ROWS[st.page];
    const v = t ? shownOf(t) : null;
    if (!v?.sample || !rowsOf || st.detail || !text.trim()) return;
    const rows = filtered(rowsOf(v.sample, v.prev, st, screen.width as number), st.filter);
    const hit = rows.findIndex((r) => {
      const line = stripTags(r.line).trimEnd();
      return line.length > 0 && (text.trimEnd() === line || (text.length >= 20 && line.startsWith(text.trimEnd().replace(/…$/, ''))));
    });
    if (hit >= 0) {
      st.selected = hit;
      st.selectedKey = rows[hit]!.key;
      draw();
    }
  });
  const readonlyRefusal = (): void =>
    say(rec ? 'a recording: there is no process to act on' : 'read-only: this key changes the target and is disabled (--readonly)', 'warn');
  /** Heap used of what a key acts on: the selected worker, every thread, or the main thread. */
  const heapOf = (t: Target, all: boolean, worker: number | null): number => {
    const s = t.sample;
    if (!s) return 0;
    const workers = s.workers ?? [];
    if (all) return (s.memory.heapUsedBytes ?? 0) + workers.reduce((n, w) => n + (w.heapUsedBytes ?? 0), 0);
    if (worker !== null) return workers.find((w) => w.threadId === worker)?.heapUsedBytes ?? 0;
    return s.memory.heapUsedBytes ?? 0;
  };
  const question = (t: Target, what: 'gc' | 'snapshot', all: boolean, worker: number | null): { question: string; cost: string } => {
    const who = all ? 'every thread' : worker !== null ? `worker ${worker}` : 'the main thread';
    const verb = what === 'gc' ? `Force a full GC on ${who}` : `Write a heap snapshot of ${who}`;
    const cost = t.actions.estimate?.(what, heapOf(t, all, worker)) ?? '';
    return { question: `${verb} of pid ${t.pid}?`, cost };
  };
  const gcKey = (all: boolean): void => {
    const t = current();
    if (!t) return;
    if (opts.readonly || rec) return readonlyRefusal();
    const gc = t.actions.gc;
    if (!gc) return;
    const worker = all ? null : selectedWorker();
    confirmFirst(question(t, 'gc', all, worker), () => void act(all ? 'GC (all threads)' : 'GC', () => gc(all, worker)));
  };
  onKey(['g'], () => gcKey(false));
  onKey(['S-g'], () => gcKey(true));
  onKey(['S-s'], () => {
    const t = current();
    if (!t) return;
    if (opts.readonly || rec) return readonlyRefusal();
    const snap = t.actions.snapshot;
    if (!snap) return say('heap snapshots are not available in this build', 'warn');
    const worker = selectedWorker();
    confirmFirst(question(t, 'snapshot', false, worker), () =>
      void act('snapshot', () =>
        snap(worker, ({ done, detail }) => {
          st.progress = { label: 'heap snapshot', done, detail, elapsedMs: Date.now() - actionStarted };
          draw();
        }),
      ),
    );
  });

  draw();
  // a replay has no sampler: its clock is the play timer, not a loop at the recorded interval
  if (!rec) loop.start();
  const code = await done;
  clearInterval(ageClock);
  // what the samplers installed in workers goes before the attachments detach
  await Promise.all([...targets.values()].map((t) => t.feed?.sampler.close().catch(() => undefined)));
  process.removeListener('uncaughtException', panic);
  restore();
  unregister();
  return code;
}

/** One-line result of a forced GC, for the status line. */
export function gcResultLine(before: number, after: number, pauseMs: number): string {
  return `GC: heap ${bytes(before)} -> ${bytes(after)}, freed ${bytes(Math.max(0, before - after))} in ${pauseMs.toFixed(0)} ms`;
}
