// Fake inspector endpoints, served by this test process: nodetop must answer each within its
// --timeout, with the right exit code and one sentence, and never a stack.

import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import * as net from 'node:net';
import { after, describe, it } from 'node:test';
import WebSocket from 'ws';
import { runCli, startTarget, type CliResult } from '../helpers/target';

function oneSentence(r: CliResult): void {
  assert.doesNotMatch(r.stderr, /\n\s+at /, `no stack trace: ${r.stderr}`);
  assert.match(r.stderr, /^nodetop: /, r.stderr);
  assert.ok(r.stderr.split('\n').filter(Boolean).length <= 2, r.stderr);
}

const servers: Array<{ close(): void }> = [];
after(() => {
  for (const s of servers) s.close();
});

/** An HTTP server whose /json/list names its own WebSocket; `onWs` plays the inspector. */
async function fakeInspector(onWs: (ws: WebSocket, msg: { id: number; method: string; params: Record<string, unknown> }) => void): Promise<number> {
  const srv = http.createServer((_req, res) => {
    const port = (srv.address() as net.AddressInfo).port;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify([{ id: 'x', title: 'fake', url: 'file:///fake.js', webSocketDebuggerUrl: `ws://127.0.0.1:${port}/x` }]));
  });
  const wss = new WebSocket.Server({ server: srv });
  wss.on('connection', (ws: WebSocket) => ws.on('message', (m: WebSocket.Data) => onWs(ws, JSON.parse(String(m)))));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  servers.push({
    close: () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      srv.close();
    },
  });
  return (srv.address() as net.AddressInfo).port;
}

const TIMEOUT = ['--timeout', '1000'];
const GUARD = { hangGuardMs: 15_000 };

/** What a Node inspector would answer to nodetop's probes, claiming to be `pid`. */
function answerAs(pid: number, samplePid = pid) {
  return (ws: WebSocket, msg: { id: number; method: string; params: Record<string, unknown> }): void => {
    const expr = String(msg.params.expression ?? msg.params.functionDeclaration ?? '');
    let value: unknown = {};
    if (expr.includes('typeof require')) {
      // the handle the probes run on
      ws.send(JSON.stringify({ id: msg.id, result: { result: { type: 'function', objectId: 'fake-1' } } }));
      return;
    }
    if (expr.includes('nodetopIdentity')) {
      value = {
        pid, ppid: 1, title: 'node', argv: ['node', '/fake.js'], execPath: '/usr/bin/node', nodeVersion: 'v20.0.0', v8Version: '11',
        uptimeSec: 1, platform: 'linux', inspectorUrl: null, isMainThread: true, threadId: 0,
      };
    } else if (expr.includes('nodetopInstall')) value = { installed: true, sessions: 1, openedByNodetop: false };
    else if (expr.includes('nodetopSample')) {
      // the sample goes with the socket walk in one call (src/probes/probe.ts composeProbes)
      value = {
        sample: {
          timeMs: Date.now(), pid: samplePid, uptimeSec: 2, memory: { rss: 1, heapTotal: 2, heapUsed: 1, external: 0, arrayBuffers: 0 },
          heap: { heapSizeLimit: 4, totalAvailableSize: 3, mallocedMemory: 0, numberOfNativeContexts: 1, numberOfDetachedContexts: 0 },
          spaces: [], handles: {}, requests: {}, cpuUsageMicros: { user: 0, system: 0 }, fds: null, window: null, blocked: null, unavailable: {},
        },
        net: null,
      };
    } else if (msg.method.startsWith('NodeWorker.')) {
      // an inspector without worker support: nodetop then reports no worker rows
      ws.send(JSON.stringify({ id: msg.id, error: { code: -32601, message: `'${msg.method}' wasn't found` } }));
      return;
    }
    ws.send(JSON.stringify({ id: msg.id, result: { result: { type: 'object', value } } }));
  };
}

