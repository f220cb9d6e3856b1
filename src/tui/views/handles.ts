// Page 2: handles and requests by type, with the change since the last sample: the counts that
// grow without bound (scenario 4) show up as a steady positive delta. Sorted by count, delta or name.

import type { Sample } from '../../model/sample';
import { esc, type History, type Painter, type ViewState } from '../render';
import { keyedTable, type ListRow } from './lists';

export const HANDLE_SORTS = ['count', 'delta', 'name'] as const;

export interface HandleRow {
  kind: 'handle' | 'request';
  type: string;
  count: number;
  delta: number | null;
}

export function handleRows(s: Sample, prev: Sample | null, sort: number): HandleRow[] {
  const rows: HandleRow[] = [];
  const add = (kind: HandleRow['kind'], cur: Record<string, number>, old: Record<string, number> | null): void => {
    const types = new Set([...Object.keys(cur), ...Object.keys(old ?? {})]);
    for (const type of types) {
      const count = cur[type] ?? 0;
      rows.push({ kind, type, count, delta: old ? count - (old[type] ?? 0) : null });
    }
  };
  // null: the target's Node cannot list them (the page footer says so)
  add('handle', s.handles?.byType ?? {}, prev?.handles?.byType ?? null);
  add('request', s.requests?.byType ?? {}, prev?.requests?.byType ?? null);
  const by = HANDLE_SORTS[sort % HANDLE_SORTS.length];
  rows.sort((a, b) =>
    by === 'name' ? a.type.localeCompare(b.type) : by === 'delta' ? (b.delta ?? 0) - (a.delta ?? 0) || b.count - a.count : b.count - a.count || a.type.localeCompare(b.type),
  );
  return rows;
}

export function handleListRows(s: Sample, prev: Sample | null, st: ViewState, p: Painter): ListRow[] {
  return handleRows(s, prev, st.sort.handles).map((r) => {
    const d = r.delta === null ? '' : r.delta > 0 ? `+${r.delta}` : String(r.delta);
    const line = `  ${esc(r.type).padEnd(28)} ${r.kind.padEnd(8)} ${String(r.count).padStart(8)} ${d.padStart(7)}`;
    return { key: `${r.kind} ${r.type}`, line: r.delta !== null && r.delta > 0 ? p.paint(line, 'warn') : line };
  });
}

export function handlesPage(s: Sample, prev: Sample | null, _h: History, st: ViewState, p: Painter, width: number, height: number): string[] {
  const sortName = HANDLE_SORTS[st.sort.handles % HANDLE_SORTS.length];
  const header = `  ${'TYPE'.padEnd(28)} ${'KIND'.padEnd(8)} ${'COUNT'.padStart(8)} ${'Δ'.padStart(7)}   sorted by ${sortName}`;
  const out = keyedTable(header, handleListRows(s, prev, st, p), st, Math.max(2, height - 1), p, width);
  out.push(p.paint(`  ${s.handles?.total ?? 'n/a'} handles, ${s.requests?.total ?? 'n/a'} requests (ref'd only: unref'd timers and idle pooled sockets are not counted here)`, 'dim'));
  return out;
}
