// The nodetop commands the docs show, read from the fenced blocks of README.md and docs/*.md, so
// a test can run each one against a fixture and the pages cannot drift from the tool
// (docs/runbooks.md has its own tests: test/runbooks/).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { splitWords } from '../../src/model/triggers';
import { ROOT } from './target';

export interface DocCommand {
  /** `docs/commands.md:312` */
  where: string;
  /** The line as the page shows it. */
  line: string;
  /** The words after `nodetop`, comments, redirections and pipes dropped. */
  words: string[];
  /** The output the page shows under a `$ nodetop ...` line, up to the next `$ ` or the block's end. */
  shown: string[];
}

export const DOC_FILES = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md') && f !== 'runbooks.md').map((f) => `docs/${f}`)];

/**
 * Every fenced line that is a nodetop command: `nodetop ...`, `$ nodetop ...`, `npx nodetop ...`.
 * A screen capture's header (`nodetop  pid 8493 ...`, two spaces) is not a command.
 */
export function docCommands(file: string): DocCommand[] {
  const lines = fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n');
  const found: DocCommand[] = [];
  let fence = false;
  let current: DocCommand | null = null;
  lines.forEach((raw, i) => {
    if (/^\s*```/.test(raw)) {
      fence = !fence;
      current = null;
      return;
    }
    if (!fence) return;
    const prompt = raw.startsWith('$ ');
    const words = commandWords(prompt ? raw.slice(2) : raw);
    if (words) {
      current = { where: `${file}:${i + 1}`, line: raw, words, shown: [] };
      found.push(current);
      if (!prompt) current = null;
    } else if (current && prompt) current = null;
    else if (current) current.shown.push(raw);
  });
  return found;
}

/**
 * The words after `nodetop` when the line runs nodetop, split as a shell splits them ('heap.used >
 * 85%' is one word): in `npm install && npx nodetop demo` the nodetop part, up to a comment, a
 * redirection, a pipe or a list operator. A screen capture's header (`nodetop  pid 8493`) is not.
 */
function commandWords(line: string): string[] | null {
  if (/nodetop {2}/.test(line)) return null;
  let all: string[];
  try {
    all = splitWords(line);
  } catch {
    return null; // an output line with a lone quote
  }
  const at = all.indexOf('nodetop');
  if (at < 0) return null;
  const before = all.slice(0, at);
  if (!(before.length === 0 || (before.length === 1 && before[0] === 'npx') || before.slice(-2).join(' ') === '&& npx' || before.at(-1) === '&&')) return null;
  const rest = all.slice(at + 1);
  const end = rest.findIndex((w) => /^(#|\||\|\||&&|;|\d?>.*|>>.*)/.test(w));
  return end < 0 ? rest : rest.slice(0, end);
}
