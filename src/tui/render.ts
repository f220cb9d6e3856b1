// The live view as text: pure functions from (sample, history, view state, terminal size) to the
// lines of the screen, with blessed colour tags. No blessed here: app.ts owns the terminal and
// renders these lines once per tick; tests render them at 80x24 and read them.
//
// Each page is a view in views/; this file draws the frame around them (header, tabs, status,
// footer) and decides colours by thresholds.

import type { TargetEvent } from '../model/events';
import type { Sample } from '../model/sample';
import { exposedWarning } from '../loopback';
import { bytes, duration, percent, printable } from '../model/units';
import { Series, type ChartPoints } from '../model/series';
import { levelFor, THRESHOLDS } from '../model/events';

export { levelFor, THRESHOLDS };

export type PageId = 'overview' | 'handles' | 'sockets' | 'workers' | 'pools' | 'events';

export const PAGES: Array<{ id: PageId; key: string; title: string }> = [
  { id: 'overview', key: '1', title: 'Overview' },
  { id: 'handles', key: '2', title: 'Handles' },
  { id: 'sockets', key: '3', title: 'Sockets' },
  { id: 'workers', key: '4', title: 'Workers' },
  { id: 'pools', key: '5', title: 'Pools' },
  { id: 'events', key: '6', title: 'Events' },
];

export interface RenderOptions {
  width: number;
  height: number;
  color: boolean;
  /**
   * Colours the terminal has: 256 (a grey for dim text), 8 or 16 (dim text in the default
   * colour: blessed turns grey into black there), 0 (NO_COLOR: warnings get a mark, ! or !!).
   * Default 8 when color is true.
   */
  colors?: number;
  unicode: boolean;
  readonly: boolean;
  /** A recording is shown (nodetop replay): the keys of its time cursor. */
  replay?: boolean;
}

export interface History {
  heapUsed: Series;
  heapTotal: Series;
  lagP99: Series;
  lagMax: Series;
  elu: Series;
  cpu: Series;
  rss: Series;
  /** Each worker's own (rss and cpu stay empty: a thread has neither). */
  workers?: Map<number, History>;
}

export function newHistory(capacity?: number): History {
  const n = (): Series => new Series(capacity);
  return { heapUsed: n(), heapTotal: n(), lagP99: n(), lagMax: n(), elu: n(), cpu: n(), rss: n() };
}

/**
 * A sample's readings into the charts' history at `atMs` (nodetop's clock when it arrived): the
 * live view as samples come, a replay as its cursor moves. A worker's rationed reading is as old
 * as it is (one point per reading); a worker no longer there loses its charts.
 */
export function pushPoints(h: History, p: ChartPoints, atMs: number): void {
  h.heapUsed.push(p.heapUsed, atMs);
  h.heapTotal.push(p.heapTotal, atMs);
  h.lagP99.push(p.lagP99, atMs);
  h.lagMax.push(p.lagMax, atMs);
  h.elu.push(p.elu, atMs);
  h.cpu.push(p.cpu, atMs);
  h.rss.push(p.rss, atMs);
  h.workers ??= new Map();
  for (const [id, at, heapUsed, heapTotal, lagP99, lagMax, elu] of p.workers ?? []) {
    let wh = h.workers.get(id);
    if (!wh) h.workers.set(id, (wh = newHistory()));
    if (wh.heapUsed.lastTime() === at) continue;
    wh.heapUsed.push(heapUsed, at);
    wh.heapTotal.push(heapTotal, at);
    wh.lagP99.push(lagP99, at);
    wh.lagMax.push(lagMax, at);
    wh.elu.push(elu, at);
  }
  for (const id of [...h.workers.keys()]) if (!(p.workers ?? []).some((w) => w[0] === id)) h.workers.delete(id);
}

/** A sample that failed: a gap in every chart, never a zero. */
export function pushGap(h: History, atMs: number): void {
  for (const series of [h.heapUsed, h.heapTotal, h.lagP99, h.lagMax, h.elu, h.cpu, h.rss]) series.push(null, atMs);
}

