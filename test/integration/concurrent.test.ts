// Many nodetops at once (issue 19 §3): 20 `nodetop stats` started together on 20 idle targets
// with no inspector flags, so every SIGUSR1 binds 9229. They take turns on the host-wide lock
// (src/platform/portlock.ts): all succeed, each reports its own pid, and no inspector is left
// open. Before the lock: none succeeded (exit 6 after ~31 s) and one inspector stayed on 9229.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { Sample } from '../../src/model/sample';
import { listeningSockets } from '../../src/platform/proc';
import { eventually, parseJson, runCli, startTarget, type Target } from '../helpers/target';

describe('20 nodetops at once', () => {
  it('20 stats on 20 fresh targets started together: all exit 0 with their own pid, no inspector left open', async () => {
    const targets: Target[] = [];
    try {
      for (let i = 0; i < 20; i++) targets.push(await startTarget('idle.js'));
      // --timeout 20s: 20 nodetops, their watchdogs and 20 inspectors starting at once on 2 cores
      // (load 10 from other work too) once took over 5 s for one target to reopen its inspector
      const runs = await Promise.all(targets.map((t) => runCli(['stats', String(t.pid), '--json', '--window', '100', '--timeout', '20s'], { hangGuardMs: 180_000 })));
      runs.forEach((r, i) => {
        assert.equal(r.code, 0, `target ${i}: ${r.stderr}`);
        assert.equal(parseJson<Sample>(r).target.pid, targets[i]!.pid);
      });
      const open = await eventually(() => targets.filter((t) => listeningSockets(t.pid).length > 0).length, (n) => n === 0, 5000);
      assert.equal(open, 0, 'no inspector left open');
      for (const t of targets) assert.ok(t.alive());
    } finally {
      for (const t of targets) await t.kill();
    }
  });
});
