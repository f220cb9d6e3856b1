import { defineProbe } from './probe';

export interface MemoryReading {
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  rss: number;
}

/** process.memoryUsage() alone: for before/after a GC. Cost: one /proc read and a heap stat. */
export const memoryProbe = defineProbe<null, MemoryReading>('memory', 'process.memoryUsage()', function nodetopMemory(): MemoryReading {
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, rss: m.rss };
});
