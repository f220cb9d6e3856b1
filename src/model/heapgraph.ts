// A .heapsnapshot read whole into typed arrays, for what a summary by constructor cannot say:
// who holds an object (its shortest retaining path from the GC roots) and what cutting it would
// free (the dominator tree and retained sizes, computed as Chrome DevTools computes them).
// Pure: scanner events in (model/heapsnapshot.ts's JsonScanner), graph and answers out.
//
// Memory: ~21 bytes a node and ~9 an edge in the graph, 8 more per edge for the retainer index,
// ~28 a node for the analysis, and the strings cut to NAME_CHARS. A 214 MB snapshot of 1.3 M
// nodes and 5.6 M edges measured in docs/benchmarks.md.
//
// What "essential" means follows DevTools (HeapSnapshot.ts isEssentialEdge): weak edges hold
// nothing, and a shortcut edge counts only from the root (it marks the user's global objects).

import { fingerprint, fingerprintOf, JsonScanner, SnapshotFormatError, ValueBuilder, type HeapGroup, type HeapSummary, type JsonHandler } from './heapsnapshot';

/** Names longer than this are cut: a string node's name is the string itself. */
const NAME_CHARS = 160;

export interface HeapGraph {
  nodeCount: number;
  edgeCount: number;
  typeNames: string[];
  edgeTypeNames: string[];
  nodeType: Uint8Array;
  nodeName: Uint32Array;
  nodeId: Uint32Array;
  /** V8's objects are smaller than 4 GiB */
  selfSize: Uint32Array;
  /** edges of node i are firstEdge[i] .. firstEdge[i+1]-1 */
  firstEdge: Uint32Array;
  edgeType: Uint8Array;
  /** a string index, or the element/hidden index itself */
  edgeName: Uint32Array;
  /** the node index (not the offset V8 writes) */
  edgeTo: Uint32Array;
  strings: string[];
  /** closure node index -> [script id, line, column] (0-based), from `locations` */
  locations: Map<number, [number, number, number]>;
}

type Section = 'none' | 'snapshot' | 'nodes' | 'edges' | 'locations' | 'strings' | 'other';

interface GraphMeta {
  nodeStride: number;
  edgeStride: number;
  typeOff: number;
  nameOff: number;
  idOff: number;
  sizeOff: number;
  edgeCountOff: number;
  edgeTypeOff: number;
  edgeNameOff: number;
  edgeToOff: number;
  locStride: number;
  typeNames: string[];
  edgeTypeNames: string[];
  nodeCount: number;
  edgeCount: number;
}

function readGraphMeta(snapshot: unknown): GraphMeta {
  const s = snapshot as { meta?: Record<string, unknown>; node_count?: unknown; edge_count?: unknown } | null;
  const m = s && typeof s === 'object' ? s.meta : undefined;
  const arr = (k: string): unknown[] => {
    const v = m?.[k];
    if (!Array.isArray(v)) throw new SnapshotFormatError(`snapshot.meta has no ${k}`);
    return v as unknown[];
  };
  const nf = arr('node_fields');
  const ef = arr('edge_fields');
  const nt = arr('node_types');
  const et = arr('edge_types');
  const lf = m && Array.isArray(m.location_fields) ? (m.location_fields as unknown[]) : ['object_index', 'script_id', 'line', 'column'];
  const at = (fields: unknown[], name: string, what: string): number => {
    const i = fields.indexOf(name);
    if (i < 0) throw new SnapshotFormatError(`snapshot.meta.${what} lacks ${name}`);
    return i;
  };
  const typeOff = at(nf, 'type', 'node_fields');
  const edgeTypeOff = at(ef, 'type', 'edge_fields');
  const typeNames = nt[typeOff];
  const edgeTypeNames = et[edgeTypeOff];
  if (!Array.isArray(typeNames) || !Array.isArray(edgeTypeNames)) throw new SnapshotFormatError('snapshot.meta does not list node and edge types');
  const count = (v: unknown, what: string): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 2 ** 31) throw new SnapshotFormatError(`snapshot.${what} is not a count`);
    return v;
  };
  return {
    nodeStride: nf.length,
    edgeStride: ef.length,
    typeOff,
    nameOff: at(nf, 'name', 'node_fields'),
    idOff: at(nf, 'id', 'node_fields'),
    sizeOff: at(nf, 'self_size', 'node_fields'),
    edgeCountOff: at(nf, 'edge_count', 'node_fields'),
    edgeTypeOff,
    edgeNameOff: at(ef, 'name_or_index', 'edge_fields'),
    edgeToOff: at(ef, 'to_node', 'edge_fields'),
    locStride: lf.length,
    typeNames: typeNames.map(String),
    edgeTypeNames: edgeTypeNames.map(String),
    nodeCount: count(s!.node_count, 'node_count'),
    edgeCount: count(s!.edge_count, 'edge_count'),
  };
}

