// Every nodetop command in a fenced block of README.md and docs/*.md is run here against a real
// fixture, as the page writes it, so the docs cannot drift from the tool (issue 25). What is
// substituted, and only that: pids (the page's numbers, `$PID`, `$!`) become fixtures' pids, an
// inspector's `127.0.0.1:PORT` becomes a fixture's open inspector, an absolute path a path under
// a scratch directory, which holds the `.heapsnapshot` files the page names. A command that
// prints output on the page must print the same first words (up to its first number). A page
// may show a failure only with a reason below and a test elsewhere that asserts it.

import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DOC_FILES, docCommands, type DocCommand } from '../helpers/doccommands';
import { NODETOP, runCli, startTarget, type Target } from '../helpers/target';
import { haveTmux, openTerminal } from '../helpers/tmux';

/** Lines that cannot run against a plain fixture, each with where it is tested instead. */
const ELSEWHERE: Record<string, string> = {
  'stats 6306': 'the error a non-root nodetop gets for a container: test/integration/containers.test.ts asserts that sentence',
  'stats 6574': 'the refusal of a wrapper (npm start): test/integration/wrappers.test.ts asserts that sentence against a real npm start',
};

const STACK = /^\s+at .+:\d+:\d+\)?$/m;

/**
 * What a command that runs until Ctrl-C prints once it works: export serves its targets; watch
 * with no --count or --duration (a trigger waiting for its condition) prints its samples.
 */
function untilCtrlC(words: string[]): RegExp | null {
  if (words[0] === 'export') return /serving http:\/\/[\d.:]+\/metrics \([1-9]\d* targets?\)/;
  if (words[0] === 'watch' && !words.includes('--count') && !words.includes('--duration')) return words.includes('--json') ? /^\{"index":0,/m : /^TIME .*\n.*\d/m;
  return null;
}
const collapse = (s: string): string => s.replace(/\s+/g, ' ').trim();

describe('every nodetop command the docs show runs as written', () => {
  let scratch = '';
  const targets: Target[] = [];
  before(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-docs-'));
    // the snapshots the pages compare: two of one small process, the second holding more
    for (const [file, n] of [['a.heapsnapshot', 0], ['b.heapsnapshot', 20000], ['before.heapsnapshot', 0], ['after.heapsnapshot', 20000]] as const) {
      const code = `class LeakyThing { constructor(i) { this.i = i } } globalThis.k = []; for (let i = 0; i < ${n}; i++) k.push(new LeakyThing(i)); require('v8').writeHeapSnapshot(${JSON.stringify(file)})`;
      assert.equal(spawnSync(process.execPath, ['-e', code], { cwd: scratch, stdio: 'ignore' }).status, 0);
    }
  });
  after(async () => {
    for (const t of targets) await t.kill();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  /** The page's words with its pids, endpoints and paths made real. */
  async function realWords(c: DocCommand): Promise<string[]> {
    const pids = new Map<string, number>();
    const out: string[] = [];
    let optionsBegun = false;
    if (c.words.includes('--all')) {
      // --all finds what already has its inspector open: one fixture that has
      const t = await startTarget('idle.js', { nodeArgs: ['--inspect=127.0.0.1:0'] });
      targets.push(t);
    }
    for (const w of c.words) {
      if (w.startsWith('-')) optionsBegun = true;
      if (w === '$PID' || w === '$!' || (!optionsBegun && /^\d+$/.test(w))) {
        if (!pids.has(w)) {
          const t = await startTarget('idle.js');
          targets.push(t);
          pids.set(w, t.pid);
        }
        out.push(String(pids.get(w)));
      } else if (/^127\.0\.0\.1:\d+$/.test(w)) {
        const t = await startTarget('idle.js', { nodeArgs: ['--inspect=127.0.0.1:0'] });
        targets.push(t);
        const port = /ws:\/\/127\.0\.0\.1:(\d+)\//.exec(t.stderr())?.[1];
        assert.ok(port, `no inspector port in ${t.stderr()}`);
        out.push(`127.0.0.1:${port}`);
      } else if (w.startsWith('/') && !w.startsWith('/dev/')) {
        const p = path.join(scratch, w);
        fs.mkdirSync(path.extname(p) ? path.dirname(p) : p, { recursive: true });
        out.push(p);
      } else if (/^\$[A-Z_]+$/.test(w)) {
        assert.fail(`${c.where}: no value for ${w}: give it one in test/docs/commands.test.ts`);
      } else out.push(w);
    }
    return out;
  }

  /** What the page shows first, up to its first number, is what nodetop prints. */
  function sameWords(c: DocCommand, printed: string): void {
    const first = c.shown.find((l) => l.trim() !== '');
    if (!first) return;
    const prefix = collapse(first.split(/\d/)[0]!);
    assert.ok(collapse(printed).includes(prefix), `${c.where}: the page shows "${prefix}…", nodetop printed:\n${printed}`);
  }

  for (const file of DOC_FILES) {
    for (const c of docCommands(file)) {
      const skip = ELSEWHERE[c.words.join(' ')];
      const live = c.words.length === 0 || c.words[0] === 'attach' || c.words[0] === 'demo';
      it(`${c.where}: nodetop ${c.words.join(' ')}`, { skip: skip ?? (live && !haveTmux() ? 'tmux is not installed' : false) }, async () => {
        const words = await realWords(c);
        if (live) {
          // the live view, in a real terminal: its header, then q
          const term = openTerminal(words, { cols: 120, rows: 40 }, {}, scratch);
          try {
            await term.waitFor(/^nodetop {2}(pid \d+|\d+ processes)/m, 30_000);
            term.keys('q');
            assert.equal(await term.exitCode(), 0, term.screen());
          } finally {
            term.close();
          }
          return;
        }
        const ready = untilCtrlC(c.words);
        if (ready) {
          // it runs until Ctrl-C: once it has shown it works, Ctrl-C ends it (130, as documented)
          const child = spawn(process.execPath, [NODETOP, ...words], { cwd: scratch, stdio: ['ignore', 'pipe', 'pipe'] });
          let printed = '';
          child.stdout.on('data', (d: Buffer) => (printed += d.toString()));
          child.stderr.on('data', (d: Buffer) => (printed += d.toString()));
          let exited: number | null | undefined;
          const code = new Promise<number | null>((r) =>
            child.on('exit', (n) => {
              exited = n;
              r(n);
            }),
          );
          const end = Date.now() + 30_000;
          while (!ready.test(printed) && exited === undefined && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
          child.kill('SIGINT');
          assert.match(printed, ready, `${c.where}: exit ${exited}`);
          assert.equal(await code, 130, printed);
          assert.doesNotMatch(printed, STACK);
          return;
        }
        const r = await runCli(words, { cwd: scratch, hangGuardMs: 120_000 });
        assert.equal(r.code, 0, `${c.where}: exit ${r.code}\n${r.stderr}`);
        assert.doesNotMatch(r.stderr, STACK);
        assert.doesNotMatch(r.stderr, /please report/);
        sameWords(c, r.stdout + r.stderr);
      });
    }
  }
});
