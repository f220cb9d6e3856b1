// nodetop heap-diff on snapshots a real target writes with v8.writeHeapSnapshot: the class the
// fixture leaks shows up with the exact counts the test made it hold.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseJson, runCli, startTarget, type CliResult } from '../helpers/target';
import type { HeapDiffResult } from '../../src/commands/heapdiff';

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
      [[a], /missing required argument/],
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
