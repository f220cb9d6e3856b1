// A .heapsnapshot read whole into typed arrays, for what a summary by constructor cannot say:
// who holds an object (its shortest retaining path from the GC roots) and what cutting it would
// free (the dominator tree and retained sizes, computed as Chrome DevTools computes them).
// Pure: scanner events in (model/heapsnapshot.ts's JsonScanner and SnapshotSections), graph and
// answers out.
//
// Memory (issue 26: peak RSS under 1.5x the file; measured in docs/benchmarks.md): 17 bytes a
// node (13 without ids, in heap-diff) and 7 an edge in the graph (edge names as 2-byte indices
// into a table of the names kept); of "strings" only those a path or a summary names (the names
// of objects, closures, roots and scripts, of property and variable edges, and the internal
// edges followed: not the text of string values), as UTF-8 in one buffer; the closures'
// locations in typed arrays (a Map of them was 118 MiB of a 169 MB file's 494 MiB peak). The
// analysis is measured in analyzeHeap.
//
// What "essential" means follows DevTools (HeapSnapshot.ts isEssentialEdge): weak edges hold
// nothing, and a shortcut edge counts only from the root (it marks the user's global objects).
// For dominators also computeIsEssentialEdge's page rule (see analyzeHeap); checked node by node
// against DevTools' own code by bench/devtools-check.ts (docs/benchmarks.md).

import { fingerprint, fingerprintOf, JsonScanner, SnapshotFormatError, SnapshotSections, sortGroups, type HeapGroup, type HeapSummary, type SnapshotSink } from './heapsnapshot';

const NONE = 0xffffffff;

/** Names longer than this are cut where a path shows them: a string node's name is the string itself. */
const NAME_CHARS = 160;

/** The strings of a snapshot that were kept, by their index in "strings"; the others read as ''. */
export class SnapshotStrings {
  private bytes = Buffer.allocUnsafe(1 << 16);
  private used = 0;
  /** string i is bytes[offsets[i] .. offsets[i+1]] */
  private offsets = new Uint32Array(1025);
  /** how many strings "strings" holds (kept or not) */
  count = 0;

  /** Strings up to `count` (exclusive) not set are empty. */
  fillTo(count: number): void {
    if (count + 1 > this.offsets.length) {
      const more = new Uint32Array(Math.max(count + 1, this.offsets.length * 2));
      more.set(this.offsets);
      this.offsets = more;
    }
    for (let i = this.count; i < count; i++) this.offsets[i + 1] = this.used;
    this.count = Math.max(this.count, count);
  }

  set(index: number, s: string): void {
    this.fillTo(index);
    const len = Buffer.byteLength(s);
    if (this.used + len > this.bytes.length) {
      const more = Buffer.allocUnsafe(Math.max(this.used + len, this.bytes.length * 2));
      this.bytes.copy(more, 0, 0, this.used);
      this.bytes = more;
    }
    this.used += this.bytes.write(s, this.used, 'utf8');
    this.fillTo(index + 1);
    this.offsets[index + 1] = this.used;
  }

  /** The memory no longer needed once "strings" is read. */
  trim(): void {
    this.bytes = Buffer.from(this.bytes.subarray(0, this.used));
    this.offsets = this.offsets.slice(0, this.count + 1);
  }

  /**
   * Each string is decoded once: a path reads the same few names again and again (decoding them
   * each time was 2.6 s of the 169 MB file's 20 s, profiled). The names asked for are few.
   */
  private readonly decoded = new Map<number, string>();

  get(i: number): string {
    if (i >= this.count) return '';
    let s = this.decoded.get(i);
    if (s === undefined) this.decoded.set(i, (s = this.bytes.toString('utf8', this.offsets[i]!, this.offsets[i + 1]!)));
    return s;
  }

  /** get(i) === text, for a string index that may be none (NONE) */
  equals(i: number, text: string): boolean {
    return this.get(i) === text;
  }

  startsWith(i: number, text: string): boolean {
    return this.get(i).startsWith(text);
  }
}

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
  /**
   * The name of a property, context or shortcut edge, and of the internal edges nodetop follows:
   * an index into edgeNameTable (0: none), which gives the string's index. Two bytes an edge
   * while the names are fewer than 65,536 (6,300 in the 169 MB file measured); past that, the
   * string's index itself (edgeNameTable null). Element and hidden edges' indices are not kept.
   */
  edgeName: Uint16Array | Uint32Array;
  edgeNameTable: Uint32Array | null;
  /** the node index (not the offset V8 writes) */
  edgeTo: Uint32Array;
  strings: SnapshotStrings;
  /**
   * When the loader was given a's ids (heap-diff): b's ids compared with them as they streamed
   * by, and nodeId left empty (4 bytes a node that the rest of heap-diff does not read).
   */
  compared: IdComparison | null;
  /** closures' locations from `locations`, sorted by node index: script id and line (0-based) */
  locations: { node: Uint32Array; script: Uint32Array; line: Uint32Array };
}

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
  if (typeNames.length > 255 || edgeTypeNames.length > 255) throw new SnapshotFormatError('snapshot.meta lists more than 255 node or edge types');
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

