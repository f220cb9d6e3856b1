// Runbook 6 (docs/runbooks.md): one worker thread eats the memory. workers.js runs two small
// workers (5 and 10 MiB) and then starts a third that holds 80 MiB; the runbook's commands, read
// from the page, must name that worker (stats' rows, the Workers page, key 4) and show with a GC
// of that worker alone that the memory is held, not garbage.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { GcResult } from '../../src/commands/gc';
import { capture, inLiveView, runbookCommands } from '../helpers/runbook';
import { runCli, startTarget } from '../helpers/target';
import { haveTmux } from '../helpers/tmux';

const MiB = 1024 * 1024;
const unit: Record<string, number> = { B: 1, KiB: 1024, MiB, GiB: 1024 * MiB };
const size = (n: string, u: string): number => Number(n) * unit[u]!;

describe('runbook 6: one worker thread eats the memory', () => {
  it('stats and the Workers page name the worker; gc --worker shows it holds its 80 MiB', async () => {
    // --expose-gc: each worker collects what building its arrays left before it says it is up
    const t = await startTarget('workers.js', { args: ['2', '5'], nodeArgs: ['--inspect-port=0', '--expose-gc'] });
    try {
      const big = (await t.ask('spawn 80', 30_000)) as { threadId: number; name: string };
      assert.equal(big.name, 'late3');
      const cmds = runbookCommands('runbook-6', { PID: t.pid, WORKER: big.threadId });
      assert.deepEqual(
        cmds.map((c) => c[0]),
        ['stats', 'gc'],
      );
      const r = await runCli(cmds[0]!);
      assert.equal(r.code, 0, r.stderr);
      capture('6-stats', r.stdout);
      const rows = [...r.stdout.matchAll(/^ {2}#(\d+) (\S+) {2}heap ([\d.]+) (\w+) \//gm)].map((m) => ({ id: Number(m[1]), name: m[2], heap: size(m[3]!, m[4]!) }));
      assert.equal(rows.length, 3, r.stdout);
      const largest = rows.reduce((a, b) => (b.heap > a.heap ? b : a));
      assert.deepEqual([largest.id, largest.name], [big.threadId, 'late3']);
      assert.ok(largest.heap >= 80 * MiB, `${largest.heap / MiB} MiB`);
      for (const w of rows.filter((x) => x !== largest)) assert.ok(w.heap < 30 * MiB, `${w.name} ${w.heap / MiB} MiB`);

      const gc = await runCli(cmds[1]!);
      assert.equal(gc.code, 0, gc.stderr);
      capture('6-gc', gc.stderr + gc.stdout);
      const m = new RegExp(`^worker ${big.threadId}\\b.*heap used ([\\d.]+) (\\w+) -> ([\\d.]+) (\\w+), freed`, 'm').exec(gc.stdout);
      assert.ok(m, gc.stdout);
      assert.ok(size(m[3]!, m[4]!) >= 80 * MiB, m[0]);
      const json = await runCli([...cmds[1]!, '--json']);
      const g = JSON.parse(json.stdout) as GcResult;
      assert.deepEqual(
        g.isolates.map((i) => i.threadId),
        [big.threadId],
        'only that worker was paused',
      );

      if (haveTmux()) {
        await inLiveView('runbook-6-live', { PID: t.pid }, { cols: 120, rows: 30 }, async (term) => {
          await term.waitFor(/Handles/);
          term.keys('4');
          // sorted by heap: the 80 MiB worker is the first row
          const screen = await term.waitFor(/ID NAME\s+STATE\s+HEAP.*\n\s+\d+ late3\s+running\s+[\d.]+ MiB/);
          capture('6-live', screen);
          assert.match(screen, new RegExp(`^\\s+${big.threadId} late3\\s+running\\s+(8\\d|9\\d)\\.?\\d* MiB`, 'm'));
        });
      }
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });
});
