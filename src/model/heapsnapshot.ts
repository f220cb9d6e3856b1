// A .heapsnapshot summarized by constructor, read as a stream: the files run to hundreds of MB
// and JSON.parse of one needs several times that in memory. Pure (chunks in, summary out); the
// command feeds it from fs.createReadStream.
//
// The format V8 writes (HeapSnapshotJSONSerializer), in this order:
//   {"snapshot":{"meta":{"node_fields":["type","name","id","self_size",...],
//                         "node_types":[["hidden","array","string","object",...],...], ...},
//                "node_count":N, ...},
//    "nodes":[ N x node_fields.length integers ],
//    "edges":[ ... ], "trace_function_infos":[...], "trace_tree":[...], "samples":[...],
//    "locations":[...],
//    "strings":[ "...", ... ]}
// A node's name is an index into `strings`, which comes last. So nodes are aggregated by
// (type, name index) as they stream by, and only the names that are needed are kept when
// `strings` goes past. The edges (the bulk of the file) are scanned and dropped.
//
// Grouping: an `object` node is grouped by its name, which V8 sets to the constructor name
// ("LeakyThing", "Object", "Array", "Map"); every other type is one group named after the type:
// "(closure)", "(string)", "(concatenated string)", "(array)", "(native)", "(code)", "(hidden)", ...
//
// SnapshotSections walks the sections for both readers (this summary, and the graph of
// heapgraph.ts): each is a SnapshotSink that receives the numbers and the strings it asks for.
//
// JsonScanner is a small byte-level JSON tokenizer that keeps its state between chunks, so a
// chunk may end anywhere: inside a number, a string, an escape or a multi-byte UTF-8 character.
// A generic streaming parser from npm builds a JS value per token and keeps a path for each;
// over the ~10^8 numbers of a large snapshot that is several times slower than this loop.

/** The most of one string nodetop keeps from a snapshot file (names; the rest is skipped). */
export const MAX_STRING_BYTES = 64 * 1024;

/** Backslashes right before `end` in `text`: an odd count escapes what follows. */
function countBackslashesBefore(text: string, end: number): number {
  let n = 0;
  while (end - n - 1 >= 0 && text[end - n - 1] === '\\') n++;
  return n;
}

export class SnapshotFormatError extends Error {
  override name = 'SnapshotFormatError';
}

export interface JsonHandler {
  openObject(): void;
  closeObject(): void;
  openArray(): void;
  closeArray(): void;
  key(k: string): void;
  number(n: number): void;
  /** At the start of a string value: true to receive its text, false to skip it cheaply. */
  wantString(): boolean;
  /** The text of a string value that was wanted. */
  string(s: string): void;
  /** The end of a string value that was not wanted. */
  skippedString(): void;
  literal(v: boolean | null): void;
  /** At the start of an object or array value: true to skip it whole, without events. */
  skipContainer(): boolean;
  /** The end of a skipped container. */
  skippedContainer(): void;
}

