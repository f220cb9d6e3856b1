import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseCommandLine } from '../../src/cli';
import { NodetopError } from '../../src/errors';
import { tickAt } from '../../src/ticker';

describe('ticker', () => {
  it('delivers a late tick once, with its lateness, and counts the ticks it overran as skipped', () => {
    // interval 1000, started at 0: tick k is due at (k + 1) * 1000
    assert.deepEqual(tickAt(0, 1000, 1003, -1), { index: 0, lateMs: 3, skipped: 0, nextDueMs: 2000 });
    assert.deepEqual(tickAt(0, 1000, 2000, 0), { index: 1, lateMs: 0, skipped: 0, nextDueMs: 3000 });
    // the timer was held up for 2.5 intervals: one tick, two skipped, the next due on the grid
    assert.deepEqual(tickAt(0, 1000, 4500, 1), { index: 3, lateMs: 500, skipped: 1, nextDueMs: 5000 });
    // a timer firing a hair early still moves on
    assert.deepEqual(tickAt(0, 1000, 999, -1), { index: 0, lateMs: 0, skipped: 0, nextDueMs: 2000 });
  });
});

describe('watch and ps command lines', () => {
  it('parses watch with several pids and its options', () => {
    const inv = parseCommandLine(['watch', '12', '34', '--count', '3', '--interval', '500ms', '--json', '--fields', 'pid,heap']);
    assert.equal(inv.command, 'watch');
    if (inv.command !== 'watch') return;
    assert.deepEqual(inv.pids, [12, 34]);
    assert.equal(inv.count, 3);
    assert.equal(inv.intervalMs, 500);
    assert.equal(inv.durationMs, null);
    assert.equal(inv.json, true);
    assert.deepEqual(inv.fields, ['pid', 'heap']);
    const d = parseCommandLine(['watch', '12']);
    assert.equal(d.command === 'watch' && d.intervalMs, 1000);
    assert.equal(d.command === 'watch' && d.fields.length, 11);
  });

  it('refuses bad watch usage with exit code 2', () => {
    for (const argv of [['watch'], ['watch', '1', '1'], ['watch', '1', '--count', '0'], ['watch', '1', '--fields', 'x'], ['watch', '1', '--duration', '1s', '--interval', '2s']]) {
      assert.throws(() => parseCommandLine(argv), (e: unknown) => e instanceof NodetopError && e.exitCode === 2, argv.join(' '));
    }
  });

  it('parses ps', () => {
    assert.deepEqual(parseCommandLine(['ps']), { command: 'ps', json: false, cpuWindowMs: 200, mine: false });
    assert.deepEqual(parseCommandLine(['ps', '--json', '--cpu-window', '0', '--mine']), { command: 'ps', json: true, cpuWindowMs: 0, mine: true });
  });
});
