// The host's and a cgroup's memory figures a snapshot's estimate is compared with.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseMemAvailable } from '../model/snapshotEstimate';

export function readHostMemAvailable(): number | null {
  try {
    return parseMemAvailable(fs.readFileSync('/proc/meminfo', 'utf8'));
  } catch {
    return null;
  }
}

/** cgroup v2 memory.current of the pid's cgroup, or null. */
export function readCgroupMemoryCurrent(pid: number): number | null {
  try {
    const cg = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    const m = /^0::(.*)$/m.exec(cg);
    if (!m) return null;
    const v = Number(fs.readFileSync(path.join('/sys/fs/cgroup', m[1] ?? '', 'memory.current'), 'utf8').trim());
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}
