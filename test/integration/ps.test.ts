// nodetop ps against real processes: two Node fixtures (one with its inspector open) and one
// process that is not Node. ps must list exactly the Node ones, with the right inspector state,
// and must not open anything (no SIGUSR1: the closed one still listens on nothing afterwards).

import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { listeningSockets } from '../../src/platform/proc';
import type { NodeProcess } from '../../src/platform/ps';
import { parseJson, runCli, startTarget } from '../helpers/target';

describe('nodetop ps', () => {
  it('lists both Node fixtures with their inspector state, not a non-Node process, and opens nothing', async () => {
    const closed = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    const open = await startTarget('inspected.js', { nodeArgs: ['--inspect=127.0.0.1:0'] });
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const port = open.facts.inspectorPort as number;
      assert.ok(port > 0, 'the fixture has an inspector port');
      const r = await runCli(['ps', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const list = parseJson<NodeProcess[]>(r);
      const byPid = new Map(list.map((p) => [p.pid, p]));

      const c = byPid.get(closed.pid);
      assert.ok(c, `pid ${closed.pid} listed`);
      assert.equal(c.inspector.state, 'none');
      assert.deepEqual(c.inspector.ports, []);
      assert.equal(c.ppid, process.pid);
      assert.equal(c.uid, process.getuid!());
      assert.deepEqual(c.argv.slice(1), ['--inspect-port=0', require.resolve('../../../test/fixtures/idle.js')]);
      assert.ok(c.rssBytes > 0);
      assert.ok(c.uptimeSec >= 0);
      assert.equal(typeof c.cpuPercent, 'number');
      assert.equal(typeof c.cpuWindowMs, 'number');

      const o = byPid.get(open.pid);
      assert.ok(o, `pid ${open.pid} listed`);
      assert.equal(o.inspector.state, 'likely');
      assert.deepEqual(o.inspector.ports, [port]);

      assert.ok(!byPid.has(other.pid!), 'sleep is not listed');

      // ps sent nothing: the fixture without an inspector still listens on no port
      assert.deepEqual(listeningSockets(closed.pid), []);

      const h = await runCli(['ps']);
      assert.equal(h.code, 0, h.stderr);
      const lines = h.stdout.trim().split('\n');
      assert.match(lines[0] ?? '', /^\s*PID\s+PPID\s+USER\s+CONTAINER\s+CPU\s+RSS\s+UP\s+INSPECTOR\s+COMMAND$/);
      const lo = lines.find((l) => l.trimStart().startsWith(`${open.pid} `));
      assert.ok(lo, h.stdout);
      assert.match(lo, new RegExp(`\\b${port} \\(likely\\)`));
      const lc = lines.find((l) => l.trimStart().startsWith(`${closed.pid} `));
      assert.ok(lc, h.stdout);
      assert.match(lc, / - +\S*node /);
    } finally {
      other.kill('SIGKILL');
      await closed.kill();
      await open.kill();
    }
  });

  // A process at 100% in top read 330-470% beside 36-46 Node processes: the second /proc
  // reading came after the slow work for earlier processes (their sockets and fds), divided by
  // the sleep alone. Here 12 processes with 920 fds each make that work slow, and the CPU-bound
  // fixture (about 75% of one core: 15 ms of every 20) starts last, so it is read last.
  it('measures each process over its own window: a busy process among many reads no more than one core', async () => {
    const crowd = [];
    try {
      for (let i = 0; i < 12; i++) crowd.push(await startTarget('fds.js', { args: ['460'] }));
      const hot = await startTarget('hot.js');
      crowd.push(hot);
      for (let round = 0; round < 2; round++) {
        const r = await runCli(['ps', '--json']);
        assert.equal(r.code, 0, r.stderr);
        const list = parseJson<NodeProcess[]>(r);
        const h = list.find((p) => p.pid === hot.pid)!;
        assert.ok(h, 'the hot fixture is listed');
        // one busy thread: at most one core, with a tick of slack at each end of the window (how
        // much it gets of a shared machine is not the fixture's to say: more than nothing)
        assert.ok(h.cpuPercent! > 0 && h.cpuPercent! <= 110, `hot fixture read ${h.cpuPercent}% over ${h.cpuWindowMs} ms`);
        for (const p of list) assert.ok(p.cpuPercent === null || p.cpuPercent <= 110 * p.threads, `pid ${p.pid}: ${p.cpuPercent}%`);
      }
    } finally {
      for (const t of crowd) await t.kill();
    }
  });
});
