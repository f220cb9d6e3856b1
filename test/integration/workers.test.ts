// Worker threads in `nodetop stats`: a row per worker with the heap the fixture put there,
// nested workers, workers that exit or start while nodetop is attached, nothing left behind.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { eventually, parseJson, runCli, startTarget } from '../helpers/target';
import { attachTo } from '../helpers/harm';
import type { Sample, WorkerRow } from '../../src/model/sample';
import { Sampler, WORKER_READS_PER_S } from '../../src/sampler';

const MiB = 1024 * 1024;

interface Started {
  threadId: number;
  mb: number;
  name: string;
  nestedThreadId: number | null;
}

describe('nodetop stats: worker threads', () => {
  it("shows each worker's own CPU, tied to its OS thread: the busy one, not the idle one", async () => {
    const t = await startTarget('workers.js', { args: ['2', '1'] });
    try {
      const [busy, idle] = (t.facts.workers as Started[]).map((w) => w.threadId);
      // busy 40 ms of every 100 ms, as a pool worker between waits
      assert.equal((await t.ask(`duty ${busy} 40`)).duty, true);
      const r = await runCli(['stats', String(t.pid), '--json', '--window', '2s', '--no-sockets']);
      assert.equal(r.code, 0, r.stderr);
      const byId = new Map(parseJson<Sample>(r).workers!.map((w) => [w.threadId, w]));
      const b = byId.get(busy)!.cpuPercent;
      const i = byId.get(idle)!.cpuPercent;
      assert.ok(b !== null && i !== null, `busy ${b}, idle ${i}`);
      // a loaded machine gives the busy thread less than its 40%, but it stays far above the idle one (~0)
      assert.ok(b > 5 && b <= 105, `busy worker: ${b}%`);
      assert.ok(i < b / 3, `idle worker: ${i}%, busy: ${b}%`);
      const human = await runCli(['stats', String(t.pid), '--window', '500ms', '--no-sockets']);
      assert.match(human.stdout, /util \S+ {2}cpu \d+%/);
    } finally {
      await t.kill();
    }
  });

  // piscina's workers wait for tasks in Atomics.wait, never turning their loops: each idle one
  // read "BLOCKED ... at at Atomics.wait", and the live view logged it as a blocked episode
  it('a piscina worker idle in Atomics.wait is waiting, not blocked', async () => {
    const t = await startTarget('piscina.js', { args: ['2', '1', '0'], nodeArgs: ['--inspect-port=0'] });
    try {
      const r = await runCli(['stats', String(t.pid), '--json', '--window', '2s', '--no-sockets']); // well past the 750 ms a loop must stall to count, in each worker
      assert.equal(r.code, 0, r.stderr);
      const rows = parseJson<Sample>(r).workers!.filter((w) => (t.facts.workers as number[]).includes(w.threadId!));
      assert.equal(rows.length, 2);
      for (const w of rows) {
        assert.equal(w.eventLoop.blocked, null, JSON.stringify(w.eventLoop));
        assert.equal(w.eventLoop.waiting?.in, 'Atomics.wait');
        assert.ok(w.eventLoop.waiting.forMs > 0);
      }
      const text = await runCli(['stats', String(t.pid), '--window', '2s', '--no-sockets']);
      assert.doesNotMatch(text.stdout, /BLOCKED/);
      assert.match(text.stdout, /waiting in Atomics\.wait for/);
      // at work: a task of 100 ms of CPU every 300 ms on the pool. Utilization reads 1.00 either
      // way (the loop never turns); the threads' own CPU tells the work apart from the wait
      assert.equal((await t.ask('busy 100 300')).busy, true);
      const busy = parseJson<Sample>(await runCli(['stats', String(t.pid), '--json', '--window', '2s', '--no-sockets'])).workers!;
      const cpu = busy.filter((w) => (t.facts.workers as number[]).includes(w.threadId!)).map((w) => w.cpuPercent ?? 0);
      assert.ok(cpu.reduce((a, b) => a + b, 0) > 5, `the pool's threads at work: ${cpu.join('%, ')}%`);
    } finally {
      await t.kill();
    }
  });

  it('reports each worker with the heap it holds, nested workers included', async () => {
    // --expose-gc: each worker collects its construction garbage before it says it is up
    const t = await startTarget('workers.js', { args: ['3', '20', 'nested'], nodeArgs: ['--inspect-port=0', '--expose-gc'] });
    try {
      const started = t.facts.workers as Started[];
      const r = await runCli(['stats', String(t.pid), '--json', '--window', '200']);
      assert.equal(r.code, 0, r.stderr);
      const s = parseJson<Sample>(r);
      assert.ok(s.workers);
      const byId = new Map(s.workers.map((w) => [w.threadId, w]));
      // 3 workers + the nested one that worker 1 started
      assert.equal(s.workers.length, 4, JSON.stringify(s.workers.map((w) => w.title)));
      const nested = byId.get(started[0]!.nestedThreadId!);
      assert.ok(nested, 'the nested worker has a row');
      assert.equal(nested.name, 'nested');
      assert.equal(nested.state, 'running');
      // Tolerance: the fixture's arrays are exactly `mb` MiB of doubles (1 MiB each) and each
      // worker ran a full GC after building them; an isolate with nothing in it uses 4-6 MiB
      // here (the nested worker is that baseline, measured in the same sample). So a worker
      // holding mb MiB uses mb MiB + its baseline, within 3 MiB: baselines differ by the
      // worker's own code, worker 1's Worker object for its nested worker, and what nodetop's
      // probes allocated since (measured: within 1 MiB).
      const base = nested.heapUsedBytes!;
      for (const w of started) {
        const row = byId.get(w.threadId);
        assert.ok(row, `worker ${w.threadId} has a row`);
        assert.equal(row.state, 'running');
        assert.equal(row.name, w.name);
        const held = row.heapUsedBytes! - base;
        assert.ok(Math.abs(held - w.mb * MiB) < 3 * MiB, `worker ${w.name}: ${(held / MiB).toFixed(1)} MiB over baseline, expected ${w.mb}`);
        assert.ok(row.heapTotalBytes! >= row.heapUsedBytes!);
        assert.ok(row.heapLimitBytes! > row.heapTotalBytes!);
        assert.equal(typeof row.externalBytes, 'number');
        assert.equal(typeof row.arrayBuffersBytes, 'number');
        assert.ok(row.eventLoop.utilization! >= 0 && row.eventLoop.utilization! <= 1);
        assert.ok(row.eventLoop.windowMs! >= 200);
        assert.ok(row.gc && typeof row.gc.count === 'number');
        // each worker holds exactly one interval timer
        assert.equal(row.handles!.byType.Timeout, 1);
      }
      // the main thread's heap is not any worker's: it holds none of the arrays
      assert.ok(s.memory.heapUsedBytes! < 20 * MiB);
      const text = await runCli(['stats', String(t.pid), '--window', '50']);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /^workers {2}4$/m);
      assert.match(text.stdout, new RegExp(`#${started[2]!.threadId} w3 {2}heap`));
    } finally {
      await t.kill();
    }
  });

  it('reports a worker that exits during the window as gone, one that starts as running, and the sample succeeds', async () => {
    const t = await startTarget('workers.js', { args: ['2', '5'], nodeArgs: ['--inspect-port=0'] });
    try {
      const started = t.facts.workers as Started[];
      const cli = runCli(['stats', String(t.pid), '--json', '--window', '1500']);
      // wait until nodetop's instruments are in both workers (the window has begun)
      await eventually(
        () => t.ask('instrumented'),
        (r) => Object.values(r.byThread as Record<string, boolean>).every(Boolean),
        10_000,
      );
      const stopped = await t.ask(`stop ${started[0]!.threadId}`);
      assert.equal(stopped.stopped, true);
      const late = (await t.ask('spawn 3')) as unknown as Started;
      const r = await cli;
      assert.equal(r.code, 0, r.stderr);
      const s = parseJson<Sample>(r);
      const byId = new Map<number | null, WorkerRow>(s.workers!.map((w) => [w.threadId, w]));
      const gone = byId.get(started[0]!.threadId);
      assert.ok(gone, JSON.stringify(s.workers));
      assert.equal(gone.state, 'gone');
      assert.equal(gone.heapUsedBytes, null);
      assert.equal(byId.get(started[1]!.threadId)?.state, 'running');
      const appeared = byId.get(late.threadId);
      assert.ok(appeared, 'a worker started during the window has a row');
      assert.equal(appeared.state, 'running');
      assert.ok(appeared.heapUsedBytes! > 3 * MiB);
    } finally {
      await t.kill();
    }
  });

  it('counts the GCs a worker runs during the window, in that worker only', async () => {
    const t = await startTarget('workers.js', { args: ['2', '1'], nodeArgs: ['--inspect-port=0', '--expose-gc'] });
    try {
      const started = t.facts.workers as Started[];
      const cli = runCli(['stats', String(t.pid), '--json', '--window', '2000']);
      await eventually(
        () => t.ask('instrumented'),
        (r) => Object.values(r.byThread as Record<string, boolean>).every(Boolean),
        10_000,
      );
      // 9 full GCs over ~200 ms, starting just after the window began
      assert.equal((await t.ask(`gc ${started[0]!.threadId}`)).gcs, 9);
      const s = parseJson<Sample>(await cli);
      const busy = s.workers!.find((w) => w.threadId === started[0]!.threadId)!;
      const quiet = s.workers!.find((w) => w.threadId === started[1]!.threadId)!;
      assert.ok(busy.gc!.byKind.major.count >= 6, JSON.stringify(busy.gc));
      assert.ok(busy.gc!.pauseMs > 0);
      assert.equal(quiet.gc!.byKind.major.count, 0, JSON.stringify(quiet.gc));
    } finally {
      await t.kill();
    }
  });

  it('removes its instruments from every worker on detach, and --no-workers does not attach to them', async () => {
    const t = await startTarget('workers.js', { args: ['2', '1'], nodeArgs: ['--inspect-port=0'] });
    try {
      const r = await runCli(['stats', String(t.pid), '--json', '--window', '50']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(parseJson<Sample>(r).workers!.length, 2);
      const after = await t.ask('instrumented');
      assert.deepEqual(Object.values(after.byThread as Record<string, boolean>), [false, false]);
      const nw = await runCli(['stats', String(t.pid), '--json', '--window', '50', '--no-workers']);
      assert.equal(nw.code, 0, nw.stderr);
      assert.equal(parseJson<Sample>(nw).workers, null);
    } finally {
      await t.kill();
    }
  });

  it('reads many workers together once the ration covers them all; the samples between repeat the last readings and say when they were taken', async () => {
    // (8 workers building 144 MiB of arrays took over 10 s to get ready on a host at load 10)
    // 8 workers, worker i holding 4i MiB, and a sample every ~250 ms: at 3 reads a second the
    // 8 are read together every ~2.7 s
    const t = await startTarget('workers.js', { args: ['8', '4'], nodeArgs: ['--inspect-port=0', '--expose-gc'], readyTimeoutMs: 60_000 });
    const att = await attachTo(t.pid, { timeoutMs: 10_000 });
    const sampler = new Sampler(att, { workers: true });
    try {
      const started = t.facts.workers as Started[];
      const t0 = performance.now();
      await sampler.baseline();
      const baselineDone = Date.now();
      let last = new Map<number | null, WorkerRow>();
      let reads = 0;
      let staleRows = 0;
      const readSince = new Set<number | null>();
      for (let i = 0; i < 14; i++) {
        await new Promise((r) => setTimeout(r, 250));
        const s = await sampler.sample();
        const elapsedS = (performance.now() - t0) / 1000;
        assert.equal(s.workers!.length, 8);
        let fresh = 0;
        for (const w of s.workers!) {
          assert.equal(w.state, 'running');
          const before = last.get(w.threadId);
          // the baseline's readings were taken before it returned; this sample's, 250 ms later
          if (before ? before.readAt !== w.readAt : Date.parse(w.readAt) > baselineDone + 100) {
            fresh++;
            readSince.add(w.threadId);
          } else {
            // not read for this sample: the last reading, whole, with its time
            staleRows++;
            if (before) assert.deepEqual(w, before);
          }
        }
        assert.ok(fresh === 0 || fresh === 8, `${fresh} of 8 read: all together or none`);
        reads += fresh;
        assert.ok(reads <= WORKER_READS_PER_S * elapsedS, `${reads} reads in ${elapsedS.toFixed(2)} s`);
        last = new Map(s.workers!.map((w) => [w.threadId, w]));
      }
      assert.ok(staleRows > 0, 'some rows repeat a reading');
      // 14 samples over more than 3.5 s: the ration has covered the 8 at least once
      assert.equal(readSince.size, 8);
      // each row is its own worker's, however old: worker i holds 4i MiB more than nothing
      const rows = [...last.values()];
      const base = rows.find((w) => w.threadId === started[0]!.threadId)!.heapUsedBytes! - 4 * MiB;
      for (const [i, w] of started.entries()) {
        const held = rows.find((r) => r.threadId === w.threadId)!.heapUsedBytes! - base;
        assert.ok(Math.abs(held - (i + 1) * 4 * MiB) < 3 * MiB, `${w.name}: ${(held / MiB).toFixed(1)} MiB`);
      }
      // asked to (after a GC or a snapshot in the live view), the next sample reads them all
      await sampler.sample();
      sampler.readAllWorkersNext();
      const askedAt = Date.now();
      const all = await sampler.sample();
      assert.ok(
        all.workers!.every((w) => Date.parse(w.readAt) >= askedAt),
        'every row read for this sample',
      );
      // and the ration pays for it: the sample after that reads none
      const none = await sampler.sample();
      assert.deepEqual(
        none.workers!.map((w) => w.readAt),
        all.workers!.map((w) => w.readAt),
      );
      // a worker that starts is read in the next sample, whatever is left of the ration
      await sampler.sample();
      const late = (await t.ask('spawn 3')) as unknown as Started;
      await eventually(
        async () => sampler.workerSessions().length,
        (n) => n === 9,
        10_000,
      );
      const s = await sampler.sample();
      const row = s.workers!.find((w) => w.threadId === late.threadId);
      assert.ok(row, 'the new worker has a row');
      assert.equal(row.state, 'running');
      assert.ok(row.heapUsedBytes! > 3 * MiB);
    } finally {
      await sampler.close();
      await att.detach();
      await t.kill();
    }
  });

  it('reports a worker stuck in JavaScript as blocked, with where it is stuck, once it has been for 1.25 s', async () => {
    const t = await startTarget('workers.js', { args: ['2', '1'], nodeArgs: ['--inspect-port=0'] });
    const att = await attachTo(t.pid, { timeoutMs: 10_000 });
    const sampler = new Sampler(att, { workers: true, workerReadsPerS: Infinity });
    try {
      const started = t.facts.workers as Started[];
      const stuck = started[0]!.threadId;
      // instruments in both workers while their loops turn: each knows when it last turned
      await sampler.baseline();
      assert.equal((await t.ask(`spin ${stuck} 8000`)).spinning, true);
      const spunAt = Date.now();
      await new Promise((r) => setTimeout(r, 400));
      // 400 ms: under the worker threshold (750 ms + the worker timer's 500 ms)
      const early = await sampler.sample();
      assert.equal(early.workers!.find((w) => w.threadId === stuck)!.eventLoop.blocked, null);
      await new Promise((r) => setTimeout(r, 2000 - (Date.now() - spunAt)));
      const s = await sampler.sample();
      const upperMs = Date.now() - spunAt;
      const row = s.workers!.find((w) => w.threadId === stuck)!;
      assert.equal(row.state, 'running');
      const b = row.eventLoop.blocked;
      assert.ok(b, JSON.stringify(row.eventLoop));
      // its last turn is known to within the timer's 500 ms
      assert.ok(b.forMs >= 2000 - 500 && b.forMs <= upperMs + 500, `blocked for ${b.forMs} ms, spinning for 2000-${upperMs} ms`);
      assert.match(b.stack[0] ?? '', /spinInWorker/);
      assert.equal(s.workers!.find((w) => w.threadId === started[1]!.threadId)!.eventLoop.blocked, null);
      assert.equal(s.eventLoop.blocked, null);
    } finally {
      await sampler.close();
      await att.detach();
      await t.kill();
    }
  });
});
