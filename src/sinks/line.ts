// One compact line per sample, vmstat-style, for `nodetop watch`. Pure: Sample in, text out.
// Columns are fixed-width so lines from several targets stay aligned under one header.

import { socketCount, type Sample } from '../model/sample';
import { bytes, ms, printable, ratio } from '../model/units';
import { fieldDef } from '../model/trigger';

export const WATCH_FIELDS = ['time', 'pid', 'heap', 'rss', 'lag', 'elu', 'cpu', 'handles', 'sockets', 'gc', 'fds'] as const;
export type WatchField = (typeof WATCH_FIELDS)[number];

// socketCount lives in the model (the trigger language reads it too); re-exported for the sinks
export { socketCount };

interface Column {
  head: string;
  width: number;
  value(s: Sample): string;
}

const na = 'n/a';
const COLUMNS: Record<WatchField, Column> = {
  // milliseconds: at --interval 500ms, whole seconds showed the same time twice
  time: { head: 'TIME', width: 12, value: (s) => s.time.slice(11, 23) },
  pid: { head: 'PID', width: 7, value: (s) => String(s.target.pid) },
  heap: {
    head: 'HEAP USED/LIMIT',
    width: 21,
    value: (s) => `${bytes(s.memory.heapUsedBytes)}/${bytes(s.memory.heapLimitBytes)}`,
  },
  rss: { head: 'RSS', width: 9, value: (s) => bytes(s.process.rssBytes) },
  lag: { head: 'LAG P99', width: 9, value: (s) => ms(s.eventLoop.lagMs?.p99) },
  elu: { head: 'ELU', width: 4, value: (s) => ratio(s.eventLoop.utilization) },
  cpu: { head: 'CPU', width: 6, value: (s) => (s.process.cpuPercent === null ? na : `${s.process.cpuPercent.toFixed(1)}%`) },
  handles: { head: 'HANDLES', width: 7, value: (s) => (s.handles ? String(s.handles.total) : na) },
  sockets: { head: 'SOCKETS', width: 7, value: (s) => String(socketCount(s) ?? na) },
  gc: { head: 'GC N/PAUSE', width: 13, value: (s) => (s.gc ? `${s.gc.count}/${ms(s.gc.pauseMs)}` : na) },
  fds: {
    head: 'FDS',
    width: 11,
    value: (s) => (s.process.fds.open === null ? na : `${s.process.fds.open}/${s.process.fds.limit ?? 'inf'}`),
  },
};

function pad(text: string, width: number, left: boolean): string {
  return left ? text.padEnd(width) : text.padStart(width);
}

export function watchHeader(fields: readonly WatchField[]): string {
  return fields.map((f, i) => pad(COLUMNS[f].head, COLUMNS[f].width, i === 0 && f === 'time')).join('  ').trimEnd();
}

export function watchLine(s: Sample, fields: readonly WatchField[]): string {
  return fields.map((f, i) => pad(COLUMNS[f].value(s), COLUMNS[f].width, i === 0 && f === 'time')).join('  ').trimEnd();
}

/** A line for an event in the stream (a target that exited), aligned after the time and pid. */
export function watchEventLine(timeIso: string, pid: number, text: string, fields: readonly WatchField[]): string {
  const parts: string[] = [];
  if (fields.includes('time')) parts.push(pad(timeIso.slice(11, 23), COLUMNS.time.width, true));
  parts.push(pad(String(pid), COLUMNS.pid.width, false));
  parts.push(printable(text)); // an error message can quote the target
  return parts.join('  ');
}

/**
 * The readings a trigger's condition used, for its event line: "heap.used 912 MiB (89.1% of
 * limit 1.00 GiB), lag.p99 250 ms". Keys as src/model/trigger.ts writes them.
 */
export function triggerValuesText(values: Record<string, number | null>): string {
  const parts: string[] = [];
  for (const [key, v] of Object.entries(values)) {
    if (key.endsWith('.limit')) continue;
    const growth = key.endsWith('.growthPerSec');
    const field = growth ? key.slice(0, -'.growthPerSec'.length) : key;
    const def = fieldDef(field);
    const fmt = (n: number | null): string => {
      if (n === null) return 'n/a';
      switch (def?.kind) {
        case 'bytes':
          return bytes(n);
        case 'ms':
          return ms(n);
        case 'percent':
          return `${n.toFixed(1)}%`;
        case 'ratio':
          return ratio(n);
        default:
          return String(Math.round(n * 100) / 100);
      }
    };
    const limit = values[`${field}.limit`];
    if (growth) parts.push(`${printable(field)} grows ${v === null ? 'n/a' : `${fmt(v)}/s`}`);
    else if (typeof limit === 'number' && v !== null) parts.push(`${printable(field)} ${fmt(v)} (${((v / limit) * 100).toFixed(1)}% of limit ${fmt(limit)})`);
    else parts.push(`${printable(field)} ${fmt(v)}`);
  }
  return parts.join(', ') || 'no readings';
}
