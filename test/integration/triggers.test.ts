// watch --when/--then against real targets (issue 24 §1): a leak that trips a heap trigger and
// leaves a snapshot naming the leaking constructor; a loop held by a hot function that trips a
// lag trigger and leaves a profile topped by that function; the action budget (exit 13), the
// cooldown, --keep-watching and the disk budget, counted in files and events; a snapshot the
// memory check refuses (logged, never forced); exec with the readings in its environment.
// Durations are "for 2s" with generous bounds: nothing here asserts how fast anything is.

import { strict as assert } from 'node:assert';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { describe, it } from 'node:test';
import type { HeapSummaryResult } from '../../src/commands/heapsummary';
import { checkProfile, summarizeProfile } from '../../src/model/profile';
import { eventually, NODETOP, parseJson, runCli, startTarget, type CliResult } from '../helpers/target';

type Rec = Record<string, unknown> & { event?: string; pid?: number };

function records(r: CliResult): Rec[] {
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      try {
        return JSON.parse(l) as Rec;
      } catch {
        throw new Error(`not NDJSON: ${l}\nstderr: ${r.stderr}`);
      }
    });
}

const events = (recs: Rec[], kind: string): Rec[] => recs.filter((r) => r.event === kind);

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-triggers-'));
}

/** Resolves once the watch's sampler has read the target at least once (its window is open). */
async function watched(t: { ask(c: string): Promise<Record<string, unknown>> }): Promise<void> {
  const r = await eventually(
    () => t.ask('nodetop'),
    (v) => Number(v.sessions) > 0 && Number(v.samples) > 1,
    60_000,
  );
  assert.ok(Number(r.sessions) > 0, 'the watch never attached');
}