const enum St {
  Value, // a value is required (top level, after ':' or after ',' in an array)
  ValueOrClose, // just after '['
  KeyOrClose, // just after '{'
  Key, // after ',' in an object
  Colon,
  AfterValue,
  InString,
  InNumber,
  InLiteral,
  Skip, // inside a container the handler does not want: only brackets and strings are followed
  Done,
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

export class JsonScanner {
  private state: St = St.Value;
  /** true for an object, false for an array */
  private readonly stack: boolean[] = [];
  private offset = 0;
  // string in progress
  private strIsKey = false;
  private strWanted = false;
  private strEscaped = false;
  private strParts: Buffer[] = [];
  private strBytes = 0;
  private strHasEscape = false;
  // number in progress
  private numInt = 0;
  private numNeg = false;
  private numText: string | null = null;
  private numDigits = 0;
  // literal in progress
  private litText = '';
  // skipped container
  private skipDepth = 0;
  private skipInString = false;
  private skipEscaped = false;

  constructor(private readonly h: JsonHandler) {}

  /** Bytes consumed so far. */
  get position(): number {
    return this.offset;
  }

  private fail(why: string, at: number): never {
    throw new SnapshotFormatError(`${why} at byte ${at}`);
  }

  private unexpected(b: number, at: number): never {
    const c = b >= 0x20 && b < 0x7f ? JSON.stringify(String.fromCharCode(b)) : `byte 0x${b.toString(16).padStart(2, '0')}`;
    this.fail(`unexpected ${c}`, at);
  }

  write(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      const b = chunk[i]!;
      switch (this.state) {
        case St.InNumber: {
          if (b >= 0x30 && b <= 0x39) {
            if (this.numText === null) this.numInt = this.numInt * 10 + (b - 0x30);
            else this.numText += String.fromCharCode(b);
            this.numDigits++;
            i++;
            continue;
          }
          if (b === 0x2e || b === 0x65 || b === 0x45 || b === 0x2b || b === 0x2d) {
            // a fraction or an exponent: fall back to text, checked by Number() at the end
            this.numText ??= (this.numNeg ? '-' : '') + (this.numDigits > 0 ? String(this.numInt) : '');
            this.numText += String.fromCharCode(b);
            i++;
            continue;
          }
          this.endNumber(this.offset + i);
          continue; // the byte that ended the number is read again as what follows a value
        }
        case St.AfterValue: {
          if (b === 0x2c) {
            this.state = this.stack[this.stack.length - 1] ? St.Key : St.Value;
          } else if (b === 0x5d || b === 0x7d) {
            this.close(b, this.offset + i);
          } else if (!isSpace(b)) this.unexpected(b, this.offset + i);
          i++;
          continue;
        }
        case St.Value:
        case St.ValueOrClose: {
          if (isSpace(b)) {
            i++;
            continue;
          }
          if (b === 0x5d && this.state === St.ValueOrClose) {
            this.close(b, this.offset + i);
            i++;
            continue;
          }
          if ((b >= 0x30 && b <= 0x39) || b === 0x2d) {
            this.state = St.InNumber;
            this.numNeg = b === 0x2d;
            this.numInt = this.numNeg ? 0 : b - 0x30;
            this.numDigits = this.numNeg ? 0 : 1;
            this.numText = null;
            i++;
            continue;
          }
          if (b === QUOTE) {
            this.startString(false);
            i++;
            continue;
          }
          if ((b === 0x7b || b === 0x5b) && this.h.skipContainer()) {
            this.state = St.Skip;
            this.skipDepth = 1;
            this.skipInString = false;
            this.skipEscaped = false;
            i++;
            continue;
          }
          if (b === 0x7b) {
            this.stack.push(true);
            this.state = St.KeyOrClose;
            this.h.openObject();
            i++;
            continue;
          }
          if (b === 0x5b) {
            this.stack.push(false);
            this.state = St.ValueOrClose;
            this.h.openArray();
            i++;
            continue;
          }
          if (b === 0x74 || b === 0x66 || b === 0x6e) {
            this.state = St.InLiteral;
            this.litText = String.fromCharCode(b);
            i++;
            continue;
          }
          this.unexpected(b, this.offset + i);
          break;
        }
        case St.InString: {
          // scan to the closing quote, minding escapes (which may straddle chunks)
          const start = i;
          let end = -1;
          while (i < n) {
            const c = chunk[i]!;
            if (this.strEscaped) this.strEscaped = false;
            else if (c === BACKSLASH) {
              this.strEscaped = true;
              this.strHasEscape = true;
            } else if (c === QUOTE) {
              end = i;
              break;
            }
            i++;
          }
          if (end < 0) {
            if (this.strWanted) this.keepStringPart(chunk.subarray(start, n), true);
            continue;
          }
          if (this.strWanted) this.keepStringPart(chunk.subarray(start, end), false);
          i = end + 1;
          this.endString(this.offset + end);
          continue;
        }
        case St.KeyOrClose:
        case St.Key: {
          if (isSpace(b)) {
            i++;
            continue;
          }
          if (b === 0x7d && this.state === St.KeyOrClose) {
            this.close(b, this.offset + i);
            i++;
            continue;
          }
          if (b !== QUOTE) this.unexpected(b, this.offset + i);
          this.startString(true);
          i++;
          continue;
        }
        case St.Colon: {
          if (b === 0x3a) this.state = St.Value;
          else if (!isSpace(b)) this.unexpected(b, this.offset + i);
          i++;
          continue;
        }
        case St.InLiteral: {
          if (b >= 0x61 && b <= 0x7a) {
            this.litText += String.fromCharCode(b);
            if (this.litText.length > 5) this.fail('a bad literal', this.offset + i);
            i++;
            continue;
          }
          const t = this.litText;
          if (t === 'true') this.h.literal(true);
          else if (t === 'false') this.h.literal(false);
          else if (t === 'null') this.h.literal(null);
          else this.fail(`a bad literal ${JSON.stringify(t)}`, this.offset + i);
          this.afterValue();
          continue;
        }
        case St.Skip: {
          // the hot loop for the edges, the bulk of a snapshot: no events, no validation
          let depth = this.skipDepth;
          let inStr = this.skipInString;
          let esc = this.skipEscaped;
          while (i < n) {
            const c = chunk[i]!;
            i++;
            if (inStr) {
              if (esc) esc = false;
              else if (c === BACKSLASH) esc = true;
              else if (c === QUOTE) inStr = false;
            } else if (c === QUOTE) inStr = true;
            else if (c === 0x5b || c === 0x7b) depth++;
            else if ((c === 0x5d || c === 0x7d) && --depth === 0) break;
          }
          this.skipDepth = depth;
          this.skipInString = inStr;
          this.skipEscaped = esc;
          if (depth === 0) {
            this.h.skippedContainer();
            this.afterValue();
          }
          continue;
        }
        case St.Done: {
          if (!isSpace(b)) this.fail('more data after the end of the JSON', this.offset + i);
          i++;
          continue;
        }
      }
    }
    this.offset += n;
  }

  /** The input is complete: throws when it stopped in the middle of the JSON. */
  end(): void {
    if (this.state === St.InNumber && this.stack.length === 0) this.endNumber(this.offset);
    if (this.state !== St.Done) {
      throw new SnapshotFormatError(this.offset === 0 ? 'the file is empty' : `the file ends in the middle of the JSON, at byte ${this.offset} (truncated?)`);
    }
  }

  private afterValue(): void {
    this.state = this.stack.length === 0 ? St.Done : St.AfterValue;
  }

  private close(b: number, at: number): void {
    const isObj = this.stack.pop();
    if (isObj === undefined || isObj !== (b === 0x7d)) this.unexpected(b, at);
    if (isObj) this.h.closeObject();
    else this.h.closeArray();
    this.afterValue();
  }

  private endNumber(at: number): void {
    let v: number;
    if (this.numText === null) {
      if (this.numDigits === 0) this.fail('a bad number', at);
      v = this.numNeg ? -this.numInt : this.numInt;
    } else {
      if (!/^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(this.numText)) this.fail(`a bad number ${JSON.stringify(this.numText)}`, at);
      v = Number(this.numText);
    }
    this.h.number(v);
    this.afterValue();
  }

  private startString(isKey: boolean): void {
    this.state = St.InString;
    this.strIsKey = isKey;
    this.strWanted = isKey || this.h.wantString();
    this.strEscaped = false;
    this.strHasEscape = false;
    this.strParts = [];
    this.strBytes = 0;
  }

  /**
   * Keeps a wanted string's bytes up to MAX_STRING_BYTES: a file's string (a constructor name)
   * can be any length, and a 600 MB one made nodetop allocate it twice and fail past V8's string
   * limit. The rest is skipped; the string ends in "…".
   */
  private keepStringPart(part: Buffer, copy: boolean): void {
    const room = MAX_STRING_BYTES + 1 - this.strBytes;
    if (room <= 0) return;
    const kept = part.length > room ? part.subarray(0, room) : part;
    this.strParts.push(copy || kept !== part ? Buffer.from(kept) : kept);
    this.strBytes += kept.length;
  }

  private endString(at: number): void {
    if (!this.strWanted) {
      this.h.skippedString();
      this.afterValue();
      return;
    }
    let raw = this.strParts.length === 1 ? this.strParts[0]!.toString('utf8') : Buffer.concat(this.strParts).toString('utf8');
    const cut = this.strBytes > MAX_STRING_BYTES;
    this.strParts = [];
    this.strBytes = 0;
    // a cut string may end inside an escape (\ or \u12): drop that tail before decoding
    if (cut) raw = raw.replace(/\\(u[0-9a-fA-F]{0,3})?$/, (m, _u, off: number) => (countBackslashesBefore(raw, off) % 2 === 0 ? '' : m));
    let s = raw;
    if (this.strHasEscape) {
      try {
        s = JSON.parse(`"${raw}"`) as string;
      } catch {
        this.fail('a bad string escape', at);
      }
    }
    if (cut) s += '…';
    if (this.strIsKey) {
      this.h.key(s);
      this.state = St.Colon;
    } else {
      this.h.string(s);
      this.afterValue();
    }
  }
}