export type Level = 'info' | 'good' | 'warn' | 'bad';

export interface ViewState {
  page: PageId;
  paused: boolean;
  intervalMs: number;
  /** Interval nodetop chose itself because the target was struggling; null when not backing off. */
  backoffMs: number | null;
  sort: Record<PageId, number>;
  selected: number;
  /** The selected row's key on a list page (null: by index); see views/lists.ts. */
  selectedKey: string | null;
  /** `/`: the text rows must hold, and whether it is being typed. */
  filter: string;
  filtering: boolean;
  /** Enter on a row: the page and the key of what is opened (Esc closes it). */
  detail: { page: PageId; key: string } | null;
  help: boolean;
  message: { text: string; level: Level } | null;
  /**
   * A long action in progress (snapshot): its label, how far it is in 0..1 (null when nobody can
   * say: V8 gives no percentage when the target writes the file itself), what it is doing, and
   * for how long it has been at it.
   */
  progress: { label: string; done: number | null; detail: string; elapsedMs: number } | null;
  rttMs: number | null;
  sampleError: string | null;
  exited: string | null;
  /** nodetop's clock at this render, and when the shown sample arrived (ms since the epoch). */
  nowMs: number;
  answeredAtMs: number | null;
  /** The charts' time window. */
  windowMs: number;
  /** The events of the target shown, oldest first. */
  events: TargetEvent[];
  /** The pid shown, before its first sample. */
  pid?: number;
  /** A question waiting for y/n (a GC or a snapshot freezes the target), and what it costs. */
  confirm: { question: string; cost: string } | null;
  /** A replay's cursor: the time of the sample shown, which sample of how many, playing at what speed. */
  replay?: { atMs: number; index: number; count: number; playing: boolean; speed: number; live?: boolean } | null;
}

/** The speeds a replay plays at (+ and - step through them). */
export const REPLAY_SPEEDS = [1, 10, 60];

export function initialState(intervalMs: number): ViewState {
  return {
    page: 'overview',
    paused: false,
    intervalMs,
    backoffMs: null,
    sort: { overview: 0, handles: 0, sockets: 0, workers: 0, pools: 0, events: 0 },
    selected: 0,
    selectedKey: null,
    filter: '',
    filtering: false,
    detail: null,
    help: false,
    message: null,
    progress: null,
    rttMs: null,
    sampleError: null,
    exited: null,
    nowMs: Date.now(),
    answeredAtMs: null,
    windowMs: 5 * 60_000,
    events: [],
    confirm: null,
  };
}

/** The sampling intervals + and - step through. */
export const INTERVALS_MS = [250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000];

/** The next interval up (+1: slower) or down (-1: faster) the ladder, from any value. */
export function stepInterval(current: number, dir: 1 | -1): number {
  if (dir < 0) return [...INTERVALS_MS].reverse().find((v) => v < current) ?? INTERVALS_MS[0]!;
  return INTERVALS_MS.find((v) => v > current) ?? INTERVALS_MS[INTERVALS_MS.length - 1]!;
}

/** "250 ms", "1 s", "2.5 s", "1 min". */
export function formatInterval(msValue: number): string {
  if (msValue < 1000) return `${Math.round(msValue)} ms`;
  if (msValue < 60_000) return `${Number((msValue / 1000).toFixed(1))} s`;
  return `${Number((msValue / 60_000).toFixed(1))} min`;
}

/** The chart windows < and > step through: at least ten minutes at 1 s are kept. */
export const WINDOWS_MS = [60_000, 5 * 60_000, 10 * 60_000, 30 * 60_000, 60 * 60_000];

/** How old a value is, when it is older than two intervals: " (12 s old)"; else "". */
export function ageNote(st: ViewState): string {
  if (st.answeredAtMs === null) return '';
  const age = st.nowMs - st.answeredAtMs;
  const every = st.backoffMs ?? st.intervalMs;
  return age > 2 * every && age >= 1000 ? ` (${formatAge(age)} old)` : '';
}

