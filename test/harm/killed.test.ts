// nodetop itself SIGKILLed mid-session (no detach runs): the target keeps running, the lease
// removes the instruments and closes the inspector nodetop opened, and the next nodetop
// attaches normally. NODETOP_LEASE_MS (a test hook read by attach) shortens the 60 s lease.

import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { eventually, NODETOP, parseJson, runCli, startTarget } from '../helpers/target';
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
});
