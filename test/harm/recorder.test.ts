// Sub-second `watch`: the target takes its own readings on a timer nodetop installs, and nodetop
// collects them about once a second. What is checked: the records (one per interval, each with
// its own window), one round trip per collect rather than per reading, a loop stuck in
// JavaScript still told with its stack, and the timer gone after a detach and after a SIGKILLed
// nodetop's lease, seen as the target's main thread waking no more often than before.

import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { eventually, NODETOP, runCli, startTarget } from '../helpers/target';
import { ports, portsSettle } from '../helpers/harm';
import type { Sample } from '../../src/model/sample';

type Rec = Sample & { index: number; pid: number; recorded?: boolean; skipped: number };

/**
 * Wake-ups in 2 s that a detached target may still have beyond its quiet rate: one CI run saw 4
 * (most likely V8's own deferred work after a session, such as a memory-reducing GC), where a
 * timer nodetop left behind adds 20 (the recorder at 100 ms) or 40 (the histograms at 50 ms).
 */
const LEFTOVER_MARGIN = 8;

/** Times the target's main thread went to sleep and was woken, over `ms`. */
async function wakeups(pid: number, ms: number): Promise<number> {
  const read = (): number => Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8'))?.[1]);
  const a = read();
  await new Promise((r) => setTimeout(r, ms));
  return read() - a;
}

describe('sub-second watch: readings recorded in the target', () => {
  it('--interval 100: a record per interval, each its own window, collected in few round trips; the timer goes with the detach', async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const stateBefore = await t.ask('state');
      // the fixture's own 1 s interval: about one wake-up a second
      const quiet = await wakeups(t.pid, 2000);
      const r = await runCli(['watch', String(t.pid), '--interval', '100', '--duration', '2000', '--json'], { env: { ...process.env, NODETOP_DEBUG: 'protocol' } });
      assert.equal(r.code, 0, r.stderr);
      const recs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Rec);
      // 20 intervals are due within 2 s; the last collect may miss the reading under way
      assert.ok(recs.length >= 18 && recs.length <= 20, `${recs.length} records`);
      assert.deepEqual(recs.map((x) => x.index), recs.map((_, i) => i));
      const times = recs.map((x) => Date.parse(x.time));
      const gaps = times.slice(1).map((x, i) => x - times[i]!);
      assert.ok(gaps.every((g) => g > 0), `times increase: ${gaps.join(',')}`);
      const median = gaps.slice().sort((a, b) => a - b)[Math.floor(gaps.length / 2)]!;
      assert.ok(median >= 90 && median <= 130, `median gap ${median} ms`);
      for (const x of recs) {
        assert.equal(x.recorded, true);
        assert.equal(x.target.pid, t.pid);
        assert.ok(x.eventLoop.windowMs !== null && x.eventLoop.windowMs < 400, `window ${x.eventLoop.windowMs} ms`);
        assert.notEqual(x.eventLoop.lagMs, null);
        assert.equal(x.handles?.byType.Timeout, 1);
      }
      // calls by handle: the baseline, the recorder's start and its collects (about one a second),
      // where sampling each interval would have taken 20
      const byHandle = r.stderr.split('\n').filter((l) => l.includes('-> Runtime.callFunctionOn') && l.includes('function(a){return this(a);}')).length;
      assert.ok(byHandle >= 3 && byHandle <= 6, `${byHandle} calls by handle`);
      // detached: the registry and the inspector are gone, and the main thread sleeps as before
      assert.deepEqual(await eventually(() => t.ask('state'), (s) => JSON.stringify(s) === JSON.stringify(stateBefore)), stateBefore);
      const after = await wakeups(t.pid, 2000);
      assert.ok(after <= quiet + LEFTOVER_MARGIN, `${after} wake-ups in 2 s after the watch, ${quiet} before`);
    } finally {
      await t.kill();
    }
  });

  it('a loop stuck in JavaScript between collects: a record says where, and the whole block reaches the lag max', async () => {
    const t = await startTarget('blocked.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const recs: Rec[] = [];
      const child = spawn(process.execPath, [NODETOP, 'watch', String(t.pid), '--interval', '100', '--duration', '4000', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        let nl;
        while ((nl = out.indexOf('\n')) >= 0) {
          recs.push(JSON.parse(out.slice(0, nl)) as Rec);
          out = out.slice(nl + 1);
        }
      });
      const code = new Promise<number | null>((resolve) => child.on('exit', resolve));
      // the first collect has come: recording runs; block for 1.5 s
      await eventually(() => recs.length, (n) => n > 0, 10_000);
      await t.ask('block 1500');
      assert.equal(await code, 0);
      const blocked = recs.filter((x) => x.eventLoop.blocked);
      assert.ok(blocked.length >= 1, 'a collect let in during the block took a reading that says so');
      assert.match(blocked[0]!.eventLoop.blocked!.stack[0] ?? '', /spinTheWheel/);
      assert.equal(blocked[0]!.recorded, true);
      const maxLag = Math.max(...recs.map((x) => x.eventLoop.lagMs?.max ?? 0));
      assert.ok(maxLag >= 1400, `lag max ${maxLag} ms after a 1,500 ms block`);
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });

  it('nodetop SIGKILLed while recording: the lease stops the recorder with the rest', async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const stateBefore = await t.ask('state');
      const portsBefore = ports(t.pid);
      const quiet = await wakeups(t.pid, 2000);
      const cli = spawn(process.execPath, [NODETOP, 'watch', String(t.pid), '--interval', '50', '--json'], {
        stdio: ['ignore', 'pipe', 'ignore'],
        env: { ...process.env, NODETOP_LEASE_MS: '1500' },
      });
      try {
        // recording: the first collect has been written
        await new Promise<void>((resolve, reject) => {
          cli.stdout.once('data', () => resolve());
          cli.once('exit', () => reject(new Error('nodetop exited before its first collect')));
        });
        // nodetop's timers (the recorder, the delay histograms) wake the target: the measure sees them
        const recording = await wakeups(t.pid, 1000);
        assert.ok(recording >= 15, `${recording} wake-ups in 1 s while recording`);
      } finally {
        cli.kill('SIGKILL');
      }
      await new Promise((r) => cli.on('exit', r));
      assert.deepEqual(await eventually(() => t.ask('state'), (s) => JSON.stringify(s) === JSON.stringify(stateBefore), 10_000), stateBefore);
      assert.deepEqual(await portsSettle(t.pid, portsBefore, 10_000), portsBefore);
      const after = await wakeups(t.pid, 2000);
      assert.ok(after <= quiet + LEFTOVER_MARGIN, `${after} wake-ups in 2 s after the lease, ${quiet} before`);
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });
});
