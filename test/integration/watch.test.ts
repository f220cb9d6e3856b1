// nodetop watch against real targets: NDJSON records with exact counts the fixtures control, a
// target killed mid-watch (its stream ends with an `exited` record, the other goes on), all
// targets gone (exit 8), and the human header + lines.

import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as readline from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { listeningSockets } from '../../src/platform/proc';
import { NODETOP, eventually, runCli, startTarget, sinkServer } from '../helpers/target';
import type { Sample } from '../../src/model/sample';

type Rec = Partial<Sample> & { index?: number; pid: number; event?: string; lateMs?: number; skipped?: number };

function ndjson(stdout: string): Rec[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      try {
        return JSON.parse(l) as Rec;
      } catch {
        throw new Error(`not NDJSON: ${l}`);
      }
    });
}

/** Runs nodetop, handing each stdout line to onLine as it arrives. The bound is a hang guard. */
function runStreaming(
  args: string[],
  onLine: (rec: Rec, all: Rec[], child: import('node:child_process').ChildProcess) => void,
): Promise<{ code: number | null; recs: Rec[]; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [NODETOP, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const recs: Rec[] = [];
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    readline.createInterface({ input: child.stdout }).on('line', (l) => {
      const r = JSON.parse(l) as Rec;
      recs.push(r);
      onLine(r, recs, child);
    });
    const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(guard);
      setImmediate(() => resolve({ code, recs, stderr }));
    });
  });
}

