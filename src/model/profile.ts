// A V8 CPU profile (what Profiler.stop returns and what a .cpuprofile file holds) reduced to
// the functions that took the time. Pure: no I/O, unit-tested on hand-made profiles.
//
// The profile is a call tree (`nodes`, each with a callFrame and the ids of its children) and a
// list of samples: `samples[i]` is the id of the node that was on top of the stack at the i-th
// tick and `timeDeltas[i]` the microseconds since the previous tick (since `startTime` for the
// first). A sample counts for the time until the next tick (the last one until `endTime`), which
// is how DevTools draws its flame chart; with a steady sampler this is the same as
// hits x interval, and it stays right when the sampler is late on a loaded machine.
//
// Self time of a function: the samples whose top frame is that function. Total time: the samples
// where the function is anywhere on the stack, counted once per sample even when it recurses.
// A function is identified by its name and where it is defined (script, line, column), so the
// same function reached by several paths is one row.
//
// The ranking is of the target's own functions: V8's (idle), (program) and (garbage collector)
// are a line of their own (idle 99% ranked first said nothing), and so is what nodetop's own
// instruments ran: its callbacks are named nodetop* (src/probes/install.ts) and have no URL; a
// Node-internal caller that ran nothing but them is theirs too, and so is Node's
// performance-observer machinery (observerCallback, ...) when no frame of the target's is below it.

import { printable } from './text';

export interface CallFrame {
  functionName: string;
  scriptId: string;
  url: string;
  /** 0-based, -1 when unknown (native code, "(program)") */
  lineNumber: number;
  columnNumber: number;
}

export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  /** microseconds, on the target's monotonic clock */
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface FunctionTime {
  /** "(anonymous)" for a function without a name; V8's "(program)", "(idle)", "(garbage collector)" as is */
  function: string;
  /** where it is defined: file:// URL, node:internal/..., or "" for native code */
  url: string;
  /** 1-based line, null when V8 does not know it */
  line: number | null;
  selfMs: number;
  selfPercent: number;
  totalMs: number;
  totalPercent: number;
}

/** Time that is not the target's functions, ms and % of the sampled time. */
export interface RuntimeTime {
  idleMs: number;
  idlePercent: number;
  programMs: number;
  programPercent: number;
  gcMs: number;
  gcPercent: number;
  /** nodetop's own instruments (its GC observer) and the Node-internal frames that ran only them */
  nodetopMs: number;
  nodetopPercent: number;
}

export interface ProfileSummary {
  durationMs: number;
  samples: number;
  /** the sampled time, ms: what the percentages are of */
  sampledMs: number;
  runtime: RuntimeTime;
  /** every function of the target that had at least one sample, by self time, largest first */
  functions: FunctionTime[];
}

const SPECIAL: Record<string, 'idle' | 'program' | 'gc'> = { '(idle)': 'idle', '(program)': 'program', '(garbage collector)': 'gc' };

/** A callback of nodetop's instruments: a probe's URL, or evaluated code (no URL) named nodetop*. */
export function isNodetopFrame(cf: CallFrame): boolean {
  // probes carry a nodetop://probe/<name> URL (for a debugger beside nodetop); older ones none
  return cf.url.startsWith('nodetop://') || (cf.url === '' && /^nodetop[A-Z]/.test(cf.functionName));
}

function isNodeInternal(cf: CallFrame): boolean {
  return cf.url.startsWith('node:');
}

/**
 * Ids of the nodes that are nodetop's: its frames, everything under them, and Node-internal
 * frames whose subtree runs JavaScript of nodetop's and of nobody else.
 */
