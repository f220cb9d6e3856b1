// The snapshot graph (model/heapgraph.ts) on a real snapshot of this process: its summary is the
// streaming summarizer's, whatever the chunk size, and every retained size the dominator tree
// gives equals its definition: what the roots reach, less what they reach once that node is gone
// (over the same essential edges: weak edges hold nothing, nor edges into the user's globals'
// objects from outside them, as in DevTools). The same definition checked for
// every node of random graphs (fast-check), and what the reader keeps of a snapshot's strings
// and edge names on hand-made ones.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, after, describe, it } from 'node:test';
import * as v8 from 'node:v8';
import fc from 'fast-check';
import { analyzeHeap, edgeNameOf, HeapGraphLoader, idsComparable, summarizeGraph, type HeapGraph } from '../../src/model/heapgraph';
import { HeapSnapshotSummarizer, summarizeHeapSnapshot } from '../../src/model/heapsnapshot';

class Retained {
  constructor(readonly payload: number[]) {}
}

/** DevTools' page objects: what the root's shortcut edges reach over edges that are not weak. */
function pageOf(g: HeapGraph): Uint8Array {
  const weak = g.edgeTypeNames.indexOf('weak');
  const shortcut = g.edgeTypeNames.indexOf('shortcut');
  const page = new Uint8Array(g.nodeCount);
  const stack: number[] = [];
  for (let e = g.firstEdge[0]!; e < g.firstEdge[1]!; e++) if (g.edgeType[e] === shortcut) stack.push(g.edgeTo[e]!);
  while (stack.length) {
    const n = stack.pop()!;
    if (page[n]) continue;
    page[n] = 1;
    for (let e = g.firstEdge[n]!; e < g.firstEdge[n + 1]!; e++) if (g.edgeType[e] !== weak) stack.push(g.edgeTo[e]!);
  }
  return page;
}

/** Total self size of what the root reaches without passing through `cut` (-1: nothing cut). */
function reachableSize(g: HeapGraph, cut: number): number {
  const weak = g.edgeTypeNames.indexOf('weak');
  const shortcut = g.edgeTypeNames.indexOf('shortcut');
  const page = pageOf(g);
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
      // DevTools' rule: no edge from outside the page objects into them holds anything
      if (n !== 0 && page[to] && !page[n]) continue;
      seen[to] = 1;
      stack.push(to);
    }
  }
  return total;
}

interface NodeSpec {
  type: string;
  name: string;
  id: number;
  size: number;
  edges: Array<{ type: string; name: string | number; to: number }>;
}

const NODE_TYPES = ['hidden', 'array', 'string', 'object', 'code', 'closure', 'regexp', 'number', 'native', 'synthetic'];
const EDGE_TYPES = ['context', 'element', 'property', 'internal', 'hidden', 'shortcut', 'weak'];

/** A .heapsnapshot as V8 writes one (fields in its order), for the nodes given; node 0 is the root. */
function snapshotOf(nodes: NodeSpec[]): Buffer {
  const strings: string[] = [];
  const index = new Map<string, number>();
  const str = (t: string): number => {
    let i = index.get(t);
    if (i === undefined) index.set(t, (i = strings.push(t) - 1));
    return i;
  };
  const nf: number[] = [];
  const ef: number[] = [];
  for (const n of nodes) {
    nf.push(NODE_TYPES.indexOf(n.type), str(n.name), n.id, n.size, n.edges.length, 0, 0);
    for (const e of n.edges) ef.push(EDGE_TYPES.indexOf(e.type), typeof e.name === 'number' ? e.name : str(e.name), 7 * e.to);
  }
  const meta = {
    node_fields: ['type', 'name', 'id', 'self_size', 'edge_count', 'trace_node_id', 'detachedness'],
    node_types: [NODE_TYPES, 'string', 'number', 'number', 'number', 'number', 'number'],
    edge_fields: ['type', 'name_or_index', 'to_node'],
    edge_types: [EDGE_TYPES, 'string_or_number', 'node'],
    location_fields: ['object_index', 'script_id', 'line', 'column'],
  };
  const snapshot = { meta, node_count: nodes.length, edge_count: ef.length / 3, trace_function_count: 0 };
  return Buffer.from(`{"snapshot":${JSON.stringify(snapshot)},"nodes":[${nf.join(',')}],"edges":[${ef.join(',')}],"locations":[],"strings":${JSON.stringify(strings)}}`);
}

function load(data: Buffer, idsA: Float64Array | null = null): HeapGraph {
  const loader = new HeapGraphLoader(idsA);
  loader.write(data);
  return loader.end();
}

/** What the root reaches (1) without passing through `cut`, over essential edges (the
 * dominators' edges: with DevTools' page rule; the shortest paths': without). */
