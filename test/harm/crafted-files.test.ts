// Files are input from someone else too: a heap snapshot handed over for heap-diff can name a
// constructor with a string of any length. nodetop keeps 64 KiB of it (the JSON) and prints 200
// characters (the table); a 30 MB name was printed whole, and one over V8's string limit
// (~512 MB) crashed the reader with a stack.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { MAX_STRING_BYTES } from '../../src/model/heapsnapshot';
import { runCli } from '../helpers/target';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-crafted-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const meta = {
  node_fields: ['type', 'name', 'id', 'self_size', 'edge_count', 'trace_node_id', 'detachedness'],
  node_types: [['hidden', 'array', 'string', 'object', 'code', 'closure'], 'string', 'number', 'number', 'number', 'number', 'number'],
  edge_fields: ['type', 'name_or_index', 'to_node'],
  edge_types: [['context', 'element', 'property'], 'string_or_number', 'node'],
  location_fields: ['object_index', 'script_id', 'line', 'column'],
};

/** A snapshot of a root and `n` objects whose constructor's name is `name` (JSON-escaped here). */
function writeSnapshot(file: string, n: number, name: Buffer): void {
  const nodes = ['0,0,1,0,0,0,0'];
  for (let i = 0; i < n; i++) nodes.push(`3,1,${3 + 2 * i},32,0,0,0`);
  fs.writeFileSync(
    file,
    Buffer.concat([
      Buffer.from(`{"snapshot":{"meta":${JSON.stringify(meta)},"node_count":${n + 1},"edge_count":0},"nodes":[${nodes.join(',')}],"edges":[],"strings":["(root)","`),
      name,
      Buffer.from('"]}\n'),
    ]),
  );
}

describe('crafted files', () => {
  it('heap-diff, heap-summary: a 30 MB constructor name (escapes in it) is kept to 64 KiB and printed to 200 characters', async () => {
    // 30 MB of "A\u001b[2J" repeated: escapes all the way, so the cut can land inside one
    const unit = Buffer.from('A\\u001b[2J');
    const big = Buffer.alloc(30 * 1024 * 1024 - ((30 * 1024 * 1024) % unit.length));
    for (let i = 0; i < big.length; i += unit.length) unit.copy(big, i);
    const a = path.join(dir, 'a.heapsnapshot');
    const b = path.join(dir, 'b.heapsnapshot');
    writeSnapshot(a, 1, big);
    writeSnapshot(b, 3, big);
    const r = await runCli(['heap-diff', a, b], { hangGuardMs: 60_000 });
    assert.equal(r.code, 0, r.stderr.slice(0, 2000));
    assert.ok(r.stdout.length < 10_000, `${r.stdout.length} characters printed`);
    const row = r.stdout.split('\n').find((l) => l.includes('A [2JA'));
    assert.ok(row, r.stdout.slice(0, 2000));
    assert.match(row, /…$/);
    assert.ok(!r.stdout.includes('\x1b'), 'no ESC printed');
    const j = await runCli(['heap-diff', a, b, '--json'], { hangGuardMs: 60_000 });
    assert.equal(j.code, 0, j.stderr.slice(0, 2000));
    const name = (JSON.parse(j.stdout) as { top: Array<{ name: string }> }).top[0]!.name;
    assert.ok(name.length <= MAX_STRING_BYTES + 1 && name.endsWith('…'), `a name of ${name.length} characters`);
    assert.ok(name.startsWith('A\x1b[2JA\x1b[2J'), 'the escapes are decoded (the JSON escapes them again)');
    // b's graph keeps the name whole too (its groups are a's): the paths' heading and
    // heap-summary's list print it as the table does
    assert.match(r.stdout, /\n {2}A \[2JA.{150,200}…: \d+ new\n/);
    const s = await runCli(['heap-summary', b], { hangGuardMs: 60_000 });
    assert.equal(s.code, 0, s.stderr.slice(0, 2000));
    assert.ok(s.stdout.length < 10_000, `heap-summary: ${s.stdout.length} characters printed`);
    assert.ok(!s.stdout.includes('\x1b'), 'no ESC printed');
  });
});