export interface IdComparison {
  /** 1 for the nodes of b whose id is not among a's */
  fresh: Uint8Array;
  /** nodes of b whose id is among a's, and of those, how many have the same type and size */
  shared: number;
  same: number;
}

/**
 * Which strings are kept, and how (bits): 1 cut to NAME_CHARS (a name a path shows), 2 whole (an
 * object's name: its constructor, a group compared with the streamed summary's), 4 an internal
 * edge's name (kept when it is one nodetop follows: FOLLOWED_INTERNAL).
 */
class StringMarks {
  private flags = new Uint8Array(1024);
  /** indices past any a valid file has (there are fewer strings than nodes and edges) */
  private readonly far = new Map<number, number>();

  constructor(private readonly cap: number) {}

  mark(i: number, level: number): void {
    if (i >= this.flags.length) {
      if (i >= this.cap) {
        this.far.set(i, (this.far.get(i) ?? 0) | level);
        return;
      }
      const more = new Uint8Array(Math.min(this.cap, Math.max(i + 1, this.flags.length * 2)));
      more.set(this.flags);
      this.flags = more;
    }
    this.flags[i]! |= level;
  }

  level(i: number): number {
    return i < this.flags.length ? this.flags[i]! : (this.far.get(i) ?? 0);
  }
}

/** Node types whose names a path or a summary shows (1), or groups by (2, objects). */
const NAMED_NODE_TYPES: Record<string, number> = { object: 2, closure: 1, synthetic: 1, native: 1, code: 1, hidden: 1 };
/** Edge types whose names a path shows (1), or whose few names nodetop follows (4). */
const NAMED_EDGE_TYPES: Record<string, number> = { property: 1, context: 1, shortcut: 1, internal: 4 };
/** Internal edges nodetop follows: a closure's code and script, a scope's closure and parent. */
const FOLLOWED_INTERNAL = new Set(['shared', 'script', 'script_or_debug_info', 'context', 'previous']);

/** A SnapshotSink that keeps the graph of one snapshot. */
export class HeapGraphReader implements SnapshotSink {
  private meta_: GraphMeta | null = null;
  private g: HeapGraph | null = null;
  private marks: StringMarks | null = null;
  private nodeLevel = new Uint8Array(0);
  private edgeNamed = new Uint8Array(0);
  private field = 0;
  private node_ = 0;
  private edge_ = 0;
  private edgeCountSum = 0;
  private nodesDone = false;
  private edgesDone = false;
  private readonly strings = new SnapshotStrings();
  /** string indices of FOLLOWED_INTERNAL names */
  private readonly followed: number[] = [];
  private curId = 0;
  private compared: IdComparison | null = null;

  /** idsA: a's ids (HeapSummary.ids), to compare b's with as they stream by (heap-diff). */
  constructor(private readonly idsA: Float64Array | null = null) {}
  // locations: [object index, script id, line] of closures, growing
  private loc = new Uint32Array(3 * 1024);
  private locCount = 0;
  private locField = 0;
  private locNode = 0;
  private locScript = 0;
  private locLine = 0;
  private closureType = -1;

  meta(snapshot: unknown): void {
    const m = (this.meta_ = readGraphMeta(snapshot));
    const n = m.nodeCount;
    const e = m.edgeCount;
    this.nodeLevel = Uint8Array.from(m.typeNames, (t) => NAMED_NODE_TYPES[t] ?? 0);
    this.edgeNamed = Uint8Array.from(m.edgeTypeNames, (t) => NAMED_EDGE_TYPES[t] ?? 0);
    if (this.idsA) this.compared = { fresh: new Uint8Array(n), shared: 0, same: 0 };
    this.closureType = m.typeNames.indexOf('closure');
    this.marks = new StringMarks(n + e + 1024);
    this.g = {
      nodeCount: n,
      edgeCount: e,
      typeNames: m.typeNames,
      edgeTypeNames: m.edgeTypeNames,
      nodeType: new Uint8Array(n),
      nodeName: new Uint32Array(n),
      nodeId: new Uint32Array(this.idsA ? 0 : n),
      selfSize: new Uint32Array(n),
      firstEdge: new Uint32Array(n + 1),
      edgeType: new Uint8Array(e),
      edgeName: new Uint32Array(e),
      edgeNameTable: null,
      edgeTo: new Uint32Array(e),
      strings: this.strings,
      compared: this.compared,
      locations: { node: new Uint32Array(0), script: new Uint32Array(0), line: new Uint32Array(0) },
    };
  }

