// Signalling a process and the inspector it opens (issue 20 §1, §2, §5; issue 19 §4; issue 22 §5):
// what a hostile local user (nobody) can do with what a root nodetop leaves, a process that only
// pretends to be Node, a pid that changes hands, the state directory, an application that handles
// SIGUSR1 itself. Most of it needs root (setpriv, another user's files, ns_last_pid).

import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listeningSockets, readStat } from '../../src/platform/proc';
import { eventually, FIXTURES, NODETOP, runCli, startTarget } from '../helpers/target';

const NOBODY = 65534;
const ROOT_ONLY = process.getuid?.() !== 0 ? 'needs root (setpriv to nobody, another user’s files, ns_last_pid)' : false;

/** Runs the grabber (test/fixtures/grabber.js) as nobody: did it get code run in an inspector on `port`? */
function grabAsNobody(port: number, durationMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--experimental-websocket', '--no-warnings', path.join(FIXTURES, 'grabber.js'), String(port), String(durationMs)], {
      uid: NOBODY,
      gid: NOBODY,
      stdio: ['ignore', 'pipe', 'ignore'],
      cwd: '/',
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', () => {
      try {
        resolve((JSON.parse(out) as { uid: number | null }).uid);
      } catch {
        resolve(null);
      }
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

describe('an inspector nodetop causes to open is closed again, whatever happens (issue 20 §1)', { skip: ROOT_ONLY }, () => {
  it('a root target blocked in execSync is not signalled (exit 14), and nobody never gets an inspector', async () => {
    const t = await startTarget('blocked.js');
    try {
      // long enough that nodetop (0.5-1.5 s to start on a loaded 2-core machine) finds it blocked
      await t.ask('syscall 6000');
      await sleep(100);
      const grab = grabAsNobody(9229, 8000);
      const r = await runCli(['stats', String(t.pid), '--timeout', '1000']);
      assert.equal(r.code, 14, r.stderr);
      assert.match(r.stderr, /main thread is blocked outside JavaScript \(the kernel says: in epoll_pwait \(281\), a loop nested in its own: execSync or spawnSync\)/);
      assert.match(r.stderr, /nodetop sent nothing/);
      assert.match(r.stderr, /--force-signal/);
      // the syscall returns 6 s in: no signal was pending, so nothing opens
      assert.equal(await grab, null, 'nobody ran code in the root target');
      assert.deepEqual(listeningSockets(t.pid), []);
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });

  it('--force-signal: nodetop gives up (exit 6), the inspector opens late, and the watchdog closes it at once', async () => {
    const t = await startTarget('blocked.js');
    try {
      await t.ask('syscall 5000');
      await sleep(100);
      const r = await runCli(['stats', String(t.pid), '--timeout', '800', '--force-signal']);
      assert.equal(r.code, 6, r.stderr);
      assert.match(r.stderr, /blocked outside JavaScript/);
      assert.match(r.stderr, /watchdog closes that inspector when it opens/);
      // nodetop has exited; the syscall returns a few seconds later and Node opens 9229 then
      let openedAt: number | null = null;
      let closedAt: number | null = null;
      const end = Date.now() + 9000;
      while (Date.now() < end && closedAt === null) {
        const open = listeningSockets(t.pid).length > 0;
        if (open && openedAt === null) openedAt = Date.now();
        if (!open && openedAt !== null) closedAt = Date.now();
        await sleep(5);
      }
      assert.ok(openedAt !== null, 'the pending signal opened the inspector when the syscall returned');
      assert.ok(closedAt !== null, 'and the watchdog closed it');
      assert.ok(t.alive());
      // it stays closed
      await sleep(300);
      assert.deepEqual(listeningSockets(t.pid), []);
    } finally {
      await t.kill();
    }
  });

  it('nodetop SIGKILLed while attached: the inspector it opened is closed by the watchdog, not left for the lease', async () => {
    const t = await startTarget('idle.js');
    try {
      const child = spawn(process.execPath, [NODETOP, 'watch', String(t.pid), '--interval', '200'], { stdio: 'ignore' });
      assert.equal(await eventually(() => listeningSockets(t.pid).length, (n) => n === 1, 15_000), 1);
      await eventually(() => t.ask('nodetop'), (s) => s.sessions === 1, 5000);
      child.kill('SIGKILL');
      // the lease is 60 s; the watchdog acts within a poll and a round trip
      assert.equal(await eventually(() => listeningSockets(t.pid).length, (n) => n === 0, 5000), 0);
      assert.equal((await t.ask('nodetop')).sessions, 0, 'the dead nodetop’s instruments went with it');
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });
});

describe('only Node is signalled, and only the process that was checked (issue 20 §5)', { skip: ROOT_ONLY }, () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-notnode-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const how of ['exec -a node bash', 'a copy of bash named node'] as const) {
    it(`${how} that traps USR1: not Node by its executable (exit 4), never signalled`, async () => {
      const trapped = path.join(dir, `trapped-${how.length}`);
      const script = `trap 'echo USR1 >> ${trapped}' USR1; echo '{"ready":true}'; while :; do sleep 0.05; done`;
      let bash = '/bin/bash';
      if (how === 'a copy of bash named node') {
        bash = path.join(dir, 'node');
        fs.copyFileSync('/bin/bash', bash);
        fs.chmodSync(bash, 0o755);
      }
      const t = await startTarget(how === 'exec -a node bash' ? '/bin/bash' : bash, {
        node: '/bin/bash',
        nodeArgs: ['-c', how === 'exec -a node bash' ? 'exec -a node /bin/bash -c "$1"' : `exec ${bash} -c "$1"`],
        args: [script],
      });
      try {
        const r = await runCli(['stats', String(t.pid), '--timeout', '1000']);
        assert.equal(r.code, 4, r.stderr);
        assert.match(r.stderr, /is not a Node process .*does not export the Node\.js addon ABI.*nodetop sent it nothing/);
        await sleep(300);
        assert.equal(fs.existsSync(trapped), false, 'the trap never ran');
      } finally {
        await t.kill();
      }
    });
  }

  it('a pid that changes hands while nodetop waits for the port is not signalled: the sleep that took it lives', async () => {
    // 9229 is held by a plain TCP listener, so nodetop waits before signalling; meanwhile the
    // target dies and a `sleep` is made to take its pid (ns_last_pid)
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen(9229, '127.0.0.1', r));
    const t = await startTarget('idle.js');
    const pid = t.pid;
    let sleeper: ReturnType<typeof spawn> | null = null;
    try {
      // nodetop has checked the pid (its trace says so) and waits for the port
      const cli = spawn(process.execPath, [NODETOP, 'stats', String(pid), '--timeout', '5000'], { env: { ...process.env, NODETOP_DEBUG: 'protocol' }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      const checked = new Promise<void>((resolve) =>
        cli.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (/== hints:/.test(stderr)) resolve();
        }),
      );
      const exited = new Promise<number | null>((resolve) => cli.on('exit', resolve));
      await checked;
      await sleep(100);
      await t.kill();
      for (let i = 0; i < 50 && !sleeper; i++) {
        fs.writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
        const s = spawn('sleep', ['30'], { stdio: 'ignore' });
        if (s.pid === pid) sleeper = s;
        else s.kill('SIGKILL');
      }
      assert.ok(sleeper, `could not make a process take pid ${pid}`);
      await new Promise((r) => squatter.close(r));
      const code = await exited;
      assert.equal(code, 8, stderr);
      assert.match(stderr, new RegExp(`pid ${pid} is no longer the process nodetop checked`));
      await sleep(200);
      assert.equal(sleeper.exitCode, null, 'the sleep was not signalled');
      assert.equal(sleeper.signalCode, null);
    } finally {
      sleeper?.kill('SIGKILL');
      squatter.close();
      await t.kill();
    }
  });

  it('pid 1 whose executable the kernel hides from root: a true sentence, not "you are uid 0"', { skip: !hiddenInit() && 'pid 1’s executable is readable here' }, async () => {
    const r = await runCli(['stats', '1', '--timeout', '1000']);
    assert.equal(r.code, 5, r.stderr);
    assert.doesNotMatch(r.stderr, /you are uid 0/);
    assert.match(r.stderr, /cannot read \/proc\/1\/exe \(EACCES\): it holds capabilities this nodetop does not/);
  });
});

