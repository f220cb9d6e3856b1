// The files nodetop creates for a snapshot, against a hostile local user and a hostile endpoint
// (issue 20 §3, issue 19 §4): names swapped under a root nodetop, a stream that never ends, a
// killed nodetop's leftovers. These need root (a second uid, tmpfs mounts).

import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { eventually, FIXTURES, NODETOP, parseJson, runCli, startTarget } from '../helpers/target';
import { haveTmux, openTerminal } from '../helpers/tmux';
import { listeningSockets } from '../../src/platform/proc';
import type { SnapshotResult } from '../../src/commands/snapshot';

const NOBODY = 65534;
const ROOT_FILE = 'root’s own file, 0644\n';

describe('nodetop snapshot: files a racing user cannot redirect', { skip: process.getuid?.() !== 0 ? 'needs root (a second uid, tmpfs)' : false }, () => {
  let fixtures = '';
  before(() => {
    fixtures = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-fx-'));
    fs.copyFileSync(path.join(FIXTURES, 'name-swapper.js'), path.join(fixtures, 'name-swapper.js'));
    fs.chmodSync(fixtures, 0o755);
  });
  after(() => fs.rmSync(fixtures, { recursive: true, force: true }));

  /**
   * /home/svc as the issue had it: a directory `nobody` owns, with nobody's name-swapper racing in
   * it, and root's directory holding a root-owned 0644 snapshot.heapsnapshot it points at.
   */
  const attack = async (finalName: string) => {
    const svc = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-svc-'));
    fs.chmodSync(svc, 0o755);
    fs.chownSync(svc, NOBODY, NOBODY);
    const victimDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-victim-'));
    fs.chmodSync(victimDir, 0o755);
    const victim = path.join(victimDir, 'snapshot.heapsnapshot');
    fs.writeFileSync(victim, ROOT_FILE, { mode: 0o644 });
    const racer = await startTarget(path.join(fixtures, 'name-swapper.js'), {
      args: [svc, victimDir, finalName],
      node: 'setpriv',
      nodeArgs: [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath],
    });
    return {
      svc,
      victim,
      out: path.join(svc, finalName),
      async end(): Promise<void> {
        await racer.kill();
        fs.rmSync(svc, { recursive: true, force: true });
        fs.rmSync(victimDir, { recursive: true, force: true });
      },
      /** Nothing of the snapshot reached root's file, and nothing root-owned under svc holds any of it. */
      check(): void {
        assert.equal(fs.readFileSync(victim, 'utf8'), ROOT_FILE);
        assert.equal(fs.statSync(victim).mode & 0o777, 0o644);
        for (const f of fs.readdirSync(svc)) {
          const st = fs.lstatSync(path.join(svc, f));
          if (st.uid === 0) assert.ok(st.isFile() && st.size === 0, `${f}: root's file moved away by nobody keeps no byte (${st.size})`);
        }
      },
    };
  };

  for (const how of ['target', 'stream'] as const) {
    it(`-y, ${how === 'stream' ? '--stream' : 'the target writing'}: a racing nobody swapping names in its directory redirects nothing; exit 12, one sentence`, async () => {
      const a = await attack('dump.heapsnapshot');
      const t = await startTarget('leaky.js', { args: ['5', '0', '4'], nodeArgs: ['--inspect-port=0'] });
      try {
        const r = await runCli(['snapshot', String(t.pid), '-o', a.out, '-y', ...(how === 'stream' ? ['--stream'] : [])], { hangGuardMs: 120_000 });
        assert.equal(r.code, 12, r.stderr);
        assert.match(r.stderr, /^nodetop: cannot write the snapshot to .*dump\.heapsnapshot: another user changed .* while nodetop wrote into it: the name no longer leads to nodetop's file$/m);
        // the final name is still nobody's symlink: nodetop put nothing there and said so
        assert.ok(fs.lstatSync(a.out).isSymbolicLink());
        a.check();
        assert.ok(t.alive());
      } finally {
        await t.kill();
        await a.end();
      }
    });
  }

  it('the confirmation prompt: names swapped while root reads the answer redirect nothing', { skip: haveTmux() ? false : 'needs tmux' }, async () => {
    const a = await attack('prompt.heapsnapshot');
    const t = await startTarget('leaky.js', { args: ['5', '0', '4'], nodeArgs: ['--inspect-port=0'] });
    const term = openTerminal(['snapshot', String(t.pid), '-o', a.out], { cols: 200, rows: 20 });
    try {
      await term.waitFor(/Take the snapshot\? \[y\/N\]/, 30_000);
      // the racer has had the partial names to itself while the prompt waited
      await eventually(() => fs.readdirSync(a.svc).filter((f) => f.startsWith('stolen-')).length, (n) => n > 0, 10_000);
      term.keys('y', 'Enter');
      assert.equal(await term.exitCode(120_000), 12, term.screen());
      assert.match(term.screen().replace(/\n/g, ''), /another user changed .* while nodetop wrote into it/);
      a.check();
      assert.ok(t.alive());
    } finally {
      term.close();
      await t.kill();
      await a.end();
    }
  });

  it('a disk that fills while the target writes: the target keeps no descriptor on the removed file', async () => {
    const small = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', small]);
    const t = await startTarget('leaky.js', { args: ['5', '0'], nodeArgs: ['--inspect-port=0'] });
    try {
      const out = path.join(small, 'full.heapsnapshot');
      for (let i = 0; i < 2; i++) {
        const r = await runCli(['snapshot', String(t.pid), '-o', out]);
        assert.equal(r.code, 12, r.stderr);
        assert.match(r.stderr, /no space left on the device$/m);
        assert.doesNotMatch(r.stderr, /streaming the snapshot/);
      }
      const held = fs.readdirSync(`/proc/${t.pid}/fd`).map((fd) => {
        try {
          return fs.readlinkSync(`/proc/${t.pid}/fd/${fd}`);
        } catch {
          return '';
        }
      });
      assert.deepEqual(held.filter((l) => l.includes(small) || l.includes('(deleted)')), []);
      // the tmpfs is empty again: its blocks were given back
      const st = fs.statfsSync(small);
      assert.equal(st.bfree, st.blocks, 'the removed file holds no blocks');
      assert.ok(t.alive());
    } finally {
      await t.kill();
      execFileSync('umount', [small]);
      fs.rmSync(small, { recursive: true, force: true });
    }
  });

  it('--stream from an endpoint that never stops sending: stopped at 16x the heap + 64 MiB, exit 12, nothing left', async () => {
    // a real target behind a proxy that answers HeapProfiler.takeHeapSnapshot with chunks forever
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect=127.0.0.1:0'] });
    const small = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-flood-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=300m', 'tmpfs', small]);
    let sent = 0;
    const real = Number(/ws:\/\/127\.0\.0\.1:(\d+)\//.exec(t.stderr())?.[1]);
    const srv = http.createServer((_req, res) => {
      http.get(`http://127.0.0.1:${real}/json/list`, (up) => {
        let body = '';
        up.on('data', (d: Buffer) => (body += d.toString()));
        up.on('end', () => res.end(body.replaceAll(`127.0.0.1:${real}`, `127.0.0.1:${(srv.address() as net.AddressInfo).port}`)));
      });
    });
    const wss = new WebSocket.Server({ server: srv });
    wss.on('connection', (client: WebSocket, req: http.IncomingMessage) => {
      const up = new WebSocket(`ws://127.0.0.1:${real}${req.url ?? ''}`);
      const queued: string[] = [];
      up.on('open', () => queued.splice(0).forEach((m) => up.send(m)));
      up.on('message', (m: WebSocket.Data) => client.readyState === WebSocket.OPEN && client.send(String(m)));
      client.on('close', () => up.close());
      client.on('message', (m: WebSocket.Data) => {
        const msg = JSON.parse(String(m)) as { method?: string };
        if (msg.method === 'HeapProfiler.takeHeapSnapshot') {
          const chunk = JSON.stringify({ method: 'HeapProfiler.addHeapSnapshotChunk', params: { chunk: 'x'.repeat(100 * 1024) } });
          const flood = (): void => {
            if (client.readyState !== WebSocket.OPEN) return;
            client.send(chunk);
            sent += 100 * 1024;
            if (client.bufferedAmount < 4 << 20) setImmediate(flood);
            else setTimeout(flood, 5);
          };
          flood();
          return;
        }
        if (up.readyState === WebSocket.OPEN) up.send(String(m));
        else queued.push(String(m));
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const port = (srv.address() as net.AddressInfo).port;
      const out = path.join(small, 'flood.heapsnapshot');
      const r = await runCli(['snapshot', '--endpoint', `127.0.0.1:${port}`, '-o', out, '--stream', '-y'], { hangGuardMs: 120_000 });
      assert.equal(r.code, 12, r.stderr);
      const m = /^nodetop: cannot write the snapshot to .*flood\.heapsnapshot: the endpoint sent more than a snapshot of its heap can be \((\d+) bytes\): stopped there$/m.exec(r.stderr);
      assert.ok(m, r.stderr);
      assert.ok(Number(m[1]) < 200 * 1024 * 1024, `the bound ${m[1]} for an idle heap`);
      assert.ok(sent > Number(m[1]), `the endpoint sent ${sent} bytes`);
      assert.deepEqual(fs.readdirSync(small), []);
    } finally {
      for (const c of wss.clients) c.terminate();
      wss.close();
      srv.close();
      await t.kill();
      execFileSync('umount', [small]);
      fs.rmSync(small, { recursive: true, force: true });
    }
  });

  it('a nodetop SIGKILLed mid-snapshot: the next run in that directory removes its partial file, and only that', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-killed-'));
    // ~20 MiB of small objects: the target writes for a second or more
    const t = await startTarget('leaky.js', { args: ['5', '0', '20'], nodeArgs: ['--inspect-port=0'] });
    try {
      // a short lease: the killed nodetop's instruments remove themselves (and close the inspector
      // it opened) as soon as the target is free, rather than under the next run a minute later
      const child = spawn(process.execPath, [NODETOP, 'snapshot', String(t.pid), '-o', path.join(dir, 'a.heapsnapshot')], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, NODETOP_LEASE_MS: '1500' },
      });
      const gone = new Promise((r) => child.on('exit', r));
      const partial = (): string[] => fs.readdirSync(dir).filter((f) => f.includes('.partial-'));
      // the target has written some of it
      await eventually(() => partial().filter((f) => fs.statSync(path.join(dir, f)).size > 0), (l) => l.length > 0, 60_000);
      child.kill('SIGKILL');
      await gone;
      const left = partial();
      assert.equal(left.length, 1, `${left.join(' ')}`);
      assert.equal(await eventually(() => listeningSockets(t.pid).length, (n) => n === 0, 120_000), 0, 'the lease closed the inspector');
      // names that are not a dead nodetop's of this user: a live process's (this test's), and
      // one another user owns
      const live = `b.heapsnapshot.partial-${/\[(\d+)\]/.exec(fs.readlinkSync('/proc/self/ns/pid'))![1]}-${process.pid}-${fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')[19]}-0123abcd`;
      fs.writeFileSync(path.join(dir, live), 'live');
      const theirs = left[0]!.replace(/[0-9a-f]{8}$/, 'ffffffff');
      fs.writeFileSync(path.join(dir, theirs), 'theirs');
      fs.chownSync(path.join(dir, theirs), NOBODY, NOBODY);
      const r = await runCli(['snapshot', String(t.pid), '-o', path.join(dir, 'c.heapsnapshot'), '--json', '--timeout', '60000'], { hangGuardMs: 120_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(parseJson<SnapshotResult>(r).writtenBy, 'target');
      assert.match(r.stderr, new RegExp(`^nodetop: removed 1 partial snapshot that a killed nodetop left in ${dir}: ${left[0]!.replace(/\./g, '\\.')}$`, 'm'));
      assert.deepEqual(fs.readdirSync(dir).sort(), [live, theirs, 'c.heapsnapshot'].sort());
    } finally {
      await t.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