  nodesStart(): void {}

  node(v: number): void {
    const m = this.meta_!;
    const g = this.g!;
    const i = this.node_;
    if (i >= m.nodeCount) throw new SnapshotFormatError(`it holds more than the ${m.nodeCount} nodes it declares`);
    const f = this.field;
    if (f === m.typeOff) {
      if (v >= m.typeNames.length) throw new SnapshotFormatError(`node ${i} has type ${v}, which meta does not list`);
      g.nodeType[i] = v;
    } else if (f === m.nameOff) g.nodeName[i] = v;
    else if (f === m.idOff) this.curId = v;
    else if (f === m.sizeOff) g.selfSize[i] = v;
    else if (f === m.edgeCountOff) {
      g.firstEdge[i] = this.edgeCountSum;
      this.edgeCountSum += v;
      g.firstEdge[i + 1] = this.edgeCountSum;
    }
    if (++this.field === m.nodeStride) {
      this.field = 0;
      this.node_++;
      const level = this.nodeLevel[g.nodeType[i]!]!;
      if (level > 0) this.marks!.mark(g.nodeName[i]!, level);
      const c = this.compared;
      if (c) {
        const fp = fingerprintOf(this.idsA!, this.curId);
        if (fp < 0) c.fresh[i] = 1;
        else {
          c.shared++;
          if (fp === fingerprint(g.nodeType[i]!, g.selfSize[i]!)) c.same++;
        }
      } else g.nodeId[i] = this.curId;
    }
  }

  nodesEnd(): void {
    const m = this.meta_!;
    if (this.field !== 0 || this.node_ !== m.nodeCount) throw new SnapshotFormatError(`it declares ${m.nodeCount} nodes and holds ${this.node_}`);
    if (this.edgeCountSum !== m.edgeCount) throw new SnapshotFormatError(`its nodes have ${this.edgeCountSum} edges and it declares ${m.edgeCount}`);
    this.nodesDone = true;
  }

  edge(v: number): void {
    const m = this.meta_!;
    const g = this.g!;
    const e = this.edge_;
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
      this.edge_++;
      const named = this.edgeNamed[g.edgeType[e]!]!;
      if (named) this.marks!.mark(g.edgeName[e]!, named);
    }
  }

  edgesEnd(): void {
    const m = this.meta_!;
    if (this.field !== 0 || this.edge_ !== m.edgeCount) throw new SnapshotFormatError(`it declares ${m.edgeCount} edges and holds ${this.edge_}`);
    this.edgesDone = true;
  }

  location(v: number): void {
    // object_index, script_id, line first (as V8 lists them); a file that lists fewer has none
    if (this.meta_!.locStride < 3) return;
    const f = this.locField;
    if (f === 0) this.locNode = v;
    else if (f === 1) this.locScript = v;
    else if (f === 2) this.locLine = v;
    if (++this.locField < this.meta_!.locStride) return;
    this.locField = 0;
    const stride = this.meta_!.nodeStride;
    const node = this.locNode / stride;
    if (!Number.isInteger(node) || node >= this.meta_!.nodeCount) return;
    // only a closure's location is shown (V8 writes one for many objects: 914,399 of them for
    // 265,560 closures in the 169 MB file measured)
    if (this.nodesDone && this.g!.nodeType[node] !== this.closureType) return;
    if (3 * this.locCount + 3 > this.loc.length) {
      const more = new Uint32Array(this.loc.length * 2);
      more.set(this.loc);
      this.loc = more;
    }
    const at = 3 * this.locCount++;
    this.loc[at] = node;
    this.loc[at + 1] = this.locScript;
    this.loc[at + 2] = this.locLine;
  }

  wantString(index: number): boolean {
    // strings before the nodes and edges that name them (not what V8 writes): keep them all
    if (!this.nodesDone || !this.edgesDone) return true;
    return this.marks!.level(index) > 0;
  }

  string(index: number, s: string): void {
    const all = !this.nodesDone || !this.edgesDone;
    const level = all ? 2 : this.marks!.level(index);
    if (FOLLOWED_INTERNAL.has(s)) this.followed.push(index);
    // an internal edge's name alone (248,635 of them, mostly numbers, in the file measured) is
    // kept only when nodetop follows it
    else if ((level & 3) === 0) return;
    this.strings.set(index, level & 2 || s.length <= NAME_CHARS ? s : `${s.slice(0, NAME_CHARS)}…`);
  }

  stringsEnd(count: number): void {
    this.strings.fillTo(count);
    this.strings.trim();
  }

  result(): HeapGraph {
    const g = this.g!;
    const nStrings = this.strings.count;
    for (let i = 0; i < g.nodeCount; i++) if (g.nodeName[i]! >= nStrings) throw new SnapshotFormatError(`node ${i}'s name ${g.nodeName[i]} is not in "strings"`);
    // closures only (locations before nodes are filtered here), sorted by node for a binary search
    const keep: number[] = [];
    for (let k = 0; k < this.locCount; k++) if (g.nodeType[this.loc[3 * k]!] === this.closureType) keep.push(k);
    keep.sort((x, y) => this.loc[3 * x]! - this.loc[3 * y]!);
    const node = new Uint32Array(keep.length);
    const script = new Uint32Array(keep.length);
    const line = new Uint32Array(keep.length);
    keep.forEach((k, j) => {
      node[j] = this.loc[3 * k]!;
      script[j] = this.loc[3 * k + 1]!;
      line[j] = this.loc[3 * k + 2]!;
    });
    g.locations = { node, script, line };
    this.loc = new Uint32Array(0);
    this.compactEdgeNames(g);
    return g;
  }

  /** Edge names as 2-byte indices into a table of the names a path shows or follows. */
  private compactEdgeNames(g: HeapGraph): void {
    const kind = this.edgeNamed;
    const remap = new Uint32Array(this.strings.count);
    const table = [NONE];
    for (const i of this.followed) if (remap[i] === 0) remap[i] = table.push(i) - 1;
    const followedIds = table.length;
    const names = g.edgeName as Uint32Array;
    for (let e = 0; e < g.edgeCount; e++) {
      if (kind[g.edgeType[e]!] !== 1) continue;
      const i = names[e]!;
      if (i < remap.length && remap[i] === 0) {
        if (table.length > 0xffff) return; // too many names: the string indices stay
        remap[i] = table.push(i) - 1;
      }
    }
    const compact = new Uint16Array(g.edgeCount);
    for (let e = 0; e < g.edgeCount; e++) {
      const k = kind[g.edgeType[e]!];
      const i = names[e]!;
      if (k === 0 || i >= remap.length) continue;
      const c = remap[i]!;
      if (k === 1 || c < followedIds) compact[e] = c;
    }
    g.edgeName = compact;
    g.edgeNameTable = Uint32Array.from(table);
  }
}

