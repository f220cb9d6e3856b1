// Code nodetop runs in the target never throws into it, whatever the target did to its globals:
// a Date.now that throws for nodetop's own frames crashed the target from the GC observer's
// console discards ("at discardOften (nodetop://probe/install)", exit 1) before they were guarded.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { runCli, startTarget } from '../helpers/target';

describe('a target whose clock throws for nodetop', () => {
  it('survives a watch while it collects often, and nodetop still samples it', async () => {
    const t = await startTarget('hostile-clock.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const r = await runCli(['watch', String(t.pid), '--count', '4', '--interval', '500ms', '--json'], { hangGuardMs: 60_000 });
      assert.ok(t.alive(), `the target died: ${t.stderr()}`);
      // a moment more: the fast discards' timer runs on after the last sample until the detach
      await new Promise((r) => setTimeout(r, 1000));
      assert.ok(t.alive(), `the target died: ${t.stderr()}`);
      assert.doesNotMatch(t.stderr(), /refuses nodetop/);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      await t.kill();
    }
  });
});
