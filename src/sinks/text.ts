// The human-readable `nodetop stats` summary. Pure: Sample in, lines out.

import type { HttpPool, Sockets } from '../model/net';
import { exposedWarning } from '../loopback';
import type { Sample, WorkerRow } from '../model/sample';
import { bytes, countsLine, duration, ms, percent, printable, ratio } from '../model/units';

/** ` (reason)` when the target's Node does not provide this part of the sample. */
function na(s: Sample, field: string): string {
  const why = s.unavailable[field];
  return why ? ` (${why})` : '';
}

export function renderStats(s: Sample): string {
  return renderLines(s).map(printable).join('\n');
}

function renderLines(s: Sample): string[] {
  const t = s.target;
  const p = s.process;
  const m = s.memory;
  const el = s.eventLoop;
  const lines: string[] = [];
  // a figure the target reported that is not a size reads "invalid" (the JSON: null, and why)
  const size = (path: string, v: number | null): string => (v === null && s.unavailable[path] !== undefined ? 'invalid' : bytes(v));
  const cmd = t.argv.slice(1).join(' ');
  lines.push(`pid ${t.pid}  ${t.title}  ${cmd}`.trimEnd());
  lines.push(
    `node ${t.nodeVersion}  v8 ${t.v8Version}  up ${duration(t.uptimeSec)}  inspector ${t.inspector.openedByNodetop ? 'opened by nodetop (closed on exit)' : 'already open'}`,
  );
  if (t.inspector.exposedOn?.length) lines.push(exposedWarning(t.pid, t.inspector.exposedOn));
  const armed = t.armed ? [t.armed.oomSnapshot ? `a heap snapshot near the heap limit (${t.armed.oomSnapshot === 'flag' ? 'its command line' : 'nodetop arm'})` : '', t.armed.reportOnFatalError ? 'a report on a fatal error' : ''].filter(Boolean) : [];
  if (armed.length) lines.push(`armed    ${armed.join(', ')}: written when it dies (nodetop arm --off restores the report)`);
  // Near the soft limit the next connections fail with EMFILE: say so in words (the live view
  // colours the same thresholds: 75% and 90%).
  const fdsShare = p.fds.open !== null && p.fds.limit ? p.fds.open / p.fds.limit : null;
  const fdsNote = fdsShare !== null && fdsShare >= 0.75 ? ` (${Math.floor(fdsShare * 100)}% of ulimit -n${fdsShare >= 0.9 ? ': EMFILE is near' : ''})` : '';
  const fds = p.fds.open === null ? 'n/a' : `${p.fds.open}/${p.fds.limit ?? 'unlimited'}${fdsNote}`;
  lines.push(`process  cpu ${percent(p.cpuPercent)}  rss ${size('process.rssBytes', p.rssBytes)}  fds ${fds}${p.threads !== null ? `  threads ${p.threads}` : ''}`);
  lines.push(
    `heap     used ${size('memory.heapUsedBytes', m.heapUsedBytes)} / total ${size('memory.heapTotalBytes', m.heapTotalBytes)} / limit ${size('memory.heapLimitBytes', m.heapLimitBytes)}  external ${size('memory.externalBytes', m.externalBytes)}  arrayBuffers ${size('memory.arrayBuffersBytes', m.arrayBuffersBytes)}`,
  );
  const spaces = m.spaces.filter((x) => (x.sizeBytes ?? 0) > 0).map((x, i) => `${x.name.replace(/_space$/, '')} ${size(`memory.spaces.${i}.usedBytes`, x.usedBytes)}`);
  if (spaces.length) lines.push(`spaces   ${spaces.join(', ')}`);
  if (s.gc) {
    const k = s.gc.byKind;
    lines.push(
      `gc       ${s.gc.count} in ${ms(el.windowMs)}, ${ms(s.gc.pauseMs)} paused  (minor ${k.minor.count}, major ${k.major.count}, incremental ${k.incremental.count}, weakcb ${k.weakcb.count})`,
    );
  } else lines.push(`gc       n/a${na(s, 'gc')}`);
  const lag = el.lagMs;
  lines.push(
    `loop     lag p50 ${ms(lag?.p50)} p90 ${ms(lag?.p90)} p99 ${ms(lag?.p99)} max ${ms(lag?.max)}  utilization ${ratio(el.utilization)}  window ${ms(el.windowMs)}`,
  );
  if (el.blocked) {
    lines.push(`BLOCKED  main thread stuck in JavaScript for ${ms(el.blocked.forMs)}:`);
    for (const f of el.blocked.stack.slice(0, 8)) lines.push(`           ${f}`);
  }
  lines.push(s.handles ? `handles  ${s.handles.total}: ${countsLine(s.handles.byType)}` : `handles  n/a${na(s, 'handles')}`);
  lines.push(s.requests ? `requests ${s.requests.total}: ${countsLine(s.requests.byType)}` : `requests n/a${na(s, 'requests')}`);
  for (const k of ['eventLoop.lagMs', 'eventLoop.utilization'] as const) {
    if (s.unavailable[k]) lines.push(`n/a      ${k}: ${s.unavailable[k]}`);
  }
  // figures the target reported that make no sense: named once, the JSON says each one's value
  const invalid = Object.keys(s.unavailable).filter((k) => k !== 'eventLoop.utilization' && s.unavailable[k]!.startsWith('invalid:'));
  if (invalid.length) lines.push(`invalid  ${invalid.join(', ')}: figures from the target that make no sense (null in --json, with each value)`);
  if (s.sockets) lines.push(...renderSockets(s.sockets));
  if (s.httpPools) lines.push(...renderPools(s.httpPools, s.sockets?.poolsOmitted));
  if (s.sockets?.findings.length) {
    lines.push('findings');
    for (const f of s.sockets.findings) lines.push(`  ${f}`);
  }
  if (s.host) {
    lines.push(
      `host     ${s.host.cpus} cpus  load ${s.host.loadAvg.map((x) => x.toFixed(2)).join(' ')}  mem available ${bytes(s.host.memAvailableBytes)} of ${bytes(s.host.memTotalBytes)}`,
    );
  }
  if (s.workers) lines.push(...renderWorkers(s.workers));
  return lines;
}