/** The string index of edge e's name (NONE, read as '', when it has none nodetop keeps). */
export function edgeNameOf(g: HeapGraph, e: number): number {
  const v = g.edgeName[e]!;
  return g.edgeNameTable ? g.edgeNameTable[v]! : v;
}

/** The location of closure `i`: [script id, line (0-based)], or null. */
export function locationOf(g: HeapGraph, i: number): [number, number] | null {
  const nodes = g.locations.node;
  let lo = 0;
  let hi = nodes.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = nodes[mid]!;
    if (v === i) return [g.locations.script[mid]!, g.locations.line[mid]!];
    if (v < i) lo = mid + 1;
    else hi = mid - 1;
  }
  return null;
}

/** A streaming reader of one whole snapshot graph: write() chunks, then end(). */
export class HeapGraphLoader {
  private readonly reader: HeapGraphReader;
  private readonly sections: SnapshotSections;
  private readonly scanner: JsonScanner;

  /** idsA: a's ids, to mark b's new nodes as they stream by (HeapGraph.compared) */
  constructor(idsA: Float64Array | null = null) {
    this.reader = new HeapGraphReader(idsA);
    this.sections = new SnapshotSections(this.reader, { edges: true, locations: true });
    this.scanner = new JsonScanner(this.sections);
  }

  write(chunk: Buffer): void {
    this.scanner.write(chunk);
  }

  end(): HeapGraph {
    this.scanner.end();
    this.sections.finish();
    return this.reader.result();
  }
}

// ---------------------------------------------------------------------------------------------
// Analysis

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
const MOMENTARY_ROOTS = ['(Handle scope)', '(Stack roots)'];

export interface HeapAnalysis {
  graph: HeapGraph;
  /** retaining edge on a shortest path from the root (NONE for the root and the unreachable) */
  parentEdge: Uint32Array;
  /** BFS distance from the root over essential edges; -1 unreachable */
  distance: Int32Array;
  /** immediate dominator; the root for itself and for nodes held only by weak edges (or only by
   * edges into page objects from outside them, which the dominators ignore as DevTools does) */
  idom: Uint32Array;
  retainedSize: Float64Array;
  /** retainers of node i: the edges retainerEdge[firstRetainer[i] .. firstRetainer[i+1]-1] */
  firstRetainer: Uint32Array;
  retainerEdge: Uint32Array;
  weakType: number;
  shortcutType: number;
}

