// docs/runbooks.md is the source of the commands the runbook tests run: each section has fenced
// blocks marked ```sh title="runbook-N"``` (scripted) and ```sh title="runbook-N-live"``` (the
// live view). The tests read those blocks, substitute $PID-style variables and run exactly those
// commands with the built CLI, so the page cannot drift from the tool.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { splitWords } from '../../src/model/triggers';
import { ROOT } from './target';
import { openTerminal, type Terminal } from './tmux';

export const RUNBOOKS = path.join(ROOT, 'docs/runbooks.md');

/** The command lines of the one block titled `title`, comments and blank lines dropped. */
export function runbookBlock(title: string): string[] {
  const text = fs.readFileSync(RUNBOOKS, 'utf8');
  const blocks = [...text.matchAll(/^```sh title="([^"]+)"\n([\s\S]*?)^```$/gm)].filter((m) => m[1] === title);
  if (blocks.length !== 1) throw new Error(`docs/runbooks.md has ${blocks.length} blocks titled ${title}, not 1`);
  return blocks[0]![2]!
    .split('\n')
    .map((l) => l.replace(/(^|\s+)#.*$/, '').trim())
    .filter((l) => l !== '');
}

/**
 * The block's commands as argument lists for runCli / openTerminal, split as a shell splits words
 * (quotes kept together, nothing expanded): the leading `nodetop` dropped,
 * `$NAME` replaced from `vars` (an unknown variable fails the test rather than running `$NAME`).
 */
export function runbookCommands(title: string, vars: Record<string, string | number>): string[][] {
  return runbookBlock(title).map((line) => {
    // quoted as a shell would read it ('heap.used > 85% of limit'), nothing expanded but $NAME
    const words = splitWords(line);
    if (words[0] !== 'nodetop') throw new Error(`${title}: "${line}" is not a nodetop command`);
    return words.slice(1).map((w) =>
      w.replace(/\$([A-Z_]+)/g, (_, name: string) => {
        if (!(name in vars)) throw new Error(`${title}: no value for $${name} in "${line}"`);
        return String(vars[name]);
      }),
    );
  });
}

/**
 * With RUNBOOK_CAPTURE=<dir>, writes what a command printed to <dir>/<name>.txt: the real output
 * the page shows is taken from these files (trimmed by hand), never made up.
 */
export function capture(name: string, text: string): void {
  const dir = process.env.RUNBOOK_CAPTURE;
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}.txt`), text);
}

/**
 * The runbook's live-view command (the block titled `title`) in a real terminal: `look` presses
 * keys and waits for screens, then q must end it with exit 0. The terminal is closed whatever
 * happens.
 */
export async function inLiveView(title: string, vars: Record<string, string | number>, size: { cols: number; rows: number }, look: (term: Terminal) => Promise<void>): Promise<void> {
  const [live] = runbookCommands(title, vars);
  if (!live) throw new Error(`docs/runbooks.md: ${title} has no command`);
  const term = openTerminal(live, size);
  try {
    await look(term);
    term.keys('q');
    assert.equal(await term.exitCode(), 0, term.screen());
  } finally {
    term.close();
  }
}
