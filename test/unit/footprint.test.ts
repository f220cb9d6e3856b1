// nodetop's share of a target's fds and threads (src/model/footprint.ts) on the fd tables
// measured on Node 20 when SIGUSR1 opened the inspector (test/integration/own-fds.test.ts runs it for real).

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { nodetopShare, shareHeld, type Footprint } from '../../src/model/footprint';

const fp = (fds: Array<[number, string]>, tids: number[]): Footprint => ({ fds: new Map(fds), tids: new Set(tids) });
const base: Array<[number, string]> = [[0, 'pipe:[1]'], [3, 'anon_inode:[eventpoll]'], [17, '/dev/null'], [18, 'socket:[100]']];

describe('nodetopShare', () => {
  const after = fp([...base, [19, 'anon_inode:[eventpoll]'], [20, 'pipe:[5]'], [21, 'pipe:[5]'], [22, 'anon_inode:[eventfd]'], [23, '/dev/null'], [24, 'socket:[200]'], [25, 'socket:[201]'], [26, '/srv/app.log'], [27, 'socket:[300]']], [1, 2, 9]);
  const before = fp(base, [1, 2]);

  it('an inspector nodetop opened: its loop fds, its sockets and its thread; not what the app opened meanwhile', () => {
    const s = nodetopShare(before, after, new Set([200, 201]), true);
    assert.deepEqual([...s.fds.keys()], [19, 20, 21, 22, 23, 24, 25]);
    assert.deepEqual([...s.tids], [9]);
  });

  it('an inspector that was open already: only nodetop’s connection', () => {
    const s = nodetopShare(before, after, new Set([201]), false);
    assert.deepEqual([...s.fds.keys()], [25]);
    assert.deepEqual([...s.tids], []);
  });

  it('what is still held: a closed fd, a reused number or an ended thread no longer counts', () => {
    const s = nodetopShare(before, after, new Set([200, 201]), true);
    const now = fp([...base, [19, 'anon_inode:[eventpoll]'], [20, 'pipe:[5]'], [21, 'pipe:[5]'], [22, 'anon_inode:[eventfd]'], [23, '/dev/null'], [24, 'socket:[999]']], [1, 2]);
    assert.deepEqual(shareHeld(s, now), { fds: 5, threads: 0 });
  });
});
