// Will a heap snapshot push the target (or the host) over, and how long will it freeze it? Pure
// estimates from what was measured here; the host and cgroup readers are platform/hostMemory.ts.
//
// Measured on this machine (2 cores, Node 20.20, an idle moment), peak RSS growth of
// the target while V8 built a snapshot, over its heapUsed, and the time its thread was frozen:
//   arrays of doubles, 203 MiB heap:   0.14x,  1.2 s  (6 ms/MiB),   snapshot 0.02x the heap
//   small objects, 108 MiB (2.8 M):   19.9x, 38.8 s (360 ms/MiB), snapshot 1.6x
//   object trees, 69 MiB:              8.0x, 26.3 s (382 ms/MiB), snapshot 1.8x
//   short strings, 48 MiB:             8.5x, 16.3 s (339 ms/MiB), snapshot 2.0x
// The check uses the worst measured factor (20x): nodetop cannot tell the shape of a heap
// without walking it, and being wrong on the low side can get the target OOM-killed.

import { bytes } from './units';

export const SNAPSHOT_PEAK_FACTOR = 20;

/**
 * How long V8 keeps a thread frozen building a snapshot, per MiB of heap, on an idle core of this
 * machine (docs/benchmarks.md, "Snapshot calibration"). Object-dense memory (small objects,
 * strings, a compiler's ASTs and types: every object a node, every field an edge) is the cost;
 * V8's large-object space (big arrays, long strings) holds few nodes per MiB, unless it is an
 * array of references (the 1.5 M-element array of a 60 MiB object heap is there). So: dense
 * memory at 100-6,000 ms per MiB, large objects at 2-450.
 */
export const SNAPSHOT_MS_PER_MIB = {
  // high end measured on tsc's heap: 226 MiB had used >1,100 s of CPU without finishing (>4.9 s per MiB)
  dense: [100, 6000],
  large: [2, 450],
} as const;

/** Where the range comes from, for the sentence before a snapshot: it is wide because nodetop cannot see the heap's shape. */
export function estimateBasis(): string {
  const r = SNAPSHOT_MS_PER_MIB;
  const n = (v: number): string => v.toLocaleString('en-US');
  return `measured: ${n(r.dense[0])}-${n(r.dense[1])} ms per MiB of small objects, the high end a compiler's heap, ${n(r.large[0])}-${n(r.large[1])} of large arrays; the heap's shape decides where in that range, and nodetop cannot see it without walking the heap`;
}

/**
 * A snapshot's thread competes for the CPU like any other: with the host's 1-minute load L on
 * C cores it gets about C / (L + 1) of a core (measured here at a load of 13-18 on 2 cores: the
 * same heaps took 4-9x their idle time). The high end is scaled by that; the low end assumes
 * the load goes away.
 */
export function contention(load1: number | null, cores: number): number {
  if (load1 === null || !Number.isFinite(load1) || load1 < 0 || !(cores >= 1)) return 1;
  return Math.max(1, (load1 + 1) / cores);
}

const MiB = 1024 * 1024;

export interface SnapshotEstimate {
  peakGrowthBytes: number;
  frozenMsLow: number;
  frozenMsHigh: number;
  /** The factor the high end was scaled by for the host's load (1: idle, or not known). */
  contention: number;
}

/**
 * `largeObjectBytes`: of the heap used, in V8's large-object spaces. `load`: the host's
 * contention (contention()), 1 when unknown (a remote target).
 */
export function estimateSnapshot(heapUsedBytes: number, largeObjectBytes = 0, load = 1): SnapshotEstimate {
  // a reading that makes no sense (a remote endpoint's) counts as none
  const large = Number.isFinite(largeObjectBytes) ? Math.min(Math.max(0, largeObjectBytes), heapUsedBytes) / MiB : 0;
  const dense = heapUsedBytes / MiB - large;
  const r = SNAPSHOT_MS_PER_MIB;
  return {
    peakGrowthBytes: heapUsedBytes * SNAPSHOT_PEAK_FACTOR,
    frozenMsLow: dense * r.dense[0] + large * r.large[0],
    frozenMsHigh: (dense * r.dense[1] + large * r.large[1]) * load,
    contention: load,
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