// ---------------------------------------------------------------------------------------------

export interface HeapGroup {
  /** the constructor name for objects, "(type)" for every other node type */
  name: string;
  /** V8's node type: object, closure, string, array, native, code, hidden, ... */
  type: string;
  count: number;
  selfSizeBytes: number;
}

export interface HeapSummary {
  nodes: number;
  selfSizeBytes: number;
  groups: HeapGroup[];
  /** every node's id and fingerprint (idWithFingerprint), sorted by id; only when asked for */
  ids?: Float64Array;
}

// V8 keeps an object's id from one snapshot to the next only while its heap profiler keeps its
// id map: an inspector session that ends clears it (V8HeapProfilerAgentImpl::disable), so two
// snapshots taken by two nodetop runs may number the same objects differently. A fingerprint
// of each node (type and self size) beside its id lets a reader check whether ids still name
// the same objects. Packed in one double: id * 2^20 + 20 bits of fingerprint (ids are < 2^32).
const FP_BITS = 2 ** 20;

export function idWithFingerprint(id: number, type: number, size: number): number {
  return id * FP_BITS + ((Math.imul(type + 1, 0x9e3779b1) ^ size) >>> 0) % FP_BITS;
}

/** The fingerprint of node `id` in `sorted` (a HeapSummary's ids), or -1 when it has none. */
export function fingerprintOf(sorted: Float64Array, id: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = sorted[mid]!;
    const vid = Math.floor(v / FP_BITS);
    if (vid === id) return v - vid * FP_BITS;
    if (vid < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

export function fingerprint(type: number, size: number): number {
  return idWithFingerprint(0, type, size);
}

interface Meta {
  stride: number;
  typeOff: number;
  nameOff: number;
  idOff: number;
  sizeOff: number;
  typeNames: string[];
  objectType: number;
  nodeCount: number | null;
}

/** Builds one small JSON value (`snapshot`, with its meta) from scanner events. */
export class ValueBuilder {
  private readonly stack: Array<{ v: Record<string, unknown> | unknown[]; k: string | null }> = [];
  /** The finished value, once its last container closed. */
  value: unknown = undefined;

  open(isObject: boolean): void {
    const v: Record<string, unknown> | unknown[] = isObject ? {} : [];
    if (this.stack.length > 0) this.add(v);
    this.stack.push({ v, k: null });
  }

  /** true when the outermost container closed: `value` holds it. */
  close(): boolean {
    const done = this.stack.pop();
    if (this.stack.length > 0) return false;
    this.value = done?.v;
    return true;
  }

  key(k: string): void {
    this.stack[this.stack.length - 1]!.k = k;
  }

  add(v: unknown): void {
    const top = this.stack[this.stack.length - 1];
    if (!top) throw new SnapshotFormatError('"snapshot" is not an object');
    if (Array.isArray(top.v)) top.v.push(v);
    else if (top.k !== null) top.v[top.k] = v;
  }
}

/**
 * What one reader of a snapshot does with its sections, as SnapshotSections hands them over:
 * the numbers of "nodes" (and of "edges" and "locations" when it reads them) one at a time, and
 * the strings it asks for by their index. Shared by the summary and the graph, so that the
 * format's checks (order, nesting, what a section may hold) are written once.
 */
export interface SnapshotSink {
  /** snapshot.meta and the counts, once "snapshot" is complete */
  meta(snapshot: unknown): void;
  nodesStart(): void;
  node(v: number): void;
  nodesEnd(): void;
  edge(v: number): void;
  edgesEnd(): void;
  location(v: number): void;
  /** At string number `index` of "strings": true to receive its text, false to skip it cheaply. */
  wantString(index: number): boolean;
  string(index: number, s: string): void;
  /** "strings" ended after `count` strings */
  stringsEnd(count: number): void;
}

type Section = 'none' | 'snapshot' | 'nodes' | 'edges' | 'locations' | 'strings' | 'other';
type DataSection = 'nodes' | 'edges' | 'locations' | 'strings';

/**
 * A JsonHandler for a snapshot's top-level sections: builds "snapshot" (the meta) as a value,
 * streams the arrays to a SnapshotSink, and skips the rest unread (edges and locations too when
 * the sink does not read them: the scanner's fastest path).
 */
export class SnapshotSections implements JsonHandler {
  private depth = 0;
  private section: Section = 'none';
  private readonly seen = new Set<string>();
  private readonly build = new ValueBuilder();
  private hasMeta = false;
  private stringIndex = 0;
  private readonly done = new Set<DataSection>();

  constructor(
    private readonly sink: SnapshotSink,
    private readonly reads: { edges: boolean; locations: boolean },
  ) {}

  private isData(): boolean {
    const s = this.section;
    return s === 'nodes' || s === 'edges' || s === 'locations' || s === 'strings';
  }

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
    if (this.depth === 2 && this.isData()) {
      if (isObject) throw new SnapshotFormatError(`"${this.section}" is not an array`);
      if (this.section !== 'strings' && !this.hasMeta) throw new SnapshotFormatError(`"${this.section}" comes before snapshot.meta`);
      if (this.section === 'nodes') this.sink.nodesStart();
      return;
    }
    if (this.depth > 2 && this.isData()) throw new SnapshotFormatError(`"${this.section}" holds nested values`);
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
        this.sink.meta(this.build.value);
        this.hasMeta = true;
        this.section = 'none';
      }
    } else if (this.depth === 2) {
      const s = this.section;
      if (s === 'nodes') this.sink.nodesEnd();
      else if (s === 'edges') this.sink.edgesEnd();
      else if (s === 'strings') this.sink.stringsEnd(this.stringIndex);
      if (this.isData()) this.done.add(s as DataSection);
      this.section = 'none';
    }
    this.depth--;
  }

  key(k: string): void {
    if (this.section === 'snapshot') return this.build.key(k);
    if (this.depth !== 1) return;
    if (this.seen.has(k)) throw new SnapshotFormatError(`it has "${k}" twice`);
    this.seen.add(k);
    this.section =
      k === 'snapshot' || k === 'nodes' || k === 'strings' ? k : k === 'edges' && this.reads.edges ? 'edges' : k === 'locations' && this.reads.locations ? 'locations' : 'other';
  }

  number(v: number): void {
    if (this.depth === 2) {
      switch (this.section) {
        case 'nodes':
          return this.sink.node(v);
        case 'edges':
          return this.sink.edge(v);
        case 'locations':
          return this.sink.location(v);
        case 'strings':
          throw new SnapshotFormatError('"strings" holds a number');
        default:
      }
    }
    if (this.section === 'snapshot') return this.build.add(v);
    this.topLevelScalar();
  }

  wantString(): boolean {
    if (this.section === 'snapshot') return true;
    if (this.depth === 2 && this.section === 'strings') return this.sink.wantString(this.stringIndex);
    if (this.depth === 2 && this.isData()) throw new SnapshotFormatError(`"${this.section}" holds a string`);
    return false;
  }

  string(s: string): void {
    if (this.section === 'snapshot') return this.build.add(s);
    if (this.depth === 2 && this.section === 'strings') return this.sink.string(this.stringIndex++, s);
    this.topLevelScalar();
  }

  skippedString(): void {
    if (this.depth === 2 && this.section === 'strings') this.stringIndex++;
    else this.topLevelScalar();
  }

  literal(v: boolean | null): void {
    if (this.section === 'snapshot') return this.build.add(v);
    if (this.depth === 2 && this.isData()) throw new SnapshotFormatError(`"${this.section}" holds a ${String(v)}`);
    this.topLevelScalar();
  }

  skipContainer(): boolean {
    // the values of the top-level keys no one reads: trace_function_infos, samples, ...
    return this.depth === 1 && this.section === 'other';
  }

  skippedContainer(): void {
    this.section = 'none';
  }

  private topLevelScalar(): void {
    if (this.depth === 0) throw new SnapshotFormatError('it is not a JSON object');
    if (this.depth === 1) this.section = 'none';
  }

  /** The whole file went through: throws when a section the sink needs was missing. */
  finish(): void {
    if (!this.hasMeta) throw new SnapshotFormatError('it has no snapshot.meta');
    const needed: DataSection[] = this.reads.edges ? ['nodes', 'edges', 'strings'] : ['nodes', 'strings'];
    for (const k of needed) if (!this.done.has(k)) throw new SnapshotFormatError(`it has no "${k}"`);
  }
}