function havePrlimit(): boolean {
  try {
    execFileSync('prlimit', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('watch --when/--then (triggers)', () => {
  it('a heap trigger on a leak takes a snapshot that names the leaking constructor, then exits 13', async () => {
    // a 112 MiB heap limit: 150,000 LeakyThings (~25 MiB) put the heap over 15% of it
    const t = await startTarget('growing-leak.js', { nodeArgs: ['--max-old-space-size=64'] });
    const out = tmpDir();
    try {
      const run = runCli(['watch', String(t.pid), '--json', '--when', 'heap.used > 15% of limit for 2s', '--then', 'snapshot', '--out', out, '--duration', '90s'], {
        hangGuardMs: 180_000,
      });
      await watched(t);
      await t.ask('grow 150000');
      const r = await run;
      assert.equal(r.code, 13, r.stderr);
      assert.match(r.stderr, /action budget is spent/);
      const recs = records(r);
      const fired = events(recs, 'trigger');
      assert.equal(fired.length, 1, JSON.stringify(fired));
      const f = fired[0]!;
      assert.equal(f.trigger, 1);
      assert.equal(f.firing, 1);
      const v = f.values as Record<string, number>;
      assert.ok(v['heap.used']! > 0.15 * v['heap.used.limit']!, JSON.stringify(v));
      const acts = events(recs, 'action');
      assert.equal(acts.length, 1, JSON.stringify(acts));
      assert.equal(acts[0]!.status, 'ok', JSON.stringify(acts[0]));
      // sampling paused while the target was frozen, and said so
      assert.equal(events(recs, 'paused').length, 1);
      assert.equal(events(recs, 'resumed').length, 1);
      assert.equal(events(recs, 'budget-spent').length, 1);
      const files = fs.readdirSync(out);
      assert.equal(files.length, 1, files.join(' '));
      // the name carries the pid, the trigger and the time (no colons)
      assert.match(files[0]!, new RegExp(`^[\\w.-]+-${t.pid}-t1-\\d{8}T\\d{6}\\.\\d{3}Z-a1\\.heapsnapshot$`));
      assert.equal(acts[0]!.path, path.join(out, files[0]!));
      const s = await runCli(['heap-summary', path.join(out, files[0]!), '--json', '--top', '10'], { hangGuardMs: 180_000 });
      assert.equal(s.code, 0, s.stderr);
      const sum = parseJson<HeapSummaryResult>(s);
      const leaky = sum.groups.find((g) => g.name === 'LeakyThing');
      assert.ok(leaky, JSON.stringify(sum.groups.slice(0, 5)));
      assert.equal(leaky.count, 150_000);
      assert.ok(t.alive());
    } finally {
      await t.kill();
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('a worker heap trigger takes the snapshot of the worker that tripped it', async () => {
    // leaky.js: 100 LeakyThings on the main thread, 400,000 WorkerOnlyThings (~12 MiB) in its one worker
    const t = await startTarget('leaky.js', { args: ['100', '400000', '0'], readyTimeoutMs: 30_000 });
    const out = tmpDir();
    try {
      const r = await runCli(['watch', String(t.pid), '--json', '--when', 'worker.heap.used > 8MiB', '--then', 'snapshot worker', '--out', out, '--duration', '90s'], {
        hangGuardMs: 180_000,
      });
      assert.equal(r.code, 13, r.stderr);
      const recs = records(r);
      const f = events(recs, 'trigger')[0]!;
      assert.equal(f.threadId, t.facts.workerThreadId, JSON.stringify(f));
      const a = events(recs, 'action')[0]!;
      assert.equal(a.status, 'ok', JSON.stringify(a));
      assert.equal(a.threadId, t.facts.workerThreadId);
      assert.match(String(a.path), new RegExp(`-${t.pid}-t1-.*-a1-w${String(t.facts.workerThreadId)}\\.heapsnapshot$`));
      const s = await runCli(['heap-summary', String(a.path), '--json', '--top', '10'], { hangGuardMs: 180_000 });
      assert.equal(s.code, 0, s.stderr);
      const sum = parseJson<HeapSummaryResult>(s);
      assert.equal(sum.groups.find((g) => g.name === 'WorkerOnlyThing')?.count, 400_000, JSON.stringify(sum.groups.slice(0, 5)));
      assert.equal(sum.groups.find((g) => g.name === 'LeakyThing'), undefined);
    } finally {
      await t.kill();
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('a lag trigger on a loop held by a hot function takes a profile topped by that function', async () => {
    // hot.js runs hotJsonDecode() for ~15 ms every 20 ms: the loop waits that long for its turn
    const t = await startTarget('hot.js');
    const out = tmpDir();
    try {
      const r = await runCli(['watch', String(t.pid), '--json', '--when', 'lag.p99 > 5ms for 2s', '--then', 'profile 2s', '--out', out, '--duration', '60s'], {
        hangGuardMs: 120_000,
      });
      assert.equal(r.code, 13, r.stderr);
      const recs = records(r);
      const f = events(recs, 'trigger')[0]!;
      assert.ok((f.values as Record<string, number>)['lag.p99']! > 5, JSON.stringify(f));
      const a = events(recs, 'action')[0]!;
      assert.equal(a.status, 'ok', JSON.stringify(a));
      const top = a.top as Array<{ function: string }>;
      assert.equal(top[0]!.function, 'hotJsonDecode', JSON.stringify(top));
      // the file itself says the same
      const p = JSON.parse(fs.readFileSync(a.path as string, 'utf8')) as unknown;
      checkProfile(p);
      assert.equal(summarizeProfile(p).functions[0]!.function, 'hotJsonDecode');
      // sampling went on during the profile: samples after the firing, before the action's end
      const iFire = recs.indexOf(f);
      const iAct = recs.indexOf(a);
      assert.ok(recs.slice(iFire, iAct).some((x) => x.event === undefined && typeof x.index === 'number'), 'no sample while profiling');
    } finally {
      await t.kill();
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('the action budget holds: --max-actions 3 runs exactly 3 firings, then exit 13', async () => {
    const t = await startTarget('idle.js');
    const out = tmpDir();
    try {
      const r = await runCli(['watch', String(t.pid), '--json', '--interval', '200ms', '--when', 'heap.used > 1B', '--then', 'stats', '--max-actions', '3', '--cooldown', '0s', '--out', out, '--duration', '60s'], {
        hangGuardMs: 120_000,
      });
      assert.equal(r.code, 13, r.stderr);
      const recs = records(r);
      assert.deepEqual(
        events(recs, 'trigger').map((f) => f.firing),
        [1, 2, 3],
      );
      assert.equal(events(recs, 'action').filter((a) => a.status === 'ok').length, 3);
      const files = fs.readdirSync(out).sort();
      assert.equal(files.length, 3, files.join(' '));
      // each file is the sample that tripped the condition
      const sample = JSON.parse(fs.readFileSync(path.join(out, files[0]!), 'utf8')) as { target: { pid: number }; memory: { heapUsedBytes: number } };
      assert.equal(sample.target.pid, t.pid);
      assert.ok(sample.memory.heapUsedBytes > 1);
      assert.ok(t.alive());
    } finally {
      await t.kill();
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('the cooldown holds: a condition true on every sample fires once within --cooldown 1h', async () => {
    const t = await startTarget('idle.js');
    const out = tmpDir();
    try {
      const r = await runCli(['watch', String(t.pid), '--json', '--interval', '200ms', '--when', 'heap.used > 1B', '--then', 'stats', '--max-actions', '100', '--cooldown', '1h', '--out', out, '--duration', '3s']);
      assert.equal(r.code, 0, r.stderr);
      const recs = records(r);
      assert.ok(recs.filter((x) => typeof x.index === 'number' && x.event === undefined).length >= 5, 'too few samples to tell');
      assert.equal(events(recs, 'trigger').length, 1);
      assert.equal(fs.readdirSync(out).length, 1);
    } finally {
      await t.kill();
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('several targets: each is judged on its own samples, the cooldown is per target, the budget shared', async () => {
    const a = await startTarget('idle.js');
    const b = await startTarget('idle.js');
    const out = tmpDir();
    try {
      const r = await runCli(['watch', String(a.pid), String(b.pid), '--json', '--when', 'heap.used > 1B', '--then', 'stats', '--max-actions', '2', '--cooldown', '1h', '--out', out, '--duration', '60s'], {
        hangGuardMs: 120_000,
      });
      assert.equal(r.code, 13, r.stderr);
      const fired = events(records(r), 'trigger');
      assert.deepEqual(fired.map((f) => f.pid).sort(), [a.pid, b.pid].sort());
      const files = fs.readdirSync(out);
      assert.equal(files.length, 2, files.join(' '));
      for (const pid of [a.pid, b.pid]) assert.equal(files.filter((f) => f.includes(`-${pid}-t1-`)).length, 1, files.join(' '));
    } finally {
      await a.kill();
      await b.kill();
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('--keep-watching reports firings after the budget with their actions skipped; --disk-budget refuses what does not fit', async () => {
    const t = await startTarget('idle.js');
    const out = tmpDir();
    try {
      // a sample is ~2-3 KiB: 3K holds one, not two. 8 s: at 200 ms the records come about once
      // a second, and a firing after the budget needs a collect after the second firing's action
      const r = await runCli(['watch', String(t.pid), '--json', '--interval', '200ms', '--when', 'heap.used > 1B', '--then', 'stats', '--max-actions', '2', '--cooldown', '0s', '--disk-budget', '3K', '--keep-watching', '--out', out, '--duration', '8s']);
      assert.equal(r.code, 0, r.stderr);
      const recs = records(r);
      const fired = events(recs, 'trigger');
      assert.deepEqual(
        fired.slice(0, 2).map((f) => f.firing),
        [1, 2],
      );
      assert.ok(fired.length > 2, 'no firing after the budget was spent');
      assert.ok(fired.slice(2).every((f) => f.skipped === 'budget' && f.firing === null), JSON.stringify(fired.slice(2)));
      assert.deepEqual(
        events(recs, 'action').map((a) => a.status),
        ['ok', 'refused'],
      );
      assert.match(String(events(recs, 'action')[1]!.message), /--disk-budget of 3\.00 KiB/);
      assert.equal(fs.readdirSync(out).length, 1);
      assert.equal(events(recs, 'budget-spent').length, 0);
    } finally {
      await t.kill();
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('a snapshot the memory check refuses is logged as refused, never forced, and the watch goes on', async () => {
    const t = await startTarget('leaky.js', { args: ['1000', '0', '8'] });
    const out = tmpDir();
    try {
      const r = await runCli(['watch', String(t.pid), '--json', '--when', 'heap.used > 1MB', '--then', 'snapshot', '--max-growth', '1M', '--out', out, '--duration', '60s'], {
        hangGuardMs: 120_000,
      });
      // the firing ran (its action was refused): the budget is spent all the same
      assert.equal(r.code, 13, r.stderr);
      const acts = events(records(r), 'action');
      assert.equal(acts.length, 1);
      assert.equal(acts[0]!.status, 'refused', JSON.stringify(acts[0]));
      assert.equal(acts[0]!.exitCode, 11);
      assert.match(String(acts[0]!.message), /refusing to snapshot the main thread of pid \d+ .*--max-growth budget of 1\.00 MiB/);
      assert.deepEqual(fs.readdirSync(out), []);
      assert.ok(t.alive());
    } finally {
      await t.kill();
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it(
    "fds > 90% of limit: stats and exec ./page-oncall.sh, run without a shell, with the readings in its environment",
    { skip: havePrlimit() ? false : 'prlimit (util-linux) is not installed' },
    async () => {
      // 25 loopback connections hold ~67 of 200 fds of the target's own (2 a connection; nodetop's
      // inspector adds ~8 that the reading leaves out); 60 more put it near 187, over 90%, with
      // nodetop's below the hard limit
      const t = await startTarget('fds.js', { node: 'prlimit', nodeArgs: ['--nofile=200:200', process.execPath], args: ['25'], readyTimeoutMs: 30_000 });
      const dir = tmpDir();
      const out = path.join(dir, 'incident');
      try {
        fs.writeFileSync(path.join(dir, 'page-oncall.sh'), '#!/bin/sh\nenv | grep ^NODETOP_ > paged.env\necho "paging for pid $NODETOP_PID"\n', { mode: 0o755 });
        const run = runCli(['watch', String(t.pid), '--json', '--when', 'fds > 90% of limit', '--then', 'stats', '--then', 'exec ./page-oncall.sh', '--out', out, '--duration', '90s'], {
          cwd: dir,
          hangGuardMs: 180_000,
        });
        await watched(t);
        await t.ask('more 60');
        const r = await run;
        assert.equal(r.code, 13, r.stderr);
        const recs = records(r);
        assert.deepEqual(
          events(recs, 'action').map((a) => [a.action, a.status]),
          [
            ['stats', 'ok'],
            ['exec ./page-oncall.sh', 'ok'],
          ],
        );
        // its output went to stderr, never into the NDJSON
        assert.match(r.stderr, new RegExp(`exec \\(pid ${t.pid}\\): paging for pid ${t.pid}`));
        const env = Object.fromEntries(
          fs
            .readFileSync(path.join(dir, 'paged.env'), 'utf8')
            .trim()
            .split('\n')
            .filter((l) => /^NODETOP_\w+=/.test(l))
            .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
        );
        assert.equal(env.NODETOP_PID, String(t.pid));
        assert.equal(env.NODETOP_TRIGGER, '1');
        assert.equal(env.NODETOP_WHEN, 'fds > 90% of limit');
        assert.equal(env.NODETOP_FDS_LIMIT, '200');
        assert.ok(Number(env.NODETOP_FDS) > 180, JSON.stringify(env));
        assert.ok(Number(env.NODETOP_HEAP_USED) > 0);
        assert.equal(env.NODETOP_OUT, out);
        // the stats file of the same firing (the first line of NODETOP_FILES)
        assert.match(env.NODETOP_FILES ?? '', new RegExp(`-${t.pid}-t1-.*-a1\\.json$`));
        assert.ok(t.alive());
      } finally {
        await t.kill();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('Ctrl-C during a profile action: exit 130, no file left in --out, the target goes on', async () => {
    const t = await startTarget('hot.js');
    const out = tmpDir();
    try {
      const child = spawn(process.execPath, [NODETOP, 'watch', String(t.pid), '--json', '--when', 'elu > 0.3', '--then', 'profile 60s', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      // the firing is written before its action starts: interrupt once the profile is under way
      await new Promise<void>((resolve) => {
        readline.createInterface({ input: child.stdout }).on('line', (l) => {
          if ((JSON.parse(l) as Rec).event === 'trigger') setTimeout(resolve, 3000);
        });
      });
      child.kill('SIGINT');
      assert.equal(await code, 130, stderr);
      assert.deepEqual(fs.readdirSync(out), []);
      assert.ok(t.alive());
      // the profiler was stopped: a profile by hand works at once
      const p = await runCli(['profile', String(t.pid), '--duration', '500ms', '--json', '-o', path.join(out, 'after.cpuprofile')]);
      assert.equal(p.code, 0, p.stderr);
    } finally {
      await t.kill();
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('--out another user owns, or may write, is refused at startup with exit 2 and nothing written', async () => {
    // a review (as root): nobody made /tmp/review-out, root wrote into it, nobody renamed it and
    // left a symlink to a root-only directory in its place; root's files landed there
    const t = await startTarget('idle.js');
    const theirs = tmpDir();
    const open = tmpDir();
    try {
      fs.chownSync(theirs, 65534, 65534);
      const r = await runCli(['watch', String(t.pid), '--json', '--when', 'heap.used > 1B', '--then', 'stats', '--out', theirs, '--duration', '60s'], { hangGuardMs: 120_000 });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^nodetop: refusing --out \S+: it is owned by another user \(uid 65534\), who could swap it for a symlink and send these files anywhere; give a directory of your own/m);
      assert.deepEqual(fs.readdirSync(theirs), []);
      fs.chmodSync(open, 0o777);
      const w = await runCli(['watch', String(t.pid), '--json', '--when', 'heap.used > 1B', '--then', 'stats', '--out', open, '--duration', '60s'], { hangGuardMs: 120_000 });
      assert.equal(w.code, 2, w.stderr);
      assert.match(w.stderr, /^nodetop: refusing --out \S+: other users may write to it \(mode 777\)/m);
      assert.deepEqual(fs.readdirSync(open), []);
      assert.ok(t.alive());
    } finally {
      await t.kill();
      fs.rmSync(theirs, { recursive: true, force: true });
      fs.rmSync(open, { recursive: true, force: true });
    }
  });

  it('--out swapped for a symlink after startup: the actions are refused and nothing lands where it points', async () => {
    const t = await startTarget('idle.js');
    const dir = tmpDir();
    const out = path.join(dir, 'out');
    const victim = tmpDir();
    try {
      // "for 15s": the swap below comes right after the watch's first samples, well inside the window
      const run = runCli(['watch', String(t.pid), '--json', '--when', 'heap.used > 1B for 15s', '--then', 'stats', '--then', 'snapshot', '--out', out, '--duration', '120s'], {
        hangGuardMs: 240_000,
      });
      await watched(t);
      fs.renameSync(out, path.join(dir, 'moved'));
      fs.symlinkSync(victim, out);
      const r = await run;
      assert.equal(r.code, 13, r.stderr);
      const recs = records(r);
      const acts = events(recs, 'action');
      assert.equal(events(recs, 'trigger').length, 1, JSON.stringify(events(recs, 'trigger')));
      assert.deepEqual(
        acts.map((a) => a.status),
        ['refused', 'refused'],
        JSON.stringify(acts),
      );
      for (const a of acts) assert.match(String(a.message), /is no longer the directory the watch started with \(it was renamed or replaced by a symlink\); nothing is written/);
      assert.deepEqual(fs.readdirSync(victim), []);
      assert.deepEqual(fs.readdirSync(path.join(dir, 'moved')), []);
      assert.ok(t.alive());
    } finally {
      await t.kill();
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(victim, { recursive: true, force: true });
    }
  });

  it('a condition that does not parse is exit 2 with the position and what was expected', async () => {
    const r = await runCli(['watch', '1', '--when', 'heap.used > 85% of limt for 30s', '--then', 'snapshot']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^nodetop: --when "heap\.used > 85% of limt for 30s": at position 20, expected "limit" after "of", found "limt"$/m);
    const then = await runCli(['watch', '1', '--then', 'snapshot']);
    assert.equal(then.code, 2);
    assert.match(then.stderr, /comes before any --when/);
  });
});
