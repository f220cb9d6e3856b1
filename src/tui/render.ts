// The live view as text: pure functions from (sample, history, view state, terminal size) to the
// lines of the screen, with blessed colour tags. No blessed here: app.ts owns the terminal and
// renders these lines once per tick; tests render them at 80x24 and read them.
//
// Each page is a view in views/; this file draws the frame around them (header, tabs, status,
// footer) and decides colours by thresholds.

import type { Sample } from '../model/sample';
import { bytes, duration, percent, printable } from '../model/units';
import type { Series } from '../model/series';

export type PageId = 'overview' | 'handles' | 'sockets' | 'workers' | 'pools';

export const PAGES: Array<{ id: PageId; key: string; title: string }> = [
  { id: 'overview', key: '1', title: 'Overview' },
  { id: 'handles', key: '2', title: 'Handles' },
  { id: 'sockets', key: '3', title: 'Sockets' },
  { id: 'workers', key: '4', title: 'Workers' },
  { id: 'pools', key: '5', title: 'Pools' },
];

export interface RenderOptions {
  width: number;
  height: number;
  color: boolean;
  unicode: boolean;
  readonly: boolean;
}

export interface History {
  heapUsed: Series;
  lagP99: Series;
  elu: Series;
  cpu: Series;
  rss: Series;
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
}

export function initialState(intervalMs: number): ViewState {
  return {
    page: 'overview',
    paused: false,
    intervalMs,
    backoffMs: null,
    sort: { overview: 0, handles: 0, sockets: 0, workers: 0, pools: 0 },
    selected: 0,
    help: false,
    message: null,
    progress: null,
    rttMs: null,
    sampleError: null,
    exited: null,
  };
}

export interface Painter {
  paint(text: string, level: Level | 'dim' | 'bold' | 'inverse'): string;
  unicode: boolean;
}

const TAGS: Record<string, [string, string]> = {
  good: ['{green-fg}', '{/green-fg}'],
  warn: ['{yellow-fg}', '{/yellow-fg}'],
  bad: ['{red-fg}{bold}', '{/bold}{/red-fg}'],
  info: ['', ''],
  dim: ['{gray-fg}', '{/gray-fg}'],
  bold: ['{bold}', '{/bold}'],
  inverse: ['{inverse}', '{/inverse}'],
};

/** Escapes text for blessed tags. Every dynamic string goes through this once. */
export function esc(text: string): string {
  return printable(text).replace(/[{}]/g, (c) => (c === '{' ? '{open}' : '{close}'));
}

export function painter(opts: { color: boolean; unicode: boolean }): Painter {
  return {
    unicode: opts.unicode,
    paint(text, level) {
      if (!opts.color && level !== 'inverse') return text;
      const t = TAGS[level] ?? ['', ''];
      return `${t[0]}${text}${t[1]}`;
    },
  };
}

/** Removes blessed tags: what a person sees, for tests and for plain output. */
export function stripTags(line: string): string {
  return line.replace(/\{(\/?[\w-]+|open|close)\}/g, (_m, name: string) => (name === 'open' ? '{' : name === 'close' ? '}' : ''));
}

/** Visible length of a tagged line. */
export function visibleLength(line: string): number {
  return stripTags(line).length;
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

export function levelFor(value: number | null | undefined, warn: number, bad: number): Level {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'info';
  return value >= bad ? 'bad' : value >= warn ? 'warn' : 'good';
}

export const THRESHOLDS = {
  lagP99Ms: { warn: 20, bad: 100 },
  heapOfLimit: { warn: 0.7, bad: 0.85 },
  fdsOfLimit: { warn: 0.75, bad: 0.9 },
  elu: { warn: 0.7, bad: 0.9 },
  cpuPercent: { warn: 70, bad: 90 },
};

function header(s: Sample | null, pid: number, st: ViewState, p: Painter, width: number): string[] {
  if (!s) return [spread(p.paint(`nodetop  pid ${pid}`, 'bold'), 'attaching…', width), '', tabs(st, p, width)];
  const t = s.target;
  const cmd = esc(t.argv.slice(1).join(' ') || t.title);
  const line1 = spread(`${p.paint('nodetop', 'bold')}  pid ${p.paint(String(t.pid), 'bold')}  ${cmd}`, `node ${esc(t.nodeVersion)}  up ${duration(t.uptimeSec)}`, width);
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
  const line2 = fit(`${cpu}  RSS ${bytes(pr.rssBytes)}  ${fds}  ${host}`, width);
  return [line1, line2, tabs(st, p, width)];
}

function tabs(st: ViewState, p: Painter, width: number): string {
  const left = PAGES.map((pg) => {
    const label = `${pg.key} ${pg.title}`;
    return pg.id === st.page ? p.paint(` ${label} `, 'inverse') : ` ${label} `;
  }).join('');
  const every = st.backoffMs ? `every ${st.backoffMs / 1000}s (backed off)` : `every ${st.intervalMs / 1000}s`;
  const right = st.paused ? p.paint('PAUSED', 'warn') : every;
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
  if (st.exited) return spread(p.paint(esc(st.exited), 'bad'), cost, width);
  if (st.sampleError) return spread(p.paint(`sample failed: ${esc(st.sampleError)}`, 'warn'), cost, width);
  const msg = st.message ? p.paint(esc(st.message.text), st.message.level) : '';
  return spread(msg, p.paint(cost, 'dim'), width);
}

function footer(opts: RenderOptions, p: Painter, width: number): string {
  const wide = width >= 100;
  const keys = opts.readonly
    ? wide
      ? 'q quit  p pause  +/- interval  1-5 page  s sort  ↑↓ select  ? help  (read-only)'
      : 'q quit p pause +/- rate 1-5 page s sort ↑↓ row ? help (read-only)'
    : wide
      ? 'q quit  p pause  +/- interval  1-5 page  s sort  ↑↓ select  g GC  G GC all  S snapshot  ? help'
      : 'q quit p pause +/- rate 1-5 page s sort g GC G all S snapshot ? help';
  return fit(p.paint(p.unicode ? keys : keys.replace('↑↓', 'j/k'), 'dim'), width);
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
  const top = header(s, s?.target.pid ?? 0, st, p, w);
  const bottom = [statusLine(st, p, w), footer(opts, p, w)];
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
  const lines = [
    'Keys',
    '  q, Ctrl-C     quit (detaches; closes an inspector nodetop opened)',
    '  p, space      pause / resume sampling',
    '  + / -         sample more / less often',
    '  1..5, Tab     switch page: Overview, Handles, Sockets, Workers, Pools',
    '  s             change the sort column of the page',
    '  ↑/↓, j/k      select a row (the worker for g and S on the Workers page)',
  ];
  if (!opts.readonly) {
    lines.push(
      '  g             force a full GC on the main thread (or the selected worker)',
      '  G             force a full GC on every thread',
      '  S             write a heap snapshot (main thread, or the selected worker)',
    );
  } else lines.push('  (read-only: GC and snapshot keys are disabled)');
  lines.push('  ?, h, Esc     close this help');
  return lines;
}
