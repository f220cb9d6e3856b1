// `nodetop ps`: the Node processes on this host, from /proc only. It attaches to nothing, signals
// nothing and sends no request: the inspector column is evidence, not a probe (src/platform/ps.ts).

import { listNodeProcesses, type NodeProcess } from '../platform/ps';
import type { ArmedRecord } from '../platform/armedRecord';
import { containerLabel } from '../platform/cgroup';
import { bytes, duration, percent } from '../model/units';
import { printable } from '../model/text';
import { exposedWarning } from '../loopback';
import type { Output } from '../cli';

export interface PsOptions {
  json: boolean;
  cpuWindowMs: number;
  /** Only the current user's processes. */
  mine: boolean;
}

export function inspectorText(p: NodeProcess): string {
  const i = p.inspector;
  if (i.state === 'unknown') return '?';
  if (i.state === 'none') return '-';
  const ports = i.ports.length === 1 ? `${i.ports[0]} (likely)` : `${i.ports.join(',')} (one of)`;
  return i.exposed.length ? `${ports} EXPOSED` : ports;
}

/** "pid 6574 is npm, a wrapper: its app is pid 6592" (the note under ps's table). */
export function wrapperNote(pid: number, w: NonNullable<NodeProcess['wrapper']>): string {
  const name = w.kind === 'pm2' ? "pm2's daemon" : w.kind;
  const kids = w.children;
  const what = kids.length === 0 ? 'it runs no Node process now' : kids.length === 1 ? `its app is pid ${kids[0]}` : `it runs pids ${kids.join(', ')}`;
  return `pid ${pid} is ${name}, a wrapper (attach to its app, not to it): ${what}`;
}

export function renderPs(list: NodeProcess[], cpuWindowMs: number): string {
  const rows = list.map((p) => [
    String(p.pid),
    String(p.ppid),
    printable(p.user),
    printable(containerLabel(p.container, p.sharesNetwork)),
    percent(p.cpuPercent),
    bytes(p.rssBytes),
    duration(p.uptimeSec),
    inspectorText(p),
    // argv is whatever the process wrote there: escape sequences, bidi overrides
    printable(p.argv.join(' ')),
  ]);
  const head = ['PID', 'PPID', 'USER', 'CONTAINER', cpuWindowMs > 0 ? 'CPU' : 'CPU(avg)', 'RSS', 'UP', 'INSPECTOR', 'COMMAND'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const right = new Set([0, 1, 4, 5, 6]);
  const line = (r: string[]): string =>
    r
      .map((c, i) => (i === r.length - 1 ? c : right.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  if (list.length === 0) return 'no Node processes visible to you';
  // an inspector off loopback: said in a sentence under the table, not only in a column
  const warnings = list.filter((p) => p.inspector.exposed.length).map((p) => exposedWarning(p.pid, p.inspector.exposed));
  // what `nodetop arm` left behind on purpose, said under the table as the warnings are
  // a wrapper is Node too, but attaching to it reports npm, not the app: said under the table
  for (const p of list) if (p.wrapper) warnings.push(wrapperNote(p.pid, p.wrapper));
  const armed = list.filter((p) => p.armed).map((p) => armedNote(p.pid, p.armed!));
  return [line(head), ...rows.map(line), ...(warnings.length ? ['', ...warnings] : []), ...(armed.length ? ['', ...armed] : [])].join('\n');
}

export function armedNote(pid: number, a: ArmedRecord): string {
  const what = [
    a.oomSnapshotDirectory !== null ? `a heap snapshot near the heap limit (into ${printable(a.oomSnapshotDirectory)})` : '',
    a.reportDirectory !== null ? `a report on a fatal error (into ${printable(a.reportDirectory)})` : '',
  ].filter(Boolean);
  return `pid ${pid} is armed by nodetop arm (${new Date(a.armedAtMs).toISOString().slice(0, 19)}Z): ${what.join(', ')}`;
}

export async function psCommand(opts: PsOptions, out: Output): Promise<void> {
  const list = await listNodeProcesses({
    cpuWindowMs: opts.cpuWindowMs,
    ...(opts.mine && process.getuid ? { uid: process.getuid() } : {}),
  });
  out.write(opts.json ? JSON.stringify(list) : renderPs(list, opts.cpuWindowMs));
}
