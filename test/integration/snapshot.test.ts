// nodetop snapshot: a file a real heap snapshot parser reads, with the objects the fixture
// holds; the worker's objects in a worker snapshot; no file left behind by any failure.

import { strict as assert } from 'node:assert';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseSnapshotFromFile } from 'v8-heapsnapshot';
import { eventually, FIXTURES, NODETOP, parseJson, runCli, startTarget } from '../helpers/target';
import type { SnapshotResult } from '../../src/commands/snapshot';

async function countByClass(file: string, ...names: string[]): Promise<Record<string, number>> {
  const snap = await parseSnapshotFromFile(file);
  const out: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  for (const n of snap.nodes) if (n.type === 'object' && n.name in out) out[n.name]!++;
  return out;
}

describe('nodetop snapshot', () => {
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-snap-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const files = (): string[] => fs.readdirSync(dir);
  /**
   * `nodetop snapshot` in the background, with `asked` resolving once the snapshot was asked for
   * (its progress says so: just before the request, or with its first event) and its partial
   * output is there; `exited` gives its exit code and stderr (SIGKILLed after a minute).
   */
  const snapshotUnderWay = (pid: number, name: string, how: 'target' | 'stream') => {
    const child = spawn(process.execPath, [NODETOP, 'snapshot', String(pid), '-o', path.join(dir, name), ...(how === 'stream' ? ['--stream'] : [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const exited = new Promise<{ code: number | null; stderr: string }>((r) =>
      child.on('exit', (code) => {
        clearTimeout(guard);
        r({ code, stderr });
      }),
    );
    const asked = (async (): Promise<void> => {
      const seen = await eventually(() => stderr, (e) => /^snapshot building/m.test(e), 20_000);
      assert.match(seen, /^snapshot building/m, 'the snapshot was asked for');
      assert.ok(underWay(), 'the capture started');
    })();
    return { child, asked, exited };
  };
  /** The snapshot is being written: nodetop's partial file, or a file in the partial directory the target writes into. */
  const underWay = (): boolean =>
    files().some((x) => {
      if (!x.includes('.partial-')) return false;
      try {
        const p = path.join(dir, x);
        return !fs.statSync(p).isDirectory() || fs.readdirSync(p).length > 0;
      } catch {
        return false;
      }
    });

  it('writes a snapshot of the main thread that a parser reads, with exactly the instances the target holds', async () => {
    // 8 MiB of small objects besides: a file of tens of MB, which nodetop flushes ahead as it grows
    const t = await startTarget('leaky.js', { args: ['123', '45', '8'], nodeArgs: ['--inspect-port=0'] });
    try {
      const out = path.join(dir, 'main.heapsnapshot');
      const r = await runCli(['snapshot', String(t.pid), '-o', out, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const res = parseJson<SnapshotResult>(r);
      assert.equal(res.path, out);
      assert.equal(res.threadId, 0);
      // a local target that sees the same files and can write here writes the file itself
      assert.equal(res.writtenBy, 'target');
      assert.equal(res.maxQueuedBytes, 0);
      const st = fs.statSync(out);
      assert.equal(res.bytes, st.size);
      assert.ok(res.bytes > 16 * 1024 * 1024, `${res.bytes} bytes`);
      assert.equal(st.mode & 0o777, 0o600);
      assert.ok(res.durationMs > 0);
      assert.deepEqual(files(), ['main.heapsnapshot']);
      assert.deepEqual(await countByClass(out, 'LeakyThing', 'WorkerOnlyThing'), { LeakyThing: 123, WorkerOnlyThing: 0 });
      // non-TTY: the estimate and plain progress lines on stderr
      assert.match(r.stderr, /freezes the main thread of pid \d+ while V8 builds it: heap used .*, expect ~/);
      // the target's write has no percentage: building, then the file's size
      assert.match(r.stderr, /^snapshot building$/m);
      assert.match(r.stderr, /^snapshot writing \d/m);
      assert.ok(t.alive());
      // --stream: through the inspector instead, the same objects
      const streamed = path.join(dir, 'streamed.heapsnapshot');
      const r2 = await runCli(['snapshot', String(t.pid), '-o', streamed, '--json', '--stream']);
      assert.equal(r2.code, 0, r2.stderr);
      const res2 = parseJson<SnapshotResult>(r2);
      assert.equal(res2.writtenBy, 'nodetop');
      assert.equal(res2.bytes, fs.statSync(streamed).size);
      assert.equal(fs.statSync(streamed).mode & 0o777, 0o600);
      assert.match(r2.stderr, /^snapshot building 100%$/m);
      assert.deepEqual(await countByClass(streamed, 'LeakyThing', 'WorkerOnlyThing'), { LeakyThing: 123, WorkerOnlyThing: 0 });
      assert.deepEqual(files().sort(), ['main.heapsnapshot', 'streamed.heapsnapshot']);
    } finally {
      fs.rmSync(path.join(dir, 'main.heapsnapshot'), { force: true });
      fs.rmSync(path.join(dir, 'streamed.heapsnapshot'), { force: true });
      await t.kill();
    }
  });

  it('snapshots a worker through its own session: its objects, not the main thread’s', async () => {
    const t = await startTarget('leaky.js', { args: ['123', '45'], nodeArgs: ['--inspect-port=0'] });
    try {
      const out = path.join(dir, 'worker.heapsnapshot');
      // --gc-first: the instances are held, so a GC first leaves all 45
      const r = await runCli(['snapshot', String(t.pid), '--worker', String(t.facts.workerThreadId), '-o', out, '--quiet', '--gc-first']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), out);
      assert.equal(r.stderr, '');
      assert.deepEqual(await countByClass(out, 'LeakyThing', 'WorkerOnlyThing'), { LeakyThing: 0, WorkerOnlyThing: 45 });
      // streamed through the worker's session: the same
      const r2 = await runCli(['snapshot', String(t.pid), '--worker', String(t.facts.workerThreadId), '-o', out, '--json', '--quiet', '--stream']);
      assert.equal(r2.code, 0, r2.stderr);
      assert.equal(parseJson<SnapshotResult>(r2).writtenBy, 'nodetop');
      assert.deepEqual(await countByClass(out, 'LeakyThing', 'WorkerOnlyThing'), { LeakyThing: 0, WorkerOnlyThing: 45 });
    } finally {
      fs.rmSync(path.join(dir, 'worker.heapsnapshot'), { force: true });
      await t.kill();
    }
  });

  // --gc-first asked V8 for HeapProfiler.collectGarbage, whose GC task only a thread's event loop
  // runs: a piscina worker idle in Atomics.wait never ran it (no answer in 50 s, then exit 8)
  it('--gc-first snapshots a piscina worker idle in Atomics.wait', async () => {
    const t = await startTarget('piscina.js', { args: ['2', '5', '10'], nodeArgs: ['--inspect-port=0'] });
    const out = path.join(dir, 'piscina.heapsnapshot');
    try {
      const id = (t.facts.workers as number[])[0]!;
      const r = await runCli(['snapshot', String(t.pid), '--worker', String(id), '--gc-first', '-o', out, '--json', '--quiet', '--timeout', '5000']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(parseJson<SnapshotResult>(r).threadId, id);
      const snap = await parseSnapshotFromFile(out);
      assert.ok(snap.nodes.length > 1000, `a whole heap: ${snap.nodes.length} nodes`);
      assert.deepEqual(await t.ask('globals'), { reply: 'globals', main: 'undefined', workers: ['undefined', 'undefined'] });
    } finally {
      fs.rmSync(out, { force: true });
      await t.kill();
    }
  });

  it('fails with exit 12 and one sentence on a full disk or a missing directory, leaving no file', async () => {
    const t = await startTarget('leaky.js', { args: ['5', '0'], nodeArgs: ['--inspect-port=0'] });
    try {
      const full = await runCli(['snapshot', String(t.pid), '-o', '/dev/full']);
      assert.equal(full.code, 12, full.stderr);
      assert.match(full.stderr, /^nodetop: cannot write the snapshot to \/dev\/full: no space left on the device$/m);
      assert.deepEqual(fs.readdirSync('/dev').filter((f) => f.startsWith('full.partial')), []);
      const missing = path.join(dir, 'no-such-dir', 'x.heapsnapshot');
      const nodir = await runCli(['snapshot', String(t.pid), '-o', missing]);
      assert.equal(nodir.code, 12, nodir.stderr);
      assert.match(nodir.stderr, /cannot write the snapshot to .*x\.heapsnapshot: the directory .*no-such-dir does not exist/);
      // checked before the target is frozen: no estimate was printed
      assert.doesNotMatch(nodir.stderr, /freezes/);
      const denied = await runCli(['snapshot', String(t.pid), '-o', '/sys/nodetop-test.heapsnapshot']);
      assert.equal(denied.code, 12, denied.stderr);
      assert.match(denied.stderr, /cannot write the snapshot to \/sys\/nodetop-test\.heapsnapshot: permission denied/);
      assert.deepEqual(files(), []);
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });

  it('refuses with exit 11 when the estimate exceeds the budget, unless --force', async () => {
    const t = await startTarget('leaky.js', { args: ['5', '0'], nodeArgs: ['--inspect-port=0'] });
    try {
      const out = path.join(dir, 'budget.heapsnapshot');
      const r = await runCli(['snapshot', String(t.pid), '-o', out, '--max-growth', '1M']);
      assert.equal(r.code, 11, r.stderr);
      assert.match(r.stderr, /refusing to snapshot the main thread of pid \d+ .*over the --max-growth budget of 1\.00 MiB/);
      assert.deepEqual(files(), []);
      // a path that is not a regular file is written directly: no temp file, no rename
      const devnull = await runCli(['snapshot', String(t.pid), '-o', '/dev/null', '--json']);
      assert.equal(devnull.code, 0, devnull.stderr);
      assert.ok(parseJson<SnapshotResult>(devnull).bytes > 0);
      assert.deepEqual(fs.readdirSync('/dev').filter((f) => f.startsWith('null.partial')), []);
      assert.equal(fs.statSync('/dev/null').isCharacterDevice(), true);
      const forced = await runCli(['snapshot', String(t.pid), '-o', out, '--max-growth', '1M', '--force', '--quiet']);
      assert.equal(forced.code, 0, forced.stderr);
      assert.ok(fs.statSync(out).size > 0);
    } finally {
      fs.rmSync(path.join(dir, 'budget.heapsnapshot'), { force: true });
      await t.kill();
    }
  });

  for (const how of ['target', 'stream'] as const) {
    it(`exits 8 and leaves no partial file when the target dies during the snapshot (${how === 'stream' ? '--stream' : 'the target writing'})`, async () => {
      // ~10 MiB of small objects: the snapshot takes seconds here
      const t = await startTarget('leaky.js', { args: ['5', '0', '10'], nodeArgs: ['--inspect-port=0'] });
      try {
        const run = snapshotUnderWay(t.pid, 'dies.heapsnapshot', how);
        await run.asked;
        await t.kill();
        const { code, stderr } = await run.exited;
        assert.equal(code, 8, stderr);
        // the socket closes as the process dies: nodetop says it exited, or closed the connection
        assert.match(stderr, /^nodetop: pid \d+ (exited|closed the connection)$/m);
        assert.deepEqual(files(), []);
      } finally {
        await t.kill();
      }
    });
  }

  for (const [signal, code, how] of [
    ['SIGINT', 130, 'target'],
    ['SIGTERM', 143, 'target'],
    ['SIGINT', 130, 'stream'],
  ] as const) {
    it(`on ${signal} removes the partial file, exits ${code} and leaves the target running (${how === 'stream' ? '--stream' : 'the target writing'})`, async () => {
      const t = await startTarget('leaky.js', { args: ['5', '0', '10'], nodeArgs: ['--inspect-port=0'] });
      try {
        const run = snapshotUnderWay(t.pid, 'int.heapsnapshot', how);
        await run.asked;
        run.child.kill(signal);
        const { code: got, stderr } = await run.exited;
        assert.equal(got, code, stderr);
        assert.match(stderr, /interrupted; no snapshot written \(partial file removed\)/);
        assert.deepEqual(files(), []);
        assert.ok(t.alive());
      } finally {
        await t.kill();
      }
    });
  }

  it('a heap of hundreds of MB: --stream streams it with flat memory of its own', async () => {
    // ~120 MiB of small objects (about 3 million): a snapshot well over 100 MB
    const t = await startTarget('leaky.js', { args: ['5', '0', '120'], nodeArgs: ['--inspect-port=0'], readyTimeoutMs: 120_000 });
    try {
      const out = path.join(dir, 'large.heapsnapshot');
      const child = spawn(process.execPath, [NODETOP, 'snapshot', String(t.pid), '-o', out, '--json', '--quiet', '--stream'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      let peak = 0;
      const poll = setInterval(() => {
        try {
          const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
          if (m) peak = Math.max(peak, Number(m[1]) * 1024);
        } catch {
          /* exited */
        }
      }, 50);
      const code = await new Promise<number | null>((r) => child.on('exit', r));
      clearInterval(poll);
      assert.equal(code, 0, stderr);
      const res = JSON.parse(stdout) as SnapshotResult;
      assert.ok(res.bytes > 100 * 1024 * 1024, `${res.bytes} bytes`);
      assert.equal(res.bytes, fs.statSync(out).size);
      // nodetop's own memory is bounded by what is in flight, not by the snapshot's size (an early
      // GC every 8 MiB of chunks gives back the buffers they passed through: 125-139 MiB before)
      assert.ok(peak < 120 * 1024 * 1024 && peak < res.bytes, `nodetop peak RSS ${peak} for a snapshot of ${res.bytes} bytes`);
      assert.ok(res.maxQueuedBytes < res.bytes / 10, `held up to ${res.maxQueuedBytes} of ${res.bytes} bytes`);
    } finally {
      fs.rmSync(path.join(dir, 'large.heapsnapshot'), { force: true });
      await t.kill();
    }
  });

  it('holds only what the disk has not taken yet, not the whole snapshot', async () => {
    // ~10 MiB of small objects: a snapshot of tens of MB, delivered in ~100 KiB chunks
    const t = await startTarget('leaky.js', { args: ['5', '0', '10'], nodeArgs: ['--inspect-port=0'] });
    try {
      const out = path.join(dir, 'stream.heapsnapshot');
      const r = await runCli(['snapshot', String(t.pid), '-o', out, '--json', '--stream'], { hangGuardMs: 120_000 });
      assert.equal(r.code, 0, r.stderr);
      const res = parseJson<SnapshotResult>(r);
      assert.equal(res.bytes, fs.statSync(out).size);
      assert.ok(res.bytes > 20 * 1024 * 1024, `${res.bytes} bytes`);
      assert.ok(res.maxQueuedBytes < res.bytes / 2, `held up to ${res.maxQueuedBytes} of ${res.bytes} bytes`);
      // plain progress lines while writing, one per 16 MiB
      assert.match(r.stderr, /^snapshot writing \d/m);
    } finally {
      fs.rmSync(path.join(dir, 'stream.heapsnapshot'), { force: true });
      await t.kill();
    }
  });
});

// Where the target writes the file itself and where it does not: another user, a file it cannot
// open, another mount namespace, a full disk. These need root (to run the target as another user
// or without capabilities, to unshare, to mount a small tmpfs).
describe('nodetop snapshot: who writes the file', { skip: process.getuid?.() !== 0 ? 'needs root (setpriv, unshare, mount)' : false }, () => {
  const NOBODY = 65534;
  let fixtures = '';
  before(() => {
    // a copy of the fixture that another user can read, wherever the checkout is
    fixtures = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-fx-'));
    for (const f of ['leaky.js', 'lib.js']) fs.copyFileSync(path.join(FIXTURES, f), path.join(fixtures, f));
    fs.chmodSync(fixtures, 0o755);
  });
  after(() => fs.rmSync(fixtures, { recursive: true, force: true }));
  /** leaky.js (7 LeakyThings, `args` after them) as nobody; `nodeArgs` before the script. */
  const asNobody = (args: string[] = [], nodeArgs: string[] = []): Promise<Awaited<ReturnType<typeof startTarget>>> =>
    startTarget(path.join(fixtures, 'leaky.js'), {
      args: ['7', '0', ...args],
      node: 'setpriv',
      nodeArgs: [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, ...nodeArgs, '--inspect-port=0'],
    });

  it('a target of another user writes the file itself when root’s way to it is out of that user’s reach; root copies it into its own', async () => {
    // root's directory, one nobody may cross (to reach its file) but not write: / and the sticky
    // /tmp above it are root's
    const safe = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-safe-'));
    fs.chmodSync(safe, 0o755);
    const t = await asNobody(['8']); // with 8 MiB of small objects: a file of tens of MB to copy
    try {
      assert.equal(fs.statSync(`/proc/${t.pid}`).uid, NOBODY);
      const out = path.join(safe, 'copied.heapsnapshot');
      const r = await runCli(['snapshot', String(t.pid), '-o', out, '--json'], { hangGuardMs: 120_000 });
      assert.equal(r.code, 0, r.stderr);
      const res = parseJson<SnapshotResult>(r);
      assert.equal(res.writtenBy, 'target');
      assert.match(r.stderr, /^snapshot building$/m); // the target's own write: no percentage
      // root's file, whole, and nothing of the target's left beside it
      const st = fs.statSync(out);
      assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [0, 0, 0o600]);
      assert.equal(res.bytes, st.size);
      assert.ok(st.size > 16 * 1024 * 1024, `${st.size} bytes`);
      assert.deepEqual(fs.readdirSync(safe), ['copied.heapsnapshot']);
      assert.deepEqual(await countByClass(out, 'LeakyThing'), { LeakyThing: 7 });
      assert.ok(t.alive());

      assert.ok(t.alive());
    } finally {
      await t.kill();
      fs.rmSync(safe, { recursive: true, force: true });
    }
  });

  it('Ctrl-C while root copies another user’s snapshot ahead: exit 130, nothing left, the target running', async () => {
    const safe = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-safe-'));
    fs.chmodSync(safe, 0o755);
    // 40 MiB of small objects: a file of ~100 MB, written over a second or more
    const t = await asNobody(['40']);
    try {
      const child = spawn(process.execPath, [NODETOP, 'snapshot', String(t.pid), '-o', path.join(safe, 'cut.heapsnapshot')], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = new Promise<number | null>((res) => child.on('exit', res));
      // root's copy has bytes in it: the target is writing and root copying ahead
      const copying = (): boolean =>
        fs.readdirSync(safe).some((f) => {
          try {
            // root's copy: the partial file beside root's partial directory the target writes in
            const st = fs.lstatSync(path.join(safe, f));
            return st.isFile() && f.includes('.partial-') && st.size > 0;
          } catch {
            return false;
          }
        });
      assert.ok(await eventually(copying, (c) => c, 60_000), `root copied ahead: ${stderr}`);
      child.kill('SIGINT');
      assert.equal(await code, 130, stderr);
      assert.deepEqual(fs.readdirSync(safe), []);
      assert.ok(t.alive());
    } finally {
      await t.kill();
      fs.rmSync(safe, { recursive: true, force: true });
    }
  });

  it('a target that holds a second uid is streamed when a directory on the way is that uid’s: it can take it up again', async () => {
    const SECOND = 4242;
    const theirs = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-theirs-'));
    fs.chmodSync(theirs, 0o755);
    fs.chownSync(theirs, SECOND, SECOND);
    // real uid 4242, effective, saved and file-system uid nobody
    const t = await startTarget(path.join(fixtures, 'leaky.js'), {
      args: ['7', '0'],
      node: 'setpriv',
      nodeArgs: [`--ruid=${SECOND}`, `--euid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, '--inspect-port=0'],
    });
    try {
      assert.match(fs.readFileSync(`/proc/${t.pid}/status`, 'utf8'), new RegExp(`^Uid:\\s+${SECOND}\\s+${NOBODY}\\s+${NOBODY}\\s+${NOBODY}$`, 'm'));
      const out = path.join(theirs, 'second-uid.heapsnapshot');
      const r = await runCli(['snapshot', String(t.pid), '-o', out, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(parseJson<SnapshotResult>(r).writtenBy, 'nodetop');
      assert.deepEqual(fs.readdirSync(theirs), ['second-uid.heapsnapshot']);
      assert.deepEqual(await countByClass(out, 'LeakyThing'), { LeakyThing: 7 });
    } finally {
      await t.kill();
      fs.rmSync(theirs, { recursive: true, force: true });
    }
  });

  it('a hostile target of another user that makes its file a sparse 8 GiB: root copies none of it, exit 12, nothing left', async () => {
    const safe = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-safe-'));
    fs.chmodSync(safe, 0o755);
    // the target answers the probe with a file it truncated to 8 GiB instead of a snapshot
    const hostile = path.join(fixtures, 'sparse-snapshot.js');
    fs.writeFileSync(hostile, "require('v8').writeHeapSnapshot = (p) => (require('fs').truncateSync(p, 8 * 2 ** 30), p);\n");
    fs.chmodSync(hostile, 0o644);
    const t = await asNobody([], ['-r', hostile]);
    try {
      const r = await runCli(['snapshot', String(t.pid), '-o', path.join(safe, 'sparse.heapsnapshot')]);
      assert.equal(r.code, 12, r.stderr);
      assert.match(r.stderr, /^nodetop: cannot write the snapshot to .*sparse\.heapsnapshot: the target's file is 8589934592 bytes, more than a snapshot of its heap can be \(\d+\): not copied$/m);
      assert.deepEqual(fs.readdirSync(safe), []);
      assert.ok(t.alive());
    } finally {
      await t.kill();
      fs.rmSync(safe, { recursive: true, force: true });
    }
  });

  it('a FIFO or a symlink another user planted where the snapshot goes is replaced, never written into', async () => {
    const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-shared-'));
    fs.chmodSync(shared, 0o1777); // like /tmp
    const victim = path.join(os.tmpdir(), `nodetop-victim-${process.pid}`);
    fs.writeFileSync(victim, 'root’s own file\n', { mode: 0o600 });
    const t = await startTarget('leaky.js', { args: ['3', '0'], nodeArgs: ['--inspect-port=0'] });
    try {
      const link = path.join(shared, 'planted-link.heapsnapshot');
      fs.symlinkSync(victim, link);
      fs.lchownSync(link, NOBODY, NOBODY);
      const fifo = path.join(shared, 'planted-fifo.heapsnapshot');
      execFileSync('mkfifo', [fifo]);
      fs.chownSync(fifo, NOBODY, NOBODY);
      for (const out of [link, fifo]) {
        const r = await runCli(['snapshot', String(t.pid), '-o', out, '--json']);
        assert.equal(r.code, 0, r.stderr);
        const st = fs.lstatSync(out);
        assert.ok(st.isFile(), `${out} is root's file now`);
        assert.deepEqual([st.uid, st.mode & 0o777], [0, 0o600]);
        assert.deepEqual(await countByClass(out, 'LeakyThing'), { LeakyThing: 3 });
      }
      assert.equal(fs.readFileSync(victim, 'utf8'), 'root’s own file\n');
    } finally {
      await t.kill();
      fs.rmSync(shared, { recursive: true, force: true });
      fs.rmSync(victim, { force: true });
    }
  });

  it('a target of another user is streamed, even from root, when it could change a directory on the way', async () => {
    const open = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-open-'));
    fs.chmodSync(open, 0o777); // a directory the target could write to: it could swap names in it
    const t = await asNobody();
    try {
      assert.equal(fs.statSync(`/proc/${t.pid}`).uid, NOBODY);
      const out = path.join(open, 'other-user.heapsnapshot');
      const r = await runCli(['snapshot', String(t.pid), '-o', out, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(parseJson<SnapshotResult>(r).writtenBy, 'nodetop');
      // streamed from the start: the target was never asked to write
      assert.doesNotMatch(r.stderr, /could not write the file itself/);
      assert.doesNotMatch(r.stderr, /^snapshot building$/m);
      const st = fs.statSync(out);
      assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [0, 0, 0o600]);
      assert.deepEqual(fs.readdirSync(open), ['other-user.heapsnapshot']);
      assert.deepEqual(await countByClass(out, 'LeakyThing'), { LeakyThing: 7 });
    } finally {
      await t.kill();
      fs.rmSync(open, { recursive: true, force: true });
    }
  });

  it('a target of nodetop’s user that cannot open the file (root without capabilities) is streamed instead, with one line saying why', async () => {
    // a directory of another user's, 0700: root nodetop may write there, a root target whose
    // capabilities were dropped (a hardened service) may not
    const closed = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-closed-'));
    fs.chownSync(closed, NOBODY, NOBODY);
    const t = await startTarget(path.join(fixtures, 'leaky.js'), {
      args: ['7', '0'],
      node: 'setpriv',
      nodeArgs: ['--bounding-set=-all', '--inh-caps=-all', process.execPath, '--inspect-port=0'],
    });
    try {
      assert.match(fs.readFileSync(`/proc/${t.pid}/status`, 'utf8'), /^CapEff:\s+0+$/m);
      const out = path.join(closed, 'streamed.heapsnapshot');
      const r = await runCli(['snapshot', String(t.pid), '-o', out, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(parseJson<SnapshotResult>(r).writtenBy, 'nodetop');
      assert.match(r.stderr, /^nodetop: the main thread could not write the file itself \(EACCES\); streaming the snapshot through the inspector instead$/m);
      // asked once: the target was not frozen for a snapshot it could not write
      assert.equal((r.stderr.match(/^snapshot building$/gm) ?? []).length, 1);
      assert.deepEqual(fs.readdirSync(closed), ['streamed.heapsnapshot']);
      assert.deepEqual(await countByClass(out, 'LeakyThing'), { LeakyThing: 7 });
      assert.ok(t.alive());
    } finally {
      await t.kill();
      fs.rmSync(closed, { recursive: true, force: true });
    }
  });

  it('a target in another mount namespace (a container) gets its snapshot streamed: its paths are not ours', async () => {
    const where = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-ns-'));
    const t = await startTarget('leaky.js', { args: ['9', '0'], node: 'unshare', nodeArgs: ['-m', '--propagation', 'private', process.execPath, '--inspect-port=0'] });
    try {
      assert.notEqual(fs.readlinkSync(`/proc/${t.pid}/ns/mnt`), fs.readlinkSync('/proc/self/ns/mnt'));
      const out = path.join(where, 'ns.heapsnapshot');
      const r = await runCli(['snapshot', String(t.pid), '-o', out, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(parseJson<SnapshotResult>(r).writtenBy, 'nodetop');
      assert.doesNotMatch(r.stderr, /could not write the file itself/);
      assert.deepEqual(await countByClass(out, 'LeakyThing'), { LeakyThing: 9 });
    } finally {
      await t.kill();
      fs.rmSync(where, { recursive: true, force: true });
    }
  });

  it('a disk that fills while the target writes: exit 12, one sentence, nothing left behind, the target running', async () => {
    const small = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', small]);
    const t = await startTarget('leaky.js', { args: ['5', '0'], nodeArgs: ['--inspect-port=0'] });
    try {
      const out = path.join(small, 'full.heapsnapshot');
      const r = await runCli(['snapshot', String(t.pid), '-o', out]);
      assert.equal(r.code, 12, r.stderr);
      assert.match(r.stderr, /^nodetop: cannot write the snapshot to .*full\.heapsnapshot: no space left on the device$/m);
      // the target got as far as writing (nothing was streamed instead)
      assert.doesNotMatch(r.stderr, /streaming the snapshot/);
      assert.deepEqual(fs.readdirSync(small), []);
      assert.ok(t.alive());
    } finally {
      await t.kill();
      execFileSync('umount', [small]);
      fs.rmSync(small, { recursive: true, force: true });
    }
  });
});
