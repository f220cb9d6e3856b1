// nodetop heap-diff on snapshots a real target writes with v8.writeHeapSnapshot: the class the
// fixture leaks shows up with the exact counts the test made it hold.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseJson, runCli, startTarget, type CliResult } from '../helpers/target';
import type { HeapDiffResult } from '../../src/commands/heapdiff';
import type { HeapSummaryResult } from '../../src/commands/heapsummary';

function oneSentence(r: CliResult): void {
  assert.doesNotMatch(r.stderr, /\n\s+at /, `no stack trace: ${r.stderr}`);
  assert.match(r.stderr, /^nodetop: /);
  assert.ok(r.stderr.split('\n').filter(Boolean).length <= 2, r.stderr);
}

describe('nodetop heap-diff', () => {
  const N = 1000;
  const M = 5000;
  let dir: string;
  let a: string;
  let b: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-heapdiff-'));
    const t = await startTarget('growing-leak.js', { args: [String(N)] });
    try {
      const ra = await t.ask(`snapshot ${path.join(dir, 'a.heapsnapshot')}`, 60_000);
      assert.equal(ra.held, N);
      await t.ask(`grow ${M}`);
      const rb = await t.ask(`snapshot ${path.join(dir, 'b.heapsnapshot')}`, 60_000);
      assert.equal(rb.held, N + M);
      a = ra.path as string;
      b = rb.path as string;
    } finally {
      await t.kill();
    }
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('says which constructor grew, with the exact counts the target held', async () => {
    const r = await runCli(['heap-diff', a, b, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const d = parseJson<HeapDiffResult>(r);
    assert.equal(d.a.path, a);
    assert.equal(d.b.path, b);
    assert.ok(d.b.nodes > d.a.nodes);
    assert.equal(d.top.length, 20);
    const leak = d.top.find((x) => x.name === 'LeakyThing');
    assert.ok(leak, JSON.stringify(d.top.map((x) => x.name)));
    assert.equal(leak.type, 'object');
    assert.equal(leak.countA, N);
    assert.equal(leak.countB, N + M);
    assert.equal(leak.countDelta, M);
    assert.equal(leak.sizeDeltaBytes, leak.sizeBytesB - leak.sizeBytesA);
    // every instance has the same shape: the growth is M times the size of one
    assert.equal(leak.sizeBytesA % N, 0);
    assert.equal(leak.sizeDeltaBytes, M * (leak.sizeBytesA / N));
    assert.ok(d.top.indexOf(leak) < 5, `LeakyThing is near the top: ${JSON.stringify(d.top.slice(0, 5))}`);
    for (let i = 1; i < d.top.length; i++) assert.ok(d.top[i - 1]!.sizeDeltaBytes >= d.top[i]!.sizeDeltaBytes, 'sorted by size growth');
  });

  it('prints a table and honours --top', async () => {
    const r = await runCli(['heap-diff', a, b, '--top', '5']);
    assert.equal(r.code, 0, r.stderr);
    const line = r.stdout.split('\n').find((l) => l.endsWith(' LeakyThing'));
    assert.ok(line, r.stdout);
    assert.match(line, new RegExp(`\\+${M.toLocaleString('en-US')}\\s+${N.toLocaleString('en-US')} → ${(N + M).toLocaleString('en-US')}`));
    assert.match(r.stdout, /more groups/);
    const rows = r.stdout.split('\n').filter((l) => /^\s*[+-]?\d.* → .* → /.test(l));
    assert.equal(rows.length, 5);
  });

  it('a file that is not a heap snapshot, truncated, missing or a directory: exit 2, one sentence', async () => {
    const garbage = path.join(dir, 'garbage.heapsnapshot');
    fs.writeFileSync(garbage, '<html>not a snapshot</html>\n');
    const truncated = path.join(dir, 'truncated.heapsnapshot');
    const fd = fs.openSync(b, 'r');
    const head = Buffer.alloc(100_000);
    fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
    fs.writeFileSync(truncated, head);
    const cases: Array<[string[], RegExp]> = [
      [[garbage, b], /garbage\.heapsnapshot is not a V8 heap snapshot: unexpected "<" at byte 0/],
      [[a, truncated], /truncated\.heapsnapshot is not a V8 heap snapshot: the file ends in the middle of the JSON, at byte 100000 \(truncated\?\)/],
      [[a, path.join(dir, 'nope.heapsnapshot')], /cannot read .*nope\.heapsnapshot: no such file/],
      [[dir, b], /cannot read .*: it is a directory/],
      [[a], /the argument <b> is missing/],
    ];
    for (const [files, msg] of cases) {
      const r = await runCli(['heap-diff', ...files]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, msg);
      oneSentence(r);
      assert.equal(r.stdout, '');
    }
  });
});

describe('nodetop heap-diff: who holds what grew', () => {
  const N = 50;
  const M = 1500;
  let dir: string;
  let a: string;
  let b: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-retainers-'));
    const t = await startTarget('retainers.js', { args: [String(N)] });
    try {
      a = (await t.ask(`snapshot ${path.join(dir, 'a.heapsnapshot')}`, 60_000)).path as string;
      await t.ask(`grow ${M}`);
      b = (await t.ask(`snapshot ${path.join(dir, 'b.heapsnapshot')}`, 60_000)).path as string;
    } finally {
      await t.kill();
    }
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const grower = (d: HeapDiffResult, name: string) => {
    const row = d.top.find((x) => x.name === name);
    assert.ok(row?.retainers, `${name} is traced: ${JSON.stringify(d.top.map((x) => [x.name, x.countDelta]))}`);
    assert.equal(row.retainers.objects, M, `${name}: exactly the objects the fixture added`);
    return row.retainers;
  };
  const paths = (r: { paths: Array<{ path: string[]; count: number }> }) => r.paths.map((p) => `${p.count} ${p.path.join(' <- ')}`);

  it('names the holder of each leak the fixture built, with counts and retained bytes', async () => {
    const r = await runCli(['heap-diff', a, b, '--json', '--top', '40']);
    assert.equal(r.code, 0, r.stderr);
    const d = parseJson<HeapDiffResult>(r);
    // one process wrote both snapshots in-process: V8's ids still name the same objects
    assert.equal(d.newById, true);

    // a module-level Map
    const sessions = grower(d, 'SessionRecord');
    assert.deepEqual(sessions.paths[0]!.path, ["Map 'sessions'", '(module) retainers.js'], paths(sessions).join('\n'));
    assert.equal(sessions.paths[0]!.count, M);
    assert.ok(sessions.paths[0]!.retainedBytes >= sessions.paths[0]!.selfBytes && sessions.paths[0]!.selfBytes > 0);
    assert.equal(sessions.suspect?.label, "Map 'sessions'");
    assert.equal(sessions.suspect?.dominatesShare, 1);

    // listeners added per request to a long-lived emitter
    const ctx = grower(d, 'RequestContext');
    assert.match(ctx.paths[0]!.path.join(' <- '), /^\(closure\) onTick retainers\.js:\d+ <- Array 'tick' <- Object '_events' <- EventEmitter 'bus' <- \(module\) retainers\.js$/, paths(ctx).join('\n'));
    assert.equal(ctx.paths[0]!.count, M);
    assert.equal(ctx.suspect?.label, "Array 'tick'");

    // a closure capturing a growing array
    const items = grower(d, 'ClosureItem');
    assert.match(items.paths[0]!.path.join(' <- '), /^Array 'items' <- \(closure\) collect retainers\.js:\d+ <- \(module\) retainers\.js$/, paths(items).join('\n'));
    assert.equal(items.suspect?.label, "Array 'items'");

    // held both by a Map and by a timer: both paths, and no single holder
    const dual = grower(d, 'DualRecord');
    const text = paths(dual);
    assert.ok(text.some((p) => p === `${M} Map 'dual' <- (module) retainers.js`), text.join('\n'));
    const byTimer = dual.paths.filter((p) => /^\(closure\) keep retainers\.js:\d+ '_onTimeout' <- Timeout/.test(p.path.join(' <- ')));
    assert.ok(byTimer.length > 0, text.join('\n'));
    assert.equal(dual.suspect, null, 'two holders: neither alone retains them');

    // values of a WeakMap whose keys died: not a leak, not traced
    const cache = d.top.find((x) => x.name === 'CacheEntry');
    assert.ok(!cache || (cache.countDelta <= 0 && !cache.retainers), JSON.stringify(cache));
  });

  it('prints the paths under the table; --paths 0 prints none', async () => {
    const r = await runCli(['heap-diff', a, b, '--top', '40']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`\\n  SessionRecord: ${M.toLocaleString('en-US')} new\\n    ${M.toLocaleString('en-US')} SessionRecord \\(.+ retained\\) <- Map 'sessions' <- \\(module\\) retainers\\.js\\n    suspect: Map 'sessions' retains `));
    const none = await runCli(['heap-diff', a, b, '--top', '40', '--paths', '0']);
    assert.equal(none.code, 0, none.stderr);
    assert.doesNotMatch(none.stdout, /who holds/);
    assert.equal(none.stdout.split('who holds')[0], r.stdout.split('\n\nwho holds')[0] + (none.stdout.endsWith('\n') ? '\n' : ''));
  });

  it('heap-summary lists the largest retainers of one snapshot', async () => {
    const r = await runCli(['heap-summary', b, '--json', '--top', '15']);
    assert.equal(r.code, 0, r.stderr);
    const s = parseJson<HeapSummaryResult>(r);
    assert.equal(s.path, b);
    const map = s.retainers.find((x) => x.label === "Map 'sessions'");
    assert.ok(map, JSON.stringify(s.retainers.map((x) => x.label)));
    assert.deepEqual(map.path, ['(module) retainers.js']);
    for (let i = 1; i < s.retainers.length; i++) assert.ok(s.retainers[i - 1]!.retainedBytes >= s.retainers[i]!.retainedBytes);
    const text = await runCli(['heap-summary', b, '--top', '15']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /largest retainers/);
    assert.match(text.stdout, /Map 'sessions' <- \(module\) retainers\.js/);
  });
});

describe('nodetop heap-diff on a worker thread\'s snapshots', () => {
  it('finds what the worker holds, with its path, from two `nodetop snapshot --worker` files', async () => {
    const N = 500;
    const M = 4000;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-heapdiff-worker-'));
    const t = await startTarget('worker-leak.js', { args: [String(N)], nodeArgs: ['--inspect-port=0'] });
    try {
      const worker = String(t.facts.threadId);
      const a = path.join(dir, 'a.heapsnapshot');
      const b = path.join(dir, 'b.heapsnapshot');
      const ra = await runCli(['snapshot', String(t.pid), '--worker', worker, '-o', a, '-y', '-q'], { hangGuardMs: 120_000 });
      assert.equal(ra.code, 0, ra.stderr);
      assert.equal((await t.ask(`grow ${M}`)).held, N + M);
      const rb = await runCli(['snapshot', String(t.pid), '--worker', worker, '-o', b, '-y', '-q'], { hangGuardMs: 120_000 });
      assert.equal(rb.code, 0, rb.stderr);
      const r = await runCli(['heap-diff', a, b, '--json'], { hangGuardMs: 120_000 });
      assert.equal(r.code, 0, r.stderr);
      const d = parseJson<HeapDiffResult>(r);
      const row = d.top.find((x) => x.name === 'WorkerSession');
      assert.ok(row, JSON.stringify(d.top.map((x) => x.name)));
      assert.equal(row.countA, N);
      assert.equal(row.countB, N + M);
      const held = row.retainers!;
      // the objects new in b when V8's ids allow, else all of them (two sessions renumber)
      assert.equal(held.objects, d.newById ? M : N + M);
      assert.deepEqual(held.paths[0]!.path[0], "Map 'sessions'", JSON.stringify(held.paths[0]));
      assert.match(held.paths[0]!.path.at(-1)!, /^\(module\) .*worker\.js$/);
      assert.equal(held.suspect?.label, "Map 'sessions'");
    } finally {
      await t.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
