// The blessed side of the live view: the terminal's lifecycle (restored on every exit path,
// before anything is printed), the keys, and the tick loop. One sample and one render per
// tick; keys change the ViewState and re-render without sampling.
//
// Not here: what the screen says (render.ts and views/), how a sample is taken (sampler.ts).

import { ExitCode, NodetopError } from '../errors';
import type { Attachment } from '../inspector/attach';
import { onExit } from '../lifecycle';
import type { Sample } from '../model/sample';
import { Series } from '../model/series';
import { bytes } from '../model/units';
import * as proc from '../platform/proc';
import { Sampler } from '../sampler';
import { initialState, PAGES, renderScreen, type History, type Level, type PageId, type PageRenderer, type RenderOptions, type ViewState } from './render';
import { renderProcessesScreen, selectedPid, SORT_KEYS, type OverviewState, type ProcessRow } from './views/processes';
import { overviewPage } from './views/overview';
import { HANDLE_SORTS, handlesPage } from './views/handles';
import { poolsPage } from './views/pools';
import { SOCKET_SORTS, socketsPage } from './views/sockets';
import { selectedWorker as workerOnPage, WORKER_SORTS, workersPage } from './views/workers';

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
}

export interface TuiOptions {
  intervalMs: number;
  readonly: boolean;
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
}

const HISTORY = 300;
const DISCOVER_EVERY_MS = 2000;

function envColor(): boolean {
  return !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb';
}

function envUnicode(): boolean {
  const loc = process.env.LC_ALL || process.env.LC_CTYPE || process.env.LANG || '';
  return /utf-?8/i.test(loc);
}

interface Target {
  att: Attachment;
  sampler: Sampler;
  actions: Actions;
  sample: Sample | null;
  prev: Sample | null;
  hist: History;
  rttMs: number | null;
  error: string | null;
  /** Interval this target asked for by being slow; null when not backing off. */
  backoffMs: number | null;
  /** Sockets and pools from the last sample that walked them (they are walked less often). */
  lastNet: Pick<Sample, 'sockets' | 'httpPools'> | null;
  ticks: number;
}

/** Sockets and pools are walked on every tick of the pages that show them, else every 5th. */
const NET_EVERY = 5;

function newHistory(): History {
  return { heapUsed: new Series(HISTORY), lagP99: new Series(HISTORY), elu: new Series(HISTORY), cpu: new Series(HISTORY), rss: new Series(HISTORY) };
}

/**
 * Runs the live view until the user quits or the targets go. One target opens its full view;
 * several (or a cluster) open the overview, Enter opens a row's full view and Esc comes back.
 * Resolves with the exit code. The caller detaches.
 */
