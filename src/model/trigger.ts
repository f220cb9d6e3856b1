// The condition language of `nodetop watch --when` (docs/commands.md, "Triggers"). Pure: a
// condition is parsed once into a tree, then fed one Sample at a time; it keeps the state its
// windows need ("for 30s", "grows > 50MB/min for 5m") and says whether it holds now and with
// which readings.
//
//   cond   := term ("or" term)*
//   term   := factor ("and" factor)*
//   factor := primary ["for" DURATION]
//   primary:= "(" cond ")" | FIELD ["grows"] OP VALUE ["of" "limit"]
//
// "for" binds to the comparison (or parenthesised group) just before it. A reading that is
// missing (null) makes its comparison false: unknown is not "over the threshold".

import { socketCount, type Sample, type WorkerRow } from './sample';

/** A parse error: the 1-based position in the text and one sentence. */
export class ConditionError extends Error {
  constructor(
    readonly position: number,
    readonly reason: string,
  ) {
    super(`at position ${position}, ${reason}`);
  }
}

export type FieldKind = 'bytes' | 'ms' | 'percent' | 'ratio' | 'count';

/** One value of a field in one sample: the main thread's, or one worker's. */
export interface Reading {
  value: number;
  limit: number | null;
  threadId: number | null;
}

interface FieldDef {
  kind: FieldKind;
  /** Has a limit, so "N% of limit" means something. */
  limited: boolean;
  read(s: Sample): Reading[];
}

type Op = '>' | '>=' | '<' | '<=' | '==' | '!=';

export type Node =
  | { type: 'cmp'; text: string; field: string; def: FieldDef; grows: boolean; op: Op; threshold: number; ofLimit: boolean; windowMs: number | null }
  | { type: 'and' | 'or'; left: Node; right: Node }
  | { type: 'for'; inner: Node; ms: number; text: string };

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};
const TIME_UNITS: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

const one = (value: number | null | undefined, limit: number | null = null): Reading[] =>
  typeof value === 'number' && Number.isFinite(value) ? [{ value, limit: typeof limit === 'number' && limit > 0 ? limit : null, threadId: null }] : [];

/**
 * A loop stuck when the sample was taken has been stuck at least `blocked.forMs`: that is the
 * lag of whatever waits for it. The histogram cannot say so (it records only turns the loop
 * completed: during a 60 s block watch read the same 7.8 ms p99 every second, or none), so the
 * stall stands for the lag when it is longer.
 */
function lagOf(el: Sample['eventLoop'] | WorkerRow['eventLoop'], p: 'p50' | 'p90' | 'p99' | 'max' | 'mean' | 'min'): number | null {
  const lag = el.lagMs ? el.lagMs[p] : null;
  const stall = el.blocked ? el.blocked.forMs : null;
  if (lag === null || stall === null) return lag ?? stall;
  return Math.max(lag, stall);
}

const LAG_KEYS = ['p50', 'p90', 'p99', 'max', 'mean', 'min'] as const;

function mainField(name: string): FieldDef | null {
  const f = (kind: FieldKind, read: (s: Sample) => Reading[], limited = false): FieldDef => ({ kind, read, limited });
  switch (name) {
    case 'heap.used':
      return f('bytes', (s) => one(s.memory.heapUsedBytes, s.memory.heapLimitBytes), true);
    case 'heap.total':
      return f('bytes', (s) => one(s.memory.heapTotalBytes, s.memory.heapLimitBytes), true);
    case 'heap.limit':
      return f('bytes', (s) => one(s.memory.heapLimitBytes));
    case 'rss':
      return f('bytes', (s) => one(s.process.rssBytes));
    case 'external':
      return f('bytes', (s) => one(s.memory.externalBytes));
    case 'arraybuffers':
      return f('bytes', (s) => one(s.memory.arrayBuffersBytes));
    case 'cpu':
      return f('percent', (s) => one(s.process.cpuPercent));
    case 'elu':
    case 'utilization':
      return f('ratio', (s) => one(s.eventLoop.utilization));
    case 'blocked':
      // not blocked is a stall of 0 ms, as long as the sample could tell (it always can)
      return f('ms', (s) => one(s.eventLoop.blocked ? s.eventLoop.blocked.forMs : 0));
    case 'gc.pause':
      return f('ms', (s) => one(s.gc?.pauseMs));
    case 'gc.count':
      return f('count', (s) => one(s.gc?.count));
    case 'handles':
      return f('count', (s) => one(s.handles?.total));
    case 'requests':
      return f('count', (s) => one(s.requests?.total));
    case 'sockets':
      return f('count', (s) => one(socketCount(s)));
    case 'fds':
      return f('count', (s) => one(s.process.fds.open, s.process.fds.limit), true);
    case 'threads':
      return f('count', (s) => one(s.process.threads));
  }
  const lag = /^lag\.(p50|p90|p99|max|mean|min)$/.exec(name);
  if (lag) return f('ms', (s) => one(lagOf(s.eventLoop, lag[1] as (typeof LAG_KEYS)[number])));
  const gc = /^gc\.([A-Za-z]+)\.(pause|count)$/.exec(name);
  if (gc) return f(gc[2] === 'pause' ? 'ms' : 'count', (s) => one(s.gc ? (gc[2] === 'pause' ? (s.gc.byKind[gc[1]!]?.pauseMs ?? 0) : (s.gc.byKind[gc[1]!]?.count ?? 0)) : null));
  const h = /^(handles|requests)\.([A-Za-z0-9_]+)$/.exec(name);
  if (h) {
    return f('count', (s) => {
      const rec = h[1] === 'handles' ? s.handles : s.requests;
      return rec ? one(rec.byType[h[2]!] ?? 0) : [];
    });
  }
  return null;
}

