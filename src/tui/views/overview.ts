// Page 1: the dashboard. A banner when the main thread is stuck; gauges for heap of its limit,
// fds of `ulimit -n` and CPU; charts over the chosen time window (heap used and total against
// the limit, RSS, CPU and utilization, lag p99 and max); the workers' heaps side by side; the
// event log, which keeps what the operator did not see happen. Fills the terminal at any size
// from 80x24: the charts take what the rest leaves.

import type { TargetEvent } from '../../model/events';
import type { Sample } from '../../model/sample';
import { bytes, ms, ratio } from '../../model/units';
import { bars, gauge, lineChart, niceBytes, type LineChartSpec } from '../charts';
import { ageNote, esc, fit, levelFor, THRESHOLDS, type History, type Painter, type ViewState } from '../render';

/** Compact axis labels: 64M, 1.5G, 250ms, 80%. */
export function shortBytes(v: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1)}${units[i]}`;
}

function shortMs(v: number): string {
  return v >= 1000 ? `${Number((v / 1000).toFixed(1))}s` : `${Number(v.toFixed(v >= 10 ? 0 : 1))}ms`;
}

const pct = (v: number): string => `${Math.round(v)}%`;

/** The charts of a target (or a worker: the same History shape), for a window ending now. */
export function charts(hist: History, heapLimitBytes: number | null, st: ViewState): LineChartSpec[] {
  const toMs = hist.heapUsed.lastTime() ?? st.nowMs;
  // a young session fills a shorter window (whole minutes, at least one) rather than a strip
  // at the right of the chosen one
  const kept = toMs - (hist.heapUsed.firstTime() ?? toMs);
  const windowMs = Math.min(st.windowMs, Math.max(60_000, Math.ceil(kept / 60_000) * 60_000));
  const fromMs = toMs - windowMs;
  return [
    {
      title: 'Heap',
      legend: `used ${bytes(hist.heapUsed.last())} total ${bytes(hist.heapTotal.last())} limit ${bytes(heapLimitBytes)}`,
      lines: [
        { label: 'total', points: hist.heapTotal.view(fromMs), paint: 'dim' },
        { label: 'used', points: hist.heapUsed.view(fromMs), paint: 'good' },
      ],
      fromMs,
      toMs,
      min: 0,
      atLeast: 1024 * 1024,
      ...(heapLimitBytes ? { limit: heapLimitBytes } : {}),
      format: shortBytes,
      nice: niceBytes,
    },
    {
      title: 'Event loop lag',
      legend: `p99 ${ms(hist.lagP99.last())} max ${ms(hist.lagMax.last())}`,
      lines: [
        { label: 'max', points: hist.lagMax.view(fromMs), paint: 'warn' },
        { label: 'p99', points: hist.lagP99.view(fromMs), paint: 'good' },
      ],
      fromMs,
      toMs,
      min: 0,
      atLeast: 1,
      format: shortMs,
    },
    {
      title: 'CPU and utilization',
      legend: `CPU ${hist.cpu.last() === null ? 'n/a' : pct(hist.cpu.last()!)} ELU ${ratio(hist.elu.last())}`,
      lines: [
        { label: 'ELU', points: hist.elu.view(fromMs), scale: 100, paint: 'warn' },
        { label: 'CPU', points: hist.cpu.view(fromMs), paint: 'good' },
      ],
      fromMs,
      toMs,
      min: 0,
      atLeast: 100,
      format: pct,
    },
    {
      title: 'RSS',
      legend: bytes(hist.rss.last()),
      lines: [{ label: 'rss', points: hist.rss.view(fromMs), paint: 'good' }],
      fromMs,
      toMs,
      min: 0,
      atLeast: 1024 * 1024,
      format: shortBytes,
      nice: niceBytes,
    },
  ];
}

/** Charts laid out in a grid of `cols` columns filling width x height. */
export function chartGrid(specs: LineChartSpec[], width: number, height: number, p: Painter): string[] {
  if (height < 4 || specs.length === 0) return [];
  // two columns from 80 columns up; one row of charts when there is room for one only
  const cols = width >= 80 ? 2 : 1;
  const gridRows = Math.min(Math.ceil(specs.length / cols), Math.max(1, Math.floor(height / 4)));
  const shown = specs.slice(0, gridRows * cols);
  const out: string[] = [];
  const colW = Math.floor((width - (cols - 1) * 2) / cols);
  for (let r = 0; r < gridRows; r++) {
    const h = Math.floor(height / gridRows) + (r < height % gridRows ? 1 : 0);
    const cells = shown.slice(r * cols, r * cols + cols).map((spec) => lineChart(spec, colW, h, p));
    for (let i = 0; i < h; i++) out.push(cells.map((c) => fit(c[i] ?? '', colW)).join('  '));
  }
  return out;
}

/** One event as lines: time, a mark for its level, the sentence; the frames under it. */
export function eventLines(e: TargetEvent, p: Painter, withPid: boolean, frames: number): string[] {
  const time = e.time.slice(11, 19);
  const level = e.level === 'info' ? 'info' : e.level;
  const head = `${p.paint(time, 'dim')} ${withPid ? `pid ${e.pid} ` : ''}${p.paint(esc(e.text), level)}`;
  return [head, ...(e.frames ?? []).slice(0, frames).map((f) => p.paint(`         at ${esc(f)}`, 'dim'))];
}

/** The last events that fit `height` rows (the newest at the bottom), under a title. */
export function eventLog(events: TargetEvent[], p: Painter, height: number, withPid = false): string[] {
  if (height <= 0) return [];
  const out: string[] = [p.paint(`Events (${events.length}; 6 shows them all)`, 'bold')];
  if (events.length === 0) {
    out.push(p.paint('  none yet: blocked loops, lag and CPU spikes, full pools, workers, GCs and snapshots are kept here', 'dim'));
    return out.slice(0, height);
  }
  const lines: string[] = [];
  for (let i = events.length - 1; i >= 0 && lines.length < height - 1; i--) {
    // the frames of a blocked episode when there is room for them
    const ls = eventLines(events[i]!, p, withPid, height >= 8 ? 2 : 0);
    lines.unshift(...ls.slice(0, Math.max(1, height - 1 - lines.length)));
  }
  return [...out, ...lines.slice(-(height - 1))];
}

export function overviewPage(s: Sample, _prev: Sample | null, hist: History, st: ViewState, p: Painter, width: number, height: number): string[] {
  const top: string[] = [];
  const m = s.memory;
  const el = s.eventLoop;
  const age = ageNote(st);

  if (el.blocked) {
    top.push(p.paint(` BLOCKED  main thread stuck in JavaScript for ${ms(el.blocked.forMs)}${age} `, 'bad'));
    for (const f of el.blocked.stack.slice(0, height >= 30 ? 3 : 1)) top.push(p.paint(`   ${esc(f)}`, 'bad'));
  }

  // gauges: heap of its limit, fds of ulimit -n, CPU
  const heapRatio = m.heapLimitBytes !== null && m.heapUsedBytes !== null && m.heapLimitBytes > 0 ? m.heapUsedBytes / m.heapLimitBytes : null;
  const heapLevel = levelFor(heapRatio, THRESHOLDS.heapOfLimit.warn, THRESHOLDS.heapOfLimit.bad);
  const fds = s.process.fds;
  const fdsRatio = fds.open !== null && fds.limit ? fds.open / fds.limit : null;
  const cpu = s.process.cpuPercent;
  const gw = Math.floor((width - 4) / 3);
  top.push(
    [
      fit(gauge('heap', heapRatio, heapRatio === null ? 'n/a' : `${(heapRatio * 100).toFixed(0)}% of ${bytes(m.heapLimitBytes)}`, gw, p, heapLevel, heapRatio === null ? 'n/a' : `${(heapRatio * 100).toFixed(0)}%`), gw),
      fit(gauge('fds', fdsRatio, fds.open === null ? 'n/a' : `${fds.open}/${fds.limit ?? '∞'}`, gw, p, levelFor(fdsRatio, THRESHOLDS.fdsOfLimit.warn, THRESHOLDS.fdsOfLimit.bad)), gw),
      fit(gauge('CPU', cpu === null ? null : cpu / 100, cpu === null ? 'n/a' : `${cpu.toFixed(0)}%`, gw, p, levelFor(cpu, THRESHOLDS.cpuPercent.warn, THRESHOLDS.cpuPercent.bad)), gw),
    ].join('  '),
  );

  // the numbers of this sample in words: lag, GC, connections, handles
  const lag = el.lagMs;
  const lagLevel = levelFor(lag?.p99, THRESHOLDS.lagP99Ms.warn, THRESHOLDS.lagP99Ms.bad);
  const k = s.sockets;
  const queued = (s.httpPools ?? []).reduce((n, pool) => n + pool.totals.queued, 0);
  const inUse = (s.httpPools ?? []).reduce((n, pool) => n + pool.totals.inUse, 0);
  const w = s.workers ?? [];
  const workerHeap = w.reduce((n, x) => n + (x.heapUsedBytes ?? 0), 0);
  const gc = s.gc ? `  GC ${s.gc.count} in ${ms(el.windowMs)}, ${p.paint(ms(s.gc.pauseMs), levelFor(el.windowMs ? s.gc.pauseMs / el.windowMs : null, 0.05, 0.2))} paused` : '';
  top.push(
    `lag p50 ${ms(lag?.p50)}  p99 ${p.paint(ms(lag?.p99), lagLevel)}  max ${ms(lag?.max)}` +
      `  utilization ${p.paint(ratio(el.utilization), levelFor(el.utilization, THRESHOLDS.elu.warn, THRESHOLDS.elu.bad))}${gc}${p.paint(age, 'warn')}`,
  );
  top.push(
    `sockets ${k ? `${k.total} (TLS ${k.byKind.tls})` : 'n/a'}  pools ${s.httpPools ? `${inUse} busy, ` : ''}${p.paint(`${queued} queued`, queued > 0 ? 'warn' : 'info')}` +
      `  workers ${s.workers ? `${w.length}${w.length ? ` (${bytes(workerHeap)})` : ''}` : 'n/a'}` +
      `  handles ${s.handles ? s.handles.total : 'n/a'}  requests ${s.requests ? s.requests.total : 'n/a'}  ext ${bytes(m.externalBytes)}`,
  );

  // the workers' heaps side by side, the largest first
  const workerRows = w
    .filter((x) => x.state !== 'gone')
    .sort((a, b) => (b.heapUsedBytes ?? -1) - (a.heapUsedBytes ?? -1))
    .map((x) => ({
      name: esc(`${x.threadId ?? '?'} ${x.name || '(unnamed)'}`),
      value: x.heapUsedBytes,
      text: `${bytes(x.heapUsedBytes)} ELU ${ratio(x.eventLoop.utilization)}`,
      paint: (x.heapUsedBytes !== null && x.heapLimitBytes ? levelFor(x.heapUsedBytes / x.heapLimitBytes, THRESHOLDS.heapOfLimit.warn, THRESHOLDS.heapOfLimit.bad) : 'info') as 'good',
    }));
  const rest = height - top.length;
  const workerShown = workerRows.length ? Math.min(workerRows.length, rest >= 30 ? 8 : rest >= 20 ? 4 : 2) : 0;
  const workerLines = workerShown
    ? [p.paint(`Worker heaps${workerRows.length > workerShown ? ` (${workerShown} of ${workerRows.length}: 4 lists them all)` : ''}`, 'bold'), ...bars(workerRows.slice(0, workerShown), width, p)]
    : [];

  // the event log gets a quarter of what is left (at least 3 rows), the charts the rest
  const left = rest - workerLines.length;
  const logRows = Math.max(3, Math.min(Math.floor(left / 4), 4 + Math.max(0, st.events.length * 2)));
  const chartRows = Math.max(0, left - logRows);
  const grid = chartGrid(charts(hist, m.heapLimitBytes, st), width, chartRows, p);
  const log = eventLog(st.events, p, left - grid.length);
  return [...top, ...grid, ...workerLines, ...log];
}
