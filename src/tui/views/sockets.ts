// Page 3: TCP and TLS connections grouped by remote (scenario 1: "thousands of TLS connections,
// more than the pool allows"), sortable by connections, buffered bytes or bytes moved, and the
// sentences that explain counts above a pool's size.

import type { Sample } from '../../model/sample';
import type { SocketGroup } from '../../model/net';
import { bytes } from '../../model/units';
import { esc, type History, type Painter, type ViewState } from '../render';
import { keyedTable, lpad, pad, wrap, type ListRow } from './lists';

export const SOCKET_SORTS = ['connections', 'pending', 'bytes'] as const;

export function sortGroups(groups: SocketGroup[], sort: number): SocketGroup[] {
  const by = SOCKET_SORTS[sort % SOCKET_SORTS.length];
  const key = (g: SocketGroup): number =>
    by === 'pending' ? g.pendingWriteBytes + g.pendingReadBytes : by === 'bytes' ? g.bytesRead + g.bytesWritten : g.count;
  return [...groups].sort((a, b) => key(b) - key(a) || b.count - a.count || a.endpoint.localeCompare(b.endpoint));
}

/** ", read 4 s ago" when the sockets shown come from an earlier, rationed walk. */
export function walkAge(s: Sample): string {
  const at = s.sockets?.readAt ? Date.parse(s.sockets.readAt) : NaN;
  const age = Date.parse(s.time) - at;
  return Number.isFinite(age) && age >= 1500 ? `, read ${Math.round(age / 1000)} s ago (the walk is held to 0.5% of the target's CPU)` : '';
}

/** Which group a connection belongs to: its remote end (out) or its local listener (in). */
function groupKey(g: SocketGroup): string {
  return `${g.direction ?? '?'} ${g.endpoint}`;
}

export function socketListRows(s: Sample, st: ViewState, p: Painter, width: number): ListRow[] {
  const k = s.sockets;
  if (!k) return [];
  // below 110 columns READ and WRITTEN give way to POOLS (Enter shows them per connection)
  const wide = width >= 110;
  const ew = Math.max(15, Math.min(40, width - (wide ? 54 : 34) - 16));
  return sortGroups(k.groups, st.sort.sockets).map((g) => {
    const pools =
      Object.entries(g.byPool)
        .sort((a, b) => b[1] - a[1])
        .map(([n, c]) => `${n} ${c}`)
        .join(', ') + (g.unseen ? ` (${g.unseen} only the kernel sees)` : '');
    const pending = g.pendingWriteBytes + g.pendingReadBytes;
    const moved = wide ? ` ${lpad(bytes(g.bytesRead), 9)} ${lpad(bytes(g.bytesWritten), 9)}` : '';
    const line = `  ${pad(esc(g.endpoint), ew)} ${pad(g.direction === 'server' ? 'in' : g.direction === 'client' ? 'out' : '?', 3)} ${lpad(String(g.count), 5)} ${lpad(String(g.tls), 4)} ${lpad(String(g.idle), 4)}${moved} ${lpad(bytes(pending), 9)}  ${esc(g.direction === 'server' ? '' : pools)}`;
    return { key: groupKey(g), line: pending > 1024 * 1024 ? p.paint(line, 'warn') : line };
  });
}

export function socketsHeader(width: number, sortName: string): string {
  const wide = width >= 110;
  const ew = Math.max(15, Math.min(40, width - (wide ? 54 : 34) - 16));
  return `  ${pad('ENDPOINT', ew)} ${pad('DIR', 3)} ${lpad('CONNS', 5)} ${lpad('TLS', 4)} ${lpad('IDLE', 4)}${wide ? ` ${lpad('READ', 9)} ${lpad('WRITTEN', 9)}` : ''} ${lpad('PENDING', 9)}  POOLS  (by ${sortName})`;
}

/** Sentences that explain a problem, wrapped whole, never cut at the edge. */
export function findingLines(findings: string[], p: Painter, width: number, maxLines: number): string[] {
  const out: string[] = [];
  for (const f of findings) {
    const lines = wrap(esc(f), width - 2, '  ').map((l, i) => (i === 0 ? l : `  ${l}`));
    if (out.length + lines.length > maxLines) {
      if (out.length < maxLines) out.push(p.paint(`  (${findings.length - findings.indexOf(f)} more: a taller terminal shows them)`, 'dim'));
      break;
    }
    out.push(...lines.map((l) => p.paint(l, 'warn')));
  }
  return out;
}

