// What `nodetop arm` set in a process, recorded by nodetop (src/platform/records.ts) so that `ps`,
// which attaches to nothing, can say a process is armed. Only this uid's arms are seen (each uid
// has its own record directory), and a record is only as fresh as the last `arm` on that process.

import { readRecord, writeRecord, forgetRecord } from './records';

export interface ArmedRecord {
  /** when `nodetop arm` last armed it, ms since the epoch */
  armedAtMs: number;
  /** a heap snapshot near the heap limit, into this directory (null: not armed) */
  oomSnapshotDirectory: string | null;
  /** a report on a fatal error, into this directory (null: not armed) */
  reportDirectory: string | null;
}

export function recordArmed(pid: number, r: ArmedRecord): void {
  if (r.oomSnapshotDirectory === null && r.reportDirectory === null) forgetRecord(pid, 'armed');
  else writeRecord(pid, 'armed', JSON.stringify(r));
}

/** The record of pid, validated (a file of this uid, but checked as any input is), or null. */
export function armedRecordOf(pid: number): ArmedRecord | null {
  const text = readRecord(pid, 'armed', 8192);
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    const dir = (x: unknown): string | null | undefined => (x === null ? null : typeof x === 'string' && x.length <= 4096 ? x : undefined);
    const snap = dir(v.oomSnapshotDirectory);
    const rep = dir(v.reportDirectory);
    if (typeof v.armedAtMs !== 'number' || !Number.isFinite(v.armedAtMs) || snap === undefined || rep === undefined) return null;
    return { armedAtMs: v.armedAtMs, oomSnapshotDirectory: snap, reportDirectory: rep };
  } catch {
    return null;
  }
}
