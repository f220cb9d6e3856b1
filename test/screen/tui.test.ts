// The real live view in a real terminal (tmux), against a real target, read as text.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listeningSockets } from '../../src/platform/proc';
import { eventually, startTarget, sinkServer } from '../helpers/target';
import { haveTmux, openTerminal } from '../helpers/tmux';

describe('nodetop attach (live view)', { skip: haveTmux() ? false : 'tmux is not installed' }, () => {
  const sink = sinkServer(before, after);

  for (const size of [
    { cols: 80, rows: 24 },
    { cols: 200, rows: 60 },
  ]) {
    it(`shows the target's numbers, switches pages, forces a GC and quits cleanly at ${size.cols}x${size.rows}`, async () => {
      const t = await startTarget('handles.js', { args: [String(sink.port)], nodeArgs: ['--inspect-port=0', '--expose-gc'] });
      const portsBefore = listeningSockets(t.pid).length;
      const term = openTerminal(['attach', String(t.pid), '--interval', '500'], size);
      try {
        let s = await term.waitFor(/handles \d+[\s\S]*Heap used [\d.]+ \w+/);
        const lines = s.replace(/\n$/, '').split('\n');
        // the command is cut to fit (its path depends on where the checkout is); pid and version are not
        assert.match(lines[0] ?? '', new RegExp(`^nodetop {2}pid ${t.pid} {2}\\S`));
        assert.match(lines[0] ?? '', new RegExp(`node ${process.version.replace(/\./g, '\\.')}`));
        assert.ok(lines.every((l) => l.length <= size.cols), 'no line is wider than the terminal');
        assert.equal(lines.length, size.rows);

        term.keys('2');
        s = await term.waitFor(/TYPE\s+KIND\s+COUNT/);
        assert.match(s, /Timeout\s+handle\s+3/);
        assert.match(s, /TCPSocketWrap\s+handle\s+5/);

        // g asks first, with the CLI's estimate of the pause; y goes ahead
        term.keys('g');
        await term.waitFor(/Force a full GC on the main thread of pid \d+\? \[y\/N, a: always\]\s+Heap used [\d.]+ \w+: a pause of ~[\d.]+ ms\./);
        term.keys('y');
        s = await term.waitFor(/GC main: heap [\d.]+ \w+ -> [\d.]+ \w+, freed/);

        term.keys('?');
        await term.waitFor(/force a full GC on the main thread/);
        term.keys('Escape');

        // a resize redraws at the new size
        term.resize(size.cols + 20, size.rows + 6);
        s = await term.waitFor(new RegExp(`^ 1 Overview.{${size.cols + 20 - 26},}(every )?[\\d.]+ m?s`, 'm'));
        assert.equal(s.replace(/\n$/, '').split('\n').length, size.rows + 6);

        term.keys('q');
        assert.equal(await term.exitCode(), 0);
        // the terminal is restored: the alternate screen is gone and the shell's line shows
        assert.doesNotMatch(term.screen(), /q quit/);
        // the inspector nodetop opened is closed again
        assert.equal(await eventually(() => listeningSockets(t.pid).length, (n) => n === portsBefore), portsBefore);
        assert.ok(t.alive());
      } finally {
        term.close();
        await t.kill();
      }
    });
  }

  it('the sockets, workers and pools pages show the target; g and S act on the selected worker', async () => {
    const t = await startTarget('workers.js', { args: ['2', '20'], nodeArgs: ['--inspect-port=0', '--expose-gc'] });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-tui-snap-'));
    const term = openTerminal(['attach', String(t.pid), '--interval', '500', '--yes'], { cols: 140, rows: 40 }, {}, dir);
    try {
      await term.waitFor(/workers 2 \(/);
      term.keys('4');
      let s = await term.waitFor(/ID NAME\s+STATE\s+HEAP/);
      assert.match(s, /^\s+\d+ w1\s+running\s+[\d.]+ MiB/m);
      assert.match(s, /^\s+\d+ w2\s+running\s+[\d.]+ MiB/m);
      // sorted by heap: w2 (40 MiB) first, selected; GC it
      term.keys('g');
      s = await term.waitFor(/GC worker \d+: heap [\d.]+ MiB -> [\d.]+ MiB, freed/);
      term.keys('S');
      // the worker writes its own snapshot: no percentage, what it does and the time so far
      s = await term.waitFor(/heap snapshot: (building|writing [\d.]+ [KM]iB), \d+\.\d s/, 60_000);
      s = await term.waitFor(/snapshot: \S+\.heapsnapshot \([\d.]+ MiB/, 60_000);
      const files = fs.readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot'));
      assert.equal(files.length, 1, `one snapshot in ${dir}: ${files.join(', ')}`);
      assert.equal(fs.statSync(path.join(dir, files[0]!)).mode & 0o777, 0o600);
      term.keys('3');
      await term.waitFor(/connections: TLS 0, TCP 0/);
      term.keys('5');
      await term.waitFor(/POOL\s+ORIGIN\s+IN USE/);
      term.keys('q');
      assert.equal(await term.exitCode(), 0);
    } finally {
      term.close();
      await t.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--readonly refuses the keys that change the target', async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    const term = openTerminal(['attach', String(t.pid), '--readonly'], { cols: 80, rows: 24 });
    try {
      await term.waitFor(/Handles/);
      term.keys('g');
      await term.waitFor(/read-only: this key changes the target/);
      term.keys('q');
      assert.equal(await term.exitCode(), 0);
    } finally {
      term.close();
      await t.kill();
    }
  });

  it('says so when the target exits, keeps the last screen and the event until a key, then exits 8', async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    const term = openTerminal(['attach', String(t.pid), '--interval', '300'], { cols: 80, rows: 24 });
    try {
      await term.waitFor(/Heap used [\d.]+ \w+/);
      await t.kill();
      await term.waitFor(new RegExp(`pid ${t.pid} exited: the last numbers stay; any key quits`));
      // still there well after the 1.5 s the view used to wait before clearing the screen
      await new Promise((r) => setTimeout(r, 3000));
      const s = term.screen();
      assert.match(s, new RegExp(`pid ${t.pid} exited: the last numbers stay`));
      assert.match(s, new RegExp(`\\d\\d:\\d\\d:\\d\\d pid ${t.pid} exited`), 'the event log has the exit');
      assert.match(s, /Heap used [\d.]+ \w+/, 'the last numbers are still on the screen');
      term.keys('x');
      assert.equal(await term.exitCode(), 8);
    } finally {
      term.close();
    }
  });

  it('keeps drawing while the target spins, with the blocked banner and its stack', async () => {
    const t = await startTarget('blocked.js', { nodeArgs: ['--inspect-port=0'] });
    const term = openTerminal(['attach', String(t.pid), '--interval', '300'], { cols: 100, rows: 30 });
    try {
      await term.waitFor(/Handles/);
      await t.ask('block 30000'); // killed at the end: a wide margin on a loaded machine
      // the first blocked screen's window may begin before the block (0.99 in a CI run): a later one is all block
      const s = await term.waitFor(/BLOCKED\s+main thread stuck in JavaScript[\s\S]*spinTheWheel[\s\S]*utilization 1\.00/);
      assert.match(s, /utilization 1\.00/);
      term.keys('q');
      assert.equal(await term.exitCode(), 0);
    } finally {
      term.close();
      await t.kill();
    }
  });

  it('plain mode: NO_COLOR and a non-Unicode terminal draw without colour or block characters', async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    const term = openTerminal(['attach', String(t.pid), '--interval', '300'], { cols: 80, rows: 24 }, { NO_COLOR: '1', LANG: 'C', LC_ALL: 'C' });
    try {
      const s = await term.waitFor(/ELU \d\.\d\d/);
      assert.doesNotMatch(s, /[▁▂▃▄▅▆▇█⠀-⣿]/);
      term.keys('q');
      assert.equal(await term.exitCode(), 0);
    } finally {
      term.close();
      await t.kill();
    }
  });

  it('--cluster shows the primary and every worker, opens a row with Enter, follows workers that come and go', async () => {
    // Started with no inspector flags at all, like a production cluster: nodetop opens each
    // inspector with SIGUSR1 and moves it off 9229 so that the next process can open its own.
    const t = await startTarget('cluster.js', { args: ['2'] });
    const workers = t.facts.workers as number[];
    const term = openTerminal(['attach', '--cluster', String(t.pid), '--interval', '500'], { cols: 120, rows: 30 });
    try {
      let s = await term.waitFor(new RegExp(`cluster of pid ${t.pid}: 3 Node processes`), 20_000);
      for (const pid of [t.pid, ...workers]) await term.waitFor(new RegExp(`^\\s*${pid} +\\d`, 'm'));
      // a new worker appears
      const forked = (await t.ask('fork')).pid as number;
      s = await term.waitFor(new RegExp(`^\\s*${forked} +\\d`, 'm'), 15_000);
      assert.match(s, /4 Node processes/);
      // a worker killed mid-session disappears with a note
      await t.ask(`kill ${workers[0]}`);
      s = await term.waitFor(new RegExp(`pid ${workers[0]} exited`));
      assert.doesNotMatch(s, new RegExp(`^\\s*${workers[0]} `, 'm'));
      // sort by RSS, open the selected row, come back
      term.keys('m');
      await term.waitFor(/RSS▾/);
      term.keys('Enter');
      s = await term.waitFor(/1 Overview\s+2 Handles/);
      assert.match(s, /^nodetop {2}pid \d+/);
      term.keys('Escape');
      await term.waitFor(/cluster of pid/);
      term.keys('q');
      assert.equal(await term.exitCode(), 0);
      // every inspector nodetop opened is closed again
      for (const pid of [t.pid, workers[1]!, forked]) {
        assert.equal(await eventually(() => listeningSockets(pid).length, (n) => n === 0), 0, `pid ${pid}`);
      }
    } finally {
      term.close();
      await t.kill();
    }
  });

  it('with no arguments shows the processes whose inspector is open, and signals none of the others', async () => {
    const open = await startTarget('idle.js', { nodeArgs: ['--inspect=127.0.0.1:0'] });
    const closed = await startTarget('idle.js');
    const term = openTerminal([], { cols: 160, rows: 50 });
    try {
      const s = await term.waitFor(new RegExp(`^\\s*${open.pid} +\\d+ +[\\d.]+ MiB`, 'm'), 20_000);
      assert.match(s, /nodetop {2}this host/);
      assert.match(s, new RegExp(`^\\s*${closed.pid} .*no inspector open: nodetop attach ${closed.pid}`, 'm'));
      term.keys('q');
      assert.equal(await term.exitCode(), 0);
      assert.deepEqual(listeningSockets(closed.pid), [], 'the process nobody named was not signalled');
      assert.equal(listeningSockets(open.pid).length, 1, 'an inspector nodetop did not open stays open');
    } finally {
      term.close();
      await open.kill();
      await closed.kill();
    }
  });

  it('refuses to start without a terminal: exit 2', async () => {
    const { runCli } = await import('../helpers/target');
    const r = await runCli(['attach', '1']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /needs a terminal/);
  });
});
