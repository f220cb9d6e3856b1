// Page 4: worker threads (scenario 6: "which worker eats the memory"): one row per worker with
// its own heap, lag and utilization; the selected row is what g and S act on.

import type { Sample, WorkerRow } from '../../model/sample';
import { bytes, ms, percent, ratio } from '../../model/units';
import { esc, levelFor, THRESHOLDS, type History, type Painter, type ViewState } from '../render';
import { filtered, keyedTable, lpad, pad, PLAIN, selectedIndex, type ListRow } from './lists';
import { chartGrid, charts } from './overview';
import { WORKER_READS_PER_S } from '../../sampler';

export const WORKER_SORTS = ['heap', 'elu', 'lag', 'id'] as const;

export function sortWorkers(rows: WorkerRow[], sort: number): WorkerRow[] {
  const by = WORKER_SORTS[sort % WORKER_SORTS.length];
  const key = (w: WorkerRow): number =>
    by === 'elu' ? (w.eventLoop.utilization ?? -1) : by === 'lag' ? (w.eventLoop.lagMs?.p99 ?? -1) : by === 'id' ? -(w.threadId ?? 0) : (w.heapUsedBytes ?? -1);
  return [...rows].sort((a, b) => key(b) - key(a) || (a.threadId ?? 0) - (b.threadId ?? 0));
}

/** The worker the selection points at, in the page's order (the one opened with Enter first). */
export function selectedWorker(s: Sample | null, st: ViewState): WorkerRow | null {
  if (!s?.workers || st.page !== 'workers') return null;
  const key = st.detail?.page === 'workers' ? st.detail.key : null;
  const rows = filtered(workerListRows(s, st, PLAIN, 200), st.filter);
  const chosen = key ?? rows[selectedIndex(rows, st)]?.key;
  return s.workers.find((w) => String(w.threadId) === chosen) ?? null;
}

export function workerListRows(s: Sample, st: ViewState, p: Painter, width: number): ListRow[] {
  const nw = Math.max(10, Math.min(30, width - 63));
  return sortWorkers(s.workers ?? [], st.sort.workers).map((w) => {
    const heapLevel = w.heapUsedBytes !== null && w.heapLimitBytes ? levelFor(w.heapUsedBytes / w.heapLimitBytes, THRESHOLDS.heapOfLimit.warn, THRESHOLDS.heapOfLimit.bad) : 'info';
    const ofLimit = w.heapUsedBytes !== null && w.heapLimitBytes ? `${((w.heapUsedBytes / w.heapLimitBytes) * 100).toFixed(0)}%` : 'n/a';
    const line =
      `  ${lpad(String(w.threadId ?? '?'), 3)} ${pad(esc(w.name || '(unnamed)'), nw)} ${pad(w.state === 'not-responding' ? 'silent' : w.state, 7)} ${lpad(bytes(w.heapUsedBytes), 9)} ${lpad(ofLimit, 5)} ${lpad(bytes(w.externalBytes), 9)} ` +
      `${lpad(ratio(w.eventLoop.utilization), 5)} ${lpad(ms(w.eventLoop.lagMs?.p99), 8)} ${lpad(String(w.gc?.count ?? 'n/a'), 4)}` +
      (w.eventLoop.blocked ? `  BLOCKED ${ms(w.eventLoop.blocked.forMs)} at ${esc((w.eventLoop.blocked.stack[0] ?? '?').replace(/^at /, ''))}` : '') +
      (w.eventLoop.waiting ? `  waiting in Atomics.wait ${ms(w.eventLoop.waiting.forMs)}` : '');
    return { key: String(w.threadId), line: w.state !== 'running' ? p.paint(line, 'dim') : heapLevel === 'bad' || w.eventLoop.blocked ? p.paint(line, 'bad') : line };
  });
}

/** Enter on a worker: its own charts (heap against its limit, lag, utilization). */
function workerDetail(s: Sample, h: History, st: ViewState, p: Painter, width: number, height: number): string[] {
  const w = (s.workers ?? []).find((x) => String(x.threadId) === st.detail!.key);
  const title = w ? `worker ${w.threadId} ${esc(w.name || '(unnamed)')}` : `worker ${esc(st.detail!.key)}`;
  const out = [p.paint(`Workers > ${title}`, 'bold') + p.paint('  (Esc goes back; g GCs it, S snapshots it)', 'dim')];
  if (!w) return [...out, '', p.paint('  This worker is gone.', 'dim')];
  out.push(`  ${w.state}; heap ${bytes(w.heapUsedBytes)} of ${bytes(w.heapLimitBytes)}, external ${bytes(w.externalBytes)}; ELU ${ratio(w.eventLoop.utilization)}${w.cpuPercent !== null ? `; CPU ${percent(w.cpuPercent, 0)}` : ''}; lag p99 ${ms(w.eventLoop.lagMs?.p99)}; GC ${w.gc?.count ?? 'n/a'}`);
  if (w.eventLoop.blocked) out.push(p.paint(`  BLOCKED ${ms(w.eventLoop.blocked.forMs)} at ${esc((w.eventLoop.blocked.stack[0] ?? '?').replace(/^at /, ''))}`, 'bad'));
  if (w.eventLoop.waiting) out.push(`  waiting in Atomics.wait for ${ms(w.eventLoop.waiting.forMs)}: how pool workers (piscina, tinypool) wait for a task, or a thread for a lock; its ELU counts the wait, its CPU does not`);
  const wh = w.threadId !== null ? h.workers?.get(w.threadId) : undefined;
  if (!wh) return [...out, p.paint('  no readings kept for this worker yet', 'dim')];
  return [...out, ...chartGrid(charts(wh, w.heapLimitBytes, st).slice(0, 3), width, height - out.length, p)];
}

export function workersPage(s: Sample, _prev: Sample | null, h: History, st: ViewState, p: Painter, width: number, height: number): string[] {
  if (!s.workers) return ['', p.paint('  Worker threads were not read (the inspector has no NodeWorker domain).', 'dim')];
  if (s.workers.length === 0) return ['', '  This process has no worker threads.'];
  if (st.detail?.page === 'workers') return workerDetail(s, h, st, p, width, height);
  const sortName = WORKER_SORTS[st.sort.workers % WORKER_SORTS.length];
  const nw = Math.max(10, Math.min(30, width - 63));
  const header = `  ${lpad('ID', 3)} ${pad('NAME', nw)} ${pad('STATE', 7)} ${lpad('HEAP', 9)} ${lpad('%LIM', 5)} ${lpad('EXTERNAL', 9)} ${lpad('ELU', 5)} ${lpad('LAG99', 8)} ${lpad('GC', 4)}  by ${sortName}`;
  const note = workersAge(s);
  const out = keyedTable(header, workerListRows(s, st, p, width), st, height - (note ? 2 : 1), p, width);
  if (note) out.push(p.paint(note, 'dim'));
  out.push(p.paint('  g: GC the selected worker   S: snapshot it   G: GC every thread   Enter: its charts', 'dim'));
  return out;
}

/** Says how old the oldest rows are when worker reads were rationed (many workers). */
export function workersAge(s: Sample): string | null {
  const at = Date.parse(s.time);
  const ages = (s.workers ?? []).filter((w) => w.state !== 'gone').map((w) => at - Date.parse(w.readAt));
  const old = ages.filter((a) => Number.isFinite(a) && a >= 1500);
  if (old.length === 0) return null;
  return `  ${old.length} of ${ages.length} rows read up to ${Math.round(Math.max(...old) / 1000)} s ago (worker reads are held to ${WORKER_READS_PER_S} a second, ~0.5% of the target's CPU)`;
}