function reach(g: HeapGraph, cut: number, pageRule = true): Uint8Array {
  const weak = g.edgeTypeNames.indexOf('weak');
  const shortcut = g.edgeTypeNames.indexOf('shortcut');
  const page = pageRule ? pageOf(g) : new Uint8Array(g.nodeCount);
  const seen = new Uint8Array(g.nodeCount);
  const stack = [0];
  seen[0] = 1;
  while (stack.length) {
    const n = stack.pop()!;
    for (let e = g.firstEdge[n]!; e < g.firstEdge[n + 1]!; e++) {
      const t = g.edgeType[e];
      if (t === weak || (t === shortcut && n !== 0)) continue;
      const to = g.edgeTo[e]!;
      if (to === cut || seen[to]) continue;
      // DevTools' rule: no edge from outside the page objects into them holds anything
      if (n !== 0 && page[to] && !page[n]) continue;
      seen[to] = 1;
      stack.push(to);
    }
  }
  return seen;
}

/** Every node's retained size, reachability and immediate dominator against their definitions. */
function assertDefinition(nodes: NodeSpec[]): void {
  const count = nodes.length;
  const g = load(snapshotOf(nodes));
  const a = analyzeHeap(g);
  const all = reachableSize(g, -1);
  const reached = reach(g, -1);
  const pathReached = reach(g, -1, false);
  // d dominates i: i is out of reach once d is cut
  const dominates = (d: number, i: number): boolean => d === 0 || d === i || !reach(g, d)[i];
  for (let i = 0; i < count; i++) {
    assert.equal(a.distance[i] !== -1, pathReached[i] === 1, `node ${i} reachable`);
    if (i === 0) assert.equal(a.retainedSize[0], g.selfSize.reduce((x, y) => x + y, 0));
    else if (reached[i]) {
      assert.equal(a.retainedSize[i], all - reachableSize(g, i), `node ${i}`);
      // the immediate dominator dominates i, and every other dominator of i dominates it
      const d = a.idom[i]!;
      assert.ok(d !== i && dominates(d, i), `idom of ${i}`);
      for (let o = 1; o < count; o++) if (o !== i && dominates(o, i)) assert.ok(dominates(o, d), `${o} dominates ${i} and its idom ${d}`);
    } else assert.equal(a.retainedSize[i], g.selfSize[i]);
  }
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

  it('retained sizes equal their definition for every node of random graphs', () => {
    const edge = fc.record({ type: fc.constantFrom('property', 'element', 'internal', 'hidden', 'weak', 'shortcut', 'context'), from: fc.nat(), to: fc.nat() });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(edge, { maxLength: 120 }), fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 40, maxLength: 40 }), (count, edges, sizes) => {
        const nodes: NodeSpec[] = Array.from({ length: count }, (_, i) => ({ type: i === 0 ? 'synthetic' : 'object', name: i === 0 ? '' : `N${i % 5}`, id: 2 * i + 1, size: i === 0 ? 0 : sizes[i]!, edges: [] }));
        for (const e of edges) nodes[e.from % count]!.edges.push({ type: e.type, name: e.type === 'element' || e.type === 'hidden' ? e.to : `p${e.to % 7}`, to: e.to % count });
        assertDefinition(nodes);
      }),
      { numRuns: 300 },
    );
  });

  it('retained sizes equal their definition on random graphs of a global and system objects pointing into it', () => {
    // the rule DevTools applies (edges into the global's objects from outside them hold nothing)
    // matters only when such edges exist: user nodes 1..k under a shortcut from the root, system
    // nodes under element edges, edges within each side and from the system side into the user's
    const edge = fc.record({ type: fc.constantFrom('property', 'internal', 'weak', 'shortcut'), from: fc.nat(), to: fc.nat(), into: fc.boolean() });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 15 }), fc.integer({ min: 1, max: 15 }), fc.array(edge, { maxLength: 60 }), fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 31, maxLength: 31 }), (users, systems, edges, sizes) => {
        const count = 1 + users + systems;
        const user = (x: number): number => 1 + (x % users);
        const system = (x: number): number => 1 + users + (x % systems);
        const nodes: NodeSpec[] = Array.from({ length: count }, (_, i) => ({ type: i === 0 ? 'synthetic' : 'object', name: i === 0 ? '' : i <= users ? 'U' : 'S', id: 2 * i + 1, size: i === 0 ? 0 : sizes[i]!, edges: [] }));
        nodes[0]!.edges.push({ type: 'shortcut', name: 'global', to: 1 });
        for (let i = users + 1; i < count; i++) nodes[0]!.edges.push({ type: 'element', name: i, to: i });
        for (const e of edges) {
          const from = e.from % 2 === 0 ? user(e.from) : system(e.from);
          const to = from <= users ? user(e.to) : e.into ? user(e.to) : system(e.to);
          nodes[from]!.edges.push({ type: e.type, name: `p${e.to % 7}`, to });
        }
        assertDefinition(nodes);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps the names a path shows, constructors whole, and not the text of strings', () => {
    const long = `Class${'x'.repeat(300)}`;
    const nodes: NodeSpec[] = [
      { type: 'synthetic', name: '', id: 1, size: 0, edges: [{ type: 'property', name: 'holder', to: 1 }, { type: 'element', name: 5, to: 2 }] },
      { type: 'object', name: long, id: 3, size: 10, edges: [{ type: 'property', name: 'text', to: 2 }, { type: 'internal', name: 'context', to: 3 }, { type: 'internal', name: '1234', to: 3 }] },
      { type: 'string', name: 'the text of a string value', id: 5, size: 20, edges: [] },
      { type: 'object', name: 'system / Context', id: 7, size: 30, edges: [] },
    ];
    const data = snapshotOf(nodes);
    const g = load(data);
    // the summary groups by the whole constructor name, as the streamed one does
    assert.deepEqual(summarizeGraph(g), summarizeHeapSnapshot(data));
    assert.ok(summarizeGraph(g).groups.some((x) => x.name === long));
    assert.equal(g.strings.get(g.nodeName[2]!), '', "a string value's text is not kept");
    const names = Array.from({ length: g.edgeCount }, (_, e) => g.strings.get(edgeNameOf(g, e)));
    // property names and the internal edges nodetop follows; not element indices nor other internal names
    assert.deepEqual(names, ['holder', '', 'text', 'context', '']);
    assert.ok(g.edgeName instanceof Uint16Array && g.edgeNameTable !== null);
  });

  it("credits a global's objects to the global, not to the system objects that also point at them (DevTools' page objects)", () => {
    // the root's shortcut edge marks the user's global; the system cache (held by a (GC roots)
    // category, not the global) also points at the global's record: DevTools ignores that edge
    // for dominators, so the global retains the record (HeapSnapshot.ts computeIsEssentialEdge)
    const nodes: NodeSpec[] = [
      { type: 'synthetic', name: '', id: 1, size: 0, edges: [{ type: 'shortcut', name: 'global', to: 1 }, { type: 'element', name: 1, to: 3 }] },
      { type: 'object', name: 'global', id: 3, size: 10, edges: [{ type: 'property', name: 'record', to: 2 }] },
      { type: 'object', name: 'Record', id: 5, size: 100, edges: [] },
      { type: 'synthetic', name: '(GC roots)', id: 7, size: 0, edges: [{ type: 'element', name: 1, to: 4 }] },
      { type: 'array', name: 'system cache', id: 9, size: 20, edges: [{ type: 'internal', name: 'entry', to: 2 }] },
    ];
    const g = load(snapshotOf(nodes));
    const a = analyzeHeap(g);
    assert.equal(a.idom[2], 1, 'the global dominates its record');
    assert.equal(a.retainedSize[1], 110);
    assert.equal(a.retainedSize[4], 20, 'the system cache retains only itself');
    // the shortest path still runs as the edges do: through either holder
    assert.equal(a.distance[2], 2);
  });

  it('keeps edge names as string indices when there are more than 65,535 of them', () => {
    const n = 70_000;
    const root: NodeSpec = { type: 'synthetic', name: '', id: 1, size: 0, edges: [] };
    const leaf: NodeSpec = { type: 'object', name: 'Leaf', id: 3, size: 8, edges: [] };
    for (let i = 0; i < n; i++) root.edges.push({ type: 'property', name: `p${i}`, to: 1 });
    const g = load(snapshotOf([root, leaf]));
    assert.equal(g.edgeNameTable, null);
    for (const e of [0, 65_535, 65_536, n - 1]) assert.equal(g.strings.get(edgeNameOf(g, e)), `p${e}`);
  });

  it("marks b's new nodes as it streams by, from a's ids", () => {
    const node = (id: number, size: number): NodeSpec => ({ type: 'object', name: 'T', id, size, edges: [] });
    const root = (count: number): NodeSpec => ({ type: 'synthetic', name: '', id: 1, size: 0, edges: Array.from({ length: count }, (_, i) => ({ type: 'property', name: `k${i}`, to: i + 1 })) });
    const a = new HeapSnapshotSummarizer(true);
    a.write(snapshotOf([root(3), node(11, 8), node(13, 8), node(15, 8)]));
    const ids = a.end().ids!;
    const g = load(snapshotOf([root(4), node(11, 8), node(13, 8), node(17, 8), node(19, 8)]), ids);
    assert.deepEqual([...g.compared!.fresh], [0, 0, 0, 1, 1]);
    assert.equal(g.compared!.shared, 3);
    assert.ok(idsComparable(g.compared!));
    assert.equal(g.nodeId.length, 0, 'the ids of b are not kept');
    // the same ids with other sizes: renumbered objects, not the same ones
    const h = load(snapshotOf([root(3), node(11, 24), node(13, 24), node(15, 24)]), ids);
    assert.ok(!idsComparable(h.compared!));
  });
});
