// nodetop itself on every Node from its engines minimum (20) to 26: the built CLI run by each
// binary of the matrix, against a target on this machine's Node. And a Node too old to support
// (the witness, 14), to show on a real binary that a part of the sample the target's Node lacks
// is null with a reason while the rest of the sample is read.

import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import type { Sample } from '../../src/model/sample';
import { listeningSockets } from '../../src/platform/proc';
import { eventually, parseJson, runCli, startTarget } from '../helpers/target';
import { CLI_MAJORS, nodeOf, WITNESS_MAJOR } from './nodes';

describe('nodetop itself on each Node it supports', () => {
  for (const major of CLI_MAJORS) {
    const { node, skip } = nodeOf(major);
    it(`runs on Node ${major}${node ? ` (${node.version})` : ''}: stats --json against a target on ${process.version}`, { skip: skip ?? false }, async () => {
      const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
      try {
        const r = await runCli(['stats', String(t.pid), '--json', '--window', '200'], { node: node!.bin });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stderr, '', 'no warning from nodetop or its dependencies on this Node');
        const s = parseJson<Sample>(r);
        assert.equal(s.target.pid, t.pid);
        assert.equal(s.target.nodeVersion, process.version);
        assert.equal(s.handles?.byType.Timeout, 1);
        assert.ok(s.host && s.host.cpus >= 1, 'host read (systeminformation) on this Node');
        const human = await runCli(['stats', String(t.pid), '--window', '100'], { node: node!.bin });
        assert.equal(human.code, 0, human.stderr);
        assert.match(human.stdout, new RegExp(`^pid ${t.pid} `));
        // a user error is still one sentence and its documented exit code
        const gone = await exitedPid();
        const bad = await runCli(['stats', String(gone)], { node: node!.bin });
        assert.equal(bad.code, 3, bad.stderr);
        assert.match(bad.stderr, new RegExp(`^nodetop: no process with pid ${gone}\\n`));
        assert.deepEqual(await eventually(() => listeningSockets(t.pid), (l) => l.length === 0), []);
        assert.ok(t.alive());
      } finally {
        await t.kill();
      }
    });
  }
});

describe(`a target on Node ${WITNESS_MAJOR}, which lacks parts of the sample`, () => {
  const { node, skip } = nodeOf(WITNESS_MAJOR);
  it('reports those parts null with the reason, and reads the rest', { skip: skip ?? false }, async () => {
    const t = await startTarget('idle.js', { node: node!.bin, nodeArgs: ['--inspect-port=0', '--expose-gc'] });
    try {
      const cli = runCli(['stats', String(t.pid), '--json', '--window', '3000']);
      const n = await eventually(() => t.ask('nodetop'), (x) => x.sessions === 1 && x.samples === 1, 15_000);
      assert.deepEqual(n, { reply: 'nodetop', sessions: 1, samples: 1 }, 'the window has begun');
      for (let i = 0; i < 2; i++) await t.ask('gc');
      const r = await cli;
      assert.equal(r.code, 0, r.stderr);
      const s = parseJson<Sample>(r);
      assert.equal(s.target.nodeVersion, `v${node!.version}`);
      assert.equal(s.handles, null, 'no resource list on this Node: null, not 0');
      assert.match(s.unavailable.handles ?? '', /process\.getActiveResourcesInfo\(\) is missing/);
      assert.deepEqual(Object.keys(s.unavailable), ['handles']);
      // the rest is read: requests, memory, the loop, and GC from the pre-`detail` gc entry
      assert.ok(s.requests);
      assert.ok(s.memory.heapUsedBytes! > 0);
      assert.ok(s.eventLoop.lagMs);
      assert.equal(typeof s.eventLoop.utilization, 'number');
      assert.ok(s.gc && s.gc.byKind.major.count >= 2, JSON.stringify(s.gc));
      const human = await runCli(['stats', String(t.pid), '--window', '100']);
      assert.match(human.stdout, /^handles {2}n\/a \(process\.getActiveResourcesInfo\(\) is missing: added in Node 17\.3 and 16\.14\)$/m);
      assert.deepEqual(await eventually(() => listeningSockets(t.pid), (l) => l.length === 0), []);
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });
});

/** The pid of a process that has just exited (and was reaped). */
function exitedPid(): Promise<number> {
  return new Promise((resolve) => {
    const c = spawn('true', [], { stdio: 'ignore' });
    c.on('exit', () => resolve(c.pid!));
  });
}