/** A SnapshotSink that aggregates a heap snapshot by constructor as it streams by. */
export class HeapSnapshotAggregator implements SnapshotSink {
  constructor(private readonly wantIds = false) {}

  private meta_: Meta | null = null;
  // nodes
  private field = 0;
  private curType = 0;
  private curName = 0;
  private curSize = 0;
  private nodeCount = 0;
  private totalSize = 0;
  private readonly objects = new Map<number, { count: number; size: number }>();
  private byTypeCount: number[] = [];
  private byTypeSize: number[] = [];
  private nodesDone = false;
  /** Node ids with a fingerprint of each node (idWithFingerprint), when asked for. */
  private ids: Float64Array | null = null;
  private curId = 0;
  // strings
  private readonly names = new Map<number, string>();

  meta(snapshot: unknown): void {
    this.meta_ = readMeta(snapshot);
  }

  nodesStart(): void {
    const t = this.meta_!.typeNames.length;
    if (this.wantIds) this.ids = new Float64Array(this.meta_!.nodeCount ?? 1024);
    this.byTypeCount = new Array<number>(t).fill(0);
    this.byTypeSize = new Array<number>(t).fill(0);
  }

  node(v: number): void {
    const m = this.meta_!;
    const f = this.field;
    if (f === m.typeOff) this.curType = v;
    else if (f === m.nameOff) this.curName = v;
    else if (f === m.sizeOff) this.curSize = v;
    else if (f === m.idOff) this.curId = v;
    if (++this.field === m.stride) {
      this.field = 0;
      this.addNode();
    }
  }

