// Page 5: HTTP client pools (scenario 2: "requests queue because the pool is too small"): per
// pool and origin, sockets in use, free, queued against maxSockets; queues first.

import type { Sample } from '../../model/sample';
import { esc, type History, type Painter, type ViewState } from '../render';
import { lpad, pad, table } from './lists';

export function poolsPage(s: Sample, prev: Sample | null, _h: History, st: ViewState, p: Painter, width: number, height: number): string[] {
  const pools = s.httpPools;
  if (!pools) return ['', p.paint('  HTTP pools were not read in this sample (they are read every few seconds, and on this page every tick).', 'dim')];
  const queuedBefore = new Map<string, number>();
  for (const pp of prev?.httpPools ?? []) for (const o of pp.origins) queuedBefore.set(`${pp.name} ${o.key}`, o.queued ?? 0);
  const rows: Array<{ queued: number; inUse: number; line: string }> = [];
  const ow = Math.max(16, Math.min(44, width - 52));
  for (const pool of pools) {
    for (const o of pool.origins) {
      const queued = o.queued ?? 0;
      const was = queuedBefore.get(`${pool.name} ${o.key}`);
      const trend = was === undefined ? '' : queued > was ? ` (+${queued - was})` : queued < was ? ` (${queued - was})` : '';
      const max = pool.maxSockets === null ? '∞' : String(pool.maxSockets);
      const full = pool.maxSockets !== null && (o.inUse ?? 0) >= pool.maxSockets;
      const line = `  ${pad(esc(pool.name), 18)} ${pad(esc(o.origin), ow)} ${lpad(String(o.inUse ?? 'n/a'), 6)} ${lpad(String(o.free ?? 'n/a'), 5)} ${lpad(`${queued}${trend}`, 10)} ${lpad(p.unicode ? max : max.replace('∞', 'inf'), 5)}${pool.kind === 'fetch' ? `  running ${o.running ?? 'n/a'} pending ${o.pending ?? 'n/a'}` : ''}`;
      rows.push({ queued, inUse: o.inUse ?? 0, line: queued > 0 ? p.paint(line, full ? 'bad' : 'warn') : line });
    }
  }
  rows.sort((a, b) => b.queued - a.queued || b.inUse - a.inUse);
  const header = `  ${pad('POOL', 18)} ${pad('ORIGIN', ow)} ${lpad('IN USE', 6)} ${lpad('FREE', 5)} ${lpad('QUEUED', 10)} ${lpad('MAX', 5)}`;
  const empty = pools.filter((x) => x.origins.length === 0).map((x) => x.name);
  const findings = (s.sockets?.findings ?? []).slice(0, Math.max(0, Math.floor(height / 3)));
  const out = table(header, rows.map((r) => r.line), st.selected, Math.max(2, height - 1 - findings.length), p, width);
  if (rows.length === 0) out.push(p.paint('  no pool has a connection or a queued request', 'dim'));
  if (empty.length) out.push(p.paint(`  idle pools: ${esc(empty.join(', '))}`, 'dim'));
  for (const f of findings) out.push(p.paint(`  ${esc(f)}`, 'warn'));
  return out;
}
