// The host overview, etop's first screen: one row per Node process, sorted by the column the
// operator picks, the worst values coloured. Enter opens the full view of a row.

import type { Sample } from '../../model/sample';
import { bytes, ms, ratio } from '../../model/units';
import { esc, fit, formatInterval, levelFor, painter, spread, THRESHOLDS, type Level, type RenderOptions } from '../render';

export interface ProcessRow {
  pid: number;
  title: string;
  sample: Sample | null;
  /** Why there is no fresh sample (not answering, attaching). */
  note: string | null;
  /** Its container, when it runs in one (platform/cgroup.ts containerLabel): shown before the command. */
  where?: string | null;
}

export interface Column {
  key: string;
  title: string;
  width: number;
  value(r: ProcessRow): number | null;
  text(r: ProcessRow): string;
  level?(r: ProcessRow): Level;
}

const num = (v: number | null | undefined): number | null => (v === null || v === undefined || !Number.isFinite(v) ? null : v);

export const COLUMNS: Column[] = [
  { key: 'c', title: 'CPU%', width: 6, value: (r) => num(r.sample?.process.cpuPercent), text: (r) => (r.sample?.process.cpuPercent == null ? 'n/a' : r.sample.process.cpuPercent.toFixed(0)), level: (r) => levelFor(r.sample?.process.cpuPercent, THRESHOLDS.cpuPercent.warn, THRESHOLDS.cpuPercent.bad) },
  { key: 'm', title: 'RSS', width: 9, value: (r) => num(r.sample?.process.rssBytes), text: (r) => bytes(r.sample?.process.rssBytes) },
  {
    key: 'H',
    title: 'HEAP',
    width: 9,
    value: (r) => num(r.sample?.memory.heapUsedBytes),
    text: (r) => bytes(r.sample?.memory.heapUsedBytes),
    level: (r) => (r.sample && r.sample.memory.heapUsedBytes !== null && r.sample.memory.heapLimitBytes ? levelFor(r.sample.memory.heapUsedBytes / r.sample.memory.heapLimitBytes, THRESHOLDS.heapOfLimit.warn, THRESHOLDS.heapOfLimit.bad) : 'info'),
  },
  { key: 'l', title: 'LAG99', width: 8, value: (r) => num(r.sample?.eventLoop.lagMs?.p99), text: (r) => ms(r.sample?.eventLoop.lagMs?.p99), level: (r) => levelFor(r.sample?.eventLoop.lagMs?.p99, THRESHOLDS.lagP99Ms.warn, THRESHOLDS.lagP99Ms.bad) },
  { key: 'u', title: 'ELU', width: 5, value: (r) => num(r.sample?.eventLoop.utilization), text: (r) => ratio(r.sample?.eventLoop.utilization), level: (r) => levelFor(r.sample?.eventLoop.utilization, THRESHOLDS.elu.warn, THRESHOLDS.elu.bad) },
  { key: 'n', title: 'HNDL', width: 6, value: (r) => num(r.sample?.handles?.total), text: (r) => (r.sample?.handles ? String(r.sample.handles.total) : 'n/a') },
  {
    key: 'f',
    title: 'FDS',
    width: 11,
    value: (r) => num(r.sample?.process.fds.open),
    text: (r) => (r.sample?.process.fds.open == null ? 'n/a' : `${r.sample.process.fds.open}/${r.sample.process.fds.limit ?? '∞'}`),
    level: (r) => {
      const f = r.sample?.process.fds;
      return f && f.open !== null && f.limit ? levelFor(f.open / f.limit, THRESHOLDS.fdsOfLimit.warn, THRESHOLDS.fdsOfLimit.bad) : 'info';
    },
  },
];

export const SORT_KEYS = COLUMNS.map((c) => c.key);

/** Rows sorted by a column, largest first; rows without a value last; pid breaks ties. */
export function sortRows(rows: ProcessRow[], sortKey: string): ProcessRow[] {
  const col = COLUMNS.find((c) => c.key === sortKey) ?? COLUMNS[0]!;
  return [...rows].sort((a, b) => {
    const va = col.value(a);
    const vb = col.value(b);
    if (va === null && vb === null) return a.pid - b.pid;
    if (va === null) return 1;
    if (vb === null) return -1;
    return vb - va || a.pid - b.pid;
  });
}

