// Wrappers against real processes: a real `npm start` (npm is installed beside node) whose start
// script runs a fixture, and, for nodemon and pm2's daemon (not installed here), a real Node
// process that has their main script's path or their title (test/fixtures/launcher.js). Every
// command that takes a pid refuses the wrapper with a sentence naming its Node child (exit 2) and
// sends it nothing; --follow-child attaches to the single child; ps marks the wrapper.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listeningSockets } from '../../src/platform/proc';
import type { NodeProcess } from '../../src/platform/ps';
import { FIXTURES, parseJson, runCli, startTarget, type Target } from '../helpers/target';

const npm = path.join(path.dirname(process.execPath), 'npm');

function killPids(pids: unknown): void {
  for (const p of Array.isArray(pids) ? pids : []) {
    try {
      process.kill(p as number, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

describe('wrappers: npm start', { skip: fs.existsSync(npm) ? false : `no npm beside ${process.execPath}` }, () => {
  let dir: string;
  let app: Target;
  let npmPid: number;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-npm-'));
    // the start script a user writes: `node server.js`, run by npm through sh -c
    const start = `node ${JSON.stringify(path.join(FIXTURES, 'idle.js'))}`;
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'wrapped', version: '1.0.0', private: true, scripts: { start } }));
    app = await startTarget('idle.js', {
      command: [npm, 'start'],
      spawn: { cwd: dir },
      env: { PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: dir, npm_config_update_notifier: 'false' },
      readyTimeoutMs: 60_000,
    });
    npmPid = app.child.pid!;
    assert.notEqual(npmPid, app.pid, 'npm runs the app in a process of its own');
  });

  after(async () => {
    await app?.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('stats <npm pid> is refused with exit 2, naming npm and its Node child, and npm is sent nothing', async () => {
    const r = await runCli(['stats', String(npmPid)]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^nodetop: pid ${npmPid} is npm \\(npm start\\), not your app; its Node child is pid ${app.pid} \\(node \\S*idle\\.js\\): run nodetop stats ${app.pid}, or pass --follow-child\\n$`));
    // a SIGUSR1 would have opened npm's inspector on 9229
    assert.deepEqual(listeningSockets(npmPid), []);
  });

  it('every command that takes a pid refuses it the same way', async () => {
    for (const args of [['gc'], ['snapshot', '-y'], ['profile', '--duration', '1s'], ['arm', '--report-on-fatal'], ['watch', '--count', '1'], ['attach'], ['export']]) {
      const r = await runCli([...args, String(npmPid)]);
      assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`pid ${npmPid} is npm .*run nodetop ${args[0]} ${app.pid}, or pass --follow-child`), args[0]);
    }
    assert.deepEqual(listeningSockets(npmPid), []);
  });

  it('--follow-child reports the app, not npm', async () => {
    const r = await runCli(['stats', String(npmPid), '--follow-child', '--json', '--window', '200ms', '--no-sockets']);
    assert.equal(r.code, 0, r.stderr);
    const s = parseJson<{ target: { pid: number; argv: string[] } }>(r);
    assert.equal(s.target.pid, app.pid);
    assert.equal(s.target.argv[1], path.join(FIXTURES, 'idle.js'));
    assert.deepEqual(listeningSockets(npmPid), []);
  });

  it('ps marks npm as a wrapper of the app, and the app as no wrapper', async () => {
    const r = await runCli(['ps', '--json', '--cpu-window', '0']);
    assert.equal(r.code, 0, r.stderr);
    const list = parseJson<NodeProcess[]>(r);
    assert.deepEqual(list.find((p) => p.pid === npmPid)?.wrapper, { kind: 'npm', children: [app.pid] });
    assert.equal(list.find((p) => p.pid === app.pid)?.wrapper, null);
    const h = await runCli(['ps', '--cpu-window', '0']);
    assert.ok(h.stdout.includes(`pid ${npmPid} is npm, a wrapper (attach to its app, not to it): its app is pid ${app.pid}`), h.stdout);
  });
});

describe('wrappers: nodemon and the pm2 daemon, by their script path and title', () => {
  let dir: string;
  const started: Target[] = [];

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-wrap-'));
    // nodemon's main script, where npm installs it
    const bin = path.join(dir, 'node_modules/nodemon/bin');
    fs.mkdirSync(bin, { recursive: true });
    fs.copyFileSync(path.join(FIXTURES, 'launcher.js'), path.join(bin, 'nodemon.js'));
  });

  after(async () => {
    for (const t of started) {
      killPids(t.facts.children);
      await t.kill();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function launch(script: string, children: number, env: Record<string, string> = {}): Promise<Target> {
    const t = await startTarget(script, { args: [String(children), path.join(FIXTURES, 'idle.js')], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, readyTimeoutMs: 30_000 });
    started.push(t);
    assert.equal((t.facts.children as number[]).length, children);
    return t;
  }

  it('nodemon (node_modules/nodemon/bin/nodemon.js) is refused; --follow-child takes its app', async () => {
    const t = await launch(path.join(dir, 'node_modules/nodemon/bin/nodemon.js'), 1);
    const [kid] = t.facts.children as number[];
    const r = await runCli(['gc', String(t.pid)]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`pid ${t.pid} is nodemon \\(node /.*idle\\.js\\), not your app; its Node child is pid ${kid} `));
    const f = await runCli(['stats', String(t.pid), '--follow-child', '--json', '--window', '200ms', '--no-sockets']);
    assert.equal(f.code, 0, f.stderr);
    assert.equal(parseJson<{ target: { pid: number } }>(f).target.pid, kid);
    assert.deepEqual(listeningSockets(t.pid), []);
  });

  it("pm2's daemon, known by its title, with two apps: --follow-child refuses and lists both", async () => {
    const t = await launch(path.join(FIXTURES, 'launcher.js'), 2, { LAUNCHER_TITLE: 'PM2 v5.3.1: God Daemon (/root/.pm2)' });
    const kids = (t.facts.children as number[]).slice().sort((a, b) => a - b);
    const r = await runCli(['stats', String(t.pid), '--follow-child']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`pid ${t.pid} is pm2's daemon \\(PM2 v5\\.3\\.1: God Daemon \\(/root/\\.pm2\\)\\), not your app, and --follow-child needs a single Node child, but it runs 2: pids ${kids[0]} \\(.*idle\\.js\\) and ${kids[1]} \\(.*idle\\.js\\); run nodetop stats with the one you mean`));
    const ps = parseJson<NodeProcess[]>(await runCli(['ps', '--json', '--cpu-window', '0']));
    assert.deepEqual(ps.find((p) => p.pid === t.pid)?.wrapper, { kind: 'pm2', children: kids });
    assert.deepEqual(listeningSockets(t.pid), []);
  });

  it('a wrapper with no Node child: refused, with or without --follow-child', async () => {
    const t = await launch(path.join(dir, 'node_modules/nodemon/bin/nodemon.js'), 0);
    for (const extra of [[], ['--follow-child']]) {
      const r = await runCli(['stats', String(t.pid), ...extra]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`pid ${t.pid} is nodemon .*, not your app, and it runs no Node process now`));
    }
  });

  it('a fixture that is not a wrapper is attached as before', async () => {
    const t = await launch(path.join(FIXTURES, 'launcher.js'), 0);
    const r = await runCli(['stats', String(t.pid), '--json', '--window', '200ms', '--no-sockets']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(parseJson<{ target: { pid: number } }>(r).target.pid, t.pid);
  });
});