/** A worker's reading: `worker.X` is every running worker's, `worker[N].X` that thread's. */
function workerField(name: string): FieldDef | null {
  const m = /^worker(?:\[(\d+)\])?\.(.+)$/.exec(name);
  if (!m) return null;
  const only = m[1] === undefined ? null : Number(m[1]);
  const pick = (kind: FieldKind, get: (w: WorkerRow) => number | null | undefined, limit: ((w: WorkerRow) => number | null) | null = null): FieldDef => ({
    kind,
    limited: limit !== null,
    read: (s) =>
      (s.workers ?? [])
        .filter((w) => w.state === 'running' && (only === null || w.threadId === only))
        .flatMap((w) => one(get(w), limit ? limit(w) : null).map((r) => ({ ...r, threadId: w.threadId }))),
  });
  const sub = m[2]!;
  switch (sub) {
    case 'heap.used':
      return pick('bytes', (w) => w.heapUsedBytes, (w) => w.heapLimitBytes);
    case 'heap.total':
      return pick('bytes', (w) => w.heapTotalBytes, (w) => w.heapLimitBytes);
    case 'external':
      return pick('bytes', (w) => w.externalBytes);
    case 'elu':
    case 'utilization':
      return pick('ratio', (w) => w.eventLoop.utilization);
    case 'handles':
      return pick('count', (w) => w.handles?.total);
    case 'gc.pause':
      return pick('ms', (w) => w.gc?.pauseMs);
  }
  const lag = /^lag\.(p50|p90|p99|max|mean|min)$/.exec(sub);
  if (lag) return pick('ms', (w) => lagOf(w.eventLoop, lag[1] as (typeof LAG_KEYS)[number]));
  return null;
}

/** The field names the docs list (a worker's: `worker.` or `worker[N].` before its own). */
export const FIELD_NAMES = [
  'heap.used',
  'heap.total',
  'heap.limit',
  'rss',
  'external',
  'arraybuffers',
  'cpu',
  ...LAG_KEYS.map((k) => `lag.${k}`),
  'elu',
  'utilization',
  'blocked',
  'gc.pause',
  'gc.count',
  'gc.<kind>.pause',
  'gc.<kind>.count',
  'handles',
  'handles.<Type>',
  'requests',
  'requests.<Type>',
  'sockets',
  'fds',
  'threads',
  'worker.heap.used',
  'worker.heap.total',
  'worker.external',
  'worker.elu',
  'worker.handles',
  'worker.gc.pause',
  'worker.lag.p99',
];

export function fieldDef(name: string): FieldDef | null {
  return mainField(name) ?? workerField(name);
}

/** Whether a condition reads worker rows (the sampler must read workers then). */
export function readsWorkers(n: Node): boolean {
  if (n.type === 'cmp') return n.field.startsWith('worker');
  if (n.type === 'for') return readsWorkers(n.inner);
  return readsWorkers(n.left) || readsWorkers(n.right);
}

// ---- tokens

type Tok =
  | { t: 'word'; v: string; pos: number; end: number }
  | { t: 'num'; v: number; unit: string; per: string; pos: number; end: number; raw: string }
  | { t: 'op'; v: Op; pos: number; end: number }
  | { t: '(' | ')'; pos: number; end: number }
  | { t: 'end'; pos: number; end: number };

const KNOWN_UNITS = [...Object.keys(SIZE_UNITS), ...Object.keys(TIME_UNITS), '%'];

