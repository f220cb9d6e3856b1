import { defineProbe } from './probe';

export interface MemoryReading {
  threadId: number;
  isMainThread: boolean;
  heapUsed: number;
  heapTotal: number;
  heapLimit: number;
  external: number;
  arrayBuffers: number;
  /** The whole process's resident set (shared by all threads). */
  rss: number;
  /** Bytes in V8's large-object spaces (big arrays and strings): few snapshot nodes per MiB. Absent: not read (an endpoint that does not run this probe). */
  largeObjectBytes?: number;
}

/**
 * This isolate's heap, for before/after comparisons (gc, snapshot safety). Runs in the main
 * thread or a worker. Cost: process.memoryUsage() and V8's heap and space statistics.
 */
export const memoryProbe = defineProbe<null, MemoryReading>(
  'memory',
  'memoryUsage + V8 heap and heap space statistics (one call each)',
  function nodetopMemory(): MemoryReading {
    const v8 = require('v8') as typeof import('v8');
    const wt = require('worker_threads') as typeof import('worker_threads');
    const m = process.memoryUsage();
    let largeObjectBytes = 0;
    for (const sp of v8.getHeapSpaceStatistics()) if (sp.space_name.includes('large_object')) largeObjectBytes += sp.space_used_size;
    return {
      threadId: wt.threadId,
      isMainThread: wt.isMainThread,
      heapUsed: m.heapUsed,
      heapTotal: m.heapTotal,
      heapLimit: v8.getHeapStatistics().heap_size_limit,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      rss: m.rss,
      largeObjectBytes,
    };
  },
);