/** A JsonHandler that keeps the whole graph of one snapshot. */
export class HeapGraphReader implements JsonHandler {
  private depth = 0;
  private section: Section = 'none';
  private readonly seen = new Set<string>();
  private readonly build = new ValueBuilder();
  private meta: GraphMeta | null = null;
  private g: HeapGraph | null = null;
  private field = 0;
  private node = 0;
  private edge = 0;
  private edgeCountSum = 0;
  private loc: number[] = [];
  private readonly strings: string[] = [];
  private done = { nodes: false, edges: false, strings: false };

  openObject(): void {
    this.open(true);
  }

  openArray(): void {
    this.open(false);
  }

  private open(isObject: boolean): void {
    this.depth++;
    if (this.depth === 1) {
      if (!isObject) throw new SnapshotFormatError('it is a JSON array, not an object');
      return;
    }
    if (this.section === 'snapshot') return this.build.open(isObject);
    if (this.depth === 2 && (this.section === 'nodes' || this.section === 'edges')) {
      if (!this.meta) throw new SnapshotFormatError(`"${this.section}" comes before snapshot.meta`);
      if (isObject) throw new SnapshotFormatError(`"${this.section}" is not an array`);
      return;
    }
    if (this.depth > 2 && this.section !== 'other') throw new SnapshotFormatError(`"${this.section}" holds nested values`);
  }

  closeObject(): void {
    this.close();
  }

  closeArray(): void {
    this.close();
  }

  private close(): void {
    if (this.section === 'snapshot') {
      if (this.build.close()) {
        this.meta = readGraphMeta(this.build.value);
        this.allocate(this.meta);
        this.section = 'none';
      }
    } else if (this.depth === 2) {
      const m = this.meta;
      if (this.section === 'nodes') {
        if (this.field !== 0 || this.node !== m!.nodeCount) throw new SnapshotFormatError(`it declares ${m!.nodeCount} nodes and holds ${this.node}`);
        if (this.edgeCountSum !== m!.edgeCount) throw new SnapshotFormatError(`its nodes have ${this.edgeCountSum} edges and it declares ${m!.edgeCount}`);
        this.done.nodes = true;
      } else if (this.section === 'edges') {
        if (this.field !== 0 || this.edge !== m!.edgeCount) throw new SnapshotFormatError(`it declares ${m!.edgeCount} edges and holds ${this.edge}`);
        this.done.edges = true;
      } else if (this.section === 'strings') this.done.strings = true;
      this.section = 'none';
    }
    this.depth--;
  }

  private allocate(m: GraphMeta): void {
    const n = m.nodeCount;
    const e = m.edgeCount;
    this.g = {
      nodeCount: n,
      edgeCount: e,
      typeNames: m.typeNames,
      edgeTypeNames: m.edgeTypeNames,
      nodeType: new Uint8Array(n),
      nodeName: new Uint32Array(n),
      nodeId: new Uint32Array(n),
      selfSize: new Uint32Array(n),
      firstEdge: new Uint32Array(n + 1),
      edgeType: new Uint8Array(e),
      edgeName: new Uint32Array(e),
      edgeTo: new Uint32Array(e),
      strings: this.strings,
      locations: new Map(),
    };
  }

  key(k: string): void {
    if (this.section === 'snapshot') return this.build.key(k);
    if (this.depth !== 1) return;
    if (this.seen.has(k)) throw new SnapshotFormatError(`it has "${k}" twice`);
    this.seen.add(k);
    this.section = k === 'snapshot' || k === 'nodes' || k === 'edges' || k === 'locations' || k === 'strings' ? k : 'other';
  }

  number(v: number): void {
    if (this.depth === 2 && this.section === 'nodes') return this.nodeField(v);
    if (this.depth === 2 && this.section === 'edges') return this.edgeField(v);
    if (this.depth === 2 && this.section === 'locations') {
      this.loc.push(v);
      if (this.loc.length === this.meta!.locStride) {
        const [obj, script, line, col] = this.loc as [number, number, number, number];
        if (obj % this.meta!.nodeStride === 0) this.g!.locations.set(obj / this.meta!.nodeStride, [script, line, col]);
        this.loc = [];
      }
      return;
    }
    if (this.section === 'snapshot') return this.build.add(v);
    if (this.depth === 2 && this.section === 'strings') throw new SnapshotFormatError('"strings" holds a number');
    this.topLevelScalar();
  }