/**
 * Shortest paths, dominators and retained sizes of a graph whose root is node 0.
 *
 * Memory: 29 bytes a node and 4 an essential edge at the peak (the page flags, the retainer
 * index, a DFS preorder, the Semi-NCA arrays), of which 24 a node and the retainer index are kept: the
 * arrays of one step are reused by the next rather than left to the GC (with 15 arrays of
 * 4 bytes a node, the analysis of a 169 MB file took 108 MiB more than its graph).
 */
export function analyzeHeap(g: HeapGraph): HeapAnalysis {
  const n = g.nodeCount;
  const weakType = g.edgeTypeNames.indexOf('weak');
  const shortcutType = g.edgeTypeNames.indexOf('shortcut');
  const essential = (from: number, e: number): boolean => {
    const t = g.edgeType[e];
    return t !== weakType && (t !== shortcutType || from === 0);
  };

  // Page objects (DevTools' name): what the user's globals reach, the root's shortcut edges
  // marking them. For dominators DevTools ignores edges from other objects into them (a code
  // cache or the debugger pointing at a module's objects would otherwise take them from the
  // module); measured on test/fixtures/retainers.js, this rule was the whole of the difference
  // in 5,500 of 67,000 nodes (docs/benchmarks.md, "Retained sizes against DevTools").
  const page = new Uint8Array(n);
  {
    const syntheticType = g.typeNames.indexOf('synthetic');
    const elementType = g.edgeTypeNames.indexOf('element');
    const stack = new Uint32Array(n);
    let top = 0;
    for (let e = n > 0 ? g.firstEdge[0]! : 0; n > 0 && e < g.firstEdge[1]!; e++) {
      const to = g.edgeTo[e]!;
      const t = g.edgeType[e];
      const entry = t === shortcutType || (t === elementType && g.nodeType[to] === syntheticType && g.strings.equals(g.nodeName[to]!, '(Document DOM trees)'));
      if (!entry || page[to]) continue;
      page[to] = 1;
      stack[top++] = to;
    }
    while (top > 0) {
      const from = stack[--top]!;
      for (let e = g.firstEdge[from]!; e < g.firstEdge[from + 1]!; e++) {
        const to = g.edgeTo[e]!;
        if (page[to] || g.edgeType[e] === weakType) continue;
        page[to] = 1;
        stack[top++] = to;
      }
    }
  }
  /** an essential edge the dominators follow: none from a non-page object into a page object */
  const dominating = (from: number, to: number): boolean => from === 0 || page[from] === 1 || page[to] === 0;

  // Retainers (reverse edges), essential ones only.
  const firstRetainer = new Uint32Array(n + 1);
  for (let from = 0; from < n; from++) {
    for (let e = g.firstEdge[from]!; e < g.firstEdge[from + 1]!; e++) if (essential(from, e)) firstRetainer[g.edgeTo[e]! + 1]!++;
  }
  for (let i = 0; i < n; i++) firstRetainer[i + 1]! += firstRetainer[i]!;
  const retainerEdge = new Uint32Array(firstRetainer[n]!);
  // firstRetainer[i] is node i's fill position, which ends as node i+1's start: shifted back after
  for (let from = 0; from < n; from++) {
    for (let e = g.firstEdge[from]!; e < g.firstEdge[from + 1]!; e++) {
      if (!essential(from, e)) continue;
      const at = firstRetainer[g.edgeTo[e]!]!++;
      retainerEdge[at] = e;
    }
  }
  for (let i = n; i > 0; i--) firstRetainer[i] = firstRetainer[i - 1]!;
  firstRetainer[0] = 0;

  // Dominators: Semi-NCA (Georgiadis: Lengauer and Tarjan's semidominators with path
  // compression, then each immediate dominator as the nearest common ancestor of the parent
  // and the semidominator), over a DFS preorder numbering. It needs no buckets and computes the
  // dominators in place of the DFS parents. (The iterative algorithm DevTools uses needed 500
  // rounds on a 50,000-node heap with a 500-timer list: quadratic on the long chains real heaps
  // have.) Arrays indexed by preorder number unless named for nodes.
  const dfn = new Uint32Array(n).fill(NONE); // node -> preorder
  const vert = new Uint32Array(n); // preorder -> node
  const par = new Uint32Array(n); // DFS parent, then the immediate dominator, then the BFS queue
  const s2 = new Uint32Array(n); // the DFS's next edge, then `ancestor`, then idom by node
  let count = 0;
  if (n > 0) {
    // the DFS's stack is the chain of parents from `cur`, each with its next edge in s2
    const nextEdge = s2;
    dfn[0] = count++;
    vert[0] = 0;
    par[0] = NONE;
    nextEdge[0] = g.firstEdge[0]!;
    let cur = 0;
    while (cur !== NONE) {
      const from = vert[cur]!;
      const e = nextEdge[cur]!;
      if (e >= g.firstEdge[from + 1]!) {
        cur = par[cur]!;
        continue;
      }
      nextEdge[cur] = e + 1;
      if (!essential(from, e)) continue;
      const to = g.edgeTo[e]!;
      if (dfn[to] !== NONE || !dominating(from, to)) continue;
      dfn[to] = count;
      vert[count] = to;
      par[count] = cur;
      nextEdge[count] = g.firstEdge[to]!;
      cur = count++;
    }
    par[0] = 0;
  }
  // semi and label share one buffer, which then holds the retained sizes (8 bytes a node)
  const sizes = new ArrayBuffer(8 * n);
  const semi = new Uint32Array(sizes, 0, n);
  const label = new Uint32Array(sizes, 4 * n, n);
  const ancestor = s2.fill(NONE);
  // evaluate's path: short once compressed, so a growing array rather than 4 bytes a node
  const path: number[] = [];
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
      const from = sourceOf(g, retainerEdge[r]!);
      const v = dfn[from]!;
      if (v === NONE || !dominating(from, node)) continue;
      const u = evaluate(v);
      if (semi[u]! < semi[w]!) semi[w] = semi[u]!;
    }
    ancestor[w] = par[w]!;
  }
  const dom = par;
  for (let w = 1; w < count; w++) {
    let d = dom[w]!;
    while (d > semi[w]!) d = dom[d]!;
    dom[w] = d;
  }
  const idom = s2.fill(0); // by node: 0 (the root) for the root and for the unreachable
  for (let w = 1; w < count; w++) idom[vert[w]!] = vert[dom[w]!]!;
  path.length = 0;

  // Retained sizes: a node's own plus what it dominates. A dominator comes before what it
  // dominates in DFS preorder, so one pass from the last node back adds each to its dominator.
  const retainedSize = new Float64Array(sizes);
  for (let i = 0; i < n; i++) retainedSize[i] = g.selfSize[i]!;
  for (let w = count - 1; w >= 1; w--) {
    const node = vert[w]!;
    retainedSize[idom[node]!]! += retainedSize[node]!;
  }
  for (let i = 1; i < n; i++) if (dfn[i] === NONE) retainedSize[0]! += g.selfSize[i]!;

  // Shortest paths from the root (BFS), in the DFS's arrays. The roots of the moment the
  // snapshot was taken (the stack and handle scopes of the code that asked for it) are entered
  // last: a path through them says nothing about why the object lives on, so any other path is
  // preferred (DevTools likewise measures distances from the user's roots first).
  const distance = new Int32Array(dfn.buffer, 0, n).fill(-1);
  const parentEdge = vert.fill(NONE);
  const queue = par;
  const deferred: Array<[number, number]> = [];
  let head = 0;
  let tail = 0;
  if (n > 0) {
    distance[0] = 0;
    queue[tail++] = 0;
  }
  const syntheticType = g.typeNames.indexOf('synthetic');
  const momentary = (node: number): boolean => g.nodeType[node] === syntheticType && MOMENTARY_ROOTS.some((r) => g.strings.equals(g.nodeName[node]!, r));
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
        if (pass === 0 && momentary(to)) {
          deferred.push([from, e]);
          continue;
        }
        distance[to] = distance[from]! + 1;
        parentEdge[to] = e;
        queue[tail++] = to;
      }
    }
  }

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
  return g.strings.get(g.nodeName[i]!);
}