export function formatAge(msValue: number): string {
  const s = Math.round(msValue / 1000);
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}

export interface Painter {
  paint(text: string, level: Level | 'dim' | 'bold' | 'inverse'): string;
  unicode: boolean;
  /** 0 (no colour: warnings are marked with ! and !!), 8 or 256. */
  colors: number;
}

const TAGS: Record<string, [string, string]> = {
  good: ['{green-fg}', '{/green-fg}'],
  warn: ['{yellow-fg}', '{/yellow-fg}'],
  bad: ['{red-fg}{bold}', '{/bold}{/red-fg}'],
  info: ['', ''],
  // grey 245 of the 256 palette; on 8 and 16 colours blessed turns every grey (8, 90) into
  // black (30), so there dim text keeps the terminal's own colour
  dim: ['{245-fg}', '{/245-fg}'],
  bold: ['{bold}', '{/bold}'],
  inverse: ['{inverse}', '{/inverse}'],
};

/** Without colour a warning needs a mark: "!" for a warning, "!!" for a problem. */
const MARKS: Record<string, string> = { warn: '!', bad: '!!' };

/** Marks a text without changing its width when it starts with spaces (a row), else after it. */
function mark(text: string, m: string): string {
  const lead = /^ */.exec(text)![0].length;
  return lead >= m.length ? m + text.slice(m.length) : text + m;
}

/** Escapes text for blessed tags. Every dynamic string goes through this once. */
export function esc(text: string): string {
  return printable(text).replace(/[{}]/g, (c) => (c === '{' ? '{open}' : '{close}'));
}

export function painter(opts: { color: boolean; colors?: number; unicode: boolean }): Painter {
  const colors = opts.color ? (opts.colors ?? 8) : 0;
  return {
    unicode: opts.unicode,
    colors,
    paint(text, level) {
      if (text === '') return text;
      if (colors === 0) {
        if (level === 'inverse' || level === 'bold') return `${TAGS[level]![0]}${text}${TAGS[level]![1]}`;
        return MARKS[level] && text.trim() ? mark(text, MARKS[level]!) : text;
      }
      if (level === 'dim' && colors < 256) return text;
      const t = TAGS[level] ?? ['', ''];
      return `${t[0]}${text}${t[1]}`;
    },
  };
}

/** Removes blessed tags: what a person sees, for tests and for plain output. */
export function stripTags(line: string): string {
  return line.replace(/\{(\/?[\w-]+|open|close)\}/g, (_m, name: string) => (name === 'open' ? '{' : name === 'close' ? '}' : ''));
}

const TAG = /\{(\/?[\w-]+|open|close)\}/y;

/** Visible length of a tagged line. */
export function visibleLength(line: string): number {
  // most lines of a chart have no tag: no regular expression, no copy
  if (!line.includes('{')) return line.length;
  // counted in place: a copy without the tags, of every coloured line every draw, was 118 KiB
  // of the ~1.5 MiB a draw allocated at 120x40
  let n = line.length;
  for (let i = line.indexOf('{'); i >= 0; i = line.indexOf('{', i + 1)) {
    TAG.lastIndex = i;
    if (!TAG.test(line)) continue;
    const len = TAG.lastIndex - i;
    // {open} and {close} stand for one character
    n -= line.startsWith('{open}', i) || line.startsWith('{close}', i) ? len - 1 : len;
    i = TAG.lastIndex - 1;
  }
  return n;
}

