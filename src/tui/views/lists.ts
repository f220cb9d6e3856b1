// A scrolling, selectable table for the list pages: header, rows around the selection, and the
// selected row in inverse. Rows carry a key (a socket group's endpoint, a worker's threadId),
// so the selection follows the row when the list re-sorts or refreshes; `/` filters them.

import { fit, stripTags, type Painter, type ViewState } from '../render';

export interface ListRow {
  /** What the row is, stable across samples. */
  key: string;
  /** The row as drawn (tagged). */
  line: string;
}

/** Rows whose text holds the filter (any case). */
export function filtered<T extends ListRow>(rows: T[], filter: string): T[] {
  if (!filter) return rows;
  const f = filter.toLowerCase();
  return rows.filter((r) => stripTags(r.line).toLowerCase().includes(f));
}

/** Where the selection is: the selected key's row, else the selected index (clamped). */
export function selectedIndex(rows: readonly ListRow[], st: Pick<ViewState, 'selected' | 'selectedKey'>): number {
  if (st.selectedKey !== null) {
    const i = rows.findIndex((r) => r.key === st.selectedKey);
    if (i >= 0) return i;
  }
  return Math.min(Math.max(0, st.selected), Math.max(0, rows.length - 1));
}

export function table(header: string, rows: string[], selected: number, height: number, p: Painter, width: number): string[] {
  const out = [p.paint(fit(header, width), 'bold')];
  const visible = Math.max(1, height - 1);
  const sel = Math.min(Math.max(0, selected), Math.max(0, rows.length - 1));
  const first = Math.max(0, Math.min(sel - visible + 1, rows.length - visible));
  for (let i = first; i < rows.length && out.length <= visible; i++) {
    out.push(i === sel ? p.paint(fit(rows[i]!, width), 'inverse') : rows[i]!);
  }
  return out;
}

/** A table of keyed rows, filtered, with the selection found by key; a line saying the filter. */
export function keyedTable(header: string, all: ListRow[], st: ViewState, height: number, p: Painter, width: number): string[] {
  const rows = filtered(all, st.filter);
  const note = st.filter || st.filtering ? [p.paint(`  filter: ${st.filter}${st.filtering ? '▏' : ''}  (${rows.length} of ${all.length} rows; Esc clears)`, 'warn')] : [];
  return [...note, ...table(header, rows.map((r) => r.line), selectedIndex(rows, st), height - note.length, p, width)];
}

/** Text cut into lines of `width` at spaces (a word longer than a line is cut), each indented. */
export function wrap(text: string, width: number, indent = '  '): string[] {
  const w = Math.max(10, width - indent.length);
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > w) {
      out.push(indent + line);
      line = '';
    }
    let rest = word;
    while (rest.length > w) {
      if (line) {
        out.push(indent + line);
        line = '';
      }
      out.push(indent + rest.slice(0, w));
      rest = rest.slice(w);
    }
    line = line ? `${line} ${rest}` : rest;
  }
  if (line) out.push(indent + line);
  return out;
}

export const pad = (v: string, n: number): string => (v.length >= n ? v.slice(0, n) : v + ' '.repeat(n - v.length));
export const lpad = (v: string, n: number): string => (v.length >= n ? v : ' '.repeat(n - v.length) + v);

/** A painter that adds nothing: for finding rows by key where nothing is drawn. */
export const PLAIN: Painter = { paint: (t) => t, unicode: true, colors: 8 };
