// The Node binaries of the target matrix, as test/matrix/install-nodes.js left them in
// .cache/nodes/manifest.json, and what each version is known to have (the README's "Supported
// Node versions" table; the matrix tests check every row of it against the real binary).
//
// `npm run test:matrix` sets NODETOP_MATRIX=1: then a missing binary fails the run. Under a plain
// `npm test` the matrix files are compiled and loaded too (node --test runs all of dist/test), and
// skip with the reason unless NODETOP_MATRIX=1.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../helpers/target';

export interface MatrixNode {
  major: number;
  version: string;
  bin: string;
}

/** The Node majors nodetop supports as targets. */
export const SUPPORTED_MAJORS = [18, 20, 22, 24, 26] as const;
/** nodetop itself runs on these (package.json engines: >=20). */
export const CLI_MAJORS = [20, 22, 24, 26] as const;
/**
 * Not supported, installed only as a witness: the newest Node that lacks parts of the sample
 * (process.getActiveResourcesInfo, PerformanceEntry.detail), to show on a real binary that they
 * come back null with a reason and the rest of the sample is still read.
 */
export const WITNESS_MAJOR = 14;

export const REQUIRED = process.env.NODETOP_MATRIX === '1';
/** A subset, the same variable install-nodes.js reads: NODETOP_MATRIX_MAJORS="20 26". */
const ONLY = (process.env.NODETOP_MATRIX_MAJORS ?? '').trim()
  ? (process.env.NODETOP_MATRIX_MAJORS ?? '').split(/[\s,]+/).filter(Boolean).map(Number)
  : null;
export const CACHE = process.env.NODETOP_NODES_CACHE ?? path.join(ROOT, '.cache/nodes');

interface Manifest {
  nodes: Record<string, { version: string; bin: string }>;
  skipped: Record<string, string>;
}

function readManifest(): Manifest | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(CACHE, 'manifest.json'), 'utf8')) as Manifest;
  } catch {
    return null;
  }
}

const manifest = readManifest();

/**
 * The installed binary of a major, or why there is none. With NODETOP_MATRIX=1 the only accepted
 * reason is the installer's own (the registry has no such major).
 */
export function nodeOf(major: number): { node: MatrixNode | null; skip: string | null } {
  if (!REQUIRED) return { node: null, skip: 'the target matrix runs with `npm run test:matrix`' };
  if (ONLY && !ONLY.includes(major)) return { node: null, skip: `Node ${major} is not in NODETOP_MATRIX_MAJORS` };
  if (!manifest) throw new Error(`no ${path.join(CACHE, 'manifest.json')}: run node test/matrix/install-nodes.js first`);
  const n = manifest.nodes[String(major)];
  if (n && fs.existsSync(n.bin)) return { node: { major, version: n.version, bin: n.bin }, skip: null };
  const why = manifest.skipped[String(major)];
  if (why) return { node: null, skip: why };
  throw new Error(`Node ${major} is not installed in ${CACHE}: run node test/matrix/install-nodes.js`);
}

function atLeast(version: string, min: [number, number, number]): boolean {
  const v = version.replace(/^v/, '').split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    if ((v[i] ?? 0) !== min[i]) return (v[i] ?? 0) > min[i]!;
  }
  return true;
}

/** What a Node version has, as far as nodetop cares. Each entry is checked on the binary. */
export function features(version: string): { disableSigusr1: boolean; gcEntryKindAccessor: boolean; getActiveResourcesInfo: boolean } {
  const major = Number(version.replace(/^v/, '').split('.')[0]);
  return {
    // --disable-sigusr1: added in 23.7.0 and backported to 22.14.0
    disableSigusr1: major >= 23 ? atLeast(version, [23, 7, 0]) : major === 22 && atLeast(version, [22, 14, 0]),
    // the old PerformanceEntry `kind` accessor on gc entries: runtime-deprecated (DEP0152), removed in 26
    gcEntryKindAccessor: major < 26,
    getActiveResourcesInfo: atLeast(version, [17, 3, 0]) || (major === 16 && atLeast(version, [16, 14, 0])),
  };
}
