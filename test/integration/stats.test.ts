// nodetop stats against real targets: exact counts the fixtures control, and no trace left.

import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { listeningSockets } from '../../src/platform/proc';
import { eventually, parseJson, runCli, startTarget, sinkServer } from '../helpers/target';
import type { Sample } from '../../src/model/sample';

describe('nodetop stats', () => {
  const sink = sinkServer(before, after);

  it('reports exactly the timers and sockets the target holds, from a process started with no flags', async () => {
    const t = await startTarget('handles.js', { args: [String(sink.port)], nodeArgs: ['--inspect-port=0'] });
    try {
      const r = await runCli(['stats', String(t.pid), '--json', '--window', '300']);
      assert.equal(r.code, 0, r.stderr);
      const s = parseJson<Sample>(r);
      assert.equal(s.schema, 1);
      assert.equal(s.target.pid, t.pid);
      assert.equal(s.handles?.byType.Timeout, 3);
      assert.equal(s.handles?.byType.TCPSocketWrap, 5);
      assert.equal(s.target.inspector.openedByNodetop, true);
      assert.equal(s.target.nodeVersion, process.version);
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });

  it('fills every documented field with a value of the documented type', async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const r = await runCli(['stats', String(t.pid), '--json', '--window', '200']);
      assert.equal(r.code, 0, r.stderr);
      const s = parseJson<Sample>(r);
      assert.ok(!Number.isNaN(Date.parse(s.time)));
      assert.deepEqual(s.target.argv.slice(-1), [require.resolve('../../../test/fixtures/idle.js')]);
      assert.equal(s.target.execPath, process.execPath);
      assert.ok(s.target.uptimeSec > 0);
      assert.match(s.target.inspector.url, /^ws:\/\/127\.0\.0\.1:\d+\//);
      for (const k of ['heapUsedBytes', 'heapTotalBytes', 'heapLimitBytes', 'externalBytes', 'arrayBuffersBytes'] as const) {
        assert.equal(typeof s.memory[k], 'number', k);
        assert.ok((s.memory[k] ?? -1) >= 0, k);
      }
      assert.ok(s.memory.heapUsedBytes! <= s.memory.heapTotalBytes!);
      assert.ok(s.memory.spaces.some((x) => x.name === 'old_space' && x.usedBytes! > 0));
      assert.ok(s.process.rssBytes! > s.memory.heapUsedBytes!);
      assert.equal(typeof s.process.cpuPercent, 'number');
      // fds: compare with what /proc says the target holds right now (stdio pipes, epoll, ...)
      assert.ok(s.process.fds.open! > 3);
      assert.ok(s.process.fds.limit! > s.process.fds.open!);
      assert.ok(s.eventLoop.windowMs! >= 200);
      assert.ok(s.eventLoop.lagMs && s.eventLoop.lagMs.p99 >= s.eventLoop.lagMs.p50);
      assert.ok(s.eventLoop.utilization! >= 0 && s.eventLoop.utilization! < 0.5);
      assert.equal(s.eventLoop.blocked, null);
      assert.ok(s.gc && typeof s.gc.byKind.major.count === 'number');
      assert.ok(s.host && s.host.cpus >= 1 && s.host.memAvailableBytes <= s.host.memTotalBytes);
      assert.equal(s.handles?.byType.Timeout, 1);
      assert.deepEqual(s.unavailable, {}, "every part is available on this machine's Node");
    } finally {
      await t.kill();
    }
  });

  it('counts the GCs the target runs during the window', async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0', '--expose-gc'] });
    try {
      // three full GCs 300 ms after nodetop is installed, inside its window
      const gcs = t.ask('gcWhenWatched 3', 30_000);
      const s = parseJson<Sample>(await runCli(['stats', String(t.pid), '--json', '--window', '1500']));
      assert.equal((await gcs).collected, 3);
      assert.ok(s.gc!.byKind.major.count >= 3, JSON.stringify(s.gc));
      assert.ok(s.gc!.pauseMs > 0);
    } finally {
      await t.kill();
    }
  });

  it('leaves no trace: globals, symbols, listeners, resources and listening ports are as before', async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const before = await t.ask('state');
      const portsBefore = listeningSockets(t.pid).map((s) => s.port).sort();
      for (let i = 0; i < 3; i++) {
        const r = await runCli(['stats', String(t.pid), '--window', '100']);
        assert.equal(r.code, 0, r.stderr);
      }
      // the inspector nodetop opened is closed just after its socket goes
      const portsAfter = await eventually(
        () => listeningSockets(t.pid).map((s) => s.port).sort(),
        (p) => p.length === portsBefore.length,
      );
      assert.deepEqual(portsAfter, portsBefore);
      const afterState = await t.ask('state');
      assert.deepEqual(afterState, before);
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });

  it('keeps the inspector open with --keep-inspector, and a later stats reuses it', async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const portsBefore = listeningSockets(t.pid).length;
      const a = parseJson<Sample>(await runCli(['stats', String(t.pid), '--json', '--window', '50', '--keep-inspector']));
      assert.equal(a.target.inspector.openedByNodetop, true);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(listeningSockets(t.pid).length, portsBefore + 1);
      const b = parseJson<Sample>(await runCli(['stats', String(t.pid), '--json', '--window', '50']));
      assert.equal(b.target.inspector.openedByNodetop, false);
      assert.equal(b.target.inspector.url, a.target.inspector.url);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(listeningSockets(t.pid).length, portsBefore + 1, 'an inspector nodetop did not open stays open');
    } finally {
      await t.kill();
    }
  });

  it('says where the main thread is stuck when it spins in JavaScript', async () => {
    const t = await startTarget('blocked.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      await t.ask('block 30000'); // far longer than the test needs: it is killed at the end
      const r = await runCli(['stats', String(t.pid), '--json', '--window', '1500']);
      assert.equal(r.code, 0, r.stderr);
      const s = parseJson<Sample>(r);
      assert.ok(s.eventLoop.blocked, 'blocked is reported');
      assert.ok(s.eventLoop.blocked.forMs >= 500);
      assert.match(s.eventLoop.blocked.stack[0] ?? '', /spinTheWheel .*blocked\.js/);
      // a second nodetop finds the inspector the first opened (still open: the loop has not
      // turned to close it) and sees the same block
      const human = await runCli(['stats', String(t.pid), '--window', '800']);
      assert.match(human.stdout, /BLOCKED .* stuck in JavaScript/);
      assert.match(human.stdout, /spinTheWheel/);
    } finally {
      await t.kill();
    }
  });

  it('counts a stall that begins the moment its instruments appear, before their timer first ticks', async () => {
    // A delay histogram records from its second tick: a stall before the first is in neither
    // of nodetop's histograms, and the sample has to find it from when the first tick came.
    const t = await startTarget('blocked.js', { nodeArgs: ['--inspect=127.0.0.1:0'] });
    try {
      // 1.5 s: nodetop's next calls (the baseline among them) are let in during the stall, so
      // the window it reports begins inside it, however slow the machine is that moment
      assert.equal((await t.ask('on-attach 1500')).armed, 1500);
      const r = await runCli(['stats', String(t.pid), '--json', '--window', '2000'], { env: { ...process.env, NODETOP_DEBUG: 'protocol' } });
      assert.equal(r.code, 0, r.stderr);
      const lag = parseJson<Sample>(r).eventLoop.lagMs;
      assert.ok(lag, 'the window has a lag reading');
      // the stall, less up to two timer resolutions (50 ms): one for when the first tick came,
      // one taken off every reading (and one to spare)
      const trace = r.stderr.split('\n').filter((l) => / -> | == /.test(l)).map((l) => l.slice(0, 80)).join('\n');
      assert.ok(lag.max >= 1500 - 3 * 50 && lag.max <= 1500 + 300, `lag max ${lag.max} ms for a 1,500 ms stall; nodetop's calls:\n${trace}`);
    } finally {
      await t.kill();
    }
  });

  it('attaches through --endpoint to an inspector that is already open, and checks the pid', async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect=127.0.0.1:0'] });
    const other = await startTarget('idle.js');
    try {
      const ep = /ws:\/\/127\.0\.0\.1:(\d+)\//.exec(t.stderr());
      assert.ok(ep, t.stderr());
      const r = await runCli(['stats', '--endpoint', `127.0.0.1:${ep[1]}`, '--json', '--window', '50']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(parseJson<Sample>(r).target.pid, t.pid);
      // found by pid too, on its random port, without a signal
      const byPid = parseJson<Sample>(await runCli(['stats', String(t.pid), '--json', '--window', '50']));
      assert.equal(byPid.target.inspector.openedByNodetop, false);
      const wrong = await runCli(['stats', String(other.pid), '--endpoint', `127.0.0.1:${ep[1]}`, '--window', '50']);
      assert.equal(wrong.code, 10);
      assert.match(wrong.stderr, new RegExp(`belongs to pid ${t.pid}, not ${other.pid}`));
    } finally {
      await t.kill();
      await other.kill();
    }
  });
});