/** Enter on a group: its connections, each with its details (the busiest 50 of the process are read). */
function groupDetail(s: Sample, key: string, p: Painter, width: number, height: number): string[] {
  const k = s.sockets!;
  const g = k.groups.find((x) => groupKey(x) === key);
  const out = [p.paint(`Sockets > ${esc(key.replace(/^client /, 'out to ').replace(/^server /, 'in on '))}`, 'bold') + p.paint('  (Esc goes back)', 'dim')];
  if (!g) return [...out, '', p.paint('  This group is not in the latest walk any more.', 'dim')];
  out.push(`  ${g.count} connections, TLS ${g.tls}, idle ${g.idle}; read ${bytes(g.bytesRead)}, written ${bytes(g.bytesWritten)}, pending ${bytes(g.pendingWriteBytes + g.pendingReadBytes)}`);
  const pools = Object.entries(g.byPool).map(([n, c]) => `${n} ${c}`).join(', ');
  if (pools) out.push(...wrap(`pools: ${esc(pools)}${g.unseen ? `; ${g.unseen} only the kernel sees (not reachable from JavaScript: the census, c, finds more)` : ''}`, width));
  const mine = k.top.filter((c) => (g.direction === 'server' ? c.local === g.endpoint : c.remote === g.endpoint));
  out.push(p.paint(`  ${pad('KIND', 4)} ${pad('STATE', 11)} ${pad('LOCAL', 21)} ${pad('REMOTE', 21)} ${lpad('READ', 9)} ${lpad('WRITTEN', 9)} ${lpad('PENDING', 9)} ${lpad('AGE', 7)}  POOL, TLS`, 'bold'));
  for (const c of mine.slice(0, Math.max(1, height - out.length - 1))) {
    const tls = c.tls ? ` ${c.tls.protocol ?? ''} ${c.tls.servername ?? ''}${c.tls.authorized === false ? ' unauthorized' : ''}${c.tls.sessionReused ? ' resumed' : ''}` : '';
    const age = c.ageMs === null ? 'n/a' : c.ageMs >= 60_000 ? `${Math.round(c.ageMs / 60_000)}m` : `${(c.ageMs / 1000).toFixed(1)}s`;
    out.push(
      `  ${pad(c.kind, 4)} ${pad(esc(c.state) + (c.idle ? ' idle' : ''), 11)} ${pad(esc(c.local ?? '?'), 21)} ${pad(esc(c.remote ?? '?'), 21)} ${lpad(bytes(c.bytesRead), 9)} ${lpad(bytes(c.bytesWritten), 9)} ${lpad(bytes(c.pendingWriteBytes + c.pendingReadBytes), 9)} ${lpad(age, 7)}  ${esc(c.pool ?? '(no pool)')}${esc(tls)}`,
    );
  }
  if (mine.length < g.count) out.push(p.paint(`  ${mine.length} of ${g.count} shown: the walk reads the details of the busiest ${k.top.length} connections of the process`, 'dim'));
  return out;
}

export function socketsPage(s: Sample, _prev: Sample | null, _h: History, st: ViewState, p: Painter, width: number, height: number): string[] {
  const k = s.sockets;
  if (!k) return ['', p.paint('  Sockets were not read in this sample (they are read every few seconds, and on this page every tick).', 'dim')];
  if (st.detail?.page === 'sockets') return groupDetail(s, st.detail.key, p, width, height);
  const out: string[] = [];
  const sortName = SOCKET_SORTS[st.sort.sockets % SOCKET_SORTS.length]!;
  out.push(
    `  ${k.total} connections: TLS ${p.paint(String(k.byKind.tls), k.byKind.tls > 0 ? 'bold' : 'info')}, TCP ${k.byKind.tcp}; out ${k.byDirection.client}, in ${k.byDirection.server}; idle ${k.idle}` +
      p.paint(`  walk ${k.probeMs.toFixed(1)} ms${walkAge(s)}${k.census ? '; census' : ''}`, 'dim'),
  );
  const findings = findingLines(k.findings, p, width, Math.max(0, Math.floor(height / 3)));
  const rows = socketListRows(s, st, p, width);
  if (k.groupsOmitted.groups > 0) rows.push({ key: '(omitted)', line: p.paint(`  (+${k.groupsOmitted.groups} smaller groups, ${k.groupsOmitted.connections} connections)`, 'dim') });
  out.push(...keyedTable(socketsHeader(width, sortName), rows, st, Math.max(2, height - 2 - findings.length), p, width));
  out.push(...findings);
  out.push(p.paint(`  not seen: ${k.notSeen.map((x) => x.split(':')[0]).join('; ')}  (Enter: the group's connections; c: heap census)`, 'dim'));
  return out;
}
