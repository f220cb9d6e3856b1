// Ctrl-C and SIGTERM in the middle of a command: detach, close what nodetop opened, and exit
// with the signal's code, not with the error of the call the detach cut short.

import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { listeningSockets } from '../../src/platform/proc';
import { eventually, NODETOP, startTarget } from '../helpers/target';

function runUntilAttached(args: string[], pid: number, signal: NodeJS.Signals): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [NODETOP, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    void eventually(() => listeningSockets(pid).length, (n) => n === 1, 15_000).then(() => setTimeout(() => child.kill(signal), 300));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('interrupted commands', () => {
  it('SIGINT while a call is waiting on a stuck target: exit 130, not the error of the cut call', async () => {
    const t = await startTarget('blocked.js', { nodeArgs: ['--inspect=127.0.0.1:0'] });
    try {
      await t.ask('syscall 15000');
      const child = spawn(process.execPath, [NODETOP, 'stats', String(t.pid), '--window', '100', '--timeout', '20000'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      setTimeout(() => child.kill('SIGINT'), 1000);
      const code = await new Promise<number | null>((r) => child.on('exit', r));
      assert.equal(code, 130, stderr);
      assert.doesNotMatch(stderr, /closed the connection|exited/);
    } finally {
      await t.kill();
    }
  });

  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`${signal} during stats: exit ${code}, nothing else said, the inspector closed again`, async () => {
      const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
      try {
        const r = await runUntilAttached(['stats', String(t.pid), '--window', '20000'], t.pid, signal);
        assert.equal(r.code, code, r.stderr);
        assert.doesNotMatch(r.stderr, /closed the connection|exited/);
        assert.equal(await eventually(() => listeningSockets(t.pid).length, (n) => n === 0), 0);
        assert.ok(t.alive());
      } finally {
        await t.kill();
      }
    });
  }
});
