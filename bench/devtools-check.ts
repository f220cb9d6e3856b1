// Cross-checks nodetop's retained sizes against Chrome DevTools' own heap snapshot model
// (front_end/entrypoints/heap_snapshot_worker/HeapSnapshot.ts, the code behind the Memory
// panel), node by node, on one .heapsnapshot. Not part of `npm test` and DevTools is no
// dependency of nodetop: it is installed in a scratch directory and transpiled there.
//
//   mkdir -p /tmp/devtools-check && cd /tmp/devtools-check && npm init -y
//   npm install --ignore-scripts chrome-devtools-frontend@1.0.1705227
//   npm run build   # in nodetop
//   node dist/bench/devtools-check.js /tmp/devtools-check file.heapsnapshot [--ids 123,456]
//        [--v8-self-sizes] [--no-page-objects]   (two DevTools rules off: see docs/benchmarks.md)
//
// The published package ships TypeScript sources only: this script transpiles the worker's
// files and the few it imports (core/platform, the heap snapshot model) with the TypeScript
// nodetop builds with, shims i18n (progress messages only), and runs JSHeapSnapshot with a
// MessageChannel in place of its second worker. Results: a JSON line per compared group and a
// Markdown table on stdout.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import ts from 'typescript';
import { HeapGraphLoader, analyzeHeap, largestRetainers, groupOf, type HeapAnalysis } from '../src/model/heapgraph';

/** The files the worker's model needs, under front_end/ (their imports, followed by hand once). */
const SOURCES = ['core/platform', 'models/heap_snapshot/HeapSnapshotModel.ts', 'entrypoints/heap_snapshot_worker/HeapSnapshot.ts', 'entrypoints/heap_snapshot_worker/AllocationProfile.ts', 'entrypoints/heap_snapshot_worker/ContextAnalyzer.ts'];

const SHIMS: Record<string, string> = {
  // progress messages are all HeapSnapshot.ts asks of i18n
  'core/i18n/i18n.js': 'export const i18n = { serializeUIString: (s, p) => JSON.stringify({ s, p }) };\n',
  // the proxy (and its import of core/common) is the page's side, not the worker's
  'models/heap_snapshot/heap_snapshot.js': "import * as HeapSnapshotModel from './HeapSnapshotModel.js';\nexport { HeapSnapshotModel };\nexport const ChildrenProvider = {};\n",
};

function transpile(scratch: string): string {
  const front = path.join(scratch, 'node_modules/chrome-devtools-frontend/front_end');
  if (!fs.existsSync(front)) throw new Error(`no ${front}: install chrome-devtools-frontend there first (see the top of bench/devtools-check.ts)`);
  const out = path.join(scratch, 'dt-build');
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'package.json'), '{"type":"module"}\n');
  const files: string[] = [];
  for (const s of SOURCES) {
    const p = path.join(front, s);
    if (fs.statSync(p).isDirectory()) {
      for (const f of fs.readdirSync(p, { recursive: true }) as string[]) if (f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.includes('test')) files.push(path.join(s, f));
    } else files.push(s);
  }
  for (const f of files) {
    const src = fs.readFileSync(path.join(front, f), 'utf8');
    const js = ts.transpileModule(src, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022, useDefineForClassFields: true } }).outputText;
    const dest = path.join(out, f.replace(/\.ts$/, '.js'));
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, js);
  }
  for (const [f, js] of Object.entries(SHIMS)) {
    fs.mkdirSync(path.dirname(path.join(out, f)), { recursive: true });
    fs.writeFileSync(path.join(out, f), js);
  }
  return out;
}

