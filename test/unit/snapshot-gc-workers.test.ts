import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseBytes, parseCommandLine } from '../../src/cli';
import { defaultSnapshotName } from '../../src/commands/snapshot';
import { contention, estimateSnapshot, parseMemAvailable, unsafeReason } from '../../src/model/snapshotEstimate';
import { expectedGcPauseMs } from '../../src/commands/gc';
import { parseWorkerTitle } from '../../src/inspector/workers';
import { buildWorkerRow } from '../../src/model/sample';

const MiB = 1024 * 1024;

describe('snapshot, gc and worker helpers', () => {
  it('names a snapshot by title, pid, thread and UTC time, safely', () => {
    const d = new Date('2026-11-24T03:12:45.123Z');
    assert.equal(defaultSnapshotName('node', 42, 0, d), 'node-42-20261124T031245Z.heapsnapshot');
    assert.equal(defaultSnapshotName('my app/../x', 42, 3, d), 'my_app_.._x-42-w3-20261124T031245Z.heapsnapshot');
    assert.equal(defaultSnapshotName('', 1, 0, d), 'node-1-20261124T031245Z.heapsnapshot');
  });

  it('estimates the freeze by the heap’s shape and the host’s load', () => {
    // object-dense: 100-6,000 ms per MiB on an idle core
    const dense = estimateSnapshot(100 * MiB);
    assert.deepEqual([dense.frozenMsLow, dense.frozenMsHigh], [10_000, 600_000]);
    // the real heaps of issue 22 fall within the range: tsc --watch, 162 MiB, 437.7 s; its 226
    // MiB heap had used over 1,100 s of CPU without finishing (a compiler's heap: no large arrays)
    for (const [mib, ms] of [[162, 437_700], [226, 1_100_000]] as const) {
      const e = estimateSnapshot(mib * MiB);
      assert.ok(e.frozenMsLow <= ms && ms <= e.frozenMsHigh, `${mib} MiB: ${ms} ms not in ${e.frozenMsLow}-${e.frozenMsHigh}`);
    }
    // 190 of 200 MiB in large arrays: the low end is the arrays' 2 ms per MiB
    const arrays = estimateSnapshot(200 * MiB, 190 * MiB);
    assert.equal(arrays.frozenMsLow, 10 * 100 + 190 * 2);
    // a load of 17 on 2 cores: the thread gets a ninth of a core, the high end 9x
    assert.equal(contention(17, 2), 9);
    assert.equal(estimateSnapshot(100 * MiB, 0, contention(17, 2)).frozenMsHigh, 600_000 * 9);
    assert.equal(contention(0.2, 2), 1);
    assert.equal(contention(null, 2), 1);
    assert.equal(contention(Number.NaN, 2), 1);
  });

  it('refuses a snapshot whose estimated growth exceeds the budget, the host or the cgroup', () => {
    const est = estimateSnapshot(100 * MiB);
    assert.equal(est.peakGrowthBytes, 2000 * MiB);
    const room = { rssBytes: 300 * MiB, hostAvailableBytes: 16384 * MiB, cgroupLimitBytes: null, cgroupCurrentBytes: null, budgetBytes: null };
    assert.equal(unsafeReason(est, room), null);
    assert.match(unsafeReason(est, { ...room, hostAvailableBytes: 2000 * MiB })!, /host has/);
    assert.match(unsafeReason(est, { ...room, cgroupLimitBytes: 1024 * MiB })!, /cgroup uses 300 MiB of its 1.00 GiB limit/);
    assert.match(unsafeReason(est, { ...room, cgroupLimitBytes: 4096 * MiB, cgroupCurrentBytes: 3000 * MiB })!, /cgroup uses/);
    assert.match(unsafeReason(est, { ...room, budgetBytes: 512 * MiB })!, /--max-growth budget/);
    // unknown figures (a remote target) refuse nothing
    assert.equal(unsafeReason(est, { ...room, hostAvailableBytes: null }), null);
  });

  it('parses MemAvailable, sizes, worker titles; estimates a GC pause', () => {
    assert.equal(parseMemAvailable('MemTotal: 100 kB\nMemAvailable:   2048 kB\n'), 2048 * 1024);
    assert.equal(parseMemAvailable('MemTotal: 100 kB\n'), null);
    assert.equal(parseBytes('512M', 'x'), 512 * MiB);
    assert.equal(parseBytes('1.5GiB', 'x'), 1.5 * 1024 * MiB);
    assert.equal(parseBytes('100', 'x'), 100);
    assert.throws(() => parseBytes('lots', 'x'), /must be a size/);
    assert.deepEqual(parseWorkerTitle('[worker 3] nested'), { threadId: 3, name: 'nested' });
    assert.deepEqual(parseWorkerTitle('[worker 12] '), { threadId: 12, name: '' });
    assert.deepEqual(parseWorkerTitle('something else'), { threadId: null, name: 'something else' });
    assert.equal(expectedGcPauseMs(100 * MiB), 800);
    const s = parseCommandLine(['snapshot', '9', '-o', 'x.heapsnapshot', '--worker', '2', '--max-growth', '1G', '-y', '-q']);
    assert.ok(s.command === 'snapshot');
    assert.deepEqual([s.output, s.select, s.maxGrowthBytes, s.yes, s.quiet, s.force], ['x.heapsnapshot', { kind: 'worker', threadId: 2 }, 1024 * MiB, true, true, false]);
    assert.equal(s.progressEveryMs, undefined);
    const p = parseCommandLine(['snapshot', '9', '--progress-every', '2s']);
    assert.ok(p.command === 'snapshot');
    assert.equal(p.progressEveryMs, 2000);
    assert.throws(() => parseCommandLine(['snapshot', '9', '--progress-every', '10ms']), /--progress-every must be between 1000 ms/);
  });

  it('gives a gone worker null readings, never zeros', () => {
    const row = buildWorkerRow({ threadId: 4, name: 'w', title: '[worker 4] w', state: 'gone', prev: null, raw: null, readAt: '2026-11-29T00:00:00.000Z' });
    assert.equal(row.state, 'gone');
    assert.equal(row.heapUsedBytes, null);
    assert.equal(row.gc, null);
    assert.equal(row.eventLoop.utilization, null);
    assert.equal(row.handles, null);
  });
});