export async function runTui(initial: Attachment[], opts: TuiOptions): Promise<number> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const blessed = require('blessed') as typeof import('blessed');
  const unicode = envUnicode();
  const color = envColor();
  const screen = blessed.screen({ smartCSR: true, fullUnicode: unicode, title: 'nodetop', warnings: false, autoPadding: false });
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

  const multi = initial.length > 1 || opts.overview === true || opts.discover !== undefined;
  const st: ViewState = initialState(opts.intervalMs);
  const ov: OverviewState = { sortKey: 'c', selected: 0, message: null, paused: false, intervalMs: opts.intervalMs };
  const pages: Record<PageId, PageRenderer> = {
    overview: overviewPage,
    handles: handlesPage,
    sockets: socketsPage,
    workers: workersPage,
    pools: poolsPage,
    ...opts.pages,
  };
  const targets = new Map<number, Target>();
  /** The pid whose full view is open; null in the overview. */
  let viewing: number | null = multi ? null : (initial[0]?.pid ?? null);

  let finish: (code: number) => void = () => undefined;
  const done = new Promise<number>((r) => (finish = r));
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const stop = (code: number): void => {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    finish(code);
  };

  const renderOpts = (): RenderOptions => ({ width: screen.width as number, height: screen.height as number, color, unicode, readonly: opts.readonly });
  const draw = (): void => {
    if (destroyed) return;
    const t = viewing !== null ? targets.get(viewing) : undefined;
    let lines: string[];
    if (t) {
      st.rttMs = t.rttMs;
      st.sampleError = t.error;
      st.backoffMs = t.backoffMs;
      lines = renderScreen(t.sample, t.prev, t.hist, st, renderOpts(), pages);
    } else {
      const rows: ProcessRow[] = [...targets.values()].map((x) => ({
        pid: x.att.pid,
        title: x.att.identity.argv.slice(1).join(' ') || x.att.identity.title,
        sample: x.sample,
        note: x.error ? 'not answering' : x.sample ? null : 'attaching',
        where: opts.where?.get(x.att.pid) ?? null,
      }));
      rows.push(...(opts.extraRows ?? []).filter((r) => !targets.has(r.pid)));
      ov.paused = st.paused;
      ov.intervalMs = st.intervalMs;
      lines = renderProcessesScreen(rows, ov, renderOpts(), opts.title ?? 'overview');
    }
    box.setContent(lines.join('\n'));
    screen.render();
  };
  screen.on('resize', draw);

  const say = (text: string, level: Level): void => {
    st.message = { text, level };
    ov.message = { text, level };
    draw();
  };

  const add = (att: Attachment): void => {
    if (targets.has(att.pid)) return;
    const sampler = new Sampler(att, { net: { top: 50, groups: 50 }, workers: true });
    const t: Target = { att, sampler, actions: opts.actions(att, sampler), sample: null, prev: null, hist: newHistory(), rttMs: null, error: null, backoffMs: null, lastNet: null, ticks: 0 };
    targets.set(att.pid, t);
    att.session.onClose(() => void closed(att));
  };
  const closed = async (att: Attachment): Promise<void> => {
    if (stopped || !targets.has(att.pid)) return;
    // the socket of a dying process closes a moment before the process is gone: settle first
    const alive = await proc.processExistsSettled(att.pid);
    if (stopped || !targets.has(att.pid)) return;
    const why = alive ? `the connection to pid ${att.pid} closed` : `pid ${att.pid} exited`;
    if (!multi) {
      // the single view stays on the screen with its last numbers and the news
      st.exited = why;
      draw();
      // leave the last screen up long enough to be read, then restore and exit
      setTimeout(() => stop(ExitCode.TargetExited), 1500);
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

  const sampleOne = async (t: Target): Promise<void> => {
    try {
      const showsNet = viewing === t.att.pid && (st.page === 'sockets' || st.page === 'pools');
      t.sampler.includeNet = showsNet || t.ticks++ % NET_EVERY === 0;
      const s = await t.sampler.sample();
      if (s.sockets || s.httpPools) t.lastNet = { sockets: s.sockets, httpPools: s.httpPools };
      else if (t.lastNet) {
        s.sockets = t.lastNet.sockets;
        s.httpPools = t.lastNet.httpPools;
      }
      t.prev = t.sample;
      t.sample = s;
      t.error = null;
      t.rttMs = t.sampler.lastRoundTripMs;
      t.hist.heapUsed.push(s.memory.heapUsedBytes);
      t.hist.lagP99.push(s.eventLoop.lagMs?.p99);
      t.hist.elu.push(s.eventLoop.utilization);
      t.hist.cpu.push(s.process.cpuPercent);
      t.hist.rss.push(s.process.rssBytes);
      // Back off when serving us costs the target: a slow round trip means its main thread
      // is busy, and our sample waits in line with its work.
      const rtt = t.rttMs ?? 0;
      const every = t.backoffMs ?? st.intervalMs;
      if (rtt > Math.max(50, every * 0.1)) t.backoffMs = Math.min(st.intervalMs * 8, every * 2);
      else if (t.backoffMs !== null && rtt < 10) t.backoffMs = null;
    } catch (e) {
      if (t.att.gone || (e instanceof NodetopError && e.exitCode === ExitCode.TargetExited)) return; // onClose handles it
      t.error = e instanceof Error ? e.message : String(e);
      for (const series of Object.values(t.hist)) (series as Series).push(null);
    }
  };

  let lastDiscover = 0;
  const tick = async (): Promise<void> => {
    if (stopped) return;
    const started = Date.now();
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
      await Promise.all([...targets.values()].map((t) => (t.backoffMs && started - (t.sample ? Date.parse(t.sample.time) : 0) < t.backoffMs ? undefined : sampleOne(t))));
    }
    draw();
    if (!stopped) timer = setTimeout(() => void tick(), Math.max(0, st.intervalMs - (Date.now() - started)));
  };

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
    try {
      say(await fn(), 'good');
    } catch (e) {
      say(`${label} failed: ${e instanceof Error ? e.message : String(e)}`, 'bad');
    } finally {
      clearInterval(clock);
      st.progress = null;
      busy = false;
      // a GC or a snapshot changed the heaps: the next sample reads every worker again
      current()?.sampler.readAllWorkersNext();
      draw();
    }
  };

  const current = (): Target | undefined => (viewing !== null ? targets.get(viewing) : undefined);
  const selectedWorker = (): number | null => {
    const t = current();
    return workerOnPage(t?.sample ?? null, st)?.threadId ?? null;
  };
  const inOverview = (): boolean => viewing === null;

  screen.key(['q', 'C-c'], () => stop(ExitCode.Ok));
  screen.key(['p', 'space'], () => {
    st.paused = !st.paused;
    draw();
  });
  screen.key(['+', '='], () => {
    st.intervalMs = Math.max(250, st.intervalMs / 2);
    for (const t of targets.values()) t.backoffMs = null;
    draw();
  });
  screen.key(['-', '_'], () => {
    st.intervalMs = Math.min(60_000, st.intervalMs * 2);
    draw();
  });
  const showPage = (id: PageId): void => {
    st.page = id;
    st.selected = 0;
    // the rows may be a few seconds old (worker reads are rationed): whoever turns to the page
    // gets them read at the next tick
    if (id === 'workers') current()?.sampler.readAllWorkersNext();
  };
  for (const pg of PAGES) {
    screen.key([pg.key], () => {
      if (inOverview()) return;
      showPage(pg.id);
      st.help = false;
      draw();
    });
  }
  screen.key(['tab'], () => {
    if (inOverview()) return;
    const i = PAGES.findIndex((x) => x.id === st.page);
    showPage(PAGES[(i + 1) % PAGES.length]!.id);
    draw();
  });
  screen.key(['s'], () => {
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
    screen.key([key.length === 1 && key === key.toUpperCase() ? `S-${key.toLowerCase()}` : key], () => {
      if (!inOverview()) return;
      ov.sortKey = key;
      ov.selected = 0;
      draw();
    });
  }
  screen.key(['up', 'k'], () => {
    if (inOverview()) ov.selected = Math.max(0, ov.selected - 1);
    else st.selected = Math.max(0, st.selected - 1);
    draw();
  });
  screen.key(['down', 'j'], () => {
    if (inOverview()) ov.selected = Math.min(Math.max(0, targets.size + (opts.extraRows?.length ?? 0) - 1), ov.selected + 1);
    else st.selected++;
    draw();
  });
  screen.key(['enter'], () => {
    if (!inOverview()) return;
    const rows: ProcessRow[] = [...targets.values()].map((x) => ({ pid: x.att.pid, title: '', sample: x.sample, note: null }));
    rows.push(...(opts.extraRows ?? []).filter((r) => !targets.has(r.pid)));
    const pid = selectedPid(rows, ov);
    if (pid !== null && !targets.has(pid)) return say(`pid ${pid} has no inspector open: quit and run nodetop attach ${pid}`, 'warn');
    viewing = pid;
    st.page = 'overview';
    st.selected = 0;
    st.message = null;
    draw();
  });
  screen.key(['?', 'h', 'escape'], (_ch: unknown, key: { name?: string }) => {
    if (key.name === 'escape') {
      if (st.help) st.help = false;
      else if (multi) viewing = null;
    } else if (!inOverview()) st.help = !st.help;
    draw();
  });
  const readonlyRefusal = (): void => say('read-only: this key changes the target and is disabled (--readonly)', 'warn');
  screen.key(['g'], () => {
    const t = current();
    if (!t) return;
    if (opts.readonly) return readonlyRefusal();
    const gc = t.actions.gc;
    if (gc) void act('GC', () => gc(false, selectedWorker()));
  });
  screen.key(['S-g'], () => {
    const t = current();
    if (!t) return;
    if (opts.readonly) return readonlyRefusal();
    const gc = t.actions.gc;
    if (gc) void act('GC (all threads)', () => gc(true, null));
  });
  screen.key(['S-s'], () => {
    const t = current();
    if (!t) return;
    if (opts.readonly) return readonlyRefusal();
    const snap = t.actions.snapshot;
    if (!snap) return say('heap snapshots are not available in this build', 'warn');
    void act('snapshot', () =>
      snap(selectedWorker(), ({ done, detail }) => {
        st.progress = { label: 'heap snapshot', done, detail, elapsedMs: Date.now() - actionStarted };
        draw();
      }),
    );
  });

  draw();
  void tick();
  const code = await done;
  // what the samplers installed in workers goes before the attachments detach
  await Promise.all([...targets.values()].map((t) => t.sampler.close().catch(() => undefined)));
  process.removeListener('uncaughtException', panic);
  restore();
  unregister();
  return code;
}

/** One-line result of a forced GC, for the status line. */
export function gcResultLine(before: number, after: number, pauseMs: number): string {
  return `GC: heap ${bytes(before)} -> ${bytes(after)}, freed ${bytes(Math.max(0, before - after))} in ${pauseMs.toFixed(0)} ms`;
}