  private nodeField(v: number): void {
    const m = this.meta!;
    const g = this.g!;
    const i = this.node;
    if (i >= m.nodeCount) throw new SnapshotFormatError(`it holds more than the ${m.nodeCount} nodes it declares`);
    const f = this.field;
    if (f === m.typeOff) {
      if (v >= m.typeNames.length) throw new SnapshotFormatError(`node ${i} has type ${v}, which meta does not list`);
      g.nodeType[i] = v;
    } else if (f === m.nameOff) g.nodeName[i] = v;
    else if (f === m.idOff) g.nodeId[i] = v;
    else if (f === m.sizeOff) g.selfSize[i] = v;
    else if (f === m.edgeCountOff) {
      g.firstEdge[i] = this.edgeCountSum;
      this.edgeCountSum += v;
      g.firstEdge[i + 1] = this.edgeCountSum;
    }
    if (++this.field === m.nodeStride) {
      this.field = 0;
      this.node++;
    }
  }

  private edgeField(v: number): void {
    const m = this.meta!;
    const g = this.g!;
    const e = this.edge;
    if (e >= m.edgeCount) throw new SnapshotFormatError(`it holds more than the ${m.edgeCount} edges it declares`);
    const f = this.field;
    if (f === m.edgeTypeOff) {
      if (v >= m.edgeTypeNames.length) throw new SnapshotFormatError(`edge ${e} has type ${v}, which meta does not list`);
      g.edgeType[e] = v;
    } else if (f === m.edgeNameOff) g.edgeName[e] = v;
    else if (f === m.edgeToOff) {
      if (v % m.nodeStride !== 0 || v / m.nodeStride >= m.nodeCount) throw new SnapshotFormatError(`edge ${e} points at ${v}, which is not a node`);
      g.edgeTo[e] = v / m.nodeStride;
    }
    if (++this.field === m.edgeStride) {
      this.field = 0;
      this.edge++;
    }
  }

  wantString(): boolean {
    if (this.section === 'snapshot') return true;
    if (this.depth === 2 && this.section === 'strings') return true;
    if (this.depth === 2 && this.section !== 'other' && this.section !== 'none') throw new SnapshotFormatError(`"${this.section}" holds a string`);
    return false;
  }

  string(s: string): void {
    if (this.section === 'snapshot') return this.build.add(s);
    if (this.depth === 2 && this.section === 'strings') {
      this.strings.push(s.length > NAME_CHARS ? `${s.slice(0, NAME_CHARS)}…` : s);
      return;
    }
    this.topLevelScalar();
  }

  skippedString(): void {
    this.topLevelScalar();
  }

  literal(v: boolean | null): void {
    if (this.section === 'snapshot') return this.build.add(v);
    if (this.depth === 2 && this.section !== 'other') throw new SnapshotFormatError(`"${this.section}" holds a ${String(v)}`);
    this.topLevelScalar();
  }

  skipContainer(): boolean {
    return this.depth === 1 && this.section === 'other';
  }

  skippedContainer(): void {
    this.section = 'none';
  }

  private topLevelScalar(): void {
    if (this.depth === 0) throw new SnapshotFormatError('it is not a JSON object');
    if (this.depth === 1) this.section = 'none';
  }

  result(): HeapGraph {
    if (!this.g) throw new SnapshotFormatError('it has no snapshot.meta');
    for (const [k, ok] of Object.entries(this.done)) if (!ok) throw new SnapshotFormatError(`it has no "${k}"`);
    const g = this.g;
    const nStrings = this.strings.length;
    for (let i = 0; i < g.nodeCount; i++) if (g.nodeName[i]! >= nStrings) throw new SnapshotFormatError(`node ${i}'s name ${g.nodeName[i]} is not in "strings"`);
    return g;
  }
}

/** A streaming reader of one whole snapshot graph: write() chunks, then end(). */
export class HeapGraphLoader {
  private readonly reader = new HeapGraphReader();
  private readonly scanner = new JsonScanner(this.reader);

  write(chunk: Buffer): void {
    this.scanner.write(chunk);
  }

  end(): HeapGraph {
    this.scanner.end();
    return this.reader.result();
  }
}

// ---------------------------------------------------------------------------------------------
// Analysis

const NONE = 0xffffffff;

