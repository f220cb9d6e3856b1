// `nodetop heap-diff <a.heapsnapshot> <b.heapsnapshot>`: which constructors grew between two
// heap snapshots, by count and self size, and who holds what grew. No target is touched. `a` is
// streamed (only its summary and node ids are kept, and the ids only until b's new nodes are
// marked, as b streams by); `b` is read whole into typed arrays (model/heapgraph.ts) for the retaining paths and
// the dominator tree, unless --paths 0.

import * as path from 'node:path';
import { HeapGraphLoader, analyzeHeap, growerRetainers, idsComparable, summarizeGraph, type GrowerRetainers } from '../model/heapgraph';
import { diffHeapSummaries, HeapSnapshotSummarizer, type HeapDiffRow, type HeapSummary } from '../model/heapsnapshot';
import { bytes } from '../model/units';
import { printable } from '../model/text';
import { readHeapFile } from '../platform/heapfile';
import { memoryTrace } from '../debug';
import { collectGarbage } from '../platform/selfgc';
import type { Output } from '../cli';

export interface HeapDiffOptions {
  a: string;
  b: string;
  top: number;
  json: boolean;
  /** retaining paths shown per grower; 0 = none (b is then only streamed, as a is) */
  paths: number;
}

/** How many constructors, among the top growers, get their retainers traced. */
const TRACED_GROWERS = 8;

export interface HeapDiffResult {
  a: { path: string; nodes: number; selfSizeBytes: number };
  b: { path: string; nodes: number; selfSizeBytes: number };
  /** groups in either snapshot */
  groups: number;
  /**
   * With paths: true when V8's node ids name the same objects in both snapshots, so the paths
   * are those of the objects new in b; false when they were renumbered in between (another
   * inspector session), so the paths are those of all of the group's objects in b.
   */
  newById?: boolean;
  top: Array<HeapDiffRow & { retainers?: GrowerRetainers }>;
}

/** Streams one file through the summarizer (keeping node ids when asked). */
export function summarizeFile(file: string, wantIds = false): Promise<HeapSummary> {
  return readHeapFile(file, new HeapSnapshotSummarizer(wantIds));
}

export async function heapDiffCommand(opts: HeapDiffOptions, out: Output): Promise<HeapDiffResult> {
  const withPaths = opts.paths > 0;
  const a = await summarizeFile(opts.a, withPaths);
  memoryTrace('a read');
  let b: HeapSummary;
  let traced: GrowerRetainers[] = [];
  let rows: HeapDiffRow[];
  let newById = false;
  if (withPaths) {
    // b's ids are compared with a's as b streams by: the graph then has no ids of its own
    const graph = await readHeapFile(opts.b, new HeapGraphLoader(a.ids!));
    // a's ids (8 bytes a node of a) and the reader's scratch go before the analysis allocates
    delete a.ids;
    collectGarbage();
    memoryTrace('b read into a graph');
    b = summarizeGraph(graph);
    rows = diffHeapSummaries(a, b);
    // constructors (objects) are what a developer can act on; "(string)" is held by one of them
    const growers = rows.slice(0, opts.top).filter((r) => r.type === 'object' && r.countDelta > 0).slice(0, TRACED_GROWERS);
    const compared = graph.compared;
    newById = compared !== null && idsComparable(compared);
    const fresh = newById ? compared!.fresh : null;
    const analysis = analyzeHeap(graph);
    collectGarbage(); // the analysis's scratch
    memoryTrace('b analysed');
    traced = growerRetainers(analysis, growers.map((r) => r.name), fresh, opts.paths);
    memoryTrace('paths traced');
  } else {
    b = await summarizeFile(opts.b);
    rows = diffHeapSummaries(a, b);
  }
  const byName = new Map(traced.map((t) => [t.name, t]));
  const result: HeapDiffResult = {
    a: { path: path.resolve(opts.a), nodes: a.nodes, selfSizeBytes: a.selfSizeBytes },
    b: { path: path.resolve(opts.b), nodes: b.nodes, selfSizeBytes: b.selfSizeBytes },
    groups: rows.length,
    ...(withPaths ? { newById } : {}),
    top: rows.slice(0, opts.top).map((r) => {
      const t = byName.get(r.name);
      return t ? { ...r, retainers: t } : r;
    }),
  };
  out.write(opts.json ? JSON.stringify(result) : renderHeapDiff(result, opts));
  return result;
}

