// A pid that is a wrapper (npm, npx, yarn, pnpm, nodemon, the pm2 daemon: src/model/wrapper.ts)
// and the Node processes it runs, from /proc alone. `npm start` runs `sh -c "node server.js"`:
// the app is npm's grandchild (dash does not exec the last command: measured, npm 11 on Debian
// 12), so the walk goes through processes that are not Node, and through wrappers under wrappers
// (npm -> nodemon -> node), and stops at the first Node process of each branch that is not a
// wrapper: that is the app; its own children (cluster workers) are its business.
// Node is decided by the executable (nodebin.ts), never by a name. Nothing is sent to anyone.

import * as path from 'node:path';
import { ExitCode, NodetopError } from '../errors';
import { printable } from '../model/text';
import { classifyWrapper, type Wrapper, type WrapperKind } from '../model/wrapper';
import { nodeVerdict } from './nodebin';
import * as proc from './proc';

export interface NodeChild {
  pid: number;
  argv: string[];
}

export interface WrapperInfo extends Wrapper {
  pid: number;
  argv: string[];
  /** The app(s) it runs: the nearest Node descendants that are not wrappers themselves. */
  children: NodeChild[];
}

const MAX_DEPTH = 8;
const MAX_VISITED = 500;

function cmdline(pid: number): string[] | null {
  try {
    const argv = proc.readCmdline(pid);
    return argv.length ? argv : null;
  } catch {
    return null;
  }
}

function childrenTable(table: Map<number, number>): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of table) {
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  return children;
}

/** The Node processes `root` runs, through shells and nested wrappers (bounded: 8 levels, 500 processes). */
export function nodeChildren(root: number, table: Map<number, number> = proc.processTable()): NodeChild[] {
  const children = childrenTable(table);
  const out: NodeChild[] = [];
  let visited = 0;
  const walk = (pid: number, depth: number): void => {
    if (depth > MAX_DEPTH) return;
    for (const c of children.get(pid) ?? []) {
      if (++visited > MAX_VISITED) return;
      const argv = cmdline(c);
      if (argv === null) continue; // exited, a zombie, or hidden
      if (nodeVerdict(c).node && classifyWrapper(argv) === null) out.push({ pid: c, argv });
      else walk(c, depth + 1);
    }
  };
  walk(root, 0);
  return out.sort((a, b) => a.pid - b.pid);
}

/**
 * The wrapper `pid` is, with its Node children; null when it is not one, is not Node by its
 * executable, or cannot be read (the command's own checks then say why).
 */
export function wrapperInfo(pid: number, table?: Map<number, number>): WrapperInfo | null {
  const argv = cmdline(pid);
  if (argv === null) return null;
  const w = classifyWrapper(argv);
  if (w === null || !nodeVerdict(pid).node) return null;
  return { ...w, pid, argv, children: nodeChildren(pid, table) };
}

const NAMES: Record<WrapperKind, string> = { npm: 'npm', npx: 'npx', yarn: 'yarn', pnpm: 'pnpm', nodemon: 'nodemon', pm2: "pm2's daemon" };

/**
 * A command line for a sentence: printable, the executable by its base name, the blanks a title
 * leaves dropped, and at most 90 characters, cut in the middle (the script and its arguments at
 * the end are what tells one app from another).
 */
export function commandText(argv: readonly string[]): string {
  const [exe, ...rest] = argv.filter((a) => a !== '');
  const words = exe !== undefined && exe.startsWith('/') && !exe.includes(' ') ? [path.basename(exe), ...rest] : [exe ?? '', ...rest];
  const s = printable(words.join(' ').trim());
  return s.length > 90 ? `${s.slice(0, 40)}…${s.slice(-49)}` : s;
}

function childList(children: readonly NodeChild[]): string {
  const each = children.map((c) => `${c.pid} (${commandText(c.argv)})`);
  return each.length <= 1 ? each.join('') : `${each.slice(0, -1).join(', ')} and ${each[each.length - 1]}`;
}

/** The sentence that refuses a wrapper, naming its Node children and the way on. */
export function wrapperRefusal(w: WrapperInfo, command: string, followChild: boolean): string {
  const head = `pid ${w.pid} is ${NAMES[w.kind]} (${commandText(w.argv)}), not your app`;
  if (w.children.length === 0) {
    return `${head}, and it runs no Node process now (the app has not started yet, has exited, or is not Node); nodetop sent it nothing`;
  }
  if (w.children.length === 1) {
    const c = w.children[0]!;
    return `${head}; its Node child is pid ${childList(w.children)}: run nodetop ${command} ${c.pid}, or pass --follow-child`;
  }
  return followChild
    ? `${head}, and --follow-child needs a single Node child, but it runs ${w.children.length}: pids ${childList(w.children)}; run nodetop ${command} with the one you mean`
    : `${head}; its Node children are pids ${childList(w.children)}: run nodetop ${command} with the one you mean`;
}

/**
 * The pid a command should attach to: `pid` itself unless it is a wrapper. A wrapper is refused
 * (exit 2, one sentence) or, with `followChild`, replaced by its single Node child. Never
 * signals anything: a pid that is not a wrapper or cannot be read is left to the command's checks.
 */
export function appPid(pid: number, command: string, followChild: boolean): number {
  const w = wrapperInfo(pid);
  if (w === null) return pid;
  if (followChild && w.children.length === 1) return w.children[0]!.pid;
  throw new NodetopError(wrapperRefusal(w, command, followChild), { exitCode: ExitCode.Usage });
}
