// Every failure a user can cause: one line on stderr, the documented exit code, no stack, no hang.

import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import * as net from 'node:net';
import { describe, it } from 'node:test';
import { listeningSockets } from '../../src/platform/proc';
import { eventually, runCli, startTarget, type CliResult } from '../helpers/target';

function oneSentence(r: CliResult): void {
  assert.doesNotMatch(r.stderr, /\n\s+at /, `no stack trace: ${r.stderr}`);
  assert.match(r.stderr, /^nodetop: /);
  assert.ok(r.stderr.split('\n').filter(Boolean).length <= 2, r.stderr);
}

describe('errors and exit codes', () => {
  it('a pid that is not a number: exit 2', async () => {
    for (const bad of ['abc', '-5', '1.5', '0', '99999999999']) {
      const r = await runCli(['stats', bad]);
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
      oneSentence(r);
    }
  });

  it('no pid and no endpoint, an unknown option, a bad window: exit 2', async () => {
    for (const args of [['stats'], ['stats', '1', '--frobnicate'], ['stats', '1', '--window', 'soon'], ['stats', '1', '--timeout', '0']]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      oneSentence(r);
    }
  });

  it('no such pid: exit 3', async () => {
    const r = await runCli(['stats', '4194000']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /no process with pid 4194000/);
    oneSentence(r);
  });

  it('a process that is not Node is refused and never signalled: exit 4, still alive', async () => {
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const r = await runCli(['stats', String(sleeper.pid)]);
      assert.equal(r.code, 4);
      assert.match(r.stderr, /is not a Node process .*sent it nothing/);
      oneSentence(r);
      assert.equal(sleeper.exitCode, null);
      assert.equal(sleeper.signalCode, null);
      process.kill(sleeper.pid!, 0); // throws if it is gone
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('permission denied on another user’s process: exit 5', { skip: process.getuid?.() !== 0 ? 'needs root to run nodetop as another user' : false }, async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const r = await runCli(['stats', String(t.pid)], { uid: 65534 });
      assert.equal(r.code, 5, r.stderr);
      assert.match(r.stderr, /permission denied|belongs to uid/);
      oneSentence(r);
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });

  it('an endpoint that refuses: exit 7', async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise((r) => srv.close(r));
    const r = await runCli(['stats', '--endpoint', `127.0.0.1:${port}`]);
    assert.equal(r.code, 7);
    assert.match(r.stderr, /connection refused/);
    oneSentence(r);
  });

  it('an endpoint that accepts and never answers: exit 7 within --timeout', async () => {
    const sockets: net.Socket[] = [];
    const srv = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    try {
      const r = await runCli(['stats', '--endpoint', `127.0.0.1:${port}`, '--timeout', '300'], { hangGuardMs: 10_000 });
      assert.equal(r.code, 7);
      assert.match(r.stderr, /did not answer within 300 ms/);
      oneSentence(r);
    } finally {
      for (const s of sockets) s.destroy();
      srv.close();
    }
  });

  it('an endpoint that is an HTTP server but not an inspector: exit 7', async () => {
    const srv = http.createServer((_, res) => res.end('<html>hello</html>'));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    try {
      const r = await runCli(['stats', '--endpoint', `127.0.0.1:${port}`]);
      assert.equal(r.code, 7);
      assert.match(r.stderr, /not a Node inspector/);
      oneSentence(r);
    } finally {
      srv.close();
    }
  });

  it('a non-loopback endpoint without --allow-remote: exit 2, nothing sent', async () => {
    const r = await runCli(['stats', '--endpoint', '192.0.2.1:9229']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /refusing to connect to 192\.0\.2\.1/);
    oneSentence(r);
  });

  it('the target exits during the sample: exit 8', async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    const cli = runCli(['stats', String(t.pid), '--window', '4000']);
    // kill it once nodetop is attached (its inspector is open), in the middle of the window
    await eventually(() => listeningSockets(t.pid).length, (n) => n === 1, 10_000);
    await new Promise((r) => setTimeout(r, 500));
    await t.kill();
    const r = await cli;
    assert.equal(r.code, 8, r.stderr);
    assert.match(r.stderr, new RegExp(`pid ${t.pid} exited`));
    oneSentence(r);
  });

  it('a main thread in Atomics.wait still answers, and the sample says where it waits', async () => {
    const t = await startTarget('blocked.js', { nodeArgs: ['--inspect=127.0.0.1:0'] });
    try {
      await t.ask('atomics 30000');
      const r = await runCli(['stats', String(t.pid), '--json', '--window', '1000']);
      assert.equal(r.code, 0, r.stderr);
      const stack = (JSON.parse(r.stdout) as { eventLoop: { blocked: { stack: string[] } } }).eventLoop.blocked.stack;
      assert.match(stack.join('\n'), /Atomics\.wait[\s\S]*waitOutsideJs/);
    } finally {
      await t.kill();
    }
  });

  it('a main thread blocked outside JavaScript: exit 9 with what the kernel says, within --timeout', async () => {
    // the inspector is open from the start, so the outcome does not depend on timing
    const t = await startTarget('blocked.js', { nodeArgs: ['--inspect=127.0.0.1:0'] });
    try {
      await t.ask('syscall 8000');
      const r = await runCli(['stats', String(t.pid), '--window', '100', '--timeout', '1500']);
      assert.equal(r.code, 9, r.stderr);
      assert.match(r.stderr, /main thread is not answering \(the kernel says: (in|waiting in) \w+/);
      oneSentence(r);
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });
});