export function nodetopNodes(p: CpuProfile): Set<number> {
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  const isChild = new Set<number>();
  for (const n of p.nodes) for (const c of n.children ?? []) isChild.add(c);
  const out = new Set<number>();
  // per node: [has a nodetop frame below or at it, has another non-internal frame below or at it]
  const memo = new Map<number, [boolean, boolean]>();
  const order: ProfileNode[] = [];
  const seen = new Set<number>();
  for (const root of p.nodes.filter((n) => !isChild.has(n.id))) {
    const stack = [root];
    while (stack.length) {
      const n = stack.pop()!;
      if (seen.has(n.id)) continue;
      seen.add(n.id);
      order.push(n);
      for (const c of n.children ?? []) {
        const k = byId.get(c);
        if (k) stack.push(k);
      }
    }
  }
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i]!;
    let mine = isNodetopFrame(n.callFrame);
    // the target's: its files, and code it evaluated (no URL, a script id); V8's natives (script
    // 0, like toggleImmediateRef under Node's timers) belong to whoever called them
    const cf = n.callFrame;
    let other = !mine && !isNodeInternal(cf) && cf.functionName !== '(root)' && (cf.url !== '' || (cf.scriptId !== '0' && cf.scriptId !== ''));
    for (const c of n.children ?? []) {
      const m = memo.get(c);
      if (m) {
        mine ||= m[0];
        other ||= m[1];
      }
    }
    memo.set(n.id, [mine, other]);
  }
  const mark = (n: ProfileNode): void => {
    const stack = [n];
    while (stack.length) {
      const x = stack.pop()!;
      if (out.has(x.id)) continue;
      out.add(x.id);
      for (const c of x.children ?? []) {
        const k = byId.get(c);
        if (k) stack.push(k);
      }
    }
  };
  for (const n of order) {
    const [mine, other] = memo.get(n.id)!;
    // Node's performance-observer machinery (node:internal/perf/observe) runs for nodetop's GC
    // observer: measured on Node 20, observerCallback (the native GC hook building the entries)
    // runs under (root) with only Node's frames below it, and the delivery runs from an
    // immediate, often sampled before it reaches nodetop's callback. A target that observes GC
    // itself shares it; without a frame of the target's below it, it is counted as nodetop's.
    const hook = n.callFrame.url === 'node:internal/perf/observe';
    if (isNodetopFrame(n.callFrame) || (isNodeInternal(n.callFrame) && (mine || hook) && !other)) mark(n);
  }
  return out;
}

/** Checks the shape of what came back as a profile; throws a sentence when it is not one. */
export function checkProfile(p: unknown): asserts p is CpuProfile {
  const bad = (why: string): never => {
    throw new Error(`not a CPU profile: ${why}`);
  };
  if (!p || typeof p !== 'object') bad('not an object');
  const o = p as Record<string, unknown>;
  if (!Array.isArray(o.nodes) || o.nodes.length === 0) bad('no nodes');
  if (typeof o.startTime !== 'number' || typeof o.endTime !== 'number') bad('no startTime/endTime');
  if (o.samples !== undefined && !Array.isArray(o.samples)) bad('samples is not an array');
  if (o.timeDeltas !== undefined && !Array.isArray(o.timeDeltas)) bad('timeDeltas is not an array');
  for (const n of o.nodes as unknown[]) {
    const node = n as ProfileNode;
    if (!node || typeof node.id !== 'number' || !node.callFrame || typeof node.callFrame.functionName !== 'string') {
      bad('a node without id or callFrame');
    }
  }
}

function frameKey(cf: CallFrame): string {
  return `${cf.functionName}\u0000${cf.scriptId || cf.url}\u0000${cf.lineNumber}\u0000${cf.columnNumber}`;
}

/** How long each sample stands for, in microseconds (see the note at the top). */
export function sampleWeightsUs(p: CpuProfile): number[] {
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  const n = samples.length;
  const w = new Array<number>(n);
  // timestamps: startTime + running sum of the deltas
  let t = p.startTime;
  const ts = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    t += deltas[i] ?? 0;
    ts[i] = t;
  }
  for (let i = 0; i < n; i++) {
    const next = i + 1 < n ? ts[i + 1]! : p.endTime;
    w[i] = Math.max(0, next - ts[i]!);
  }
  return w;
}

