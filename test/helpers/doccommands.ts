// The nodetop commands the docs show, read from the fenced blocks of README.md and docs/*.md, so
// a test can run each one against a fixture and the pages cannot drift from the tool
// (docs/runbooks.md has its own tests: test/runbooks/).

import * as fs from 'node:fs';
import * as path from 'node:path';
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
    // `npm install && npx nodetop demo`: the nodetop part
    const text = (prompt ? raw.slice(2) : raw).replace(/^.*&& /, '').replace(/^npx /, '');
    if (text === 'nodetop' || /^nodetop [^ ]/.test(text)) {
      // the command ends at a comment, a redirection or a pipe: those are the shell's
      const command = text.replace(/\s+#.*$/, '').split(/\s+(?:\||>|2>|&&|;)/)[0]!.trim();
      current = { where: `${file}:${i + 1}`, line: raw, words: command.split(/\s+/).slice(1), shown: [] };
      found.push(current);
      if (!prompt) current = null;
      return;
    }
    if (current && raw.startsWith('$ ')) current = null;
    else if (current) current.shown.push(raw);
  });
  return found;
}
