// Targets that set up the inspector or SIGUSR1 themselves: each gets a correct, explained outcome.
// (--disable-sigusr1 is covered with the Node version matrix.)

import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { describe, it } from 'node:test';
import type { Sample } from '../../src/model/sample';
import { parseJson, runCli, startTarget } from '../helpers/target';
import { ports } from '../helpers/harm';

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('targets with their own SIGUSR1 handler or inspector', () => {
  it('its own SIGUSR1 handler: Node does not open the inspector; nodetop says so (exit 6), the target lives', async () => {
    const t = await startTarget('sigusr1-handler.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const stateBefore = await t.ask('state');
      const r = await runCli(['stats', String(t.pid), '--window', '50', '--timeout', '1500']);
      assert.equal(r.code, 6, r.stderr);
      assert.match(r.stderr, new RegExp(`pid ${t.pid} handles SIGUSR1 itself`));
      assert.doesNotMatch(r.stderr, /\n\s+at /);
      // the signal reached the application's handler once (documented), and nothing else changed
      assert.equal((await t.ask('received')).received, 1);
      assert.deepEqual(ports(t.pid), []);
      assert.deepEqual(await t.ask('state'), stateBefore);
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });

  it('--inspect on a fixed port: found without a signal, used, and left open', async () => {
    const port = await freePort();
    const t = await startTarget('sigusr1-handler.js', { nodeArgs: [`--inspect=127.0.0.1:${port}`] });
    try {
      assert.deepEqual(ports(t.pid), [port]);
      const r = await runCli(['stats', String(t.pid), '--json', '--window', '50']);
      assert.equal(r.code, 0, r.stderr);
      const s = parseJson<Sample>(r);
      assert.equal(s.target.pid, t.pid);
      assert.equal(s.target.inspector.openedByNodetop, false);
      assert.match(s.target.inspector.url, new RegExp(`^ws://127\\.0\\.0\\.1:${port}/`));
      assert.equal((await t.ask('received')).received, 0, 'no signal was sent');
      await new Promise((r2) => setTimeout(r2, 300));
      assert.deepEqual(ports(t.pid), [port], 'an inspector nodetop did not open stays open');
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });
});
