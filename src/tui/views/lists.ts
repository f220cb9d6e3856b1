// A scrolling, selectable table for the list pages: header, rows around the selection, and the
// selected row in inverse. Rows are already sorted; this only decides which fit.

import { fit, type Painter } from '../render';

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

export const pad = (v: string, n: number): string => (v.length >= n ? v.slice(0, n) : v + ' '.repeat(n - v.length));
export const lpad = (v: string, n: number): string => (v.length >= n ? v : ' '.repeat(n - v.length) + v);
