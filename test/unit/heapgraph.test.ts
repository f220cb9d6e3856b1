// The snapshot graph (model/heapgraph.ts) on a real snapshot of this process: its summary is the
// streaming summarizer's, whatever the chunk size, and every retained size the dominator tree
// gives equals its definition: what the roots reach, less what they reach once that node is gone
// (over the same essential edges: weak edges hold nothing).

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, after, describe, it } from 'node:test';
import * as v8 from 'node:v8';
import { analyzeHeap, HeapGraphLoader, summarizeGraph, type HeapGraph } from '../../src/model/heapgraph';
import { summarizeHeapSnapshot } from '../../src/model/heapsnapshot';

class Retained {
  constructor(readonly payload: number[]) {}
}

/** Total self size of what the root reaches without passing through `cut` (-1: nothing cut). */
function reachableSize(g: HeapGraph, cut: number): number {
  const weak = g.edgeTypeNames.indexOf('weak');
  const shortcut = g.edgeTypeNames.indexOf('shortcut');
  const seen = new Uint8Array(g.nodeCount);
  const stack = [0];
  seen[0] = 1;
  let total = 0;
  while (stack.length) {
    const n = stack.pop()!;
    total += g.selfSize[n]!;
    for (let e = g.firstEdge[n]!; e < g.firstEdge[n + 1]!; e++) {
      const t = g.edgeType[e];
      if (t === weak || (t === shortcut && n !== 0)) continue;
      const to = g.edgeTo[e]!;
      if (to === cut || seen[to]) continue;
      seen[to] = 1;
      stack.push(to);
    }
  }
  return total;
}

describe('heap graph', () => {
  let dir: string;
  let data: Buffer;
  // kept alive across the snapshot: a known subtree to look for
  const held: Retained[] = [];
  before(() => {
    for (let i = 0; i < 200; i++) held.push(new Retained([i, i + 1, i + 2]));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-heapgraph-'));
    data = fs.readFileSync(v8.writeHeapSnapshot(path.join(dir, 'self.heapsnapshot')));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('summarizes as the streaming summarizer does, in any chunk size', () => {
    const expected = summarizeHeapSnapshot(data);
    for (const chunk of [data.length, 65536, 777]) {
      const loader = new HeapGraphLoader();
      for (let i = 0; i < data.length; i += chunk) loader.write(data.subarray(i, i + chunk));
      assert.deepEqual(summarizeGraph(loader.end()), expected);
    }
  });

  it('retained sizes equal their definition, node by node', () => {
    const loader = new HeapGraphLoader();
    loader.write(data);
    const g = loader.end();
    const a = analyzeHeap(g);
    const all = reachableSize(g, -1);
    assert.equal(a.retainedSize[0], g.selfSize.reduce((s, x) => s + x, 0), 'the root retains everything');
    // the Retained instances, the array holding them, and a spread of other nodes
    const picks = new Set<number>();
    for (let i = 0; i < g.nodeCount; i++) {
      const name = g.strings.get(g.nodeName[i]!);
      if (name === 'Retained' && g.typeNames[g.nodeType[i]!] === 'object') picks.add(i);
      if (picks.size >= 5) break;
    }
    for (let i = 1; picks.size < 60 && i < g.nodeCount; i += Math.floor(g.nodeCount / 55)) if (a.distance[i] !== -1) picks.add(i);
    assert.ok(picks.size >= 40);
    for (const n of picks) {
      const expected = all - reachableSize(g, n);
      assert.equal(a.retainedSize[n], expected, `node ${n} (${g.strings.get(g.nodeName[n]!)})`);
      assert.ok(a.retainedSize[n]! >= g.selfSize[n]!);
    }
  });

  it('refuses a file whose edges do not match what it declares', () => {
    const text = data.toString('utf8').replace(/"edge_count":(\d+)/, (_m, n: string) => `"edge_count":${Number(n) + 1}`);
    assert.throws(() => {
      const loader = new HeapGraphLoader();
      loader.write(Buffer.from(text));
      loader.end();
    }, /its nodes have \d+ edges and it declares \d+/);
  });
});