/** Pads or cuts a tagged line to exactly `width` visible characters. */
export function fit(line: string, width: number): string {
  const len = visibleLength(line);
  if (len <= width) return line + ' '.repeat(width - len);
  // cut: walk the line, keeping tags, counting visible characters
  let out = '';
  let seen = 0;
  const re = /\{(\/?[\w-]+|open|close)\}/y;
  for (let i = 0; i < line.length && seen < width - 1; ) {
    re.lastIndex = i;
    const m = re.exec(line);
    if (m) {
      out += m[0];
      i += m[0].length;
      if (m[1] === 'open' || m[1] === 'close') seen++;
      continue;
    }
    out += line[i];
    seen++;
    i++;
  }
  // close whatever was opened so the cut does not bleed colour
  const open = [...out.matchAll(/\{(?!\/)([\w-]+)\}/g)].map((m) => m[1]).filter((n) => n !== 'open' && n !== 'close');
  const closed = [...out.matchAll(/\{\/([\w-]+)\}/g)].map((m) => m[1]);
  for (const c of closed) {
    const i = open.lastIndexOf(c);
    if (i >= 0) open.splice(i, 1);
  }
  return `${out}…${open.reverse().map((n) => `{/${n}}`).join('')}`;
}

/** Left and right parts on one line of `width`, the left cut first. */
export function spread(left: string, right: string, width: number): string {
  const r = visibleLength(right);
  if (r + 1 >= width) return fit(left, width);
  return fit(left, width - r - 1) + ' ' + right;
}


function header(s: Sample | null, pid: number, st: ViewState, p: Painter, width: number): string[] {
  if (!s) return [spread(p.paint(`nodetop  pid ${pid}`, 'bold'), 'attaching…', width), '', tabs(st, p, width)];
  const t = s.target;
  const cmd = esc(t.argv.slice(1).join(' ') || t.title);
  const age = ageNote(st);
  // a target that does not answer: the header says so, and every number below carries its age
  const silent = age && !st.paused && !st.exited ? p.paint(`no answer for ${formatAge(st.nowMs - st.answeredAtMs!)}`, 'bad') : '';
  const line1 = spread(`${p.paint('nodetop', 'bold')}  pid ${p.paint(String(t.pid), 'bold')}  ${cmd}`, silent || `node ${esc(t.nodeVersion)}  up ${duration(t.uptimeSec)}`, width);
  const pr = s.process;
  const cpu = p.paint(`CPU ${percent(pr.cpuPercent, 0)}`, levelFor(pr.cpuPercent, THRESHOLDS.cpuPercent.warn, THRESHOLDS.cpuPercent.bad));
  const fdsRatio = pr.fds.open !== null && pr.fds.limit ? pr.fds.open / pr.fds.limit : null;
  const fds =
    pr.fds.open === null
      ? 'fds n/a'
      : p.paint(`fds ${pr.fds.open}/${pr.fds.limit ?? '∞'}`, levelFor(fdsRatio, THRESHOLDS.fdsOfLimit.warn, THRESHOLDS.fdsOfLimit.bad));
  const host = s.host
    ? `load ${s.host.loadAvg[0].toFixed(2)}  mem ${bytes(s.host.memAvailableBytes)} free/${bytes(s.host.memTotalBytes)}`
    : 'host n/a';
  const line2 = age ? spread(`${cpu}  RSS ${bytes(pr.rssBytes)}  ${fds}  ${host}`, p.paint(`values${age}`, 'warn'), width) : fit(`${cpu}  RSS ${bytes(pr.rssBytes)}  ${fds}  ${host}`, width);
  // an inspector off loopback is remote code execution for the network: a line of its own
  const exposed = t.inspector.exposedOn?.length ? [fit(p.paint(esc(exposedWarning(t.pid, t.inspector.exposedOn)), 'bad'), width)] : [];
  return [line1, ...exposed, line2, tabs(st, p, width)];
}

function tabs(st: ViewState, p: Painter, width: number): string {
  const left = PAGES.map((pg) => {
    const label = `${pg.key} ${pg.title}`;
    return pg.id === st.page ? p.paint(` ${label} `, 'inverse') : ` ${label} `;
  }).join('');
  if (st.replay) {
    const r = st.replay;
    // UTC, as the event log's times
    const when = new Date(r.atMs).toISOString().slice(11, 19);
    // the live view scrolled back: its history, and the way back
    const text = r.live ? `history ${when} ${r.index + 1}/${r.count} (End: live)` : `${when} ${r.index + 1}/${r.count} ${r.playing ? `▶ ${r.speed}x` : `❚❚ ${r.speed}x`}`;
    return spread(left, p.paint(p.unicode ? text : text.replace('▶', '>').replace('❚❚', '||'), r.playing ? 'good' : 'warn'), width);
  }
  const every = st.backoffMs ? `every ${formatInterval(st.backoffMs)} (backed off)` : `every ${formatInterval(st.intervalMs)}`;
  const right = st.paused ? p.paint('PAUSED', 'warn') : visibleLength(left) + every.length + 1 > width ? every.replace(/^every /, '') : every;
  return spread(left, right, width);
}

