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