/** A name as a path shows it: an object's name is kept whole for the summary, a path cuts it. */
function short(s: string): string {
  return s.length > NAME_CHARS ? `${s.slice(0, NAME_CHARS)}…` : s;
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
  // by name index first (one string made per name, not per node), then by the name's text
  const objectType = g.typeNames.indexOf('object');
  const byIndex = new Map<number, { count: number; size: number }>();
  const byType = g.typeNames.map(() => ({ count: 0, size: 0 }));
  let total = 0;
  for (let i = 0; i < g.nodeCount; i++) {
    const size = g.selfSize[i]!;
    total += size;
    const t = g.nodeType[i]!;
    let acc = byType[t]!;
    if (t === objectType) {
      const k = g.nodeName[i]!;
      let have = byIndex.get(k);
      if (!have) byIndex.set(k, (have = { count: 0, size: 0 }));
      acc = have;
    }
    acc.count++;
    acc.size += size;
  }
  const groups = new Map<string, HeapGroup>();
  const add = (name: string, type: string, acc: { count: number; size: number }): void => {
    const have = groups.get(name);
    if (have) {
      have.count += acc.count;
      have.selfSizeBytes += acc.size;
    } else groups.set(name, { name, type, count: acc.count, selfSizeBytes: acc.size });
  };
  for (const [k, acc] of byIndex) {
    const name = g.strings.get(k);
    add(name === '' ? '(no name)' : name, 'object', acc);
  }
  byType.forEach((acc, t) => {
    if (acc.count > 0) add(`(${g.typeNames[t]!})`, g.typeNames[t]!, acc);
  });
  const list = [...groups.values()];
  sortGroups(list);
  return { nodes: g.nodeCount, selfSizeBytes: total, groups: list };
}

