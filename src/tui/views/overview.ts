// Page 1: the numbers a person reads first. Heap against its limit with its trend, GC, the
// event loop with its trend, and a banner when the main thread is stuck.

import type { Sample } from '../../model/sample';
import { sparkline } from '../../model/series';
import { bytes, countsLine, ms, ratio } from '../../model/units';
import { esc, levelFor, THRESHOLDS, type History, type Painter, type ViewState } from '../render';

export function overviewPage(s: Sample, _prev: Sample | null, hist: History, _st: ViewState, p: Painter, width: number, height: number): string[] {
  const out: string[] = [];
  const m = s.memory;
  const el = s.eventLoop;
  const trendWidth = Math.max(10, Math.min(60, width - 58));
  const spark = (v: Array<number | null>, opts: { min?: number; max?: number } = {}): string =>
    p.paint(sparkline(v, trendWidth, { unicode: p.unicode, ...opts }), 'dim');

  if (el.blocked) {
    out.push(p.paint(` BLOCKED  main thread stuck in JavaScript for ${ms(el.blocked.forMs)} `, 'bad'));
    for (const f of el.blocked.stack.slice(0, 3)) out.push(p.paint(`   ${esc(f)}`, 'bad'));
  }

  const heapRatio = m.heapLimitBytes > 0 ? m.heapUsedBytes / m.heapLimitBytes : null;
  const heapLevel = levelFor(heapRatio, THRESHOLDS.heapOfLimit.warn, THRESHOLDS.heapOfLimit.bad);
  out.push(p.paint('Heap', 'bold'));
  out.push(
    `  used ${p.paint(bytes(m.heapUsedBytes), heapLevel)} / total ${bytes(m.heapTotalBytes)} / limit ${bytes(m.heapLimitBytes)}` +
      (heapRatio !== null ? ` (${(heapRatio * 100).toFixed(1)}%)` : ''),
  );
  out.push(`  trend ${spark(hist.heapUsed.toArray(), { min: 0 })}`);
  out.push(`  external ${bytes(m.externalBytes)}  arrayBuffers ${bytes(m.arrayBuffersBytes)}  rss ${bytes(s.process.rssBytes)}`);
  if (height >= 22) {
    const spaces = m.spaces.filter((x) => x.sizeBytes > 0).map((x) => `${x.name.replace(/_space$/, '')} ${bytes(x.usedBytes)}`);
    out.push(p.paint(`  spaces ${spaces.join(', ')}`, 'dim'));
  }
  if (s.gc) {
    const k = s.gc.byKind;
    const pauseShare = el.windowMs ? s.gc.pauseMs / el.windowMs : null;
    out.push(
      `  GC ${s.gc.count} in ${ms(el.windowMs)}, ${p.paint(ms(s.gc.pauseMs), levelFor(pauseShare, 0.05, 0.2))} paused` +
        `  (minor ${k.minor.count}, major ${k.major.count}, incr ${k.incremental.count})`,
    );
  }

  out.push(p.paint('Event loop', 'bold'));
  const lag = el.lagMs;
  const lagLevel = levelFor(lag?.p99, THRESHOLDS.lagP99Ms.warn, THRESHOLDS.lagP99Ms.bad);
  out.push(
    `  lag p50 ${ms(lag?.p50)}  p99 ${p.paint(ms(lag?.p99), lagLevel)}  max ${ms(lag?.max)}` +
      `   utilization ${p.paint(ratio(el.utilization), levelFor(el.utilization, THRESHOLDS.elu.warn, THRESHOLDS.elu.bad))}`,
  );
  out.push(`  lag p99 ${spark(hist.lagP99.toArray(), { min: 0 })}`);
  out.push(`  ELU     ${spark(hist.elu.toArray(), { min: 0, max: 1 })}`);

  const k = s.sockets;
  const queued = (s.httpPools ?? []).reduce((n, pool) => n + pool.totals.queued, 0);
  const inUse = (s.httpPools ?? []).reduce((n, pool) => n + pool.totals.inUse, 0);
  const w = s.workers ?? [];
  const workerHeap = w.reduce((n, x) => n + (x.heapUsedBytes ?? 0), 0);
  out.push(p.paint('Connections and threads', 'bold'));
  out.push(
    `  sockets ${k ? `${k.total} (TLS ${k.byKind.tls})` : 'n/a'}  pools ${s.httpPools ? `${inUse} busy, ` : ''}${p.paint(`${queued} queued`, queued > 0 ? 'warn' : 'info')}` +
      `  workers ${s.workers ? `${w.length}${w.length ? ` (${bytes(workerHeap)})` : ''}` : 'n/a'}`,
  );
  out.push(p.paint('Handles', 'bold'));
  out.push(s.handles ? `  ${s.handles.total}: ${esc(countsLine(s.handles.byType))}` : `  n/a: ${esc(s.unavailable.handles ?? 'not reported')}`);
  out.push(s.requests ? `  requests ${s.requests.total}: ${esc(countsLine(s.requests.byType))}` : `  requests n/a`);
  return out;
}