const pad = (v: string, n: number): string => (v.length >= n ? v : v + ' '.repeat(n - v.length));
const lpad = (v: string, n: number): string => (v.length >= n ? v : ' '.repeat(n - v.length) + v);
const num = (v: number | null | undefined): string => (v === null || v === undefined ? 'n/a' : String(v));

export function renderSockets(k: Sockets): string[] {
  const lines: string[] = [];
  const how = k.census ? `census ${ms(k.census.wallMs)}` : `handles ${k.found.handles}, agents ${k.found.agents}, fetch ${k.found.fetch}`;
  const unseen = k.kernel && k.kernel.unseen > 0 ? `; ${k.kernel.unseen} only the kernel sees` : '';
  lines.push(
    `sockets  ${k.total}: tls ${k.byKind.tls}, tcp ${k.byKind.tcp}; client ${k.byDirection.client}, server ${k.byDirection.server}; idle in pools ${k.idle}${unseen}  (found via ${how}; ${ms(k.probeMs)} in target)`,
  );
  if (k.groups.length) {
    lines.push(`  ${pad('endpoint', 28)} ${pad('dir', 6)} ${lpad('conns', 6)} ${lpad('tls', 5)} ${lpad('idle', 5)} ${lpad('read', 10)} ${lpad('written', 10)} ${lpad('pending', 10)} ${lpad('unread', 10)}  pools`);
    for (const g of k.groups) {
      const pools = Object.entries(g.byPool)
        .sort((a, b) => b[1] - a[1])
        .map(([n, c]) => `${n} ${c}`)
        .join(', ');
      lines.push(
        `  ${pad(g.endpoint, 28)} ${pad(g.direction === 'server' ? 'in' : g.direction === 'client' ? 'out' : '?', 6)} ${lpad(String(g.count), 6)} ${lpad(String(g.tls), 5)} ${lpad(String(g.idle), 5)} ${lpad(bytes(g.bytesRead), 10)} ${lpad(bytes(g.bytesWritten), 10)} ${lpad(bytes(g.pendingWriteBytes), 10)} ${lpad(bytes(g.pendingReadBytes), 10)}  ${g.direction === 'server' ? '' : pools}`.trimEnd(),
      );
    }
    if (k.groupsOmitted.groups > 0) lines.push(`  (+${k.groupsOmitted.groups} smaller groups, ${k.groupsOmitted.connections} connections)`);
  }
  if (k.top.length) {
    lines.push(`top ${k.top.length} sockets by pending write bytes, then bytes moved`);
    for (const t of k.top) {
      const tls = t.tls ? `  ${t.tls.protocol ?? '?'} ${t.tls.cipher ?? ''}${t.tls.servername ? ` sni ${t.tls.servername}` : ''}${t.tls.sessionReused ? ' reused' : ''}`.trimEnd() : '';
      const arrow = t.direction === 'server' ? `${t.local ?? '?'} <- ${t.remote ?? '?'}` : `${t.local ?? '?'} -> ${t.remote ?? '?'}`;
      lines.push(
        `  ${pad(t.kind, 3)} ${pad(arrow, 46)} ${pad(t.state + (t.idle ? ' idle' : ''), 10)} pending ${bytes(t.pendingWriteBytes)}${t.pendingReadBytes ? `  unread ${bytes(t.pendingReadBytes)}` : ''}  read ${bytes(t.bytesRead)}  written ${bytes(t.bytesWritten)}${t.pool ? `  pool ${t.pool}` : ''}${tls}`,
      );
    }
  }
  for (const e of k.errors) lines.push(`  (partial: ${e})`);
  lines.push(`  not seen: ${k.notSeen.map((x) => x.split(':')[0]).join('; ')} (--json says why)`);
  return lines;
}

