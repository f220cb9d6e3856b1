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
}

/**
 * This isolate's heap, for before/after comparisons (gc, snapshot safety). Runs in the main
 * thread or a worker. Cost: process.memoryUsage() and one V8 heap statistics call.
 */
export const memoryProbe = defineProbe<null, MemoryReading>(
  'memory',
  'memoryUsage + one V8 heap statistics call',
  function nodetopMemory(): MemoryReading {
    const v8 = require('v8') as typeof import('v8');
    const wt = require('worker_threads') as typeof import('worker_threads');
    const m = process.memoryUsage();
    return {
      threadId: wt.threadId,
      isMainThread: wt.isMainThread,
      heapUsed: m.heapUsed,
      heapTotal: m.heapTotal,
      heapLimit: v8.getHeapStatistics().heap_size_limit,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      rss: m.rss,
    };
  },
);