describe('nodetop watch', () => {
  const sink = sinkServer(before, after);

  it('--count 3 on two targets: 6 NDJSON records, indexes 0..2 per pid, exact handle counts', async () => {
    const a = await startTarget('handles.js', { args: [String(sink.port)], nodeArgs: ['--inspect-port=0'] });
    const b = await startTarget('handles.js', { args: [String(sink.port)], nodeArgs: ['--inspect-port=0'] });
    try {
      const r = await runCli(['watch', String(a.pid), String(b.pid), '--count', '3', '--interval', '200ms', '--json']);
      assert.equal(r.code, 0, r.stderr);
      // the samples: an event line (a lag spike on a loaded host) may come between them
      const recs = ndjson(r.stdout).filter((x) => x.event === undefined);
      assert.equal(recs.length, 6, r.stdout);
      for (const t of [a, b]) {
        const mine = recs.filter((x) => x.pid === t.pid);
        assert.deepEqual(mine.map((x) => x.index), [0, 1, 2]);
        for (const x of mine) {
          assert.equal(x.schema, 1);
          assert.equal(x.target?.pid, t.pid);
          assert.equal(x.handles?.byType.Timeout, 3);
          assert.equal(x.handles?.byType.TCPSocketWrap, 5);
          assert.equal(typeof x.lateMs, 'number');
          assert.equal(typeof x.skipped, 'number');
          assert.equal(typeof x.eventLoop?.windowMs, 'number');
        }
      }
      // detached: the inspectors nodetop opened are closed again
      for (const t of [a, b]) {
        const left = await eventually(() => listeningSockets(t.pid), (s) => s.length === 0);
        assert.deepEqual(left, []);
        assert.ok(t.alive());
      }
    } finally {
      await a.kill();
      await b.kill();
    }
  });

  // the docs say --json writes the fields of stats --json: sockets, httpPools and workers were
  // always null
  it('--json has sockets, httpPools and workers, as stats --json has them', async () => {
    const a = await startTarget('handles.js', { args: [String(sink.port)], nodeArgs: ['--inspect-port=0'] });
    const w = await startTarget('workers.js', { args: ['2', '1'], nodeArgs: ['--inspect-port=0'] });
    try {
      const r = await runCli(['watch', String(a.pid), String(w.pid), '--count', '2', '--interval', '1s', '--json']);
      assert.equal(r.code, 0, r.stderr);
      // the samples: event lines (a lag spike on a loaded host) come between them
      const recs = ndjson(r.stdout).filter((x) => x.event === undefined);
      assert.equal(recs.length, 4, r.stdout);
      const s = await runCli(['stats', String(a.pid), '--json', '--window', '100']);
      const st = JSON.parse(s.stdout) as Sample;
      for (const x of recs.filter((y) => y.pid === a.pid)) {
        assert.ok(x.sockets, JSON.stringify(x).slice(0, 300));
        assert.equal(x.sockets.total, st.sockets!.total);
        assert.deepEqual(x.sockets.byDirection, st.sockets!.byDirection);
        assert.ok(Array.isArray(x.httpPools));
        assert.deepEqual(x.workers, []);
      }
      const ids = (w.facts.workers as Array<{ threadId: number }>).map((x) => x.threadId);
      for (const x of recs.filter((y) => y.pid === w.pid)) {
        assert.deepEqual(x.workers!.map((k) => k.threadId), ids);
        assert.ok(x.workers!.every((k) => k.state === 'running'), JSON.stringify(x.workers));
      }
    } finally {
      await a.kill();
      await w.kill();
    }
  });

  it('a target killed mid-watch ends its stream with an exited record; the other goes on', async () => {
    const a = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    const b = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      let killed = false;
      // 15 at 200 ms: b's readings are collected each second for 3 s, past a's end (~2 s)
      const r = await runStreaming(['watch', String(a.pid), String(b.pid), '--count', '15', '--interval', '200ms', '--json'], (rec) => {
        if (!killed && rec.pid === a.pid && rec.index === 1) {
          killed = true;
          void a.kill();
        }
      });
      assert.equal(r.code, 0, r.stderr);
      const exitedAt = r.recs.findIndex((x) => x.pid === a.pid && x.event === 'exited');
      assert.ok(exitedAt > 0, JSON.stringify(r.recs.map((x) => [x.pid, x.index, x.event])));
      assert.equal(r.recs.filter((x) => x.pid === a.pid && x.event === 'exited').length, 1);
      // nothing more from a after its exited record; b went on to its count
      assert.equal(r.recs.slice(exitedAt + 1).filter((x) => x.pid === a.pid).length, 0);
      assert.ok(r.recs.slice(exitedAt + 1).some((x) => x.pid === b.pid));
      assert.deepEqual(
        r.recs.filter((x) => x.pid === b.pid).map((x) => x.index),
        Array.from({ length: 15 }, (_, i) => i),
      );
      assert.ok(b.alive());
    } finally {
      await a.kill();
      await b.kill();
    }
  });

  it('exits with code 8 when every target is gone', async () => {
    const a = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      let killed = false;
      const r = await runStreaming(['watch', String(a.pid), '--interval', '200ms', '--json'], (rec) => {
        if (!killed && rec.index === 0) {
          killed = true;
          void a.kill();
        }
      });
      assert.equal(r.code, 8, r.stderr);
      assert.deepEqual(r.recs.at(-1), { pid: a.pid, event: 'exited', index: r.recs.filter((x) => x.index !== undefined && !x.event).length });
      assert.match(r.stderr, new RegExp(`pid ${a.pid} exited`));
    } finally {
      await a.kill();
    }
  });

  it('a target that stops answering gets one timed-out call, not a queue of them', async () => {
    const a = await startTarget('blocked.js', { nodeArgs: ['--inspect=127.0.0.1:0'] }) // open already: the short --timeout is for the samples;
    try {
      let blocked = false;
      // 1 s: sampled each tick (below a second the target records and nodetop collects)
      const r = await runStreaming(['watch', String(a.pid), '--count', '4', '--interval', '1s', '--timeout', '1000ms', '--json'], (rec) => {
        if (!blocked && rec.index === 1 && !rec.event) {
          blocked = true;
          void a.ask('syscall 4000'); // blocks outside JavaScript: the inspector cannot answer
        }
      });
      assert.equal(r.code, 0, r.stderr);
      const errors = r.recs.filter((x) => x.event === 'error');
      // the first call times out; every later tick is skipped while that call is still queued
      // in the target, instead of adding one more to the queue
      assert.equal(errors.length, 1, JSON.stringify(r.recs.map((x) => [x.index, x.event ?? '', x.skipped ?? ''])));
      assert.equal((errors[0] as unknown as { exitCode: number }).exitCode, 9);
      const after = r.recs[r.recs.indexOf(errors[0]!) + 1];
      assert.ok(after && !after.event && (after.skipped ?? 0) >= 1, JSON.stringify(after && { index: after.index, skipped: after.skipped }));
      assert.deepEqual(r.recs.filter((x) => !x.event).map((x) => x.index), [0, 1, 2, 3]);
      assert.ok(a.alive());
    } finally {
      await a.kill();
    }
  });

  it('Ctrl-C ends the watch with 130, detached: the inspector it opened is closed, the target lives', async () => {
    const a = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      let sent = false;
      const r = await runStreaming(['watch', String(a.pid), '--interval', '200ms', '--json'], (rec, _all, child) => {
        if (!sent && rec.index === 1) {
          sent = true;
          child.kill('SIGINT');
        }
      });
      assert.equal(r.code, 130, r.stderr);
      assert.ok(r.recs.length >= 2);
      const left = await eventually(() => listeningSockets(a.pid), (s) => s.length === 0);
      assert.deepEqual(left, []);
      assert.ok(a.alive());
    } finally {
      await a.kill();
    }
  });

  it("emits the live view's events: a blocked episode and its lag spike, as records of their own (--json) and as lines", async () => {
    const a = await startTarget('blocked.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      let asked = false;
      // the block begins right after a sample: the case whose lag spike once reached only the max
      const r = await runStreaming(['watch', String(a.pid), '--interval', '1s', '--count', '10', '--json'], (rec) => {
        if (!asked && rec.index === 1 && !rec.event) {
          asked = true;
          void a.ask('block-after-sample 3000');
        }
      });
      assert.equal(r.code, 0, r.stderr);
      type Ev = Rec & { level?: string; time?: string; message?: string; frames?: string[] };
      const events = r.recs.filter((x) => x.event) as Ev[];
      const what = JSON.stringify(events);
      // events take no index of their own: the samples still count 0..9
      assert.deepEqual(r.recs.filter((x) => !x.event).map((x) => x.index), Array.from({ length: 10 }, (_, i) => i));
      const during = events.find((e) => e.event === 'blocked' && /so far/.test(e.message ?? ''));
      assert.ok(during, what);
      assert.equal(during.level, 'bad');
      assert.match(during.message!, /^main thread blocked in JavaScript for [\d.]+ s so far, at spinTheWheel \(.*blocked\.js:\d+:\d+\)$/);
      assert.match(during.frames?.[0] ?? '', /^spinTheWheel \(.*blocked\.js:\d+:\d+\)$/);
      // after the sample that showed it, with that sample's index and time
      const shown = r.recs.findIndex((x) => !x.event && x.index === during.index);
      assert.ok(shown >= 0 && shown < r.recs.indexOf(during) && r.recs[shown]!.eventLoop?.blocked, what);
      assert.equal(during.time, r.recs[shown]!.time);
      const ended = events.find((e) => e.event === 'blocked' && /now running again/.test(e.message ?? ''));
      assert.ok(ended, what);
      assert.match(ended.message!, /^main thread was blocked in JavaScript for [\d.]+ s, now running again; at spinTheWheel/);
      const lag = events.find((e) => e.event === 'lag' && e.level === 'bad');
      assert.ok(lag, what);
      const p99 = Number(/^event loop lag p99 (\d+) ms, max \d+ ms \(over 100 ms\)$/.exec(lag.message ?? '')?.[1]);
      assert.ok(p99 >= 2500, `${lag.message} after a 3,000 ms block`);

      // the same in text: a line each, after the sample line
      const text = runCli(['watch', String(a.pid), '--interval', '1s', '--count', '8']);
      await eventually(() => a.ask('nodetop'), (x) => Number(x.samples) >= 2, 15_000);
      await a.ask('block-after-sample 3000');
      const out = await text;
      assert.equal(out.code, 0, out.stderr);
      const pid = String(a.pid);
      assert.match(out.stdout, new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} +${pid}  main thread blocked in JavaScript for [\\d.]+ s so far, at spinTheWheel`, 'm'));
      assert.match(out.stdout, new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} +${pid}  event loop lag p99 \\d+ ms, max \\d+ ms \\(over 100 ms\\)$`, 'm'));
      assert.ok(a.alive());
    } finally {
      await a.kill();
    }
  });

  it('human mode: a header, then one line per sample with the chosen fields', async () => {
    const a = await startTarget('handles.js', { args: [String(sink.port)], nodeArgs: ['--inspect-port=0'] });
    try {
      const r = await runCli(['watch', String(a.pid), '--count', '2', '--interval', '200ms', '--fields', 'pid,sockets,handles']);
      assert.equal(r.code, 0, r.stderr);
      // the header and the samples; an event's line (words, not numbers) may come between them
      const lines = r.stdout
        .trimEnd()
        .split('\n')
        .filter((l, i) => i === 0 || !/[a-z]{3,}/.test(l));
      assert.equal(lines.length, 3, r.stdout);
      assert.deepEqual(lines[0]!.trim().split(/\s{2,}/), ['PID', 'SOCKETS', 'HANDLES']);
      for (const l of lines.slice(1)) {
        const [pid, sockets, handles] = l.trim().split(/\s+/);
        assert.equal(Number(pid), a.pid);
        assert.equal(Number(sockets), 5);
        assert.ok(Number(handles) >= 8, l); // 3 timers + 5 sockets, plus the stdio pipes
      }
      const full = await runCli(['watch', String(a.pid), '--count', '1', '--interval', '100ms']);
      assert.equal(full.code, 0, full.stderr);
      assert.match(full.stdout.split('\n')[0]!, /^TIME\s+PID\s+HEAP USED\/LIMIT\s+RSS\s+LAG P99\s+ELU\s+CPU\s+HANDLES\s+SOCKETS\s+GC N\/PAUSE\s+FDS$/);
      const bad = await runCli(['watch', String(a.pid), '--fields', 'pid,nope']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /unknown field "nope"/);
    } finally {
      await a.kill();
    }
  });
});
