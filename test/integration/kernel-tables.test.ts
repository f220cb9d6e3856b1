// The kernel's count of a target's connections (/proc/<pid>/net/tcp{,6}) is read again only when
// the target's set of sockets changes, or 10 s on (src/sampler.ts, readKernel: each read walks
// the namespace's whole connection hash). A connection opened between two samples is in the next.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { attachTo } from '../helpers/harm';
import { startTarget } from '../helpers/target';
import { Sampler } from '../../src/sampler';

describe("the kernel's connections", () => {
  it('follow the target sample by sample while it opens connections', async () => {
    // 4 connections to its own server: 8 established connections in the kernel's tables
    const t = await startTarget('fds.js', { args: ['4'], nodeArgs: ['--inspect-port=0'] });
    const att = await attachTo(t.pid, { timeoutMs: 10_000 });
    try {
      const sampler = new Sampler(att, { net: { top: 10, groups: 50 }, netShare: Infinity });
      await sampler.baseline();
      const first = await sampler.sample();
      assert.equal(first.sockets?.kernel?.total, 8);
      const again = await sampler.sample();
      assert.equal(again.sockets?.kernel?.total, 8);
      assert.equal((await t.ask('more 3')).connections, 7);
      const after = await sampler.sample();
      assert.equal(after.sockets?.kernel?.total, 14);
      assert.equal(after.sockets?.total, 14);
    } finally {
      await att.detach();
      await t.kill();
    }
  });
});
