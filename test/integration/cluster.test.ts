// --cluster for the scripted commands: the primary and every worker, each with its own session.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { listeningSockets } from '../../src/platform/proc';
import { eventually, runCli, startTarget } from '../helpers/target';

describe('--cluster', () => {
  it('watch --cluster samples the primary and each worker, and closes every inspector it opened', async () => {
    // no inspector flags, like a production cluster: every process is opened with SIGUSR1
    const t = await startTarget('cluster.js', { args: ['2'] });
    const workers = t.facts.workers as number[];
    try {
      const r = await runCli(['watch', '--cluster', String(t.pid), '--count', '2', '--interval', '300', '--json'], { hangGuardMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      // samples only: an event record (a lag spike on a loaded host) may come between them
      const records = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { pid: number; index: number; event?: string })
        .filter((x) => x.event === undefined);
      const pids = [...new Set(records.map((x) => x.pid))].sort((a, b) => a - b);
      assert.deepEqual(pids, [t.pid, ...workers].sort((a, b) => a - b));
      for (const pid of pids) assert.deepEqual(records.filter((x) => x.pid === pid).map((x) => x.index), [0, 1]);
      for (const pid of pids) assert.equal(await eventually(() => listeningSockets(pid).length, (n) => n === 0), 0, `pid ${pid}`);
    } finally {
      await t.kill();
    }
  });

  it('refuses pids and --cluster together: exit 2', async () => {
    const r = await runCli(['watch', '1', '--cluster', '2']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /pids or --cluster, not both/);
  });
});