  nodesEnd(): void {
    if (this.field !== 0) throw new SnapshotFormatError('"nodes" does not hold whole nodes');
    if (this.meta_!.nodeCount !== null && this.meta_!.nodeCount !== this.nodeCount) {
      throw new SnapshotFormatError(`it declares ${this.meta_!.nodeCount} nodes and holds ${this.nodeCount}`);
    }
    this.nodesDone = true;
  }

  edge(): void {}
  edgesEnd(): void {}
  location(): void {}

  wantString(index: number): boolean {
    // strings before nodes (not what V8 writes): keep them all
    return !this.nodesDone || this.objects.has(index);
  }

  string(index: number, s: string): void {
    this.names.set(index, s);
  }

  stringsEnd(): void {}

  private addNode(): void {
    if (this.ids) {
      if (this.nodeCount >= this.ids.length) {
        const more = new Float64Array(Math.max(1024, this.ids.length * 2));
        more.set(this.ids);
        this.ids = more;
      }
      this.ids[this.nodeCount] = idWithFingerprint(this.curId, this.curType, this.curSize);
    }
    this.nodeCount++;
    const size = this.curSize;
    this.totalSize += size;
    const type = this.curType;
    if (type === this.meta_!.objectType) {
      const g = this.objects.get(this.curName);
      if (g) {
        g.count++;
        g.size += size;
      } else this.objects.set(this.curName, { count: 1, size });
    } else if (type >= 0 && type < this.byTypeCount.length) {
      this.byTypeCount[type]!++;
      this.byTypeSize[type]! += size;
    } else {
      throw new SnapshotFormatError(`node ${this.nodeCount - 1} has type ${type}, which meta does not list`);
    }
  }

