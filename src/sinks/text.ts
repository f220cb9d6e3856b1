// The human-readable `nodetop stats` summary. Pure: Sample in, lines out.

import type { Sample, WorkerRow } from '../model/sample';
import { bytes, countsLine, duration, ms, percent, ratio } from '../model/units';

export function renderStats(s: Sample): string {
  const t = s.target;
  const p = s.process;
  const m = s.memory;
  const el = s.eventLoop;
  const lines: string[] = [];
  const cmd = t.argv.slice(1).join(' ');
  lines.push(`pid ${t.pid}  ${t.title}  ${cmd}`.trimEnd());
  lines.push(
    `node ${t.nodeVersion}  v8 ${t.v8Version}  up ${duration(t.uptimeSec)}  inspector ${t.inspector.openedByNodetop ? 'opened by nodetop (closed on exit)' : 'already open'}`,
  );
  const fds = p.fds.open === null ? 'n/a' : `${p.fds.open}/${p.fds.limit ?? 'unlimited'}`;
  lines.push(`process  cpu ${percent(p.cpuPercent)}  rss ${bytes(p.rssBytes)}  fds ${fds}${p.threads !== null ? `  threads ${p.threads}` : ''}`);
  lines.push(
    `heap     used ${bytes(m.heapUsedBytes)} / total ${bytes(m.heapTotalBytes)} / limit ${bytes(m.heapLimitBytes)}  external ${bytes(m.externalBytes)}  arrayBuffers ${bytes(m.arrayBuffersBytes)}`,
  );
  const spaces = m.spaces.filter((x) => x.sizeBytes > 0).map((x) => `${x.name.replace(/_space$/, '')} ${bytes(x.usedBytes)}`);
  if (spaces.length) lines.push(`spaces   ${spaces.join(', ')}`);
  if (s.gc) {
    const k = s.gc.byKind;
    lines.push(
      `gc       ${s.gc.count} in ${ms(el.windowMs)}, ${ms(s.gc.pauseMs)} paused  (minor ${k.minor.count}, major ${k.major.count}, incremental ${k.incremental.count}, weakcb ${k.weakcb.count})`,
    );
  } else lines.push('gc       n/a');
  const lag = el.lagMs;
  lines.push(
    `loop     lag p50 ${ms(lag?.p50)} p90 ${ms(lag?.p90)} p99 ${ms(lag?.p99)} max ${ms(lag?.max)}  utilization ${ratio(el.utilization)}  window ${ms(el.windowMs)}`,
  );
  if (el.blocked) {
    lines.push(`BLOCKED  main thread stuck in JavaScript for ${ms(el.blocked.forMs)}:`);
    for (const f of el.blocked.stack.slice(0, 8)) lines.push(`           ${f}`);
  }
  lines.push(`handles  ${s.handles.total}: ${countsLine(s.handles.byType)}`);
  lines.push(`requests ${s.requests.total}: ${countsLine(s.requests.byType)}`);
  if (s.host) {
    lines.push(
      `host     ${s.host.cpus} cpus  load ${s.host.loadAvg.map((x) => x.toFixed(2)).join(' ')}  mem available ${bytes(s.host.memAvailableBytes)} of ${bytes(s.host.memTotalBytes)}`,
    );
  }
  if (s.workers) lines.push(...renderWorkers(s.workers));
  return lines.join('\n');
}

/** The worker section of `nodetop stats`: one line per worker thread. */
export function renderWorkers(workers: WorkerRow[]): string[] {
  const lines: string[] = [];
  if (workers.length === 0) {
    lines.push('workers  none');
    return lines;
  }
  lines.push(`workers  ${workers.length}`);
  for (const w of workers) {
    const id = `#${w.threadId ?? '?'} ${w.name || '(unnamed)'}`;
    if (w.state !== 'running') {
      lines.push(`  ${id}  ${w.state.toUpperCase()}${w.error ? `: ${w.error}` : ''}`);
      continue;
    }
    const lag = w.eventLoop.lagMs;
    const gc = w.gc ? `gc ${w.gc.count} ${ms(w.gc.pauseMs)}` : 'gc n/a';
    lines.push(
      `  ${id}  heap ${bytes(w.heapUsedBytes)} / ${bytes(w.heapTotalBytes)} / limit ${bytes(w.heapLimitBytes)}  ext ${bytes(w.externalBytes)}  ab ${bytes(w.arrayBuffersBytes)}  util ${ratio(w.eventLoop.utilization)}  lag p99 ${ms(lag?.p99)}  ${gc}${w.eventLoop.blocked ? `  BLOCKED ${ms(w.eventLoop.blocked.forMs)} at ${w.eventLoop.blocked.stack[0] ?? '?'}` : ''}`,
    );
  }
  return lines;
}
