// A target whose main thread is blocked: in JavaScript (samples still arrive, each bounded, none
// left pending), outside JavaScript (a clean timeout that says what the kernel sees), and one
// SIGKILLed while a sample is waiting for it (exit 8 at once, not a timeout).

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ExitCode, NodetopError } from '../../src/errors';
import { Sampler } from '../../src/sampler';
import { startTarget } from '../helpers/target';
import { attachTo } from '../helpers/harm';

function pendingCalls(att: { session: unknown }): number {
  return (att.session as { pending: Set<unknown> }).pending.size;
}

describe('blocked targets', () => {
  it('spinning in JavaScript: 25 samples in a row all arrive, say where, and leave no call pending', async () => {
    const t = await startTarget('blocked.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const att = await attachTo(t.pid, { timeoutMs: 2000 });
      try {
        const s = new Sampler(att, { blockedAfterMs: 300 });
        await s.baseline();
        await t.ask('block 8000');
        await new Promise((r) => setTimeout(r, 500));
        let blocked = 0;
        for (let i = 0; i < 25; i++) {
          const sample = await s.sample();
          assert.equal(sample.target.pid, t.pid);
          if (sample.eventLoop.blocked) {
            blocked++;
            assert.match(sample.eventLoop.blocked.stack[0] ?? '', /spinTheWheel/);
          }
          assert.equal(pendingCalls(att), 0, `sample ${i}: no call left pending`);
        }
        // the 8 s block outlasts 25 round trips on a loaded machine by far; each that saw it said where
        assert.ok(blocked >= 1, 'the samples saw the block');
      } finally {
        await att.detach();
      }
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });

  it('a block under way at a sample: told as blocked, for about as long as it lasted, and its whole length reaches the lag max and p99', async () => {
    const t = await startTarget('blocked.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const att = await attachTo(t.pid, { timeoutMs: 5000 });
      try {
        const s = new Sampler(att, { blockedAfterMs: 300 });
        await s.baseline();
        // the histograms' first tick is 50 ms after attach; a sample from the loop then resets
        // the window's histogram, and the block starts before its next tick
        await new Promise((r) => setTimeout(r, 200));
        await s.sample();
        const asked = Date.now();
        await t.ask('block 1500');
        await new Promise((r) => setTimeout(r, 700));
        // let in while the loop spins: it has not turned for as long as the block has lasted
        const during = await s.sample();
        const sinceAsked = Date.now() - asked;
        assert.ok(during.eventLoop.blocked, 'the sample saw the block');
        assert.match(during.eventLoop.blocked.stack[0] ?? '', /spinTheWheel/);
        assert.ok(during.eventLoop.blocked.forMs >= 500 && during.eventLoop.blocked.forMs <= sinceAsked + 50, `blocked for ${during.eventLoop.blocked.forMs} ms, ${sinceAsked} ms after asking`);
        // after it: the window that saw the loop turn again holds the whole 1.5 s interval
        await new Promise((r) => setTimeout(r, 1200));
        const after = await s.sample();
        assert.equal(after.eventLoop.blocked, null);
        const max = after.eventLoop.lagMs?.max ?? 0;
        assert.ok(max >= 1400, `lag max ${max} ms after a 1,500 ms block`);
        // and its p99: the block is one interval among the window's few dozen 50 ms ticks
        const p99 = after.eventLoop.lagMs?.p99 ?? 0;
        assert.ok(p99 >= 1400, `lag p99 ${p99} ms after a 1,500 ms block`);
      } finally {
        await att.detach();
      }
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });

  it('blocked in a syscall: the sample times out cleanly (exit 9) with the kernel’s view, then the target recovers', async () => {
    const t = await startTarget('blocked.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const att = await attachTo(t.pid, { timeoutMs: 800 });
      try {
        const s = new Sampler(att);
        await s.baseline();
        await t.ask('syscall 3000');
        await new Promise((r) => setTimeout(r, 200));
        const err = await s.sample().then(
          () => null,
          (e: unknown) => e,
        );
        assert.ok(err instanceof NodetopError, String(err));
        assert.equal(err.exitCode, ExitCode.TargetNotResponding);
        assert.match(err.message, /not answering \(the kernel says: (in|waiting in) \w+|state \w/);
        assert.equal(pendingCalls(att), 0, 'the timed-out call is not counted as pending');
        // once the syscall returns, the queued call is answered and sampling works again
        await new Promise((r) => setTimeout(r, 3500));
        const again = await s.sample();
        assert.equal(again.target.pid, t.pid);
      } finally {
        await att.detach();
      }
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });

  it('SIGKILL of the target while a sample waits for it: exit 8 at once, not a timeout', async () => {
    const t = await startTarget('blocked.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const att = await attachTo(t.pid, { timeoutMs: 30_000 });
      try {
        const s = new Sampler(att);
        await s.baseline();
        await t.ask('syscall 20000');
        await new Promise((r) => setTimeout(r, 200));
        const pending = s.sample().then(
          () => null,
          (e: unknown) => e,
        );
        await new Promise((r) => setTimeout(r, 200));
        await t.kill('SIGKILL');
        const err = await pending;
        assert.ok(err instanceof NodetopError, String(err));
        assert.equal(err.exitCode, ExitCode.TargetExited);
        assert.match(err.message, new RegExp(`pid ${t.pid} exited`));
      } finally {
        await att.detach();
      }
    } finally {
      await t.kill();
    }
  });
});
