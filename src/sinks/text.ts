// The human-readable `nodetop stats` summary. Pure: Sample in, lines out.

import type { Sample } from '../model/sample';
import { bytes, countsLine, duration, ms, percent, printable, ratio } from '../model/units';

export function renderStats(s: Sample): string {
  return renderLines(s).map(printable).join('\n');
}

function renderLines(s: Sample): string[] {
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
  return lines;
}
