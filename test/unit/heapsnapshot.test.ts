// The streaming heap snapshot reader: the same summary whatever the chunk boundaries (every
// split position of a hand-made snapshot with escapes, multi-byte UTF-8 and every JSON token
// kind), the same summary as a JSON.parse-based reference on a real snapshot, and a sentence for
// files that are not snapshots.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import * as v8 from 'node:v8';
import {
  diffHeapSummaries,
  HeapSnapshotSummarizer,
  SnapshotFormatError,
  summarizeHeapSnapshot,
  type HeapSummary,
} from '../../src/model/heapsnapshot';
import { parseCommandLine } from '../../src/cli';
import { NodetopError } from '../../src/errors';

// Node types as V8 lists them; fields in V8's order. Seven nodes:
//   0 (hidden) size 0          1 object "Café 😀" 32     2 object "Café 😀" 32 (name given escaped)
//   3 closure "f" 56           4 string "a\"b" 20        5 object "Line\nBreak" 16
//   6 object "日本" 100
const meta = {
  node_fields: ['type', 'name', 'id', 'self_size', 'edge_count', 'trace_node_id', 'detachedness'],
  node_types: [['hidden', 'array', 'string', 'object', 'code', 'closure'], 'string', 'number', 'number', 'number', 'number', 'number'],
  edge_fields: ['type', 'name_or_index', 'to_node'],
  edge_types: [['context', 'element', 'property'], 'string_or_number', 'node'],
  location_fields: ['object_index', 'script_id', 'line', 'column'],
};
const small = Buffer.from(
  [
    `{"snapshot":{"meta":${JSON.stringify(meta)},"node_count":7,"edge_count":2,"weird":[1.5e3,-2,-0.25,true,false,null,{"x":[]},"s\\\\"]},`,
    '"nodes":[0,0,1,0,1,0,0',
    ',3,1,3,32,0,0,0',
    ',3,2,5,32,0,0,0',
    ',5,3,7,56,0,0,0',
    ',2,4,9,20,0,0,0',
    ',3,5,11,16,0,0,0',
    ',3,6,13,100,0,0,0],',
    '\r\n "edges" : [ 2 , 1 , 7 ,\t1,0,14 ] ,',
    '"trace_function_infos":[],"trace_tree":[],"samples":[],"locations":[],',
    '"strings":["(root)","Café 😀","Caf\\u00e9 \\ud83d\\ude00","f","a\\"b","Line\\nBreak","日本","unused \\\\ \\/ \\t"]}\n',
  ].join('\n'),
  'utf8',
);

function groups(s: HeapSummary): string[] {
  return s.groups.map((g) => `${g.type}|${g.name}|${g.count}|${g.selfSizeBytes}`).sort();
}

const expected = ['closure|(closure)|1|56', 'hidden|(hidden)|1|0', 'object|Café 😀|2|64', 'object|Line\nBreak|1|16', 'object|日本|1|100', 'string|(string)|1|20'];

/** The reference: JSON.parse the whole file and count. Only for small files. */
function reference(buf: Buffer): string[] {
  const j = JSON.parse(buf.toString('utf8')) as { snapshot: { meta: typeof meta }; nodes: number[]; strings: string[] };
  const f = j.snapshot.meta.node_fields;
  const types = j.snapshot.meta.node_types[0] as string[];
  const m = new Map<string, { c: number; s: number }>();
  for (let i = 0; i < j.nodes.length; i += f.length) {
    const type = types[j.nodes[i + f.indexOf('type')]!]!;
    const name = type === 'object' ? j.strings[j.nodes[i + f.indexOf('name')]!]! : `(${type})`;
    const k = `${type}|${name}`;
    const g = m.get(k) ?? { c: 0, s: 0 };
    g.c++;
    g.s += j.nodes[i + f.indexOf('self_size')]!;
    m.set(k, g);
  }
  return [...m].map(([k, g]) => `${k}|${g.c}|${g.s}`).sort();
}

function inChunks(buf: Buffer, cuts: number[]): HeapSummary {
  const s = new HeapSnapshotSummarizer();
  let prev = 0;
  for (const c of [...cuts, buf.length]) {
    // a copy, so that a chunk kept by reference would show up as garbage
    s.write(Buffer.from(buf.subarray(prev, c)));
    prev = c;
  }
  return s.end();
}

function formatError(buf: Buffer | string): string {
  try {
    summarizeHeapSnapshot(Buffer.isBuffer(buf) ? buf : Buffer.from(buf));
  } catch (e) {
    assert.ok(e instanceof SnapshotFormatError, String(e));
    return e.message;
  }
  assert.fail('expected a format error');
}

