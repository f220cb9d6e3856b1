// nodetop export against real targets: a scrape shows the exact handle counts a fixture holds,
// a target that exits loses its series while the exporter goes on, scrapes never sample, and
// --all picks up only processes whose inspector is already open (it never signals one).

import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { listeningSockets } from '../../src/platform/proc';
import { eventually, runCli, startTarget, sinkServer } from '../helpers/target';
import { metricValue, startExporter } from '../helpers/exporter';

describe('nodetop export', () => {
  const sink = sinkServer(before, after);

  it('serves the fixture’s exact handle counts; a target that exits loses its series, the exporter goes on', async () => {
    const t = await startTarget('handles.js', { args: [String(sink.port)], nodeArgs: ['--inspect-port=0'] });
    const other = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    let ex: Awaited<ReturnType<typeof startExporter>> | null = null;
    try {
      ex = await startExporter([String(t.pid), String(other.pid), '--interval', '200ms']);
      const e = ex;
      const pid = String(t.pid);
      const m = await eventually(() => e.scrape(), (r) => metricValue(r.body, 'nodejs_active_resources', { pid, type: 'Timeout' }) !== null, 10_000);
      assert.equal(m.status, 200);
      assert.match(m.type, /^text\/plain; version=0\.0\.4/);
      assert.equal(metricValue(m.body, 'nodejs_active_resources', { pid, type: 'Timeout', thread: 'main' }), 3);
      assert.equal(metricValue(m.body, 'nodejs_active_resources', { pid, type: 'TCPSocketWrap' }), 5);
      assert.equal(metricValue(m.body, 'nodetop_target_up', { pid }), 1);
      assert.ok((metricValue(m.body, 'nodejs_heap_size_used_bytes', { pid }) ?? 0) > 0);
      assert.ok((metricValue(m.body, 'process_resident_memory_bytes', { pid }) ?? 0) > 0);
      assert.ok(metricValue(m.body, 'nodejs_heap_space_size_used_bytes', { pid, space: 'old' }) !== null);
      assert.equal(m.body.match(/^# TYPE nodejs_active_resources gauge$/gm)?.length, 1);

      await t.kill();
      const gone = await eventually(() => e.scrape(), (r) => metricValue(r.body, 'nodetop_target_up', { pid }) === null, 10_000);
      assert.equal(gone.status, 200);
      assert.ok(!gone.body.includes(`pid="${pid}"`), 'no series of the exited target');
      assert.equal(metricValue(gone.body, 'nodetop_target_up', { pid: String(other.pid) }), 1);
      assert.match(e.stderr(), new RegExp(`pid ${pid} exited`));
      assert.equal((await e.scrape('/nope')).status, 404);
    } catch (e) {
      await other.kill(); // the survivor too, or this test process waits for it
      throw e;
    } finally {
      await ex?.stop();
      await t.kill();
    }
    // detached on SIGTERM: the inspector nodetop opened in the survivor is closed again
    const left = await eventually(() => listeningSockets(other.pid), (s) => s.length === 0);
    assert.deepEqual(left, []);
    assert.ok(other.alive());
    await other.kill();
  });

  it('a target that stops answering is served as up 0 with no other series, and comes back', async () => {
    const t = await startTarget('blocked.js', { nodeArgs: ['--inspect=127.0.0.1:0'] }) // open already: the short --timeout is for the samples;
    let ex: Awaited<ReturnType<typeof startExporter>> | null = null;
    try {
      ex = await startExporter([String(t.pid), '--interval', '200ms', '--timeout', '1000ms']);
      const e = ex;
      const pid = String(t.pid);
      await eventually(() => e.scrape(), (r) => metricValue(r.body, 'nodejs_heap_size_used_bytes', { pid }) !== null, 10_000);
      await t.ask('syscall 4000'); // the main thread blocks outside JavaScript: no answer
      const down = await eventually(() => e.scrape(), (r) => metricValue(r.body, 'nodetop_target_up', { pid }) === 0, 10_000);
      assert.equal(metricValue(down.body, 'nodetop_target_up', { pid }), 0);
      assert.equal(metricValue(down.body, 'nodejs_heap_size_used_bytes', { pid }), null);
      const back = await eventually(() => e.scrape(), (r) => metricValue(r.body, 'nodetop_target_up', { pid }) === 1 && metricValue(r.body, 'nodejs_heap_size_used_bytes', { pid }) !== null, 15_000);
      assert.equal(metricValue(back.body, 'nodetop_target_up', { pid }), 1);
      assert.match(e.stderr(), new RegExp(`pid ${pid} is not answering`));
      assert.ok(t.alive());
    } finally {
      await ex?.stop();
      await t.kill();
    }
  });

  it('a scrape never samples: with a 1 h interval, scrapes show the target up and no sampled series', async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    let ex: Awaited<ReturnType<typeof startExporter>> | null = null;
    try {
      ex = await startExporter([String(t.pid), '--interval', '3600s']);
      const e = ex;
      for (let i = 0; i < 5; i++) {
        const r = await e.scrape();
        assert.equal(r.status, 200);
        assert.equal(metricValue(r.body, 'nodetop_target_up', { pid: String(t.pid) }), 1);
        assert.equal(metricValue(r.body, 'nodejs_heap_size_used_bytes', { pid: String(t.pid) }), null);
      }
    } finally {
      await ex?.stop();
      await t.kill();
    }
  });

  it('--all exports processes whose inspector is already open, and never opens one', async () => {
    const open = await startTarget('inspected.js', { nodeArgs: ['--inspect=127.0.0.1:0'] });
    const closed = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    let ex: Awaited<ReturnType<typeof startExporter>> | null = null;
    try {
      ex = await startExporter(['--all', '--interval', '200ms']);
      const e = ex;
      const r = await eventually(() => e.scrape(), (x) => metricValue(x.body, 'nodejs_heap_size_used_bytes', { pid: String(open.pid) }) !== null, 10_000);
      assert.equal(metricValue(r.body, 'nodetop_target_up', { pid: String(open.pid) }), 1);
      assert.equal(metricValue(r.body, 'nodetop_target_up', { pid: String(closed.pid) }), null);
      assert.deepEqual(listeningSockets(closed.pid), [], 'the process without an inspector was not signalled');
    } finally {
      await ex?.stop();
      await open.kill();
      await closed.kill();
    }
  });

  it('--endpoint: exports an inspector given by address, labelled with the pid that answers', async () => {
    const open = await startTarget('inspected.js', { nodeArgs: ['--inspect=127.0.0.1:0'] });
    let ex: Awaited<ReturnType<typeof startExporter>> | null = null;
    try {
      ex = await startExporter(['--endpoint', `127.0.0.1:${open.facts.inspectorPort as number}`, '--interval', '200ms']);
      const e = ex;
      const r = await eventually(() => e.scrape(), (x) => metricValue(x.body, 'nodejs_active_resources', { pid: String(open.pid), type: 'Timeout' }) !== null, 10_000);
      assert.equal(metricValue(r.body, 'nodejs_active_resources', { pid: String(open.pid), type: 'Timeout' }), 1);
    } finally {
      await ex?.stop();
      await open.kill();
    }
  });

  it('refuses a non-loopback --listen without --allow-remote-listen, and bad usage', async () => {
    const r = await runCli(['export', '--all', '--listen', '0.0.0.0:9464']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /refusing to serve metrics on 0\.0\.0\.0/);
    const none = await runCli(['export']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /give pids, --endpoint host:port, or --all/);
  });
});
