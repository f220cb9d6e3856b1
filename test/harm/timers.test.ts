// nodetop's timers in the target are never cleared from a probe. A probe may run between Node's
// check that a due timer still has a callback and its call of it (inspector messages are served
// at function entries, and an async hook's `before` runs right there); a clearInterval at that
// moment made Node call null and killed the target with "timer._onTimeout is not a function"
// (seen in CI: 1 run in 12 of the 20-at-once test). The fixture is an app with an APM-style
// async hook: before the fix, 40 attach/detach cycles killed it (see the commit).

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { cycle } from '../helpers/harm';
import { startTarget } from '../helpers/target';

describe('timers and probes', () => {
  it('40 attach/detach cycles on an app whose async hook works before every callback: the app lives, and nothing of nodetop stays', async () => {
    const t = await startTarget('apm-hooks.js', { args: ['2'], nodeArgs: ['--inspect-port=0'] });
    try {
      const before = (await t.ask('state')) as { resources: string[] };
      for (let i = 0; i < 40; i++) {
        const s = await cycle(t.pid, 30);
        assert.equal(s.target.pid, t.pid);
        assert.ok(t.alive(), `the app died at cycle ${i}: ${t.stderr()}`);
      }
      // the timers nodetop cleared from a setImmediate are gone by the next turn of the loop
      const after = (await t.ask('state')) as { resources: string[] };
      assert.deepEqual(after.resources, before.resources);
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });
});