// tsc compiles import() to require() under "module": "commonjs"; DevTools' files are ES modules
const importEsm = new Function('u', 'return import(u)') as (u: string) => Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/* eslint-disable @typescript-eslint/no-explicit-any */
async function devtoolsModel(out: string, file: string, ownSizes: boolean, pageObjects: boolean): Promise<any> {
  // Node 20 lacks Promise.withResolvers (DevTools targets current Chrome)
  const P = Promise as any;
  P.withResolvers ??= () => {
    let resolve!: (v: unknown) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise((a, b) => ((resolve = a), (reject = b)));
    return { promise, resolve, reject };
  };
  const Platform = await importEsm(`file://${path.join(out, 'core/platform/platform.js')}`);
  const HS = await importEsm(`file://${path.join(out, 'entrypoints/heap_snapshot_worker/HeapSnapshot.js')}`);
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  const big = (a: number[]): any => {
    const b = Platform.TypedArrayUtilities.createFixedBigUint32Array(a.length);
    for (let i = 0; i < a.length; i++) b.setValue(i, a[i]);
    return b;
  };
  profile.nodes = big(profile.nodes);
  profile.edges = big(profile.edges);
  const channel = new MessageChannel();
  new HS.SecondaryInitManager(channel.port2);
  // DevTools moves the self sizes of arrays and hidden objects to the one object that owns them
  // (JSHeapSnapshot.calculateShallowSizes); with ownSizes false, V8's self sizes stay as nodetop reads them
  if (!ownSizes) HS.JSHeapSnapshot.prototype.calculateShallowSizes = function (): void {};
  // DevTools skips, for dominators, edges from objects the page's globals (the root's shortcut
  // edges) do not reach to objects they do (computeIsEssentialEdge); pageObjects false: all kept
  if (!pageObjects) HS.JSHeapSnapshot.prototype.userObjectsMapAndFlag = function (): null {
    return null;
  };
  const snapshot = new HS.JSHeapSnapshot(profile, new HS.HeapSnapshotProgress());
  await snapshot.initialize(channel.port1);
  channel.port1.close();
  channel.port2.close();
  return snapshot;
}

interface Row {
  what: string;
  id: number | null;
  nodetop: number;
  devtools: number;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = (f: string): boolean => (args.includes(f) ? (args.splice(args.indexOf(f), 1), true) : false);
  const ids = args.includes('--ids') ? args.splice(args.indexOf('--ids'), 2)[1]!.split(',').map(Number) : [];
  const ownSizes = !flag('--v8-self-sizes');
  const pageObjects = !flag('--no-page-objects');
  const [scratch, file] = args;
  if (!scratch || !file) throw new Error('usage: node dist/bench/devtools-check.js <scratch dir> <file.heapsnapshot> [--ids 1,2] [--v8-self-sizes] [--no-page-objects]');

  const out = transpile(path.resolve(scratch));
  const dt = await devtoolsModel(out, file, ownSizes, pageObjects);

  const loader = new HeapGraphLoader();
  loader.write(fs.readFileSync(file));
  const g = loader.end();
  const a: HeapAnalysis = analyzeHeap(g);

  // every node, by id: DevTools keeps the file's node order, as nodetop does
  const n = g.nodeCount;
  if (dt.nodeCount !== n) throw new Error(`node counts differ: nodetop ${n}, DevTools ${dt.nodeCount}`);
  const dtIndex = new Map<number, number>();
  for (let o = 0; o < n; o++) dtIndex.set(dt.nodes.getValue(o * dt.nodeFieldCount + dt.nodeIdOffset), o);
  let same = 0;
  let maxDiff = 0;
  // DevTools moves arrays' and hidden objects' self sizes to their owners: those nodes differ by
  // design unless --v8-self-sizes; every other node must not
  let otherDiffer = 0;
  let otherMaxDiff = 0;
  const moved = (i: number): boolean => ['array', 'hidden'].includes(g.typeNames[g.nodeType[i]!]!);
  const differ: Array<[number, number, number, string]> = [];
  for (let i = 0; i < n; i++) {
    const o = dtIndex.get(g.nodeId[i]!)!;
    const d = Math.abs(dt.retainedSizes[o] - a.retainedSize[i]!);
    if (d === 0) same++;
    else differ.push([g.nodeId[i]!, a.retainedSize[i]!, dt.retainedSizes[o], groupOf(g, i)]);
    maxDiff = Math.max(maxDiff, d);
    if (d !== 0 && !moved(i)) {
      otherDiffer++;
      otherMaxDiff = Math.max(otherMaxDiff, d);
    }
  }
  console.log(JSON.stringify({ nodes: n, sameRetainedSize: same, maxDiffBytes: maxDiff, differOutsideArraysAndHidden: otherDiffer, maxDiffOutsideThem: otherMaxDiff, rootNodetop: a.retainedSize[0], rootDevtools: dt.retainedSizes[0] }));
  differ.sort((x, y) => Math.abs(y[2] - y[1]) - Math.abs(x[2] - x[1]));
  differ.sort((x, y) => Number(y[3] !== '(array)' && y[3] !== '(hidden)') - Number(x[3] !== '(array)' && x[3] !== '(hidden)'));
  for (const [id, nt, d, grp] of differ.slice(0, 15)) console.log(JSON.stringify({ differs: id, group: grp, nodetop: nt, devtools: d }));