  /** The summary, once the whole file went through SnapshotSections (and its finish()). */
  result(): HeapSummary {
    const meta = this.meta_!;
    // two string indices may hold the same text: group by the text
    const byName = new Map<string, HeapGroup>();
    for (const [nameIdx, g] of this.objects) {
      const text = this.names.get(nameIdx);
      if (text === undefined) throw new SnapshotFormatError(`a node's name ${nameIdx} is not in "strings"`);
      const name = text === '' ? '(no name)' : text;
      const have = byName.get(name);
      if (have) {
        have.count += g.count;
        have.selfSizeBytes += g.size;
      } else byName.set(name, { name, type: 'object', count: g.count, selfSizeBytes: g.size });
    }
    const groups: HeapGroup[] = [...byName.values()];
    for (let t = 0; t < this.byTypeCount.length; t++) {
      const count = this.byTypeCount[t]!;
      if (count === 0) continue;
      const type = meta.typeNames[t]!;
      groups.push({ name: `(${type})`, type, count, selfSizeBytes: this.byTypeSize[t]! });
    }
    sortGroups(groups);
    // sorted in place when "nodes" held the count it declared (no copy of 8 bytes a node)
    const ids = this.ids ? (this.ids.length === this.nodeCount ? this.ids : this.ids.slice(0, this.nodeCount)).sort() : undefined;
    this.ids = null;
    return { nodes: this.nodeCount, selfSizeBytes: this.totalSize, groups, ...(ids ? { ids } : {}) };
  }
}

