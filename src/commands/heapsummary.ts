// `nodetop heap-summary <file.heapsnapshot>`: what one snapshot holds: the largest retainers
// (Eclipse MAT's dominator tree, top level first: cut one and its retained size is freed) and
// the largest constructors by self size. No target is touched.

import * as path from 'node:path';
import { HeapGraphLoader, analyzeHeap, largestRetainers, summarizeGraph, type HeapRetainer } from '../model/heapgraph';
import type { HeapGroup } from '../model/heapsnapshot';
import { bytes } from '../model/units';
import { printable } from '../model/text';
import { readHeapFile } from '../platform/heapfile';
import { memoryTrace } from '../debug';
import { collectGarbage } from '../platform/selfgc';
import { count, cutName, pathText } from './heapdiff';
import type { Output } from '../cli';

export interface HeapSummaryOptions {
  file: string;
  top: number;
  json: boolean;
}

export interface HeapSummaryResult {
  path: string;
  nodes: number;
  selfSizeBytes: number;
  /** largest retained sizes first; none of them inside another one listed */
  retainers: HeapRetainer[];
  /** constructors (objects) and node types, largest self size first */
  groups: HeapGroup[];
}

export async function heapSummaryCommand(opts: HeapSummaryOptions, out: Output): Promise<HeapSummaryResult> {
  const graph = await readHeapFile(opts.file, new HeapGraphLoader());
  collectGarbage(); // the reader's scratch, before the analysis allocates
  memoryTrace('read into a graph');
  const summary = summarizeGraph(graph);
  const analysis = analyzeHeap(graph);
  collectGarbage(); // the analysis's scratch
  memoryTrace('analysed');
  const result: HeapSummaryResult = {
    path: path.resolve(opts.file),
    nodes: summary.nodes,
    selfSizeBytes: summary.selfSizeBytes,
    retainers: largestRetainers(analysis, opts.top),
    groups: summary.groups.slice(0, opts.top),
  };
  out.write(opts.json ? JSON.stringify(result) : renderHeapSummary(result, opts.file));
  return result;
}

export function renderHeapSummary(r: HeapSummaryResult, file: string): string {
  const lines = [`${printable(file)}  ${count(r.nodes)} nodes, ${bytes(r.selfSizeBytes)}`, '', 'largest retainers (freed if cut; none inside another):'];
  const w = Math.max(8, ...r.retainers.map((x) => bytes(x.retainedBytes).length));
  for (const x of r.retainers) lines.push(`  ${bytes(x.retainedBytes).padStart(w)}  ${printable(x.label)}${x.path.length ? ` <- ${pathText(x.path)}` : ''}`);
  lines.push('', 'largest by self size (objects by constructor, the rest by type):');
  const w2 = Math.max(8, ...r.groups.map((g) => bytes(g.selfSizeBytes).length));
  for (const g of r.groups) lines.push(`  ${bytes(g.selfSizeBytes).padStart(w2)}  ${count(g.count).padStart(9)}  ${cutName(printable(g.name))}`);
  return lines.join('\n');
}