function statusLine(st: ViewState, p: Painter, width: number): string {
  if (st.progress) {
    const { label, done, detail, elapsedMs } = st.progress;
    const tail = `${detail ? ` ${esc(detail)}` : ''}, ${(elapsedMs / 1000).toFixed(1)} s`;
    if (done === null) return fit(`${esc(label)}:${tail}`, width);
    const barWidth = Math.max(10, Math.min(40, width - label.length - tail.length - 8));
    const filled = Math.round(done * barWidth);
    const bar = (p.unicode ? '█' : '#').repeat(filled) + (p.unicode ? '░' : '.').repeat(barWidth - filled);
    return fit(`${esc(label)} [${bar}] ${Math.round(done * 100)}%${tail}`, width);
  }
  const cost = st.rttMs !== null ? `sample ${st.rttMs.toFixed(1)} ms` : '';
  if (st.exited) return spread(p.paint(`${esc(st.exited)}: the last numbers stay; any key quits`, 'bad'), cost, width);
  if (st.confirm) return fit(p.paint(`${esc(st.confirm.question)} [y/N, a: always]`, 'warn'), width);
  if (st.sampleError) return spread(p.paint(`sample failed: ${esc(st.sampleError)}`, 'warn'), cost, width);
  const msg = st.message ? p.paint(esc(st.message.text), st.message.level) : '';
  return spread(msg, p.paint(cost, 'dim'), width);
}

function footer(opts: RenderOptions, p: Painter, width: number): string {
  // the longest list of keys that fits
  const variants = opts.replay
    ? [
        'q quit  space play  +/- speed  ←/→ step  PgUp/PgDn minute  [ ] event  </> window  1-6 page  s sort  ? help',
        'q quit  space play  +/- speed  ←/→ step  [ ] event  </> window  1-6 page  ? help',
        'q quit space play +/- speed ←/→ step [ ] event ? help',
      ]
    : opts.readonly
    ? [
        'q quit  p pause  +/- interval  </> window  1-6 page  s sort  ↑↓ select  Enter open  / filter  ? help  (read-only)',
        'q quit  p pause  +/- interval  </> window  1-6 page  s sort  Enter open  / filter  ? help  (read-only)',
        'q quit p pause +/- rate </> window 1-6 page s sort / filter ? help (read-only)',
      ]
    : [
        'q quit  p pause  +/- interval  </> window  1-6 page  s sort  ↑↓ select  Enter open  / filter  g GC  G GC all  S snapshot  ? help',
        'q quit  p pause  +/- interval  </> window  1-6 page  s sort  Enter open  / filter  g GC  G all  S snapshot  ? help',
        'q quit p pause +/- rate </> window 1-6 page s sort g GC G all S snapshot ? help',
      ];
  const keys = variants.find((v) => v.length <= width) ?? variants[variants.length - 1]!;
  return fit(p.paint(p.unicode ? keys : keys.replace('↑↓', 'j/k').replace('←/→', 'Left/Right'), 'dim'), width);
}

/** Text in lines of at most `width` at spaces; a word longer than a line stays whole (fit cuts it). */
function wordWrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && visibleLength(line) + 1 + visibleLength(word) > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return line ? [...out, line] : out;
}

export type PageRenderer = (s: Sample, prev: Sample | null, hist: History, st: ViewState, p: Painter, width: number, height: number) => string[];