/** The node an edge comes from (edges are stored by source, in node order). */
export function sourceOf(g: HeapGraph, e: number): number {
  let lo = 0;
  let hi = g.nodeCount - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (g.firstEdge[mid]! <= e) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Root categories that hold what the code running at the snapshot's moment holds. */
const MOMENTARY_ROOTS = new Set(['(Handle scope)', '(Stack roots)']);

export interface HeapAnalysis {
  graph: HeapGraph;
  /** retaining edge on a shortest path from the root (NONE for the root and the unreachable) */
  parentEdge: Uint32Array;
  /** BFS distance from the root over essential edges; -1 unreachable */
  distance: Int32Array;
  /** immediate dominator; the root for itself and for nodes held only by weak edges */
  idom: Uint32Array;
  retainedSize: Float64Array;
  /** retainers of node i: the edges retainerEdge[firstRetainer[i] .. firstRetainer[i+1]-1] */
  firstRetainer: Uint32Array;
  retainerEdge: Uint32Array;
  weakType: number;
  shortcutType: number;
}

/** Shortest paths, dominators and retained sizes of a graph whose root is node 0. */
export function analyzeHeap(g: HeapGraph): HeapAnalysis {
  const n = g.nodeCount;
  const weakType = g.edgeTypeNames.indexOf('weak');
  const shortcutType = g.edgeTypeNames.indexOf('shortcut');
  const essential = (from: number, e: number): boolean => {
    const t = g.edgeType[e];
    return t !== weakType && (t !== shortcutType || from === 0);
  };

  // Retainers (reverse edges), essential ones only.
  const firstRetainer = new Uint32Array(n + 1);
  for (let from = 0; from < n; from++) {
    for (let e = g.firstEdge[from]!; e < g.firstEdge[from + 1]!; e++) if (essential(from, e)) firstRetainer[g.edgeTo[e]! + 1]!++;
  }
  for (let i = 0; i < n; i++) firstRetainer[i + 1]! += firstRetainer[i]!;
  const total = firstRetainer[n]!;
  const retainerEdge = new Uint32Array(total);
  const fill = firstRetainer.slice(0, n);
  for (let from = 0; from < n; from++) {
    for (let e = g.firstEdge[from]!; e < g.firstEdge[from + 1]!; e++) {
      if (!essential(from, e)) continue;
      const at = fill[g.edgeTo[e]!]!++;
      retainerEdge[at] = e;
    }
  }

  // Shortest paths from the root (BFS). The roots of the moment the snapshot was taken (the
  // stack and handle scopes of the code that asked for it) are entered last: a path through
  // them says nothing about why the object lives on, so any other path is preferred (DevTools
  // likewise measures distances from the user's roots first).
  const distance = new Int32Array(n).fill(-1);
  const parentEdge = new Uint32Array(n).fill(NONE);
  // memory is the limit on large snapshots: the scratch arrays are reused from step to step
  const queue = fill;
  const deferred: Array<[number, number]> = [];
  let head = 0;
  let tail = 0;
  if (n > 0) {
    distance[0] = 0;
    queue[tail++] = 0;
  }
  const syntheticType = g.typeNames.indexOf('synthetic');
  for (let pass = 0; pass < 2; pass++) {
    if (pass === 1) {
      for (const [from, e] of deferred) {
        const to = g.edgeTo[e]!;
        if (distance[to] !== -1) continue;
        distance[to] = distance[from]! + 1;
        parentEdge[to] = e;
        queue[tail++] = to;
      }
    }
    while (head < tail) {
      const from = queue[head++]!;
      for (let e = g.firstEdge[from]!; e < g.firstEdge[from + 1]!; e++) {
        if (!essential(from, e)) continue;
        const to = g.edgeTo[e]!;
        if (distance[to] !== -1) continue;
        if (pass === 0 && g.nodeType[to] === syntheticType && MOMENTARY_ROOTS.has(g.strings[g.nodeName[to]!] ?? '')) {
          deferred.push([from, e]);
          continue;
        }
        distance[to] = distance[from]! + 1;
        parentEdge[to] = e;
        queue[tail++] = to;
      }
    }
  }

  // Dominators: Lengauer and Tarjan's algorithm with path compression, over a DFS preorder
  // numbering. (The iterative algorithm DevTools uses needed 500 rounds on a 50,000-node heap
  // with a 500-timer list: quadratic on the long chains real heaps have.)
  const scratch = new Uint32Array(n);
  const dfn = new Uint32Array(n).fill(NONE);
  const vert = new Uint32Array(n);
  const par = new Uint32Array(n);
  let count = 0;
  if (n > 0) {
    const stackNode = queue;
    const stackEdge = scratch;
    let sp = 0;
    stackNode[0] = 0;
    stackEdge[0] = g.firstEdge[0]!;
    dfn[0] = count++;
    vert[0] = 0;
    par[0] = NONE;
    while (sp >= 0) {
      const from = stackNode[sp]!;
      const e = stackEdge[sp]!;
      if (e >= g.firstEdge[from + 1]!) {
        sp--;
        continue;
      }
      stackEdge[sp] = e + 1;
      if (!essential(from, e)) continue;
      const to = g.edgeTo[e]!;
      if (dfn[to] !== NONE) continue;
      dfn[to] = count;
      vert[count] = to;
      par[count] = dfn[from]!;
      count++;
      sp++;
      stackNode[sp] = to;
      stackEdge[sp] = g.firstEdge[to]!;
    }
  }
  const semi = new Uint32Array(count);
  const label = new Uint32Array(count);
  const ancestor = new Uint32Array(count).fill(NONE);
  const dom = new Uint32Array(count);
  const bucketHead = new Uint32Array(count).fill(NONE);
  const bucketNext = scratch;
  const path = queue;
  for (let i = 0; i < count; i++) semi[i] = label[i] = i;
  const evaluate = (v: number): number => {
    if (ancestor[v] === NONE) return v;
    let depth = 0;
    for (let x = v; ancestor[ancestor[x]!] !== NONE; x = ancestor[x]!) path[depth++] = x;
    while (depth > 0) {
      const x = path[--depth]!;
      const a = ancestor[x]!;
      if (semi[label[a]!]! < semi[label[x]!]!) label[x] = label[a]!;
      ancestor[x] = ancestor[a]!;
    }
    return label[v]!;
  };
  for (let w = count - 1; w >= 1; w--) {
    const node = vert[w]!;
    for (let r = firstRetainer[node]!; r < firstRetainer[node + 1]!; r++) {
      const v = dfn[sourceOf(g, retainerEdge[r]!)]!;
      if (v === NONE) continue;
      const u = evaluate(v);
      if (semi[u]! < semi[w]!) semi[w] = semi[u]!;
    }
    const s = semi[w]!;
    bucketNext[w] = bucketHead[s]!;
    bucketHead[s] = w;
    const p = par[w]!;
    ancestor[w] = p;
    for (let v = bucketHead[p]!; v !== NONE; ) {
      const next = bucketNext[v]!;
      const u = evaluate(v);
      dom[v] = semi[u]! < semi[v]! ? u : p;
      v = next;
    }
    bucketHead[p] = NONE;
  }
  for (let w = 1; w < count; w++) if (dom[w] !== semi[w]) dom[w] = dom[dom[w]!]!;
  const idom = new Uint32Array(n); // 0 (the root) for the root and for the unreachable
  for (let w = 1; w < count; w++) idom[vert[w]!] = vert[dom[w]!]!;

  // Retained sizes: a node's own plus what it dominates. A dominator comes before what it
  // dominates in DFS preorder, so one pass from the last node back adds each to its dominator.
  const retainedSize = Float64Array.from(g.selfSize);
  for (let w = count - 1; w >= 1; w--) {
    const node = vert[w]!;
    retainedSize[idom[node]!]! += retainedSize[node]!;
  }
  for (let i = 1; i < n; i++) if (dfn[i] === NONE) retainedSize[0]! += g.selfSize[i]!;

  return { graph: g, parentEdge, distance, idom, retainedSize, firstRetainer, retainerEdge, weakType, shortcutType };
}

// ---------------------------------------------------------------------------------------------
// Names a developer recognises

const MAX_HOPS = 8;
/** Nodes walked for one path: a linked list of 130,000 timers is not walked to its end. */
const MAX_STEPS = 100;

function typeOf(g: HeapGraph, i: number): string {
  return g.typeNames[g.nodeType[i]!] ?? '?';
}

function nameOf(g: HeapGraph, i: number): string {
  return g.strings[g.nodeName[i]!] ?? '';
}

/** The group a node is counted in by heap-diff: the constructor for objects, "(type)" otherwise. */
export function groupOf(g: HeapGraph, i: number): string {
  const t = typeOf(g, i);
  if (t !== 'object') return `(${t})`;
  const name = nameOf(g, i);
  return name === '' ? '(no name)' : name;
}

/** The same summary HeapSnapshotSummarizer streams, from a graph already in memory. */
export function summarizeGraph(g: HeapGraph): HeapSummary {
  const groups = new Map<string, HeapGroup>();
  let total = 0;
  for (let i = 0; i < g.nodeCount; i++) {
    const name = groupOf(g, i);
    const size = g.selfSize[i]!;
    total += size;
    const have = groups.get(name);
    if (have) {
      have.count++;
      have.selfSizeBytes += size;
    } else groups.set(name, { name, type: typeOf(g, i), count: 1, selfSizeBytes: size });
  }
  const list = [...groups.values()];
  list.sort((a, b) => b.selfSizeBytes - a.selfSizeBytes || b.count - a.count || a.name.localeCompare(b.name));
  return { nodes: g.nodeCount, selfSizeBytes: total, groups: list };
}

/** Nodes a reader gains nothing from: V8's internal arrays, hidden and code objects, contexts. */
function isNoise(g: HeapGraph, i: number): boolean {
  const t = typeOf(g, i);
  if (t === 'hidden' || t === 'array' || t === 'code' || t === 'object shape') return true;
  if (t === 'object' && nameOf(g, i).startsWith('system / ')) return true;
  return false;
}

/** The name an edge gives its target, when it is one a developer wrote. */
function edgeLabel(g: HeapGraph, e: number): string | null {
  const t = g.edgeTypeNames[g.edgeType[e]!];
  if (t === 'property' || t === 'context' || t === 'shortcut') {
    const s = g.strings[g.edgeName[e]!];
    return s === undefined || s === '' ? null : s;
  }
  return null;
}

/** Where a closure was defined: "file:line", from its script (shared -> script) and `locations`. */
function closureWhere(g: HeapGraph, i: number): string | null {
  const loc = g.locations.get(i);
  if (!loc) return null;
  let file: string | null = null;
  const child = (node: number, name: string): number | null => {
    for (let e = g.firstEdge[node]!; e < g.firstEdge[node + 1]!; e++) if (g.strings[g.edgeName[e]!] === name && g.edgeTypeNames[g.edgeType[e]!] === 'internal') return g.edgeTo[e]!;
    return null;
  };
  const shared = child(i, 'shared');
  // V8 11 names the edge script_or_debug_info; older ones, script
  const script = shared === null ? null : (child(shared, 'script_or_debug_info') ?? child(shared, 'script'));
  if (script !== null) {
    const n = nameOf(g, script);
    if (n) file = n.replace(/^file:\/\//, '').split('/').pop() ?? n;
  }
  return `${file ?? `script ${loc[0]}`}:${loc[1] + 1}`;
}

/** One node as a path shows it: constructor, the name it is held under, a closure's location. */
export function nodeLabel(g: HeapGraph, i: number, heldAs: string | null): string {
  const t = typeOf(g, i);
  const name = nameOf(g, i);
  let base: string;
  if (t === 'closure') {
    const where = closureWhere(g, i);
    base = `(closure) ${name || '(anonymous)'}${where ? ` ${where}` : ''}`;
  } else if (t === 'synthetic') base = name || '(root)';
  else if (t === 'object') base = name || '(object)';
  else if (t === 'native') base = `(native) ${name}`;
  else base = `(${t})`;
  return heldAs !== null && heldAs !== name && t !== 'synthetic' ? `${base} '${heldAs}'` : base;
}

/** closureOver's answers: a module's scope is retained by every scope created inside it. */
const closureOverCache = new WeakMap<HeapAnalysis, Map<number, number | null>>();

/** The closure nearest the roots among those whose scope is `context`, or null. */
function closureOver(a: HeapAnalysis, context: number): number | null {
  let cache = closureOverCache.get(a);
  if (!cache) closureOverCache.set(a, (cache = new Map()));
  const known = cache.get(context);
  if (known !== undefined) return known;
  const found = findClosureOver(a, context);
  cache.set(context, found);
  return found;
}

function findClosureOver(a: HeapAnalysis, context: number): number | null {
  const g = a.graph;
  const closureType = g.typeNames.indexOf('closure');
  let best: number | null = null;
  for (let r = a.firstRetainer[context]!; r < a.firstRetainer[context + 1]!; r++) {
    const from = sourceOf(g, a.retainerEdge[r]!);
    if (g.nodeType[from] !== closureType || a.distance[from] === -1) continue;
    if (g.strings[g.edgeName[a.retainerEdge[r]!]!] !== 'context') continue;
    if (best === null || a.distance[from]! < a.distance[best]!) best = from;
  }
  return best;
}

/**
 * The path that holds `from` (a retainer of the object the path is for): the meaningful nodes
 * on the shortest path from the root, nearest first, each with the name it is held under.
 */
export function retainerPath(a: HeapAnalysis, from: number): string[] {
  const g = a.graph;
  const out: string[] = [];
  let node = from;
  let pending: string | null = null;
  const visited = new Set<number>([from]);
  for (let steps = 0; steps < MAX_STEPS && out.length < MAX_HOPS; steps++) {
    if (g.strings[g.nodeName[node]!] === CONTEXT) {
        const c = closureOver(a, node);
      if (isOutermostScope(g, node)) {
        const where = c === null ? null : closureWhere(g, c);
        out.push(`(module) ${where ? where.replace(/:\d+$/, '') : 'scope'}`);
        return out;
      }
      // Any other scope is named by a function that closes over it, and the path goes on from
      // there: the shortest way to a scope often runs through compiled code and (Strong roots).
      if (c !== null && !visited.has(c)) {
        visited.add(c);
        node = c;
        continue;
      }
    }
    const hop = nextHop(a, node, visited);
    const held = hop === null ? null : edgeLabel(g, hop[1]);
    if (typeOf(g, node) === 'synthetic') {
      // the first root category under (GC roots) says what kind of root holds it
      if (node !== 0) out.push(nodeLabel(g, node, null));
      return out;
    }
    if (!isNoise(g, node)) {
      const label = nodeLabel(g, node, held ?? pending);
      // a linked list (timers, a hand-made queue) would fill the path with one hop: say it once
      const last = out[out.length - 1];
      if (last === label) out[out.length - 1] = `${label} (a chain)`;
      else if (last !== `${label} (a chain)`) out.push(label);
      pending = null;
    } else if (held !== null && pending === null) pending = held;
    if (hop === null) return out;
    node = hop[0];
    visited.add(node);
  }
  out.push('…'); // more hops than are worth printing
  return out;
}

const CONTEXT = 'system / Context';

/**
 * The next holder of `node` on its way to the roots: the shortest path's, unless that edge has
 * no name a developer wrote and another holder nearly as near holds it by a property or a
 * variable (`items`, `sessions`): that path is as true and says more.
 */
function nextHop(a: HeapAnalysis, node: number, visited: Set<number>): [number, number] | null {
  const g = a.graph;
  const pe = a.parentEdge[node]!;
  if (pe === NONE) return null;
  const parent = sourceOf(g, pe);
  if (edgeLabel(g, pe) !== null) return [parent, pe];
  const limit = a.distance[node]! + 1;
  let best: [number, number] | null = null;
  for (let r = a.firstRetainer[node]!; r < a.firstRetainer[node + 1]!; r++) {
    const from = sourceOf(g, a.retainerEdge[r]!);
    const e = a.retainerEdge[r]!;
    const d = a.distance[from]!;
    if (d === -1 || d > limit || visited.has(from) || edgeLabel(g, e) === null) continue;
    if (best === null || d < a.distance[best[0]]!) best = [from, e];
  }
  return best ?? [parent, pe];
}

/**
 * A scope whose enclosing one is the native context: the outermost function's, which for
 * CommonJS is the module wrapper's (its variables are the module's top-level ones).
 */
function isOutermostScope(g: HeapGraph, context: number): boolean {
  for (let e = g.firstEdge[context]!; e < g.firstEdge[context + 1]!; e++) {
    if (g.strings[g.edgeName[e]!] === 'previous' && g.edgeTypeNames[g.edgeType[e]!] === 'internal') {
      return g.strings[g.nodeName[g.edgeTo[e]!]!] === 'system / NativeContext';
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Who holds what grew

export interface RetainerPathGroup {
  /** nearest retainer first: `Map 'sessions'`, `SessionStore 'store'`, `(closure) handler server.js:14` */
  path: string[];
  /** new objects of the group held this way (an object held two ways counts in both) */
  count: number;
  selfBytes: number;
  /** what those objects retain: freed if they were */
  retainedBytes: number;
}

export interface LeakSuspect {
  /** the object that dominates most of the new objects: cut it and they go */
  label: string;
  path: string[];
  retainedBytes: number;
  /** share of the new objects it dominates, 0..1 */
  dominatesShare: number;
}

export interface GrowerRetainers {
  name: string;
  /** objects of this group in b: those not in a when ids allow (HeapDiffResult.newById), else all */
  objects: number;
  /** how many of them the paths were traced for (all, up to a cap) */
  traced: number;
  paths: RetainerPathGroup[];
  suspect: LeakSuspect | null;
}

const TRACE_CAP = 200_000;
const PATHS_PER_OBJECT = 3;

/**
 * Whether the ids of b name the same objects as in a (see heapsnapshot.ts): of the nodes whose
 * id is in both, nearly all have the same type and size. Ids renumbered from scratch match by
 * chance only (about a third of them in the snapshots measured).
 */
export function idsComparable(g: HeapGraph, idsA: Float64Array): boolean {
  let shared = 0;
  let same = 0;
  for (let i = 0; i < g.nodeCount; i++) {
    const fp = fingerprintOf(idsA, g.nodeId[i]!);
    if (fp < 0) continue;
    shared++;
    if (fp === fingerprint(g.nodeType[i]!, g.selfSize[i]!)) same++;
  }
  return shared > 0 && same >= 0.9 * shared;
}

/**
 * For each group name, the retaining paths of its objects in b that were not in a (ids not in
 * `idsA`; all of the group's objects when idsA is null: see idsComparable), aggregated by path,
 * largest first.
 */
export function growerRetainers(a: HeapAnalysis, names: string[], idsA: Float64Array | null, maxPaths = 3): GrowerRetainers[] {
  const g = a.graph;
  const wanted = new Map<string, number[]>();
  for (const name of names) wanted.set(name, []);
  for (let i = 1; i < g.nodeCount; i++) {
    const list = wanted.get(groupOf(g, i));
    if (!list || a.distance[i] === -1) continue;
    if (idsA && fingerprintOf(idsA, g.nodeId[i]!) >= 0) continue;
    list.push(i);
  }
  const pathCache = new Map<number, string[]>();
  const pathOf = (node: number): string[] => {
    let p = pathCache.get(node);
    if (!p) pathCache.set(node, (p = retainerPath(a, node)));
    return p;
  };
  const out: GrowerRetainers[] = [];
  for (const name of names) {
    const objects = wanted.get(name)!;
    const step = Math.max(1, Math.ceil(objects.length / TRACE_CAP));
    const groups = new Map<string, RetainerPathGroup>();
    let traced = 0;
    for (let k = 0; k < objects.length; k += step) {
      const o = objects[k]!;
      traced++;
      const seen = new Set<string>();
      for (let r = a.firstRetainer[o]!; r < a.firstRetainer[o + 1]! && seen.size < PATHS_PER_OBJECT; r++) {
        const from = sourceOf(g, a.retainerEdge[r]!);
        if (a.distance[from] === -1) continue;
        // one path per distinct way it is held: two retainers that lead the same way count once
        const path = pathOf(from);
        const key = path.join('\u0000');
        if (seen.has(key)) continue;
        seen.add(key);
        let pg = groups.get(key);
        if (!pg) groups.set(key, (pg = { path, count: 0, selfBytes: 0, retainedBytes: 0 }));
        pg.count += step;
        pg.selfBytes += g.selfSize[o]! * step;
        pg.retainedBytes += a.retainedSize[o]! * step;
      }
    }
    const paths = [...groups.values()].sort((x, y) => y.count - x.count || y.retainedBytes - x.retainedBytes).slice(0, maxPaths);
    out.push({ name, objects: objects.length, traced, paths, suspect: suspectFor(a, objects, step) });
  }
  return out;
}

/** The nearest object (not a root) on the dominator chains of at least half of `objects`. */
function suspectFor(a: HeapAnalysis, objects: number[], step: number): LeakSuspect | null {
  const g = a.graph;
  if (objects.length === 0) return null;
  const counts = new Map<number, number>();
  let traced = 0;
  for (let k = 0; k < objects.length; k += step) {
    traced++;
    let d = a.idom[objects[k]!]!;
    for (let hops = 0; d !== 0 && hops < 200; hops++) {
      counts.set(d, (counts.get(d) ?? 0) + 1);
      d = a.idom[d]!;
    }
  }
  let best = -1;
  let bestDepth = -1;
  for (const [node, c] of counts) {
    if (c * 2 < traced || typeOf(g, node) === 'synthetic') continue;
    let depth = 0;
    for (let d = node; d !== 0 && depth < 1000; d = a.idom[d]!) depth++;
    if (depth > bestDepth) {
      best = node;
      bestDepth = depth;
    }
  }
  if (best < 0) return null;
  // a noise node (the Map's backing store) is shown as the meaningful object above it
  let shown = best;
  for (let hops = 0; isNoise(g, shown) && hops < 20; hops++) {
    const up = a.idom[shown]!;
    if (up === 0 || typeOf(g, up) === 'synthetic') break;
    shown = up;
  }
  const path = retainerPath(a, shown);
  return {
    label: path[0] ?? nodeLabel(g, shown, null),
    path: path.slice(1),
    retainedBytes: a.retainedSize[shown]!,
    dominatesShare: (counts.get(best) ?? 0) / traced,
  };
}

export interface HeapRetainer {
  label: string;
  path: string[];
  id: number;
  selfBytes: number;
  retainedBytes: number;
}

/** The largest retainers: nodes by retained size, none inside another one listed, no roots. */
export function largestRetainers(a: HeapAnalysis, top: number): HeapRetainer[] {
  const g = a.graph;
  const order: number[] = [];
  for (let i = 1; i < g.nodeCount; i++) if (a.distance[i] !== -1 && typeOf(g, i) !== 'synthetic' && !isNoise(g, i)) order.push(i);
  order.sort((x, y) => a.retainedSize[y]! - a.retainedSize[x]!);
  const listed = new Set<number>();
  const out: HeapRetainer[] = [];
  for (const i of order) {
    if (out.length >= top) break;
    let inside = false;
    for (let d = a.idom[i]!, hops = 0; d !== 0 && hops < 1000; d = a.idom[d]!, hops++) {
      if (listed.has(d)) {
        inside = true;
        break;
      }
    }
    if (inside) continue;
    listed.add(i);
    const path = retainerPath(a, i);
    out.push({ label: path[0] ?? nodeLabel(g, i, null), path: path.slice(1), id: g.nodeId[i]!, selfBytes: g.selfSize[i]!, retainedBytes: a.retainedSize[i]! });
  }
  return out;
}
