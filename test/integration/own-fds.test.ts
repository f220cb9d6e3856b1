// process.fds.open and process.threads are the target's own, not nodetop's: the fds and threads
// the test reads in /proc before nodetop attaches are what stats reports, and what nodetop adds
// (its inspector when it opened it, its connection) is reported apart in process.nodetop. Before
// this, stats said +7 fds and +1 thread on Node 20 (issue 22).

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { describe, it } from 'node:test';
import { eventually, parseJson, runCli, startTarget } from '../helpers/target';

interface Stats {
  process: { fds: { open: number }; threads: number; nodetop: { fds: number; threads: number } | null };
  target: { inspector: { openedByNodetop: boolean } };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function unobserved(pid: number): { fds: number; threads: number } {
  return { fds: fs.readdirSync(`/proc/${pid}/fd`).length, threads: fs.readdirSync(`/proc/${pid}/task`).length };
}

describe("nodetop's own fds and threads", () => {
  it('an inspector nodetop opened: its listener, loop fds, connection and io thread are nodetop’s', async () => {
    // 25 connections to itself: 50 sockets, a listener, and Node's own
    const t = await startTarget('fds.js', { args: ['25'] });
    try {
      assert.equal(t.facts.connections, 25);
      const before = unobserved(t.pid);
      assert.ok(before.fds >= 51, `the fixture holds its 51 sockets: ${before.fds} fds`);
      const r = await runCli(['stats', String(t.pid), '--json', '--window', '200ms', '--no-sockets']);
      assert.equal(r.code, 0, r.stderr);
      const s = parseJson<Stats>(r);
      assert.equal(s.target.inspector.openedByNodetop, true);
      assert.equal(s.process.fds.open, before.fds);
      assert.equal(s.process.threads, before.threads);
      // Node 20: listener, epoll, eventfd, a pipe pair, /dev/null, and nodetop's connection; the io thread
      assert.ok(s.process.nodetop !== null && s.process.nodetop.fds >= 2 && s.process.nodetop.threads === 1, JSON.stringify(s.process.nodetop));
      // and all of it goes with nodetop (the inspector closes on its own thread, a moment after nodetop exits)
      assert.deepEqual(await eventually(() => unobserved(t.pid), (u) => u.fds === before.fds && u.threads === before.threads, 10_000), before);
    } finally {
      await t.kill();
    }
  });

  it('an inspector the target opened itself: only the connection is nodetop’s', async () => {
    // a named port: with --inspect=:0 nodetop asks each of the app's loopback ports whether it is
    // the inspector, and the app holds that closed connection until its loop next runs
    const port = await freePort();
    const t = await startTarget('fds.js', { args: ['5'], nodeArgs: [`--inspect=127.0.0.1:${port}`] });
    try {
      const before = unobserved(t.pid);
      const r = await runCli(['stats', String(t.pid), '--json', '--window', '200ms', '--no-sockets']);
      assert.equal(r.code, 0, r.stderr);
      const s = parseJson<Stats>(r);
      assert.equal(s.target.inspector.openedByNodetop, false);
      assert.equal(s.process.fds.open, before.fds);
      assert.equal(s.process.threads, before.threads);
      assert.deepEqual(s.process.nodetop, { fds: 1, threads: 0 });
    } finally {
      await t.kill();
    }
  });
});
