// Will a heap snapshot push the target (or the host) over, and how long will it freeze it? Pure
// estimates from what was measured here; the host and cgroup readers are platform/hostMemory.ts.
//
// Measured on this machine (2 cores, Node 20.20, loaded by other test runs), peak RSS growth of
// the target while V8 built a snapshot, over its heapUsed, and the time its thread was frozen:
//   arrays of doubles, 203 MiB heap:   0.14x,  1.2 s  (6 ms/MiB),   snapshot 0.02x the heap
//   small objects, 108 MiB (2.8 M):   19.9x, 38.8 s (360 ms/MiB), snapshot 1.6x
//   object trees, 69 MiB:              8.0x, 26.3 s (382 ms/MiB), snapshot 1.8x
//   short strings, 48 MiB:             8.5x, 16.3 s (339 ms/MiB), snapshot 2.0x
// The check uses the worst measured factor (20x): nodetop cannot tell the shape of a heap
// without walking it, and being wrong on the low side can get the target OOM-killed.

import { bytes } from './units';

export const SNAPSHOT_PEAK_FACTOR = 20;
export const SNAPSHOT_MS_PER_MIB: [number, number] = [6, 400];

const MiB = 1024 * 1024;

export interface SnapshotEstimate {
  peakGrowthBytes: number;
  frozenMsLow: number;
  frozenMsHigh: number;
}

export function estimateSnapshot(heapUsedBytes: number): SnapshotEstimate {
  const mib = heapUsedBytes / MiB;
  return {
    peakGrowthBytes: heapUsedBytes * SNAPSHOT_PEAK_FACTOR,
    frozenMsLow: mib * SNAPSHOT_MS_PER_MIB[0],
    frozenMsHigh: mib * SNAPSHOT_MS_PER_MIB[1],
  };
}

export interface MemoryRoom {
  /** The target's RSS now. */
  rssBytes: number;
  /** Host MemAvailable, when nodetop can read the target's host (null: remote or unknown). */
  hostAvailableBytes: number | null;
  /** The target's cgroup memory.max and memory.current (null: no limit / unknown). */
  cgroupLimitBytes: number | null;
  cgroupCurrentBytes: number | null;
  /** A budget the user set with --max-growth. */
  budgetBytes: number | null;
}

/** Why a snapshot is unsafe, in one clause, or null when it fits. Pure. */
export function unsafeReason(est: SnapshotEstimate, room: MemoryRoom): string | null {
  const need = est.peakGrowthBytes;
  if (room.budgetBytes !== null && need > room.budgetBytes) {
    return `it may need ~${bytes(need)} more memory in the target, over the --max-growth budget of ${bytes(room.budgetBytes)}`;
  }
  // keep a tenth of the host for everything else
  if (room.hostAvailableBytes !== null && need > room.hostAvailableBytes * 0.9) {
    return `it may need ~${bytes(need)} more memory in the target and the host has ${bytes(room.hostAvailableBytes)} available`;
  }
  if (room.cgroupLimitBytes !== null) {
    const used = room.cgroupCurrentBytes ?? room.rssBytes;
    if (used + need > room.cgroupLimitBytes) {
      return `it may need ~${bytes(need)} more memory in the target, whose cgroup uses ${bytes(used)} of its ${bytes(room.cgroupLimitBytes)} limit`;
    }
  }
  return null;
}

export function parseMemAvailable(meminfo: string): number | null {
  const m = /^MemAvailable:\s+(\d+)\s*kB/m.exec(meminfo);
  return m ? Number(m[1]) * 1024 : null;
}