export function summarizeProfile(p: CpuProfile): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  const samples = p.samples ?? [];
  const weights = sampleWeightsUs(p);

  // self microseconds per node; V8's own and nodetop's time apart
  const nodeSelf = new Map<number, number>();
  const ours = nodetopNodes(p);
  const rt = { idle: 0, program: 0, gc: 0, nodetop: 0 };
  let totalUs = 0;
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i]!;
    const n = byId.get(id);
    if (!n) continue;
    totalUs += weights[i]!;
    const special = SPECIAL[n.callFrame.functionName];
    if (special && n.callFrame.url === '') rt[special] += weights[i]!;
    else if (ours.has(id)) rt.nodetop += weights[i]!;
    else nodeSelf.set(id, (nodeSelf.get(id) ?? 0) + weights[i]!);
  }

  // the root: the node no one lists as a child (V8 puts it first)
  const isChild = new Set<number>();
  for (const n of p.nodes) for (const c of n.children ?? []) isChild.add(c);
  const roots = p.nodes.filter((n) => !isChild.has(n.id));

  interface Acc {
    frame: CallFrame;
    selfUs: number;
    totalUs: number;
  }
  const fns = new Map<string, Acc>();
  const acc = (cf: CallFrame): Acc => {
    const k = frameKey(cf);
    let a = fns.get(k);
    if (!a) fns.set(k, (a = { frame: cf, selfUs: 0, totalUs: 0 }));
    return a;
  };

  // Iterative post-order walk: subtree time per node, and total time per function added only at
  // the outermost occurrence of the function on the path (recursion is counted once).
  const subtree = new Map<number, number>();
  const onPath = new Map<string, number>();
  const visited = new Set<number>();
  for (const root of roots) {
    const stack: Array<{ node: ProfileNode; childIdx: number }> = [{ node: root, childIdx: 0 }];
    enter(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const kids = top.node.children ?? [];
      if (top.childIdx < kids.length) {
        const child = byId.get(kids[top.childIdx++]!);
        if (child && !visited.has(child.id)) {
          enter(child);
          stack.push({ node: child, childIdx: 0 });
        }
        continue;
      }
      stack.pop();
      leave(top.node);
    }
  }
  function enter(n: ProfileNode): void {
    visited.add(n.id);
    const k = frameKey(n.callFrame);
    onPath.set(k, (onPath.get(k) ?? 0) + 1);
  }
  function leave(n: ProfileNode): void {
    let sum = nodeSelf.get(n.id) ?? 0;
    for (const c of n.children ?? []) sum += subtree.get(c) ?? 0;
    subtree.set(n.id, sum);
    const k = frameKey(n.callFrame);
    const depth = onPath.get(k)! - 1;
    if (depth === 0) onPath.delete(k);
    else onPath.set(k, depth);
    const a = acc(n.callFrame);
    a.selfUs += nodeSelf.get(n.id) ?? 0;
    if (depth === 0) a.totalUs += sum; // the outermost frame of this function on this path
  }

  const pct = (us: number): number => (totalUs > 0 ? round((us / totalUs) * 100, 1) : 0);
  const functions: FunctionTime[] = [];
  for (const a of fns.values()) {
    if (a.frame.functionName === '(root)') continue;
    if (SPECIAL[a.frame.functionName] && a.frame.url === '') continue;
    if (a.selfUs === 0 && a.totalUs === 0) continue;
    functions.push({
      function: a.frame.functionName || '(anonymous)',
      url: a.frame.url,
      line: a.frame.lineNumber >= 0 ? a.frame.lineNumber + 1 : null,
      selfMs: round(a.selfUs / 1000, 3),
      selfPercent: pct(a.selfUs),
      totalMs: round(a.totalUs / 1000, 3),
      totalPercent: pct(a.totalUs),
    });
  }
  functions.sort((x, y) => y.selfMs - x.selfMs || y.totalMs - x.totalMs || x.function.localeCompare(y.function));
  return {
    durationMs: round((p.endTime - p.startTime) / 1000, 3),
    samples: samples.length,
    sampledMs: round(totalUs / 1000, 3),
    runtime: {
      idleMs: round(rt.idle / 1000, 3),
      idlePercent: pct(rt.idle),
      programMs: round(rt.program / 1000, 3),
      programPercent: pct(rt.program),
      gcMs: round(rt.gc / 1000, 3),
      gcPercent: pct(rt.gc),
      nodetopMs: round(rt.nodetop / 1000, 3),
      nodetopPercent: pct(rt.nodetop),
    },
    functions,
  };
}