describe('fake inspector endpoints', () => {
  it('refuses the connection: exit 7', async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise((r) => srv.close(r));
    const r = await runCli(['stats', '--endpoint', `127.0.0.1:${port}`, ...TIMEOUT], GUARD);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /connection refused/);
    oneSentence(r);
  });

  it('accepts TCP and never answers: exit 7 within --timeout', async () => {
    const held: net.Socket[] = [];
    const srv = net.createServer((s) => held.push(s));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    servers.push({ close: () => (held.forEach((s) => s.destroy()), srv.close()) });
    const port = (srv.address() as net.AddressInfo).port;
    const r = await runCli(['stats', '--endpoint', `127.0.0.1:${port}`, ...TIMEOUT], GUARD);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /did not answer within 1000 ms/);
    oneSentence(r);
  });

  it('answers /json/list but never upgrades the WebSocket: exit 7 within --timeout', async () => {
    const held: net.Socket[] = [];
    const srv = http.createServer((_req, res) => {
      const port = (srv.address() as net.AddressInfo).port;
      res.end(JSON.stringify([{ id: 'x', webSocketDebuggerUrl: `ws://127.0.0.1:${port}/x` }]));
    });
    srv.on('upgrade', (_req, socket: net.Socket) => held.push(socket));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    servers.push({ close: () => (held.forEach((s) => s.destroy()), srv.close()) });
    const port = (srv.address() as net.AddressInfo).port;
    const r = await runCli(['stats', '--endpoint', `127.0.0.1:${port}`, ...TIMEOUT], GUARD);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /did not accept a WebSocket within 1000 ms/);
    oneSentence(r);
  });

  it('upgrades, then sends a frame that is not JSON: exit 7, not an inspector', async () => {
    const port = await fakeInspector((ws) => ws.send('<html>hello</html>'));
    const r = await runCli(['stats', '--endpoint', `127.0.0.1:${port}`, ...TIMEOUT], GUARD);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /not JSON: it is not a Node inspector/);
    oneSentence(r);
  });

  it('sends a 100 MB frame: refused (frames over 64 MiB close the connection), exit 7', async () => {
    const huge = Buffer.from(JSON.stringify({ id: 1, result: { result: { type: 'string', value: 'x'.repeat(100 * 1024 * 1024) } } }));
    const port = await fakeInspector((ws) => ws.send(huge, { binary: false }));
    // a longer --timeout than the others: the frame must be refused for its size, not timed out
    const r = await runCli(['stats', '--endpoint', `127.0.0.1:${port}`, '--timeout', '5000'], GUARD);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /over 64 MiB/);
    oneSentence(r);
  });

  it('closes in the middle of a message: exit 8, the connection closed', async () => {
    const port = await fakeInspector((ws) => {
      const sock = (ws as unknown as { _socket: net.Socket })._socket;
      // a text frame header announcing 4096 bytes, 10 of them, then the end of the connection
      sock.write(Buffer.concat([Buffer.from([0x81, 126, 0x10, 0x00]), Buffer.from('{"id":1,"r')]));
      sock.destroy();
    });
    const r = await runCli(['stats', '--endpoint', `127.0.0.1:${port}`, ...TIMEOUT], GUARD);
    assert.equal(r.code, 8, r.stderr);
    assert.match(r.stderr, /closed the connection/);
    oneSentence(r);
  });

  it('claims another pid: refused when a pid was given (exit 10); reported as claimed with --endpoint alone', async () => {
    const t = await startTarget('idle.js');
    try {
      const claimed = 4_000_123;
      const port = await fakeInspector(answerAs(claimed));
      const r = await runCli(['stats', String(t.pid), '--endpoint', `127.0.0.1:${port}`, ...TIMEOUT], GUARD);
      assert.equal(r.code, 10, r.stderr);
      assert.match(r.stderr, new RegExp(`belongs to pid ${claimed}, not ${t.pid}`));
      oneSentence(r);
      // --endpoint alone: nodetop has only the inspector's word for the pid (documented)
      const alone = await runCli(['stats', '--endpoint', `127.0.0.1:${port}`, '--json', '--window', '10', ...TIMEOUT], GUARD);
      assert.equal(alone.code, 0, alone.stderr);
      assert.equal((JSON.parse(alone.stdout) as { target: { pid: number } }).target.pid, claimed);
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });

  it('a sample from another pid than the one identified is refused: exit 10', async () => {
    const port = await fakeInspector(answerAs(4_000_123, 4_000_124));
    const r = await runCli(['stats', '--endpoint', `127.0.0.1:${port}`, '--window', '10', ...TIMEOUT], GUARD);
    assert.equal(r.code, 10, r.stderr);
    assert.match(r.stderr, /pid 4000124/);
    oneSentence(r);
  });

  it('answers a sample with nonsense: exit 7, not a crash', async () => {
    const port = await fakeInspector((ws, msg) => {
      const expr = String(msg.params.expression ?? msg.params.functionDeclaration ?? '');
      if (expr.includes('nodetopSample')) ws.send(JSON.stringify({ id: msg.id, result: { result: { type: 'number', value: 42 } } }));
      else answerAs(4_000_123)(ws, msg);
    });
    const r = await runCli(['stats', '--endpoint', `127.0.0.1:${port}`, '--window', '10', ...TIMEOUT], GUARD);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /answered a sample nodetop cannot read/);
    oneSentence(r);
  });

  /** A TCP server that counts the connections it is offered (and answers none). */
  async function connectionCounter(): Promise<{ port: number; count(): number }> {
    const held: net.Socket[] = [];
    const srv = net.createServer((sock) => held.push(sock));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    servers.push({ close: () => (held.forEach((x) => x.destroy()), srv.close()) });
    return { port: (srv.address() as net.AddressInfo).port, count: () => held.length };
  }

  /** An HTTP server whose /json/list names `wsUrl` (not itself). */
  async function listNaming(wsUrl: (port: number) => string): Promise<number> {
    const srv = http.createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify([{ id: 'x', title: 'fake', url: 'file:///fake.js', webSocketDebuggerUrl: wsUrl((srv.address() as net.AddressInfo).port) }]));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    servers.push({ close: () => srv.close() });
    return (srv.address() as net.AddressInfo).port;
  }

  it('a loopback /json/list naming a remote WebSocket (192.0.2.2) is refused, --allow-remote or not: exit 7', async () => {
    const port = await listNaming((p) => `ws://192.0.2.2:${p}/x`);
    for (const extra of [[], ['--allow-remote']]) {
      const r = await runCli(['stats', '--endpoint', `127.0.0.1:${port}`, ...extra, ...TIMEOUT], GUARD);
      assert.equal(r.code, 7, r.stderr);
      assert.match(r.stderr, /names its WebSocket at 192\.0\.2\.2:\d+, not at 127\.0\.0\.1:\d+: nodetop connects only to the address it was given/);
      oneSentence(r);
    }
  });

  it('a /json/list naming another port of this host is refused before any connection to it: exit 7', async () => {
    const other = await connectionCounter();
    const port = await listNaming(() => `ws://127.0.0.1:${other.port}/x`);
    const r = await runCli(['stats', '--endpoint', `127.0.0.1:${port}`, ...TIMEOUT], GUARD);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, new RegExp(`names its WebSocket at 127\\.0\\.0\\.1:${other.port}`));
    assert.equal(other.count(), 0, 'nodetop connected to the port /json/list named');
    oneSentence(r);
  });

  it('pid mode: the inspector port of the pid answering /json/list with another address is not followed', async () => {
    const other = await connectionCounter();
    const free = net.createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const port = (free.address() as net.AddressInfo).port;
    await new Promise((r) => free.close(r));
    // --inspect-port=P names P as the inspector's port without opening one: the fixture serves P
    const t = await startTarget('fake-inspector.js', { nodeArgs: [`--inspect-port=${port}`], args: [String(port), `ws://127.0.0.1:${other.port}/x`] });
    try {
      const r = await runCli(['stats', String(t.pid), ...TIMEOUT], GUARD);
      assert.notEqual(r.code, 0, r.stderr);
      assert.ok(Number((await t.ask('lists')).lists) >= 1, 'nodetop asked the fixture for /json/list');
      assert.equal(other.count(), 0, `nodetop connected to the port /json/list named: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, new RegExp(`:${other.port}`));
      oneSentence(r);
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });

  it('/json/list trickled one byte every 300 ms is bounded by --timeout: exit 7', async () => {
    const body = JSON.stringify([{ id: 'x', webSocketDebuggerUrl: 'ws://127.0.0.1:1/x', title: 'x'.repeat(10_000) }]);
    const answer = `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
    const held: net.Socket[] = [];
    const timers: NodeJS.Timeout[] = [];
    const srv = net.createServer((sock) => {
      held.push(sock);
      sock.on('error', () => undefined);
      let i = 0;
      const t = setInterval(() => {
        if (i < answer.length && !sock.destroyed) sock.write(answer[i++]!);
      }, 300);
      timers.push(t);
      sock.on('close', () => clearInterval(t));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    servers.push({ close: () => (timers.forEach(clearInterval), held.forEach((x) => x.destroy()), srv.close()) });
    const port = (srv.address() as net.AddressInfo).port;
    const r = await runCli(['stats', '--endpoint', `127.0.0.1:${port}`, ...TIMEOUT], GUARD);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /did not answer within 1000 ms/);
    oneSentence(r);
  });
});
