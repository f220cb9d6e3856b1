// Attaching must not kill a process that logs (issue 19): the service of
// test/fixtures/chatty-logger.js (--max-old-space-size=200, an 800 KiB array through console.log
// every 10 ms) stays at a few MiB unobserved; while an inspector is open V8 keeps console
// arguments alive, and under `watch` it went from 4 to 316 MiB and died ("Reached heap limit").
// It must survive 60 s of `watch`, of the live view, and of a nodetop killed with SIGKILL (its
// instruments' lease expiring in the middle), its heap within 2x of unobserved. Measured: with a
// discard after each GC 2.9-4.4x; with discards every 10 ms while GCs are frequent, at the end of
// the loop's turn (src/probes/install.ts), 1.2-2.1x one unobserved twin (8 of 9 under 2x). What
// is left is V8 sizing the young generation: the more survives a scavenge, the larger new space
// grows, and the more 800 KiB arrays wait in it for the next one. Unobserved twins themselves
// ran with 2 or 8 MiB of new space and peaked 6.8-12.1 MiB; under `watch`, 16; a target whose own
// in-process session discards every 10 ms, without nodetop, grew to 8 beside a twin at 2. So "unobserved" is a range: the
// observed peak is held to 2x the higher of two unobserved twins measured over the same seconds.
// Without the discards it died within 20 s.

import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { NODETOP, startTarget, type Target } from '../helpers/target';
import { haveTmux, openTerminal } from '../helpers/tmux';

const OBSERVED_MS = 60_000;
const MiB = 1024 * 1024;

function start(): Promise<Target> {
  return startTarget('chatty-logger.js', { nodeArgs: ['--max-old-space-size=200', '--inspect-port=0'] });
}

/** The target's largest heapUsed, read by the target itself every 250 ms for `ms` (not through the inspector). */
async function maxHeap(t: Target, ms: number): Promise<number> {
  let max = 0;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!t.alive()) throw new Error(`the target died: ${t.stderr().split('\n').slice(-6).join(' | ')}`);
    max = Math.max(max, Number((await t.ask('heap')).heapUsed));
    await new Promise((r) => setTimeout(r, 250));
  }
  return max;
}

async function attached(t: Target): Promise<void> {
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    if (Number((await t.ask('nodetop')).sessions) > 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('nodetop never installed its instruments');
}

/** Two unobserved twins, started with the observed target. */
async function twins(): Promise<[Target, Target]> {
  return [await start(), await start()];
}

/**
 * The observed target's largest heapUsed over 60 s beside the higher of two unobserved twins'
 * over the same seconds: a baseline taken at another moment, or from one twin, makes the 2x
 * bound a lottery (see the top of this file).
 */
async function beside([a, b]: [Target, Target], t: Target): Promise<[number, number, number]> {
  const [ha, hb, got] = await Promise.all([maxHeap(a, OBSERVED_MS), maxHeap(b, OBSERVED_MS), maxHeap(t, OBSERVED_MS)]);
  return [ha, hb, got];
}

function check(what: string, ha: number, hb: number, got: number): void {
  const base = Math.max(ha, hb);
  process.stderr.write(`[harm] console-rate: ${what}: max heapUsed ${(got / MiB).toFixed(1)} MiB, unobserved ${(ha / MiB).toFixed(1)} and ${(hb / MiB).toFixed(1)} MiB\n`);
  assert.ok(got <= 2 * base, `${what}: heapUsed reached ${(got / MiB).toFixed(1)} MiB, unobserved twins ${(ha / MiB).toFixed(1)} and ${(hb / MiB).toFixed(1)} MiB`);
}

describe('a process that logs large objects survives being watched', () => {
  it('60 s of watch', async () => {
    const twin = await twins();
    const t = await start();
    const nt = spawn(process.execPath, [NODETOP, 'watch', String(t.pid), '--json', '--interval', '1s'], { stdio: 'ignore' });
    try {
      await attached(t);
      check('watch', ...(await beside(twin, t)));
    } finally {
      nt.kill('SIGKILL');
      await t.kill();
      await Promise.all(twin.map((x) => x.kill()));
    }
  });

  it('60 s of the live view', { skip: haveTmux() ? false : 'tmux is not installed' }, async () => {
    const twin = await twins();
    const t = await start();
    const term = openTerminal(['attach', String(t.pid), '--interval', '1s'], { cols: 100, rows: 30 });
    try {
      await attached(t);
      check('the live view', ...(await beside(twin, t)));
      term.keys('q');
      assert.equal(await term.exitCode(), 0);
    } finally {
      term.close();
      await t.kill();
      await Promise.all(twin.map((x) => x.kill()));
    }
  });

  it('60 s after nodetop is killed with SIGKILL, its lease expiring at 20 s', async () => {
    const twin = await twins();
    const t = await start();
    const nt = spawn(process.execPath, [NODETOP, 'watch', String(t.pid), '--json', '--interval', '1s'], { stdio: 'ignore', env: { ...process.env, NODETOP_LEASE_MS: '20000' } });
    try {
      await attached(t);
      nt.kill('SIGKILL');
      check('after SIGKILL of nodetop', ...(await beside(twin, t)));
      assert.equal(Number((await t.ask('nodetop')).sessions), 0, 'the lease removed the instruments');
    } finally {
      nt.kill('SIGKILL');
      await t.kill();
      await Promise.all(twin.map((x) => x.kill()));
    }
  });
});