export function renderPools(pools: HttpPool[], omitted: Sockets['poolsOmitted'] = { pools: 0, origins: 0 }): string[] {
  const lines: string[] = [];
  const empty = pools.filter((p) => p.origins.length === 0).map((p) => p.name);
  const used = pools.filter((p) => p.origins.length > 0);
  const more = [omitted.pools ? `${omitted.pools} more pools` : '', omitted.origins ? `${omitted.origins} more origins` : ''].filter(Boolean).join(', ');
  lines.push(`pools    ${used.length} with connections${empty.length ? ` (no origins: ${empty.join(', ')})` : ''}${more ? `; not listed: ${more}` : ''}`);
  for (const p of used) {
    const limits =
      p.kind === 'fetch'
        ? `connections per origin ${p.maxSockets ?? 'unlimited'}`
        : `maxSockets ${p.maxSockets ?? 'unlimited'}  maxFreeSockets ${p.maxFreeSockets ?? 'unlimited'}${p.maxTotalSockets !== null ? `  maxTotalSockets ${p.maxTotalSockets}` : ''}  keepAlive ${p.keepAlive ?? 'n/a'}`;
    lines.push(`  ${p.name}  ${limits}  totals: in use ${p.totals.inUse}, free ${p.totals.free}, queued ${p.totals.queued}`);
    const rows = [...p.origins].sort((a, b) => (b.queued ?? 0) - (a.queued ?? 0) || (b.inUse ?? 0) - (a.inUse ?? 0));
    for (const o of rows) {
      const extra = p.kind === 'fetch' ? `  connected ${num(o.connected)}  pending ${num(o.pending)}  running ${num(o.running)}` : '';
      const name = o.servername && !o.origin.startsWith(`${o.servername}:`) ? `${o.origin} sni ${o.servername}` : o.origin;
      lines.push(`    ${pad(name, 36)} in use ${lpad(num(o.inUse), 4)}  free ${lpad(num(o.free), 4)}  queued ${lpad(num(o.queued), 4)}  max ${p.maxSockets ?? 'unlimited'}${extra}`);
    }
    if (p.note) lines.push(`    (${p.note})`);
  }
  return lines;
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
      `  ${id}  heap ${bytes(w.heapUsedBytes)} / ${bytes(w.heapTotalBytes)} / limit ${bytes(w.heapLimitBytes)}  ext ${bytes(w.externalBytes)}  ab ${bytes(w.arrayBuffersBytes)}  util ${ratio(w.eventLoop.utilization)}${w.cpuPercent !== null ? `  cpu ${percent(w.cpuPercent, 0)}` : ''}  lag p99 ${ms(lag?.p99)}  ${gc}${w.eventLoop.blocked ? `  BLOCKED ${ms(w.eventLoop.blocked.forMs)} at ${(w.eventLoop.blocked.stack[0] ?? '?').replace(/^at /, '')}` : ''}${w.eventLoop.waiting ? `  waiting in Atomics.wait for ${ms(w.eventLoop.waiting.forMs)} (as pool workers wait for a task, or a lock; util counts the wait)` : ''}`,
    );
  }
  return lines;
}