function hiddenInit(): boolean {
  try {
    fs.readlinkSync('/proc/1/exe');
    return false;
  } catch {
    return process.getuid?.() === 0;
  }
}

describe('the state directory (issue 20 §2)', { skip: ROOT_ONLY }, () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-state-'));
    fs.chmodSync(tmp, 0o1777); // a /tmp of its own: sticky, world-writable
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const env = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', TMPDIR: tmp });

  it('a nodetop-0 that nobody planted with a symlink to root’s file: refused, the file untouched', async () => {
    const victim = path.join(tmp, 'root-owned');
    fs.writeFileSync(victim, 'precious\n', { mode: 0o644 });
    const t = await startTarget('idle.js');
    try {
      const start = readStat(t.pid).startTimeTicks;
      const planted = path.join(tmp, 'nodetop-0');
      const ns = /\[(\d+)\]/.exec(fs.readlinkSync('/proc/self/ns/pid'))![1]!;
      const r0 = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'sh', '-c', `mkdir -m 777 ${planted} && ln -s ${victim} ${planted}/${ns}-${t.pid}-${start}.port`]);
      assert.equal(r0.status, 0, String(r0.stderr));
      const r = await runCli(['stats', String(t.pid), '--json', '--window', '50'], { env: env() });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /warning: .*nodetop-0 belongs to uid 65534, not to nodetop's uid 0/);
      assert.equal(fs.readFileSync(victim, 'utf8'), 'precious\n');
    } finally {
      await t.kill();
    }
  });

  it('a directory of root’s own that others may write (0777), or a symlink to one: refused', async () => {
    for (const kind of ['mode', 'symlink'] as const) {
      const sub = fs.mkdtempSync(path.join(tmp, 'case-'));
      const target = path.join(sub, 'real');
      fs.mkdirSync(target, { mode: 0o700 });
      const env2 = { ...env(), TMPDIR: sub };
      if (kind === 'mode') fs.chmodSync(target, 0o777);
      fs.renameSync(target, path.join(sub, 'nodetop-0'));
      if (kind === 'symlink') {
        fs.renameSync(path.join(sub, 'nodetop-0'), target);
        fs.symlinkSync(target, path.join(sub, 'nodetop-0'));
      }
      const t = await startTarget('idle.js');
      try {
        const r = await runCli(['stats', String(t.pid), '--json', '--window', '50'], { env: env2 });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, kind === 'mode' ? /nodetop-0 is mode 777, not 700/ : /nodetop-0 is a symlink/);
        assert.deepEqual(fs.readdirSync(kind === 'mode' ? path.join(sub, 'nodetop-0') : target), []);
      } finally {
        await t.kill();
      }
    }
  });

  it('XDG_RUNTIME_DIR when it is the user’s own and 0700; stale records of dead pids are removed', async () => {
    const xdg = fs.mkdtempSync(path.join(tmp, 'xdg-'));
    fs.chmodSync(xdg, 0o700);
    fs.mkdirSync(path.join(xdg, 'nodetop'), { mode: 0o700 });
    // 92 records of processes that are gone (start time 1: no live process started at tick 1),
    // in this pid namespace, and 4 an earlier nodetop named without it; and one of another pid
    // namespace's, whose pids mean nothing here: left alone
    const ns = /\[(\d+)\]/.exec(fs.readlinkSync('/proc/self/ns/pid'))![1]!;
    for (let i = 0; i < 92; i++) fs.writeFileSync(path.join(xdg, 'nodetop', `${ns}-${100000 + i}-1.port`), '40000');
    for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(xdg, 'nodetop', `${100000 + i}-1.port`), '40000');
    const foreign = `1${ns}-100000-1.port`;
    fs.writeFileSync(path.join(xdg, 'nodetop', foreign), '40000');
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const tmp2 = fs.mkdtempSync(path.join(tmp, 'tmp-'));
      const r = await runCli(['stats', String(t.pid), '--json', '--window', '50'], { env: { ...env(), TMPDIR: tmp2, XDG_RUNTIME_DIR: xdg } });
      assert.equal(r.code, 0, r.stderr);
      const left = fs.readdirSync(path.join(xdg, 'nodetop')).sort();
      const mine = `${ns}-${t.pid}-${readStat(t.pid).startTimeTicks}.port`;
      assert.deepEqual(left, [foreign, mine].sort());
      const st = fs.lstatSync(path.join(xdg, 'nodetop', mine));
      assert.equal(st.mode & 0o777, 0o600);
      assert.deepEqual(fs.readdirSync(tmp2), [], 'not in TMPDIR');
    } finally {
      await t.kill();
    }
  });
});