function signed(n: number, fmt: (v: number) => string): string {
  return n > 0 ? `+${fmt(n)}` : n < 0 ? `-${fmt(-n)}` : fmt(0);
}

export const count = (n: number): string => n.toLocaleString('en-US');

/** `Map 'sessions' <- SessionStore 'store' <- (Stack roots)` */
export function pathText(p: string[]): string {
  return p.length === 0 ? '(a GC root)' : p.map(printable).join(' <- ');
}

/** A name as a table or a heading prints it (the JSON keeps up to 64 KiB of it). */
export function cutName(name: string): string {
  return name.length > 200 ? `${name.slice(0, 199)}…` : name;
}

export function renderHeapDiff(r: HeapDiffResult, opts: { a: string; b: string }): string {
  const lines: string[] = [];
  lines.push(`a: ${printable(opts.a)}  ${count(r.a.nodes)} nodes, ${bytes(r.a.selfSizeBytes)}`);
  lines.push(`b: ${printable(opts.b)}  ${count(r.b.nodes)} nodes, ${bytes(r.b.selfSizeBytes)}`);
  lines.push(`b - a: ${signed(r.b.nodes - r.a.nodes, count)} nodes, ${signed(r.b.selfSizeBytes - r.a.selfSizeBytes, bytes)} (self sizes, by constructor; largest growth first)`);
  lines.push('');
  const table = [['size Δ', 'count Δ', 'count a → b', 'size a → b', 'constructor']];
  for (const x of r.top) {
    table.push([
      signed(x.sizeDeltaBytes, bytes),
      signed(x.countDelta, count),
      `${count(x.countA)} → ${count(x.countB)}`,
      `${bytes(x.sizeBytesA)} → ${bytes(x.sizeBytesB)}`,
      // constructor names come from the file: anything a program named a class or a function,
      // of any length (the JSON keeps up to 64 KiB of each; a table row, 200 characters)
      cutName(printable(x.name)),
    ]);
  }
  const widths = [0, 1, 2, 3].map((c) => Math.max(...table.map((row) => row[c]!.length)));
  for (const row of table) {
    lines.push(
      `${row
        .slice(0, 4)
        .map((cell, c) => cell.padStart(widths[c]!))
        .join('  ')}  ${row[4]}`,
    );
  }
  if (r.groups > r.top.length) lines.push(`… ${r.groups - r.top.length} more groups (--top, --json)`);
  const traced = r.top.filter((x) => x.retainers);
  if (traced.length > 0) {
    lines.push('');
    lines.push(
      r.newById
        ? 'who holds what grew (objects of b not in a; paths from the GC roots, nearest holder first):'
        : 'who holds them (all of them in b: the two snapshots number objects differently, so new ones cannot be told apart; paths from the GC roots, nearest holder first):',
    );
    for (const x of traced) lines.push(...renderRetainers(x.retainers!, r.newById === true));
  }
  return lines.join('\n');
}

export function renderRetainers(t: GrowerRetainers, newById: boolean): string[] {
  const lines: string[] = [];
  const sampled = t.traced < t.objects ? ` (paths of ${count(t.traced)} of them, scaled)` : '';
  // the constructor's whole name is the group's (up to 64 KiB): printed as in the table
  const name = cutName(printable(t.name));
  lines.push(`  ${name}: ${count(t.objects)}${newById ? ' new' : ''}${sampled}`);
  for (const p of t.paths) {
    lines.push(`    ${count(p.count)} ${name} (${bytes(p.retainedBytes)} retained) <- ${pathText(p.path)}`);
  }
  if (t.suspect) {
    const s = t.suspect;
    lines.push(`    suspect: ${printable(s.label)} retains ${bytes(s.retainedBytes)} and holds ${Math.round(s.dominatesShare * 100)}% of them alone${s.path.length ? ` (<- ${pathText(s.path)})` : ''}`);
  } else if (t.objects > 0) {
    lines.push('    no single object holds most of them alone: they are held on more than one path');
  }
  return lines;
}
