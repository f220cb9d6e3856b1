// nodetop itself SIGKILLed mid-session (no detach runs): the target keeps running, the lease
// removes the instruments and closes the inspector nodetop opened, and the next nodetop
// attaches normally. NODETOP_LEASE_MS (a test hook read by attach) shortens the 60 s lease.

import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { eventually, NODETOP, parseJson, runCli, startTarget } from '../helpers/target';
import { haveTmux, openTerminal } from '../helpers/tmux';
import { ports, portsSettle } from '../helpers/harm';
import type { Sample } from '../../src/model/sample';

describe('nodetop killed with SIGKILL mid-session', () => {
  it('the lease removes the instruments and closes the inspector; the next nodetop attaches', async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const stateBefore = await t.ask('state');
      const portsBefore = ports(t.pid);
      const cli = spawn(process.execPath, [NODETOP, 'stats', String(t.pid), '--window', '30000'], {
        stdio: 'ignore',
        env: { ...process.env, NODETOP_LEASE_MS: '1500' },
      });
      try {
        // attached and installed: the registry symbol is on the target's global
        const installed = await eventually(() => t.ask('state'), (s) => (s.symbols as string[]).includes('Symbol(nodetop)'), 10_000);
        assert.ok((installed.symbols as string[]).includes('Symbol(nodetop)'));
        assert.equal(ports(t.pid).length, portsBefore.length + 1, 'nodetop opened the inspector');
      } finally {
        cli.kill('SIGKILL');
      }
      await new Promise((r) => cli.on('exit', r));
      // after the lease: no instruments, no inspector, same state as before the attach
      const after = await eventually(() => t.ask('state'), (s) => JSON.stringify(s) === JSON.stringify(stateBefore), 10_000);
      assert.deepEqual(after, stateBefore);
      assert.deepEqual(await portsSettle(t.pid, portsBefore, 10_000), portsBefore);
      assert.ok(t.alive());
      // the next nodetop attaches normally, opening the inspector again
      const r = await runCli(['stats', String(t.pid), '--json', '--window', '50']);
      assert.equal(r.code, 0, r.stderr);
      const s = parseJson<Sample>(r);
      assert.equal(s.target.pid, t.pid);
      assert.equal(s.target.inspector.openedByNodetop, true);
      assert.notEqual(s.eventLoop.windowMs, null);
    } finally {
      await t.kill();
    }
  });

  it('the live view SIGKILLed in a real terminal: same clean-up by the lease', { skip: haveTmux() ? false : 'tmux is not installed' }, async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    const preAttach = await t.ask('state');
    const term = openTerminal(['attach', String(t.pid), '--interval', '250'], { cols: 80, rows: 24 }, { NODETOP_LEASE_MS: '1500' });
    try {
      await term.waitFor(/Handles/);
      const stateBefore = await t.ask('state');
      // the nodetop process itself: the only node child of the tmux pane running bin/nodetop.js attach for this pid
      const { execFileSync } = await import('node:child_process');
      const pids = execFileSync('pgrep', ['-f', `nodetop.js attach ${t.pid} `], { encoding: 'utf8' }).trim().split('\n').map(Number);
      assert.equal(pids.length, 1, `one nodetop for pid ${t.pid}: ${pids.join(',')}`);
      assert.ok((stateBefore.symbols as string[]).includes('Symbol(nodetop)'), 'installed while the view runs');
      process.kill(pids[0]!, 'SIGKILL');
      const after = await eventually(() => t.ask('state'), (s) => JSON.stringify(s) === JSON.stringify(preAttach), 10_000);
      assert.deepEqual(after, preAttach, 'the lease removed the instruments: the state is the pre-attach one');
      assert.deepEqual(await portsSettle(t.pid, [], 10_000), [], 'and closed the inspector nodetop opened');
      assert.ok(t.alive());
      const r = await runCli(['stats', String(t.pid), '--window', '50']);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      term.close();
      await t.kill();
    }
  });
});