/** Largest self size first, then count, then name: the order of both summaries. */
export function sortGroups(groups: HeapGroup[]): void {
  groups.sort((a, b) => b.selfSizeBytes - a.selfSizeBytes || b.count - a.count || a.name.localeCompare(b.name));
}

function readMeta(snapshot: unknown): Meta {
  const s = snapshot as { meta?: { node_fields?: unknown; node_types?: unknown }; node_count?: unknown } | null;
  const m = s && typeof s === 'object' ? s.meta : undefined;
  if (!m || !Array.isArray(m.node_fields) || !Array.isArray(m.node_types)) {
    throw new SnapshotFormatError('snapshot.meta has no node_fields or node_types');
  }
  const fields = m.node_fields as unknown[];
  const typeOff = fields.indexOf('type');
  const nameOff = fields.indexOf('name');
  const sizeOff = fields.indexOf('self_size');
  const idOff = fields.indexOf('id');
  if (typeOff < 0 || nameOff < 0 || sizeOff < 0) throw new SnapshotFormatError('snapshot.meta.node_fields lacks type, name or self_size');
  const typeNames = (m.node_types as unknown[])[typeOff];
  if (!Array.isArray(typeNames) || !typeNames.every((t) => typeof t === 'string')) {
    throw new SnapshotFormatError('snapshot.meta.node_types does not list the node types');
  }
  const objectType = typeNames.indexOf('object');
  return {
    stride: fields.length,
    typeOff,
    nameOff,
    idOff,
    sizeOff,
    typeNames: typeNames as string[],
    objectType,
    nodeCount: typeof s!.node_count === 'number' ? s!.node_count : null,
  };
}

/** A streaming summarizer: write() chunks in any sizes, then end(). */
export class HeapSnapshotSummarizer {
  private readonly agg: HeapSnapshotAggregator;
  private readonly sections: SnapshotSections;
  private readonly scanner: JsonScanner;

  /** wantIds: also keep every node's id, to tell which objects of a later snapshot are new. */
  constructor(wantIds = false) {
    this.agg = new HeapSnapshotAggregator(wantIds);
    this.sections = new SnapshotSections(this.agg, { edges: false, locations: false });
    this.scanner = new JsonScanner(this.sections);
  }

  write(chunk: Buffer): void {
    this.scanner.write(chunk);
  }

  get bytesRead(): number {
    return this.scanner.position;
  }

  end(): HeapSummary {
    this.scanner.end();
    this.sections.finish();
    return this.agg.result();
  }
}

/** Summarizes a whole snapshot held in memory (tests, small files). */
export function summarizeHeapSnapshot(data: Buffer): HeapSummary {
  const s = new HeapSnapshotSummarizer();
  s.write(data);
  return s.end();
}

// ---------------------------------------------------------------------------------------------

export interface HeapDiffRow {
  name: string;
  type: string;
  countA: number;
  countB: number;
  countDelta: number;
  sizeBytesA: number;
  sizeBytesB: number;
  sizeDeltaBytes: number;
}

/** b - a per group, largest size growth first (then count growth, then name). */
export function diffHeapSummaries(a: HeapSummary, b: HeapSummary): HeapDiffRow[] {
  const rows = new Map<string, HeapDiffRow>();
  const row = (g: HeapGroup): HeapDiffRow => {
    const k = `${g.type}\u0000${g.name}`;
    let r = rows.get(k);
    if (!r) rows.set(k, (r = { name: g.name, type: g.type, countA: 0, countB: 0, countDelta: 0, sizeBytesA: 0, sizeBytesB: 0, sizeDeltaBytes: 0 }));
    return r;
  };
  for (const g of a.groups) {
    const r = row(g);
    r.countA = g.count;
    r.sizeBytesA = g.selfSizeBytes;
  }
  for (const g of b.groups) {
    const r = row(g);
    r.countB = g.count;
    r.sizeBytesB = g.selfSizeBytes;
  }
  const out = [...rows.values()];
  for (const r of out) {
    r.countDelta = r.countB - r.countA;
    r.sizeDeltaBytes = r.sizeBytesB - r.sizeBytesA;
  }
  out.sort((x, y) => y.sizeDeltaBytes - x.sizeDeltaBytes || y.countDelta - x.countDelta || x.name.localeCompare(y.name));
  return out;
}
