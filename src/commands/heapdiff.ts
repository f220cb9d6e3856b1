// `nodetop heap-diff <a.heapsnapshot> <b.heapsnapshot>`: which constructors grew between two
// heap snapshots, by count and self size. No target is touched: it reads two files, one after
// the other, as streams (model/heapsnapshot.ts), so nodetop's memory does not grow with them.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ExitCode, NodetopError, errnoCode } from '../errors';
import { diffHeapSummaries, HeapSnapshotSummarizer, SnapshotFormatError, type HeapDiffRow, type HeapSummary } from '../model/heapsnapshot';
import { bytes } from '../model/units';
import { printable } from '../model/text';
import type { Output } from '../cli';

export interface HeapDiffOptions {
  a: string;
  b: string;
  top: number;
  json: boolean;
}

export interface HeapDiffResult {
  a: { path: string; nodes: number; selfSizeBytes: number };
  b: { path: string; nodes: number; selfSizeBytes: number };
  /** groups in either snapshot */
  groups: number;
  top: HeapDiffRow[];
}

function describeReadError(e: unknown): string {
  switch (errnoCode(e)) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    default:
      return e instanceof Error ? e.message : String(e);
  }
}

/** Streams one file through the summarizer. A file that is not a heap snapshot is a usage error. */
export async function summarizeFile(file: string): Promise<HeapSummary> {
  const s = new HeapSnapshotSummarizer();
  try {
    const st = fs.statSync(file);
    if (st.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
    const stream = fs.createReadStream(file, { highWaterMark: 1 << 20 });
    for await (const chunk of stream) s.write(chunk as Buffer);
    return s.end();
  } catch (e) {
    if (e instanceof SnapshotFormatError) {
      throw new NodetopError(`${file} is not a V8 heap snapshot: ${e.message}`, {
        exitCode: ExitCode.Usage,
        hint: 'give two .heapsnapshot files, as nodetop snapshot, DevTools or v8.writeHeapSnapshot() write them',
      });
    }
    if (errnoCode(e) !== undefined) throw new NodetopError(`cannot read ${file}: ${describeReadError(e)}`, { exitCode: ExitCode.Usage });
    throw e;
  }
}

export async function heapDiffCommand(opts: HeapDiffOptions, out: Output): Promise<HeapDiffResult> {
  const a = await summarizeFile(opts.a);
  const b = await summarizeFile(opts.b);
  const rows = diffHeapSummaries(a, b);
  const result: HeapDiffResult = {
    a: { path: path.resolve(opts.a), nodes: a.nodes, selfSizeBytes: a.selfSizeBytes },
    b: { path: path.resolve(opts.b), nodes: b.nodes, selfSizeBytes: b.selfSizeBytes },
    groups: rows.length,
    top: rows.slice(0, opts.top),
  };
  out.write(opts.json ? JSON.stringify(result) : renderHeapDiff(result, opts));
  return result;
}

function signed(n: number, fmt: (v: number) => string): string {
  return n > 0 ? `+${fmt(n)}` : n < 0 ? `-${fmt(-n)}` : fmt(0);
}

const count = (n: number): string => n.toLocaleString('en-US');

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
      // constructor names come from the file: anything a program named a class or a function
      printable(x.name),
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
  return lines.join('\n');
}
