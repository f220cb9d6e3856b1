// Absurd numbers from a target (issue 19 §4): a process whose process.memoryUsage() says NaN,
// 1e300 or -5 (test/fixtures/absurd-memory.js), and a fake endpoint serving such a sample. The
// readings are reported as invalid (null and the reason in JSON, "invalid" in text), and the
// snapshot's memory check refuses (exit 11) instead of passing on "~0.00 ms".

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import WebSocket from 'ws';
import { invalidMemoryReading, notAReading } from '../../src/model/readings';
import { bytes } from '../../src/model/units';
import { parseJson, runCli, startTarget } from '../helpers/target';

interface StatsJson {
  memory: Record<string, number | null>;
  process: { rssBytes: number | null };
  unavailable: Record<string, string>;
}

// a number printed as nonsense (the messages may name NaN as the reason: not these)
const NONSENSE = /e\+\d|NaN (B|ms)|~NaN|Infinity|-5 B\b/;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-readings-'));
const servers: Array<() => void> = [];
after(() => {
  for (const close of servers) close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('readings that make no sense', () => {
  it('the checks: NaN (null on the wire), Infinity, negatives and beyond 2^53 are not readings', () => {
    for (const v of [null, undefined, NaN, Infinity, -Infinity, -5, 1e300, 2 ** 53 + 2, '12']) assert.notEqual(notAReading(v), null, String(v));
    for (const v of [0, 1, 4.5, 2 ** 53]) assert.equal(notAReading(v), null, String(v));
    const ok = { threadId: 0, isMainThread: true, heapUsed: 10, heapTotal: 20, heapLimit: 100, external: 0, arrayBuffers: 0, rss: 50 };
    assert.equal(invalidMemoryReading(ok), null);
    assert.match(invalidMemoryReading({ ...ok, heapUsed: null as unknown as number }) ?? '', /^heapUsed is no number/);
    assert.match(invalidMemoryReading({ ...ok, heapUsed: 30 }) ?? '', /over heapTotal/);
    assert.equal(bytes(1e300), 'invalid');
    assert.equal(bytes(-5), '-5 B', 'a delta may be negative: bytes() formats it');
  });

  for (const mode of ['nan', 'huge', 'negative']) {
    it(`a target whose heap reads ${mode}: stats says invalid, snapshot refuses (exit 11, even with --force), gc prints no nonsense`, async () => {
      const t = await startTarget('absurd-memory.js', { args: [mode] });
      try {
        const json = await runCli(['stats', String(t.pid), '--json', '--window', '100']);
        assert.equal(json.code, 0, json.stderr);
        const s = parseJson<StatsJson>(json);
        for (const k of ['heapUsedBytes', 'heapTotalBytes', 'externalBytes']) {
          assert.equal(s.memory[k], null, k);
          assert.match(s.unavailable[`memory.${k}`] ?? '', /^invalid: the target reported /, k);
        }
        assert.ok((s.process.rssBytes ?? 0) > 0, 'the rest of the sample stands');

        const text = await runCli(['stats', String(t.pid), '--window', '100']);
        assert.equal(text.code, 0, text.stderr);
        assert.match(text.stdout, /^heap {5}used invalid \/ total invalid /m);
        assert.doesNotMatch(text.stdout, NONSENSE);

        for (const force of [[], ['--force']]) {
          const out = path.join(dir, `${mode}${force.length}.heapsnapshot`);
          const snap = await runCli(['snapshot', String(t.pid), '-o', out, '--yes', ...force]);
          assert.equal(snap.code, 11, snap.stderr);
          assert.match(snap.stderr, /its memory reading makes no sense \(heapUsed is /);
          assert.ok(!fs.existsSync(out), 'no snapshot taken');
        }

        const gc = await runCli(['gc', String(t.pid)]);
        assert.equal(gc.code, 0, gc.stderr);
        assert.doesNotMatch(gc.stdout, NONSENSE); // stderr quotes the figure as the reason
        assert.match(gc.stdout, /heap used invalid -> invalid/);
        assert.ok(t.alive());
      } finally {
        await t.kill();
      }
    });
  }

  it('a fake endpoint serving 1e300 and -5: invalid in text and null in JSON', async () => {
    const srv = http.createServer((_req, res) => {
      const port = (srv.address() as net.AddressInfo).port;
      res.end(JSON.stringify([{ id: 'x', webSocketDebuggerUrl: `ws://127.0.0.1:${port}/x` }]));
    });
    const wss = new WebSocket.Server({ server: srv });
    wss.on('connection', (ws: WebSocket) =>
      ws.on('message', (m: WebSocket.Data) => {
        const msg = JSON.parse(String(m)) as { id: number; method: string; params: Record<string, unknown> };
        const expr = String(msg.params.expression ?? msg.params.functionDeclaration ?? '');
        let value: unknown = {};
        if (expr.includes('typeof require')) {
          ws.send(JSON.stringify({ id: msg.id, result: { result: { type: 'function', objectId: 'fake-1' } } }));
          return;
        }
        if (expr.includes('nodetopIdentity')) {
          value = { pid: 4_000_123, ppid: 1, title: 'node', argv: ['node', '/fake.js'], execPath: '/usr/bin/node', nodeVersion: 'v20.0.0', v8Version: '11', uptimeSec: 1, platform: 'linux', inspectorUrl: null, isMainThread: true, threadId: 0 };
        } else if (expr.includes('nodetopInstall')) value = { installed: true, sessions: 1, openedByNodetop: false };
        else if (expr.includes('nodetopSample')) {
          value = {
            sample: {
              timeMs: Date.now(), pid: 4_000_123, uptimeSec: 2,
              memory: { rss: -5, heapTotal: 1e300, heapUsed: 1e300, external: -5, arrayBuffers: 0 },
              heap: { heapSizeLimit: 1e300, totalAvailableSize: 3, mallocedMemory: -1, numberOfNativeContexts: 1, numberOfDetachedContexts: 0 },
              spaces: [{ name: 'old_space', size: -5, used: 1e300, available: 0 }], handles: { Timeout: -3, TCPSocketWrap: 1e300 }, requests: {},
              cpuUsageMicros: { user: 0, system: 0 }, fds: null, window: null, blocked: null, unavailable: {},
            },
            net: null,
          };
        } else if (msg.method.startsWith('NodeWorker.')) {
          ws.send(JSON.stringify({ id: msg.id, error: { code: -32601, message: `'${msg.method}' wasn't found` } }));
          return;
        }
        ws.send(JSON.stringify({ id: msg.id, result: { result: { type: 'object', value } } }));
      }),
    );
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    servers.push(() => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      srv.close();
    });
    const port = (srv.address() as net.AddressInfo).port;
    const text = await runCli(['stats', '--endpoint', `127.0.0.1:${port}`, '--window', '10', '--timeout', '2000']);
    assert.equal(text.code, 0, text.stderr);
    assert.doesNotMatch(text.stdout, NONSENSE);
    assert.match(text.stdout, /rss invalid/);
    assert.match(text.stdout, /heap {5}used invalid \/ total invalid \/ limit invalid/);
    const json = await runCli(['stats', '--endpoint', `127.0.0.1:${port}`, '--window', '10', '--json', '--timeout', '2000']);
    const s = parseJson<StatsJson & { handles: { total: number; byType: Record<string, number> } }>(json);
    assert.equal(s.process.rssBytes, null);
    assert.equal(s.memory.heapUsedBytes, null);
    assert.deepEqual(s.handles, { total: 0, byType: {} });
    assert.match(s.unavailable['handles.byType.Timeout'] ?? '', /-3, a negative amount/);
  });
});