describe('heap snapshot reader', () => {
  it('summarizes the hand-made snapshot like the JSON.parse reference', () => {
    assert.deepEqual(reference(small), expected);
    const s = summarizeHeapSnapshot(small);
    assert.deepEqual(groups(s), expected);
    assert.equal(s.nodes, 7);
    assert.equal(s.selfSizeBytes, 256);
  });

  it('gives the same summary when the input is cut in two at every byte position', () => {
    for (let cut = 0; cut <= small.length; cut++) {
      assert.deepEqual(groups(inChunks(small, [cut])), expected, `cut at ${cut}`);
    }
  });

  it('gives the same summary fed one byte at a time, and in three pieces at many positions', () => {
    const ones = Array.from({ length: small.length - 1 }, (_, i) => i + 1);
    assert.deepEqual(groups(inChunks(small, ones)), expected);
    for (let a = 1; a < small.length; a += 7) {
      for (let b = a; b < small.length; b += 13) assert.deepEqual(groups(inChunks(small, [a, b])), expected, `cuts ${a} ${b}`);
    }
  });

  it('agrees with the reference on a real snapshot written by v8.writeHeapSnapshot, in odd chunk sizes', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-hs-'));
    try {
      const file = v8.writeHeapSnapshot(path.join(dir, 'self.heapsnapshot'));
      const buf = fs.readFileSync(file);
      const cuts: number[] = [];
      for (let at = 4093, step = 1; at < buf.length; step = (step * 7 + 3) % 65_521, at += step + 1) cuts.push(at);
      assert.deepEqual(groups(inChunks(buf, cuts)), reference(buf));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects what is not a heap snapshot with a reason', () => {
    assert.match(formatError(''), /the file is empty/);
    assert.match(formatError(small.subarray(0, small.length - 40)), /ends in the middle of the JSON, at byte \d+ \(truncated\?\)/);
    assert.match(formatError(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a])), /unexpected byte 0x89 at byte 0/);
    assert.match(formatError('[1,2]'), /JSON array, not an object/);
    assert.match(formatError('"x"'), /not a JSON object/);
    assert.match(formatError('{"a":1}'), /no snapshot\.meta/);
    assert.match(formatError('{"snapshot":{"meta":{}}}'), /node_fields or node_types/);
    assert.match(formatError('{"nodes":[1,2]}'), /"nodes" comes before snapshot\.meta/);
    assert.match(formatError(small.toString().replace('"nodes":[0,0,1', '"nodes":[0,0')), /declares 7 nodes|whole nodes/);
    assert.match(formatError(small.toString().replace('"strings":', '"strangs":')), /no "strings"/);
    assert.match(formatError(small.toString().replace(/,"日本",.*\]\}/, ']}')), /not in "strings"/);
    assert.match(formatError('{"a":tru}'), /bad literal/);
    assert.match(formatError('{"a":1} x'), /more data after the end/);
    assert.match(formatError('{"a":1]'), /unexpected "]"/);
    assert.match(formatError('{"snapshot":{"a":"\\x"}}'), /bad string escape/);
    assert.match(formatError('{"a":1.2.3}'), /bad number/);
  });

  it('diffs two summaries by group, largest growth first', () => {
    const a: HeapSummary = {
      nodes: 3,
      selfSizeBytes: 0,
      groups: [
        { name: 'Keep', type: 'object', count: 5, selfSizeBytes: 100 },
        { name: 'Shrink', type: 'object', count: 10, selfSizeBytes: 1000 },
        { name: '(closure)', type: 'closure', count: 1, selfSizeBytes: 10 },
      ],
    };
    const b: HeapSummary = {
      nodes: 3,
      selfSizeBytes: 0,
      groups: [
        { name: 'Keep', type: 'object', count: 5, selfSizeBytes: 100 },
        { name: 'Shrink', type: 'object', count: 1, selfSizeBytes: 100 },
        { name: 'New', type: 'object', count: 7, selfSizeBytes: 70 },
        { name: '(closure)', type: 'closure', count: 3, selfSizeBytes: 30 },
      ],
    };
    const rows = diffHeapSummaries(a, b);
    assert.deepEqual(
      rows.map((r) => [r.name, r.countA, r.countB, r.countDelta, r.sizeDeltaBytes]),
      [
        ['New', 0, 7, 7, 70],
        ['(closure)', 1, 3, 2, 20],
        ['Keep', 5, 5, 0, 0],
        ['Shrink', 10, 1, -9, -900],
      ],
    );
  });
});

describe('heap-diff command line', () => {
  it('takes two files, --top (default 20), --paths (default 3) and --json', () => {
    assert.deepEqual(parseCommandLine(['heap-diff', 'a.heapsnapshot', 'b.heapsnapshot']), { command: 'heap-diff', a: 'a.heapsnapshot', b: 'b.heapsnapshot', top: 20, json: false, paths: 3 });
    assert.deepEqual(parseCommandLine(['heap-diff', 'x', 'y', '--top', '3', '--json', '--paths', '0']), { command: 'heap-diff', a: 'x', b: 'y', top: 3, json: true, paths: 0 });
    assert.deepEqual(parseCommandLine(['heap-summary', 'x']), { command: 'heap-summary', file: 'x', top: 10, json: false });
    for (const argv of [['heap-diff', 'x'], ['heap-diff', 'x', 'y', 'z'], ['heap-diff', 'x', 'y', '--top', 'many'], ['heap-diff', 'x', 'y', '--paths', '-1'], ['heap-summary']]) {
      assert.throws(() => parseCommandLine(argv), (e: unknown) => e instanceof NodetopError && e.exitCode === 2, argv.join(' '));
    }
  });
});
