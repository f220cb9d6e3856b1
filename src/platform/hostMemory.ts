// The host's and a cgroup's memory figures a snapshot's estimate is compared with.

import * as fs from 'node:fs';
import { readMemoryCurrent } from './cgroup';
import { parseMemAvailable } from '../model/snapshotEstimate';

export function readHostMemAvailable(): number | null {
  try {
    return parseMemAvailable(fs.readFileSync('/proc/meminfo', 'utf8'));
  } catch {
    return null;
  }
}

/** The memory the pid's cgroup uses now (v2 memory.current, v1 memory.usage_in_bytes), or null. */
export function readCgroupMemoryCurrent(pid: number): number | null {
  return readMemoryCurrent(pid);
}

/** The host's 1-minute load average, or null. */
export function readLoadAverage(): number | null {
  try {
    const v = Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}