function round(v: number, digits: number): number {
  const m = 10 ** digits;
  return Math.round(v * m) / m;
}

/** The terminal table: self and total time of the top functions. */
export function renderProfileSummary(s: ProfileSummary, top: number, cwdUrl?: string): string {
  const rows = s.functions.slice(0, top);
  const lines: string[] = [];
  const r = s.runtime;
  const part = (name: string, ms: number, p: number): string => `${name} ${ms.toFixed(1)} ms (${p.toFixed(1)}%)`;
  lines.push(
    `not the program's functions: ${part('idle', r.idleMs, r.idlePercent)}, ${part('native (program)', r.programMs, r.programPercent)}, ${part('GC', r.gcMs, r.gcPercent)}, ${part("nodetop's instruments", r.nodetopMs, r.nodetopPercent)}`,
    '',
  );
  lines.push('   self ms  self %   total ms total %  function (location)');
  for (const f of rows) {
    let where = f.url;
    if (cwdUrl && where.startsWith(cwdUrl)) where = where.slice(cwdUrl.length);
    else if (where.startsWith('file://')) where = where.slice('file://'.length);
    const loc = where ? ` ${where}${f.line !== null ? `:${f.line}` : ''}` : '';
    lines.push(
      `${f.selfMs.toFixed(1).padStart(10)} ${`${f.selfPercent.toFixed(1)}%`.padStart(7)} ${f.totalMs.toFixed(1).padStart(10)} ${`${f.totalPercent.toFixed(1)}%`.padStart(7)}  ${printable(`${f.function}${loc}`)}`, // names and paths are the target's text
    );
  }
  if (s.functions.length > rows.length) lines.push(`  … ${s.functions.length - rows.length} more functions in the file`);
  return lines.join('\n');
}

/**
 * Collapsed stacks ("folded", Brendan Gregg's format) for flamegraph.pl, inferno and speedscope:
 * one line per distinct stack, root first, frames joined by `;`, then the number of samples.
 * nodetop's own frames are left out; (idle), (program) and (garbage collector) are stacks of
 * their own. A frame is `function file:line` (the file as a path when it is a file:// URL).
 */
export function collapsedStacks(p: CpuProfile): string {
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const ours = nodetopNodes(p);
  const label = (cf: CallFrame): string => {
    const name = cf.functionName || '(anonymous)';
    let where = cf.url.startsWith('file://') ? cf.url.slice('file://'.length) : cf.url;
    if (where && cf.lineNumber >= 0) where += `:${cf.lineNumber + 1}`;
    // a `;` separates frames and the last space the count: neither may come from a name
    return printable(where ? `${name} ${where}` : name).replace(/;/g, ':');
  };
  const stackOf = new Map<number, string>();
  const stack = (id: number): string => {
    let s = stackOf.get(id);
    if (s !== undefined) return s;
    const frames: string[] = [];
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const n = byId.get(x);
      if (!n || n.callFrame.functionName === '(root)') break;
      frames.push(label(n.callFrame));
    }
    s = frames.reverse().join(';');
    stackOf.set(id, s);
    return s;
  };
  const counts = new Map<string, number>();
  for (const id of p.samples ?? []) {
    if (!byId.has(id) || ours.has(id)) continue;
    const s = stack(id);
    if (s === '') continue;
    counts.set(s, (counts.get(s) ?? 0) + 1);
  }
  return [...counts].map(([s, n]) => `${s} ${n}\n`).join('');
}