/** Nodes a reader gains nothing from: V8's internal arrays, hidden and code objects, contexts. */
function isNoise(g: HeapGraph, i: number): boolean {
  const t = typeOf(g, i);
  if (t === 'hidden' || t === 'array' || t === 'code' || t === 'object shape') return true;
  if (t === 'object' && g.strings.startsWith(g.nodeName[i]!, 'system / ')) return true;
  return false;
}

/** The name an edge gives its target, when it is one a developer wrote. */
function edgeLabel(g: HeapGraph, e: number): string | null {
  const t = g.edgeTypeNames[g.edgeType[e]!];
  if (t === 'property' || t === 'context' || t === 'shortcut') {
    const s = g.strings.get(edgeNameOf(g, e));
    return s === '' ? null : short(s);
  }
  return null;
}

/** Where a closure was defined: "file:line", from its script (shared -> script) and `locations`. */
function closureWhere(g: HeapGraph, i: number): string | null {
  const loc = locationOf(g, i);
  if (!loc) return null;
  let file: string | null = null;
  const child = (node: number, name: string): number | null => {
    for (let e = g.firstEdge[node]!; e < g.firstEdge[node + 1]!; e++) if (g.edgeTypeNames[g.edgeType[e]!] === 'internal' && g.strings.equals(edgeNameOf(g, e), name)) return g.edgeTo[e]!;
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
  const name = short(nameOf(g, i));
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
    const e = a.retainerEdge[r]!;
    if (g.edgeTypeNames[g.edgeType[e]!] !== 'internal' || !g.strings.equals(edgeNameOf(g, e), 'context')) continue;
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
    if (g.strings.equals(g.nodeName[node]!, CONTEXT)) {
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
    if (g.edgeTypeNames[g.edgeType[e]!] === 'internal' && g.strings.equals(edgeNameOf(g, e), 'previous')) {
      return g.strings.equals(g.nodeName[g.edgeTo[e]!]!, 'system / NativeContext');
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
export function idsComparable(c: IdComparison): boolean {
  return c.shared > 0 && c.same >= 0.9 * c.shared;
}

/**
 * For each group name, the retaining paths of its objects in b that were not in a (`fresh`, from
 * newNodes; all of the group's objects when null: see idsComparable), aggregated by path,
 * largest first.
 */
export function growerRetainers(a: HeapAnalysis, names: string[], fresh: Uint8Array | null, maxPaths = 3): GrowerRetainers[] {
  const g = a.graph;
  const wanted = new Map<string, number[]>();
  for (const name of names) wanted.set(name, []);
  // the group of each node without a string per node: objects by name index, the rest by type
  const objectType = g.typeNames.indexOf('object');
  const byType = g.typeNames.map((t) => wanted.get(`(${t})`) ?? null);
  const byName = new Map<number, number[] | null>();
  for (let i = 1; i < g.nodeCount; i++) {
    const t = g.nodeType[i]!;
    let list: number[] | null | undefined;
    if (t === objectType) {
      const k = g.nodeName[i]!;
      list = byName.get(k);
      if (list === undefined) byName.set(k, (list = wanted.get(groupOf(g, i)) ?? null));
    } else list = byType[t];
    if (!list || a.distance[i] === -1) continue;
    if (fresh && !fresh[i]) continue;
    list.push(i);
  }
  // The path from each node, once: many objects of a group are held by one table or array.
  // Each distinct path is kept once, and the cache is a typed array (path number + 1 by node):
  // a Map of the 60,000 starting points of one group grew the JS heap by 30 MiB (objects that
  // live through collections make V8 grow its young generation), on a 169 MB file.
  const keys: string[] = [];
  const pathByKey = new Map<string, number>();
  const paths: string[][] = [];
  const scratch = new Uint32Array(g.nodeCount);
  const keyOf = (node: number): string => {
    const known = scratch[node]!;
    if (known !== 0) return keys[known - 1]!;
    const made = retainerPath(a, node);
    const key = made.join('\u0000');
    let id = pathByKey.get(key);
    if (id === undefined) {
      id = keys.length;
      keys.push(key);
      paths.push(made);
      pathByKey.set(key, id);
    }
    scratch[node] = id + 1;
    return key;
  };
  const out: GrowerRetainers[] = [];
  for (const name of names) {
    scratch.fill(0);
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
        const key = keyOf(from);
        if (seen.has(key)) continue;
        seen.add(key);
        let pg = groups.get(key);
        if (!pg) groups.set(key, (pg = { path: paths[pathByKey.get(key)!]!, count: 0, selfBytes: 0, retainedBytes: 0 }));
        pg.count += step;
        pg.selfBytes += g.selfSize[o]! * step;
        pg.retainedBytes += a.retainedSize[o]! * step;
      }
    }
    const top = [...groups.values()].sort((x, y) => y.count - x.count || y.retainedBytes - x.retainedBytes).slice(0, maxPaths);
    scratch.fill(0);
    out.push({ name, objects: objects.length, traced, paths: top, suspect: suspectFor(a, objects, step, scratch) });
  }
  return out;
}

/** The nearest object (not a root) on the dominator chains of at least half of `objects`. */
function suspectFor(a: HeapAnalysis, objects: number[], step: number, counts: Uint32Array): LeakSuspect | null {
  const g = a.graph;
  if (objects.length === 0) return null;
  // counts by node (all 0 on entry), and the nodes counted in the order first met
  const met: number[] = [];
  let traced = 0;
  for (let k = 0; k < objects.length; k += step) {
    traced++;
    let d = a.idom[objects[k]!]!;
    for (let hops = 0; d !== 0 && hops < 200; hops++) {
      if (counts[d]!++ === 0) met.push(d);
      d = a.idom[d]!;
    }
  }
  let best = -1;
  let bestDepth = -1;
  for (const node of met) {
    const c = counts[node]!;
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
    dominatesShare: counts[best]! / traced,
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
/**
 * Enough of the nodes a summary can list (reachable, not roots, not noise), largest retained
 * size first (then node order), for `top` of them none inside another: the largest few hundred
 * are kept in a heap as the nodes go by, and more are taken only when those run out. Sorting an
 * array of every node took 60 MiB on a 169 MB file.
 */
function largestFirst(a: HeapAnalysis, top: number): number[] {
  const g = a.graph;
  const rs = a.retainedSize;
  // x ranks before y
  const before = (x: number, y: number): boolean => rs[x]! > rs[y]! || (rs[x] === rs[y] && x < y);
  const synthetic = g.typeNames.indexOf('synthetic');
  for (let keep = Math.max(64, top * 16); ; keep *= 4) {
    // a heap whose root is the last-ranked of those kept
    const heap: number[] = [];
    let eligible = 0;
    for (let i = 1; i < g.nodeCount; i++) {
      if (a.distance[i] === -1 || g.nodeType[i] === synthetic || isNoise(g, i)) continue;
      eligible++;
      if (heap.length < keep) {
        heap.push(i);
        for (let c = heap.length - 1; c > 0; ) {
          const p = (c - 1) >> 1;
          if (!before(heap[p]!, heap[c]!)) break;
          [heap[p], heap[c]] = [heap[c]!, heap[p]!];
          c = p;
        }
      } else if (before(i, heap[0]!)) {
        heap[0] = i;
        for (let p = 0; ; ) {
          const l = 2 * p + 1;
          const r = l + 1;
          let last = p;
          if (l < heap.length && before(heap[last]!, heap[l]!)) last = l;
          if (r < heap.length && before(heap[last]!, heap[r]!)) last = r;
          if (last === p) break;
          [heap[p], heap[last]] = [heap[last]!, heap[p]!];
          p = last;
        }
      }
    }
    heap.sort((x, y) => (before(x, y) ? -1 : 1));
    if (heap.length === eligible || enoughApart(a, heap, top)) return heap;
  }
}

/** Whether `order` holds `top` nodes none of which is inside another (as largestRetainers takes them). */
function enoughApart(a: HeapAnalysis, order: number[], top: number): boolean {
  const listed = new Set<number>();
  for (const i of order) {
    if (listed.size >= top) return true;
    let inside = false;
    for (let d = a.idom[i]!, hops = 0; d !== 0 && hops < 1000 && !inside; d = a.idom[d]!, hops++) inside = listed.has(d);
    if (!inside) listed.add(i);
  }
  return listed.size >= top;
}

export function largestRetainers(a: HeapAnalysis, top: number): HeapRetainer[] {
  const g = a.graph;
  const order = largestFirst(a, top);
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
