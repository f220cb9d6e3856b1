// Numbers that two commands print for the same process agree (issue 25): `watch`'s line against
// `stats --json` and `export`'s /metrics, on a fixture whose counts do not move while it idles.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { runCli, startTarget } from '../helpers/target';
import type { Sample } from '../../src/model/sample';

describe('the same process, two commands', () => {
  it('watch SOCKETS counts connections as stats does: a listening server with no client is 0', async () => {
    const t = await startTarget('http-server.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const w = await runCli(['watch', String(t.pid), '--count', '1', '--fields', 'pid,sockets,handles']);
      assert.equal(w.code, 0, w.stderr);
      const [pid, sockets, handles] = w.stdout.trimEnd().split('\n')[1]!.trim().split(/\s+/);
      assert.equal(Number(pid), t.pid);
      const s = await runCli(['stats', String(t.pid), '--json', '--window', '100']);
      assert.equal(s.code, 0, s.stderr);
      const sample = JSON.parse(s.stdout) as Sample;
      assert.equal(sample.sockets?.total, 0, 'stats: the listening server is not a connection');
      assert.equal(Number(sockets), sample.sockets?.total, `watch SOCKETS ${sockets}, stats sockets.total ${sample.sockets?.total}`);
      assert.equal(Number(handles), sample.handles?.total, 'HANDLES and handles.total');
    } finally {
      await t.kill();
    }
  });

  it('watch TIME has milliseconds: three samples 300 ms apart show three different times', async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const w = await runCli(['watch', String(t.pid), '--count', '3', '--interval', '300ms', '--fields', 'time,pid']);
      assert.equal(w.code, 0, w.stderr);
      // sample lines only: an event (a lag spike on a loaded machine) is a line of its own, with its text after the PID
      const times = w.stdout.trimEnd().split('\n').slice(1).map((l) => l.trim().split(/\s+/)).filter((f) => f.length === 2).map((f) => f[0]!);
      assert.equal(times.length, 3, w.stdout);
      for (const x of times) assert.match(x, /^\d\d:\d\d:\d\d\.\d{3}$/);
      // three times within one second span at most two whole seconds: with 1 s resolution two repeat
      assert.equal(new Set(times).size, 3, w.stdout);
    } finally {
      await t.kill();
    }
  });
});
