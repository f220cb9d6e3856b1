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
import { initialState, PAGES, renderScreen, type History, type PageId, type PageRenderer, type ViewState } from './render';
import { overviewPage } from './views/overview';
import { HANDLE_SORTS, handlesPage } from './views/handles';
import { notSampledPage } from './views/pending';

export interface Actions {
  /** Forced GC; `all` for every thread. Resolves to a one-line result. */
  gc?(all: boolean, selectedWorker: number | null): Promise<string>;
  /** Heap snapshot with progress in 0..1; resolves to a one-line result. */
  snapshot?(selectedWorker: number | null, progress: (done: number) => void): Promise<string>;
}

export interface TuiOptions {
  intervalMs: number;
  readonly: boolean;
  actions: Actions;
  /** Extra pages supplied by samplers that are not part of every build. */
  pages?: Partial<Record<PageId, PageRenderer>>;
}

const HISTORY = 300;

function envColor(): boolean {
  return !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb';
}

function envUnicode(): boolean {
  const loc = process.env.LC_ALL || process.env.LC_CTYPE || process.env.LANG || '';
  return /utf-?8/i.test(loc);
}

/** Runs the live view until the user quits or the target goes. Resolves with the exit code. */
export async function runTui(att: Attachment, opts: TuiOptions): Promise<number> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const blessed = require('blessed') as typeof import('blessed');
  const unicode = envUnicode();
  const color = envColor();
  const screen = blessed.screen({ smartCSR: true, fullUnicode: unicode, title: `nodetop ${att.pid}`, warnings: false, autoPadding: false });
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

  const st: ViewState = initialState(opts.intervalMs);
  const hist: History = {
    heapUsed: new Series(HISTORY),
    lagP99: new Series(HISTORY),
    elu: new Series(HISTORY),
    cpu: new Series(HISTORY),
    rss: new Series(HISTORY),
  };
  const pages: Record<PageId, PageRenderer> = {
    overview: overviewPage,
    handles: handlesPage,
    sockets: notSampledPage('Sockets and TLS connections'),
    workers: notSampledPage('Worker threads'),
    pools: notSampledPage('HTTP client pools'),
    ...opts.pages,
  };
  let sample: Sample | null = null;
  let prev: Sample | null = null;

  const draw = (): void => {
    if (destroyed) return;
    const lines = renderScreen(sample, prev, hist, st, { width: screen.width as number, height: screen.height as number, color, unicode, readonly: opts.readonly }, pages);
    box.setContent(lines.join('\n'));
    screen.render();
  };
  screen.on('resize', draw);

  const sampler = new Sampler(att);
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

  const targetGone = (why: string): void => {
    st.exited = why;
    draw();
    // leave the last screen up long enough to be read, then restore and exit
    setTimeout(() => stop(ExitCode.TargetExited), 1500);
  };
  att.session.onClose(() => {
    if (stopped) return;
    targetGone(proc.processExists(att.pid) ? `the connection to pid ${att.pid} closed` : `pid ${att.pid} exited`);
  });

  const effectiveInterval = (): number => st.backoffMs ?? st.intervalMs;

  const tick = async (): Promise<void> => {
    if (stopped) return;
    const started = Date.now();
    if (!st.paused) {
      try {
        const s = await sampler.sample();
        prev = sample;
        sample = s;
        st.sampleError = null;
        st.rttMs = sampler.lastRoundTripMs;
        hist.heapUsed.push(s.memory.heapUsedBytes);
        hist.lagP99.push(s.eventLoop.lagMs?.p99);
        hist.elu.push(s.eventLoop.utilization);
        hist.cpu.push(s.process.cpuPercent);
        hist.rss.push(s.process.rssBytes);
        // Back off when serving us costs the target: a slow round trip means its main thread
        // is busy, and our sample waits in line with its work.
        const rtt = st.rttMs ?? 0;
        if (rtt > Math.max(50, effectiveInterval() * 0.1)) st.backoffMs = Math.min(st.intervalMs * 8, effectiveInterval() * 2);
        else if (st.backoffMs !== null && rtt < 10) st.backoffMs = null;
      } catch (e) {
        if (att.gone || (e instanceof NodetopError && e.exitCode === ExitCode.TargetExited)) return; // onClose handles it
        st.sampleError = e instanceof Error ? e.message : String(e);
        for (const series of Object.values(hist)) (series as Series).push(null);
      }
    }
    draw();
    if (!stopped) timer = setTimeout(() => void tick(), Math.max(0, effectiveInterval() - (Date.now() - started)));
  };

  const say = (text: string, level: ViewState['message'] extends infer M ? (M extends { level: infer L } ? L : never) : never): void => {
    st.message = { text, level };
    draw();
  };

  let busy = false;
  const act = async (label: string, fn: () => Promise<string>): Promise<void> => {
    if (busy) return say(`${label}: another action is still running`, 'warn');
    busy = true;
    say(`${label}…`, 'info');
    try {
      say(await fn(), 'good');
    } catch (e) {
      say(`${label} failed: ${e instanceof Error ? e.message : String(e)}`, 'bad');
    } finally {
      st.progress = null;
      busy = false;
      draw();
    }
  };

  const selectedWorker = (): number | null => null;

  screen.key(['q', 'C-c'], () => stop(ExitCode.Ok));
  screen.key(['p', 'space'], () => {
    st.paused = !st.paused;
    draw();
  });
  screen.key(['+', '='], () => {
    st.intervalMs = Math.max(250, st.intervalMs / 2);
    st.backoffMs = null;
    draw();
  });
  screen.key(['-', '_'], () => {
    st.intervalMs = Math.min(60_000, st.intervalMs * 2);
    draw();
  });
  for (const pg of PAGES) {
    screen.key([pg.key], () => {
      st.page = pg.id;
      st.selected = 0;
      st.help = false;
      draw();
    });
  }
  screen.key(['tab'], () => {
    const i = PAGES.findIndex((x) => x.id === st.page);
    st.page = PAGES[(i + 1) % PAGES.length]!.id;
    st.selected = 0;
    draw();
  });
  screen.key(['s'], () => {
    st.sort[st.page]++;
    if (st.page === 'handles') say(`sorted by ${HANDLE_SORTS[st.sort.handles % HANDLE_SORTS.length]}`, 'info');
    draw();
  });
  screen.key(['up', 'k'], () => {
    st.selected = Math.max(0, st.selected - 1);
    draw();
  });
  screen.key(['down', 'j'], () => {
    st.selected++;
    draw();
  });
  screen.key(['?', 'h', 'escape'], (_ch: unknown, key: { name?: string }) => {
    st.help = key.name === 'escape' ? false : !st.help;
    draw();
  });
  const readonlyRefusal = (): void => say('read-only: this key changes the target and is disabled (--readonly)', 'warn');
  screen.key(['g'], () => {
    if (opts.readonly) return readonlyRefusal();
    const gc = opts.actions.gc;
    if (gc) void act('GC', () => gc(false, selectedWorker()));
  });
  screen.key(['S-g'], () => {
    if (opts.readonly) return readonlyRefusal();
    const gc = opts.actions.gc;
    if (gc) void act('GC (all threads)', () => gc(true, null));
  });
  screen.key(['S-s'], () => {
    if (opts.readonly) return readonlyRefusal();
    const snap = opts.actions.snapshot;
    if (!snap) return say('heap snapshots are not available in this build', 'warn');
    void act('snapshot', () =>
      snap(selectedWorker(), (d) => {
        st.progress = { label: 'heap snapshot', done: d };
        draw();
      }),
    );
  });

  draw();
  void tick();
  const code = await done;
  process.removeListener('uncaughtException', panic);
  restore();
  unregister();
  return code;
}

/** One-line result of a forced GC, for the status line. */
export function gcResultLine(before: number, after: number, pauseMs: number): string {
  return `GC: heap ${bytes(before)} -> ${bytes(after)}, freed ${bytes(Math.max(0, before - after))} in ${pauseMs.toFixed(0)} ms`;
}