function tokenize(text: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const at = (): number => i + 1;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === '(' || c === ')') {
      toks.push({ t: c, pos: at(), end: at() });
      i++;
      continue;
    }
    const op = /^(>=|<=|==|!=|>|<|=)/.exec(text.slice(i));
    if (op) {
      i += op[1]!.length;
      toks.push({ t: 'op', v: op[1] === '=' ? '==' : (op[1] as Op), pos: start + 1, end: i });
      continue;
    }
    const num = /^(\d+(?:\.\d+)?|\.\d+)/.exec(text.slice(i));
    if (num) {
      i += num[1]!.length;
      // a unit right after the number, or after spaces: "200ms", "85 %", "1.5 GiB"
      let unit = '';
      const rest = /^\s*([A-Za-z]+|%)/.exec(text.slice(i));
      if (rest && KNOWN_UNITS.includes(rest[1]!.toLowerCase())) {
        unit = rest[1]!.toLowerCase();
        i += rest[0].length;
      }
      let per = '';
      const rate = /^\/([A-Za-z]+)/.exec(text.slice(i));
      if (rate) {
        per = rate[1]!.toLowerCase();
        i += rate[0].length;
      }
      toks.push({ t: 'num', v: Number(num[1]), unit, per, pos: start + 1, end: i, raw: text.slice(start, i) });
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])?(?:\.[A-Za-z0-9_]+)*/.exec(text.slice(i));
    if (word) {
      i += word[0].length;
      toks.push({ t: 'word', v: word[0], pos: start + 1, end: i });
      continue;
    }
    throw new ConditionError(start + 1, `expected a field, a number, an operator or a parenthesis, found ${JSON.stringify(c)}`);
  }
  toks.push({ t: 'end', pos: text.length + 1, end: text.length + 1 });
  return toks;
}

function describe(t: Tok): string {
  switch (t.t) {
    case 'end':
      return 'the end of the condition';
    case 'word':
      return JSON.stringify(t.v);
    case 'num':
      return JSON.stringify(t.raw);
    case 'op':
      return JSON.stringify(t.v);
    default:
      return JSON.stringify(t.t);
  }
}

/** "30s", "5m", "1.5h", "500ms" -> ms; null when the token is not a duration. */
function durationOf(t: Tok): number | null {
  if (t.t !== 'num' || t.per || !(t.unit in TIME_UNITS)) return null;
  return t.v * TIME_UNITS[t.unit]!;
}

const KIND_EXAMPLE: Record<FieldKind, string> = {
  bytes: 'a size such as 512MB or 1.5GiB',
  ms: 'a duration such as 200ms or 2s',
  percent: 'a percentage such as 80%',
  ratio: 'a share such as 0.9 or 90%',
  count: 'a whole number such as 100',
};

// ---- parser

