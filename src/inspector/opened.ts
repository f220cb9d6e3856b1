// Which inspectors nodetop opened, and on which port. An inspector nodetop opened with SIGUSR1
// and moved off 9229 listens on a random port that nothing on the process's command line
// names, so another nodetop (a second terminal, the live view's snapshot) could not tell it
// from an application port. Each is recorded in a file of the user's own (0700 directory, 0600
// file), keyed by pid and start time so that a reused pid never matches; a stale record only
// adds a port to probe, and the inspector's own pid check decides.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as proc from '../platform/proc';

function dir(): string {
  return path.join(os.tmpdir(), `nodetop-${process.getuid?.() ?? 'user'}`);
}

function file(pid: number): string | null {
  try {
    return path.join(dir(), `${pid}-${proc.readStat(pid).startTimeTicks}.port`);
  } catch {
    return null;
  }
}

export function recordOpened(pid: number, port: number): void {
  const f = file(pid);
  if (!f) return;
  try {
    fs.mkdirSync(dir(), { recursive: true, mode: 0o700 });
    fs.writeFileSync(f, String(port), { mode: 0o600 });
  } catch {
    /* a convenience only: attaching works without it */
  }
}

export function openedPort(pid: number): number | null {
  const f = file(pid);
  if (!f) return null;
  try {
    const n = Number(fs.readFileSync(f, 'utf8').trim());
    return Number.isInteger(n) && n > 0 && n < 65536 ? n : null;
  } catch {
    return null;
  }
}

export function forgetOpened(pid: number): void {
  const f = file(pid);
  if (!f) return;
  try {
    fs.unlinkSync(f);
  } catch {
    /* not there */
  }
}
