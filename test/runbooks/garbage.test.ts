// Runbook 2 (docs/runbooks.md): memory that is garbage but not collected. garbage.js has just
// dropped 100 MiB of large arrays that only a full GC frees and holds 30 MiB; the runbook's
// commands, read from the page, show the heap high, then a full GC taking the 100 MiB back.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { capture, inLiveView, runbookCommands } from '../helpers/runbook';
import { runCli, startTarget } from '../helpers/target';
import { haveTmux } from '../helpers/tmux';

const MiB = 1024 * 1024;
const unit: Record<string, number> = { B: 1, KiB: 1024, MiB, GiB: 1024 * MiB };
const size = (n: string, u: string): number => Number(n) * unit[u]!;

describe('runbook 2: garbage that is not collected', () => {
  it('stats shows the heap high in the large-object space; gc frees the dropped 100 MiB and keeps the 30 held', async () => {
    // --expose-gc --no-memory-reducer: the fixture's own full GC before the drop, and no GC that
    // V8's memory reducer could start while the test runs (see garbage.js)
    const t = await startTarget('garbage.js', { args: ['100', '30'], nodeArgs: ['--inspect-port=0', '--expose-gc', '--no-memory-reducer'] });
    try {
      const cmds = runbookCommands('runbook-2', { PID: t.pid });
      assert.deepEqual(
        cmds.map((c) => c[0]),
        ['stats', 'gc'],
      );
      const stats = await runCli(cmds[0]!);
      assert.equal(stats.code, 0, stats.stderr);
      capture('2-stats', stats.stdout);
      const heap = /^heap +used ([\d.]+) (\w+)/m.exec(stats.stdout);
      assert.ok(heap, stats.stdout);
      assert.ok(size(heap[1]!, heap[2]!) >= 130 * MiB, stats.stdout);
      const lo = /large_object ([\d.]+) (\w+)/.exec(stats.stdout);
      assert.ok(lo && size(lo[1]!, lo[2]!) >= 125 * MiB, stats.stdout);

      const gc = await runCli(cmds[1]!);
      assert.equal(gc.code, 0, gc.stderr);
      capture('2-gc', gc.stderr + gc.stdout);
      const m = /^main thread: heap used ([\d.]+) (\w+) -> ([\d.]+) (\w+), freed ([\d.]+) (\w+)/m.exec(gc.stdout);
      assert.ok(m, gc.stdout);
      const freed = size(m[5]!, m[6]!);
      const after = size(m[3]!, m[4]!);
      // the 100 MiB dropped come back (allow 10%), the 30 MiB held stay
      assert.ok(freed >= 90 * MiB && freed < 110 * MiB, `freed ${freed / MiB} MiB`);
      assert.ok(after >= 30 * MiB && after < 60 * MiB, `after ${after / MiB} MiB`);
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });

  it('the live view: g frees the 100 MiB and the status line says so', { skip: haveTmux() ? false : 'tmux is not installed' }, async () => {
    const t = await startTarget('garbage.js', { args: ['100', '30'], nodeArgs: ['--inspect-port=0', '--expose-gc', '--no-memory-reducer'] });
    try {
      await inLiveView('runbook-2-live', { PID: t.pid }, { cols: 100, rows: 30 }, async (term) => {
        await term.waitFor(/Heap[\s\S]*used [\d.]+ MiB/);
        term.keys('g');
        await term.waitFor(/\[y\/N, a: always\]/);
        term.keys('y');
        const s = await term.waitFor(/GC (?:main: )?heap [\d.]+ MiB -> [\d.]+ MiB, freed ([\d.]+) MiB/);
        capture('2-live', s);
        const freed = Number(/freed ([\d.]+) MiB/.exec(s)![1]);
        assert.ok(freed >= 90 && freed < 110, s);
      });
    } finally {
      await t.kill();
    }
  });
});
