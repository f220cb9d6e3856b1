// Runbook 3 (docs/runbooks.md): latency spikes from a blocked event loop. blocked.js spins in
// spinTheWheel(); the runbook's commands, read from the page, name that function: the live
// view's banner, and stats' BLOCKED line with the loop's utilization.
//
// Two targets, one per command: an inspector nodetop opened is closed by a timer in the target a
// moment after detach, and that timer cannot run while the loop is blocked, so a second nodetop
// during the same block finds an open inspector whose record the first one already forgot.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { capture, inLiveView, runbookCommands } from '../helpers/runbook';
import { runCli, startTarget } from '../helpers/target';
import { haveTmux } from '../helpers/tmux';

describe('runbook 3: latency spikes from a blocked event loop', () => {
  it('stats prints the BLOCKED line naming the function, with utilization 1.00', async () => {
    const t = await startTarget('blocked.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      // far longer than the test needs: the target is killed at the end
      await t.ask('block 120000');
      const cmds = runbookCommands('runbook-3', { PID: t.pid });
      assert.deepEqual(
        cmds.map((c) => c[0]),
        ['stats'],
      );
      const r = await runCli(cmds[0]!);
      assert.equal(r.code, 0, r.stderr);
      capture('3-stats', r.stdout);
      assert.match(r.stdout, /^BLOCKED {2}main thread stuck in JavaScript for [\d.]+ \w+:\n {11}at spinTheWheel .*blocked\.js/m);
      // the loop did not turn during the window
      assert.match(r.stdout, /^loop .*utilization 1\.00/m);
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });

  it('the live view shows the red banner with the function', { skip: haveTmux() ? false : 'tmux is not installed' }, async () => {
    const t = await startTarget('blocked.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      await inLiveView('runbook-3-live', { PID: t.pid }, { cols: 100, rows: 30 }, async (term) => {
        await term.waitFor(/Handles/);
        await t.ask('block 120000');
        const s = await term.waitFor(/BLOCKED\s+main thread stuck in JavaScript[\s\S]*spinTheWheel/, 30_000);
        capture('3-live', s);
      });
    } finally {
      await t.kill();
    }
  });
});
