// A recording is input from anyone (handed over after an incident): a crafted, cut, corrupt or
// newer file is one sentence and exit 2 from `nodetop replay`, never a stack; a recorder killed
// mid-way leaves a file that replays up to its last whole line; strings in it are made printable
// as they are read.

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { after, describe, it } from 'node:test';
import { frameSample, MAX_KEPT_TEXT, RECORDING_FORMAT, RecordingReader } from '../../src/model/recording';
import { readRecording } from '../../src/platform/recordingFile';
import { ROOT, runCli } from '../helpers/target';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-recordings-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The committed format 1 recording (blocked.js at 250 ms, a 1.5 s block in the middle). */
const V1 = path.join(ROOT, 'test/fixtures/recordings/v1-blocked.ndjson.gz');
const v1Lines = (): string[] => zlib.gunzipSync(fs.readFileSync(V1)).toString('utf8').trimEnd().split('\n');

function write(name: string, content: string | Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

/** `nodetop replay` on a bad file: exit 2, one line that says why, no stack. */
async function refused(file: string, why: RegExp, env?: NodeJS.ProcessEnv): Promise<void> {
  const r = await runCli(['replay', file], env ? { env } : {});
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one sentence:\n${r.stderr}`);
  assert.match(lines[0]!, /^nodetop: cannot replay /);
  assert.match(lines[0]!, why);
  assert.doesNotMatch(r.stderr, /\n\s+at |internal error/);
  assert.ok(!r.stderr.includes('\x1b'), 'no escape reaches the terminal');
}

describe('nodetop replay: files that are not recordings it reads', () => {
  it('the v1 fixture is read whole: the header, every sample, the block as events', async () => {
    const rec = await readRecording(V1, 'test');
    assert.equal(rec.header.format, 1);
    assert.ok(RECORDING_FORMAT >= 1);
    assert.equal(rec.frames.length, v1Lines().filter((l) => l.startsWith('{"type":"sample"') || l.startsWith('{"type":"error"')).length);
    assert.equal(rec.end?.reason, 'duration');
    assert.equal(rec.cutShort, false);
    assert.ok(rec.events.some((e) => e.kind === 'blocked' && /spinTheWheel/.test(e.frames?.[0] ?? '')));
    const s = frameSample(rec, rec.frames.length - 1)!;
    assert.equal(s.target.pid, rec.header.pid);
  });

  it('a format newer than this nodetop reads is refused with a sentence', async () => {
    const [head, ...rest] = v1Lines();
    const h = JSON.parse(head!) as Record<string, unknown>;
    const file = write('future.ndjson', [JSON.stringify({ ...h, format: RECORDING_FORMAT + 1, nodetop: '9.0.0' }), ...rest].join('\n') + '\n');
    await refused(file, new RegExp(`recording format ${RECORDING_FORMAT + 1} \\(written by nodetop 9\\.0\\.0\\).*reads formats up to ${RECORDING_FORMAT}: replay it with a newer nodetop`));
  });

  it('empty, not JSON, not a recording, no such file, a directory', async () => {
    await refused(write('empty.ndjson', ''), /it is empty/);
    await refused(write('text.ndjson', 'hello\nworld\n'), /not a nodetop recording/);
    await refused(write('other.ndjson', '{"schema":1,"time":"2026-01-01T00:00:00Z"}\n'), /not a nodetop recording/);
    await refused(path.join(dir, 'nope.ndjson'), /no such file/);
    await refused(dir, /it is a directory/);
  });

  it('a sample of the wrong shape, a line of garbage, time going back: the line and what is wrong', async () => {
    const lines = v1Lines();
    const i = lines.findIndex((l) => l.startsWith('{"type":"sample"'));
    const bad = JSON.parse(lines[i]!) as { sample: { memory: Record<string, unknown> } };
    bad.sample.memory.heapUsedBytes = '\x1b[2J12';
    const crafted = [...lines];
    crafted[i] = JSON.stringify(bad);
    await refused(write('shape.ndjson', crafted.join('\n') + '\n'), new RegExp(`line ${i + 1}: .*memory\\.heapUsedBytes is not a number`));
    const garbage = [...lines];
    garbage.splice(3, 0, '{"type":"sample",');
    await refused(write('garbage.ndjson', garbage.join('\n') + '\n'), /line 4: it is not JSON/);
    const back = [...lines];
    const j = back.findIndex((l, k) => k > i && l.startsWith('{"type":"sample"'));
    const early = JSON.parse(back[j]!) as { at: number };
    early.at = 1000;
    back[j] = JSON.stringify(early);
    await refused(write('back.ndjson', back.join('\n') + '\n'), new RegExp(`line ${j + 1}: its time goes back`));
    // a field name of a megabyte, with escapes, in the path the sentence names: cut, and printable
    const named = [...lines];
    const odd = JSON.parse(lines[i]!) as { sample: { handles: unknown } };
    odd.sample.handles = { total: 1, byType: { [`\x1b[2J${'x'.repeat(1024 * 1024)}`]: 'one' } };
    named[i] = JSON.stringify(odd);
    const r = await runCli(['replay', write('named.ndjson', named.join('\n') + '\n')]);
    assert.equal(r.code, 2, r.stderr.slice(0, 500));
    assert.ok(r.stderr.length < 1000, `${r.stderr.length} characters said`);
    assert.match(r.stderr, /handles\.byType\. \[2Jx+…\n/);
  });

  it('a corrupt gzip stream, a cut header, a line longer than any nodetop writes', async () => {
    const gz = fs.readFileSync(V1);
    const corrupt = Buffer.from(gz);
    for (let k = 100; k < 200; k++) corrupt[k] = corrupt[k]! ^ 0x5a;
    await refused(write('corrupt.ndjson.gz', corrupt), /gzip stream is corrupt|line \d+: /);
    await refused(write('cut-header.ndjson', v1Lines()[0]!.slice(0, 40)), /not a nodetop recording/);
    const long = `${v1Lines()[0]!}\n{"type":"event","event":{"text":"${'A'.repeat(17 * 1024 * 1024)}"}}\n`;
    await refused(write('long.ndjson', long), /longer than any nodetop writes/);
  });

  it('a recorder killed mid-way: plain or gzip, the file replays up to its last whole line', async () => {
    const lines = v1Lines();
    const whole = lines.slice(0, 12);
    // cut inside line 13, as a SIGKILL during a write leaves it
    const text = `${whole.join('\n')}\n${lines[12]!.slice(0, 50)}`;
    const plain = await readRecording(write('cut.ndjson', text), 'test');
    assert.equal(plain.cutShort, true);
    assert.equal(plain.end, null);
    assert.equal(plain.frames.length, whole.filter((l) => /^\{"type":"(sample|error)"/.test(l)).length);
    // a gzip stream without its end: the flushed part stands
    const deflated = zlib.gzipSync(Buffer.from(text));
    const gz = await readRecording(write('cut.ndjson.gz', deflated.subarray(0, deflated.length - 8)), 'test');
    assert.equal(gz.cutShort, true);
    assert.ok(gz.frames.length >= plain.frames.length - 1, `${gz.frames.length} frames`);
  });

  it('every string read from the file is printable: argv, event texts, frames, handle types', async () => {
    const lines = v1Lines();
    const i = lines.findIndex((l) => l.startsWith('{"type":"sample"'));
    const s = JSON.parse(lines[i]!) as { sample: { target: { argv: string[] }; handles: { total: number; byType: Record<string, number> } | null } };
    s.sample.target.argv.push('\x1b]0;pwned\x07\u202e');
    s.sample.handles = { total: 3, byType: JSON.parse('{"\\u001b[31mTimer":1,"__proto__":2}') as Record<string, number> };
    const crafted = [...lines];
    crafted[i] = JSON.stringify(s);
    crafted.splice(i + 1, 0, JSON.stringify({ type: 'event', event: { time: '2026-01-01T00:00:00.000Z', pid: 1, kind: 'blocked', level: 'bad', text: 'x\x1b[2Jy', frames: ['\x9b31m'] } }));
    crafted.splice(i + 2, 0, JSON.stringify({ type: 'from-a-newer-nodetop', anything: 1 }));
    const rec = await readRecording(write('hostile.ndjson', crafted.join('\n') + '\n'), 'test');
    const shown = frameSample(rec, 0)!;
    const all = JSON.stringify([shown, rec.events]);
    // JSON.stringify writes C0 controls as \u00XX and leaves DEL, C1 and bidi controls as they are
    assert.doesNotMatch(all, /\\u00[01][0-9a-f]|[\u007f-\u009f\u202e]/);
    assert.equal(Object.getPrototypeOf(shown.handles!.byType), Object.prototype, 'a "__proto__" name is a name, not a prototype');
    assert.ok(rec.events.some((e) => e.text === 'x [2Jy'));
  });
});

/** nodetop with a heap of `mb` MB: what it keeps from a file must fit in it. */
const smallHeap = (mb: number): NodeJS.ProcessEnv => ({ ...process.env, LC_ALL: 'C.UTF-8', NODE_OPTIONS: `--max-old-space-size=${mb}` });

/** A gzip file of these pieces, one gzip member each (gunzip reads members one after another). */
function gzipMembers(name: string, pieces: Iterable<string | Buffer>): string {
  const file = path.join(dir, name);
  const fd = fs.openSync(file, 'w');
  for (const p of pieces) fs.writeSync(fd, zlib.gzipSync(p));
  fs.closeSync(fd);
  return file;
}

describe('nodetop replay: files made to hang it or fill its memory', () => {
  it('a FIFO is refused at once (its open would wait for a writer no Ctrl-C ends)', async () => {
    const fifo = path.join(dir, 'fifo.ndjson');
    execFileSync('mkfifo', [fifo]);
    await refused(fifo, /it is not a regular file \(a FIFO\)/);
  });

  it('a device is refused: /dev/zero is one line without end', async () => {
    await refused('/dev/zero', /it is not a regular file \(a device\)/);
  });

  it('a symlink is refused, not followed', async () => {
    const link = path.join(dir, 'link.ndjson');
    fs.symlinkSync(V1, link);
    await refused(link, /it is a symbolic link/);
  });

  it('a gzip of a few hundred KB holding a line of 300 MB: refused as the line passes 16 MiB, in a heap of 64 MB', async () => {
    const mib = Buffer.alloc(1024 * 1024, 'A');
    function* pieces(): Generator<string | Buffer> {
      yield `${v1Lines()[0]!}\n{"type":"event","event":{"text":"`;
      for (let k = 0; k < 300; k++) yield mib;
    }
    const file = gzipMembers('huge-line.ndjson.gz', pieces());
    assert.ok(fs.statSync(file).size < 2 * 1024 * 1024);
    await refused(file, /a line is longer than 16 MiB, longer than any nodetop writes/, smallHeap(64));
  });

  it('events with texts of 15 MB: each is cut and the line let go (12 of them replay in a heap of 96 MB)', async () => {
    const lines = v1Lines();
    const sample = lines.find((l) => l.startsWith('{"type":"sample"'))!;
    const big = 'B'.repeat(15 * 1024 * 1024);
    function* pieces(): Generator<string> {
      yield `${lines[0]!}\n${sample}\n`;
      for (let k = 0; k < 12; k++) yield `${JSON.stringify({ type: 'event', event: { time: '2026-01-01T00:00:00.000Z', pid: 1, kind: 'blocked', level: 'bad', text: big } })}\n`;
    }
    const file = gzipMembers('big-events.ndjson.gz', pieces());
    const r = await runCli(['replay', file], { env: smallHeap(96) });
    // the whole file was read and kept: what stops it is the missing terminal, after the read
    assert.match(r.stderr, /^nodetop: the live view needs a terminal/, r.stderr.slice(0, 2000));
    assert.equal(r.code, 2);
  });

  it('the text kept from events is capped in all: past it the file is refused with a sentence', () => {
    const lines = v1Lines();
    const reader = new RecordingReader('test');
    reader.push(lines[0]!);
    reader.push(lines.find((l) => l.startsWith('{"type":"sample"'))!);
    // an event whose frames hold 16 MB of text (each frame within the 4096 characters kept)
    const frames = Array.from({ length: 4000 }, (_, k) => `${k}`.padEnd(4000, 'f'));
    const line = JSON.stringify({ type: 'event', event: { time: '2026-01-01T00:00:00.000Z', pid: 1, kind: 'blocked', level: 'bad', text: 'x', frames } });
    const fits = Math.floor(MAX_KEPT_TEXT / (4000 * 4000));
    for (let k = 0; k < fits; k++) reader.push(line);
    assert.throws(() => reader.push(line), new RegExp(`line ${fits + 3}: its events and errors hold more than ${MAX_KEPT_TEXT / 1024 / 1024} MiB of text`));
  });

  it('a header interval of 1e308, 0 or -1 ms is refused (it would reach timers)', async () => {
    const [head, ...rest] = v1Lines();
    const h = JSON.parse(head!) as Record<string, unknown>;
    for (const [k, v] of [1e308, 0, -1].entries()) {
      const file = write(`interval-${k}.ndjson`, [JSON.stringify({ ...h, intervalMs: v }), ...rest].join('\n') + '\n');
      await refused(file, /line 1: intervalMs is not between 100 ms and 600 s/);
    }
  });
});
