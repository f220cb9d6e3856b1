// `nodetop record` against real targets: the file's samples agree with what the fixture does
// (a heap it grows, a loop it blocks, workers it holds), its header names what recorded it, and
// every way a recording ends leaves a whole file: --duration, Ctrl-C, the target's exit.

import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { after, describe, it } from 'node:test';
import { frameSample, type Recording } from '../../src/model/recording';
import { readRecording } from '../../src/platform/recordingFile';
import { eventually, NODETOP, ROOT, runCli, startTarget } from '../helpers/target';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-record-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** Resolves once nodetop's instruments in the target have read a sample (the recording runs). */
async function recording(t: { ask(c: string): Promise<Record<string, unknown>> }): Promise<void> {
  await eventually(() => t.ask('nodetop'), (r) => (r.samples as number) >= 2, 30_000);
}

describe('nodetop record', () => {
  it('records a heap the target grows, with a header that names the recorder and the target', async () => {
    const t = await startTarget('growing-leak.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const file = path.join(dir, 'leak.ndjson.gz');
      const run = runCli(['record', String(t.pid), '-o', file, '--interval', '250ms', '--duration', '8s'], { hangGuardMs: 60_000 });
      await recording(t);
      // 300,000 LeakyThings, each an object, a string and a two-element array: well over 15 MB
      const grown = await t.ask('grow 300000', 30_000);
      assert.equal(grown.held, 300_000);
      const r = await run;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /recorded \d+ samples in \d+ s to .*leak\.ndjson\.gz/);
      const rec = await readRecording(file, 'test');
      const h = rec.header;
      assert.equal(h.format, 1);
      assert.equal(h.nodetop, VERSION);
      assert.equal(h.pid, t.pid);
      assert.equal(h.node.target, process.version, 'the target runs the Node the tests run');
      assert.equal(h.node.cli, process.version);
      assert.equal(h.intervalMs, 250);
      assert.ok(Math.abs(Date.parse(h.startedAt) - Date.now()) < 120_000);
      assert.equal(rec.end?.reason, 'duration');
      const heaps = samples(rec).map((s) => s.memory.heapUsedBytes!);
      assert.ok(heaps.length >= 3, `${heaps.length} samples`);
      const growth = Math.max(...heaps) - heaps[0]!;
      assert.ok(growth > 15 * 1024 * 1024, `heap used grew by ${growth} bytes`);
      // in time order, each at or after the one before
      for (let i = 1; i < rec.frames.length; i++) assert.ok(rec.frames[i]!.at >= rec.frames[i - 1]!.at);
    } finally {
      await t.kill();
    }
  });

  it('records a blocked loop as the live view logs it: the episode and its frame', async () => {
    const t = await startTarget('blocked.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const file = path.join(dir, 'blocked.ndjson');
      const run = runCli(['record', String(t.pid), '-o', file, '--interval', '250ms', '--duration', '9s'], { hangGuardMs: 60_000 });
      await recording(t);
      const asked = Date.now();
      await t.ask('block 2000');
      const r = await run;
      assert.equal(r.code, 0, r.stderr);
      const rec = await readRecording(file, 'test');
      const ended = rec.events.find((e) => e.kind === 'blocked' && /was blocked in JavaScript for [\d.]+ s, now running again/.test(e.text));
      assert.ok(ended, JSON.stringify(rec.events, null, 1));
      assert.match(ended.frames?.[0] ?? '', /^spinTheWheel \(.*blocked\.js:\d+:\d+\)/);
      assert.ok(Date.parse(ended.time) >= asked, 'after the block was asked for');
      // the sample it came with shows the lag of the block
      const i = rec.eventFrames[rec.events.indexOf(ended)]!;
      assert.ok((frameSample(rec, i)!.eventLoop.lagMs?.max ?? 0) >= 1500, 'the lag of a 2 s block');
    } finally {
      await t.kill();
    }
  });

  it('records workers and sockets as the live view shows them', async () => {
    const t = await startTarget('workers.js', { nodeArgs: ['--inspect-port=0'], args: ['2', '20'] });
    try {
      const file = path.join(dir, 'workers.ndjson.gz');
      const r = await runCli(['record', String(t.pid), '-o', file, '--interval', '250ms', '--duration', '6s'], { hangGuardMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      const rec = await readRecording(file, 'test');
      const last = samples(rec).at(-1)!;
      const running = (last.workers ?? []).filter((w) => w.state === 'running');
      assert.equal(running.length, 2, JSON.stringify(last.workers));
      // worker i holds i * 20 MiB
      const [w1, w2] = running.sort((a, b) => a.threadId! - b.threadId!);
      assert.ok(w2!.heapUsedBytes! - w1!.heapUsedBytes! > 15 * 1024 * 1024, `${w1!.heapUsedBytes} and ${w2!.heapUsedBytes}`);
      // the socket walk every 5th tick, as the live view's overview; the lines between carry none
      const lines = zlib.gunzipSync(fs.readFileSync(file)).toString().trimEnd().split('\n').slice(1).map((l) => JSON.parse(l) as Record<string, unknown>);
      const sampleLines = lines.filter((l) => l.type === 'sample') as Array<{ walked: boolean; sample: { sockets: unknown } }>;
      assert.ok(sampleLines.some((l) => l.walked && l.sample.sockets !== null));
      assert.ok(sampleLines.some((l) => !l.walked && l.sample.sockets === null));
      // and the replay shows the last walk on every sample after it
      for (let i = rec.frames.findIndex((f) => f.netFrom >= 0); i >= 0 && i < rec.frames.length; i++) assert.notEqual(frameSample(rec, i)!.sockets, null);
    } finally {
      await t.kill();
    }
  });

  it('Ctrl-C ends the recording with a whole file (exit 130); a target that exits ends it with an exited event (exit 8)', async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const file = path.join(dir, 'int.ndjson.gz');
      const child = spawn(process.execPath, [NODETOP, 'record', String(t.pid), '-o', file, '--interval', '250ms'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      await recording(t);
      child.kill('SIGINT');
      const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      assert.equal(code, 130, err);
      // the gzip stream is whole (gunzipSync throws on a cut one) and ends with the end line
      const lines = zlib.gunzipSync(fs.readFileSync(file)).toString().trimEnd().split('\n');
      assert.deepEqual(JSON.parse(lines.at(-1)!).reason, 'stopped');
      assert.equal((await t.ask('nodetop')).sessions, 0, 'detached');
    } finally {
      await t.kill();
    }
    const t2 = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    const file = path.join(dir, 'exit.ndjson');
    const run = runCli(['record', String(t2.pid), '-o', file, '--interval', '250ms'], { hangGuardMs: 60_000 });
    await recording(t2);
    await t2.kill('SIGTERM');
    const r = await run;
    assert.equal(r.code, 8, r.stderr);
    assert.match(r.stderr, new RegExp(`pid ${t2.pid} exited: recorded \\d+ samples`));
    const rec = await readRecording(file, 'test');
    assert.equal(rec.end?.reason, 'exited');
    assert.equal(rec.events.at(-1)?.kind, 'exit');
    assert.equal(rec.events.at(-1)?.text, `pid ${t2.pid} exited`);
  });

  it('never writes over a file, and fails on a path it cannot write before touching the target (exit 12)', async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const taken = path.join(dir, 'taken.ndjson');
      fs.writeFileSync(taken, 'keep me');
      const r = await runCli(['record', String(t.pid), '-o', taken, '--duration', '1s']);
      assert.equal(r.code, 12, r.stderr);
      assert.match(r.stderr, /cannot write .*taken\.ndjson: it exists/);
      assert.equal(fs.readFileSync(taken, 'utf8'), 'keep me');
      const link = path.join(dir, 'link.ndjson');
      fs.symlinkSync(path.join(dir, 'victim'), link);
      const l = await runCli(['record', String(t.pid), '-o', link, '--duration', '1s']);
      assert.equal(l.code, 12, l.stderr);
      assert.ok(!fs.existsSync(path.join(dir, 'victim')), 'a planted symlink is not followed');
      const n = await runCli(['record', String(t.pid), '-o', path.join(dir, 'no', 'such', 'x.ndjson')]);
      assert.equal(n.code, 12, n.stderr);
      assert.match(n.stderr, /no such directory/);
      assert.equal((await t.ask('nodetop')).sessions, 0, 'nothing was installed in the target');
    } finally {
      await t.kill();
    }
  });
});

function samples(rec: Recording): Array<NonNullable<ReturnType<typeof frameSample>>> {
  return rec.frames.flatMap((f, i) => (f.line ? [frameSample(rec, i)!] : []));
}
