// Page 3: TCP and TLS connections grouped by remote (scenario 1: "thousands of TLS connections,
// more than the pool allows"), sortable by connections, buffered bytes or bytes moved, and the
// sentences that explain counts above a pool's size.

import type { Sample } from '../../model/sample';
import type { SocketGroup } from '../../model/net';
import { bytes } from '../../model/units';
import { esc, type History, type Painter, type ViewState } from '../render';
import { lpad, pad, table } from './lists';

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

export function socketsPage(s: Sample, _prev: Sample | null, _h: History, st: ViewState, p: Painter, width: number, height: number): string[] {
  const k = s.sockets;
  if (!k) return ['', p.paint('  Sockets were not read in this sample (they are read every few seconds, and on this page every tick).', 'dim')];
  const out: string[] = [];
  const sortName = SOCKET_SORTS[st.sort.sockets % SOCKET_SORTS.length];
  out.push(
    `  ${k.total} connections: TLS ${p.paint(String(k.byKind.tls), k.byKind.tls > 0 ? 'bold' : 'info')}, TCP ${k.byKind.tcp}; out ${k.byDirection.client}, in ${k.byDirection.server}; idle ${k.idle}` +
      p.paint(`  by ${sortName}; walk ${k.probeMs.toFixed(1)} ms${walkAge(s)}`, 'dim'),
  );
  const findings = k.findings.slice(0, Math.max(0, Math.floor(height / 4)));
  // the endpoint column takes what the numbers leave
  const ew = Math.max(15, Math.min(40, width - 52 - 2));
  const header = `  ${pad('ENDPOINT', ew)} ${pad('DIR', 3)} ${lpad('CONNS', 5)} ${lpad('TLS', 4)} ${lpad('IDLE', 4)} ${lpad('READ', 9)} ${lpad('WRITTEN', 9)} ${lpad('PENDING', 9)}  POOLS`;
  const rows = sortGroups(k.groups, st.sort.sockets).map((g) => {
    const pools =
      Object.entries(g.byPool)
        .sort((a, b) => b[1] - a[1])
        .map(([n, c]) => `${n} ${c}`)
        .join(', ') + (g.unseen ? ` (${g.unseen} only the kernel sees)` : '');
    const pending = g.pendingWriteBytes + g.pendingReadBytes;
    const line = `  ${pad(esc(g.endpoint), ew)} ${pad(g.direction === 'server' ? 'in' : g.direction === 'client' ? 'out' : '?', 3)} ${lpad(String(g.count), 5)} ${lpad(String(g.tls), 4)} ${lpad(String(g.idle), 4)} ${lpad(bytes(g.bytesRead), 9)} ${lpad(bytes(g.bytesWritten), 9)} ${lpad(bytes(pending), 9)}  ${esc(g.direction === 'server' ? '' : pools)}`;
    return pending > 1024 * 1024 ? p.paint(line, 'warn') : line;
  });
  if (k.groupsOmitted.groups > 0) rows.push(p.paint(`  (+${k.groupsOmitted.groups} smaller groups, ${k.groupsOmitted.connections} connections)`, 'dim'));
  out.push(...table(header, rows, st.selected, Math.max(2, height - 2 - findings.length), p, width));
  for (const f of findings) out.push(p.paint(`  ${esc(f)}`, 'warn'));
  out.push(p.paint(`  not seen: ${k.notSeen.map((x) => x.split(':')[0]).join('; ')}`, 'dim'));
  return out;
}
