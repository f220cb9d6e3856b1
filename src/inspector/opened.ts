// Which inspectors nodetop opened, and on which port. An inspector nodetop opened with SIGUSR1
// and moved off 9229 listens on a random port that nothing on the process's command line
// names, so another nodetop (a second terminal, the live view's snapshot) could not tell it
// from an application port. Each is a record (src/platform/records.ts: pid and start time, in a
// directory only this uid can write); a stale record only adds a port to probe, and the
// inspector's own pid check decides.

import { forgetRecord, readRecord, writeRecord } from '../platform/records';

export function recordOpened(pid: number, port: number): void {
  writeRecord(pid, 'port', String(port));
}

export function openedPort(pid: number): number | null {
  const text = readRecord(pid, 'port', 16);
  if (text === null) return null;
  const n = Number(text.trim());
  return Number.isInteger(n) && n > 0 && n < 65536 ? n : null;
}

export function forgetOpened(pid: number): void {
  forgetRecord(pid, 'port');
}