export interface OverviewState {
  sortKey: string;
  /** The selected process: a pid, not a row, so that a re-sort does not move the selection. */
  selectedPid: number | null;
  message: { text: string; level: Level } | null;
  paused: boolean;
  intervalMs: number;
}

export function renderProcessesScreen(rows: ProcessRow[], st: OverviewState, opts: RenderOptions, title: string): string[] {
  const p = painter(opts);
  const w = Math.max(20, opts.width);
  const sorted = sortRows(rows, st.sortKey);
  const sortCol = COLUMNS.find((c) => c.key === st.sortKey) ?? COLUMNS[0]!;
  const out: string[] = [];
  out.push(spread(`${p.paint('nodetop', 'bold')}  ${esc(title)}: ${rows.length} Node process${rows.length === 1 ? '' : 'es'}`, st.paused ? p.paint('PAUSED', 'warn') : `every ${formatInterval(st.intervalMs)}`, w));
  out.push(fit(p.paint(`sorted by ${sortCol.title} (keys: ${COLUMNS.map((c) => `${c.key} ${c.title}`).join(', ')})`, 'dim'), w));
  const fixed = COLUMNS.reduce((n, c) => n + c.width + 1, 0);
  const cmdWidth = Math.max(8, w - 8 - fixed - 1);
  const head = `${'PID'.padStart(7)} ${COLUMNS.map((c) => (c.key === st.sortKey ? `${c.title}▾` : c.title).padStart(c.width)).join(' ')} ${'COMMAND'.padEnd(cmdWidth)}`;
  out.push(fit(p.paint(p.unicode ? head : head.replace('▾', '*'), 'bold'), w));
  const bodyHeight = Math.max(1, opts.height - out.length - 2);
  const sel = selectedIndex(sorted, st);
  const first = Math.max(0, Math.min(sel - bodyHeight + 1, sorted.length - bodyHeight));
  for (let i = first; i < sorted.length && out.length < 3 + bodyHeight; i++) {
    const r = sorted[i]!;
    const cells = COLUMNS.map((c) => {
      const t = c.text(r).padStart(c.width).slice(-c.width);
      return i === sel ? t : p.paint(t, c.level?.(r) ?? 'info');
    });
    const title = r.where ? `[${r.where}] ${r.title}` : r.title;
    const cmd = esc(r.note ? `${title}  (${r.note})` : title).slice(0, cmdWidth);
    const line = `${String(r.pid).padStart(7)} ${cells.join(' ')} ${cmd}`;
    out.push(fit(i === sel ? p.paint(line, 'inverse') : line, w));
  }
  while (out.length < opts.height - 2) out.push(' '.repeat(w));
  out.push(fit(st.message ? p.paint(esc(st.message.text), st.message.level) : '', w));
  out.push(fit(p.paint('q quit  Enter open  Esc back  ↑↓ select  c/m/H/l/u/n/f sort  p pause  +/- rate', 'dim'), w));
  return out.slice(0, opts.height);
}

/** Where the selected pid is in sorted rows; the first row when it is gone or none is chosen. */
function selectedIndex(sorted: ProcessRow[], st: OverviewState): number {
  const i = sorted.findIndex((r) => r.pid === st.selectedPid);
  return i < 0 ? 0 : i;
}

/** The selected row's pid, for Enter. */
export function selectedPid(rows: ProcessRow[], st: OverviewState): number | null {
  const sorted = sortRows(rows, st.sortKey);
  return sorted[selectedIndex(sorted, st)]?.pid ?? null;
}

/** The pid `by` rows above (-) or below (+) the selected one in the current order. */
export function movePid(rows: ProcessRow[], st: OverviewState, by: number): number | null {
  const sorted = sortRows(rows, st.sortKey);
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, selectedIndex(sorted, st) + by));
  return sorted[i]!.pid;
}
