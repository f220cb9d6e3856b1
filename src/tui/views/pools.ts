// Page 5: HTTP client pools (scenario 2: "requests queue because the pool is too small"): per
// pool and origin, sockets in use, free, queued against maxSockets; queues first. Enter on a
// row shows its pool: settings and every origin; the explaining sentences are wrapped whole.

import type { HttpPool, HttpPoolOrigin } from '../../model/net';
import { printable } from '../../model/text';
import type { Sample } from '../../model/sample';
import { esc, type History, type Painter, type ViewState } from '../render';
import { keyedTable, lpad, pad, wrap, type ListRow } from './lists';
import { findingLines } from './sockets';

const originWidth = (width: number): number => Math.max(16, Math.min(44, width - 52));
/** fetch's running and pending after the columns, where they fit (the detail always has them). */
const FETCH_EXTRA = '  running 9999 pending 9999'.length;

/** `v` (from the target) in exactly `n` columns: cut with … when longer, never past its column. */
function cell(v: string, n: number): string {
  const t = printable(v);
  return esc(t.length > n ? `${t.slice(0, n - 1)}…` : t + ' '.repeat(n - t.length));
}

/** An origin as the stats text names it: with its SNI name when that is not its host (a key of its own). */
function originName(o: HttpPoolOrigin): string {
  return o.servername && !o.origin.startsWith(`${o.servername}:`) ? `${o.origin} sni ${o.servername}` : o.origin;
}

export function poolListRows(s: Sample, prev: Sample | null, _st: ViewState, p: Painter, width: number): ListRow[] {
  const queuedBefore = new Map<string, number>();
  for (const pp of prev?.httpPools ?? []) for (const o of pp.origins) queuedBefore.set(`${pp.name} ${o.key}`, o.queued ?? 0);
  const rows: Array<{ queued: number; inUse: number; row: ListRow }> = [];
  const ow = originWidth(width);
  const extra = 52 + ow + FETCH_EXTRA <= width;
  for (const pool of s.httpPools ?? []) {
    for (const o of pool.origins) {
      const queued = o.queued ?? 0;
      const was = queuedBefore.get(`${pool.name} ${o.key}`);
      const trend = was === undefined ? '' : queued > was ? ` (+${queued - was})` : queued < was ? ` (${queued - was})` : '';
      const max = pool.maxSockets === null ? '∞' : String(pool.maxSockets);
      const full = pool.maxSockets !== null && (o.inUse ?? 0) >= pool.maxSockets;
      const fetch = pool.kind === 'fetch' && extra ? `  running ${o.running ?? 'n/a'} pending ${o.pending ?? 'n/a'}` : '';
      const line = `  ${cell(pool.name, 18)} ${cell(originName(o), ow)} ${lpad(String(o.inUse ?? 'n/a'), 6)} ${lpad(String(o.free ?? 'n/a'), 5)} ${lpad(`${queued}${trend}`, 10)} ${lpad(p.unicode ? max : max.replace('∞', 'inf'), 5)}${fetch}`;
      rows.push({ queued, inUse: o.inUse ?? 0, row: { key: `${pool.name}\u0000${o.key}`, line: queued > 0 ? p.paint(line, full ? 'bad' : 'warn') : line } });
    }
  }
  rows.sort((a, b) => b.queued - a.queued || b.inUse - a.inUse);
  return rows.map((r) => r.row);
}

/** Enter on a row: the pool's settings and every origin it holds. */
function poolDetail(pool: HttpPool | undefined, name: string, p: Painter, width: number): string[] {
  const out = [p.paint(`Pools > ${esc(name)}`, 'bold') + p.paint('  (Esc goes back)', 'dim')];
  if (!pool) return [...out, '', p.paint('  This pool is not in the latest walk any more.', 'dim')];
  const lim = (v: number | null): string => (v === null ? 'unlimited' : String(v));
  // its settings say why it queues: wrapped whole, never cut at the edge
  out.push(...wrap(esc(`${pool.kind}${pool.protocol ? ` (${pool.protocol})` : ''}: maxSockets ${lim(pool.maxSockets)} per origin, maxTotalSockets ${lim(pool.maxTotalSockets)}, maxFreeSockets ${lim(pool.maxFreeSockets)}, keepAlive ${pool.keepAlive ?? 'n/a'}`), width));
  out.push(`  in use ${pool.totals.inUse}, free ${pool.totals.free}, queued ${pool.totals.queued}`);
  if (pool.note) out.push(...wrap(esc(pool.note), width).map((l) => p.paint(l, 'warn')));
  const ow = originWidth(width);
  out.push(p.paint(`  ${pad('ORIGIN', ow)} ${lpad('IN USE', 6)} ${lpad('FREE', 5)} ${lpad('QUEUED', 7)}${pool.kind === 'fetch' ? `  RUNNING PENDING` : ''}`, 'bold'));
  for (const o of pool.origins) {
    out.push(`  ${cell(originName(o), ow)} ${lpad(String(o.inUse ?? 'n/a'), 6)} ${lpad(String(o.free ?? 'n/a'), 5)} ${lpad(String(o.queued ?? 'n/a'), 7)}${pool.kind === 'fetch' ? `  ${lpad(String(o.running ?? 'n/a'), 7)} ${lpad(String(o.pending ?? 'n/a'), 7)}` : ''}`);
  }
  if (pool.origins.length === 0) out.push(p.paint('  no origin: no connection and no queued request', 'dim'));
  return out;
}

export function poolsPage(s: Sample, prev: Sample | null, _h: History, st: ViewState, p: Painter, width: number, height: number): string[] {
  const pools = s.httpPools;
  if (!pools) return ['', p.paint('  HTTP pools were not read in this sample (they are read every few seconds, and on this page every tick).', 'dim')];
  if (st.detail?.page === 'pools') {
    const name = st.detail.key.split('\u0000')[0]!;
    return poolDetail(pools.find((x) => x.name === name), name, p, width);
  }
  const ow = originWidth(width);
  const header = `  ${pad('POOL', 18)} ${pad('ORIGIN', ow)} ${lpad('IN USE', 6)} ${lpad('FREE', 5)} ${lpad('QUEUED', 10)} ${lpad('MAX', 5)}`;
  const empty = pools.filter((x) => x.origins.length === 0).map((x) => x.name);
  const rows = poolListRows(s, prev, st, p, width);
  const notes: string[] = [];
  if (rows.length === 0) notes.push(...wrap('no pool has a connection or a queued request (c: the heap census finds pools no request leads to)', width).map((l) => p.paint(l, 'dim')));
  if (empty.length) notes.push(...wrap(esc(`idle pools: ${empty.join(', ')}`), width).map((l) => p.paint(l, 'dim')));
  // the findings take what the rows leave, and a third of the page at least: a few rows must
  // not hide the sentence that explains them (it was cut to a third with the page half empty)
  const tableLines = 1 + rows.length + (st.filter || st.filtering ? 1 : 0);
  const room = Math.max(Math.floor(height / 3), height - tableLines - notes.length);
  const findings = findingLines(s.sockets?.findings ?? [], p, width, Math.max(0, room));
  const out = keyedTable(header, rows, st, Math.max(2, height - notes.length - findings.length), p, width);
  out.push(...notes, ...findings);
  return out;
}