  const rows: Row[] = [];
  const byId = (id: number): number => {
    for (let i = 0; i < n; i++) if (g.nodeId[i] === id) return i;
    return -1;
  };
  const node = (what: string, id: number): void => {
    const i = byId(id);
    const o = dtIndex.get(id);
    if (i < 0 || o === undefined) return;
    rows.push({ what, id, nodetop: a.retainedSize[i]!, devtools: dt.retainedSizes[o] });
  };
  for (const r of largestRetainers(a, 8)) node(`${r.label}${r.path.length ? ` <- ${r.path.slice(0, 2).join(' <- ')}` : ''}`, r.id);
  for (const id of ids) node(`@${id}`, id);

  // constructor groups: DevTools' Summary (count, shallow, retained: the class's objects not
  // dominated by another of the class), against the same sums over nodetop's dominator tree
  const agg = dt.aggregatesWithFilter({ minNodeId: undefined, maxNodeId: undefined, allocationNodeId: undefined, filterName: undefined }) as Record<string, { name: string; count: number; self: number; maxRet: number }>;
  const want = ['SessionRecord', 'RequestContext', 'ClosureItem', 'DualRecord', 'CacheEntry', 'Map', 'Array'];
  const perGroup = new Map<string, { count: number; self: number; ret: number }>();
  for (let i = 0; i < n; i++) {
    const grp = groupOf(g, i);
    if (!want.includes(grp)) continue;
    let acc = perGroup.get(grp);
    if (!acc) perGroup.set(grp, (acc = { count: 0, self: 0, ret: 0 }));
    acc.count++;
    acc.self += g.selfSize[i]!;
    // DevTools counts a class's retained size once per top-most object of the class on the
    // dominator tree (and skips objects of self size 0): the same here
    let top = g.selfSize[i]! > 0 && a.distance[i]! >= 0;
    for (let d = a.idom[i]!; top && d !== 0; d = a.idom[d]!) if (groupOf(g, d) === grp && g.selfSize[d]! > 0) top = false;
    if (top) acc.ret += a.retainedSize[i]!;
  }
  for (const name of want) {
    const d = Object.values(agg).find((x) => x.name === name);
    const m = perGroup.get(name);
    if (!d || !m) continue;
    console.log(JSON.stringify({ group: name, nodetop: m, devtools: { count: d.count, self: d.self, ret: d.maxRet } }));
    rows.push({ what: `all ${name} (${m.count} nodetop, ${d.count} DevTools)`, id: null, nodetop: m.ret, devtools: d.maxRet });
  }

  console.log('\n| object | id | nodetop retained | DevTools retained | difference |\n|---|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.what.replace(/\|/g, '\\|')} | ${r.id === null ? '' : `@${r.id}`} | ${r.nodetop.toLocaleString('en')} | ${r.devtools.toLocaleString('en')} | ${(r.nodetop - r.devtools).toLocaleString('en')} |`);
}
/* eslint-enable @typescript-eslint/no-explicit-any */

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : String(e));
  process.exitCode = 1;
});