describe('an application that handles SIGUSR1 itself (issue 19 §4, issue 22 §5)', () => {
  it('signalled once however often the port changes hands, told apart, and its HTTP port is never suggested nor sent a request', async () => {
    const t = await startTarget('sigusr1-handler.js', { args: ['http'] });
    // 9229 changes hands every 100 ms (another process binding and closing it)
    let stop = false;
    const toggler = (async () => {
      while (!stop) {
        const s = net.createServer();
        await new Promise<void>((r) => s.listen(9229, '127.0.0.1', r)).catch(() => undefined);
        await sleep(100);
        await new Promise((r) => s.close(r));
        await sleep(100);
      }
    })();
    try {
      const httpPort = Number(t.facts.httpPort);
      const r = await runCli(['stats', String(t.pid), '--timeout', '4000']);
      assert.equal(r.code, 6, r.stderr);
      assert.match(r.stderr, new RegExp(`pid ${t.pid} handles SIGUSR1 itself`));
      assert.match(r.stderr, /--inspect-port=0 --inspect/);
      assert.doesNotMatch(r.stderr, new RegExp(`\\b${httpPort}\\b`), 'the application’s port is not offered as an inspector');
      const got = await t.ask('received');
      assert.equal(got.received, 1, 'one signal for one attach');
      assert.equal(got.requests, 0, 'no request reached the application');
      assert.ok(t.alive());
    } finally {
      stop = true;
      await toggler;
      await t.kill();
    }
  });
});
