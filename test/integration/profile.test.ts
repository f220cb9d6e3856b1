// nodetop profile against real targets: the hot function the fixture runs is named, the file is a
// profile DevTools can open, and every way out leaves the target's profiler stopped (V8 runs a
// thread named v8:ProfEvntProc exactly while a CPU profile is being recorded: the tests look at
// the target's threads in /proc rather than guess from timing).

import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, NODETOP, parseJson, runCli, startTarget, type CliResult } from '../helpers/target';
import type { ProfileResult } from '../../src/commands/profile';
import { listeningSockets } from '../../src/platform/proc';

function profilerRunning(pid: number): boolean {
  try {
    return fs.readdirSync(`/proc/${pid}/task`).some((t) => {
      try {
        return fs.readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim() === 'v8:ProfEvntProc';
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

function oneSentence(r: CliResult): void {
  assert.doesNotMatch(r.stderr, /\n\s+at /, `no stack trace: ${r.stderr}`);
  assert.match(r.stderr, /^nodetop: /);
  assert.ok(r.stderr.split('\n').filter(Boolean).length <= 2, r.stderr);
}

/** Starts nodetop, waits for the target's profiler to run, then does `then` to the nodetop process. */
function profileAndInterrupt(args: string[], targetPid: number, then: (child: ReturnType<typeof spawn>) => void | Promise<void>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [NODETOP, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      setImmediate(() => resolve({ code, signal, stdout, stderr }));
    });
    eventually(() => profilerRunning(targetPid), (v) => v, 15_000).then(async (running) => {
      if (!running) {
        child.kill('SIGKILL');
        reject(new Error(`the target's profiler never started; nodetop said: ${stderr}`));
        return;
      }
      await then(child);
    }, reject);
  });
}

function leftovers(dir: string): string[] {
  return fs.readdirSync(dir);
}

describe('nodetop profile', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-profile-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('names the hot function among the top 3 by self time and writes a valid .cpuprofile, mode 0600', async () => {
    const t = await startTarget('hot.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const out = path.join(dir, 'hot.cpuprofile');
      const r = await runCli(['profile', String(t.pid), '--duration', '2s', '--json', '-o', out]);
      assert.equal(r.code, 0, r.stderr);
      const res = parseJson<ProfileResult>(r);
      assert.equal(res.path, out);
      assert.equal(res.pid, t.pid);
      assert.equal(res.intervalUs, 1000);
      const top3 = [...res.top].sort((a, b) => b.selfMs - a.selfMs).slice(0, 3);
      const hot = top3.find((f) => f.function === 'hotJsonDecode');
      assert.ok(hot, `hotJsonDecode not in the top 3: ${JSON.stringify(top3)}`);
      assert.match(hot.url, /\/test\/fixtures\/hot\.js$/);
      assert.equal(hot.line, 7);
      assert.ok(hot.totalMs >= hot.selfMs && hot.selfPercent > 0);
      assert.ok(res.top.length <= 15);

      const file = JSON.parse(fs.readFileSync(out, 'utf8')) as Record<string, unknown>;
      assert.ok(Array.isArray(file.nodes) && file.nodes.length > 1);
      assert.ok(Array.isArray(file.samples));
      assert.equal((file.samples as unknown[]).length, res.samples);
      assert.equal(typeof file.startTime, 'number');
      assert.equal(typeof file.endTime, 'number');
      assert.ok(Array.isArray(file.timeDeltas));
      assert.equal(fs.statSync(out).mode & 0o777, 0o600);
      assert.equal(res.bytes, fs.statSync(out).size);
      assert.deepEqual(leftovers(dir), ['hot.cpuprofile']);
      assert.ok(await eventually(() => !profilerRunning(t.pid), (v) => v), 'the profiler is stopped after the profile');
      assert.ok(t.alive());
    } finally {
      await t.kill();
      fs.rmSync(path.join(dir, 'hot.cpuprofile'), { force: true });
    }
  });

  it('ranks the target\'s own functions: idle, native, GC and nodetop\'s instruments are a line apart', async () => {
    const t = await startTarget('hot.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const out = path.join(dir, 'own.cpuprofile');
      const r = await runCli(['profile', String(t.pid), '--duration', '2s', '--interval-us', '200', '--json', '--top', '1000', '-o', out]);
      assert.equal(r.code, 0, r.stderr);
      const res = parseJson<ProfileResult>(r);
      assert.equal(res.top[0]!.function, 'hotJsonDecode', JSON.stringify(res.top.slice(0, 3)));
      for (const f of res.top) {
        assert.ok(!['(idle)', '(program)', '(garbage collector)', '(root)'].includes(f.function), `${f.function} ranked among the functions`);
        assert.ok(!/^nodetop/.test(f.function), `nodetop's own ${f.function} ranked among the target's`);
        assert.ok(!(f.function === 'observerCallback' && f.url.startsWith('node:')) || res.runtime.nodetopMs === 0, 'observerCallback that ran only nodetop\'s observer');
      }
      assert.ok(res.runtime.idleMs > 0 && res.runtime.gcMs > 0, JSON.stringify(res.runtime));
      // the GC observer nodetop installed is in the file when a tick caught it, and never in `top`
      const file = JSON.parse(fs.readFileSync(out, 'utf8')) as { nodes: Array<{ callFrame: { functionName: string } }> };
      const seen = file.nodes.some((n) => n.callFrame.functionName === 'nodetopGcObserver');
      if (seen) assert.ok(!res.top.some((f) => f.function === 'nodetopGcObserver'));
      const text = await runCli(['profile', String(t.pid), '--duration', '500ms', '-o', path.join(dir, 'own2.cpuprofile')]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /not the program's functions: idle [\d.]+ ms \([\d.]+%\), native \(program\) [\d.]+ ms \([\d.]+%\), GC [\d.]+ ms/);
    } finally {
      await t.kill();
      fs.rmSync(path.join(dir, 'own.cpuprofile'), { force: true });
      fs.rmSync(path.join(dir, 'own2.cpuprofile'), { force: true });
    }
  });

  it('--format collapsed writes one line per stack with its sample count, for flame graphs', async () => {
    const t = await startTarget('hot.js', { nodeArgs: ['--inspect-port=0'] });
    const sub = fs.mkdtempSync(path.join(dir, 'collapsed-'));
    try {
      const r = await runCli(['profile', String(t.pid), '--duration', '1s', '--format', 'collapsed', '--json', '-o', sub]);
      assert.equal(r.code, 0, r.stderr);
      const res = parseJson<ProfileResult>(r);
      assert.equal(res.format, 'collapsed');
      assert.match(path.basename(res.path), new RegExp(`^node-${t.pid}-\\d{8}T\\d{6}Z\\.collapsed$`));
      const lines = fs.readFileSync(res.path, 'utf8').trimEnd().split('\n');
      let total = 0;
      for (const l of lines) {
        const m = /^(.+) (\d+)$/.exec(l);
        assert.ok(m, `not a collapsed line: ${l}`);
        total += Number(m[2]);
        assert.ok(!m[1]!.includes('nodetopGcObserver'), l);
      }
      assert.ok(total > 0 && total <= res.samples, `${total} of ${res.samples} samples`);
      assert.ok(lines.some((l) => /(^|;)hotJsonDecode \/.*test\/fixtures\/hot\.js:7(;| )/.test(l)), lines.slice(0, 5).join('\n'));
      assert.equal(fs.statSync(res.path).mode & 0o777, 0o600);
      const bad = await runCli(['profile', String(t.pid), '--format', 'svg']);
      assert.equal(bad.code, 2, bad.stderr);
    } finally {
      await t.kill();
    }
  });

  it('prints the top functions as text and puts the default name in a directory given with -o', async () => {
    const t = await startTarget('hot.js', { nodeArgs: ['--inspect-port=0'] });
    const sub = fs.mkdtempSync(path.join(dir, 'text-'));
    try {
      const r = await runCli(['profile', String(t.pid), '--duration', '1s', '--top', '3', '-o', sub]);
      assert.equal(r.code, 0, r.stderr);
      const files = fs.readdirSync(sub);
      assert.equal(files.length, 1);
      assert.match(files[0]!, new RegExp(`^node-${t.pid}-\\d{8}T\\d{6}Z\\.cpuprofile$`));
      assert.ok(r.stdout.includes(path.join(sub, files[0]!)), r.stdout);
      const rows = r.stdout.split('\n').filter((l) => /^\s+\d+\.\d\s+\d+\.\d%/.test(l));
      assert.equal(rows.length, 3, r.stdout);
      assert.ok(rows.some((l) => /hotJsonDecode .*test\/fixtures\/hot\.js:7$/.test(l)), r.stdout);
    } finally {
      await t.kill();
    }
  });

  it('-o naming a symlink to a directory that another user planted: the file is not put in that directory', { skip: process.getuid?.() === 0 ? false : 'needs root (the link is planted as nobody)' }, async () => {
    const t = await startTarget('hot.js', { nodeArgs: ['--inspect-port=0'] });
    const victim = fs.mkdtempSync(path.join(dir, 'victim-'));
    const link = path.join(dir, 'planted.cpuprofile');
    try {
      fs.symlinkSync(victim, link);
      fs.lchownSync(link, 65534, 65534);
      const r = await runCli(['profile', String(t.pid), '--duration', '300ms', '-o', link, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(fs.readdirSync(victim), [], 'nothing written into the directory the link points at');
      // the planted entry is replaced by root's own file, as a planted file would be
      assert.ok(fs.lstatSync(link).isFile());
      assert.equal(parseJson<ProfileResult>(r).path, link);
    } finally {
      fs.rmSync(link, { force: true });
      await t.kill();
    }
  });

  it('Ctrl-C mid-profile: exit 130, no file, the target is left not profiling, and a second profile works', async () => {
    const t = await startTarget('hot.js', { nodeArgs: ['--inspect-port=0'] });
    const sub = fs.mkdtempSync(path.join(dir, 'int-'));
    try {
      const out = path.join(sub, 'p.cpuprofile');
      const r = await profileAndInterrupt(['profile', String(t.pid), '--duration', '60s', '-o', out], t.pid, (c) => void c.kill('SIGINT'));
      assert.equal(r.code, 130, r.stderr);
      assert.deepEqual(leftovers(sub), []);
      assert.ok(await eventually(() => !profilerRunning(t.pid), (v) => v), 'the profiler thread is gone');
      assert.ok(t.alive());
      const again = await runCli(['profile', String(t.pid), '--duration', '500ms', '--json', '-o', out]);
      assert.equal(again.code, 0, again.stderr);
      assert.ok(parseJson<ProfileResult>(again).samples > 0);
      assert.deepEqual(leftovers(sub), ['p.cpuprofile']);
    } finally {
      await t.kill();
    }
  });

  it('SIGTERM mid-profile: exit 143, no file, the target is left not profiling', async () => {
    const t = await startTarget('hot.js', { nodeArgs: ['--inspect-port=0'] });
    const sub = fs.mkdtempSync(path.join(dir, 'term-'));
    try {
      const r = await profileAndInterrupt(['profile', String(t.pid), '--duration', '60s', '-o', path.join(sub, 'p.cpuprofile')], t.pid, (c) => void c.kill('SIGTERM'));
      assert.equal(r.code, 143, r.stderr);
      assert.deepEqual(leftovers(sub), []);
      assert.ok(await eventually(() => !profilerRunning(t.pid), (v) => v), 'the profiler thread is gone');
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });

  it('the target exits mid-profile: exit 8, one sentence, no file', async () => {
    const t = await startTarget('hot.js', { nodeArgs: ['--inspect-port=0'] });
    const sub = fs.mkdtempSync(path.join(dir, 'exit-'));
    try {
      const r = await profileAndInterrupt(['profile', String(t.pid), '--duration', '60s', '-o', path.join(sub, 'p.cpuprofile')], t.pid, async () => {
        await t.kill('SIGKILL');
      });
      assert.equal(r.code, 8, r.stderr);
      assert.match(r.stderr, new RegExp(`pid ${t.pid} exited`));
      oneSentence(r);
      assert.deepEqual(leftovers(sub), []);
    } finally {
      await t.kill();
    }
  });

  it('an unwritable output path: exit 12 before the target is touched', async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const cases: Array<[string, RegExp]> = [
        [path.join(dir, 'no-such-dir', 'p.cpuprofile'), /cannot write .*no-such-dir\/p\.cpuprofile: no such directory/],
        ['/dev/null', /cannot write \/dev\/null: it exists and is not a regular file/],
      ];
      for (const [out, msg] of cases) {
        const r = await runCli(['profile', String(t.pid), '--duration', '60s', '-o', out]);
        assert.equal(r.code, 12, r.stderr);
        assert.match(r.stderr, msg);
        oneSentence(r);
      }
      // checked before attaching: the target was not even asked to open its inspector (Node
      // says "Debugger listening on ..." on stderr when SIGUSR1 opens it)
      assert.doesNotMatch(t.stderr(), /Debugger listening/);
      assert.deepEqual(listeningSockets(t.pid), []);
      assert.ok(!profilerRunning(t.pid));
    } finally {
      await t.kill();
    }
  });

  it('bad options: exit 2 with a sentence', async () => {
    for (const args of [
      ['profile', '1', '--duration', 'soon'],
      ['profile', '1', '--duration', '0'],
      ['profile', '1', '--interval-us', '5'],
      ['profile', '1', '--top', '0'],
      ['profile'],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      oneSentence(r);
    }
  });
});