export function renderScreen(
  s: Sample | null,
  prev: Sample | null,
  hist: History,
  st: ViewState,
  opts: RenderOptions,
  pages: Record<PageId, PageRenderer>,
): string[] {
  const p = painter(opts);
  const w = Math.max(20, opts.width);
  const top = header(s, s?.target.pid ?? st.pid ?? 0, st, p, w);
  // a question takes the key line for what the action costs, wrapped whole (up to three lines):
  // cut at 80 columns it lost the very figure it asks about ("Heap used 5.43 …")
  const cost = st.confirm ? wordWrap(esc(st.confirm.cost), w).slice(0, 3).map((l) => fit(p.paint(l, 'warn'), w)) : [footer(opts, p, w)];
  const bottom = [statusLine(st, p, w), ...cost];
  const bodyHeight = Math.max(0, opts.height - top.length - bottom.length);
  let body: string[];
  if (st.help) body = helpLines(opts);
  else if (!s) body = ['', '  waiting for the first sample…'];
  else body = pages[st.page](s, prev, hist, st, p, w, bodyHeight);
  // a page that forgot esc() on the target's text must not break a line: printable() here too
  body = body.slice(0, bodyHeight).map((l) => fit(printable(l), w));
  while (body.length < bodyHeight) body.push(' '.repeat(w));
  const lines = [...top, ...body, ...bottom].slice(0, Math.max(0, opts.height));
  // laid out for at least 20 columns; a narrower terminal gets every line cut to its width
  return w > opts.width ? lines.map((l) => fit(l, Math.max(1, opts.width))) : lines;
}

export function helpLines(opts: RenderOptions): string[] {
  if (opts.replay) {
    return [
      'Keys (a recording: nodetop replay)',
      '  q, Ctrl-C     quit',
      '  space, p      play / pause',
      '  + / -         play faster / slower: 1x, 10x, 60x the recorded time',
      '  ←/→           one sample back / on (pauses)',
      '  PgUp / PgDn   a minute back / on',
      '  Home / End    the first / the last sample',
      '  [ / ]         the previous / the next event (also N and n)',
      '  < / >         charts: a shorter / longer time window (1 min to 1 h)',
      '  1..6, Tab     switch page: Overview, Handles, Sockets, Workers, Pools, Events',
      '  s             change the sort column of the page',
      '  ↑/↓, j/k      select a row; Enter opens it, Esc goes back; / filters',
      '  (GC, snapshot and census keys do nothing: there is no process)',
      '  ?, h, Esc     close this help',
    ];
  }
  const lines = [
    'Keys',
    '  q, Ctrl-C     quit (detaches; closes an inspector nodetop opened)',
    '  p, space      pause / resume sampling',
    '  + / -         sample more / less often (takes effect at once)',
    '  < / >         charts: a shorter / longer time window (1 min to 1 h)',
    '  1..6, Tab     switch page: Overview, Handles, Sockets, Workers, Pools, Events',
    '  s             change the sort column of the page',
    '  ↑/↓, j/k      select a row (the worker for g and S on the Workers page); the mouse too',
    '  Enter         open the selected row: a socket group\'s connections, a pool\'s origins,',
    '                a worker\'s charts; Esc goes back',
    '  /             filter the rows of the page (Esc clears)',
    '  c             Sockets and Pools: run the heap census (finds pools JavaScript cannot reach)',
    '  ←/→, PgUp/PgDn  back over this session\'s samples (a sample, a minute), Home: the first;',
    '  [ / ]         the previous / next event; End, Esc or → past the newest: live again',
  ];
  if (!opts.readonly) {
    lines.push(
      '  g             force a full GC on the main thread (or the selected worker); asks first',
      '  G             force a full GC on every thread; asks first',
      '  S             write a heap snapshot (main thread, or the selected worker); asks first',
      '                (at the question: y does it, a does it and stops asking, --yes never asks)',
    );
  } else lines.push('  (read-only: GC and snapshot keys are disabled)');
  lines.push('  ?, h, Esc     close this help');
  return lines;
}
