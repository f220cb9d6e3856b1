// The default inspector port, 9229: a process started with no flags at all, and what happens
// when another process already holds 9229. Kept in one file because both need port 9229.

import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { describe, it } from 'node:test';
import { listeningSockets } from '../../src/platform/proc';
import type { Sample } from '../../src/model/sample';
import { eventually, parseJson, runCli, startTarget } from '../helpers/target';

describe('opening the inspector with SIGUSR1 on 9229', () => {
  it('attaches to a process started with no flags, and closes the port again', async () => {
    const t = await startTarget('idle.js');
    try {
      assert.deepEqual(listeningSockets(t.pid), []);
      const r = await runCli(['stats', String(t.pid), '--json', '--window', '100']);
      assert.equal(r.code, 0, r.stderr);
      const s = parseJson<Sample>(r);
      assert.equal(s.target.pid, t.pid);
      assert.match(s.target.inspector.url, /:9229\//);
      assert.deepEqual(await eventually(() => listeningSockets(t.pid), (l) => l.length === 0), []);
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });

  it('names the process that holds 9229 instead of talking to it: exit 6', async () => {
    const squatter = await startTarget('idle.js', { nodeArgs: ['--inspect=127.0.0.1:9229'] });
    const t = await startTarget('idle.js');
    try {
      const r = await runCli(['stats', String(t.pid), '--timeout', '1500']);
      assert.equal(r.code, 6, r.stderr);
      assert.match(r.stderr, new RegExp(`port 9229 is already held by pid ${squatter.pid}`));
      assert.match(r.stderr, /--inspect-port=0/);
      assert.ok(t.alive());
    } finally {
      await t.kill();
      await squatter.kill();
    }
  });

  it('a plain TCP server on 9229 in this very process is named too', async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(9229, '127.0.0.1', r));
    const t = await startTarget('idle.js');
    try {
      const r = await runCli(['stats', String(t.pid), '--timeout', '1000']);
      assert.equal(r.code, 6, r.stderr);
      assert.match(r.stderr, new RegExp(`held by pid ${process.pid}`));
    } finally {
      await t.kill();
      srv.close();
    }
  });
});
