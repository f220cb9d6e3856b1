// Numbers a target reports are input from someone else: a broken or hostile endpoint can answer
// 1e300, -5 or NaN for a heap size. Pure checks, so that a reading that makes no sense is
// reported as such (null, with the reason in the sample's `unavailable`; "invalid" in text) and
// never lets a safety check pass (the snapshot's memory check takes checkMemoryReading's word).

import type { MemoryReading } from '../probes/memory';

/** The largest size or count taken as real: 2^53 (8 PiB as bytes; beyond it doubles skip integers). */
export const MAX_READING = 2 ** 53;

/** Why `v` is not a size, count or duration a process could report; null when it is one. */
export function notAReading(v: unknown): string | null {
  // NaN and Infinity arrive as null: the inspector's JSON has no way to say them
  if (typeof v !== 'number') return v === null || v === undefined ? 'no number (NaN, or missing)' : `a ${typeof v}, not a number`;
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return String(v);
  if (v < 0) return `${v}, a negative amount`;
  if (v > MAX_READING) return `${v}, beyond any real amount`;
  return null;
}

/** `v` when it is a reading, else null. */
export function reading(v: unknown): number | null {
  return notAReading(v) === null ? (v as number) : null;
}

/**
 * Why the memory probe's answer cannot be used for a decision (the snapshot's memory check, the
 * copy's size bound), naming the field: "heapUsed is NaN". Null when every field is a reading
 * and the heap used fits in the heap's total (V8's used_heap_size <= total_heap_size).
 */
export function invalidMemoryReading(m: MemoryReading | null | undefined): string | null {
  if (!m || typeof m !== 'object') return 'the reading is missing';
  for (const k of ['heapUsed', 'heapTotal', 'heapLimit', 'external', 'arrayBuffers', 'rss'] as const) {
    const why = notAReading(m[k]);
    if (why !== null) return `${k} is ${why}`;
  }
  if (m.heapUsed > m.heapTotal) return `heapUsed (${m.heapUsed}) is over heapTotal (${m.heapTotal})`;
  return null;
}