export function parseCondition(text: string): Node {
  const toks = tokenize(text);
  let k = 0;
  const peek = (): Tok => toks[k]!;
  const next = (): Tok => toks[k++]!;
  const isWord = (t: Tok, w: string): boolean => t.t === 'word' && t.v.toLowerCase() === w;
  const fail = (t: Tok, what: string): never => {
    throw new ConditionError(t.pos, `expected ${what}, found ${describe(t)}`);
  };

  const cond = (): Node => {
    let left = term();
    while (isWord(peek(), 'or')) {
      next();
      left = { type: 'or', left, right: term() };
    }
    return left;
  };
  const term = (): Node => {
    let left = factor();
    while (isWord(peek(), 'and')) {
      next();
      left = { type: 'and', left, right: factor() };
    }
    return left;
  };
  const factor = (): Node => {
    const startTok = peek();
    const p = primary();
    if (!isWord(peek(), 'for')) return p;
    next();
    const d = peek();
    const ms = durationOf(d);
    if (ms === null || ms <= 0) fail(d, 'a duration such as 30s, 5m or 1h after "for"');
    next();
    // a growth rate's "for" is the window it is measured over
    if (p.type === 'cmp' && p.grows && startTok.t === 'word') return { ...p, windowMs: ms, text: text.slice(startTok.pos - 1, d.end) };
    return { type: 'for', inner: p, ms: ms!, text: text.slice(startTok.pos - 1, d.end) };
  };
  const primary = (): Node => {
    const t = peek();
    if (t.t === '(') {
      next();
      const inner = cond();
      if (peek().t !== ')') fail(peek(), '")" or "and"/"or"');
      next();
      return inner;
    }
    return comparison();
  };
  const comparison = (): Node => {
    const ft = next();
    if (ft.t !== 'word' || ['and', 'or', 'for', 'of', 'limit', 'grows'].includes(ft.v.toLowerCase())) {
      return fail(ft, 'a field such as heap.used, rss, cpu, lag.p99, elu or fds');
    }
    const field = ft.v;
    const def = fieldDef(field);
    if (!def) throw new ConditionError(ft.pos, `${JSON.stringify(field)} is not a field; the fields are ${FIELD_NAMES.join(', ')}`);
    let grows = false;
    if (isWord(peek(), 'grows')) {
      grows = true;
      next();
    }
    const ot = next();
    if (ot.t !== 'op') return fail(ot, `a comparison (>, >=, <, <=, ==, !=) after ${grows ? '"grows"' : JSON.stringify(field)}`);
    const vt = next();
    if (vt.t !== 'num') return fail(vt, `${KIND_EXAMPLE[def.kind]} after ${JSON.stringify(ot.v)}`);
    let ofLimit = false;
    if (isWord(peek(), 'of')) {
      const of = next();
      if (!isWord(peek(), 'limit')) fail(peek(), '"limit" after "of"');
      next();
      if (vt.unit !== '%') throw new ConditionError(of.pos, `"of limit" goes after a percentage such as 85%, not after ${JSON.stringify(vt.raw)}`);
      if (!def.limited) throw new ConditionError(of.pos, `${field} has no limit; compare it with ${KIND_EXAMPLE[def.kind]}`);
      if (grows) throw new ConditionError(of.pos, 'a growth rate is not a percentage of the limit');
      ofLimit = true;
    }
    const threshold = valueOf(vt, def, field, grows, ofLimit);
    const end = toks[k - 1]!.end;
    return { type: 'cmp', text: text.slice(ft.pos - 1, end), field, def, grows, op: ot.v, threshold, ofLimit, windowMs: null };
  };

  const root = cond();
  if (peek().t !== 'end') fail(peek(), '"and", "or", "for" or the end of the condition');
  return root;
}

/** The threshold in the field's base unit (bytes, ms, %, share 0..1, count; per second for a growth). */
function valueOf(t: Extract<Tok, { t: 'num' }>, def: FieldDef, field: string, grows: boolean, ofLimit: boolean): number {
  const bad = (what: string): never => {
    throw new ConditionError(t.pos, `${field} ${grows ? 'grows by' : 'is'} ${what}: expected ${grows ? `a rate such as ${rateExample(def.kind)}` : KIND_EXAMPLE[def.kind]}, found ${JSON.stringify(t.raw)}`);
  };
  let perMs = 1;
  if (grows) {
    if (!t.per) bad('a rate');
    if (!(t.per in TIME_UNITS)) throw new ConditionError(t.pos, `expected a time after "/" such as /s, /min or /h, found ${JSON.stringify(t.per)}`);
    perMs = TIME_UNITS[t.per]!;
  } else if (t.per) {
    throw new ConditionError(t.pos, `${JSON.stringify(t.raw)} is a rate: a rate goes after "grows" (${field} grows > ${t.raw})`);
  }
  let v: number;
  const u = t.unit;
  if (ofLimit) return t.v / 100;
  if (u === '%') {
    if (def.kind === 'percent') v = t.v;
    else if (def.kind === 'ratio') v = t.v / 100;
    else if (def.limited) throw new ConditionError(t.pos, `a percentage of ${field} needs "of limit": ${field} > ${t.raw} of limit`);
    else return bad(`compared with a percentage`);
  } else if (u in SIZE_UNITS) {
    if (def.kind !== 'bytes') return bad('not a size');
    v = t.v * SIZE_UNITS[u]!;
  } else if (u in TIME_UNITS) {
    if (def.kind !== 'ms') return bad('not a duration');
    v = t.v * TIME_UNITS[u]!;
  } else {
    // a bare number: bytes, ms, %, a share or a count, in the field's own unit
    v = t.v;
    if (def.kind === 'ratio' && !grows && v > 1) throw new ConditionError(t.pos, `${field} is a share from 0 to 1: write 0.9 or 90%, not ${t.raw}`);
  }
  return grows ? (v / perMs) * 1000 : v;
}

function rateExample(kind: FieldKind): string {
  return kind === 'bytes' ? '50MB/min' : kind === 'ms' ? '10ms/min' : kind === 'percent' ? '10%/min' : kind === 'ratio' ? '0.1/min' : '100/min';
}

// ---- evaluation

/** What a condition said about one sample. */
export interface Verdict {
  holds: boolean;
  /** The readings its comparisons used, by field ("heap.used", "heap.used.limit", "rss.growthPerSec"). */
  values: Record<string, number | null>;
  /** The worker whose reading made a worker comparison hold (the last such), else null. */
  threadId: number | null;
}

