// Runbook 1 (docs/runbooks.md): memory grows until the process dies. A long-lived Map keeps a
// SessionRecord per connection and never lets go; the runbook's commands, read from the page,
// show that a full GC gives nothing back and that the records are what grew between snapshots.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parseSnapshotFromFile } from 'v8-heapsnapshot';
import { capture, inLiveView, runbookCommands } from '../helpers/runbook';
import { runCli, startTarget } from '../helpers/target';
import { haveTmux } from '../helpers/tmux';

const MiB = 1024 * 1024;
const unit: Record<string, number> = { B: 1, KiB: 1024, MiB, GiB: 1024 * MiB };
const size = (n: string, u: string): number => Number(n) * unit[u]!;

describe('runbook 1: memory grows until the process dies', () => {
  it('gc gives nothing back, and the second snapshot holds exactly the records that leaked', async () => {
    const t = await startTarget('session-leak.js', { args: ['4000'], nodeArgs: ['--inspect-port=0'] });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-runbook1-'));
    try {
      const cmds = runbookCommands('runbook-1', { PID: t.pid });
      assert.deepEqual(
        cmds.map((c) => c[0]),
        ['gc', 'snapshot', 'snapshot', 'heap-diff'],
      );
      const held = 4000 * (t.facts.bytesPerRecord as number);
      // "is it garbage or is it held?": held. What the GC frees is small next to what stays.
      const gc = await runCli(cmds[0]!, { cwd: dir });
      assert.equal(gc.code, 0, gc.stderr);
      capture('1-gc', gc.stderr + gc.stdout);
      const m = /^main thread: heap used ([\d.]+) (\w+) -> ([\d.]+) (\w+), freed ([\d.]+) (\w+)/m.exec(gc.stdout);
      assert.ok(m, gc.stdout);
      const after = size(m[3]!, m[4]!);
      const freed = size(m[5]!, m[6]!);
      assert.ok(after >= held, `heap after the GC ${after / MiB} MiB holds the ${held / MiB} MiB of records`);
      assert.ok(freed < after, `freed ${freed / MiB} MiB, less than what stays (${after / MiB} MiB)`);

      const a = await runCli(cmds[1]!, { cwd: dir, hangGuardMs: 120_000 });
      assert.equal(a.code, 0, a.stderr);
      capture('1-snapshot', a.stderr + a.stdout);
      // the leak goes on between the two snapshots: 3000 more records
      assert.equal((await t.ask('grow 3000')).records, 7000);
      const b = await runCli(cmds[2]!, { cwd: dir, hangGuardMs: 120_000 });
      assert.equal(b.code, 0, b.stderr);
      const files = [cmds[1]!, cmds[2]!].map((c) => path.join(dir, c[c.indexOf('-o') + 1]!));
      for (const f of files) assert.ok(fs.statSync(f).size > 0, f);
      // what the two snapshots hold, counted independently of nodetop: the records that leaked
      const count = async (f: string): Promise<number> => {
        let n = 0;
        for (const node of (await parseSnapshotFromFile(f)).nodes) if (node.type === 'object' && node.name === 'SessionRecord') n++;
        return n;
      };
      assert.equal(await count(files[0]!), 4000);
      assert.equal(await count(files[1]!), 7000);
      // and heap-diff says so: SessionRecord grew by exactly the 3000 that leaked
      const diff = await runCli(cmds[3]!, { cwd: dir, hangGuardMs: 120_000 });
      assert.equal(diff.code, 0, diff.stderr);
      capture('1-heap-diff', diff.stdout);
      assert.match(diff.stdout, /^\s*\+[\d.]+ \w+ +\+3,000 +4,000 → 7,000 .* SessionRecord$/m);
      // and who holds them: the module-level Map, alone. Two nodetop runs took the snapshots, and
      // V8 numbers objects anew for each inspector session: the paths are of all 7,000
      assert.match(diff.stdout, /^who holds them \(all of them in b: the two snapshots number objects differently/m);
      assert.match(diff.stdout, /^ {4}7,000 SessionRecord \([\d.]+ \w+ retained\) <- Map 'registry' <- \(module\) session-leak\.js$/m);
      assert.match(diff.stdout, /^ {4}suspect: Map 'registry' retains [\d.]+ MiB and holds 100% of them alone/m);
      assert.ok(t.alive());
    } finally {
      await t.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the live view: g forces a full GC and the heap stays where it was', { skip: haveTmux() ? false : 'tmux is not installed' }, async () => {
    const t = await startTarget('session-leak.js', { args: ['4000'], nodeArgs: ['--inspect-port=0'] });
    try {
      await inLiveView('runbook-1-live', { PID: t.pid }, { cols: 100, rows: 30 }, async (term) => {
        await term.waitFor(/Heap[\s\S]*used [\d.]+ MiB/);
        term.keys('g');
        await term.waitFor(/\[y\/N, a: always\]/);
        term.keys('y');
        const s = await term.waitFor(/GC (main: )?heap [\d.]+ MiB -> [\d.]+ MiB, freed/);
        capture('1-live', s);
        const m = /GC (?:main: )?heap [\d.]+ MiB -> ([\d.]+) MiB/.exec(s)!;
        assert.ok(Number(m[1]) * MiB >= 4000 * (t.facts.bytesPerRecord as number), s);
      });
    } finally {
      await t.kill();
    }
  });
});
