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
      // SIGUSR1 opened 9229; nodetop moved it to a free port so 9229 stays free for others
      assert.doesNotMatch(s.target.inspector.url, /:9229\//);
      assert.deepEqual(await eventually(() => listeningSockets(t.pid), (l) => l.length === 0), []);
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });

  it('attaches to two processes started with no flags at the same time (9229 is not held)', async () => {
    const a = await startTarget('idle.js');
    const b = await startTarget('idle.js');
    try {
      const long = runCli(['stats', String(a.pid), '--json', '--window', '3000']);
      // while nodetop is attached to a, b can be opened too
      await eventually(() => listeningSockets(a.pid).length, (n) => n === 1);
      const rb = await runCli(['stats', String(b.pid), '--json', '--window', '100']);
      assert.equal(rb.code, 0, rb.stderr);
      assert.equal(parseJson<Sample>(rb).target.pid, b.pid);
      const ra = await long;
      assert.equal(ra.code, 0, ra.stderr);
      assert.equal(parseJson<Sample>(ra).target.pid, a.pid);
      assert.deepEqual(await eventually(() => listeningSockets(a.pid).length + listeningSockets(b.pid).length, (n) => n === 0), 0);
    } finally {
      await a.kill();
      await b.kill();
    }
  });

  it('a second nodetop finds the inspector the first one opened and moved, and the last to leave closes it', async () => {
    const t = await startTarget('idle.js');
    try {
      const first = runCli(['stats', String(t.pid), '--json', '--window', '3000']);
      await eventually(() => listeningSockets(t.pid).length, (n) => n === 1);
      const second = await runCli(['stats', String(t.pid), '--json', '--window', '100']);
      assert.equal(second.code, 0, second.stderr);
      const b = parseJson<Sample>(second);
      assert.equal(b.target.inspector.openedByNodetop, false, 'the second found it open');
      // the second left while the first stays: still open
      assert.equal(listeningSockets(t.pid).length, 1);
      const a = parseJson<Sample>(await first);
      assert.equal(a.target.inspector.url, b.target.inspector.url);
      assert.equal(await eventually(() => listeningSockets(t.pid).length, (n) => n === 0), 0);
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