interface Point {
  timeMs: number;
  byThread: Map<number | null, number>;
}

function compare(op: Op, a: number, b: number): boolean {
  switch (op) {
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '==':
      return a === b;
    case '!=':
      return a !== b;
  }
}

/** A parsed condition and the state of its windows. Feed it samples in time order. */
export class Condition {
  readonly root: Node;
  private since = new Map<Node, number | null>();
  private history = new Map<Node, Point[]>();

  constructor(readonly text: string) {
    this.root = parseCondition(text);
  }

  get readsWorkers(): boolean {
    return readsWorkers(this.root);
  }

  /** Whether the condition holds at this sample; `timeMs` is the sample's time. */
  observe(s: Sample, timeMs: number): Verdict {
    const v: Verdict = { holds: false, values: {}, threadId: null };
    v.holds = this.eval(this.root, s, timeMs, v);
    return v;
  }

  /** After a firing: every window starts again (the condition must hold anew for its duration). */
  reset(): void {
    this.since.clear();
    this.history.clear();
  }

  private eval(n: Node, s: Sample, t: number, v: Verdict): boolean {
    switch (n.type) {
      case 'and': {
        // both sides always: their windows see every sample
        const a = this.eval(n.left, s, t, v);
        const b = this.eval(n.right, s, t, v);
        return a && b;
      }
      case 'or': {
        const a = this.eval(n.left, s, t, v);
        const b = this.eval(n.right, s, t, v);
        return a || b;
      }
      case 'for': {
        const now = this.eval(n.inner, s, t, v);
        if (!now) {
          this.since.set(n, null);
          return false;
        }
        const since = this.since.get(n) ?? null;
        if (since === null || t < since) {
          this.since.set(n, t);
          return n.ms <= 0;
        }
        return t - since >= n.ms;
      }
      case 'cmp':
        return n.grows ? this.evalGrowth(n, s, t, v) : this.evalLevel(n, s, v);
    }
  }

  private evalLevel(n: Extract<Node, { type: 'cmp' }>, s: Sample, v: Verdict): boolean {
    const rs = n.def.read(s);
    let held: Reading | null = null;
    for (const r of rs) {
      if (n.ofLimit && r.limit === null) continue;
      const x = n.ofLimit ? r.value / r.limit! : r.value;
      if (compare(n.op, x, n.threshold) && (held === null || r.value > held.value)) held = r;
    }
    // the reading reported: the one that made it hold (the largest), else the largest
    const shown = held ?? rs.reduce<Reading | null>((a, r) => (a === null || r.value > a.value ? r : a), null);
    v.values[n.field] = shown ? shown.value : null;
    if (n.ofLimit) v.values[`${n.field}.limit`] = shown ? shown.limit : null;
    if (held && held.threadId !== null) v.threadId = held.threadId;
    return held !== null;
  }

  private evalGrowth(n: Extract<Node, { type: 'cmp' }>, s: Sample, t: number, v: Verdict): boolean {
    const hist = this.history.get(n) ?? [];
    const byThread = new Map<number | null, number>();
    for (const r of n.def.read(s)) byThread.set(r.threadId, r.value);
    if (hist.length > 0 && t <= hist[hist.length - 1]!.timeMs) {
      // the same time again (or the clock went back): start over
      hist.length = 0;
    }
    hist.push({ timeMs: t, byThread });
    // keep the newest reading at least the window old, and everything after it
    const windowMs = n.windowMs ?? 0;
    while (hist.length > 2 && t - hist[1]!.timeMs >= windowMs) hist.shift();
    this.history.set(n, hist);
    const key = `${n.field}.growthPerSec`;
    v.values[key] = null;
    if (hist.length < 2) return false;
    const old = hist[0]!;
    const span = t - old.timeMs;
    // a window not yet covered says nothing
    if (span <= 0 || span < windowMs) return false;
    let held = false;
    let best: number | null = null;
    for (const [tid, cur] of byThread) {
      const was = old.byThread.get(tid);
      if (was === undefined) continue;
      const rate = ((cur - was) / span) * 1000;
      if (best === null || rate > best) best = rate;
      if (compare(n.op, rate, n.threshold)) {
        held = true;
        if (tid !== null) v.threadId = tid;
      }
    }
    v.values[key] = best;
    return held;
  }
}

/** The condition, parsed; a bad one throws ConditionError (see message for the sentence). */
export function compileCondition(text: string): Condition {
  return new Condition(text);
}
